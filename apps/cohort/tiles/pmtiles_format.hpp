#pragma once

/// \file
/// The PMTiles v3 archive format (protomaps/PMTiles spec/v3/spec.md): the
/// 127-byte header, directories of entries (varints, delta-coded tile IDs,
/// contiguous offsets coded as 0), the internal compression (none or gzip),
/// and the spec's lookup of a tile ID in a directory. Pure functions on
/// bytes; reading and writing files is the reader's and the writer's.
///
/// Every decoder throws pmtiles_error on bytes that are not what they should
/// be (never reads out of bounds, never allocates more than the input can
/// describe), so the bytes of an untrusted archive can be handed to them.
///
///   const pmtiles_header h = decode_pmtiles_header(first_127_bytes);
///   const auto root = decode_pmtiles_directory(root_bytes, h.internal_compression);
///   if (const pmtiles_entry* e = find_pmtiles_entry(root, tile_id(t))) ...

#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace cohort::app::tiles {

/// Bytes that are not a (supported) PMTiles v3 archive or part of one: not
/// PMTiles, another version, truncated, a malformed directory, a compression
/// we cannot decode. what() is one line saying what is wrong.
class pmtiles_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// The size of a PMTiles v3 header.
inline constexpr std::size_t pmtiles_header_size = 127;

/// The spec's bound on header + compressed root directory: a client reads
/// these many bytes first and must find the whole root directory in them.
inline constexpr std::size_t pmtiles_root_limit = 16384;

/// A PMTiles compression (header fields IC and TC).
enum class pmtiles_compression : std::uint8_t {
  unknown = 0,
  none = 1,
  gzip = 2,
  brotli = 3,
  zstd = 4
};

/// A PMTiles tile type (header field TT).
enum class pmtiles_tile_type : std::uint8_t {
  unknown = 0,
  mvt = 1,
  png = 2,
  jpeg = 3,
  webp = 4,
  avif = 5,
  mlt = 6,
};

/// Every field of the v3 header, in the order of the spec. Positions are
/// kept as the spec stores them, degrees × 10^7 (exact round trip); see
/// pmtiles_e7 and pmtiles_degrees.
struct pmtiles_header {
  std::uint8_t version = 3;
  std::uint64_t root_offset = 0;
  std::uint64_t root_length = 0;
  std::uint64_t metadata_offset = 0;
  std::uint64_t metadata_length = 0;
  std::uint64_t leaf_offset = 0;
  std::uint64_t leaf_length = 0;
  std::uint64_t tile_data_offset = 0;
  std::uint64_t tile_data_length = 0;
  /// Tiles addressed, counting every tile of a run (0: unknown).
  std::uint64_t addressed_tiles = 0;
  /// Tile entries: entries with run_length > 0 (0: unknown).
  std::uint64_t tile_entries = 0;
  /// Distinct tile blobs in the tile data (0: unknown).
  std::uint64_t tile_contents = 0;
  bool clustered = false;
  pmtiles_compression internal_compression = pmtiles_compression::gzip;
  pmtiles_compression tile_compression = pmtiles_compression::unknown;
  pmtiles_tile_type tile_type = pmtiles_tile_type::unknown;
  std::uint8_t min_zoom = 0;
  std::uint8_t max_zoom = 0;
  std::int32_t min_lon_e7 = 0;
  std::int32_t min_lat_e7 = 0;
  std::int32_t max_lon_e7 = 0;
  std::int32_t max_lat_e7 = 0;
  std::uint8_t center_zoom = 0;
  std::int32_t center_lon_e7 = 0;
  std::int32_t center_lat_e7 = 0;

  friend bool operator==(const pmtiles_header&, const pmtiles_header&) = default;
};

/// Degrees to the header's fixed point (× 10^7, rounded to nearest),
/// clamped to ±180°.
std::int32_t pmtiles_e7(double degrees);
/// The header's fixed point to degrees.
inline double pmtiles_degrees(std::int32_t e7) {
  return e7 / 1e7;
}

/// The 127 bytes of `h` (magic "PMTiles", then h.version and the fields,
/// little-endian).
std::string encode_pmtiles_header(const pmtiles_header& h);

/// The header in `bytes` (its first 127 bytes; more are ignored). Throws
/// pmtiles_error when `bytes` is shorter than 127 bytes ("truncated"), does
/// not start with "PMTiles" ("not a PMTiles archive") or is not version 3.
pmtiles_header decode_pmtiles_header(std::string_view bytes);

/// One directory entry. run_length > 0: tiles tile_id .. tile_id +
/// run_length - 1 all have the blob at `offset` (relative to the tile data)
/// of `length` bytes. run_length == 0: a leaf directory at `offset`
/// (relative to the leaf directories) whose first tile ID is tile_id.
struct pmtiles_entry {
  std::uint64_t tile_id = 0;
  std::uint64_t offset = 0;
  std::uint32_t length = 0;
  std::uint32_t run_length = 0;

  friend bool operator==(const pmtiles_entry&, const pmtiles_entry&) = default;
};

/// The uncompressed bytes of a directory: the entry count, the tile IDs as
/// deltas, the run lengths, the lengths, then the offsets (0 for an entry
/// that starts where the previous one ends, else offset + 1), all varints.
/// Precondition: tile IDs strictly ascending, lengths > 0.
std::string encode_pmtiles_directory(std::span<const pmtiles_entry> entries);

/// The entries of an uncompressed directory. Throws pmtiles_error when the
/// bytes end early, a varint is longer than 64 bits, tile IDs are not
/// strictly ascending or overflow, a length is 0 or above 2^32 - 1, a run
/// length is above 2^32 - 1, the first offset is coded as contiguous, or
/// bytes are left over. Allocates at most one entry per 4 input bytes.
std::vector<pmtiles_entry> decode_pmtiles_directory(std::string_view bytes);

/// decode_pmtiles_directory of `bytes` decompressed by `c`.
std::vector<pmtiles_entry> decode_pmtiles_directory(std::string_view bytes, pmtiles_compression c);

/// `bytes` compressed by `c` (none or gzip; gzip as RFC 1952, as every
/// reader expects). Throws pmtiles_error for another compression.
std::string pmtiles_compress(std::string_view bytes, pmtiles_compression c);

/// `bytes` decompressed by `c` (none or gzip). Throws pmtiles_error for
/// corrupt or truncated gzip data, trailing bytes, output larger than
/// `max_size`, or another compression (named: "brotli is not supported").
std::string pmtiles_decompress(std::string_view bytes, pmtiles_compression c,
                               std::size_t max_size = std::size_t{256} << 20);

/// The entry of `dir` that holds `tile_id`, as the spec's readers look it
/// up: the tile's own entry, an entry whose run covers it, or the leaf
/// directory entry (run_length 0) with the largest first ID <= tile_id, in
/// which to look next. nullptr when none. Precondition: `dir` sorted by
/// tile_id, as decode_pmtiles_directory returns it.
const pmtiles_entry* find_pmtiles_entry(std::span<const pmtiles_entry> dir, std::uint64_t tile_id);

/// The spec's name of a compression ("none", "gzip", "brotli", "zstd",
/// "unknown") and of a tile type ("mvt", "png", "jpeg", "webp", "avif",
/// "mlt", "unknown").
std::string_view to_string(pmtiles_compression c);
std::string_view to_string(pmtiles_tile_type t);

}  // namespace cohort::app::tiles
