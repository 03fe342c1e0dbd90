#include "cohort/tiles/tile_id.hpp"

#include <cstdint>
#include <random>
#include <set>

#include <gtest/gtest.h>

namespace {

using cohort::app::tiles::first_tile_id;
using cohort::app::tiles::max_zoom;
using cohort::app::tiles::tile;
using cohort::app::tiles::tile_id;
using cohort::app::tiles::tile_of_id;

// The values the PMTiles v3 specification and its reference implementations
// test against.
TEST(TileId, MatchesTheSpecificationsFirstIds) {
  EXPECT_EQ(tile_id({0, 0, 0}), 0U);
  EXPECT_EQ(tile_id({1, 0, 0}), 1U);
  EXPECT_EQ(tile_id({1, 0, 1}), 2U);
  EXPECT_EQ(tile_id({1, 1, 1}), 3U);
  EXPECT_EQ(tile_id({1, 1, 0}), 4U);
  EXPECT_EQ(tile_id({2, 0, 0}), 5U);
  EXPECT_EQ(first_tile_id(0), 0U);
  EXPECT_EQ(first_tile_id(1), 1U);
  EXPECT_EQ(first_tile_id(2), 5U);
  EXPECT_EQ(first_tile_id(3), 21U);
  // From the protomaps JS reader (npm pmtiles 3.2.1, zxyToTileId).
  EXPECT_EQ(tile_id({3, 5, 2}), 76U);
  EXPECT_EQ(tile_id({7, 127, 0}), 21844U);
  EXPECT_EQ(tile_id({10, 511, 300}), 503546U);
  EXPECT_EQ(tile_id({12, 4000, 17}), 22364760U);
  EXPECT_EQ(tile_id({20, 1000000, 3}), 1461989238116U);
  EXPECT_EQ(tile_id({26, 67108863, 12345}), 6004799419273235U);
}

// Every ID of zooms 0..6 is one tile, and the IDs of a zoom follow a Hilbert
// curve: consecutive IDs are edge neighbours.
TEST(TileId, IsABijectionAlongAHilbertCurveAtEachZoom) {
  for (int z = 0; z <= 6; ++z) {
    std::set<std::uint64_t> seen;
    const std::uint32_t n = std::uint32_t{1} << z;
    for (std::uint32_t x = 0; x < n; ++x) {
      for (std::uint32_t y = 0; y < n; ++y) {
        const std::uint64_t id = tile_id({z, x, y});
        EXPECT_GE(id, first_tile_id(z));
        EXPECT_LT(id, first_tile_id(z + 1));
        EXPECT_TRUE(seen.insert(id).second);
        EXPECT_EQ(tile_of_id(id), (tile{z, x, y}));
      }
    }
    for (std::uint64_t id = first_tile_id(z); id + 1 < first_tile_id(z + 1); ++id) {
      const tile a = tile_of_id(id);
      const tile b = tile_of_id(id + 1);
      const auto dx = static_cast<std::int64_t>(a.x) - b.x;
      const auto dy = static_cast<std::int64_t>(a.y) - b.y;
      EXPECT_EQ(dx * dx + dy * dy, 1) << "ids " << id << " and " << id + 1;
    }
  }
}

TEST(TileId, RoundTripsRandomTilesUpToTheHighestZoom) {
  std::mt19937_64 rng(20261205);
  for (int i = 0; i < 20000; ++i) {
    const int z = static_cast<int>(rng() % (max_zoom + 1));
    const std::uint64_t mask = (std::uint64_t{1} << z) - 1;
    const tile t{z, static_cast<std::uint32_t>(rng() & mask),
                 static_cast<std::uint32_t>(rng() & mask)};
    EXPECT_EQ(tile_of_id(tile_id(t)), t);
  }
  const std::uint32_t last = (std::uint32_t{1} << max_zoom) - 1;
  EXPECT_EQ(tile_of_id(first_tile_id(max_zoom + 1) - 1).z, max_zoom);
  EXPECT_EQ(tile_of_id(tile_id({max_zoom, last, 0})), (tile{max_zoom, last, 0}));
}

}  // namespace
