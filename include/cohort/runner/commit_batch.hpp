#pragma once
/// \file
/// `cohort::commit_batch`: when a file of resumable state commits what it
/// has buffered: by count, by size, or by time on the caller's clock.

#include <chrono>
#include <cstddef>
#include <limits>
#include <optional>

namespace cohort {

/// When `commit_batch` says a batch is due.
struct batch_limits {
  /// Full at this many changes (0 counts as 1) ...
  std::size_t changes = 512;
  /// ... or at this many bytes.
  std::size_t bytes = std::numeric_limits<std::size_t>::max();
  /// Due by time once this has passed, as `interval_from` says.
  std::chrono::steady_clock::duration interval = std::chrono::milliseconds(250);
  /// Where the interval is counted from.
  enum class start {
    /// The first `due()` call that sees the batch: each change waits at most
    /// about `interval`, and an idle file is never committed (the journal).
    first_sight,
    /// The first `due()` call, then every `interval` from there, whether or
    /// not anything changed: at most one timed commit per interval (the tile
    /// stores).
    periodic,
  };
  start interval_from = start::first_sight;
};

/// Counts the changes buffered since the last commit and says when to commit
/// them. It commits nothing itself: the owner commits when `add` or `due`
/// says so, then calls `committed()`; after a failed commit it does not, and
/// the batch stays due. Time comes from the caller (a loop's clock or a
/// test's), so tests run on virtual time.
///
///     cohort::commit_batch batch({.changes = 512, .interval = 250ms});
///     if (batch.add()) commit();          // full
///     if (batch.due(loop.now())) commit(); // waited long enough
class commit_batch {
 public:
  using time_point = std::chrono::steady_clock::time_point;

  explicit commit_batch(batch_limits limits = {}) noexcept : limits_(limits) {
    if (limits_.changes == 0) limits_.changes = 1;
  }

  /// Counts one change of `bytes` bytes; returns whether the batch is full.
  bool add(std::size_t bytes = 0) noexcept {
    ++changes_;
    bytes_ += bytes;
    return changes_ >= limits_.changes || bytes_ >= limits_.bytes;
  }

  /// Whether the batch holds changes and its interval has passed at `now`.
  bool due(time_point now) noexcept;

  /// The owner committed the batch: the counts start again (and, counting
  /// from first sight, the clock).
  void committed() noexcept;

  /// Changes buffered since the last commit.
  std::size_t changes() const noexcept { return changes_; }
  bool empty() const noexcept { return changes_ == 0; }
  const batch_limits& limits() const noexcept { return limits_; }

 private:
  batch_limits limits_;
  std::size_t changes_ = 0;
  std::size_t bytes_ = 0;
  std::optional<time_point> since_;
};

}  // namespace cohort
