#pragma once
/// \file
/// `cohort::loop_thread`: an event loop on a thread of its own, and calls
/// into it from another loop, cancellable across the two threads.

#include <cohort/cancel_scope.hpp>
#include <cohort/operation.hpp>
#include <cohort/runtime/asio_loop.hpp>
#include <cohort/task.hpp>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <exception>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <stdexcept>
#include <thread>
#include <type_traits>
#include <utility>

namespace cohort {

class loop_thread;

/// Thrown by a `loop_thread::call` whose task the loop cancelled because it
/// was stopping (the `loop_thread` was being destroyed), not because the
/// caller asked.
class loop_stopped_error : public std::runtime_error {
 public:
  loop_stopped_error()
      : std::runtime_error("cohort: the loop_thread stopped before the call ended") {}
};

namespace detail {

template <class T>
struct task_value;
template <class T>
struct task_value<task<T>> {
  using type = T;
};

/// What a call shares between the caller's loop and the loop_thread: the
/// caller's side is touched on the caller's thread only, the remote side on
/// the loop_thread's only; the posts between the two order them.
class remote_call_base {
 public:
  virtual ~remote_call_base() = default;
  // Caller's thread.
  completion* done = nullptr;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> keep;
  boost::asio::io_context* caller_io = nullptr;
  // Remote thread, then read by the caller after the post back.
  enum class end : unsigned char { none, value, error, cancelled, stopped } ended = end::none;
  std::exception_ptr error;
  // Remote thread only.
  bool cancel_asked = false;
  cancel_scope* scope = nullptr;
  void cancel_on_remote() noexcept {
    cancel_asked = true;
    if (scope != nullptr) scope->cancel();
  }
  // Remote thread: hands the ending to the caller's loop.
  static void post_back(const std::shared_ptr<remote_call_base>& s) {
    boost::asio::post(*s->caller_io, [s] {
      s->keep.reset();
      s->done->complete();
    });
  }
};

template <class T, class F>
class remote_call : public remote_call_base {
 public:
  explicit remote_call(F f) : make(std::move(f)) {}
  F make;
  std::optional<std::conditional_t<std::is_void_v<T>, bool, T>> value;
};

// The remote task's hold on its call, a parameter of that task's frame: it
// posts the ending back to the caller however the frame goes (the task
// returned or threw, unwound, or was destroyed before it ever ran because
// the loop was stopping).
template <class T, class F>
class remote_ticket {
 public:
  explicit remote_ticket(std::shared_ptr<remote_call<T, F>> s) noexcept : s_(std::move(s)) {}
  remote_ticket(remote_ticket&& o) noexcept : s_(std::move(o.s_)) {}
  remote_ticket& operator=(remote_ticket&&) = delete;
  ~remote_ticket() {
    if (!s_) return;
    if (s_->ended == remote_call_base::end::none) {
      s_->ended =
          s_->cancel_asked ? remote_call_base::end::cancelled : remote_call_base::end::stopped;
    }
    s_->scope = nullptr;
    remote_call_base::post_back(s_);
  }
  remote_call<T, F>& operator*() const noexcept { return *s_; }

 private:
  std::shared_ptr<remote_call<T, F>> s_;
};

template <class T, class F>
task<> run_remote(remote_ticket<T, F> ticket) {
  remote_call<T, F>& s = *ticket;
  cancel_scope scope;
  s.scope = &scope;
  if (s.cancel_asked) scope.cancel();
  try {
    auto v = co_await scope.run(s.make());
    if constexpr (std::is_void_v<T>) {
      if (v) s.value.emplace(true);
    } else {
      if (v) s.value.emplace(std::move(*v));
    }
    s.ended = s.value ? remote_call_base::end::value : remote_call_base::end::cancelled;
  } catch (...) {
    s.error = std::current_exception();
    s.ended = remote_call_base::end::error;
  }
}

/// The operation behind `loop_thread::call`.
template <class T, class F>
class remote_call_op {
 public:
  remote_call_op(loop_thread& target, F make, const char* what)
      : target_(&target),
        state_(std::make_shared<remote_call<T, F>>(std::move(make))),
        what_(what) {}
  void start(completion& c);
  /// Asks the remote task to stop; the call ends once it has unwound there.
  bool cancel() noexcept;
  /// True when the remote task ended with a value or an error despite the
  /// cancel: it is delivered (G8).
  bool must_resume() const noexcept {
    return state_->ended == remote_call_base::end::value ||
           state_->ended == remote_call_base::end::error;
  }
  T result() {
    switch (state_->ended) {
      case remote_call_base::end::error: std::rethrow_exception(state_->error);
      case remote_call_base::end::value:
        if constexpr (!std::is_void_v<T>)
          return std::move(*state_->value);
        else
          return;
      default: throw loop_stopped_error();
    }
  }
  const char* name() const noexcept { return what_; }

 private:
  loop_thread* target_;
  std::shared_ptr<remote_call<T, F>> state_;
  const char* what_;
};

}  // namespace detail

/// An `asio_loop` on a thread of its own, for a program that spreads its
/// work over several loops (say one per core). The objects that belong to
/// that loop (an `http_client`, sockets, timers) are made, used and
/// destroyed on its thread; another loop reaches them through `call`, a
/// cancellable operation whose task runs there.
///
///     cohort::loop_thread worker;
///     auto client = worker.invoke(
///         [&] { return std::make_unique<cohort::http_client>(worker.loop()); });
///     // In a task on another loop (the main one, say):
///     cohort::http_response r = co_await worker.call(
///         [&]() -> cohort::task<cohort::http_response> { co_return co_await client->get_ec(url);
///         });
///     // ...
///     worker.invoke([&] { client.reset(); });  // before the worker goes
///
/// Cancellation crosses threads both ways and keeps the structured
/// guarantee: when the calling task's scope is cancelled, the remote task's
/// scope is cancelled on its own thread, and the call ends only once the
/// remote task has unwound, so the remote task may use what the caller owns
/// (the lambda's references) until the call returns. A remote task that
/// completes despite the cancel delivers its value (G8). An exception thrown
/// there is rethrown in the caller. Destroying the `loop_thread` cancels
/// the tasks still running there, waits for them to unwind and joins the
/// thread; a call ended that way throws `loop_stopped_error`.
///
/// The calling task must run on an `asio_loop` (another loop_thread's, or
/// `cohort::run`'s). `call`, `post` and `invoke` are thread-safe; `loop()`
/// and `io()` are for code that runs on the loop's thread.
class loop_thread {
 public:
  /// Starts the thread and its loop; returns once the loop runs.
  loop_thread();
  loop_thread(const loop_thread&) = delete;
  loop_thread& operator=(const loop_thread&) = delete;
  /// Cancels the tasks still running there (their cleanup runs), waits for
  /// them to end and joins the thread. Do not destroy it from its own thread.
  ~loop_thread();

  /// The thread's loop and io_context: for making the objects that belong
  /// to it, on its thread (in `invoke`, or a task of `call`).
  asio_loop& loop() noexcept { return *loop_; }
  boost::asio::io_context& io() noexcept { return io_; }
  /// True on this loop's own thread.
  bool on_this_thread() const noexcept { return std::this_thread::get_id() == thread_.get_id(); }

  /// Runs the task `make()` returns on this loop, awaited by a task on
  /// another loop (see the class comment); cancelling the awaiting task
  /// cancels it there. `make` is kept alive, and called on this loop's
  /// thread, until the task has ended. `what` names the wait in the
  /// caller's task-tree dumps (SIGQUIT): a string literal, say "http get on
  /// a network thread". Name a lambda with by-copy captures before the
  /// `co_await` rather than writing it inside `call(...)` there: g++ 12
  /// destroys such a closure twice (docs/guide.md, "Pitfalls").
  template <class F>
  [[nodiscard]] auto call(F make, const char* what = "call on a loop_thread")
      -> task<typename detail::task_value<std::invoke_result_t<F&>>::type> {
    using T = typename detail::task_value<std::invoke_result_t<F&>>::type;
    if constexpr (std::is_void_v<T>) {
      co_await detail::remote_call_op<T, F>(*this, std::move(make), what);
    } else {
      co_return co_await detail::remote_call_op<T, F>(*this, std::move(make), what);
    }
  }

  /// Runs `f` on this loop's thread soon (thread-safe, never blocks). `f`
  /// must not throw: nothing there could take the exception.
  void post(std::function<void()> f);

  /// Runs `f()` on this loop's thread and blocks the calling thread until it
  /// has returned; returns its value or rethrows its exception. For setting
  /// up and tearing down the loop's objects; from a task, it stalls that
  /// task's loop for as long as `f` takes. Called on the loop's own thread,
  /// it just calls `f()`.
  template <class F>
  auto invoke(F f) -> std::invoke_result_t<F&> {
    if (on_this_thread()) return f();
    std::packaged_task<std::invoke_result_t<F&>()> job(std::move(f));
    auto result = job.get_future();
    boost::asio::post(io_, [&job] { job(); });
    return result.get();
  }

 private:
  template <class T, class F>
  friend class detail::remote_call_op;
  void spawn_remote(task<> t);  // on this loop's thread
  task<> host();

  boost::asio::io_context io_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> keep_;
  asio_loop* loop_ = nullptr;
  class task_group* group_ = nullptr;
  struct stop_signal;
  std::unique_ptr<stop_signal> stop_;
  std::thread thread_;
};

namespace detail {

template <class T, class F>
void remote_call_op<T, F>::start(completion& c) {
  auto* caller = dynamic_cast<asio_loop*>(&c.sched());
  if (caller == nullptr)
    throw std::logic_error("cohort::loop_thread::call from a task not on an asio_loop");
  state_->done = &c;
  state_->caller_io = &caller->io();
  state_->keep.emplace(caller->io().get_executor());  // the caller's loop waits for the post back
  target_->post([t = target_, s = state_] { t->spawn_remote(run_remote(remote_ticket<T, F>(s))); });
}

template <class T, class F>
bool remote_call_op<T, F>::cancel() noexcept {
  try {
    target_->post([s = state_] { s->cancel_on_remote(); });
  } catch (...) {  // out of memory: the call ends when the remote task does
  }
  return false;
}

}  // namespace detail

}  // namespace cohort
