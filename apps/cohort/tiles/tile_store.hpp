#pragma once

/// \file
/// Where `cohort tiles` puts what it downloads: a tile directory
/// `OUT/z/x/y.ext` or an MBTiles 1.3 file, behind one interface that also
/// keeps what resuming needs (which tiles are stored, which failed or are
/// missing, each tile's HTTP validators) and refuses to mix two downloads in
/// one output. docs/tile_stores.md describes the formats and the durability.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "cohort/tiles/tile_fingerprint.hpp"
#include "cohort/tiles/tile_math.hpp"

namespace cohort::app::tiles {

/// An output could not be opened, read or written: not a tile output, in use
/// by another process, a database error, a full disk. what() is one line
/// that names the output. (A failed tile file write in the directory store
/// throws std::system_error from cohort::atomic_write instead, also naming
/// the file.)
class tile_store_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// The output was made from another URL template, other boxes or other zoom
/// levels (or by another tool), and `force` was not given. what() names what
/// differs, both values, and the way out:
///   output city.mbtiles was made from another URL template: 'https://a/{z}/{x}/{y}.png';
///   now 'https://b/{z}/{x}/{y}.png'; use --force to overwrite or choose another output
class fingerprint_mismatch_error : public tile_store_error {
 public:
  using tile_store_error::tile_store_error;
};

/// HTTP validators of a stored tile, sent back on `--refresh` as
/// If-None-Match / If-Modified-Since. Empty strings mean "not sent by the
/// server".
struct tile_validators {
  std::string etag;
  std::string last_modified;

  bool empty() const { return etag.empty() && last_modified.empty(); }
  friend bool operator==(const tile_validators&, const tile_validators&) = default;
};

/// A tile of the failed list and why it failed (one line).
struct failed_tile {
  tile where;
  std::string reason;

  friend bool operator==(const failed_tile&, const failed_tile&) = default;
};

/// Options of open_tile_store.
struct tile_store_options {
  /// The output was made from another fingerprint (or by another tool):
  /// empty it and start over instead of throwing fingerprint_mismatch_error.
  /// "Empty" means: an MBTiles file loses every table; a directory loses
  /// every file named like a tile (Z/X/Y.ext with a tile extension) and our
  /// bookkeeping, and nothing else. Has no effect on an output whose
  /// fingerprint matches, and never overwrites a file that is not an SQLite
  /// database.
  bool force = false;
  /// Durable against power loss, not only against a killed process: tile
  /// files and their directories are fsynced (directory store), and SQLite
  /// commits with synchronous=FULL. Costs milliseconds per tile in the
  /// directory store.
  bool fsync = false;
  /// The tile format: an extension with or without its dot ("png", ".jpg",
  /// ".pbf"...) as url_template::extension() gives it; used for file names
  /// and for MBTiles' `format`. Empty: taken from each tile's first bytes
  /// (PNG, JPEG, WebP, GIF, gzip or protobuf: pbf; anything else: bin).
  std::string format{};
  /// MBTiles `name` metadata. Empty: the output's file name without extension.
  std::string name{};
  /// MBTiles `description` metadata. Empty: "Downloaded by cohort tiles".
  std::string description{};
  /// MBTiles `attribution` metadata (HTML allowed by the spec). Empty: no row.
  std::string attribution{};
  /// MBTiles `json` metadata of vector tiles, e.g. {"vector_layers":[...]}
  /// from a TileJSON. Empty: {"vector_layers":[]} when the format is pbf,
  /// no row otherwise.
  std::string json{};
  /// Commit after this many changes (put, record_failed...) ...
  std::size_t batch_changes = 1000;
  /// ... or after this many tile bytes ...
  std::size_t batch_bytes = std::size_t{4} * 1024 * 1024;
  /// ... or when maybe_flush() is called this long after the last commit.
  std::chrono::milliseconds batch_interval{1000};
};

/// The output of a download: stores tiles and remembers what resuming
/// needs. Open one with open_tile_store.
///
/// Every method is synchronous, short, and called from one thread (the
/// loop's): has() and the lists are in memory; put() writes one file
/// (directory store) or appends to the open SQLite transaction (MBTiles:
/// a few microseconds); changes are committed in batches (see
/// tile_store_options), by maybe_flush() on time, flush() and close().
///
/// Durability: a process killed at any moment (even by SIGKILL) leaves an
/// output that opens, in which every stored tile is complete; what was not
/// committed yet is simply fetched again by the next run. See
/// docs/tile_stores.md.
///
/// Errors: methods throw tile_store_error (or std::system_error from a tile
/// file write) naming the output. After an error the store remains usable
/// for close(), which is also what the destructor does (swallowing errors).
///
///   auto store = open_tile_store("city.mbtiles", fingerprint, {.format = "png"});
///   if (!store->has(t)) store->put(t, bytes, {etag, last_modified});
///   store->maybe_flush(loop.now());
///   store->close();
class tile_store {
 public:
  virtual ~tile_store() = default;

  /// The output's path.
  virtual const std::filesystem::path& path() const = 0;

  /// True when `t` is stored (committed, or put in this session).
  virtual bool has(const tile& t) const = 0;
  /// Number of tiles stored.
  virtual std::uint64_t stored_count() const = 0;

  /// Stores `bytes` as tile `t`, replacing any previous version, with its
  /// validators (empty: none); removes `t` from the failed and missing
  /// lists. Precondition: `bytes` is a validated, non-empty tile.
  virtual void put(const tile& t, std::string_view bytes,
                   const tile_validators& validators = {}) = 0;

  /// The validators stored with `t`, or nullopt when `t` has none (or is not
  /// stored).
  virtual std::optional<tile_validators> validators(const tile& t) = 0;

  /// Adds `t` to the failed list with a one-line `reason`, or updates its
  /// reason. The next run retries it (it is not stored).
  virtual void record_failed(const tile& t, std::string_view reason) = 0;
  /// Removes `t` from the failed list (put() does it too).
  virtual void clear_failed(const tile& t) = 0;
  /// The failed list: left by earlier runs and added in this one, in (z, x, y) order.
  virtual std::vector<failed_tile> failed_tiles() const = 0;

  /// Adds `t` to the missing list: the server answered 404.
  virtual void record_missing(const tile& t) = 0;
  /// True when `t` is on the missing list.
  virtual bool is_missing(const tile& t) const = 0;
  /// Number of tiles on the missing list.
  virtual std::uint64_t missing_count() const = 0;

  /// The tile format ("png", "jpg"...; "" until known).
  virtual std::string format() const = 0;

  /// Commits when the last commit is at least batch_interval older than
  /// `now` (the first call only starts the interval). Returns true when it
  /// committed. Call it regularly from the loop, e.g. after each response.
  virtual bool maybe_flush(std::chrono::steady_clock::time_point now) = 0;
  /// Commits everything so far.
  virtual void flush() = 0;
  /// Commits, makes the output tidy for other readers (MBTiles: back to a
  /// single file in rollback-journal mode) and releases it. Idempotent; the
  /// other methods must not be called afterwards.
  virtual void close() = 0;
};

/// Opens (creating if needed) the output at `path`: an MBTiles file when the
/// path ends in ".mbtiles" (any case), else a tile directory. Loads the stored tiles,
/// the failed and missing lists, and removes the temporary files a killed
/// run left.
///
/// Errors: throws fingerprint_mismatch_error when the output was made from
/// another fingerprint or by another tool (unless options.force), and
/// tile_store_error when the output is used by another process, is not an
/// SQLite database (MBTiles), is not a directory (directory store), or
/// cannot be created or read.
///
///   tile_fingerprint fp{url.text(), boxes, zooms};
///   auto store = open_tile_store("city.mbtiles", fp, {.format = std::string(url.extension())});
std::unique_ptr<tile_store> open_tile_store(const std::filesystem::path& path,
                                            const tile_fingerprint& fingerprint,
                                            const tile_store_options& options = {});

/// Opens a tile directory `path/z/x/y.ext`, whatever the path's extension.
std::unique_ptr<tile_store> open_directory_store(const std::filesystem::path& path,
                                                 const tile_fingerprint& fingerprint,
                                                 const tile_store_options& options = {});

/// Opens an MBTiles 1.3 file, whatever the path's extension.
std::unique_ptr<tile_store> open_mbtiles_store(const std::filesystem::path& path,
                                               const tile_fingerprint& fingerprint,
                                               const tile_store_options& options = {});

/// The name of the bookkeeping database inside a tile directory.
inline constexpr std::string_view directory_store_db_name = ".cohort-tiles.db";

}  // namespace cohort::app::tiles
