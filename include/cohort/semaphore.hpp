#pragma once
/// \file
/// `cohort::semaphore`: a FIFO counting semaphore whose waiters cancel cleanly.

#include <cohort/detail/intrusive_list.hpp>
#include <cohort/operation.hpp>

#include <cassert>
#include <cstddef>
#include <optional>
#include <utility>

namespace cohort {

/// A counting semaphore for bounding concurrency.
///
/// Waiters are served strictly first come, first served: `release()` hands
/// the permit straight to the oldest live waiter (it is never returned to the
/// pool while someone waits, so no later arrival can barge in). A waiter
/// whose scope is cancelled leaves the queue at once (O(1)). A permit handed
/// to a waiter that is cancelled before it resumes is given back, to the
/// next waiter or the pool. Permits are RAII: a `permit` releases on
/// destruction, including when its task is unwound.
///
///     cohort::semaphore slots(8);
///     auto permit = co_await slots.acquire();   // waits for one of 8 slots
///
/// The semaphore must outlive its waiters and permits.
class semaphore {
  struct waiter_tag;

 public:
  /// One acquired unit; releases it when destroyed (or on `release()`).
  class [[nodiscard]] permit {
   public:
    permit() noexcept = default;
    permit(permit&& o) noexcept : sem_(std::exchange(o.sem_, nullptr)) {}
    permit& operator=(permit&& o) noexcept {
      if (this != &o) {
        release();
        sem_ = std::exchange(o.sem_, nullptr);
      }
      return *this;
    }
    ~permit() { release(); }
    /// Gives the unit back now.
    void release() noexcept {
      if (sem_ != nullptr) std::exchange(sem_, nullptr)->release();
    }
    explicit operator bool() const noexcept { return sem_ != nullptr; }

   private:
    friend class semaphore;
    explicit permit(semaphore* s) noexcept : sem_(s) {}
    semaphore* sem_ = nullptr;
  };

  /// The operation returned by `acquire()`.
  class acquire_op : private detail::list_hook<waiter_tag> {
   public:
    explicit acquire_op(semaphore& s) noexcept : sem_(&s) {}
    acquire_op(acquire_op&& o) noexcept : sem_(o.sem_), granted_(std::exchange(o.granted_, false)) {
      assert(!o.is_linked());
    }
    ~acquire_op() {
      if (is_linked()) {
        unlink();
        --sem_->waiting_;
      }
      if (granted_) sem_->release();  // granted but never delivered: give it back
    }

    bool ready() noexcept {
      if (sem_->available_ > 0 && sem_->waiters_.empty()) {
        --sem_->available_;
        granted_ = true;
        return true;
      }
      return false;
    }
    void start(completion& c) noexcept {
      completion_ = &c;
      sem_->waiters_.push_back(*this);
      ++sem_->waiting_;
    }
    bool cancel() noexcept {
      if (!is_linked()) return false;  // already handed a permit
      unlink();
      --sem_->waiting_;
      return true;
    }
    // A permit handed over in the same instant as the cancel is given back
    // (by the destructor) rather than delivered.
    bool must_resume() const noexcept { return false; }
    const char* name() const noexcept { return "semaphore acquire"; }
    permit result() noexcept {
      granted_ = false;
      return permit(sem_);
    }

   private:
    friend class semaphore;
    friend class detail::intrusive_list<acquire_op, waiter_tag>;
    semaphore* sem_;
    completion* completion_ = nullptr;
    bool granted_ = false;
  };

  explicit semaphore(std::size_t permits) noexcept : available_(permits) {}
  semaphore(const semaphore&) = delete;
  semaphore& operator=(const semaphore&) = delete;
  ~semaphore() { assert(waiters_.empty() && "semaphore destroyed with waiters"); }

  /// Waits for a unit (a cancellable operation). Returns its `permit`.
  [[nodiscard]] acquire_op acquire() noexcept { return acquire_op(*this); }
  /// Takes a unit if one is free and nobody is queued; never waits.
  std::optional<permit> try_acquire() noexcept {
    if (available_ > 0 && waiters_.empty()) {
      --available_;
      return permit(this);
    }
    return std::nullopt;
  }
  /// Returns one unit: to the oldest waiter if there is one, else the pool.
  void release() noexcept {
    if (acquire_op* w = waiters_.pop_front()) {
      --waiting_;
      w->granted_ = true;
      w->completion_->complete();
    } else {
      ++available_;
    }
  }
  /// Units free right now.
  std::size_t available() const noexcept { return available_; }
  /// Tasks queued in `acquire()`.
  std::size_t waiting() const noexcept { return waiting_; }

 private:
  detail::intrusive_list<acquire_op, waiter_tag> waiters_;
  std::size_t available_;
  std::size_t waiting_ = 0;
};

}  // namespace cohort
