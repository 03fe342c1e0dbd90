#include <cohort/sync_wait.hpp>

#include <stdexcept>
#include <thread>
#include <utility>

namespace cohort {

basic_loop::basic_loop(time_source source) noexcept
    : virtual_now_(std::chrono::hours(1)), source_(source) {}

basic_loop::~basic_loop() = default;

time_point basic_loop::now() const noexcept {
  return source_ == time_source::virtual_time ? virtual_now_ : clock::now();
}

std::string basic_loop::dump() const {
  if (root_ == nullptr) return "(no task running)\n";
  std::string out;
  root_->dump(out);
  return out;
}

void basic_loop::cancel_root(cancel_reason reason, bool hard) {
  if (root_ == nullptr) throw std::logic_error("cohort: no task is running on this loop");
  root_->cancel(reason, hard ? detail::cancel_level::hard : detail::cancel_level::soft);
}

void basic_loop::step() {
  if (ready_.empty()) {
    wait_for_timer();
    return;
  }
  ++busy_turns_;
  // Timers first, so a deadline is never starved by ready work; then the
  // work ready now (including what the timers just woke) is this turn's:
  // what it posts runs in the next turn.
  if (!timers_.empty()) fire_due_timers();
  // On virtual time the turn time changes only where the clock jumps.
  if (source_ == time_source::steady) set_turn_time(clock::now());
  detail::run_queue turn = std::exchange(ready_, {});
  while (detail::runnable* r = turn.pop()) {
    ++steps_;
    r->run_(r);
  }
}

void basic_loop::fire_due_timers() {
  if (source_ == time_source::virtual_time && busy_turns_ >= busy_turn_limit) {
    busy_turns_ = 0;
    const time_point next = timers_.top().deadline_;
    if (next > virtual_now_) virtual_now_ = next;
    set_turn_time(virtual_now_);
  }
  timers_.fire_due(now());
}

// Nothing is ready: wait for (or, on virtual time, jump to) the next deadline.
void basic_loop::wait_for_timer() {
  busy_turns_ = 0;
  if (timers_.empty()) {
    throw std::logic_error("cohort: deadlock: the task waits for something nothing can wake");
  }
  const time_point next = timers_.top().deadline_;
  if (source_ == time_source::virtual_time) {
    if (next > virtual_now_) virtual_now_ = next;
  } else {
    std::this_thread::sleep_until(next);
  }
  set_turn_time(now());
  timers_.fire_due(now());
}

void basic_loop::drain() noexcept {
  while (detail::runnable* r = ready_.pop()) {
    ++steps_;
    r->run_(r);
  }
}

}  // namespace cohort
