#pragma once
/// \file
/// `cohort::runner_journal`: what `run_tasks` needs of a journal to resume.

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

namespace cohort {

/// What `task_runner` / `run_tasks` needs of a journal: look up a key's
/// earlier outcome, record finished tasks, and commit them.
///
/// `cohort::journal` (the durable SQLite journal, `journal.hpp`) implements
/// it, so a run resumes by pointing `runner_options::journal` at one; tests
/// may use an in-memory implementation. The runner calls it from the loop's
/// thread only, synchronously (it never suspends on the journal):
///
/// - `is_done` / `is_failed` once per admitted item, before it becomes a task:
///   a done key is skipped, a failed one too unless `rerun_failed`;
/// - `record_done` / `record_failed` when a task finishes (never for a task
///   that was cancelled or never started: those stay pending for resume);
/// - `maybe_flush` after every finished task, and `flush` as the run ends,
///   however it ends (completed, halted, cancelled), before `run()` returns.
///
/// Errors: a `record_*` or `maybe_flush` that throws (a full disk, say) ends
/// the run with that error, like a failing task would end a fail-fast group;
/// the records stay buffered in the journal for the final `flush`, whose own
/// error is swallowed (the journal reports it; see `journal::~journal`).
///
///     cohort::journal j("run.db", {{"command", "fetch {}"}});   // throws if not resumable
///     cohort::runner_options o;
///     o.journal = &j;                                             // skips keys done before
///     co_await cohort::run_tasks(urls, 64, o);
class runner_journal {
 public:
  using time_point = std::chrono::steady_clock::time_point;

  /// Whether `key` finished successfully in this or an earlier run.
  virtual bool is_done(std::string_view key) const noexcept = 0;
  /// Whether `key`'s latest outcome is a failure.
  virtual bool is_failed(std::string_view key) const noexcept = 0;
  /// Records that `key` finished after `attempts` attempts.
  virtual void record_done(std::string_view key, int attempts) = 0;
  /// Records that `key` failed after `attempts` attempts; `errors` holds
  /// every attempt's error, oldest first.
  virtual void record_failed(std::string_view key, int attempts,
                             std::vector<std::string> errors) = 0;
  /// Commits buffered records if the batch is due; returns whether it did.
  virtual bool maybe_flush(time_point now) = 0;
  /// Commits every buffered record.
  virtual void flush() = 0;

 protected:
  ~runner_journal() = default;
};

}  // namespace cohort
