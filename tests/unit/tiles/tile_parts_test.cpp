#include "cohort/tiles/tile_parts.hpp"

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "cohort/tiles/tile_area.hpp"
#include "cohort/tiles/tile_id.hpp"

namespace {

using cohort::app::work_part;
using cohort::app::tiles::area_polygon;
using cohort::app::tiles::bbox;
using cohort::app::tiles::count_in_ids;
using cohort::app::tiles::part_cut;
using cohort::app::tiles::part_ids;
using cohort::app::tiles::tile;
using cohort::app::tiles::tile_area;
using cohort::app::tiles::tile_id;
using cohort::app::tiles::tile_id_range;
using cohort::app::tiles::tile_id_runs;
using cohort::app::tiles::tile_of_id;
using cohort::app::tiles::tile_set;

// Every tile ID of the set, in ID order, by enumeration (the reference).
std::vector<std::uint64_t> ids_of(const tile_set& set) {
  std::vector<std::uint64_t> ids;
  auto e = set.enumerate();
  while (auto t = e.next()) ids.push_back(tile_id(*t));
  std::sort(ids.begin(), ids.end());
  return ids;
}

// Checks the N parts of `set` against its enumeration: every tile in
// exactly one part, each part's count and enumeration agree, and the part
// sizes are floor((K+1)T/N) - floor(KT/N), so they differ by at most 1.
void expect_parts_cover(const tile_set& set, std::uint32_t n) {
  const std::vector<std::uint64_t> all = ids_of(set);
  const std::uint64_t total = all.size();
  std::map<std::uint64_t, int> seen;
  std::uint64_t smallest = UINT64_MAX;
  std::uint64_t largest = 0;
  for (std::uint32_t k = 0; k < n; ++k) {
    const tile_set part = set.within(part_ids(set, work_part{k, n}));
    const std::vector<std::uint64_t> mine = ids_of(part);
    ASSERT_EQ(part.count(), mine.size()) << "part " << k << "/" << n;
    const std::uint64_t want = (k + 1) * total / n - k * total / n;
    EXPECT_EQ(mine.size(), want) << "part " << k << "/" << n << " of " << total;
    smallest = std::min<std::uint64_t>(smallest, mine.size());
    largest = std::max<std::uint64_t>(largest, mine.size());
    for (std::uint64_t id : mine) {
      ++seen[id];
      EXPECT_TRUE(part.contains(tile_of_id(id)));
    }
  }
  EXPECT_LE(largest - smallest, 1U);
  ASSERT_EQ(seen.size(), all.size());
  for (std::uint64_t id : all) EXPECT_EQ(seen[id], 1) << "tile ID " << id;
}

TEST(TileParts, CountInIdsMatchesEnumeration) {
  const tile_set set({{13.08, 52.33, 13.76, 52.68}, {-10.5, 35.2, 4.1, 44.0}}, {3, 6, 9});
  const std::vector<std::uint64_t> all = ids_of(set);
  std::mt19937_64 rng(7);
  for (int round = 0; round < 200; ++round) {
    std::uint64_t a = all[rng() % all.size()];
    std::uint64_t b = all[rng() % all.size()] + 1;
    if (a > b) std::swap(a, b);
    const tile_id_range r{a, b};
    std::uint64_t want_total = 0;
    for (int z : set.zooms()) {
      std::uint64_t want = 0;
      for (std::uint64_t id : all) want += (tile_of_id(id).z == z && r.contains(id)) ? 1 : 0;
      EXPECT_EQ(count_in_ids(set, z, r), want) << "zoom " << z << " [" << a << ", " << b << ")";
      want_total += want;
    }
    EXPECT_EQ(set.within(r).count(), want_total);
  }
}

// The IDs tile_id_runs yields, run by run.
std::vector<std::uint64_t> ids_by_runs(const tile_set& set, std::size_t* runs = nullptr) {
  std::vector<std::uint64_t> ids;
  tile_id_runs r(set);
  std::uint64_t last_end = 0;
  while (auto run = r.next()) {
    EXPECT_LT(run->begin, run->end);
    EXPECT_TRUE(ids.empty() || run->begin >= last_end) << "runs out of order";
    last_end = run->end;
    for (std::uint64_t id = run->begin; id < run->end; ++id) ids.push_back(id);
    if (runs != nullptr) ++*runs;
  }
  return ids;
}

TEST(TileParts, IdRunsAreTheSetsIdsInOrderWithoutEnumeration) {
  const tile_set boxes({{13.08, 52.33, 13.76, 52.68}, {-10.5, 35.2, 4.1, 44.0}}, {0, 3, 6, 9});
  EXPECT_EQ(ids_by_runs(boxes), ids_of(boxes));
  // Across the antimeridian, and cut to a part.
  const tile_set wrap({{170.0, -20.0, -170.0, 10.0}}, {2, 5, 8});
  EXPECT_EQ(ids_by_runs(wrap), ids_of(wrap));
  const tile_set part = boxes.within(part_ids(boxes, work_part{1, 3}));
  EXPECT_EQ(ids_by_runs(part), ids_of(part));
  const std::vector<cohort::app::tiles::lon_lat> ring = {
      {13.1, 52.3}, {13.8, 52.4}, {13.4, 52.7}, {13.1, 52.3}};
  const auto area =
      std::make_shared<const tile_area>(std::vector<area_polygon>{area_polygon{{ring}}});
  const tile_set shape = tile_set::of_area(area, {7, 10, 12});
  EXPECT_EQ(ids_by_runs(shape), ids_of(shape));
  // The whole world at a zoom is one run.
  std::size_t runs = 0;
  const tile_set world({{-180.0, -85.0511, 180.0, 85.0511}}, {6});
  EXPECT_EQ(ids_by_runs(world, &runs).size(), 4096U);
  EXPECT_EQ(runs, 1U);
}

TEST(TileParts, OnePartIsTheWholeSet) {
  const tile_set set({{-180, -85, 180, 85}}, {0, 1, 2});
  EXPECT_EQ(part_ids(set, {0, 1}), (tile_id_range{0, UINT64_MAX}));
  expect_parts_cover(set, 1);
}

TEST(TileParts, MorePartsThanTilesLeavesSomeEmpty) {
  const tile_set set({{-180, -85, 180, 85}}, {0, 1});  // 5 tiles
  expect_parts_cover(set, 7);
  expect_parts_cover(set, 64);
  EXPECT_EQ(part_cut(tile_set({}, {}), 1, 2), UINT64_MAX);
}

TEST(TileParts, CutsFollowTheHilbertOrderAcrossZooms) {
  // Zoom 1 has 4 tiles (IDs 1-4), zoom 2 has 16 (IDs 5-20): 20 in all, 4
  // parts of 5. Part 1 starts at rank 5: the second tile of zoom 2 (ID 6).
  const tile_set set({{-180, -85, 180, 85}}, {1, 2});
  EXPECT_EQ(part_cut(set, 1, 4), 6U);
  EXPECT_EQ(part_cut(set, 2, 4), 11U);
  EXPECT_EQ(part_cut(set, 3, 4), 16U);
  // Half of the world at zoom 2 (x 2-3): IDs 13-20 hold the eastern half.
  const tile_set east({{0, -85, 180, 85}}, {2});
  EXPECT_EQ(part_cut(east, 1, 2), 17U);
}

bbox random_box(std::mt19937_64& rng) {
  std::uniform_real_distribution<double> lon(-180, 180);
  std::uniform_real_distribution<double> lat(-80, 80);
  std::uniform_real_distribution<double> size(0.01, 60);
  const double w = lon(rng);
  const double s = lat(rng);
  double e = w + size(rng);
  if (e > 180) e -= 360;  // crosses the antimeridian
  return bbox{w, s, e, std::min(s + size(rng), 85.0)};
}

std::vector<int> random_zooms(std::mt19937_64& rng) {
  std::vector<int> zooms;
  const int lo = static_cast<int>(rng() % 7);
  for (int z = lo; z <= lo + static_cast<int>(rng() % 3); ++z) {
    if (rng() % 4 != 0 || zooms.empty()) zooms.push_back(z);
  }
  return zooms;
}

// The property of issue 15: random N (1-64), random boxes and zooms.
TEST(TileParts, RandomBoxesEveryTileInExactlyOneBalancedPart) {
  std::mt19937_64 rng(15);
  for (int round = 0; round < 40; ++round) {
    std::vector<bbox> boxes;
    const int count = 1 + static_cast<int>(rng() % 3);
    for (int i = 0; i < count; ++i) boxes.push_back(random_box(rng));
    const tile_set set(boxes, random_zooms(rng));
    const auto n = static_cast<std::uint32_t>(1 + rng() % 64);
    SCOPED_TRACE("round " + std::to_string(round) + ", N " + std::to_string(n));
    expect_parts_cover(set, n);
    if (HasFailure()) return;
  }
}

area_polygon random_polygon(std::mt19937_64& rng) {
  std::uniform_real_distribution<double> centre_lon(-170, 170);
  std::uniform_real_distribution<double> centre_lat(-60, 60);
  std::uniform_real_distribution<double> radius(0.5, 15);
  const double cx = centre_lon(rng);
  const double cy = centre_lat(rng);
  std::vector<cohort::app::tiles::lon_lat> ring;
  const int corners = 3 + static_cast<int>(rng() % 6);
  for (int i = 0; i < corners; ++i) {
    const double angle = 6.283185307179586 * i / corners;
    const double r = radius(rng);
    ring.push_back({cx + r * std::cos(angle), cy + r * std::sin(angle)});
  }
  ring.push_back(ring.front());
  return area_polygon{{ring}};
}

TEST(TileParts, RandomAreasEveryTileInExactlyOneBalancedPart) {
  std::mt19937_64 rng(1515);
  for (int round = 0; round < 25; ++round) {
    std::vector<area_polygon> polygons{random_polygon(rng)};
    if (rng() % 2 == 0) polygons.push_back(random_polygon(rng));
    const auto area = std::make_shared<const tile_area>(polygons, static_cast<int>(rng() % 2));
    const tile_set set = tile_set::of_area(area, random_zooms(rng));
    const auto n = static_cast<std::uint32_t>(1 + rng() % 64);
    SCOPED_TRACE("round " + std::to_string(round) + ", N " + std::to_string(n));
    expect_parts_cover(set, n);
    if (HasFailure()) return;
  }
}

// A part's tiles are contiguous in ID order, and the enumeration keeps the
// set's own (z, x, y) order.
TEST(TileParts, PartEnumerationKeepsTheSetsOrder) {
  const tile_set set({{5.1, 45.2, 15.3, 55.4}}, {4, 5, 6, 7});
  const tile_set part = set.within(part_ids(set, {1, 3}));
  std::optional<tile> previous;
  auto e = part.enumerate();
  while (auto t = e.next()) {
    EXPECT_TRUE(!previous || *previous < *t);
    previous = t;
  }
  EXPECT_TRUE(previous.has_value());
}

// Hilbert sub-squares: the first digits of a tile's index are the index of
// its ancestor, so a square's IDs are contiguous (what the descent rests on).
TEST(TileParts, AnAncestorsIndexIsAPrefix) {
  std::mt19937_64 rng(3);
  for (int round = 0; round < 2000; ++round) {
    const int z = 1 + static_cast<int>(rng() % 30);
    const int d = static_cast<int>(rng() % (z + 1));
    const auto x = static_cast<std::uint32_t>(rng() % (std::uint64_t{1} << z));
    const auto y = static_cast<std::uint32_t>(rng() % (std::uint64_t{1} << z));
    const std::uint64_t index = tile_id({z, x, y}) - cohort::app::tiles::first_tile_id(z);
    const std::uint64_t ancestor =
        tile_id({d, x >> (z - d), y >> (z - d)}) - cohort::app::tiles::first_tile_id(d);
    ASSERT_EQ(index >> (2 * (z - d)), ancestor) << z << "/" << x << "/" << y << " depth " << d;
  }
}

}  // namespace
