#pragma once
/// \file
/// `cohort::task<T>`: the coroutine type of Cohort.

#include <cohort/detail/promise.hpp>
#include <cohort/operation.hpp>

#include <concepts>
#include <coroutine>
#include <exception>
#include <optional>
#include <type_traits>
#include <utility>

namespace cohort {

template <class T = void>
class task;

namespace detail {

template <class T>
class task_promise;

/// Awaitables of Cohort's own (scopes, groups, shields, ...) declare
/// `using is_cohort_awaitable = void;` and are passed through unchanged.
template <class A>
concept cohort_awaitable = requires {
  typename std::remove_cvref_t<A>::is_cohort_awaitable;
};

template <class A>
inline constexpr bool always_false = false;

template <class U>
class task_awaiter {
 public:
  explicit task_awaiter(task<U>&& t) noexcept {
    if (auto h = t.release()) link_.child = &h.promise();
  }
  // Moved only before it starts (GCC moves the co_await operand into the frame).
  task_awaiter(task_awaiter&& o) noexcept : link_(o.link_) { o.link_.child = nullptr; }
  task_awaiter& operator=(task_awaiter&&) = delete;
  // A child that finished awaits nothing; one still suspended here was taken
  // out of link_ by destroy_frames(), which destroyed it with its chain.
  ~task_awaiter() {
    if (link_.child != nullptr) handle().destroy();
  }

  bool await_ready() const noexcept { return false; }
  template <class P>
  std::coroutine_handle<> await_suspend(std::coroutine_handle<P> h) noexcept {
    return promise().adopt(link_, h.promise());
  }
  U await_resume() { return promise().result(); }

 private:
  task_promise<U>& promise() const noexcept { return static_cast<task_promise<U>&>(*link_.child); }
  std::coroutine_handle<task_promise<U>> handle() const noexcept {
    return std::coroutine_handle<task_promise<U>>::from_promise(promise());
  }
  await_link link_;
};

class task_promise_common : public promise_base {
 public:
  /// `co_await some_task()`: runs the child in this task's scope.
  template <class U>
  task_awaiter<U> await_transform(task<U>&& t) noexcept {
    return task_awaiter<U>(std::move(t));
  }
  /// `co_await op`: a cancellable wait registered with this task's scope.
  template <operation Op>
    requires(!std::is_lvalue_reference_v<Op>)
  leaf_awaiter<Op> await_transform(Op&& op) {
    return leaf_awaiter<Op>(std::forward<Op>(op), *this);
  }
  /// Cohort's combinators (scopes, groups, shields, ...).
  template <cohort_awaitable A>
  A&& await_transform(A&& a) noexcept {
    return std::forward<A>(a);
  }
  /// Anything else is refused: a wait that cancellation cannot reach would
  /// let a cancelled task hang. Wrap it as a cohort::operation.
  template <class A>
    requires(!cohort_awaitable<A> && !operation<std::remove_cvref_t<A>>)
  void await_transform(A&&) = delete;
};

template <class T>
class task_promise final : public task_promise_common {
 public:
  task<T> get_return_object() noexcept;
  template <class V>
    requires std::convertible_to<V, T>
  void return_value(V&& v) noexcept(std::is_nothrow_constructible_v<T, V>) {
    value_.emplace(std::forward<V>(v));
  }
  T result() {
    if (error_) std::rethrow_exception(error_);
    return std::move(*value_);
  }

 private:
  std::optional<T> value_;
};

template <>
class task_promise<void> final : public task_promise_common {
 public:
  task<void> get_return_object() noexcept;
  void return_void() noexcept {}
  void result() {
    if (error_) std::rethrow_exception(error_);
  }
};

}  // namespace detail

/// A lazy coroutine producing a `T`: the unit of work in Cohort.
///
/// A task does nothing until it is awaited (`co_await t`), spawned into a
/// task group, or run by a loop; dropping an unstarted task destroys it
/// without running any of it. A task runs in the cancellation scope of
/// whoever awaits it. Every wait inside it is cancellable; when its scope is
/// cancelled the task is unwound at its current wait: its frame and the
/// frames of the tasks it awaits are destroyed innermost first, running every
/// destructor, and no code after the wait runs. This cannot be caught with
/// `catch (...)`. An exception leaving the task propagates to its awaiter.
///
///     cohort::task<int> answer() { co_await cohort::sleep_for(1ms); co_return 42; }
///     cohort::task<> user() { int v = co_await answer(); }
template <class T>
class [[nodiscard]] task {
  static_assert(!std::is_reference_v<T>, "task<T&> is not supported; return a pointer");

 public:
  using promise_type = detail::task_promise<T>;

  task() noexcept = default;
  task(task&& other) noexcept : h_(std::exchange(other.h_, {})) {}
  task& operator=(task&& other) noexcept {
    if (this != &other) {
      reset();
      h_ = std::exchange(other.h_, {});
    }
    return *this;
  }
  ~task() { reset(); }

  /// Names the task for traces (COHORT_TRACE) and task-tree dumps (SIGQUIT):
  /// shown as `name#id` (just `name` when id is 0). `name` must outlive the
  /// task (a string literal).
  ///
  ///     g.spawn(download(url).named("download", job_number));
  task&& named(const char* name, std::uint64_t id = 0) && noexcept {
    h_.promise().set_name(name, id);
    return std::move(*this);
  }

  /// True if this task holds a coroutine.
  explicit operator bool() const noexcept { return static_cast<bool>(h_); }

  /// Internal: the promise, for owners that start the task.
  promise_type& promise() const noexcept { return h_.promise(); }
  /// Internal: destroys the coroutine frame now (with the frames of the
  /// tasks it awaits, innermost first).
  void reset() noexcept {
    if (h_) detail::destroy_frames(std::exchange(h_, {}).promise());
  }
  /// Internal: gives up ownership of the frame.
  std::coroutine_handle<promise_type> release() noexcept { return std::exchange(h_, {}); }

 private:
  friend promise_type;
  explicit task(std::coroutine_handle<promise_type> h) noexcept : h_(h) {}
  std::coroutine_handle<promise_type> h_;
};

namespace detail {
struct scheduler_awaiter {
  using is_cohort_awaitable = void;
  scheduler* sched = nullptr;
  bool await_ready() const noexcept { return false; }
  template <class P>
  bool await_suspend(std::coroutine_handle<P> h) noexcept {
    sched = &h.promise().node().sched();
    return false;  // never suspends
  }
  scheduler& await_resume() const noexcept { return *sched; }
};
}  // namespace detail

/// The loop the current task runs on (its clock and timers). Never suspends
/// and is not a cancellation point.
///
///     cohort::scheduler& loop = co_await cohort::this_scheduler();
///     auto started = loop.now();
[[nodiscard]] inline detail::scheduler_awaiter this_scheduler() noexcept {
  return {};
}

namespace detail {
template <class T>
task<T> task_promise<T>::get_return_object() noexcept {
  auto h = std::coroutine_handle<task_promise>::from_promise(*this);
  self_ = h;
  return task<T>(h);
}
inline task<void> task_promise<void>::get_return_object() noexcept {
  auto h = std::coroutine_handle<task_promise>::from_promise(*this);
  self_ = h;
  return task<void>(h);
}
}  // namespace detail

}  // namespace cohort
