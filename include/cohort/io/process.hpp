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
///     // 3. The raw operations: `co_await p.wait()` (the leader's exit) and
///     //    `co_await p.wait_group()` (the whole group gone, the output
///     //    complete); cancel = stop waiting only.
///
/// A job is its whole process group: its output is read until every process
/// of the group is gone, and `supervise` delivers the termination sequence to
/// what the leader leaves behind, so a job's cleanup is never cut off by a
/// closed pipe and nothing of it outlives the supervision.

#include <cohort/io/term_sequence.hpp>
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
  /// `process_options::in_fd`, a descriptor of the caller's (a file, a pipe,
  /// a memfd): the child reads from it, sharing its file offset; the caller
  /// keeps it and closes it when it likes (the child holds its own copy).
  descriptor,
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
  /// With `stdin_mode::descriptor`: the descriptor the child's standard
  /// input is a copy of (dup2). `cohort run --pipe` gives each job its chunk
  /// this way.
  int in_fd = -1;
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

/// A running (or finished) child process, leader of its own process group.
///
/// Move-only. Use it from the loop's thread, and destroy it before its
/// io_context. Its output is read only while a wait is in progress (`wait()`,
/// `wait_group()`, `supervise`, `terminate`): between waits a chatty child
/// simply blocks on its full pipe. The pipes stay open until the whole group
/// is gone (`group_exited()`), so a process that outlives the leader can
/// still write. The destructor never leaves a process behind: unless the
/// group is gone, it sends SIGKILL to the group and reaps the child, blocking
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

  /// Waits for the child (the group's leader) to exit and reaps it: a
  /// cancellable operation whose value is the exit status. Captured output
  /// is read meanwhile, and what the leader left in the pipes when it exited.
  /// The pipes are closed only if the group is then empty; else they stay
  /// open for the processes left in it (read them with `wait_group()`).
  /// Cancelling it only stops the waiting: the process keeps running and a
  /// later wait continues where this one stopped. One wait at a time.
  [[nodiscard]] wait_op wait() noexcept;

  /// Waits until the leader has exited and been reaped and no process is
  /// left in its group: a cancellable operation whose value is the leader's
  /// exit status. Captured output is read all along; once the group is gone,
  /// everything its processes wrote is in the pipes: it is read and the
  /// pipes are closed (a process that left the group with `setsid` and
  /// still holds them then gets EPIPE: it is not waited for). No descriptor
  /// can await a group: after the leader's exit it is polled, every 1 ms
  /// doubling to 20 ms. A zombie is still a member: see `adopt_orphans()`.
  /// Cancelling it only stops the waiting, as for `wait()`.
  ///
  ///     co_await p.wait_group();   // `sh -c 'slow & echo started'`: slow's output too
  [[nodiscard]] wait_op wait_group() noexcept;

  /// True once `wait_group()` (or `terminate`, `supervise`) found the
  /// leader reaped and its group empty: the captured output is complete and
  /// the pipes are closed.
  bool group_exited() const noexcept;

  /// Sends `sig` to every process of the child's group (`kill(-pgid, sig)`).
  /// Returns false if the group is empty. After the leader is reaped its
  /// pgid stays reserved only while other members live, so this is safe.
  bool signal_group(int sig) noexcept;
  /// True while any process of the group exists (zombies included).
  bool group_alive() const noexcept;
  /// Synchronously: SIGKILL to the group, reap the leader (blocking up to a
  /// second), close the pipes, SIGKILL to the group again for the
  /// stragglers and reap those this process adopted (`adopt_orphans`).
  /// Idempotent; does nothing once the group has exited.
  void kill_and_reap() noexcept;
  /// Reads what the pipes hold now (through the output callbacks, if any)
  /// and closes them: whatever is written later is lost (the writer gets
  /// EPIPE). `terminate` calls it after its last SIGKILL.
  void close_output();

 private:
  explicit process(std::unique_ptr<detail::process_state> s) noexcept;
  std::unique_ptr<detail::process_state> s_;
};

/// The operation returned by `process::wait()`.
class process::wait_op {
 public:
  wait_op(detail::process_state& s, bool whole_group) noexcept : s_(&s), group_(whole_group) {}
  bool ready() const noexcept;
  void start(completion& c);
  bool cancel() noexcept;
  bool must_resume() const noexcept;
  exit_status result();
  const char* name() const noexcept { return group_ ? "process group exit" : "process exit"; }

 private:
  detail::process_state* s_;
  bool group_;
};

/// Makes the calling process the reaper of its descendants' orphans
/// (`prctl(PR_SET_CHILD_SUBREAPER)`), process-wide and for the rest of its
/// life. A process whose parent exits is then reparented to this process
/// instead of PID 1 (or an outer subreaper), and the group waits
/// (`wait_group`, `terminate`, `supervise`) reap the dead ones of the group
/// they watch. Without it, a dead orphan is a zombie until PID 1 reaps it,
/// and a zombie still counts as a member of its group: where PID 1 does not
/// reap (some containers), every group wait then lasts until the end of its
/// termination sequence. Call it once, before spawning, in a program that
/// runs jobs (`cohort run` does). Orphans that left their job's group
/// (`setsid`) are adopted too and, when they die, stay zombies of this
/// process until it exits. Returns false if the kernel refused.
///
///     cohort::adopt_orphans();   // then spawn jobs
bool adopt_orphans() noexcept;

/// Sends the termination sequence to `p`'s process group until the group is
/// gone, reading its output all along; a task.
///
/// Nothing is sent to a group already gone. Each step signals the whole
/// group, then waits up to its delay, ending early when the leader has
/// exited and been reaped and no process is left in the group (see
/// `wait_group()`). So a process that outlives the leader gets the rest of
/// the sequence, with the pipes still open for its cleanup to write to.
/// After the last step: if the leader still runs, SIGKILL to the group and
/// wait for its exit (a KILLed process cannot refuse); if the group still has
/// members, one more SIGKILL to the group; then the pipes are read and
/// closed (`close_output()`). Zombies count as members: unless this process
/// adopts orphans (`adopt_orphans()`) or PID 1 reaps them promptly, a
/// sequence after which a dead grandchild is left runs its full length.
///
/// Cancellation: if this task is unwound (escalation, or a grace period
/// ending), it calls `p.kill_and_reap()` on the way out: KILL now, reaped.
///
///     co_await cohort::terminate(p);   // e.g. what is left after p.wait()
[[nodiscard]] task<> terminate(process& p, term_sequence seq = default_term_sequence());

/// Waits for `p` to exit, then makes sure nothing of its group is left: a
/// task whose value is the leader's exit status.
///
/// When the wait ends — the leader exited, or the wait was cancelled (a
/// timeout, a signal, a failing sibling) — `terminate(p, seq)` runs
/// shielded, as a `cohort::finally` cleanup whose grace is the sequence's
/// total delay plus one second: it returns at once if the group is gone,
/// else it delivers the sequence to every process left in it, reading their
/// output, until the group is gone. So when `supervise` returns or unwinds,
/// the leader is reaped, its group is empty and the output complete
/// (`p.status()` tells how the leader ended). A background process the
/// leader left behind when it exited normally gets the sequence as well:
/// the job is over when its command is. An escalation (hard cancel) during
/// the sequence KILLs the group at once and reaps the leader synchronously.
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
