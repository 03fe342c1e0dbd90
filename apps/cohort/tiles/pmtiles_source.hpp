#pragma once

/// \file
/// A PMTiles archive as the source of `cohort tiles` (`--url x.pmtiles`, a
/// local path, file:// or http(s)://): its header and the directories that
/// hold the tiles of the set are read with range requests, and what they
/// say becomes the engine's archive_plan: the byte ranges to fetch
/// (pmtiles_ranges.hpp) and the tiles the archive lacks.

#include "cohort/tiles/pmtiles_format.hpp"
#include "cohort/tiles/pmtiles_ranges.hpp"
#include "cohort/tiles/tile_fetcher.hpp"
#include "cohort/tiles/tile_math.hpp"
#include "cohort/tiles/tile_parts.hpp"
#include "cohort/tiles/tile_store.hpp"
#include "cohort/tiles/tiles_cli.hpp"
#include "cohort/tiles/tiles_engine.hpp"

#include <cohort/task.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cohort::app::tiles {

/// True when `--url` names a PMTiles archive rather than a URL template:
/// its path ends in ".pmtiles" (any case; a query or fragment ignored), or
/// it is a file:// URL or a path without a scheme.
bool is_pmtiles_source(std::string_view url);

/// The URL the fetcher reads an archive at: http(s):// and file:// as
/// given, a path made absolute as a file:// URL.
std::string pmtiles_source_url(std::string_view url);

/// What the archive's index says about a tile set: its header and root
/// directory; with read_archive_index, where the tiles of the set it has lie
/// (absolute offsets) and the tiles it lacks; what reading it cost.
struct archive_index {
  pmtiles_header header;
  std::vector<pmtiles_entry> root;
  std::vector<tile_span> present;
  std::vector<tile> absent;
  std::uint64_t index_bytes = 0;  ///< header and directories fetched
  std::size_t index_requests = 0;
  bool complete = false;  ///< present and absent hold the whole set
};

/// Reading the index failed: the archive cannot be fetched or is not a
/// PMTiles v3 archive we can read. what() is one line naming the archive.
class archive_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Reads the header and root directory (the first 16 KiB) of the archive at
/// `url` (pmtiles_source_url's form) through `fetcher` in one request, with
/// the request options of `o` (headers, timeouts) and its retries
/// (--retries, --retry-delay, Retry-After). Lazy. Throws archive_error;
/// cancellation ends it at once.
[[nodiscard]] task<archive_index> read_archive_root(tile_fetcher& fetcher, std::string url,
                                                    const tiles_options& o);

/// The tiles of a set in tile-ID order, each found in the archive's
/// directories (present, where its bytes lie) or not (absent), a batch at
/// a time: the leaf directories are read as the IDs reach them, each once,
/// one request each, and only those that hold tiles of the set. Memory:
/// the directories on the way down to the current leaf and the batch,
/// whatever the set's size.
///
///   archive_cursor c(url, root, set);
///   while (co_await c.next(fetcher, o, 4096, present, absent)) plan(present, absent);
class archive_cursor {
 public:
  /// From the root of read_archive_root; keeps a reference to `set`.
  archive_cursor(std::string url, const archive_index& root, const tile_set& set);

  /// Appends the next tiles of the set, at most `cap` of them, to `present`
  /// and `absent`; false when there were none left. Throws archive_error
  /// (a leaf cannot be read after the retries of `o`, or is malformed).
  [[nodiscard]] task<bool> next(tile_fetcher& f, const tiles_options& o, std::size_t cap,
                                std::vector<tile_span>& present, std::vector<tile>& absent);

  /// The leaf directories' bytes and requests so far.
  std::uint64_t index_bytes() const noexcept { return index_bytes_; }
  std::size_t index_requests() const noexcept { return index_requests_; }

 private:
  struct frame {
    std::vector<pmtiles_entry> entries;
    std::uint64_t end = 0;  // the IDs the directory holds end here
  };
  task<bool> take(tile_fetcher& f, const tiles_options& o, std::size_t cap,
                  std::vector<tile_span>& present, std::vector<tile>& absent);

  std::string url_;
  pmtiles_header header_;
  tile_id_runs runs_;
  tile_id_range run_{0, 0};    // what is left of the current run
  std::vector<frame> frames_;  // the root, then the leaves down to the current one
  std::uint64_t index_bytes_ = 0;
  std::size_t index_requests_ = 0;
};

/// read_archive_root, then the whole set through an archive_cursor: every
/// tile of `set` present or absent (as long as the set: for tests and
/// small sets; a download goes batch by batch, plan_archive).
///
///   archive_index ix = co_await read_archive_index(fetcher, url, set, o);
[[nodiscard]] task<archive_index> read_archive_index(tile_fetcher& fetcher, std::string url,
                                                     const tile_set& set, const tiles_options& o);

/// The tile format an output records for the archive's tile type ("png",
/// "jpg", "webp", "pbf"; "" when unknown).
std::string pmtiles_format_name(const pmtiles_header& h);

/// The plan of fetching the tiles of `set` from the archive at `url` into
/// `store`, lazily: batches of at most `batch` tiles in ID order (an
/// archive_cursor from the root in `ix`), each the range requests of its
/// tiles present and not stored yet (all of them with `refresh`),
/// coalesced within `limits`, and its tiles absent. What `ix` already
/// lists (present, absent) is planned first. Keeps a reference to `store`.
archive_plan plan_archive(std::string url, archive_index&& ix, const tile_set& set,
                          const tile_store& store, bool refresh, const coalesce_limits& limits = {},
                          std::size_t batch = 4096);

/// Reads byte ranges of a local file as a server would answer a Range
/// request ("Range: bytes=A-B", one range): 206 with the bytes, 416 past
/// the end, 404 when the file cannot be opened. The fetcher's URL is the
/// file:// URL of pmtiles_source_url.
class file_range_fetcher final : public tile_fetcher {
 public:
  [[nodiscard]] task<http_response> fetch(http_request request) override;
};

/// The fetcher of an archive at `o.archive`: a file_range_fetcher for a
/// file:// URL, else make_http_fetcher's with -j connections on --threads
/// loops.
std::unique_ptr<tile_fetcher> make_archive_fetcher(asio_loop& loop, const tiles_options& o);

/// Reads the header and root of `o.archive` in a runtime of its own
/// (Ctrl+C interrupts it) into `ix`, and takes the output's tile
/// format from its header. Returns the exit status to end with, or
/// nullopt to go on: 2 when the archive cannot be read (said on stderr),
/// the signal's when interrupted (then `ended_by` is set to it).
std::optional<int> read_archive(tiles_options& o, std::optional<archive_index>& ix, int& ended_by);

}  // namespace cohort::app::tiles
