#pragma once
// The engine of `cohort run`: turns inputs into jobs for the runner, runs
// each as a supervised process group, prints output (grouped, in order, or
// line by line) and writes GNU parallel's job log.

#include "cohort/common/progress_bar.hpp"
#include "cohort/run/command_template.hpp"
#include "cohort/run/inputs.hpp"
#include "cohort/run/joblog.hpp"
#include "cohort/run/run_cli.hpp"

#include <cohort/io/process_guardian.hpp>
#include <cohort/runner/run_tasks.hpp>
#include <cohort/semaphore.hpp>
#include <cohort/task.hpp>

#include <boost/asio/io_context.hpp>

#include <cstdint>
#include <exception>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace cohort::app::run {

class run_engine;

/// One job: its sequence number and arguments; `run()` makes its task.
struct job_item {
  run_engine* engine;
  std::uint64_t seq;
  std::vector<std::string> args;
  std::string key_;
  std::string label_;  ///< the task's name in a SIGQUIT dump: "job 7: <command>"
  std::string_view key() const noexcept { return key_; }
  task<> run();
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

class run_engine {
 public:
  run_engine(run_cli_options options, command_template tmpl, input_generator inputs,
             std::optional<resume_filter> resume, std::optional<joblog_writer> log,
             std::size_t slots);

  /// Runs every job; call inside cohort::run. May be unwound by a signal
  /// (also while it waits for input): the summary stays available.
  task<> run(boost::asio::io_context& io, event& drain);
  /// Announces every job's process group to `g` (which outlives the run),
  /// so that a kill -9 of this process does not leave the jobs running.
  void guard_with(process_guardian* g) noexcept { guardian_ = g; }
  /// Rethrows the run's own failure, if it had one: an error of its input
  /// (a changed input under --resume, an unreadable file) or of the joblog.
  /// run() keeps it rather than throwing, so that it is reported once, by
  /// the caller, after the jobs' output; the summary is then not counted.
  void rethrow_failure() const;
  /// Prints every pending output (after an interruption).
  void flush_output();
  /// Closes the --bar/--eta display: erases it and, if `with_summary`,
  /// writes its summary line. Call after the run, before other messages.
  void finish_progress(bool with_summary);
  /// The runner's summary (counts; never-started counted if possible).
  const run_summary& summary() { return runner_.summary(); }
  std::uint64_t resumed_skips() const noexcept { return resume_skipped_; }
  /// The exit status of the last job that failed (128 + N if killed by
  /// signal N); for --halt fail=1, whose exit status is that job's (GNU).
  int last_failure_code() const noexcept { return last_failure_code_; }

 private:
  friend struct job_item;
  friend class job_source;
  struct attempt {
    joblog_entry entry;
    std::string out, err;
  };
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
  task<> run_job(std::uint64_t seq, const std::vector<std::string>& args, slot_lease slot,
                 std::string command);
  // The next job of the inputs, or nothing: at their end (`ended`) or when
  // --resume skips the input read. Blocks the thread if the inputs may_wait().
  std::optional<job_item> pull_job(bool& ended);
  // The job of the input `in`, or nothing when --resume skips it.
  std::optional<job_item> admit(job_input& in);
  task<> wait_for_input();
  task<> announce_drain(event& drain);
  void count_event(const task_event& e);
  void clear_progress() {
    if (bar_) bar_->clear();
  }
  void on_event(const task_event& e);
  void warn_timed_out(std::string_view command);
  void emit(std::uint64_t seq, attempt& a);
  void write_output(const std::vector<std::string>& args, const std::string& out,
                    const std::string& err);
  void write_tagged(std::FILE* f, const std::vector<std::string>& args, std::string_view text);
  std::size_t take_slot();
  void give_slot(std::size_t slot) { free_slots_.insert(slot); }
  duration current_timeout() const;

  run_cli_options options_;
  command_template tmpl_;
  input_generator inputs_;
  std::optional<resume_filter> resume_;
  std::optional<joblog_writer> log_;
  boost::asio::io_context* io_ = nullptr;
  std::set<std::size_t> free_slots_;
  std::size_t next_slot_ = 1;
  std::map<std::uint64_t, attempt> attempts_;  // the last attempt of running jobs
  std::map<std::uint64_t, std::vector<std::string>> args_of_;
  // -k: outputs held until every earlier job has printed.
  std::map<std::uint64_t, std::pair<std::string, std::string>> held_;
  std::set<std::uint64_t> settled_;  // seqs with nothing (more) to print
  std::uint64_t next_to_print_ = 1;
  std::vector<double> ok_runtimes_;  // for --timeout P%
  std::uint64_t resume_skipped_ = 0;
  time_point last_start_{};
  process_guardian* guardian_ = nullptr;
  bool inputs_ended_ = false;        // the inputs have no more jobs
  std::optional<job_item> pending_;  // pulled by wait_for_input(), for next()
  semaphore input_turn_{1};          // one worker reads the input at a time
  int last_failure_code_ = 0;
  std::exception_ptr failure_;  // the run's own error (see rethrow_failure)
  // --bar/--eta: counts of our own (the runner's have no total for a
  // source without size()), with the total when the input can tell it.
  run_progress bar_counts_;
  std::optional<progress_bar> bar_;
  task_runner<job_source> runner_;
};

}  // namespace cohort::app::run
