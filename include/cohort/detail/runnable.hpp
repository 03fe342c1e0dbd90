#pragma once
// The unit of work a scheduler runs, and the entry a scheduler's timer queue
// holds. Both are intrusive: posting work or arming a timer never allocates.

#include <chrono>
#include <cstddef>

namespace cohort::detail {

/// A piece of work for the loop's ready queue.
struct runnable {
  runnable* next_ = nullptr;
  void (*run_)(runnable*) noexcept = nullptr;
};

/// An armed deadline in a scheduler's timer queue.
struct timer_entry {
  static constexpr std::size_t not_armed = static_cast<std::size_t>(-1);
  std::chrono::steady_clock::time_point deadline_{};
  std::size_t heap_index_ = not_armed;
  void (*fire_)(timer_entry*) noexcept = nullptr;
  void* context_ = nullptr;

  bool armed() const noexcept { return heap_index_ != not_armed; }
};

/// FIFO of runnables (singly linked, O(1) push and pop).
class run_queue {
 public:
  bool empty() const noexcept { return head_ == nullptr; }
  void push(runnable& r) noexcept {
    r.next_ = nullptr;
    if (head_ != nullptr) {
      tail_->next_ = &r;
    } else {
      head_ = &r;
    }
    tail_ = &r;
  }
  /// The runnable queued last, or null.
  runnable* back() const noexcept { return head_ != nullptr ? tail_ : nullptr; }
  /// Takes the first runnable, or null. Only head_ is written: tail_ means
  /// something only while the queue is not empty, and a runnable's next_ is
  /// set when it is pushed again (a pop costs the loop one store, not three).
  runnable* pop() noexcept {
    runnable* r = head_;
    if (r != nullptr) head_ = r->next_;
    return r;
  }

 private:
  runnable* head_ = nullptr;
  runnable* tail_ = nullptr;  // the last runnable while head_ is not null
};

}  // namespace cohort::detail
