#pragma once
// A node of the cancellation tree. Every cancel scope, task group, shield and
// the root of a run owns one; every suspended cancellable operation is
// registered as a waiter on the node its task runs in.
//
// Cancellation is level-triggered: a node's level is set once and never
// lowered, it is copied eagerly into every descendant (so checking it is one
// load), and a node created under a cancelled parent starts cancelled. Soft
// cancellation stops at shields; hard cancellation (escalation) does not.
//
// cancel() never resumes or destroys a task: it asks each waiter's operation
// to cancel, and operations that agree post their task's unwinding to the
// loop. So cancel() can be called from anywhere on the loop thread, including
// from inside another task, without re-entrancy.

#include <cohort/cancel_reason.hpp>
#include <cohort/detail/intrusive_list.hpp>
#include <cohort/scheduler.hpp>

#include <cassert>
#include <cstdint>
#include <string>

namespace cohort::detail {

struct node_tag;
struct waiter_tag;

/// A suspended operation that can be asked to cancel.
class waiter : public list_hook<waiter_tag> {
 public:
  virtual void request_cancel() noexcept = 0;
  /// Appends what is waiting on what and for how long (at `now`), for the
  /// task tree dump.
  virtual void describe(std::string& out, time_point now) const = 0;

 protected:
  ~waiter() = default;
};

/// Appends " waiting 2.3 s on " (the time from `since_ms`, a
/// `scheduler::turn_ms()`, to `now`), or just " waiting on " if the loop
/// keeps no turn time (`known` false).
void describe_wait(std::string& out, std::uint32_t since_ms, time_point now, bool known);

enum class cancel_level : std::uint8_t { none = 0, soft = 1, hard = 2 };

/// What owns a node, for the task tree dump.
enum class node_kind : std::uint8_t { root, scope, group, shield, cleanup };

class cancel_node : public list_hook<node_tag> {
 public:
  /// A root node of a loop.
  explicit cancel_node(scheduler& s) noexcept : sched_(&s) {}
  /// A detached node; attach() before use.
  cancel_node() noexcept = default;
  cancel_node(const cancel_node&) = delete;
  cancel_node& operator=(const cancel_node&) = delete;
  ~cancel_node() { assert(waiters_.empty()); }

  /// Links this node under `parent`, inheriting its cancellation.
  void attach(cancel_node& parent, bool shield) noexcept;
  void detach() noexcept { list_hook<node_tag>::unlink(); }

  /// Cancels this node and every descendant (soft: not below shields).
  /// The first reason sticks; a later hard cancel still raises the level.
  void cancel(cancel_reason reason, cancel_level level = cancel_level::soft) noexcept;

  bool cancelled() const noexcept { return level_ != cancel_level::none; }
  cancel_level level() const noexcept { return level_; }
  /// The node's own cancel() reason if it has one, else `parent` if an
  /// ancestor cancelled it, else `none`.
  cancel_reason reason() const noexcept;
  /// The reason of the node where the cancellation started.
  cancel_reason origin_reason() const noexcept { return origin_; }
  bool cancel_called() const noexcept { return own_ != cancel_reason::none; }
  bool is_shield() const noexcept { return shield_; }
  cancel_node* parent() const noexcept { return parent_; }
  /// The first child node and the next sibling (null if none), for walks.
  const cancel_node* first_child() const noexcept { return children_.first(); }
  const cancel_node* next_sibling() const noexcept {
    return parent_ != nullptr ? parent_->children_.next(*this) : nullptr;
  }
  /// True if the parent's cancellation reaches this node.
  bool parent_cancels() const noexcept {
    return parent_ != nullptr &&
           parent_->level_ >= (shield_ ? cancel_level::hard : cancel_level::soft);
  }

  scheduler& sched() const noexcept { return *sched_; }

  /// When the grace of the innermost cleanup (finally) this node is in runs
  /// out, `time_point::max()` outside any cleanup. Inherited by attach()
  /// except through a shield (which the grace's soft cancel cannot reach), so
  /// a cleanup nested in another gets no more time than the outer one has
  /// left, unless a user shield stands between them.
  time_point grace_end() const noexcept { return grace_end_; }
  void set_grace_end(time_point t) noexcept { grace_end_ = t; }

  void add_waiter(waiter& w) noexcept { waiters_.push_back(w); }

  void set_kind(node_kind k) noexcept { kind_ = k; }
  node_kind kind() const noexcept { return kind_; }

  /// Appends a readable tree of this node, its suspended waits (with how
  /// long each has waited) and its descendants, one line each, indented by
  /// depth. Walks the tree in a loop: a tree of any depth can be dumped.
  void dump(std::string& out, int depth = 0) const;
  /// Appends the waits inside cleanup nodes (finally) below this node.
  void dump_cleanups(std::string& out) const;

 private:
  void dump_one(std::string& out, int depth, time_point now) const;
  void apply(cancel_reason origin, cancel_level level) noexcept;
  void raise(cancel_reason origin, cancel_level level) noexcept;
  /// True if a cancel of `level` passing through this node's parent reaches
  /// it and changes it.
  bool reached_by(cancel_level level) const noexcept {
    return level_ < level && (!shield_ || level == cancel_level::hard);
  }

  cancel_node* parent_ = nullptr;
  scheduler* sched_ = nullptr;
  intrusive_list<cancel_node, node_tag> children_;
  intrusive_list<waiter, waiter_tag> waiters_;
  time_point grace_end_ = time_point::max();
  cancel_level level_ = cancel_level::none;
  cancel_reason own_ = cancel_reason::none;
  cancel_reason origin_ = cancel_reason::none;
  bool shield_ = false;
  node_kind kind_ = node_kind::scope;
};

}  // namespace cohort::detail
