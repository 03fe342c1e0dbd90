#pragma once
/// \file
/// `cohort::journal`: the durable record of a run's finished tasks, for resume.

#include <cohort/runner/fingerprint.hpp>
#include <cohort/runner/runner_journal.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cohort {

/// The error every journal operation reports: a one-line message that names
/// the file, the problem and what to do, plus a kind the tools can map to an
/// exit status.
class journal_error : public std::runtime_error {
 public:
  enum class kind {
    io,             ///< cannot open, read or write the file (permissions, disk full, ...)
    in_use,         ///< another process has the journal open
    corrupt,        ///< not a database, or a damaged one
    not_a_journal,  ///< a valid SQLite database that is not a Cohort journal
    newer_version,  ///< written by a newer Cohort in a format this one cannot read
    different_run,  ///< the fingerprint differs and `force` was not given
  };

  journal_error(kind k, const std::string& message) : std::runtime_error(message), kind_(k) {}
  kind error_kind() const noexcept { return kind_; }

 private:
  kind kind_;
};

/// What identifies a run (see `cohort::fingerprint`): its parameters as
/// (name, value) pairs, e.g. `{{"command", "echo {}"}}`.
using journal_fingerprint = fingerprint;

/// Optional per-task data stored with an outcome, for the tools' own use.
struct journal_meta {
  // (Default initializers let `{42}` leave `text` out without a -Wextra warning.)
  std::optional<std::int64_t> value = std::nullopt;  ///< e.g. the bytes a download wrote
  std::optional<std::string> text = std::nullopt;    ///< e.g. an output path or a content hash
  friend bool operator==(const journal_meta&, const journal_meta&) = default;
};

/// A recorded outcome. Only finished tasks are recorded: a task that never
/// started or was cancelled while running has no record and stays pending.
enum class journal_state { done, failed };

/// Everything the journal holds about one task key.
struct journal_record {
  std::string key;
  journal_state state = journal_state::done;
  int attempts = 1;
  /// The errors of the failed attempts, oldest first (empty for `done`). The
  /// last one is the error the task failed with.
  std::vector<std::string> errors;
  journal_meta meta;
  /// When the outcome was recorded, in milliseconds since the Unix epoch.
  std::int64_t finished_at_ms = 0;
};

/// How `journal` opens its file.
struct journal_options {
  /// When the file belongs to a run with a different fingerprint: false
  /// throws `journal_error` (`different_run`); true clears every recorded
  /// outcome and adopts the new fingerprint (see `journal::reset_note()`).
  /// A journal of the same run is resumed either way.
  bool force = false;
  /// Commit as soon as this many records are buffered.
  std::size_t batch_records = 512;
  /// `maybe_flush(now)` commits buffered records once they have waited this long.
  std::chrono::steady_clock::duration flush_interval = std::chrono::milliseconds(250);
};

/// A run's durable record of finished tasks, kept in an SQLite file (WAL).
///
/// Opening loads the keys of done and failed tasks into memory (about 45
/// bytes each plus the key), so `is_done(key)` costs one hash lookup.
/// Outcomes are buffered and committed in batches, one transaction each:
/// when `batch_records` are buffered, when `maybe_flush(now)` finds them
/// older than `flush_interval`, on `flush()` and `close()`, and (never
/// throwing) in the destructor. A `kill -9` keeps every committed batch and
/// loses only the buffered records, whose tasks run again on resume; the
/// file is never left half-written. A key recorded twice keeps its latest
/// outcome.
///
/// The journal is a plain synchronous object for the loop's thread: it never
/// suspends and is not thread-safe. It holds an exclusive lock on the file
/// while open, so two runs cannot share a journal. Every failure throws
/// `journal_error`; see docs/journal.md for the format.
///
/// It is a `runner_journal`: give it to `run_tasks` (`runner_options::journal`)
/// and a run records its finished tasks and, started again, skips the keys
/// already done and runs the rest (see docs/journal.md, "With run_tasks").
///
///     cohort::journal j("run.db", {{"command", "fetch {}"}});  // throws if not resumable
///     cohort::runner_options o;
///     o.journal = &j;
///     co_await cohort::run_tasks(urls, 64, o);   // flushed before it returns
///
/// or by hand:
///
///     if (!j.is_done("a")) { /* run it */ j.record_done("a"); }
///     j.maybe_flush(loop.now());   // from the loop, now and then
class journal final : public runner_journal {
 public:
  using time_point = runner_journal::time_point;

  /// The file format this build writes (and the newest it reads).
  static constexpr int format_version = 1;

  /// Opens (or creates) the journal at `path` for the run `fingerprint`.
  /// Throws `journal_error` when the file cannot be opened or created, is in
  /// use, corrupt, not a journal, of a newer format, or of a different run
  /// (unless `options.force`), and `std::invalid_argument` for a fingerprint
  /// with an empty or repeated name.
  journal(std::filesystem::path path, const journal_fingerprint& fingerprint,
          journal_options options = {});
  /// Commits what is buffered and closes the file. Never throws: a failure is
  /// reported on stderr (call `close()` first to handle it).
  ~journal();
  /// A moved-from journal may only be destroyed or assigned to.
  journal(journal&&) noexcept;
  /// Closes this journal (as the destructor does), then takes `other`'s.
  journal& operator=(journal&& other) noexcept;
  journal(const journal&) = delete;
  journal& operator=(const journal&) = delete;

  /// Records that `key` finished successfully (after `attempts` attempts).
  /// Takes effect in memory at once; durable once its batch commits. Throws
  /// `journal_error` if this record fills a batch whose commit fails; the
  /// records stay buffered and the next flush tries again.
  void record_done(std::string_view key, int attempts, journal_meta meta);
  void record_done(std::string_view key, int attempts) override { record_done(key, attempts, {}); }
  void record_done(std::string_view key) { record_done(key, 1, {}); }
  /// Records that `key` failed after `attempts` attempts; `errors` holds the
  /// last attempt's error, or every attempt's, oldest first. Throws
  /// `std::invalid_argument` if `attempts < 1` or there are more errors than
  /// attempts, and `journal_error` as `record_done`.
  void record_failed(std::string_view key, int attempts, std::vector<std::string> errors,
                     journal_meta meta);
  void record_failed(std::string_view key, int attempts, std::vector<std::string> errors) override {
    record_failed(key, attempts, std::move(errors), {});
  }

  /// Whether the latest outcome of `key` is done (recorded by this or an earlier run).
  bool is_done(std::string_view key) const noexcept override;
  /// Whether the latest outcome of `key` is failed.
  bool is_failed(std::string_view key) const noexcept override;
  std::size_t done_count() const noexcept;
  std::size_t failed_count() const noexcept;
  /// The keys whose latest outcome is failed, sorted. Scans every key.
  std::vector<std::string> failed_keys() const;
  /// Everything recorded about `key` (including buffered records), or nothing.
  std::optional<journal_record> find(std::string_view key) const;

  /// Commits the buffered records if they have waited `flush_interval` since
  /// the first call to see them, timed on the caller's clock. Returns whether
  /// it committed. Throws `journal_error` as `flush()`.
  bool maybe_flush(time_point now) override;
  /// Commits the buffered records now, in one transaction. On failure throws
  /// `journal_error` and keeps them buffered.
  void flush() override;
  /// Flushes and closes; afterwards the journal may only be destroyed or
  /// assigned to. Throws `journal_error` if the final commit fails (the
  /// journal is then closed anyway and the unsaved tasks run again on resume).
  void close();
  /// Records buffered and not yet committed.
  std::size_t buffered() const noexcept;

  const std::filesystem::path& path() const noexcept;
  /// If `force` cleared a journal of a different run, a one-line note saying
  /// what differed and how many outcomes were dropped (for the tools to show).
  const std::optional<std::string>& reset_note() const noexcept;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace cohort
