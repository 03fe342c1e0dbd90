#pragma once
/// \file
/// `cohort::sync_wait` and `cohort::basic_loop`: run tasks without any I/O
/// library.

#include <cohort/detail/cancel_node.hpp>
#include <cohort/detail/root.hpp>
#include <cohort/detail/timer_heap.hpp>
#include <cohort/scheduler.hpp>
#include <cohort/task.hpp>

#include <string>

namespace cohort {

/// A single-threaded loop with timers and no I/O, on the steady clock or on
/// virtual time.
///
/// The loop runs in turns. A turn first fires every timer that is due, then
/// runs the work that was ready at that moment (work posted meanwhile waits
/// for the next turn). So a deadline is honoured within one turn, at the
/// next wait of the tasks it cancels, however much other work is ready: a
/// loop of `checkpoint()`s under `move_on_after` ends at its deadline.
///
/// On the steady clock the loop reads the clock once a turn while a timer is
/// armed, and sleeps until the next deadline when no work is ready. On
/// virtual time the clock stands still while work is ready and jumps to the
/// next deadline when none is, so a test of a 30-second timeout runs in
/// microseconds and never depends on the machine's speed. Virtual time
/// cannot stand still for ever, though, or a deadline around work that never
/// stops being ready would never come: after `busy_turn_limit` turns in a
/// row with work ready, it jumps to the next deadline as if that work had
/// taken that long. `run` throws `std::logic_error` if the task waits for
/// something that nothing can ever wake (no ready work, no timer).
///
///     cohort::basic_loop loop;
///     int v = loop.run(compute());
class basic_loop : public scheduler {
 public:
  enum class time_source { steady, virtual_time };

  explicit basic_loop(time_source source = time_source::steady) noexcept;
  basic_loop(const basic_loop&) = delete;
  basic_loop& operator=(const basic_loop&) = delete;
  ~basic_loop();

  void post(detail::runnable& r) noexcept override { ready_.push(r); }
  time_point now() const noexcept override;
  void add_timer(detail::timer_entry& t) override { timers_.insert(t); }
  void remove_timer(detail::timer_entry& t) noexcept override { timers_.remove(t); }

  /// Runs `t` as the top-level task until it ends. Returns its value,
  /// rethrows its exception, or throws `cancelled_error` if it was
  /// cancelled. Work posted as the task ended still runs before returning.
  ///
  /// If the loop itself throws (a deadlock), the task tree is torn down
  /// before the exception leaves: the root is cancelled hard (shields
  /// pierced) and unwound like any cancellation, so every task's
  /// destructors run, children before their owners, and no timer or ready
  /// entry of the dead run stays in the loop, which can run again.
  template <class T>
  T run(task<T> t) {
    detail::cancel_node root(*this);
    detail::root_task<T> r(std::move(t), root);
    root_guard guard(*this, root);
    set_turn_time(now());
    r.start();
    try {
      while (!r.done()) step();
    } catch (...) {
      tear_down(r, root);
      throw;
    }
    drain();
    return r.result();
  }

  /// Cancels the running task's root scope, as a signal would (`hard`
  /// pierces shields, as escalation does).
  void cancel_root(cancel_reason reason, bool hard = false);

  /// The live task tree, as SIGQUIT prints it (`runtime::dump()`): every
  /// scope, its waits and how long each has waited; "(no task running)"
  /// outside run().
  std::string dump() const;

  /// Runnables executed so far.
  std::size_t steps() const noexcept { return steps_; }

  /// On virtual time, how many turns in a row may run with work ready
  /// before the clock moves to the next deadline anyway.
  static constexpr std::size_t busy_turn_limit = 65536;

 private:
  struct root_guard {
    root_guard(basic_loop& l, detail::cancel_node& n) noexcept : loop(l) { loop.root_ = &n; }
    ~root_guard() { loop.root_ = nullptr; }
    basic_loop& loop;
  };
  void step();
  void fire_due_timers();
  void wait_for_timer();
  void drain() noexcept;
  template <class T>
  void tear_down(detail::root_task<T>& r, detail::cancel_node& root) noexcept {
    root.cancel(cancel_reason::requested, detail::cancel_level::hard);
    while (!r.done()) {
      try {
        step();
      } catch (...) {
        break;  // an operation that neither completes nor cancels: give up
      }
    }
    drain();
  }

  detail::run_queue ready_;  // the next turn's work
  detail::timer_heap timers_;
  detail::cancel_node* root_ = nullptr;
  time_point virtual_now_;
  std::size_t steps_ = 0;
  std::size_t busy_turns_ = 0;  // turns since the loop last had nothing ready
  time_source source_;
};

/// Runs `t` to completion on a fresh `basic_loop` (steady clock) and returns
/// its value; see `basic_loop::run`.
///
///     int main() { return cohort::sync_wait(app_main()); }
template <class T>
T sync_wait(task<T> t) {
  basic_loop loop;
  return loop.run(std::move(t));
}

}  // namespace cohort
