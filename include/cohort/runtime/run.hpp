#pragma once
/// \file
/// `cohort::run`: a program's main task on a real event loop, with signals
/// that cancel the whole task tree.

#include <cohort/event.hpp>
#include <cohort/runtime/asio_loop.hpp>
#include <cohort/runtime/blocking.hpp>
#include <cohort/task.hpp>

#include <boost/asio/io_context.hpp>

#include <signal.h>

#include <chrono>
#include <cstdio>
#include <functional>
#include <initializer_list>
#include <string>

namespace cohort {

/// How `cohort::run` treats signals.
struct run_options {
  /// After the first SIGINT/SIGTERM, how long running tasks may take to
  /// unwind and clean up before the runtime escalates.
  duration grace = std::chrono::seconds(5);
  /// After escalation, how long until the runtime gives up waiting (for a
  /// blocking call or an operation that ignores cancellation), prints what is
  /// still running and exits anyway.
  duration escalation_limit = std::chrono::seconds(2);
  /// SIGHUP: stop admitting new work and let running work finish
  /// (`runtime::drain_requested`). When false, SIGHUP is left alone.
  bool sighup_drains = true;
  /// SIGQUIT prints the live task tree to stderr without disturbing the run.
  bool sigquit_dumps = true;
  /// Threads of the blocking pool.
  std::size_t blocking_threads = 2;
  /// After run() returns, SIGINT and SIGTERM are ignored, so a late signal
  /// cannot kill the process while it writes its summary and flushes its
  /// state; `exit_like` puts their default back to end the process by the
  /// run's signal. When false, their default action applies again at once.
  bool ignore_signals_after = true;
  /// Where the runtime's own messages go (escalation, dumps, errors).
  std::FILE* messages = stderr;
};

/// How a run of `cohort::run_with_outcome` ended.
struct run_outcome {
  /// The exit code: main's value, 1 if main threw, 128 + `signal` if a
  /// signal interrupted the run.
  int code = 0;
  /// The SIGINT or SIGTERM that interrupted the run (the first one), or 0.
  int signal = 0;
  bool interrupted() const noexcept { return signal != 0; }
};

/// What the main task of `cohort::run` can see of the runtime.
class runtime {
 public:
  /// The io_context, for Asio I/O objects.
  boost::asio::io_context& io() noexcept { return io_; }
  asio_loop& loop() noexcept { return loop_; }
  /// Worker threads for blocking calls.
  blocking_pool& blocking() noexcept { return pool_; }
  /// The first terminating signal received (SIGINT or SIGTERM), or 0.
  int signal() const noexcept { return signal_; }
  bool interrupted() const noexcept { return signal_ != 0; }
  /// When that signal arrived (steady clock).
  time_point signal_time() const noexcept { return signal_time_; }
  /// True once the runtime escalated (second signal or grace expired).
  bool escalated() const noexcept { return escalated_; }
  /// Set by SIGHUP: stop starting new work, let running work finish.
  event& drain_requested() noexcept { return drain_; }
  /// The task tree as SIGQUIT prints it.
  std::string dump() const;

 private:
  friend run_outcome run_with_outcome(const std::function<task<int>(runtime&)>&, run_options);
  runtime(const run_options& options);
  boost::asio::io_context io_;
  asio_loop loop_;
  blocking_pool pool_;
  event drain_;
  run_options options_;
  int signal_ = 0;
  time_point signal_time_{};
  bool escalated_ = false;
};

/// Runs `main(rt)` on a single-threaded Boost.Asio loop and says how the
/// run ended: the exit code and the signal that interrupted it, if any.
///
/// Signals: the first SIGINT or SIGTERM cancels the root scope (reason
/// `signal`); tasks unwind and their `finally` cleanups run, shielded, for at
/// most `options.grace`. A second signal, or the grace period running out,
/// escalates: shielded cleanup is cancelled too (the runtime first prints
/// which cleanups were still running and what they waited on) and the run
/// ends promptly. A signal that arrives before `run_with_outcome` returns
/// counts, even one that lands in main's last synchronous step. The outcome
/// is then `{128 + signal, signal}`, whatever the tasks returned; otherwise
/// the code is main's value, or 1 (with the error printed) if main threw.
/// SIGHUP sets `rt.drain_requested()`. SIGQUIT prints the live task tree.
/// With `COHORT_TRACE` set in the environment, every task's lifecycle is
/// logged to stderr.
///
/// If the tasks are still running `options.escalation_limit` after
/// escalating (a blocking call, an operation that ignores cancellation), the
/// runtime prints the task tree and ends the process at once by the signal.
///
/// End the program with `exit_like(outcome)` once its state is written, so
/// that an interrupted run ends by its signal (see `exit_like`):
///
///     int main() {
///       const cohort::run_outcome r = cohort::run_with_outcome(serve_main);
///       print_summary();
///       return cohort::exit_like(r);
///     }
run_outcome run_with_outcome(const std::function<task<int>(runtime&)>& main,
                             run_options options = {});

/// `run_with_outcome(main, options).code`: the exit code alone (130 after
/// SIGINT, 143 after SIGTERM), for programs that do not end by the signal.
/// Prefer `run_with_outcome` and `exit_like` in a program's `main`: a shell
/// stops the script around a program only if that program died by SIGINT.
///
///     int main() {
///       return cohort::run([](cohort::runtime& rt) -> cohort::task<int> {
///         co_await serve(rt);
///         co_return 0;
///       });
///     }
int run(const std::function<task<int>(runtime&)>& main, run_options options = {});

/// Holds signals in the calling thread (blocks them) until `release()` or
/// destruction: a signal that arrives meanwhile stays pending, neither fatal
/// nor lost, and is delivered to the handlers in place when the hold ends.
/// A program holds SIGINT, SIGTERM and SIGHUP while it starts up, so that a
/// Ctrl+C before `cohort::run` listens is handled like any other once it
/// does; `run_with_outcome` holds them while it reads its last signal.
///
///     cohort::held_signals held;  // SIGINT, SIGTERM, SIGHUP
///     auto config = load_config();
///     return cohort::run([&](cohort::runtime&) -> cohort::task<int> {
///       held.release();  // the runtime's handlers are in place now
///       co_return co_await serve(config);
///     });
class held_signals {
 public:
  /// Blocks `signals` in this thread (SIGINT, SIGTERM and SIGHUP by default).
  explicit held_signals(std::initializer_list<int> signals = {SIGINT, SIGTERM, SIGHUP}) noexcept;
  held_signals(const held_signals&) = delete;
  held_signals& operator=(const held_signals&) = delete;
  ~held_signals() { release(); }
  /// Restores the previous signal mask; what arrived meanwhile is delivered
  /// now. Idempotent.
  void release() noexcept;

 private:
  sigset_t old_{};
  bool active_ = false;
};

/// Ends the process the way a Unix program ends after `outcome`: returns
/// `outcome.code` for `main` to return when no signal interrupted the run;
/// otherwise flushes the C streams, puts the signal's default action back,
/// unblocks it and raises it, so the process dies *by* SIGINT or SIGTERM, as
/// `sleep` or Python would. Call it last, once every file is written and
/// closed: dying by a signal runs no destructor and no `atexit` handler.
///
/// Why: a shell that is interrupted while it waits for a foreground child
/// stops its script only if the child died by SIGINT (bash's
/// wait-and-cooperative-exit rule); a child that *exits* 130 is taken to
/// have handled the Ctrl+C as input, and the script goes on. The shell still
/// shows `$?` = 130 (143 for SIGTERM). Returns `128 + signal` only where the
/// signal cannot kill the process (PID 1 of a container ignores it).
///
///     const cohort::run_outcome r = cohort::run_with_outcome(app);
///     std::fprintf(stderr, "%s\n", r.interrupted() ? "interrupted" : "done");
///     return cohort::exit_like(r);
[[nodiscard]] int exit_like(const run_outcome& outcome);

}  // namespace cohort
