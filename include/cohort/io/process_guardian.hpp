#pragma once
/// \file
/// `cohort::process_guardian`: a small helper process that kills the process
/// groups of a runner's jobs when the runner dies by any means (`kill -9`,
/// the out-of-memory killer, a crash), with no help from the dead runner.
///
/// The runner starts the guardian once, tells it each job's process group
/// when the job is spawned and when it is gone, and tells it "done" when it
/// ends normally, through a pipe whose write end only the runner holds; the
/// kernel closes it when the runner dies, and the guardian, seeing the end
/// of file without "done", sends the termination sequence to every group it
/// knows of and exits. The guardian reads the pipe in batches (every 10 ms
/// at most), so it costs a job an 8-byte write at its start and one at its
/// end, not two wake-ups of another process. `PR_SET_PDEATHSIG` would reach only the direct child,
/// not the rest of its group.
///
///     auto g = cohort::process_guardian::start({"/proc/self/exe", "__process-guardian"});
///     auto p = cohort::process::spawn(io, {.argv = ..., .env = {g.marker()}});
///     auto watched = g.watch(p.pid());   // forgets the group when destroyed
///
/// Linux only (reads /proc).

#include <cohort/io/process.hpp>

#include <sys/types.h>

#include <string>
#include <utility>
#include <vector>

namespace cohort {

/// The runner's side of a guardian process. Move-only (not while a
/// `watch_handle` of it lives: the handle points at it); a
/// default-constructed guardian is inactive and every call on it does
/// nothing. Use it from one thread.
///
/// The guardian process: runs in a process group of its own (a terminal's
/// Ctrl+C to the foreground group never reaches it) and ignores SIGINT,
/// SIGTERM, SIGHUP and SIGQUIT besides; its standard input, output and error
/// are /dev/null and it keeps no other descriptor of the runner (no job's
/// output pipe, no terminal); its working directory is `/`. It never writes
/// anything.
///
/// The window between a job's spawn and its `watch()` (a few microseconds,
/// against about 0.7 ms for the spawn) is closed by `marker()`: every job
/// started with this environment variable can be found by the guardian
/// after the runner's death even if its group was never announced (the
/// guardian scans /proc for it, see `process_guardian_main`).
class process_guardian {
 public:
  class watch_handle;

  /// An inactive guardian.
  process_guardian() noexcept = default;

  /// Starts the guardian process: `command` (argv; argv[0] is a path, e.g.
  /// `/proc/self/exe`) must run `process_guardian_main` with the arguments
  /// this call appends. On the runner's death the guardian sends `seq` to
  /// every group it knows of (each step to all the groups at once, ending
  /// early when they are all gone; a last SIGKILL to any left).
  /// Throws `std::system_error` if the process cannot start.
  ///
  ///     auto g = cohort::process_guardian::start({"/proc/self/exe", "__process-guardian"});
  static process_guardian start(std::vector<std::string> command,
                                const term_sequence& seq = default_term_sequence());

  process_guardian(process_guardian&& other) noexcept;
  process_guardian& operator=(process_guardian&& other) noexcept;
  /// `close()`.
  ~process_guardian();

  /// True if started and not closed.
  bool active() const noexcept { return fd_ >= 0; }
  /// The guardian's pid (-1 if inactive).
  pid_t pid() const noexcept { return pid_; }

  /// `{name, value}` of the environment variable to give every job (see the
  /// class comment); `{}` (empty name) if inactive.
  std::pair<std::string, std::string> marker() const;

  /// Tells the guardian about the process group `pgid` (a job just spawned
  /// as its leader); the returned handle tells it to forget the group when
  /// destroyed, which must happen once the group is gone (so it never
  /// signals a reused pgid). Destroy the handle after the `process`.
  /// Never throws: if the guardian cannot be told (it was killed), the
  /// guardian is deactivated and the job runs unguarded.
  [[nodiscard]] watch_handle watch(pid_t pgid) noexcept;

  /// The runner ends normally: tells the guardian so (it exits without
  /// signalling anything), closes the pipe and reaps the guardian (a few
  /// milliseconds; at most a second for a stopped one).
  void close() noexcept;

 private:
  void send(int op, pid_t pgid) noexcept;
  void drop() noexcept;

  int fd_ = -1;       // the pipe's write end
  int read_fd_ = -1;  // a copy of its read end: no SIGPIPE if the guardian dies
  pid_t pid_ = -1;
  std::string token_;
};

/// Forgets its process group on destruction (see `process_guardian::watch`).
class process_guardian::watch_handle {
 public:
  watch_handle() noexcept = default;
  watch_handle(process_guardian* g, pid_t pgid) noexcept : g_(g), pgid_(pgid) {}
  watch_handle(watch_handle&& o) noexcept
      : g_(std::exchange(o.g_, nullptr)), pgid_(std::exchange(o.pgid_, -1)) {}
  watch_handle& operator=(watch_handle&& o) noexcept;
  ~watch_handle() { reset(); }
  /// Forgets the group now.
  void reset() noexcept;

 private:
  process_guardian* g_ = nullptr;
  pid_t pgid_ = -1;
};

/// The guardian process's main function: call it from the program that
/// `process_guardian::start` runs, with the arguments after the subcommand
/// (`argv[0]` is the subcommand itself). Returns the exit status: 0 after a
/// normal end of the runner or after the termination sequence, 2 for bad
/// arguments.
///
/// On the runner's death (end of file without "done"): the groups announced
/// and not forgotten, plus the process group of every process in the
/// runner's session whose environment holds the marker (a job spawned in
/// the instant the runner died, before it was announced), except the
/// runner's and the guardian's own groups, get the termination sequence.
/// A job that left the session (`setsid`, a daemon) is left alone, as the
/// runner itself leaves it alone at the end of a job.
///
///     if (argv[1] == "__process-guardian"sv) return cohort::process_guardian_main(argc - 1, argv +
///     1);
int process_guardian_main(int argc, char** argv);

}  // namespace cohort
