#pragma once

/// \file
/// The PMTiles v3 tile ID: one number per tile of every zoom, ordered by zoom
/// and, within a zoom, along a Hilbert curve. Consecutive IDs are neighbouring
/// tiles, so a range of IDs is a spatially compact piece of the map. PMTiles
/// archives store tiles in this order ("clustered"), and `--part` divides a
/// download into ranges of it.
///
/// ID of tile (z, x, y) = (4^z - 1) / 3 + its Hilbert index among the 4^z
/// tiles of zoom z (the PMTiles v3 specification, "Tile IDs"):
///   tile_id({0, 0, 0}) == 0, tile_id({1, 0, 0}) == 1, tile_id({1, 0, 1}) == 2,
///   tile_id({1, 1, 1}) == 3, tile_id({1, 1, 0}) == 4, tile_id({2, 0, 0}) == 5.

#include <cstdint>

#include "cohort/tiles/tile_math.hpp"

namespace cohort::app::tiles {

/// The first tile ID of zoom z: the number of tiles of all lower zooms,
/// (4^z - 1) / 3. Precondition: 0 <= z <= max_zoom + 1.
constexpr std::uint64_t first_tile_id(int z) {
  return ((std::uint64_t{1} << (2 * z)) - 1) / 3;
}

/// The PMTiles tile ID of `t`. Precondition: t.z in 0..max_zoom and x, y
/// below 2^z.
std::uint64_t tile_id(const tile& t);

/// The tile of a tile ID; the inverse of tile_id. Precondition:
/// id < first_tile_id(max_zoom + 1).
tile tile_of_id(std::uint64_t id);

}  // namespace cohort::app::tiles
