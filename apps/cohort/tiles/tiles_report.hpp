#pragma once

/// \file
/// What `cohort tiles` says when it ends: the summary line on stderr, the
/// `--json` object on stdout, the list of failed tiles, and the exit status.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace cohort::app::tiles {

/// How a run ended, for the summary and the exit status.
struct tiles_report {
  std::uint64_t total = 0;            ///< tiles in the area
  std::uint64_t stored = 0;           ///< stored in this run
  std::uint64_t skipped = 0;          ///< already there (stored or known missing) before this run
  std::uint64_t skipped_missing = 0;  ///< of `skipped`: known missing (404) from earlier runs
  std::uint64_t unchanged = 0;        ///< --refresh: 304 Not Modified
  std::uint64_t failed = 0;           ///< failed in this run (on the failed list)
  std::uint64_t missing = 0;          ///< 404s: in this run, plus known from earlier runs
  std::uint64_t not_started = 0;      ///< interrupted: tiles never requested
  std::uint64_t bytes = 0;            ///< bytes of the tiles stored in this run
  std::uint64_t handled = 0;          ///< tiles requested to the end in this run (for tiles/s)
  double elapsed_s = 0;
  /// "complete", "failed" (some tiles failed, or missing with --strict),
  /// "interrupted", "stopped" (the output cannot be written or the server
  /// cannot be reached: the run stopped early, exit 1).
  std::string outcome = "complete";
  std::string output;
  /// The output's failed list at the end (failed in this run, or in an
  /// earlier one and not tried again yet): its size, and the `failed_tiles`
  /// JSON array of its first entries (failed_tiles_json()).
  std::uint64_t failed_tiles_total = 0;
  std::string failed_tiles = "[]";
  /// --failed-list's path ("" when not asked for).
  std::string failed_list;

  /// Tiles per second over the tiles handled in this run.
  double tiles_per_s() const;
};

/// "1000 tiles: 985 stored, 12 skipped, 2 missing, 3 failed in 12.3 s
/// (81.2 tiles/s, 1.3 MB/s) into city.mbtiles": zero counts other than
/// stored are left out. Each tile is counted once, so the counts add up to
/// the total: a tile known missing from an earlier run is among the missing,
/// not the skipped (--json's `skipped` counts it in both).
std::string summary_line(const tiles_report& r);

/// The one-line JSON object of `--json` (keys: total, stored, skipped,
/// unchanged, failed, missing, not_started, bytes, elapsed_s, tiles_per_s,
/// outcome, output, failed_tiles, failed_tiles_total, failed_list: the path
/// or null), newline-terminated.
std::string summary_json(const tiles_report& r);

/// `text` as a JSON string literal, quotes included.
std::string json_quoted(std::string_view text);

/// The exit status: 130/143 when interrupted by that signal (`signal` is
/// SIGINT or SIGTERM, 0 if none), 1 when tiles failed or (with `strict`)
/// are missing, else 0.
int tiles_exit_code(const tiles_report& r, int signal, bool strict);

/// The outcome word for `r` (see tiles_report::outcome).
std::string tiles_outcome(const tiles_report& r, int signal, bool strict);

}  // namespace cohort::app::tiles
