#pragma once
/// \file
/// The interface between Cohort's core and the event loop that drives it.

#include <cohort/detail/runnable.hpp>

#include <chrono>

namespace cohort {

/// The clock every Cohort deadline is measured on. Time is read through the
/// scheduler, never from the clock directly, so tests can run on virtual time.
using clock = std::chrono::steady_clock;
using duration = clock::duration;
using time_point = clock::time_point;

/// An event loop as the core sees it: a ready queue, a clock and a timer
/// queue, all used from the loop's one thread.
///
/// The core never includes an I/O library. `cohort::run` (Boost.Asio) and the
/// tests' virtual-time loop implement this interface; so can any other loop.
/// Posting and arming never allocate: runnables and timer entries are
/// intrusive and owned by the operations that use them.
class scheduler {
 public:
  /// Queues `r` to run soon, after everything already queued.
  virtual void post(detail::runnable& r) noexcept = 0;
  /// The current time on this loop's clock.
  virtual time_point now() const noexcept = 0;
  /// Arms `t`; its `fire_` runs on the loop once `now() >= t.deadline_`.
  virtual void add_timer(detail::timer_entry& t) = 0;
  /// Disarms `t` if it is armed; afterwards it never fires.
  virtual void remove_timer(detail::timer_entry& t) noexcept = 0;

 protected:
  ~scheduler() = default;
};

}  // namespace cohort
