#include <cohort/cancel_scope.hpp>

namespace cohort {

void cancel_scope::cancel(cancel_reason reason) noexcept {
  if (active_) {
    node_.cancel(reason);
  } else if (pending_ == cancel_reason::none && !node_.cancel_called()) {
    pending_ = reason;
  }
}

void cancel_scope::set_deadline(time_point deadline) noexcept {
  deadline_ = deadline;
  timeout_.reset();
  if (active_) arm();
}

void cancel_scope::set_timeout(duration timeout) noexcept {
  if (active_) {
    set_deadline(deadline_after(node_.sched().now(), timeout));
  } else {
    timeout_ = timeout;
  }
}

void cancel_scope::activate(detail::cancel_node& parent, bool shield) noexcept {
  assert(!used_ && "a cancel_scope runs one body, once");
  used_ = true;
  active_ = true;
  node_.attach(parent, shield);
  if (pending_ != cancel_reason::none) {
    node_.cancel(pending_);
    pending_ = cancel_reason::none;
  }
  if (timeout_) {
    deadline_ = deadline_after(node_.sched().now(), *timeout_);
    timeout_.reset();
  }
  arm();
}

void cancel_scope::arm() noexcept {
  disarm();
  if (deadline_ == time_point::max() || node_.cancelled()) return;
  if (deadline_ <= node_.sched().now()) {
    node_.cancel(cancel_reason::deadline);
    return;
  }
  timer_.deadline_ = deadline_;
  node_.sched().add_timer(timer_);
}

}  // namespace cohort
