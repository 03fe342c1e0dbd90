#pragma once

/// \file
/// The downloader of `cohort tiles`: the tiles of a tile_set that are not
/// stored yet, fetched through a tile_fetcher at most `--concurrency` at a
/// time by the runner (lazy admission, retries with backoff, Retry-After
/// pauses per host), validated, and put into a tile_store. Each tile's
/// outcome comes back to its own item (tile_item::ended), typed.

#include "cohort/tiles/failure_guard.hpp"
#include "cohort/tiles/host_rate_limiter.hpp"
#include "cohort/tiles/pmtiles_ranges.hpp"
#include "cohort/tiles/tile_fetcher.hpp"
#include "cohort/tiles/tile_math.hpp"
#include "cohort/tiles/tile_store.hpp"
#include "cohort/tiles/tiles_cli.hpp"

#include <cohort/cancel_scope.hpp>
#include <cohort/event.hpp>
#include <cohort/io/http.hpp>
#include <cohort/runner/run_tasks.hpp>
#include <cohort/task.hpp>

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace cohort::app::tiles {

class tile_downloader;

/// A tile that could not be fetched or did not validate (one attempt);
/// the runner retries it, then it is recorded as failed. A refusal that
/// another attempt cannot change (a 403) is a cohort::permanent_error.
class tile_fetch_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// One batch of a download from a PMTiles archive: the range requests
/// holding some tiles of the set that are not stored yet, and some tiles
/// of the set the archive does not have.
struct archive_batch {
  std::vector<range_request> requests;
  std::vector<tile> absent;
};

/// Where a download from an archive gets its batches, one after the other,
/// as the runner needs items (pmtiles_source.hpp's plan_archive reads the
/// archive's directories as it goes), so that memory does not grow with
/// the set.
class archive_batches {
 public:
  virtual ~archive_batches() = default;
  /// Fills `out` (empty) with the next batch through `f`; false at the end.
  /// Throws an error naming the archive when it cannot be read.
  [[nodiscard]] virtual task<bool> next(tile_fetcher& f, const tiles_options& o,
                                        archive_batch& out) = 0;
};

/// What a download from a PMTiles archive fetches (see pmtiles_source.hpp):
/// the archive's URL, a first batch (requests, absent), then what `more`
/// gives, if anything.
struct archive_plan {
  std::string url;
  std::vector<range_request> requests;
  std::vector<tile> absent;
  std::unique_ptr<archive_batches> more = nullptr;
};

/// One tile to fetch, or one byte range of a PMTiles archive holding
/// several: made lazily by tile_source, run by the runner, which hands its
/// outcome back to ended().
struct tile_item {
  tile_downloader* downloader = nullptr;
  tile where;  ///< the tile, or a range's first one
  std::string url_;
  std::string label_;  ///< the task's name in a SIGQUIT dump: "tile z/x/y from host"
  /// Set by the task when the server refused the tile (a 403...): its last
  /// error is that refusal, and there was no other attempt after it.
  bool refused_ = false;
  /// The byte range of the archive this item fetches; null for a tile.
  std::shared_ptr<const range_request> range_ = nullptr;
  /// Requests to one host share its Retry-After pauses.
  std::string_view gate() const noexcept { return url_host(url_); }
  task<> run();
  void ended(const item_result& r);
};

/// The tiles of the set still to fetch, in (z, x, y) order; tiles already
/// stored (or known to be missing) are skipped here, without becoming items.
class tile_source {
 public:
  explicit tile_source(tile_downloader& d);
  std::optional<tile_item> next();
  /// The number of tiles next() yields in all.
  std::size_t size() const noexcept;

 private:
  tile_downloader* d_;
  tile_enumerator tiles_;
};

/// The byte ranges of an archive to fetch, planned a batch at a time as
/// the workers need them (wait_ready), so that they are never all held.
class range_source {
 public:
  explicit range_source(tile_downloader& d) : d_(&d) {}
  std::optional<tile_item> next();
  /// Not known in advance: 0 (tile_summary counts what was not started).
  std::size_t size() const noexcept { return 0; }
  /// Plans the next batches when too few ranges are at hand.
  task<> wait_ready();

 private:
  tile_downloader* d_;
};

/// Counts of one run, beside the runner's (done = stored + unchanged +
/// missing; failed = the tiles put on the failed list in this run).
struct download_counts {
  std::uint64_t total = 0;          ///< tiles in the set
  std::size_t skipped = 0;          ///< already stored or known missing before this run
  std::size_t skipped_missing = 0;  ///< of `skipped`: known missing before this run
  std::size_t stored = 0;           ///< stored (new or changed) in this run
  std::size_t unchanged = 0;        ///< --refresh: the server said 304
  std::size_t missing = 0;          ///< 404 or 204 in this run
  std::uint64_t bytes = 0;          ///< bytes of the tiles stored in this run
  std::size_t failed = 0;           ///< tiles put on the failed list in this run
};

/// Downloads the tiles of `set` into `store` as `options` say.
///
/// Each tile's outcome reaches the downloader typed, with its tile: a
/// failed tile goes on the store's failed list (its last error and the
/// number of attempts) and on failures(); a refused one (a 4xx other than
/// 404, 408, 429) fails at once, not retried. The store's changes are
/// committed in batches after each outcome, and flushed however run() ends.
///
/// Cancellation: run() stops admitting at once; running requests are
/// aborted; a tile is stored whole or not at all. The counts and the
/// runner's summary stay readable afterwards; the caller then closes the
/// store.
///
///   tile_downloader d(options, tile_set(options.boxes, options.zooms), *store);
///   http_tile_fetcher fetcher(rt.loop(), options.concurrency);
///   co_await d.run(fetcher, &rt.drain_requested());
class tile_downloader {
 public:
  tile_downloader(const tiles_options& options, tile_set set, tile_store& store);
  /// Downloads the tiles of `set` from a PMTiles archive: the byte ranges of
  /// `plan`, each a task of the runner (retried whole; the tiles of a range
  /// stored by an earlier attempt are not stored again), each tile of a
  /// range validated as a template download's are. The tiles the archive
  /// lacks are recorded missing.
  tile_downloader(const tiles_options& options, tile_set set, tile_store& store, archive_plan plan);
  tile_downloader(const tile_downloader&) = delete;
  tile_downloader& operator=(const tile_downloader&) = delete;
  ~tile_downloader();

  /// Downloads everything through `fetcher`, which must outlive the call;
  /// once `drain` (optional) is set, nothing new starts. Lazy.
  [[nodiscard]] task<> run(tile_fetcher& fetcher, event* drain = nullptr);

  /// The progress in tiles (for an archive, whose tasks are byte ranges
  /// planned as the download goes, counted per tile of the ranges).
  const run_progress& progress() const noexcept {
    return archive_ ? tile_progress_ : tile_runner_->progress();
  }
  /// The runner's summary: done, failed, cancelled, not-started counts.
  const run_summary& summary() {
    return archive_ ? range_runner_->summary() : tile_runner_->summary();
  }
  /// The summary in tiles: summary() itself for a template download; for
  /// an archive, whose tasks are byte ranges, the same counts per tile.
  run_summary tile_summary();
  /// True when the runner's tasks are byte ranges of an archive.
  bool fetches_ranges() const noexcept { return archive_.has_value(); }
  const download_counts& counts() const noexcept { return counts_; }
  /// The first `failures_kept` tiles that failed in this run, in the order
  /// they failed, each with the reason the report shows ("HTTP status 500
  /// (3 attempts)", "HTTP status 403 (not retried)"); summary().failed
  /// counts them all.
  const std::vector<failed_tile>& failures() const noexcept { return failures_; }
  static constexpr std::size_t failures_kept = 10;
  /// Live counters for the progress bar.
  const std::size_t& skipped_counter() const noexcept { return counts_.skipped; }
  const std::size_t& missing_counter() const noexcept { return counts_.missing; }
  const std::uint64_t& bytes_counter() const noexcept { return counts_.bytes; }
  /// Why the run stopped early, if it did: the output cannot be written, or
  /// the server cannot be reached at all, or its answers all fail the same
  /// way (failure_guard): every tile would fail the same way.
  const std::optional<std::string>& stop_error() const noexcept { return stop_error_; }

 private:
  friend struct tile_item;
  friend class tile_source;
  friend class range_source;

  tile_downloader(const tiles_options& options, tile_set set, tile_store& store,
                  std::optional<archive_plan> plan);

  bool already_have(const tile& t) const;
  task<> fetch(tile_item& item);
  http_request make_request(const tile& t, const std::string& url);
  void take_network_error(std::string_view host, const http_response& r);
  bool take_answer(tile_item& item, const http_response& r);
  // A 429/503 with Retry-After pauses the host (throws retry_after); a
  // client error that asking again will not change (403, 410, and 404 where
  // the caller has not taken it as "missing") fails the item at once
  // (throws permanent_error). Returns otherwise. Tiles and ranges alike.
  void throw_if_paused_or_refused(tile_item& item, const http_response& r);
  void ended(const tile_item& item, const item_result& r);
  void record_failure(const tile_item& item, const item_result& r);
  // Archives (tiles_engine_ranges.cpp).
  task<> plan_ranges();
  task<> plan_batch();
  task<> fetch_range(tile_item& item);
  bool take_range(tile_item& item, const http_response& r);
  bool store_range(const range_request& q, const std::string& body);
  void record_absent(const std::vector<tile>& absent);
  void update_tile_progress();
  void record_range_failure(const tile_item& item, const std::string& reason,
                            const std::string& listed);
  template <class F>
  bool write_store(F&& write);
  void flush_quietly() noexcept;
  void stop_with(std::string why);

  tiles_options options_;
  tile_set set_;
  tile_store* store_;
  download_counts counts_;     // total and skipped set up front
  std::size_t remaining_ = 0;  // total - skipped: the runner's total
  host_rate_limiter limiter_;
  failure_guard guard_;  // stops the run when a host's answers all fail the same way
  std::optional<archive_plan> archive_;  // a download from a PMTiles archive
  std::deque<range_request> ranges_;     // its ranges planned, not admitted yet
  bool planning_ = false;                // plan_batch() is running
  std::shared_ptr<event> planned_;       // set when it ends
  std::size_t ranges_planned_ = 0;       // tiles in the ranges planned
  run_progress tile_progress_;           // an archive's progress in tiles
  tile_fetcher* fetcher_ = nullptr;      // run()'s own
  cancel_scope* stop_ = nullptr;         // run()'s own: stops the run (store error, unreachable)
  scheduler* sched_ = nullptr;           // run()'s loop: the store's batches go by its clock
  std::optional<std::string> stop_error_;
  std::vector<failed_tile> failures_;
  bool any_response_ = false;    // some request got an HTTP answer
  std::size_t unreachable_ = 0;  // connect-class failures before any answer
  // One of the two: tiles from a template, or byte ranges of an archive.
  std::optional<task_runner<tile_source>> tile_runner_;
  std::optional<task_runner<range_source>> range_runner_;
};

// Runs one write to the store. A store that cannot take it (a full disk, a
// path that is a file) is not the tile's fault: every other tile would fail
// the same way, so the run stops at once. Returns whether it was written.
template <class F>
bool tile_downloader::write_store(F&& write) {
  try {
    std::forward<F>(write)();
    return true;
  } catch (const std::exception& e) {
    stop_with(e.what());
    return false;
  }
}

}  // namespace cohort::app::tiles
