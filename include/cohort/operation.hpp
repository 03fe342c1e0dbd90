#pragma once
/// \file
/// The protocol of a cancellable operation, the leaf of every wait.
///
/// Everything a Cohort task can suspend on at the bottom is an *operation*:
/// a sleep, a semaphore acquire, an event wait, an Asio operation through the
/// bridge. The task awaits it with `co_await op`; the library registers the
/// wait with the task's cancellation scope, so a cancel (now or earlier:
/// cancellation is level-triggered) reaches it.
///
/// An operation type provides:
///
///     bool ready();                // optional: true = result available now, no wait
///     void start(cohort::completion& c);  // begin; later call c.complete() once
///     bool cancel() noexcept;      // asked to stop: true = stopped now, c.complete()
///                                  //   will never be called; false = it will be
///     bool must_resume();          // after a cancel request: true = the operation
///                                  //   completed anyway and its result must be
///                                  //   delivered (G8); false = cancel the task
///     R result();                  // the value of `co_await op` (may throw)
///     const char* name() const;    // optional: what it waits for, for dumps
///
/// `c.complete()` may be called from `start()` itself or later, but always on
/// the loop's thread; it only queues the task to resume, so it never re-enters
/// user code. Operations are move-only values awaited as rvalues.
///
///     auto permit = co_await sem.acquire();   // sem.acquire() is an operation
///     co_await cohort::sleep_for(10ms);       // so is this

#include <cohort/detail/cancel_node.hpp>
#include <cohort/detail/promise.hpp>
#include <cohort/detail/runnable.hpp>
#include <cohort/scheduler.hpp>

#include <concepts>
#include <coroutine>
#include <cstdint>
#include <string>
#include <utility>

namespace cohort {

/// How an operation reports that it finished: see the file comment.
class completion : private detail::waiter, private detail::runnable {
 public:
  /// The operation has its result (or its cancellation has taken effect).
  /// Queues the awaiting task; call once, on the loop thread.
  void complete() noexcept {
    state_ = state::completed;
    node_->sched().post(*this);
  }
  /// The loop this operation runs on (its clock and timers).
  scheduler& sched() const noexcept { return node_->sched(); }

  completion(const completion&) = delete;
  completion& operator=(const completion&) = delete;

 protected:
  enum class state : std::uint8_t { idle, waiting, completed, cancelled };

  explicit completion(detail::promise_base& task) noexcept : task_(&task) { run_ = &run_task; }
  ~completion() = default;

  virtual bool op_cancel() noexcept = 0;
  virtual bool op_must_resume() noexcept = 0;
  virtual const char* op_name() const noexcept = 0;

  bool scope_cancelled() const noexcept { return task_->node().cancelled(); }

  /// Called by await_suspend. Returns true if the operation should start;
  /// false if the scope is already cancelled (the task will unwind).
  bool begin() noexcept {
    node_ = &task_->node();
    if (node_->cancelled()) {
      cancel_requested_ = true;
      state_ = state::cancelled;
      node_->sched().post(*this);
      return false;
    }
    state_ = state::waiting;
    // The loop's turn time, not the clock: stamping a wait costs one load.
    since_ms_ = node_->sched().turn_ms();
    node_->add_waiter(*this);
    return true;
  }
  /// Called if start() threw: the task resumes with the exception.
  void abandon() noexcept {
    waiter::unlink();
    state_ = state::idle;
  }

 private:
  void request_cancel() noexcept final {
    if (cancel_requested_) return;
    cancel_requested_ = true;
    // A completed operation keeps its place in the ready queue; run_task()
    // asks it whether its result must still be delivered.
    if (state_ == state::waiting && op_cancel()) {
      state_ = state::cancelled;
      waiter::unlink();
      node_->sched().post(*this);
    }
  }

  void describe(std::string& out, time_point now) const final {
    task_->describe_chain(out);
    detail::describe_wait(out, since_ms_, now, node_->sched().turn_time() != time_point{});
    out += op_name();
    if (cancel_requested_) out += " (cancel requested)";
  }

  static void run_task(detail::runnable* r) noexcept {
    auto* self = static_cast<completion*>(r);
    self->waiter::unlink();
    if (self->state_ == state::cancelled || (self->cancel_requested_ && !self->op_must_resume())) {
      detail::unwind(self->task_);  // destroys *self: touch nothing after
      return;
    }
    self->task_->handle().resume();
  }

  detail::promise_base* task_;
  detail::cancel_node* node_ = nullptr;
  state state_ = state::idle;
  bool cancel_requested_ = false;
  std::uint32_t since_ms_ = 0;  // when the wait began (scheduler::turn_ms())
};

/// A cancellable operation: see the file comment.
template <class Op>
concept operation = std::move_constructible<Op> && requires(Op& op, completion& c) {
  op.start(c);
  requires noexcept(op.cancel());
  requires std::same_as<decltype(op.cancel()), bool>;
  { op.must_resume() } -> std::same_as<bool>;
  op.result();
};

namespace detail {

template <class Op>
concept has_ready = requires(Op& op) {
  { op.ready() } -> std::same_as<bool>;
};
template <class Op>
concept has_name = requires(const Op& op) {
  { op.name() } -> std::convertible_to<const char*>;
};

template <operation Op>
class leaf_awaiter final : public completion {
 public:
  leaf_awaiter(Op&& op, promise_base& task) noexcept(std::is_nothrow_move_constructible_v<Op>)
      : completion(task), op_(std::move(op)) {}

  bool await_ready() {
    if constexpr (has_ready<Op>) {
      if (!scope_cancelled()) return op_.ready();
    }
    return false;
  }
  void await_suspend(std::coroutine_handle<>) {
    if (!begin()) return;
    try {
      op_.start(*this);
    } catch (...) {
      abandon();
      throw;
    }
  }
  decltype(auto) await_resume() { return op_.result(); }

 private:
  bool op_cancel() noexcept override { return op_.cancel(); }
  bool op_must_resume() noexcept override { return op_.must_resume(); }
  const char* op_name() const noexcept override {
    if constexpr (has_name<Op>) {
      return op_.name();
    } else {
      return "an operation";
    }
  }

  Op op_;
};

}  // namespace detail
}  // namespace cohort
