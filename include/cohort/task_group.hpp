#pragma once
/// \file
/// `cohort::task_group`: a nursery of child tasks that cannot outlive it.

#include <cohort/cancel_reason.hpp>
#include <cohort/detail/cancel_node.hpp>
#include <cohort/detail/owner.hpp>
#include <cohort/task.hpp>

#include <concepts>
#include <cstddef>
#include <exception>
#include <string>
#include <utility>
#include <vector>

namespace cohort {

/// What a task group does when a child fails.
enum class failure_policy {
  fail_fast,  ///< cancel every other member (the default)
  collect,    ///< let the others run on; report every failure at the end
};

/// Options of `with_task_group`.
struct group_options {
  failure_policy on_failure = failure_policy::fail_fast;
};

/// Thrown by `with_task_group` when one or more members failed.
///
/// Every error is kept, in the order they happened: `cause()` is the first,
/// which (in fail-fast mode) cancelled the others; `cancelled()` counts the
/// members it cancelled (or that never started because of it).
class group_error : public std::exception {
 public:
  group_error(std::vector<std::exception_ptr> errors, std::size_t cancelled);
  const char* what() const noexcept override { return what_.c_str(); }
  /// The first error: the cause of the group's failure.
  const std::exception_ptr& cause() const noexcept { return errors_.front(); }
  /// Every error, the cause first.
  const std::vector<std::exception_ptr>& errors() const noexcept { return errors_; }
  /// Members cancelled, or never started, while the group was ending.
  std::size_t cancelled() const noexcept { return cancelled_; }
  /// Rethrows the cause itself.
  [[noreturn]] void rethrow_cause() const { std::rethrow_exception(cause()); }

 private:
  std::vector<std::exception_ptr> errors_;
  std::size_t cancelled_;
  std::string what_;
};

/// Counts of how a group's spawned children ended (the body not included).
struct group_stats {
  std::size_t spawned = 0;
  std::size_t completed = 0;
  std::size_t failed = 0;
  std::size_t cancelled = 0;    ///< unwound after they started
  std::size_t not_started = 0;  ///< the group was cancelled before they ran
};

/// A nursery: the scope that owns child tasks. Obtained only inside
/// `with_task_group`, so no child can outlive it and there is no detached
/// spawn.
///
/// The group finishes when its body and every child have finished. A child
/// that throws cancels the body and its siblings (reason `sibling_failed`)
/// unless the group collects failures; every error is kept and thrown as a
/// `group_error`. A child spawned into a cancelled group, or whose group is
/// cancelled before it first runs, never runs at all: it is destroyed
/// unstarted and counted as `not_started`. `cancel()` cancels body and
/// children; that cancellation is absorbed by the group (it returns
/// normally), while a cancellation from an enclosing scope propagates. A
/// cancelled body's frames (and the locals in them) are destroyed only after
/// the last child has ended, so children may refer to them until then.
///
///     co_await cohort::with_task_group([&](cohort::task_group& g) -> cohort::task<> {
///       for (auto& url : urls) g.spawn(fetch(url));
///       co_return;
///     });
class task_group : private detail::awaiting_owner {
 public:
  /// Starts `child` in this group soon (on the loop's next turn). The value
  /// it returns is discarded.
  template <class T>
  void spawn(task<T> child) {
    auto h = child.release();
    h.promise().adopt(*this, node_);
    add_pending(h.promise());
  }
  /// Cancels the body and every child; absorbed by the group.
  void cancel(cancel_reason reason = cancel_reason::requested) noexcept { node_.cancel(reason); }
  /// True if the group is being cancelled (by itself or from outside).
  bool cancelled() const noexcept { return node_.cancelled(); }
  /// Why the group is cancelled (see `cancel_scope::reason`).
  cancel_reason reason() const noexcept { return node_.reason(); }
  /// The reason where the cancellation started (`signal`, not `parent`).
  cancel_reason origin_reason() const noexcept { return node_.origin_reason(); }
  /// Children spawned and not yet finished.
  std::size_t running() const noexcept { return live_ - (body_done_ ? 0 : 1); }
  /// How children ended so far.
  const group_stats& stats() const noexcept { return stats_; }

 protected:
  explicit task_group(group_options options) noexcept;
  ~task_group();
  std::coroutine_handle<> start(detail::promise_base& parent, task<> body) noexcept;
  void finish_or_throw();
  group_options options() const noexcept { return options_; }

 private:
  struct starter : detail::runnable {
    task_group* group;
  };
  void add_pending(detail::promise_base& p);
  static void run_start(detail::runnable* r) noexcept;
  void release_unwound_body() noexcept;
  std::coroutine_handle<> on_task_done(detail::promise_base& p) noexcept override;
  detail::promise_base* on_task_unwound(detail::promise_base& p) noexcept override;

  group_options options_;
  detail::cancel_node node_;
  task<> body_;
  std::vector<detail::promise_base*> pending_;
  std::vector<detail::promise_base*> starting_batch_;
  std::vector<std::exception_ptr> errors_;
  group_stats stats_;
  starter starter_;
  std::size_t live_ = 0;
  bool start_posted_ = false;
  bool starting_ = false;
  bool body_done_ = false;
  bool body_unwound_ = false;  // its frames are kept until the last child ends
  bool any_unwound_ = false;
  bool closed_ = false;
};

namespace detail {

template <class F>
class group_awaiter final : public task_group {
 public:
  using is_cohort_awaitable = void;
  group_awaiter(group_options options, F fn) noexcept : task_group(options), fn_(std::move(fn)) {}
  // Moved only before it starts (GCC moves the co_await operand into the frame).
  group_awaiter(group_awaiter&& o) noexcept : task_group(o.options()), fn_(std::move(o.fn_)) {}

  bool await_ready() const noexcept { return false; }
  template <class P>
  std::coroutine_handle<> await_suspend(std::coroutine_handle<P> h) {
    task_group& self = *this;
    return start(h.promise(), fn_(self));
  }
  void await_resume() { finish_or_throw(); }

 private:
  F fn_;
};

}  // namespace detail

/// Runs `body(group)` as the body of a new task group and waits until the
/// body and every child it spawned have finished. See `task_group`.
/// Throws `group_error` if any member failed.
template <class F>
  requires std::same_as<std::invoke_result_t<F&, task_group&>, task<>>
[[nodiscard]] detail::group_awaiter<F> with_task_group(F body) noexcept(
    std::is_nothrow_move_constructible_v<F>) {
  return {group_options{}, std::move(body)};
}
/// As above, with options (for example `failure_policy::collect`).
template <class F>
  requires std::same_as<std::invoke_result_t<F&, task_group&>, task<>>
[[nodiscard]] detail::group_awaiter<F> with_task_group(group_options options, F body) noexcept(
    std::is_nothrow_move_constructible_v<F>) {
  return {options, std::move(body)};
}

}  // namespace cohort
