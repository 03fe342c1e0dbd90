#pragma once
// A binary min-heap of timer entries ordered by deadline. Each entry knows
// its index, so removing an armed timer (the common case on cancellation) is
// O(log n) with no search.

#include <cohort/detail/runnable.hpp>

#include <vector>

namespace cohort::detail {

class timer_heap {
 public:
  bool empty() const noexcept { return heap_.empty(); }
  std::size_t size() const noexcept { return heap_.size(); }
  timer_entry& top() const noexcept { return *heap_.front(); }

  void insert(timer_entry& t);
  void remove(timer_entry& t) noexcept;

  /// Removes and fires every timer whose deadline is at or before `now`.
  /// Returns the number fired.
  std::size_t fire_due(std::chrono::steady_clock::time_point now);

 private:
  void sift_up(std::size_t i) noexcept;
  void sift_down(std::size_t i) noexcept;
  void place(std::size_t i, timer_entry* t) noexcept {
    heap_[i] = t;
    t->heap_index_ = i;
  }
  std::vector<timer_entry*> heap_;
};

}  // namespace cohort::detail
