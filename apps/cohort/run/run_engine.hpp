#pragma once
// The engine of `cohort run`: turns inputs into jobs for the runner, has
// each run by a command_launcher, prints their output (job_printer) and
// writes GNU parallel's job log.

#include "cohort/common/progress_bar.hpp"
#include "cohort/run/command_launcher.hpp"
#include "cohort/run/command_template.hpp"
#include "cohort/run/inputs.hpp"
#include "cohort/run/job_output.hpp"
#include "cohort/run/joblog.hpp"
#include "cohort/run/pipe_chunks.hpp"
#include "cohort/run/results_dir.hpp"
#include "cohort/run/run_cli.hpp"
#include "cohort/run/run_exit_code.hpp"

#include <cohort/cancel_scope.hpp>
#include <cohort/runner/run_tasks.hpp>
#include <cohort/semaphore.hpp>
#include <cohort/task.hpp>

#include <cstdint>
#include <cstdio>
#include <exception>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace cohort::app::run {

class run_engine;

/// One job: its sequence number and arguments, and what its last attempt
/// left (how it ended, its output). `run()` makes an attempt's task; the
/// runner hands the outcome back with `ended()`.
class job_item {
 public:
  job_item(run_engine& e, job_input&& in) noexcept
      : engine_(&e), seq_(in.seq), args_(std::move(in.args)) {}
  task<> run();
  void ended(const item_result& r);

 private:
  friend class run_engine;
  // The command of an attempt in job slot `slot`, expanded once (once per
  // attempt only if the template uses the slot, {%}).
  const std::string& command(std::size_t slot);

  run_engine* engine_;
  std::uint64_t seq_;
  std::vector<std::string> args_;
  chunk_file chunk_;  // --pipe/--pipepart: the job's standard input
  std::string command_;
  std::string tag_;      // --tag, --tagstring: what each output line starts with (tab included)
  std::string workdir_;  // --wd: the job's working directory, expanded
  bool expanded_ = false;
  std::string label_;                      // the task's name in a SIGQUIT dump: "job 7: <command>"
  launch_result result_;                   // the last attempt
  bool timed_out_ = false;                 // the last attempt was killed by --timeout
  std::string partial_out_, partial_err_;  // --line-buffer: a last line without newline
};

/// The jobs of the inputs, lazily, minus those a --resume skips.
class job_source {
 public:
  explicit job_source(run_engine& e) noexcept : engine_(&e) {}
  std::optional<job_item> next();
  /// The runner's optional wait_ready(): for input from a pipe or terminal,
  /// waits on the loop until a job is at hand or the input ended, so jobs
  /// that finish meanwhile are reaped and printed. A cancellable wait: a
  /// signal, a halt or a drain ends it at once.
  task<> wait_ready();
  bool countable() const;

 private:
  run_engine* engine_;
};

/// Thrown for a job that ran and failed (its exit status is in the log).
class job_failed : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// What the engine works with, besides its options.
struct run_engine_parts {
  command_template tmpl;
  input_generator inputs;
  std::optional<command_template> tag{};  ///< --tagstring
  /// --wd DIR: the jobs' working directory (replacement strings expanded per
  /// job, created if missing, as GNU parallel); "..." a new temporary one
  /// for each job, removed after it (temporary_workdir).
  std::optional<command_template> workdir{};
  bool temporary_workdir = false;  ///< --wd ...: each job in a new directory, removed after it
  /// --pipe/--pipepart: the jobs are the chunks of these, not `inputs`.
  std::optional<pipe_source> chunks{};
  std::optional<resume_filter> resume{};    ///< --resume / --resume-failed
  std::optional<joblog_writer> log{};       ///< --joblog
  std::optional<results_layout> results{};  ///< --results: output saved, not printed
  std::size_t slots = 1;                    ///< jobs at once
  int nice = 0;  ///< --nice: each job's increment (nice_increment), 0: none
  /// --load/--memfree: a job starts only when `machine` (which must then be
  /// set, and outlive the engine) says the machine can take it.
  machine_limits limits{};
  machine_probe* machine = nullptr;
  std::FILE* out = stdout;  ///< where jobs' standard output goes
  std::FILE* err = stderr;  ///< jobs' standard error and warnings
};

/// Runs the jobs of `cohort run`. Each job's outcome comes back to the job
/// itself (job_item::ended): its joblog line (not for a job killed because
/// the run stopped), its output, the last failure's status.
///
///     run_engine engine(options, std::move(parts));
///     co_await engine.run(launcher, rt.drain_requested());
///     run_exit_code(halt, engine.summary(), engine.halted_at(), total);
class run_engine {
 public:
  run_engine(run_cli_options options, run_engine_parts parts);

  /// Runs every job with `launcher`; call once, on a loop (the Asio runtime
  /// when the input may wait). May be unwound by a cancel (a signal; also
  /// while it waits for input): the running jobs are cancelled and not
  /// logged, and the summary stays available. Once `drain` is set (SIGHUP),
  /// no new job starts. `launcher` and `drain` must outlive the run.
  task<> run(command_launcher& launcher, event& drain);
  /// Rethrows the run's own failure, if it had one: an error of its input
  /// (a changed input under --resume, an unreadable file) or of the joblog.
  /// run() keeps it rather than throwing, so that it is reported once, by
  /// the caller, after the jobs' output; the summary is then not counted.
  void rethrow_failure() const;
  /// Prints every pending output (after an interruption).
  void flush_output() { printer_.flush(); }
  /// Closes the --bar/--eta display: erases it and, if `with_summary`,
  /// writes its summary line. Call after the run, before other messages.
  void finish_progress(bool with_summary);
  /// The runner's summary (counts; never-started counted if possible).
  const run_summary& summary() { return runner_.summary(); }
  std::uint64_t resumed_skips() const noexcept { return resume_skipped_; }
  /// The moment the --halt stopped the run, if it did (GNU parallel's exit
  /// status is decided then).
  std::optional<halt_moment> halted_at() {
    note_halt();
    return halted_at_;
  }

 private:
  friend class job_item;
  friend class job_source;
  // A job slot ({%}) held by one attempt: a parameter of the attempt's
  // task, so it is given back with its frame, even if it never started.
  class slot_lease {
   public:
    explicit slot_lease(run_engine& e) : e_(&e), n_(e.take_slot()) {}
    slot_lease(slot_lease&& o) noexcept : e_(std::exchange(o.e_, nullptr)), n_(o.n_) {}
    slot_lease& operator=(slot_lease&&) = delete;
    ~slot_lease() {
      if (e_ != nullptr) e_->give_slot(n_);
    }
    std::size_t number() const noexcept { return n_; }

   private:
    run_engine* e_;
    std::size_t n_;
  };
  task<> run_job(job_item& job, slot_lease slot);
  task<> launch_with_timeout(job_item& job, const launch_request& request);
  // --memfree: kills the youngest running job while memory is critical.
  task<> watch_memory();
  struct running_launch {
    std::uint64_t seq;
    cancel_scope* scope;
    bool evicted = false;
  };
  std::vector<running_launch*> running_;  // launches watch_memory() may kill
  task<> wait_for_delay();
  task<> wait_for_machine();
  launch_request request_for(job_item& job, std::size_t slot);
  void job_ended(job_item& job, task_outcome outcome);
  void save_results(job_item& job, task_outcome outcome);
  // The next job of the inputs, or nothing: at their end (`ended`) or when
  // --resume skips the input read. Blocks the thread if the inputs may_wait().
  std::optional<job_item> pull_job(bool& ended);
  // The job of the input `in` (with its chunk, --pipe), or nothing when
  // --resume skips it.
  std::optional<job_item> admit(job_input& in, chunk_file chunk = {});
  // The next input or chunk, blocking or awaited; false at the end.
  bool next_input(job_input& in, chunk_file& chunk);
  task<bool> next_input_async(job_input& in, chunk_file& chunk);
  bool input_may_wait() const noexcept {
    return parts_.chunks ? parts_.chunks->may_wait() : parts_.inputs.may_wait();
  }
  task<> wait_for_input();
  task<> announce_drain(event& drain);
  void count_event(const task_event& e);
  // -v and -t as the attempt starts (-v: with --line-buffer and -u only).
  void print_command(job_item& job, const launch_request& request);
  void warn_timed_out(std::string_view command);
  std::size_t take_slot();
  void give_slot(std::size_t slot) { free_slots_.insert(slot); }
  duration current_timeout() const;

  run_cli_options options_;
  run_engine_parts parts_;
  command_launcher* launcher_ = nullptr;
  std::set<std::size_t> free_slots_;
  std::size_t next_slot_ = 1;
  std::vector<double> ok_runtimes_;  // for --timeout P%
  std::uint64_t resume_skipped_ = 0;
  std::uint64_t chunk_seq_ = 0;  // --pipe: chunks read so far
  time_point last_start_{};
  bool inputs_ended_ = false;        // the inputs have no more jobs
  std::optional<job_item> pending_;  // pulled by wait_for_input(), for next()
  semaphore input_turn_{1};          // one worker reads the input at a time
  // The jobs failed and finished so far and the last one's status; where
  // they stood when the runner halted (the halt follows the outcome that
  // caused it at once, before any other).
  halt_moment last_outcome_{};
  std::optional<halt_moment> halted_at_;
  void note_halt() {
    if (!halted_at_ && runner_.halted()) halted_at_ = last_outcome_;
  }
  std::exception_ptr failure_;  // the run's own error (see rethrow_failure)
  // --bar/--eta: counts of our own (the runner's have no total for a
  // source without size()), with the total when the input can tell it.
  run_progress bar_counts_;
  std::optional<progress_bar> bar_;
  job_printer printer_;
  task_runner<job_source> runner_;
};

}  // namespace cohort::app::run
