#include <cohort/detail/cancel_node.hpp>

namespace cohort::detail {

void cancel_node::attach(cancel_node& parent, bool shield) noexcept {
  parent_ = &parent;
  sched_ = parent.sched_;
  shield_ = shield;
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
  apply(reason, level);
}

cancel_reason cancel_node::reason() const noexcept {
  if (own_ != cancel_reason::none) return own_;
  return level_ == cancel_level::none ? cancel_reason::none : cancel_reason::parent;
}

void cancel_node::apply(cancel_reason origin, cancel_level level) noexcept {
  if (level_ >= level) return;  // double cancel: nothing new to do
  if (level_ == cancel_level::none) origin_ = origin;
  level_ = level;
  // Waiters may unlink themselves (and only themselves) while we walk.
  waiters_.for_each([](waiter& w) { w.request_cancel(); });
  children_.for_each([&](cancel_node& child) {
    if (child.shield_ && level != cancel_level::hard) return;
    child.apply(origin, level);
  });
}

}  // namespace cohort::detail
