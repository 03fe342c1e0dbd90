#pragma once

/// \file
/// Writing a PMTiles v3 archive from tiles given in any order, in memory
/// bounded independently of the archive's size.
///
/// How: tiles go into a temporary SQLite database next to the output
/// (`OUT.tmp.db`), keyed by tile ID (the table's B-tree sorts them) with
/// their blobs deduplicated (a 64-bit hash, indexed, then a byte compare).
/// finish() then streams the tiles in tile-ID order three times: to give
/// each distinct blob its offset in the order of first use (so the archive
/// is clustered), to build the directories (a root alone when it fits in
/// the first 16 KiB, else leaves of 4096 entries or more, doubled until
/// the root fits), and to write the archive, `OUT.tmp` first, fsynced and
/// renamed into place. What stays in memory: SQLite's page cache (8 MiB),
/// one leaf's entries and the root's.
///
/// Crash safety: until finish() renames it, OUT is untouched; a killed
/// process leaves only OUT.tmp and OUT.tmp.db, which the next writer for
/// OUT removes.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <cohort/runner/fingerprint.hpp>

#include "cohort/tiles/pmtiles_format.hpp"
#include "cohort/tiles/tile_math.hpp"

namespace cohort::app::tiles {

/// What goes into an archive's header and metadata besides its tiles.
struct pmtiles_write_options {
  /// Metadata `name`, `description`, `attribution` (omitted when empty).
  std::string name{};
  std::string description{};
  std::string attribution{};
  /// TileJSON-ish extra metadata as MBTiles' `json` row, e.g.
  /// {"vector_layers":[...]}: its members are copied into the metadata.
  /// Vector tiles get "vector_layers":[] when it has none (the spec requires
  /// the key).
  std::string json{};
  /// The header's bounds; nullopt: the extent of the tiles written.
  std::optional<bbox> bounds{};
  /// Recorded under "cohort_fingerprint" so that a re-run recognises its
  /// own archive (tile_reader's info().fingerprint reads it back).
  std::optional<cohort::fingerprint> fingerprint{};
  /// Directory entries per leaf to start with (the spec's writers use 4096);
  /// tests lower it to get leaves from few tiles.
  std::uint32_t leaf_entries = 4096;
  /// Roots with at most this many entries are tried without leaves.
  std::uint32_t max_root_entries = 16384;
  /// Called every 1,024 tiles of each pass of finish() (which can take a
  /// while for a large archive); it may throw to abandon the build (the
  /// output is then untouched and the temporaries removed).
  std::function<void()> poll{};
};

/// What finish() wrote, as the header says.
struct pmtiles_write_result {
  pmtiles_header header;
  std::uint64_t leaves = 0;  ///< leaf directories written
};

/// Builds one PMTiles archive at `path`.
///
/// Tile type and compression come from the tiles' first bytes: PNG, JPEG,
/// WebP (no compression), gzip (MVT, gzip); tiles of mixed kinds make them
/// "unknown". A tile added twice keeps its last bytes.
///
/// Errors: throws tile_store_error (tile_store.hpp) naming the output for a
/// database or file failure; OUT is then untouched and the temporaries are
/// removed by the destructor.
///
///   pmtiles_writer w("city.pmtiles", {.name = "city"});
///   for (read_tile t; in->next(t);) w.add(t.where, t.bytes);
///   w.finish();
class pmtiles_writer {
 public:
  pmtiles_writer(const std::filesystem::path& path, pmtiles_write_options options);
  /// Removes the temporary files unless finish() completed.
  ~pmtiles_writer();
  pmtiles_writer(const pmtiles_writer&) = delete;
  pmtiles_writer& operator=(const pmtiles_writer&) = delete;

  /// Adds tile `t` with `bytes` (non-empty). Precondition: before finish().
  void add(const tile& t, std::string_view bytes);
  /// Number of distinct tiles added so far.
  std::uint64_t size() const;

  /// Writes the archive and renames it into place; removes the temporaries.
  /// `fsync`: the file and its directory are fsynced before and after the
  /// rename.
  pmtiles_write_result finish(bool fsync = true);

  class impl;

 private:
  std::unique_ptr<impl> impl_;
};

/// The temporary files of a writer for `path` (OUT.tmp, OUT.tmp.db and its
/// journal), which a killed writer can leave.
void remove_pmtiles_temporaries(const std::filesystem::path& path);

}  // namespace cohort::app::tiles
