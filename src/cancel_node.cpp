#include <cohort/detail/cancel_node.hpp>
#include <cohort/detail/trace.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>

namespace cohort::detail {

void cancel_node::attach(cancel_node& parent, bool shield) noexcept {
  parent_ = &parent;
  sched_ = parent.sched_;
  shield_ = shield;
  // A shield is out of reach of an enclosing grace's (soft) cancel, and so is
  // everything in it, a nested cleanup included: it does not inherit the
  // grace's end. (A cleanup's own node is a shield too; finally sets its
  // grace_end from its parent's.)
  grace_end_ = shield ? time_point::max() : parent.grace_end_;
  parent.children_.push_back(*this);
  const cancel_level inherited =
      (parent.level_ == cancel_level::hard || (!shield && parent.level_ == cancel_level::soft))
          ? parent.level_
          : cancel_level::none;
  if (inherited > level_) {
    level_ = inherited;
    if (origin_ == cancel_reason::none) origin_ = parent.origin_;
  }
}

void cancel_node::cancel(cancel_reason reason, cancel_level level) noexcept {
  if (own_ == cancel_reason::none) own_ = reason;
  if (level_ < level) trace(trace_kind::cancel_requested, nullptr, this, reason);
  apply(reason, level);
}

namespace {
const char* kind_name(node_kind k) {
  switch (k) {
    case node_kind::root: return "root";
    case node_kind::scope: return "scope";
    case node_kind::group: return "task group";
    case node_kind::shield: return "shield";
    case node_kind::cleanup: return "cleanup";
  }
  return "?";
}
}  // namespace

namespace {
// Deeper levels are not indented further but prefixed with their depth:
// a tree nested thousands deep would otherwise print gigabytes of spaces.
constexpr int max_indent_depth = 32;

void indent(std::string& out, int depth) {
  out.append(static_cast<std::size_t>(std::min(depth, max_indent_depth)) * 2, ' ');
  if (depth > max_indent_depth) {
    out += "(depth ";
    out += std::to_string(depth);
    out += ") ";
  }
}

// The node after `n` in a pre-order walk of the subtree of `top`, or null at
// its end; `depth` follows the walk.
const cancel_node* next_in_preorder(const cancel_node* n, const cancel_node* top, int& depth,
                                    bool descend) {
  if (descend) {
    if (const cancel_node* c = n->first_child()) {
      ++depth;
      return c;
    }
  }
  for (; n != top; n = n->parent(), --depth) {
    if (const cancel_node* s = n->next_sibling()) return s;
  }
  return nullptr;
}
}  // namespace

void describe_wait(std::string& out, std::uint32_t since_ms, time_point now, bool known) {
  if (!known) {
    out += " waiting on ";
    return;
  }
  const auto now_ms = static_cast<std::uint32_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count());
  const std::uint32_t waited_ms = now_ms - since_ms;  // modulo 2^32, as the stamps
  char buf[32];
  const double s = static_cast<double>(waited_ms) / 1000.0;
  std::snprintf(buf, sizeof buf, " waiting %.1f s on ", s);
  out += buf;
}

void cancel_node::dump_one(std::string& out, int depth, time_point now) const {
  indent(out, depth);
  out += kind_name(kind_);
  if (level_ != cancel_level::none) {
    out += " [cancelled: ";
    out += to_string(reason());
    if (reason() == cancel_reason::parent) {
      out += ", origin ";
      out += to_string(origin_);
    }
    if (level_ == cancel_level::hard) out += ", escalated";
    out += "]";
  }
  out += "\n";
  waiters_.for_each([&](const waiter& w) {
    indent(out, depth + 1);
    w.describe(out, now);
    out += "\n";
  });
}

// Walks in a loop rather than by recursion: scopes and groups can be nested
// tens of thousands deep. The clock is read here, once, not when waits begin.
void cancel_node::dump(std::string& out, int depth) const {
  const time_point now = sched_ != nullptr ? sched_->now() : time_point{};
  int d = depth;
  for (const cancel_node* n = this; n != nullptr; n = next_in_preorder(n, this, d, true)) {
    n->dump_one(out, d, now);
  }
}

void cancel_node::dump_cleanups(std::string& out) const {
  int d = 0;
  for (const cancel_node* n = this; n != nullptr;) {
    const bool cleanup = n->kind_ == node_kind::cleanup;
    if (cleanup) n->dump(out, 1);  // the cleanup with all it holds: skip past it
    n = next_in_preorder(n, this, d, !cleanup);
  }
}

cancel_reason cancel_node::reason() const noexcept {
  if (own_ != cancel_reason::none) return own_;
  return level_ == cancel_level::none ? cancel_reason::none : cancel_reason::parent;
}

// A pre-order walk of the subtree, in a loop rather than by recursion: scopes
// and groups can be nested tens of thousands deep.
void cancel_node::apply(cancel_reason origin, cancel_level level) noexcept {
  if (level_ >= level) return;  // double cancel: nothing new to do
  auto first_reached = [level](cancel_node* n) {
    while (n != nullptr && !n->reached_by(level)) n = n->parent_->children_.next(*n);
    return n;
  };
  cancel_node* n = this;
  for (;;) {
    n->raise(origin, level);
    cancel_node* next = first_reached(n->children_.first());
    while (next == nullptr && n != this) {
      next = first_reached(n->parent_->children_.next(*n));
      if (next == nullptr) n = n->parent_;
    }
    if (next == nullptr) return;
    n = next;
  }
}

void cancel_node::raise(cancel_reason origin, cancel_level level) noexcept {
  if (level_ == cancel_level::none) origin_ = origin;
  level_ = level;
  // Waiters may unlink themselves (and only themselves) while we walk.
  waiters_.for_each([](waiter& w) { w.request_cancel(); });
}

}  // namespace cohort::detail
