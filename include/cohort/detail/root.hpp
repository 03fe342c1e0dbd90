#pragma once
// The owner of a loop's top-level task: records how it ended.

#include <cohort/detail/cancel_node.hpp>
#include <cohort/detail/promise.hpp>
#include <cohort/task.hpp>

#include <stdexcept>

namespace cohort {

/// Thrown by a loop's `run(task)` when the top-level task was cancelled
/// rather than finishing.
class cancelled_error : public std::runtime_error {
 public:
  explicit cancelled_error(cancel_reason reason)
      : std::runtime_error("cohort: task cancelled (" + std::string(to_string(reason)) + ")"),
        reason_(reason) {}
  cancel_reason reason() const noexcept { return reason_; }

 private:
  cancel_reason reason_;
};

namespace detail {

enum class root_state { pending, finished, cancelled };

template <class T>
class root_task final : public task_owner {
 public:
  root_task(task<T> t, cancel_node& root) noexcept : task_(std::move(t)), root_(&root) {}
  root_task(const root_task&) = delete;

  /// Runs the task until its first wait. Call from the loop.
  void start() noexcept {
    root_->set_kind(node_kind::root);
    task_.promise().adopt(*this, *root_).resume();
  }
  root_state state() const noexcept { return state_; }
  bool done() const noexcept { return state_ != root_state::pending; }
  /// The task's value; rethrows its exception; throws cancelled_error if it
  /// was cancelled.
  T result() {
    if (state_ == root_state::cancelled) throw cancelled_error(root_->origin_reason());
    return task_.promise().result();
  }

 private:
  std::coroutine_handle<> on_task_done(promise_base&) noexcept override {
    state_ = root_state::finished;
    return std::noop_coroutine();
  }
  promise_base* on_task_unwound(promise_base&) noexcept override {
    state_ = root_state::cancelled;
    task_.reset();
    return nullptr;
  }

  task<T> task_;
  cancel_node* root_;
  root_state state_ = root_state::pending;
};

}  // namespace detail
}  // namespace cohort
