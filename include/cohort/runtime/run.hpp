#pragma once
/// \file
/// `cohort::run`: a program's main task on a real event loop, with signals
/// that cancel the whole task tree.

#include <cohort/event.hpp>
#include <cohort/runtime/asio_loop.hpp>
#include <cohort/runtime/blocking.hpp>
#include <cohort/task.hpp>

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <cstdio>
#include <functional>
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
  /// cannot kill the process while it exits with its code.
  bool ignore_signals_after = true;
  /// Where the runtime's own messages go (escalation, dumps, errors).
  std::FILE* messages = stderr;
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
  friend int run(std::function<task<int>(runtime&)>, run_options);
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

/// Runs `main(rt)` on a single-threaded Boost.Asio loop and returns the
/// process exit code.
///
/// Signals: the first SIGINT or SIGTERM cancels the root scope (reason
/// `signal`); tasks unwind and their `finally` cleanups run, shielded, for at
/// most `options.grace`. A second signal, or the grace period running out,
/// escalates: shielded cleanup is cancelled too (the runtime first prints
/// which cleanups were still running and what they waited on) and the run
/// ends promptly. A signal that arrives before `run` returns counts, even
/// one that lands in main's last synchronous step. The exit code is then 130
/// after SIGINT and 143 after SIGTERM, whatever the tasks returned; otherwise
/// it is main's value, or 1 (with the error printed) if main threw anything,
/// a `std::exception` or not. SIGHUP sets
/// `rt.drain_requested()`. SIGQUIT prints the live task tree. With
/// `COHORT_TRACE` set in the environment, every task's lifecycle is logged
/// to stderr.
///
///     int main() {
///       return cohort::run([](cohort::runtime& rt) -> cohort::task<int> {
///         co_await serve(rt);
///         co_return 0;
///       });
///     }
int run(std::function<task<int>(runtime&)> main, run_options options = {});

}  // namespace cohort
