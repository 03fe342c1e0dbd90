#pragma once
/// \file
/// `cohort::cancel_scope`, deadlines and the two timeout flavours.

#include <cohort/cancel_reason.hpp>
#include <cohort/detail/cancel_node.hpp>
#include <cohort/detail/owner.hpp>
#include <cohort/scheduler.hpp>
#include <cohort/task.hpp>

#include <cassert>
#include <optional>
#include <stdexcept>

namespace cohort {

/// Thrown by `fail_after`/`fail_at` when the deadline cancelled the body.
class timeout_error : public std::runtime_error {
 public:
  timeout_error() : std::runtime_error("cohort: deadline exceeded") {}
};

namespace detail {
enum class scope_kind { move_on, fail, shield };
template <class T, scope_kind K>
class scope_awaiter;
}  // namespace detail

/// A region of a task that can be cancelled as a unit, with an optional
/// deadline.
///
/// `co_await scope.run(body)` runs `body` inside the scope. Cancelling the
/// scope (`cancel()`, the deadline passing, or an enclosing scope being
/// cancelled) is level-triggered: every wait inside it that is in progress
/// ends, and so does every wait that starts later. When the body is unwound
/// by the scope's *own* cancellation the scope catches it: `run` returns an
/// empty result and `cancelled_caught()` is true. When the cancellation came
/// from outside, it keeps propagating. A body that finishes despite the
/// cancel delivers its value. Exceptions from the body propagate.
///
///     cohort::cancel_scope scope;
///     scope.set_timeout(5s);
///     if (!co_await scope.run(fetch())) log("gave up after 5 s");
///
/// A scope runs one body, once; it must outlive the `co_await`. `cancel()`
/// may be called before the body starts (the body then starts cancelled),
/// from another task, or from inside the body.
class cancel_scope {
 public:
  cancel_scope() noexcept { init_timer(); }
  /// A scope whose deadline is `deadline`.
  explicit cancel_scope(time_point deadline) noexcept : deadline_(deadline) { init_timer(); }
  cancel_scope(const cancel_scope&) = delete;
  cancel_scope& operator=(const cancel_scope&) = delete;
  ~cancel_scope() { disarm(); }

  /// Cancels the scope (idempotent: the first reason is kept).
  void cancel(cancel_reason reason = cancel_reason::requested) noexcept;
  /// Sets (or moves) the absolute deadline; takes effect at once if active.
  /// `time_point::max()` removes it.
  void set_deadline(time_point deadline) noexcept;
  /// Sets the deadline `timeout` after the scope starts (or after now, if it
  /// is already running). `duration::max()`, or any timeout too large to add
  /// to the current time, means no deadline (see `deadline_after`).
  void set_timeout(duration timeout) noexcept;
  /// The absolute deadline, or `time_point::max()` for none.
  time_point deadline() const noexcept { return deadline_; }

  /// True once `cancel()` was called or the deadline passed.
  bool cancel_called() const noexcept {
    return node_.cancel_called() || pending_ != cancel_reason::none;
  }
  /// True if the body was unwound by this scope's own cancellation.
  bool cancelled_caught() const noexcept { return caught_; }
  /// This scope's own reason, or `parent` if only an enclosing scope
  /// cancelled it, or `none`.
  cancel_reason reason() const noexcept {
    return pending_ != cancel_reason::none ? pending_ : node_.reason();
  }
  /// The reason at the scope where the cancellation started.
  cancel_reason origin_reason() const noexcept {
    return pending_ != cancel_reason::none ? pending_ : node_.origin_reason();
  }

  /// Runs `body` in this scope. The result is `std::optional<T>` (for
  /// `task<void>`: `bool`, true if the body completed); empty if this
  /// scope's cancellation caught the body.
  template <class T>
  [[nodiscard]] detail::scope_awaiter<T, detail::scope_kind::move_on> run(task<T> body) noexcept;

 private:
  template <class, detail::scope_kind>
  friend class detail::scope_awaiter;

  void copy_settings(const cancel_scope& o) noexcept {
    deadline_ = o.deadline_;
    timeout_ = o.timeout_;
    pending_ = o.pending_;
  }
  void init_timer() noexcept {
    timer_.fire_ = &on_deadline;
    timer_.context_ = this;
  }
  static void on_deadline(detail::timer_entry* t) noexcept {
    static_cast<cancel_scope*>(t->context_)->node_.cancel(cancel_reason::deadline);
  }
  void activate(detail::cancel_node& parent, bool shield) noexcept;
  void deactivate() noexcept {
    disarm();
    node_.detach();
    active_ = false;
  }
  void arm() noexcept;
  void disarm() noexcept {
    if (timer_.armed()) node_.sched().remove_timer(timer_);
  }

  detail::cancel_node node_;
  detail::timer_entry timer_;
  time_point deadline_ = time_point::max();
  std::optional<duration> timeout_;
  cancel_reason pending_ = cancel_reason::none;  // cancel() before activation
  bool active_ = false;
  bool used_ = false;
  bool caught_ = false;
};

namespace detail {

template <class T>
struct scope_result {
  using type = std::optional<T>;
};
template <>
struct scope_result<void> {
  using type = bool;
};

/// Awaiter of `cancel_scope::run`, `move_on_*`, `fail_*` and `shield`.
template <class T, scope_kind K>
class scope_awaiter final : private awaiting_owner {
 public:
  using is_cohort_awaitable = void;
  using result_type =
      std::conditional_t<K == scope_kind::move_on, typename scope_result<T>::type, T>;

  /// Runs `body` in the caller's `scope`.
  scope_awaiter(cancel_scope& scope, task<T> body) noexcept
      : scope_(&scope), body_(std::move(body)) {}
  /// Runs `body` in a scope of its own with the given deadline/timeout.
  scope_awaiter(std::optional<time_point> deadline, std::optional<duration> timeout,
                task<T> body) noexcept
      : scope_(&own_), body_(std::move(body)) {
    if (deadline) own_.set_deadline(*deadline);
    if (timeout) own_.set_timeout(*timeout);
  }
  // Moved only before it starts (GCC moves the co_await operand into the frame).
  scope_awaiter(scope_awaiter&& o) noexcept
      : scope_(o.scope_ == &o.own_ ? &own_ : o.scope_), body_(std::move(o.body_)) {
    own_.copy_settings(o.own_);
  }

  bool await_ready() const noexcept { return false; }
  template <class P>
  std::coroutine_handle<> await_suspend(std::coroutine_handle<P> h) noexcept {
    bind(h.promise());
    scope_->activate(h.promise().node(), K == scope_kind::shield);
    if constexpr (K == scope_kind::shield) scope_->node_.set_kind(node_kind::shield);
    return body_.promise().adopt(*this, scope_->node_);
  }
  result_type await_resume() {
    if (scope_->caught_) {
      if constexpr (K == scope_kind::fail) {
        throw timeout_error();
      } else if constexpr (K == scope_kind::move_on) {
        return result_type{};
      } else {
        assert(false && "a shield cannot catch a cancellation");
      }
    }
    if constexpr (K == scope_kind::move_on && std::is_void_v<T>) {
      body_.promise().result();
      return true;
    } else {
      return body_.promise().result();
    }
  }

 private:
  std::coroutine_handle<> on_task_done(promise_base&) noexcept override {
    scope_->deactivate();
    return parent().handle();
  }
  promise_base* on_task_unwound(promise_base&) noexcept override {
    body_.reset();
    const bool from_outside = scope_->node_.parent_cancels();
    scope_->deactivate();
    if (from_outside) return &parent();
    scope_->caught_ = true;
    post_resume_parent();
    return nullptr;
  }

  cancel_scope own_;
  cancel_scope* scope_;
  task<T> body_;
};

}  // namespace detail

template <class T>
detail::scope_awaiter<T, detail::scope_kind::move_on> cancel_scope::run(task<T> body) noexcept {
  return {*this, std::move(body)};
}

/// Runs `body` with a timeout; on expiry the body is cancelled and the result
/// is empty (`std::optional<T>`, or `false` for `task<void>`).
/// `duration::max()` means no timeout.
///
///     auto page = co_await cohort::move_on_after(2s, fetch(url));
template <class T>
[[nodiscard]] detail::scope_awaiter<T, detail::scope_kind::move_on> move_on_after(
    duration timeout, task<T> body) noexcept {
  return {std::nullopt, timeout, std::move(body)};
}
/// As `move_on_after`, with an absolute deadline.
template <class T>
[[nodiscard]] detail::scope_awaiter<T, detail::scope_kind::move_on> move_on_at(
    time_point deadline, task<T> body) noexcept {
  return {deadline, std::nullopt, std::move(body)};
}
/// Runs `body` with a timeout; on expiry the body is cancelled and
/// `timeout_error` is thrown. `duration::max()` means no timeout.
///
///     int v = co_await cohort::fail_after(2s, compute());
template <class T>
[[nodiscard]] detail::scope_awaiter<T, detail::scope_kind::fail> fail_after(duration timeout,
                                                                            task<T> body) noexcept {
  return {std::nullopt, timeout, std::move(body)};
}
/// As `fail_after`, with an absolute deadline.
template <class T>
[[nodiscard]] detail::scope_awaiter<T, detail::scope_kind::fail> fail_at(time_point deadline,
                                                                         task<T> body) noexcept {
  return {deadline, std::nullopt, std::move(body)};
}

}  // namespace cohort
