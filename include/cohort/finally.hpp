#pragma once
/// \file
/// `cohort::finally`: async cleanup that always runs, shielded and bounded.

#include <cohort/cancel_scope.hpp>
#include <cohort/config.hpp>
#include <cohort/detail/owner.hpp>
#include <cohort/detail/trace.hpp>
#include <cohort/task.hpp>

#include <algorithm>
#include <chrono>
#include <concepts>
#include <exception>

namespace cohort {

/// The grace period `finally` gives a cleanup unless told otherwise.
inline constexpr duration default_cleanup_grace =
    std::chrono::milliseconds(COHORT_DEFAULT_CLEANUP_GRACE_MS);

namespace detail {

template <class T, class Cleanup>
class finally_awaiter final : private awaiting_owner {
 public:
  using is_cohort_awaitable = void;

  finally_awaiter(task<T> body, Cleanup cleanup, duration grace) noexcept
      : body_(std::move(body)), make_cleanup_(std::move(cleanup)), grace_(grace) {
    timer_.fire_ = &on_grace_expired;
    timer_.context_ = this;
  }
  // Moved only before it starts (GCC moves the co_await operand into the frame).
  finally_awaiter(finally_awaiter&& o) noexcept
      : finally_awaiter(std::move(o.body_), std::move(o.make_cleanup_), o.grace_) {}
  ~finally_awaiter() {
    if (timer_.armed()) node_.sched().remove_timer(timer_);
  }

  bool await_ready() const noexcept { return false; }
  template <class P>
  std::coroutine_handle<> await_suspend(std::coroutine_handle<P> h) noexcept {
    bind(h.promise());
    return body_.promise().adopt(*this, h.promise().node());
  }
  T await_resume() {
    // Resumed after a cancelled body only to deliver the cleanup's error.
    if (body_unwound_) std::rethrow_exception(cleanup_error_);
    if (cleanup_error_ && !body_.promise().failed()) std::rethrow_exception(cleanup_error_);
    return body_.promise().result();
  }

 private:
  // Starts the cleanup in a shield with its own deadline: `grace_` from now,
  // but never past the end of an enclosing cleanup's grace. Returns the
  // cleanup's frame to run, or null if making the cleanup threw (the error
  // is then in cleanup_error_).
  std::coroutine_handle<> start_cleanup() noexcept {
    in_cleanup_ = true;
    try {
      cleanup_ = make_cleanup_();
    } catch (...) {
      cleanup_error_ = std::current_exception();
      return nullptr;
    }
    node_.attach(parent().node(), /*shield=*/true);
    node_.set_kind(node_kind::cleanup);
    trace(trace_kind::cleanup_begun, &parent(), &node_);
    const time_point end =
        std::min(deadline_after(node_.sched().now(), grace_), parent().node().grace_end());
    node_.set_grace_end(end);
    if (end < node_.sched().now()) {
      // An enclosing grace ran out before this cleanup began (it outlived
      // it in a user shield): start cancelled, as a scope whose deadline has
      // passed does, not behind a timer that fires only at the next turn.
      node_.cancel(cancel_reason::deadline);
    } else if (end != time_point::max()) {  // max: no grace, no enclosing one either
      timer_.deadline_ = end;
      node_.sched().add_timer(timer_);
    }
    return cleanup_.promise().adopt(*this, node_);
  }
  void end_cleanup(bool cut) noexcept {
    trace(cut ? trace_kind::cleanup_cut : trace_kind::cleanup_ended, &parent(), &node_,
          node_.origin_reason());
    if (timer_.armed()) node_.sched().remove_timer(timer_);
    node_.detach();
  }
  static void on_grace_expired(timer_entry* t) noexcept {
    static_cast<finally_awaiter*>(t->context_)->node_.cancel(cancel_reason::deadline);
  }

  std::coroutine_handle<> on_task_done(promise_base& p) noexcept override {
    if (!in_cleanup_) {  // the body finished: clean up
      if (auto c = start_cleanup()) return c;
      return parent().handle();
    }
    if (p.failed()) cleanup_error_ = p.error();
    end_cleanup(false);
    if (body_unwound_) {
      // The body was cancelled. Its cancellation continues, unless the
      // cleanup failed: an error is never dropped, so the awaiting task
      // resumes with it (and, its scope being cancelled, unwinds at its next
      // wait).
      if (cleanup_error_) {
        post_resume_parent();
      } else {
        post_unwind_parent();
      }
      return std::noop_coroutine();
    }
    return parent().handle();
  }

  promise_base* on_task_unwound(promise_base&) noexcept override {
    if (!in_cleanup_) {  // the body was cancelled
      body_unwound_ = true;
      body_.reset();
      if (auto c = start_cleanup()) {
        c.resume();  // touch nothing after: the cleanup may finish the parent
        return nullptr;
      }
      // Making the cleanup threw. An error is never dropped: as when a
      // cleanup throws, the awaiting task resumes with it.
      post_resume_parent();
      return nullptr;
    }
    cleanup_cut_ = true;
    cleanup_.reset();
    end_cleanup(true);
    if (body_unwound_) return &parent();
    post_resume_parent();
    return nullptr;
  }

  task<T> body_;
  Cleanup make_cleanup_;
  task<> cleanup_;
  duration grace_;
  cancel_node node_;
  timer_entry timer_;
  std::exception_ptr cleanup_error_;
  bool in_cleanup_ = false;
  bool body_unwound_ = false;
  bool cleanup_cut_ = false;
};

}  // namespace detail

/// Runs `body`, then always runs the async cleanup `cleanup()` and waits for
/// it: after the body completes, fails, or is cancelled.
///
/// The cleanup runs shielded from the outer cancellation, under its own
/// deadline of `grace` (default `default_cleanup_grace`) from the moment it
/// starts; escalation (a second signal) cancels it too. So it is never
/// detached, never cut short by the cancel that caused it, and bounded. A
/// grace bounds everything inside the cleanup: a `finally` nested in it gets
/// the smaller of its own grace and what is left of the outer one (only a
/// `shield` the cleanup awaits explicitly escapes the grace's cancel).
/// `duration::max()` means no grace deadline of its own. Afterwards the
/// body's outcome continues: its value, its exception (which wins over a
/// cleanup exception), or its cancellation — except that a cleanup's
/// exception, or one thrown by `cleanup()` itself, is never dropped: after a
/// cancelled body it is thrown to the caller, whose scope is still cancelled.
/// `cleanup` is called only when the cleanup starts, so it can look at state
/// the body left behind.
///
///     co_await cohort::finally(download(tmp), [&]() -> cohort::task<> {
///       co_await remove_file_async(tmp);          // runs even on Ctrl+C
///     });
template <class T, class Cleanup>
  requires std::same_as<std::invoke_result_t<Cleanup&>, task<>>
[[nodiscard]] detail::finally_awaiter<T, Cleanup> finally(
    task<T> body, Cleanup cleanup, duration grace = default_cleanup_grace) noexcept {
  return {std::move(body), std::move(cleanup), grace};
}

}  // namespace cohort
