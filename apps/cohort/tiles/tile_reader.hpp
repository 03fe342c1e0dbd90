#pragma once

/// \file
/// Reading any output of `cohort tiles` back: a tile directory, an MBTiles
/// file or a PMTiles archive, as one stream of tiles with the source's
/// metadata. `cohort tiles convert` and `cohort tiles merge` read through
/// it; the PMTiles writer reads its staging store through it.
///
/// Streaming: a reader holds one tile (and, for PMTiles, one directory) at a
/// time, so its memory does not grow with the source.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <cohort/runner/fingerprint.hpp>

#include "cohort/tiles/tile_math.hpp"
#include "cohort/tiles/tile_store.hpp"

namespace cohort::app::tiles {

/// The three kinds of tile output.
enum class tile_output_kind { directory, mbtiles, pmtiles };

/// "directory", "mbtiles" or "pmtiles".
std::string_view to_string(tile_output_kind k);

/// The kind of output `path` names by its extension, as `-o` and `convert`
/// decide it: ".mbtiles" or ".pmtiles" (any case), else a directory.
tile_output_kind output_kind_of(const std::filesystem::path& path);

/// What a tile source says about itself. Empty strings and nullopt mean
/// "the source does not say".
struct tile_source_info {
  tile_output_kind kind = tile_output_kind::directory;
  /// The tiles' format as a file extension: "png", "jpg", "webp", "gif",
  /// "pbf" (vector tiles, as stored: often gzipped), "bin" (other); "" for a
  /// source without tiles. Directory: the extension of its first tile file;
  /// MBTiles: its `format` row; PMTiles: the header's tile type.
  std::string format;
  std::string name;
  std::string description;
  std::string attribution;
  /// TileJSON-ish extra metadata of vector tiles, as MBTiles' `json` row:
  /// {"vector_layers":[...]}. PMTiles: built from the metadata's
  /// vector_layers.
  std::string json;
  std::optional<bbox> bounds;
  std::optional<int> min_zoom;
  std::optional<int> max_zoom;
  /// PMTiles only: the header's tile compression (vector tiles are usually
  /// "gzip"); the bytes read are as stored, never decompressed.
  std::string tile_compression;
  /// Number of tiles when the source knows it without reading them all
  /// (PMTiles header's addressed tiles; MBTiles' row count), before any filter.
  std::optional<std::uint64_t> tile_count;
  /// The fingerprint (url_template, boxes, zooms: tile_fingerprint::fields())
  /// recorded by `cohort tiles` in an output it made; nullopt otherwise.
  std::optional<cohort::fingerprint> fingerprint;
};

/// Which tiles a reader yields: all by default.
struct tile_filter {
  /// Only these zooms (empty: every zoom).
  std::vector<int> zooms = {};
  /// Only the tiles of this set (tile_set::contains, its zooms included).
  std::optional<tile_set> tiles = {};

  /// True when `t` passes the filter.
  bool accepts(const tile& t) const;
};

/// One tile as read: where it is and its bytes, exactly as stored.
struct read_tile {
  tile where;
  std::string bytes;
};

/// A stream of the tiles of one source, in the source's own order: PMTiles
/// in tile-ID order (tile_id.hpp), MBTiles by zoom, column, then TMS row,
/// a directory in the file system's order. Each tile once.
///
/// Errors: next() and open_tile_reader throw tile_store_error, one line
/// naming the input ("input x.pmtiles: PMTiles directory is truncated").
///
///   auto in = open_tile_reader("city.mbtiles", {.zooms = {12}});
///   for (read_tile t; in->next(t);) out->put(t.where, t.bytes);
class tile_reader {
 public:
  virtual ~tile_reader() = default;

  /// The source's metadata, known once the reader is open.
  const tile_source_info& info() const { return info_; }

  /// Reads the next tile that passes the filter into `out` (reusing its
  /// buffer). False at the end, and forever after.
  virtual bool next(read_tile& out) = 0;

 protected:
  tile_source_info info_;
};

/// Opens the tile source at `path`: a directory, or a file whose first bytes
/// say MBTiles (SQLite) or PMTiles, whatever its name. Read-only: never
/// creates, locks or changes anything.
///
/// Errors: throws tile_store_error naming the input when it does not exist,
/// cannot be read, is neither kind, or is malformed.
std::unique_ptr<tile_reader> open_tile_reader(const std::filesystem::path& path,
                                              tile_filter filter = {});

namespace detail {
std::unique_ptr<tile_reader> open_directory_reader(const std::filesystem::path& path,
                                                   tile_filter filter);
std::unique_ptr<tile_reader> open_mbtiles_reader(const std::filesystem::path& path,
                                                 tile_filter filter);
std::unique_ptr<tile_reader> open_pmtiles_reader(const std::filesystem::path& path,
                                                 tile_filter filter);
/// The key under which our PMTiles metadata records the fingerprint, an
/// object of its fields.
inline constexpr std::string_view pmtiles_fingerprint_key = "cohort_fingerprint";
/// "input SHOWN: " for messages.
std::string input_prefix(const std::filesystem::path& path);
}  // namespace detail

}  // namespace cohort::app::tiles
