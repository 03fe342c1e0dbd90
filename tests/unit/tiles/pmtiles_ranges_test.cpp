#include "cohort/tiles/pmtiles_ranges.hpp"

#include "cohort/tiles/tile_id.hpp"

#include <cstdint>
#include <map>
#include <random>
#include <vector>

#include <gtest/gtest.h>

namespace {

using cohort::app::tiles::coalesce_limits;
using cohort::app::tiles::needed_bytes;
using cohort::app::tiles::plan_range_requests;
using cohort::app::tiles::range_request;
using cohort::app::tiles::tile;
using cohort::app::tiles::tile_id;
using cohort::app::tiles::tile_of_id;
using cohort::app::tiles::tile_span;

std::uint64_t total_length(const std::vector<range_request>& reqs) {
  std::uint64_t n = 0;
  for (const auto& r : reqs) n += r.length;
  return n;
}

// The properties every plan has: each tile in exactly one request and
// whole inside it; requests by offset, disjoint, within the limit unless
// one piece alone is larger; the total within the overfetch budget.
void expect_valid_plan(const std::vector<tile_span>& tiles, const std::vector<range_request>& reqs,
                       const coalesce_limits& limits) {
  std::map<tile, int> seen;
  std::uint64_t previous_end = 0;
  for (std::size_t i = 0; i < reqs.size(); ++i) {
    const range_request& r = reqs[i];
    ASSERT_FALSE(r.tiles.empty());
    if (i > 0) {
      EXPECT_GE(r.offset, previous_end) << "request " << i << " overlaps the previous";
    }
    previous_end = r.offset + r.length;
    std::uint64_t largest_tile = 0;
    for (const tile_span& t : r.tiles) {
      ++seen[t.where];
      EXPECT_GE(t.offset, r.offset);
      EXPECT_LE(t.offset + t.length, r.offset + r.length);
      largest_tile = std::max<std::uint64_t>(largest_tile, t.length);
    }
    if (r.tiles.size() > 1 && r.length > limits.max_request_bytes) {
      // Only overlapping tiles (shared bytes) may exceed the limit together.
      std::uint64_t end = r.tiles.front().offset + r.tiles.front().length;
      for (const tile_span& t : r.tiles) {
        EXPECT_LT(t.offset, end) << "an over-limit request of separate pieces";
        end = std::max<std::uint64_t>(end, t.offset + t.length);
      }
    }
  }
  EXPECT_EQ(seen.size(), tiles.size());
  for (const auto& [t, n] : seen) EXPECT_EQ(n, 1) << t.z << '/' << t.x << '/' << t.y;
  const double needed = static_cast<double>(needed_bytes(tiles));
  EXPECT_LE(static_cast<double>(total_length(reqs)), needed * (1 + limits.max_overfetch) + 0.5);
}

TEST(PlanRangeRequests, AdjacentTilesShareOneRequest) {
  const std::vector<tile_span> tiles{{{14, 1, 3}, 1300, 200}, {{14, 1, 2}, 1000, 300}};
  const auto reqs = plan_range_requests(tiles, {});
  ASSERT_EQ(reqs.size(), 1U);
  EXPECT_EQ(reqs[0].offset, 1000U);
  EXPECT_EQ(reqs[0].length, 500U);
  ASSERT_EQ(reqs[0].tiles.size(), 2U);
  EXPECT_EQ(reqs[0].tiles[0].where, (tile{14, 1, 2}));
}

TEST(PlanRangeRequests, BridgesASmallGapButNotALargeOne) {
  // 10 kB needed: a budget of 500 bytes at 5 %.
  const std::vector<tile_span> tiles{{{5, 0, 0}, 0, 4000},
                                     {{5, 0, 1}, 4400, 4000},   // 400-byte gap: bridged
                                     {{5, 1, 1}, 9400, 2000}};  // 1000-byte gap: not
  const auto reqs = plan_range_requests(tiles, {});
  ASSERT_EQ(reqs.size(), 2U);
  EXPECT_EQ(reqs[0].offset, 0U);
  EXPECT_EQ(reqs[0].length, 8400U);
  EXPECT_EQ(reqs[1].offset, 9400U);
  EXPECT_EQ(reqs[1].length, 2000U);
}

TEST(PlanRangeRequests, NoRequestAboveTheLimit) {
  std::vector<tile_span> tiles;
  for (std::uint32_t i = 0; i < 100; ++i) tiles.push_back({{10, i, 0}, i * 1000ULL, 1000});
  coalesce_limits limits;
  limits.max_request_bytes = 10'000;
  const auto reqs = plan_range_requests(tiles, limits);
  EXPECT_EQ(reqs.size(), 10U);
  expect_valid_plan(tiles, reqs, limits);
}

TEST(PlanRangeRequests, IdenticalTilesStoredOnceAreFetchedOnce) {
  // An ocean: three tiles point at the same bytes; a tile larger than the
  // limit gets a request of its own.
  const std::vector<tile_span> tiles{{{8, 1, 1}, 500, 100},
                                     {{8, 1, 2}, 500, 100},
                                     {{8, 7, 7}, 500, 100},
                                     {{8, 2, 2}, 10'000, 50'000}};
  coalesce_limits limits;
  limits.max_request_bytes = 20'000;
  const auto reqs = plan_range_requests(tiles, limits);
  ASSERT_EQ(reqs.size(), 2U);
  EXPECT_EQ(reqs[0].length, 100U);
  EXPECT_EQ(reqs[0].tiles.size(), 3U);
  EXPECT_EQ(reqs[1].length, 50'000U);
  EXPECT_EQ(needed_bytes(tiles), 50'100U);
  expect_valid_plan(tiles, reqs, limits);
}

TEST(PlanRangeRequests, NothingNeededNothingAsked) {
  EXPECT_TRUE(plan_range_requests({}, {}).empty());
  EXPECT_EQ(needed_bytes({}), 0U);
}

// A clustered archive of zoom 8 (tiles in tile-ID order, sizes from
// 60 B to 40 kB, every fifth tile a shared "ocean" tile stored once) and
// the tiles of a random rectangle at each zoom: the plan holds every
// property and fetches well under 1.2× the needed bytes.
TEST(PlanRangeRequests, PropertiesHoldOnClusteredArchives) {
  std::mt19937_64 rng(14);
  for (int round = 0; round < 20; ++round) {
    const int max_z = 8;
    std::uniform_int_distribution<std::uint32_t> size(60, 40'000);
    // Offsets of zoom max_z's tiles are laid out lazily by ID: only the
    // needed ones matter, plus the sizes of the tiles between them.
    std::vector<tile_span> needed;
    const std::uint32_t n = 1U << max_z;
    std::uniform_int_distribution<std::uint32_t> coord(0, n - 48);
    const std::uint32_t x0 = coord(rng);
    const std::uint32_t y0 = coord(rng);
    const std::uint32_t w = 4 + static_cast<std::uint32_t>(rng() % 44);
    const std::uint64_t ocean_offset = 0;
    std::uint64_t offset = 100;
    const std::uint64_t first = tile_id({max_z, 0, 0});
    for (std::uint64_t id = first; id < first + std::uint64_t{n} * n; ++id) {
      const tile t = tile_of_id(id);
      const bool in = t.x >= x0 && t.x < x0 + w && t.y >= y0 && t.y < y0 + w;
      const bool ocean = (id % 5) == 0;
      const std::uint32_t len = ocean ? 100 : size(rng);
      if (in) needed.push_back({t, ocean ? ocean_offset : offset, len});
      if (!ocean) offset += len;
    }
    coalesce_limits limits;
    limits.max_request_bytes = 1 + rng() % (4 * 1024 * 1024);
    const auto reqs = plan_range_requests(needed, limits);
    expect_valid_plan(needed, reqs, limits);
    EXPECT_LE(static_cast<double>(total_length(reqs)),
              1.2 * static_cast<double>(needed_bytes(needed)));
  }
}

}  // namespace
