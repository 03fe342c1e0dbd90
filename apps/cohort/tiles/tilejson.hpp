#pragma once

/// \file
/// TileJSON input of `cohort tiles --tilejson URL|FILE`: the tile URL
/// templates, zoom range, bounds, scheme and metadata of a tile source, read
/// from its TileJSON document (https://github.com/mapbox/tilejson-spec,
/// versions 1.0 to 3.0), and merged into the options where the command line
/// did not say otherwise.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cohort/tiles/tile_math.hpp"

namespace cohort::app::tiles {

/// The largest TileJSON document read or fetched (16 MB).
inline constexpr std::size_t max_tilejson_bytes = std::size_t{16} * 1024 * 1024;

/// What a TileJSON document says about a tile source (the members `cohort
/// tiles` uses; the others are ignored).
struct tilejson {
  /// `tiles`: the URL templates, {y} already turned into {-y} when the
  /// scheme is "tms" (so that they are XYZ templates like --url's).
  std::vector<std::string> tiles;
  std::optional<int> minzoom;  ///< `minzoom`, 0 to 30
  std::optional<int> maxzoom;  ///< `maxzoom`, 0 to 30, at least minzoom
  std::optional<bbox> bounds;  ///< `bounds` [W, S, E, N]
  bool tms = false;            ///< `scheme` "tms" (default "xyz")
  std::string name;            ///< `name`
  std::string description;     ///< `description`
  std::string attribution;     ///< `attribution`
  std::string format;          ///< `format` ("pbf", "png"...), not in the spec but common
  /// `vector_layers` as MBTiles' `json` row: {"vector_layers":[...]}; empty
  /// when the document has none.
  std::string vector_layers_json;
};

/// Parses a TileJSON document; `source` (the file or URL) names it in
/// errors. Throws usage_error, one line "--tilejson SOURCE: ...", for text
/// that is not JSON, not an object, without a non-empty `tiles` list of
/// strings, or with a member of the wrong type or out of range (zooms
/// outside 0-30 or minzoom > maxzoom, bounds not 4 numbers in range with
/// S < N, scheme other than xyz/tms).
///
///   auto tj = parse_tilejson(R"({"tiles":["https://t.example/{z}/{x}/{y}.png"]})", "a.json");
///   tj.tiles.size() == 1
tilejson parse_tilejson(std::string_view text, std::string_view source);

/// True when `source` is an http:// or https:// URL (else a file name).
bool is_tilejson_url(std::string_view source);

/// Reads the TileJSON file `path` ("-": standard input) and parses it.
/// Throws usage_error naming the file when it cannot be read or parsed.
tilejson read_tilejson_file(const std::string& path);

}  // namespace cohort::app::tiles
