#pragma once

/// \file
/// Writing a whole tile output at once, for `cohort tiles convert` and the
/// PMTiles build at the end of a download: tiles go to a temporary output
/// next to the target, and finish() puts it in place in one rename, so the
/// target is at every moment absent (or its previous version) or complete.

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>

#include "cohort/tiles/tile_reader.hpp"

namespace cohort::app::tiles {

/// What a sink writes besides the tiles.
struct tile_sink_options {
  /// The source's metadata (format, name, attribution, json, bounds,
  /// zooms, fingerprint), carried over to the output.
  tile_source_info info;
  /// A directory or MBTiles output is written with the store's `fsync`
  /// option (tile_store_options: durable against power loss, at a cost per
  /// tile). A PMTiles archive is one file, always fsynced before and after
  /// its rename.
  bool fsync = false;
  /// Called now and then during finish() (see pmtiles_write_options::poll).
  std::function<void()> poll{};
};

/// A tile output being written: put() every tile, then finish().
/// Destroying an unfinished sink removes its temporary output.
class tile_sink {
 public:
  virtual ~tile_sink() = default;
  virtual void put(const tile& t, std::string_view bytes) = 0;
  /// Completes the output and renames it into place (replacing what was
  /// there: a directory target is removed first).
  virtual void finish() = 0;
};

/// The temporary output of a sink for `target`: "TARGET.tmp" (a PMTiles
/// build also uses "TARGET.tmp.db").
std::filesystem::path sink_temporary(const std::filesystem::path& target);

/// A sink for `target`, of the kind its name says (output_kind_of). Removes
/// what a killed sink for `target` left. Throws tile_store_error.
std::unique_ptr<tile_sink> open_tile_sink(const std::filesystem::path& target,
                                          const tile_sink_options& options);

}  // namespace cohort::app::tiles
