#pragma once
/// \file
/// `cohort::process`: a child process in its own process group, awaited on
/// the loop, terminated by a signal sequence when its wait is cancelled.
///
/// Linux only (posix_spawn + pidfd_open, kernel 5.3 or later). Three levels:
///
///     // 1. Everything in one call: spawn, wait, collect; on cancel, the
///     //    termination sequence is sent to the job's process group.
///     auto r = co_await cohort::run_process(io, {.argv = cohort::shell_argv("make -j4"),
///                                                .out = cohort::output_mode::capture});
///
///     // 2. The caller keeps the process, so its status survives a timeout:
///     auto p = cohort::process::spawn(io, options);
///     co_await cohort::move_on_after(10s, cohort::supervise(p));
///     log(p.status(), p.runtime());
///
///     // 3. The raw operation: `co_await p.wait()` (cancel = stop waiting only).

#include <cohort/operation.hpp>
#include <cohort/scheduler.hpp>
#include <cohort/task.hpp>

#include <boost/asio/io_context.hpp>

#include <sys/types.h>

#include <chrono>
#include <csignal>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cohort {

namespace detail {
class process_state;
}

/// Where a child's standard input comes from.
enum class stdin_mode {
  null,     ///< /dev/null (the default: a job never steals the terminal's input)
  inherit,  ///< the parent's standard input
};

/// Where a child's standard output or standard error goes.
enum class output_mode {
  inherit,  ///< the parent's descriptor
  capture,  ///< a pipe read on the loop while the process is awaited
  discard,  ///< /dev/null
  merge,    ///< stderr only: the same destination as stdout (one pipe when captured)
};

/// What to run and how: argv, environment additions, directory, stdio.
///
///     cohort::process_options o{.argv = cohort::shell_argv("echo $SEQ"),
///                               .env = {{"SEQ", "1"}},
///                               .out = cohort::output_mode::capture};
struct process_options {
  /// The program and its arguments. `argv[0]` without a '/' is looked up in
  /// the parent's PATH (posix_spawnp). Use `shell_argv(cmd)` for a shell line.
  std::vector<std::string> argv{};
  /// Variables set in the child on top of the parent's environment (a name
  /// already there is replaced).
  std::vector<std::pair<std::string, std::string>> env{};
  /// The child's working directory; empty: the parent's.
  std::string cwd{};
  stdin_mode in = stdin_mode::null;
  output_mode out = output_mode::inherit;
  output_mode err = output_mode::inherit;
  /// With `capture`: if set, each chunk is handed to this function (on the
  /// loop's thread, as it arrives) instead of being kept by the process. It
  /// may not await; if it throws, the wait in progress ends with that
  /// exception (the process keeps running; `supervise` then terminates it).
  std::function<void(std::string_view)> on_stdout{};
  std::function<void(std::string_view)> on_stderr{};
};

/// `{"/bin/sh", "-c", command}`: run `command` with the POSIX shell.
std::vector<std::string> shell_argv(std::string command);

/// How a process ended: its exit code, or the signal that killed it.
struct exit_status {
  int code = -1;   ///< the exit code (0-255) if it exited, else -1
  int signal = 0;  ///< the terminating signal if it was killed, else 0
  bool core_dumped = false;

  bool exited() const noexcept { return signal == 0; }
  bool success() const noexcept { return signal == 0 && code == 0; }
  /// The shell's `$?`: the exit code, or 128 + the signal.
  int shell_code() const noexcept { return signal != 0 ? 128 + signal : code; }
  friend bool operator==(const exit_status&, const exit_status&) = default;
};

/// One step of a termination sequence: send `signal`, then wait up to `wait`.
struct term_step {
  int signal;
  duration wait;
};

/// A termination sequence (GNU parallel's `--term-seq`).
using term_sequence = std::vector<term_step>;

/// `TERM,200,TERM,100,TERM,50,KILL,25`, GNU parallel's default.
term_sequence default_term_sequence();

/// Parses GNU parallel's `--term-seq` syntax: `SIGNAL,MS,SIGNAL,MS...`, where
/// a signal is a name (`TERM`, `SIGTERM`) or a number, and a trailing signal
/// without a delay waits 0 ms. Throws `std::invalid_argument` naming the bad
/// element.
///
///     auto seq = cohort::parse_term_sequence("INT,500,KILL,25");
term_sequence parse_term_sequence(std::string_view text);

/// A running (or finished) child process, leader of its own process group.
///
/// Move-only. Use it from the loop's thread, and destroy it before its
/// io_context. Its output is read only while a wait is in progress (`wait()`,
/// `supervise`, `terminate`): between waits a chatty child simply blocks on
/// its full pipe. The destructor never leaves a process behind: if the child
/// was not reaped, it sends SIGKILL to the group and reaps the child, blocking
/// the thread (for at most a second) — use `supervise` to terminate politely.
class process {
 public:
  class wait_op;

  /// Starts a process: posix_spawnp with POSIX_SPAWN_SETPGROUP (its own
  /// group, pgid = pid), every signal reset to its default action and an
  /// empty signal mask (the parent's runtime may ignore or block SIGINT), and
  /// a pidfd to await its exit. Throws `std::system_error` naming the command
  /// if it cannot start (ENOENT for a missing executable; a missing command
  /// run through `/bin/sh -c` is the shell's exit code 127 instead).
  ///
  ///     auto p = cohort::process::spawn(io, {.argv = {"sleep", "1"}});
  static process spawn(boost::asio::io_context& io, const process_options& options);

  process(process&& other) noexcept;
  process& operator=(process&& other) noexcept;
  ~process();

  /// The child's pid, which is also its process group id.
  pid_t pid() const noexcept;
  /// True once the child has exited and been reaped.
  bool exited() const noexcept;
  /// The exit status, once exited.
  std::optional<exit_status> status() const noexcept;
  /// Wall-clock time of the spawn (a joblog's Starttime).
  std::chrono::system_clock::time_point start_time() const noexcept;
  /// From spawn to reaping (so far, while it runs).
  duration runtime() const noexcept;
  /// Output captured so far (empty unless `capture` without a callback).
  const std::string& stdout_text() const noexcept;
  const std::string& stderr_text() const noexcept;
  std::string take_stdout() noexcept;
  std::string take_stderr() noexcept;

  /// Waits for the child to exit and reaps it: a cancellable operation whose
  /// value is the exit status. Captured output is read meanwhile; when the
  /// child has exited, what it left in the pipes is read and the pipes are
  /// closed (a grandchild still holding them does not delay the wait).
  /// Cancelling it only stops the waiting: the process keeps running and a
  /// later wait continues where this one stopped. One wait at a time.
  [[nodiscard]] wait_op wait() noexcept;

  /// Sends `sig` to every process of the child's group (`kill(-pgid, sig)`).
  /// Returns false if the group is empty. After the leader is reaped its
  /// pgid stays reserved only while other members live, so this is safe.
  bool signal_group(int sig) noexcept;
  /// True while any process of the group exists (zombies included).
  bool group_alive() const noexcept;
  /// Synchronously: SIGKILL to the group, reap the leader (blocking up to a
  /// second), SIGKILL to the group again for the stragglers. Idempotent.
  void kill_and_reap() noexcept;

 private:
  explicit process(std::unique_ptr<detail::process_state> s) noexcept;
  std::unique_ptr<detail::process_state> s_;
};

/// The operation returned by `process::wait()`.
class process::wait_op {
 public:
  explicit wait_op(detail::process_state& s) noexcept : s_(&s) {}
  bool ready() const noexcept;
  void start(completion& c);
  bool cancel() noexcept;
  bool must_resume() const noexcept;
  exit_status result();
  const char* name() const noexcept { return "process exit"; }

 private:
  detail::process_state* s_;
};

/// Sends the termination sequence to `p`'s process group and waits until the
/// group is gone; a task.
///
/// Each step signals the whole group, then waits up to its delay, ending
/// early when the leader has exited and been reaped and `kill(-pgid, 0)`
/// finds no process left (polled every 5 ms once the leader is gone). So a
/// grandchild that outlives the leader gets the rest of the sequence too.
/// After the last step: if the leader still runs, SIGKILL to the group and
/// wait for its exit (a KILLed process cannot refuse); if the group still has
/// members, one more SIGKILL to the group. Zombies count as members: where
/// the reaper of orphans is slow (a container whose PID 1 does not reap), the
/// sequence runs its full length and ends with that KILL.
///
/// Cancellation: if this task is unwound (escalation, or a grace period
/// ending), it calls `p.kill_and_reap()` on the way out: KILL now, reaped.
///
///     co_await cohort::terminate(p);   // e.g. for leftovers after p exited
[[nodiscard]] task<> terminate(process& p, term_sequence seq = default_term_sequence());

/// Waits for `p` to exit, and never leaves it behind: a task.
///
/// If the wait is cancelled (a timeout, a signal, a failing sibling), the
/// termination sequence runs shielded, as a `cohort::finally` cleanup whose
/// grace is the sequence's total delay plus one second, and the process is
/// reaped before the cancellation goes on; `p.status()` then tells how it
/// ended. An escalation (hard cancel) during the sequence KILLs the group at
/// once and reaps the leader synchronously. A process that exited normally
/// is left as it is, background processes of its group included (call
/// `terminate` for those).
///
///     co_await cohort::fail_after(30s, cohort::supervise(p));   // timeout: TERM ...
[[nodiscard]] task<exit_status> supervise(process& p, term_sequence seq = default_term_sequence());

/// What `run_process` returns.
struct process_result {
  pid_t pid = 0;
  exit_status status;
  std::chrono::system_clock::time_point start_time;
  duration runtime{};
  std::string out;  ///< captured stdout (with stderr if merged)
  std::string err;  ///< captured stderr
};

/// Spawns a process, supervises it and returns how it ended with its
/// captured output: a task. Throws `std::system_error` if it cannot start.
/// In a scope already cancelled it spawns nothing. On cancellation the
/// termination sequence runs (see `supervise`) and the task unwinds; keep a
/// `process` and use `supervise` to see its status then.
///
///     auto r = co_await cohort::run_process(io, {.argv = {"ls"}, .out =
///     cohort::output_mode::capture});
[[nodiscard]] task<process_result> run_process(boost::asio::io_context& io, process_options options,
                                               term_sequence seq = default_term_sequence());

}  // namespace cohort
