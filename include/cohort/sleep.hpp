#pragma once
/// \file
/// Waiting for time on the loop's clock: `sleep_for`, `sleep_until`, and
/// `checkpoint`.

#include <cohort/operation.hpp>
#include <cohort/scheduler.hpp>

#include <optional>

namespace cohort {

namespace detail {

class sleep_op {
 public:
  sleep_op(std::optional<time_point> deadline, duration delay) noexcept
      : deadline_(deadline), delay_(delay) {}
  sleep_op(sleep_op&& o) noexcept : deadline_(o.deadline_), delay_(o.delay_) {}
  // A frame destroyed while it sleeps (not through the unwinding, which
  // cancels first) must not leave its entry in the loop's timer heap.
  // (The completion is the awaiter this op is a member of: still alive here.)
  ~sleep_op() {
    if (timer_.armed()) completion_->sched().remove_timer(timer_);
  }

  void start(completion& c) {
    completion_ = &c;
    scheduler& sched = c.sched();
    timer_.deadline_ = deadline_ ? *deadline_ : deadline_after(sched.now(), delay_);
    timer_.fire_ = &fire;
    timer_.context_ = this;
    // time_point::max() is never: no timer, only a cancel ends the wait.
    if (timer_.deadline_ == time_point::max()) return;
    sched.add_timer(timer_);
  }
  bool cancel() noexcept {
    if (timer_.deadline_ == time_point::max()) return true;
    if (!timer_.armed()) return false;
    completion_->sched().remove_timer(timer_);
    return true;
  }
  bool must_resume() const noexcept { return true; }
  void result() const noexcept {}
  const char* name() const noexcept { return "sleep"; }

 private:
  static void fire(timer_entry* t) noexcept {
    static_cast<sleep_op*>(t->context_)->completion_->complete();
  }

  std::optional<time_point> deadline_;
  duration delay_;
  timer_entry timer_;
  completion* completion_ = nullptr;  // also gives the loop (completion_->sched())
};

class checkpoint_op {
 public:
  void start(completion& c) noexcept { c.complete(); }
  bool cancel() noexcept { return false; }
  bool must_resume() const noexcept { return false; }
  void result() const noexcept {}
  const char* name() const noexcept { return "checkpoint"; }
};

}  // namespace detail

/// Waits until `deadline` on the loop's clock (a cancellable operation).
/// `time_point::max()` is never: the wait ends only by cancellation.
[[nodiscard]] inline detail::sleep_op sleep_until(time_point deadline) noexcept {
  return {deadline, duration::zero()};
}
/// Waits for `delay` on the loop's clock (a cancellable operation).
/// `duration::max()`, or any delay too large to add to the current time,
/// waits until cancelled (see `deadline_after`).
///
///     co_await cohort::sleep_for(std::chrono::milliseconds(250));
[[nodiscard]] inline detail::sleep_op sleep_for(duration delay) noexcept {
  return {std::nullopt, delay};
}
/// Yields to the other ready tasks once; ends the task here if its scope is
/// cancelled. Put one in a long computation so it can be cancelled.
[[nodiscard]] inline detail::checkpoint_op checkpoint() noexcept {
  return {};
}

}  // namespace cohort
