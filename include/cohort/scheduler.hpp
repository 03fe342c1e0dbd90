#pragma once
/// \file
/// The interface between Cohort's core and the event loop that drives it.

#include <cohort/detail/runnable.hpp>

#include <chrono>
#include <cstdint>
#include <limits>

namespace cohort {

/// The clock every Cohort deadline is measured on. Time is read through the
/// scheduler, never from the clock directly, so tests can run on virtual time.
using clock = std::chrono::steady_clock;
using duration = clock::duration;
using time_point = clock::time_point;

/// The time `d` after `t`, saturating instead of overflowing: a sum beyond
/// the clock's range is `time_point::max()`, which Cohort reads as "no
/// deadline", and one below it is `time_point::min()` (already passed).
/// Every deadline the core computes from a duration (timeouts, sleeps,
/// grace periods) goes through it, so `duration::max()`, or any duration
/// too large to add to the current time, means "never".
///
///     timer.deadline_ = cohort::deadline_after(loop.now(), timeout);
constexpr time_point deadline_after(time_point t, duration d) noexcept {
  using rep = duration::rep;
  const rep base = t.time_since_epoch().count();
  const rep delta = d.count();
  if (delta > 0 && base > std::numeric_limits<rep>::max() - delta) return time_point::max();
  if (delta < 0 && base < std::numeric_limits<rep>::min() - delta) return time_point::min();
  return t + d;
}

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

  /// When the loop's current turn began: a recent `now()` that costs no
  /// clock read. Every wait is stamped with it, so the task tree dump can say
  /// how long each has waited. `time_point{}` if the loop does not keep it
  /// (the dump then shows no wait times).
  time_point turn_time() const noexcept { return turn_time_; }
  /// `turn_time()` in milliseconds, modulo 2^32 (what a wait keeps: four
  /// bytes that fit in its padding, and good for waits of up to 49 days).
  std::uint32_t turn_ms() const noexcept { return turn_ms_; }

 protected:
  ~scheduler() = default;
  /// A loop calls this as each turn begins (or more often), with `now()`.
  void set_turn_time(time_point t) noexcept {
    turn_time_ = t;
    turn_ms_ = static_cast<std::uint32_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count());
  }

 private:
  time_point turn_time_{};
  std::uint32_t turn_ms_ = 0;
};

}  // namespace cohort
