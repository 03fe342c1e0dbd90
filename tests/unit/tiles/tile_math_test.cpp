#include "cohort/tiles/tile_math.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numbers>
#include <random>
#include <set>
#include <stdexcept>
#include <vector>

#include <gtest/gtest.h>

namespace {

using cohort::app::tiles::bbox;
using cohort::app::tiles::max_latitude;
using cohort::app::tiles::tile;
using cohort::app::tiles::tile_enumerator;
using cohort::app::tiles::tile_rect;
using cohort::app::tiles::tile_set;
using cohort::app::tiles::zoom_count;

// The slippy-map formulas as the OpenStreetMap wiki writes them
// (ln(tan + sec) rather than the asinh the implementation uses), as an
// independent reference.
double ref_x(double lon, int z) {
  return (lon + 180.0) / 360.0 * std::pow(2.0, z);
}
double ref_y(double lat, int z) {
  const double r = std::clamp(lat, -max_latitude, max_latitude) * std::numbers::pi / 180.0;
  return (1.0 - std::log(std::tan(r) + 1.0 / std::cos(r)) / std::numbers::pi) / 2.0 *
         std::pow(2.0, z);
}
std::uint32_t ref_tile_x(double lon, int z) {
  return static_cast<std::uint32_t>(std::floor(ref_x(lon, z)));
}
std::uint32_t ref_tile_y(double lat, int z) {
  return static_cast<std::uint32_t>(std::floor(ref_y(lat, z)));
}

std::uint64_t world(int z) {
  return std::uint64_t{1} << (2 * z);
}

std::vector<tile> all_tiles(const tile_set& set) {
  std::vector<tile> out;
  auto e = set.enumerate();
  while (std::optional<tile> t = e.next()) out.push_back(*t);
  return out;
}

// Whether the open tile square (x, x+1) x (y, y+1) overlaps the box's
// interior, by the reference formulas: the border rule, brute force.
bool ref_covers(const bbox& b, const tile& t) {
  const auto overlaps = [](double lo, double hi, std::uint32_t i) {
    return lo < static_cast<double>(i) + 1.0 && static_cast<double>(i) < hi;
  };
  const bool rows = overlaps(ref_y(b.north, t.z), ref_y(b.south, t.z), t.y);
  if (!rows) return false;
  if (!b.crosses_antimeridian()) return overlaps(ref_x(b.west, t.z), ref_x(b.east, t.z), t.x);
  return overlaps(ref_x(b.west, t.z), ref_x(180, t.z), t.x) ||
         overlaps(ref_x(-180, t.z), ref_x(b.east, t.z), t.x);
}

TEST(TileMath, ZoomZeroHasOneTileForTheWholeWorld) {
  EXPECT_EQ(cohort::app::tiles::tile_at(-179.9, 85, 0), (tile{0, 0, 0}));
  EXPECT_EQ(cohort::app::tiles::tile_at(179.9, -85, 0), (tile{0, 0, 0}));
  const tile_set set({bbox{-180, -90, 180, 90}}, {0});
  EXPECT_EQ(set.count(), 1u);
  EXPECT_EQ(all_tiles(set), std::vector<tile>{(tile{0, 0, 0})});
}

TEST(TileMath, OriginAtZoomOneIsTheSouthEastQuarter) {
  // (0, 0) lies on both borders; a point on a border belongs to the tile
  // east and south of it.
  EXPECT_EQ(cohort::app::tiles::tile_at(0, 0, 1), (tile{1, 1, 1}));
  EXPECT_EQ(cohort::app::tiles::tile_at(-0.001, 0.001, 1), (tile{1, 0, 0}));
  EXPECT_EQ(cohort::app::tiles::tile_at(0.001, -0.001, 1), (tile{1, 1, 1}));
}

TEST(TileMath, KnownPointAtZoom14MatchesTheReferenceFormula) {
  // Brandenburg Gate, Berlin: the tile published on the OSM wiki.
  const double lon = 13.377704, lat = 52.516275;
  EXPECT_EQ(cohort::app::tiles::tile_at(lon, lat, 14), (tile{14, 8800, 5373}));
  for (int z = 0; z <= 30; ++z) {
    EXPECT_EQ(cohort::app::tiles::tile_x(lon, z), ref_tile_x(lon, z)) << "z=" << z;
    EXPECT_EQ(cohort::app::tiles::tile_y(lat, z), ref_tile_y(lat, z)) << "z=" << z;
  }
}

TEST(TileMath, CityBoxAtZoom14GivesTheRangesOfItsCorners) {
  const bbox berlin{13.08, 52.33, 13.76, 52.68};
  const std::uint32_t x0 = ref_tile_x(13.08, 14), x1 = ref_tile_x(13.76, 14);
  const std::uint32_t y0 = ref_tile_y(52.68, 14), y1 = ref_tile_y(52.33, 14);
  EXPECT_EQ(x0, 8787u);
  EXPECT_EQ(y1, 5387u);
  const std::vector<tile_rect> rects = cohort::app::tiles::box_rects(berlin, 14);
  ASSERT_EQ(rects.size(), 1u);
  EXPECT_EQ(rects[0], (tile_rect{x0, x1 + 1, y0, y1 + 1}));
  const tile_set set({berlin}, {14});
  EXPECT_EQ(set.count(), std::uint64_t{x1 - x0 + 1} * (y1 - y0 + 1));
  EXPECT_EQ(set.count(), 32u * 27u);
}

TEST(TileMath, BoxEdgeOnATileBorderDoesNotIncludeTheNextTile) {
  // At zoom 2, longitude 0 and 90 are the borders of column 2, and latitude 0
  // is the border between rows 1 and 2.
  const std::vector<tile_rect> rects = cohort::app::tiles::box_rects(bbox{0, 0, 90, 10}, 2);
  ASSERT_EQ(rects.size(), 1u);
  EXPECT_EQ(rects[0], (tile_rect{2, 3, 1, 2}));
  const tile_set south({bbox{-90, -10, 0, 0}}, {1});
  EXPECT_EQ(all_tiles(south), std::vector<tile>{(tile{1, 0, 1})});
}

TEST(TileMath, LongitudeAtTheEdgesOfTheWorld) {
  EXPECT_EQ(cohort::app::tiles::tile_x(-180, 5), 0u);
  EXPECT_EQ(cohort::app::tiles::tile_x(180, 5), 31u);
  EXPECT_EQ(cohort::app::tiles::tile_x(180, 30), (1u << 30) - 1);
}

TEST(TileMath, LatitudesAreClampedToWebMercator) {
  for (int z : {1, 7, 18, 30}) {
    const std::uint32_t last = (std::uint32_t{1} << z) - 1;
    EXPECT_EQ(cohort::app::tiles::tile_y(90, z), 0u) << z;
    EXPECT_EQ(cohort::app::tiles::tile_y(89, z), 0u) << z;
    EXPECT_EQ(cohort::app::tiles::tile_y(max_latitude, z), 0u) << z;
    EXPECT_EQ(cohort::app::tiles::tile_y(-90, z), last) << z;
    EXPECT_EQ(cohort::app::tiles::tile_y(-max_latitude, z), last) << z;
  }
  // A whole-world box, with poles beyond the clamp, is every tile once.
  for (int z = 0; z <= 6; ++z) {
    EXPECT_EQ(tile_set({bbox{-180, -90, 180, 90}}, {z}).count(), world(z)) << z;
  }
  // A box reaching past the clamp stops at row 0.
  const std::vector<tile_rect> rects = cohort::app::tiles::box_rects(bbox{0, 80, 10, 89.9}, 3);
  ASSERT_EQ(rects.size(), 1u);
  EXPECT_EQ(rects[0].y_begin, 0u);
}

TEST(TileMath, AntimeridianBoxIsTwoColumnRanges) {
  const bbox fiji{170, -10, -170, 10};
  ASSERT_TRUE(fiji.crosses_antimeridian());
  EXPECT_EQ(tile_set({fiji}, {0}).count(), 1u);  // both halves are tile 0/0/0
  EXPECT_EQ(tile_set({fiji}, {1}).count(), 4u);
  const int z = 5;
  const std::vector<tile_rect> rects = cohort::app::tiles::box_rects(fiji, z);
  ASSERT_EQ(rects.size(), 2u);
  const std::uint32_t rows = ref_tile_y(-10, z) - ref_tile_y(10, z) + 1;
  const std::uint32_t east_cols = 32 - ref_tile_x(170, z);
  const std::uint32_t west_cols = ref_tile_x(-170, z) + 1;
  EXPECT_EQ(rects[0],
            (tile_rect{ref_tile_x(170, z), 32, ref_tile_y(10, z), ref_tile_y(-10, z) + 1}));
  EXPECT_EQ(rects[1],
            (tile_rect{0, ref_tile_x(-170, z) + 1, ref_tile_y(10, z), ref_tile_y(-10, z) + 1}));
  EXPECT_EQ(tile_set({fiji}, {z}).count(), std::uint64_t{rows} * (east_cols + west_cols));

  // Enumerated in x order: the western half (low x) comes first.
  const std::vector<tile> tiles = all_tiles(tile_set({fiji}, {z}));
  ASSERT_FALSE(tiles.empty());
  EXPECT_EQ(tiles.front().x, 0u);
  EXPECT_EQ(tiles.back().x, 31u);
}

TEST(TileMath, AntimeridianBoxWithAnEdgeOn180HasOneHalf) {
  // West 180 going east is the same as west -180; east -180 as east 180.
  for (int z : {0, 3, 9}) {
    EXPECT_EQ(cohort::app::tiles::box_rects(bbox{180, 0, -170, 10}, z),
              cohort::app::tiles::box_rects(bbox{-180, 0, -170, 10}, z));
    EXPECT_EQ(cohort::app::tiles::box_rects(bbox{170, 0, -180, 10}, z),
              cohort::app::tiles::box_rects(bbox{170, 0, 180, 10}, z));
  }
}

TEST(TileMath, OverlappingBoxesAreCountedOnce) {
  const bbox a{0, 0, 10, 10};
  const bbox b{5, 5, 15, 15};
  const int z = 8;
  const tile_set only_a({a}, {z});
  EXPECT_EQ(tile_set({a, a, a}, {z}).count(), only_a.count());
  EXPECT_EQ(tile_set({a, bbox{2, 2, 8, 8}}, {z}).count(), only_a.count());

  // |A u B| = |A| + |B| - |A n B|, with the intersection's tiles from the
  // rectangles' own bounds.
  const tile_rect ra = cohort::app::tiles::box_rects(a, z)[0];
  const tile_rect rb = cohort::app::tiles::box_rects(b, z)[0];
  const tile_rect both{std::max(ra.x_begin, rb.x_begin), std::min(ra.x_end, rb.x_end),
                       std::max(ra.y_begin, rb.y_begin), std::min(ra.y_end, rb.y_end)};
  const tile_set ab({a, b}, {z});
  EXPECT_EQ(ab.count(), ra.size() + rb.size() - both.size());
  const std::vector<tile> tiles = all_tiles(ab);
  EXPECT_EQ(tiles.size(), ab.count());
  EXPECT_EQ(std::set<tile>(tiles.begin(), tiles.end()).size(), tiles.size());
}

TEST(TileMath, DisjointBoxesWithAGapBetweenThem) {
  const tile_set set({bbox{-170, 0, -160, 10}, bbox{160, -10, 170, 0}}, {6});
  const std::vector<tile> tiles = all_tiles(set);
  EXPECT_EQ(tiles.size(), set.count());
  EXPECT_EQ(set.count(), cohort::app::tiles::box_rects(bbox{-170, 0, -160, 10}, 6)[0].size() +
                             cohort::app::tiles::box_rects(bbox{160, -10, 170, 0}, 6)[0].size());
}

TEST(TileMath, CountsPerZoomAndZoomsAreSortedAndDeduplicated) {
  const tile_set set({bbox{-180, -90, 180, 90}}, {3, 1, 3, 0});
  EXPECT_EQ(set.zooms(), (std::vector<int>{0, 1, 3}));
  EXPECT_EQ(set.counts_per_zoom(), (std::vector<zoom_count>{{0, 1}, {1, 4}, {3, 64}}));
  EXPECT_EQ(set.count(), 69u);
  EXPECT_EQ(set.count_at_zoom(2), 0u);
}

TEST(TileMath, HugeCountsAreComputedWithoutEnumerating) {
  std::vector<int> zooms;
  for (int z = 0; z <= 30; ++z) zooms.push_back(z);
  const tile_set set({bbox{-180, -90, 180, 90}}, zooms);
  std::uint64_t expected = 0;
  for (int z = 0; z <= 30; ++z) expected += world(z);
  EXPECT_EQ(set.count(), expected);  // (4^31 - 1) / 3, about 1.4e18
  EXPECT_EQ(set.count_at_zoom(30), world(30));

  // The enumeration starts at once, however many tiles follow.
  auto e = set.enumerate();
  EXPECT_EQ(e.next(), (tile{0, 0, 0}));
  EXPECT_EQ(e.next(), (tile{1, 0, 0}));
  EXPECT_EQ(e.next(), (tile{1, 0, 1}));
  EXPECT_EQ(e.next(), (tile{1, 1, 0}));
}

TEST(TileMath, EmptySetsEnumerateNothing) {
  EXPECT_EQ(tile_enumerator{}.next(), std::nullopt);
  const tile_set no_boxes({}, {1, 2});
  EXPECT_EQ(no_boxes.count(), 0u);
  EXPECT_EQ(no_boxes.enumerate().next(), std::nullopt);
  const tile_set no_zooms({bbox{0, 0, 1, 1}}, {});
  EXPECT_EQ(no_zooms.count(), 0u);
  EXPECT_EQ(no_zooms.enumerate().next(), std::nullopt);
}

TEST(TileMath, EnumerationStaysFinishedAfterTheLastTile) {
  auto e = tile_set({bbox{0, 0, 1, 1}}, {0}).enumerate();
  EXPECT_EQ(e.next(), (tile{0, 0, 0}));
  EXPECT_EQ(e.next(), std::nullopt);
  EXPECT_EQ(e.next(), std::nullopt);
}

TEST(TileMath, ContainsAgreesWithTheBoxes) {
  const tile_set set({bbox{170, -10, -170, 10}}, {4});
  EXPECT_TRUE(set.contains(cohort::app::tiles::tile_at(175, 0, 4)));
  EXPECT_TRUE(set.contains(cohort::app::tiles::tile_at(-175, 0, 4)));
  EXPECT_FALSE(set.contains(cohort::app::tiles::tile_at(0, 0, 4)));
  EXPECT_FALSE(set.contains(cohort::app::tiles::tile_at(175, 0, 5)));  // zoom not in set
}

TEST(TileMath, InvalidInputIsRejected) {
  EXPECT_THROW(tile_set({bbox{0, 0, 1, 1}}, {31}), std::invalid_argument);
  EXPECT_THROW(tile_set({bbox{0, 0, 1, 1}}, {-1}), std::invalid_argument);
  EXPECT_THROW(tile_set({bbox{1, 0, 1, 1}}, {1}), std::invalid_argument);    // no width
  EXPECT_THROW(tile_set({bbox{0, 1, 1, 1}}, {1}), std::invalid_argument);    // no height
  EXPECT_THROW(tile_set({bbox{0, 86, 1, 89}}, {1}), std::invalid_argument);  // beyond the clamp
  EXPECT_THROW(tile_set({bbox{180, 0, -180, 1}}, {1}), std::invalid_argument);
  EXPECT_THROW(tile_set({bbox{0, 0, 181, 1}}, {1}), std::invalid_argument);
  EXPECT_THROW(tile_set({bbox{0, 0, NAN, 1}}, {1}), std::invalid_argument);
}

TEST(TileMath, TmsRowFlip) {
  EXPECT_EQ(cohort::app::tiles::tms_y(0, 0), 0u);
  EXPECT_EQ(cohort::app::tiles::tms_y(0, 3), 7u);
  EXPECT_EQ(cohort::app::tiles::tms_y(7, 3), 0u);
  EXPECT_EQ(cohort::app::tiles::tms_y(5373, 14), 16383u - 5373u);
  EXPECT_EQ(cohort::app::tiles::tms_y(0, 30), (1u << 30) - 1);
  for (std::uint32_t y = 0; y < 16; ++y) {
    EXPECT_EQ(cohort::app::tiles::tms_y(cohort::app::tiles::tms_y(y, 4), 4), y);
  }
}

TEST(TileMath, QuadkeysMatchTheBingTileSystem) {
  // Both examples are from Microsoft's "Bing Maps Tile System" article.
  EXPECT_EQ(cohort::app::tiles::quadkey({3, 3, 5}), "213");
  EXPECT_EQ(cohort::app::tiles::quadkey({16, 35210, 21493}), "1202102332221212");
  EXPECT_EQ(cohort::app::tiles::quadkey({0, 0, 0}), "");
  EXPECT_EQ(cohort::app::tiles::quadkey({1, 1, 1}), "3");
  EXPECT_EQ(cohort::app::tiles::quadkey({30, (1u << 30) - 1, 0}), std::string(30, '1'));
  std::string out = "prefix/";
  cohort::app::tiles::append_quadkey(out, {2, 2, 1});
  EXPECT_EQ(out, "prefix/12");
}

// Property: for random boxes and zooms, the enumeration yields exactly
// count() tiles, in strictly increasing (z, x, y) order, each covered by a
// box; and at low zooms the set equals a brute-force check of every tile.
TEST(TileMath, CountEqualsEnumerationForRandomBoxes) {
  std::mt19937_64 rng(20240611);
  std::uniform_real_distribution<double> lon(-180, 180);
  std::uniform_real_distribution<double> lat(-84, 80);
  std::uniform_int_distribution<int> zoom(0, 12);
  std::uniform_int_distribution<int> box_count(1, 4);
  std::uniform_real_distribution<double> unit(0, 1);
  for (int trial = 0; trial < 400; ++trial) {
    std::vector<int> zooms;
    const int zoom_count = 1 + trial % 3;
    for (int i = 0; i < zoom_count; ++i) zooms.push_back(zoom(rng));
    const int max_z = *std::max_element(zooms.begin(), zooms.end());
    // Keep boxes about 40 tiles wide at the highest zoom so each trial stays
    // small; some trials use whole-world sized boxes at low zooms.
    const double span = std::min(360.0, 360.0 * 40.0 / std::pow(2.0, max_z));
    std::vector<bbox> boxes;
    const int n = box_count(rng);
    for (int i = 0; i < n; ++i) {
      const double w = lon(rng);
      const double width = span * (0.05 + 0.95 * unit(rng));
      double e = w + width;
      if (e > 180) e -= 360;  // wraps: a box crossing the antimeridian
      const double s = lat(rng);
      const double north = std::min(85.0, s + span / 2 * (0.05 + 0.95 * unit(rng)));
      boxes.push_back(bbox{w, s, e, north});
    }
    const tile_set set(boxes, zooms);
    const std::vector<tile> tiles = all_tiles(set);
    ASSERT_EQ(tiles.size(), set.count()) << "trial " << trial;
    for (std::size_t i = 1; i < tiles.size(); ++i) {
      ASSERT_LT(tiles[i - 1], tiles[i]) << "trial " << trial << " at " << i;
    }
    for (const tile& t : tiles) {
      bool covered = false;
      for (const bbox& b : boxes) covered = covered || ref_covers(b, t);
      ASSERT_TRUE(covered) << "trial " << trial << " tile " << t.z << "/" << t.x << "/" << t.y;
      ASSERT_TRUE(set.contains(t));
    }
    if (max_z <= 7) {
      std::uint64_t brute = 0;
      for (int z : set.zooms()) {
        const std::uint32_t n_axis = std::uint32_t{1} << z;
        for (std::uint32_t x = 0; x < n_axis; ++x) {
          for (std::uint32_t y = 0; y < n_axis; ++y) {
            bool covered = false;
            for (const bbox& b : boxes) covered = covered || ref_covers(b, tile{z, x, y});
            brute += covered ? 1 : 0;
          }
        }
      }
      ASSERT_EQ(set.count(), brute) << "trial " << trial;
    }
  }
}

}  // namespace
