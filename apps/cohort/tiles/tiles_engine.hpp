#pragma once

/// \file
/// The downloader of `cohort tiles`: the tiles of a tile_set that are not
/// stored yet, fetched over HTTP at most `--concurrency` at a time through
/// the runner (lazy admission, retries with backoff, Retry-After pauses per
/// host), validated, and put into a tile_store.

#include "cohort/tiles/failure_guard.hpp"
#include "cohort/tiles/host_rate_limiter.hpp"
#include "cohort/tiles/tile_math.hpp"
#include "cohort/tiles/tile_store.hpp"
#include "cohort/tiles/tiles_cli.hpp"

#include <cohort/cancel_scope.hpp>
#include <cohort/io/http.hpp>
#include <cohort/runner/run_tasks.hpp>
#include <cohort/task.hpp>

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace cohort::app::tiles {

class tile_downloader;

/// A tile that could not be fetched or did not validate (one attempt);
/// the runner retries it, then records it as failed.
class tile_fetch_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// One tile to fetch: made lazily by tile_source, run by the runner.
struct tile_item {
  tile_downloader* downloader = nullptr;
  tile where;
  std::string key_;  ///< "z/x/y"
  std::string url_;
  std::string label_;  ///< the task's name in a SIGQUIT dump: "tile z/x/y from host"
  std::string_view key() const noexcept { return key_; }
  /// Requests to one host share its Retry-After pauses.
  std::string_view gate() const noexcept { return url_host(url_); }
  task<> run();
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

/// Counts of one run, beside the runner's (done = stored + unchanged + missing).
struct download_counts {
  std::uint64_t total = 0;          ///< tiles in the set
  std::size_t skipped = 0;          ///< already stored or known missing before this run
  std::size_t skipped_missing = 0;  ///< of `skipped`: known missing before this run
  std::size_t stored = 0;           ///< stored (new or changed) in this run
  std::size_t unchanged = 0;        ///< --refresh: the server said 304
  std::size_t missing = 0;          ///< 404 in this run
  std::uint64_t bytes = 0;          ///< bytes of the tiles stored in this run
  /// Refused by the server with a 4xx other than 404, 408 and 429: failed
  /// at once, not retried (the runner counts them done; they are failures).
  std::size_t refused = 0;
  /// The first few refused tiles and why, for the report.
  std::vector<failed_tile> refused_tiles;
};

/// Downloads the tiles of `set` into `store` as `options` say.
///
/// Cancellation: run() stops admitting at once; running requests are
/// aborted (libcurl removes them); a tile is stored whole or not at all.
/// The counts and the runner's summary stay readable afterwards; the caller
/// then flushes and closes the store.
class tile_downloader {
 public:
  tile_downloader(const tiles_options& options, tile_set set, tile_store& store);
  tile_downloader(const tile_downloader&) = delete;
  tile_downloader& operator=(const tile_downloader&) = delete;
  ~tile_downloader();

  /// Downloads everything; call inside cohort::run. Lazy.
  [[nodiscard]] task<> run(asio_loop& loop, event& drain);

  const run_progress& progress() const noexcept { return runner_.progress(); }
  /// The runner's summary: failures with their errors, not-started count.
  const run_summary& summary() { return runner_.summary(); }
  const download_counts& counts() const noexcept { return counts_; }
  /// Live counters for the progress bar.
  const std::size_t& skipped_counter() const noexcept { return counts_.skipped; }
  const std::size_t& missing_counter() const noexcept { return counts_.missing; }
  const std::size_t& refused_counter() const noexcept { return counts_.refused; }
  /// Why the output could not take a tile (a full disk, a path that is a
  /// file), if that happened: the run then stopped at once.
  /// Why the run stopped early, if it did: the output cannot be written, or
  /// the server cannot be reached at all, or its answers all fail the same
  /// way (failure_guard): every tile would fail the same way.
  const std::optional<std::string>& stop_error() const noexcept { return stop_error_; }
  const std::uint64_t& bytes_counter() const noexcept { return counts_.bytes; }

 private:
  friend struct tile_item;
  friend class tile_source;

  // The runner's journal: failures go to the store's failed list, and the
  // store is committed in batches after each tile.
  class store_journal final : public runner_journal {
   public:
    explicit store_journal(tile_store& s) noexcept : store_(&s) {}
    // Stored and missing tiles are skipped before they become items.
    bool is_done(std::string_view) const noexcept override { return false; }
    bool is_failed(std::string_view) const noexcept override { return false; }
    void record_done(std::string_view, int) override {}
    void record_failed(std::string_view key, int attempts,
                       std::vector<std::string> errors) override;
    bool maybe_flush(time_point now) override { return store_->maybe_flush(now); }
    void flush() override { store_->flush(); }

   private:
    tile_store* store_;
  };

  bool already_have(const tile& t) const;
  task<> fetch(const tile& t, const std::string& url);
  http_request make_request(const tile& t, const std::string& url);

  tiles_options options_;
  tile_set set_;
  tile_store* store_;
  download_counts counts_;     // total and skipped set up front
  std::size_t remaining_ = 0;  // total - skipped: the runner's total
  host_rate_limiter limiter_;
  failure_guard guard_;            // stops the run when a host's answers all fail the same way
  http_client* client_ = nullptr;  // run()'s own: it must not outlive the loop
  cancel_scope* stop_ = nullptr;   // run()'s own: stops the run on a store error
  std::optional<std::string> stop_error_;
  bool any_response_ = false;    // some request got an HTTP answer
  std::size_t unreachable_ = 0;  // connect-class failures before any answer
  void stop_with(std::string why);
  store_journal journal_;
  task_runner<tile_source> runner_;
};

/// "z/x/y" of a tile, and back (nullopt for anything else).
std::string tile_key(const tile& t);
std::optional<tile> parse_tile_key(std::string_view key);

}  // namespace cohort::app::tiles
