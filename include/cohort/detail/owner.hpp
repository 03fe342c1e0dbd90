#pragma once
// The common part of every combinator that owns a task and is awaited by
// another task: it knows its awaiting task and can continue it later from
// the loop, either resuming it or unwinding it.

#include <cohort/detail/promise.hpp>
#include <cohort/detail/runnable.hpp>
#include <cohort/scheduler.hpp>

namespace cohort::detail {

class awaiting_owner : public task_owner, private runnable {
 public:
  awaiting_owner(const awaiting_owner&) = delete;
  awaiting_owner& operator=(const awaiting_owner&) = delete;

 protected:
  awaiting_owner() noexcept { run_ = &run_continue; }
  ~awaiting_owner() = default;

  void bind(promise_base& awaiting) noexcept { parent_ = &awaiting; }
  const promise_base* awaiting_task() const noexcept override { return parent_; }
  promise_base& parent() const noexcept { return *parent_; }

  /// From the loop: resume the awaiting task (or unwind it) soon. Used where
  /// resuming inline could destroy this object while it is still running.
  void post_resume_parent() noexcept { post(false); }
  void post_unwind_parent() noexcept { post(true); }

 private:
  void post(bool unwind_parent) noexcept {
    unwind_parent_ = unwind_parent;
    parent_->node().sched().post(*this);
  }
  static void run_continue(runnable* r) noexcept {
    auto* self = static_cast<awaiting_owner*>(r);
    if (self->unwind_parent_) {
      unwind(self->parent_);
    } else {
      self->parent_->handle().resume();
    }
  }

  promise_base* parent_ = nullptr;
  bool unwind_parent_ = false;
};

}  // namespace cohort::detail
