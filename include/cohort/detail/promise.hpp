#pragma once
// What every Cohort task frame holds, and how a cancelled chain of frames is
// unwound.
//
// A task is awaited either by another task (its parent: the same
// cancellation node, and the parent's frame owns this one through a task<T>
// operand) or by an owner: a task group, cancel scope, shield, finally or the
// root of a run. Owners are where cancellation can stop.
//
// Unwinding: when a suspended operation is cancelled, its task cannot go on.
// unwind() walks up the chain of parents to the outermost task still in the same
// owner and hands it to the owner, which destroys that frame (destroying the
// inner frames first, so every destructor runs innermost first) and then
// either absorbs the cancellation (a scope that caught its own cancel) or
// returns its own awaiting task to unwind next. unwind() only ever runs from a
// runnable on the loop, never from inside a frame that is being destroyed.
//
// Destroying: a frame owns the frame it awaits (through the await_link in
// its task_awaiter), so destroying a suspended chain one frame at a time
// through its owners would recurse once per level and overflow the stack on
// a deep chain. destroy_frames() walks down the awaited_ links to the
// innermost frame and destroys upwards in a loop, taking each frame out of
// its parent's await_link first so that the awaiter leaves it alone (the
// same order the recursion would have, with constant stack).
//
// The cost stays off the path of a task that completes: adopt() sets the
// parent's awaited_ and the child's final_awaiter clears it, two stores to
// the parent's promise, which the transfer in and out touches anyway; the
// awaiter's destructor is the plain "destroy the frame if I still own it"
// of a task<T>, and the transfer back to the parent is the same chain of
// loads as without any of this (child -> parent -> its frame).

#include <cohort/config.hpp>
#include <cohort/detail/cancel_node.hpp>
#include <cohort/detail/frame_cache.hpp>

#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <new>
#include <string>

namespace cohort::detail {

class promise_base;

/// The part of a task_awaiter that destroy_frames() sees: the promise of the
/// awaited task, whose frame the awaiter owns (null once destroy_frames()
/// took it). One pointer: the awaiter, which knows the promise's type, gets
/// the frame from it by arithmetic (from_promise), and adopt() has nothing
/// more to store in it.
struct await_link {
  promise_base* child = nullptr;
};

/// Where a task reports its end when no task awaits it directly.
class task_owner {
 public:
  /// The task finished (value or exception) and is suspended at its final
  /// point. Returns the coroutine to transfer to (noop if none).
  virtual std::coroutine_handle<> on_task_done(promise_base& p) noexcept = 0;
  /// The task (suspended, not finished) was cancelled. The owner destroys its
  /// frame and returns the next task to unwind, or nullptr.
  virtual promise_base* on_task_unwound(promise_base& p) noexcept = 0;
  /// The task awaiting this owner, if any (for describing task chains).
  virtual const promise_base* awaiting_task() const noexcept { return nullptr; }

 protected:
  ~task_owner() = default;
};

struct frame_counters {
  std::size_t allocated = 0;
  std::size_t freed = 0;
  std::size_t last_size = 0;
  std::size_t live() const noexcept { return allocated - freed; }
};

/// Per-thread task frame counters (see COHORT_TRACK_FRAMES).
inline frame_counters& frame_stats() noexcept {
  thread_local frame_counters counters;
  return counters;
}

class promise_base {
 public:
  static void* operator new(std::size_t size) {
    if constexpr (COHORT_TRACK_FRAMES) {
      frame_counters& c = frame_stats();
      ++c.allocated;
      c.last_size = size;
    }
    return allocate_frame(size);
  }
  static void operator delete(void* p, std::size_t size) noexcept {
    if constexpr (COHORT_TRACK_FRAMES) ++frame_stats().freed;
    deallocate_frame(p, size);
  }

  std::suspend_always initial_suspend() noexcept { return {}; }

  struct final_awaiter {
    bool await_ready() noexcept { return false; }
    template <class P>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<P> h) noexcept {
      promise_base& p = h.promise();
      // The tagged up_ read once, not through parent_task()/owner() (see
      // up_ below for the casts).
      if ((p.up_ & owner_bit) == 0) {  // awaited by a task (up_ is set once started)
        // NOLINTNEXTLINE(performance-no-int-to-ptr)
        promise_base* parent = reinterpret_cast<promise_base*>(p.up_);
        parent->awaited_ = nullptr;  // its awaiter destroys this frame, finished
        return parent->self_;
      }
      // NOLINTNEXTLINE(performance-no-int-to-ptr)
      return reinterpret_cast<task_owner*>(p.up_ & ~owner_bit)->on_task_done(p);
    }
    void await_resume() noexcept {}
  };
  final_awaiter final_suspend() noexcept { return {}; }

  void unhandled_exception() noexcept { error_ = std::current_exception(); }

  /// Starts this task as the body of `owner`, in cancellation node `node`.
  std::coroutine_handle<> adopt(task_owner& owner, cancel_node& node) noexcept {
    up_ = reinterpret_cast<std::uintptr_t>(&owner) | owner_bit;
    node_ = &node;
    return self_;
  }
  /// Starts this task as awaited by `parent` through `link` (the parent's
  /// awaiter, which owns this task's frame), in the parent's node.
  std::coroutine_handle<> adopt(await_link& link, promise_base& parent) noexcept {
    up_ = reinterpret_cast<std::uintptr_t>(&parent);
    node_ = parent.node_;
    parent.awaited_ = &link;  // link.child is this promise already
    return self_;
  }

  cancel_node& node() const noexcept { return *node_; }
  /// The task's name for traces and dumps (null if unnamed), and its number.
  const char* name() const noexcept { return name_; }
  std::uint64_t name_id() const noexcept { return name_id_; }
  void set_name(const char* name, std::uint64_t id) noexcept {
    name_ = name;
    name_id_ = id;
  }
  /// The awaiting task, if this task is awaited by another task.
  const promise_base* awaiting_task() const noexcept { return parent_task(); }
  /// Appends "name#id <- parent <- ..." (the await chain, innermost first).
  void describe_chain(std::string& out) const;
  std::coroutine_handle<> handle() const noexcept { return self_; }
  bool failed() const noexcept { return error_ != nullptr; }
  const std::exception_ptr& error() const noexcept { return error_; }

 protected:
  friend void unwind(promise_base* p) noexcept;
  friend void destroy_frames(promise_base& top) noexcept;
  friend void destroy_chain(promise_base& top) noexcept;
  std::coroutine_handle<> self_;
  // up_ is a tagged pointer (see below): the casts back to a pointer are
  // what one word instead of two costs.
  promise_base* parent_task() const noexcept {
    // NOLINTNEXTLINE(performance-no-int-to-ptr)
    return (up_ & owner_bit) != 0 ? nullptr : reinterpret_cast<promise_base*>(up_);
  }
  task_owner* owner() const noexcept {
    // NOLINTNEXTLINE(performance-no-int-to-ptr)
    return (up_ & owner_bit) != 0 ? reinterpret_cast<task_owner*>(up_ & ~owner_bit) : nullptr;
  }
  // The awaiting task, or the owner tagged with owner_bit: a task has one or
  // the other, and one word instead of two keeps small frames small.
  static constexpr std::uintptr_t owner_bit = 1;
  static_assert(alignof(task_owner) > owner_bit);
  std::uintptr_t up_ = 0;
  await_link* awaited_ = nullptr;  // the task this one awaits, until it finishes
  cancel_node* node_ = nullptr;
  std::exception_ptr error_;
  const char* name_ = nullptr;
  std::uint64_t name_id_ = 0;
};

inline void promise_base::describe_chain(std::string& out) const {
  bool first = true;
  for (const promise_base* p = this; p != nullptr;
       p = p->parent_task() != nullptr
               ? p->parent_task()
               : (p->owner() != nullptr ? p->owner()->awaiting_task() : nullptr)) {
    if (p->name_ == nullptr) continue;
    if (!first) out += " <- ";
    first = false;
    out += p->name_;
    if (p->name_id_ != 0) {
      out += '#';
      out += std::to_string(p->name_id_);
    }
  }
  if (first) out += "(unnamed task)";
}

/// Destroys the frame of `top` and of every task it awaits (at least one),
/// innermost first, in constant stack (see the file comment). Out of line:
/// its loop would cost every coroutine that inlines destroy_frames() a few
/// saved registers on each of its resumes.
[[gnu::noinline]] inline void destroy_chain(promise_base& top) noexcept {
  promise_base* p = &top;
  while (p->awaited_ != nullptr) p = p->awaited_->child;
  while (p != &top) {
    promise_base* up = p->parent_task();
    up->awaited_->child = nullptr;  // up's awaiter now leaves p alone
    up->awaited_ = nullptr;
    p->self_.destroy();
    p = up;
  }
  top.self_.destroy();
}

/// Destroys the frame of `top` and of every task it awaits, innermost first,
/// in constant stack. A task that awaits no task (finished, unstarted, or
/// suspended in anything but a task) is one frame.
inline void destroy_frames(promise_base& top) noexcept {
  if (top.awaited_ != nullptr) [[unlikely]] {
    destroy_chain(top);
    return;
  }
  top.self_.destroy();
}

/// Unwinds the cancelled task `p` and everything the cancellation reaches.
/// Call only from a runnable on the loop.
inline void unwind(promise_base* p) noexcept {
  while (p != nullptr) {
    while (promise_base* parent = p->parent_task()) p = parent;
    p = p->owner()->on_task_unwound(*p);
  }
}

}  // namespace cohort::detail
