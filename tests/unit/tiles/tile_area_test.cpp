#include "cohort/tiles/tile_area.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <numbers>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace {

using cohort::app::tiles::area_error;
using cohort::app::tiles::area_polygon;
using cohort::app::tiles::bbox;
using cohort::app::tiles::lon_lat;
using cohort::app::tiles::max_latitude;
using cohort::app::tiles::tile;
using cohort::app::tiles::tile_area;
using cohort::app::tiles::tile_set;

// ---------------------------------------------------------------------------
// The reference: every tile of a range tested on its own against the
// polygons, with a straightforward exact test written independently of
// tile_area (Liang-Barsky clipping of each edge to the tile square, and a
// horizontal ray from the tile's centre; tile_area clips edges to column
// strips and casts vertical lines).
// ---------------------------------------------------------------------------

struct pt {
  double x, y;
};
using ring_t = std::vector<pt>;
using poly_t = std::vector<ring_t>;

// The slippy-map formulas as the OpenStreetMap wiki writes them.
pt project(lon_lat p, int z) {
  const double n = std::pow(2.0, z);
  const double lat = std::clamp(p.lat, -max_latitude, max_latitude) * std::numbers::pi / 180;
  return {(p.lon + 180.0) / 360.0 * n,
          (1.0 - std::log(std::tan(lat) + 1.0 / std::cos(lat)) / std::numbers::pi) / 2.0 * n};
}

// Does the segment a-b pass through the open square (x, x+1) x (y, y+1)?
bool segment_enters_square(pt a, pt b, double x, double y) {
  double t0 = 0, t1 = 1;
  const double dx = b.x - a.x, dy = b.y - a.y;
  const double p[4] = {-dx, dx, -dy, dy};
  const double q[4] = {a.x - x, x + 1 - a.x, a.y - y, y + 1 - a.y};
  for (int i = 0; i < 4; ++i) {
    if (p[i] == 0) {
      if (q[i] < 0) return false;
    } else {
      const double r = q[i] / p[i];
      if (p[i] < 0) {
        t0 = std::max(t0, r);
      } else {
        t1 = std::min(t1, r);
      }
    }
  }
  if (t0 > t1) return false;
  // The clipped piece lies in the closed square; it is in the open square
  // unless it lies on the square's border, and then so does its midpoint.
  const double tm = (t0 + t1) / 2;
  const double mx = a.x + dx * tm, my = a.y + dy * tm;
  return mx > x && mx < x + 1 && my > y && my < y + 1;
}

bool inside(const poly_t& poly, pt c) {
  bool in = false;
  for (const ring_t& r : poly) {
    for (std::size_t i = 0; i + 1 < r.size(); ++i) {
      const pt a = r[i], b = r[i + 1];
      if ((a.y > c.y) != (b.y > c.y)) {
        const double x = a.x + (c.y - a.y) * (b.x - a.x) / (b.y - a.y);
        if (x > c.x) in = !in;
      }
    }
  }
  return in;
}

bool reference_has(const std::vector<poly_t>& polys, std::uint32_t x, std::uint32_t y) {
  for (const poly_t& poly : polys) {
    for (const ring_t& r : poly) {
      for (std::size_t i = 0; i + 1 < r.size(); ++i) {
        if (segment_enters_square(r[i], r[i + 1], x, y)) return true;
      }
    }
    if (inside(poly, {x + 0.5, y + 0.5})) return true;
  }
  return false;
}

// The reference tile set at zoom z of polygons given within [-180, 180].
std::set<tile> reference(const std::vector<area_polygon>& polygons, int z, int buffer = 0) {
  std::vector<poly_t> polys;
  for (const area_polygon& a : polygons) {
    poly_t p;
    for (const auto& ring : a.rings) {
      ring_t r;
      for (const lon_lat& q : ring) r.push_back(project(q, z));
      p.push_back(r);
    }
    polys.push_back(p);
  }
  const std::int64_t n = std::int64_t{1} << z;
  // No tile outside the vertices' range can meet a polygon.
  double x_lo = n, x_hi = 0, y_lo = n, y_hi = 0;
  for (const poly_t& p : polys) {
    for (const ring_t& r : p) {
      for (const pt& q : r) {
        x_lo = std::min(x_lo, q.x);
        x_hi = std::max(x_hi, q.x);
        y_lo = std::min(y_lo, q.y);
        y_hi = std::max(y_hi, q.y);
      }
    }
  }
  const auto first = [&](double v) { return std::max<std::int64_t>(0, std::floor(v) - 1); };
  const auto last = [&](double v) { return std::min<std::int64_t>(n, std::ceil(v) + 1); };
  std::set<tile> raw;
  for (std::int64_t x = first(x_lo); x < last(x_hi); ++x) {
    for (std::int64_t y = first(y_lo); y < last(y_hi); ++y) {
      if (reference_has(polys, x, y)) {
        raw.insert(tile{z, static_cast<std::uint32_t>(x), static_cast<std::uint32_t>(y)});
      }
    }
  }
  if (buffer == 0) return raw;
  std::set<tile> out;
  for (const tile& t : raw) {
    for (std::int64_t dx = -buffer; dx <= buffer; ++dx) {
      for (std::int64_t dy = -buffer; dy <= buffer; ++dy) {
        const std::int64_t y = t.y + dy;
        if (y < 0 || y >= n) continue;
        const std::int64_t x = ((t.x + dx) % n + n) % n;
        out.insert(tile{z, static_cast<std::uint32_t>(x), static_cast<std::uint32_t>(y)});
      }
    }
  }
  return out;
}

std::set<tile> enumerated(const std::shared_ptr<const tile_area>& area, int z) {
  const tile_set set = tile_set::of_area(area, {z});
  std::set<tile> out;
  std::optional<tile> previous;
  auto e = set.enumerate();
  for (auto t = e.next(); t; t = e.next()) {
    EXPECT_TRUE(!previous || *previous < *t) << "enumeration out of order";
    previous = t;
    out.insert(*t);
  }
  EXPECT_EQ(set.count(), out.size()) << "count differs from the enumeration at zoom " << z;
  return out;
}

// Compares tile_area with the reference at zooms [0, max_z].
void expect_same_tiles(const std::vector<area_polygon>& polygons, int max_z, int buffer = 0) {
  const auto area = std::make_shared<const tile_area>(polygons, buffer);
  for (int z = 0; z <= max_z; ++z) {
    const std::set<tile> want = reference(polygons, z, buffer);
    const std::set<tile> got = enumerated(area, z);
    EXPECT_EQ(got, want) << "zoom " << z << ": " << got.size() << " tiles, reference "
                         << want.size();
    for (const tile& t : want) {
      EXPECT_TRUE(area->contains(t)) << t.z << "/" << t.x << "/" << t.y;
      if (!area->contains(t)) break;
    }
  }
}

area_polygon polygon(std::vector<std::vector<lon_lat>> rings) {
  return area_polygon{std::move(rings)};
}

// A thin strip from south-west to north-east: its bounding box holds many
// times the tiles it crosses.
area_polygon thin_diagonal_strip() {
  return polygon({{{2.01, 40.02}, {2.11, 40.01}, {12.03, 49.97}, {11.93, 49.98}, {2.01, 40.02}}});
}

// A square with a square hole.
area_polygon square_with_hole() {
  return polygon({{{-20.3, -10.2}, {20.1, -10.2}, {20.1, 25.7}, {-20.3, 25.7}, {-20.3, -10.2}},
                  {{-8.4, -1.1}, {-8.4, 12.6}, {9.2, 12.6}, {9.2, -1.1}, {-8.4, -1.1}}});
}

// A MultiPolygon split at the antimeridian (RFC 7946 §3.1.9): one shape
// from 170.2°E to 170.5°W, a triangle-ish quadrilateral.
std::vector<area_polygon> across_antimeridian_split() {
  return {polygon({{{170.2, -20.4}, {180, -20.4}, {180, -5.9}, {172.3, -1.7}, {170.2, -20.4}}}),
          polygon({{{-180, -20.4}, {-170.5, -20.4}, {-175.6, -7.3}, {-180, -5.9}, {-180, -20.4}}})};
}

TEST(TileArea, ThinDiagonalStripMatchesTheReference) {
  expect_same_tiles({thin_diagonal_strip()}, 12);
}

TEST(TileArea, ThinDiagonalStripIsFarFewerTilesThanItsBox) {
  const tile_area area({thin_diagonal_strip()});
  const tile_set box({bbox{2.01, 40.01, 12.03, 49.98}}, {12});
  EXPECT_LT(area.count_at_zoom(12) * 10, box.count());
}

TEST(TileArea, HoleSubtractsOnlyTilesWhollyInsideIt) {
  expect_same_tiles({square_with_hole()}, 12);
  const tile_area with_hole({square_with_hole()});
  const tile_area without({polygon({square_with_hole().rings[0]})});
  // At zoom 6 the hole (17.6° x 13.7°) holds whole tiles; at zoom 0 none.
  EXPECT_LT(with_hole.count_at_zoom(6), without.count_at_zoom(6));
  EXPECT_EQ(with_hole.count_at_zoom(1), without.count_at_zoom(1));
}

TEST(TileArea, MultiPolygonAcrossTheAntimeridianMatchesTheReference) {
  expect_same_tiles(across_antimeridian_split(), 12);
}

TEST(TileArea, UnwrappedRingAcrossTheAntimeridianIsTheSplitOne) {
  // The same shape written as one ring with a longitude jump of > 180°.
  const area_polygon jumping = polygon({{{170.2, -20.4},
                                         {-170.5, -20.4},
                                         {-175.6, -7.3},
                                         {-180, -5.9},
                                         {172.3, -1.7},
                                         {170.2, -20.4}}});
  const auto one = std::make_shared<const tile_area>(std::vector{jumping});
  const auto split = std::make_shared<const tile_area>(across_antimeridian_split());
  for (int z = 0; z <= 12; ++z) EXPECT_EQ(enumerated(one, z), enumerated(split, z)) << z;
  // Also written with longitudes beyond 180.
  const area_polygon beyond = polygon({{{170.2, -20.4},
                                        {189.5, -20.4},
                                        {184.4, -7.3},
                                        {180, -5.9},
                                        {172.3, -1.7},
                                        {170.2, -20.4}}});
  const auto wide = std::make_shared<const tile_area>(std::vector{beyond});
  for (int z = 0; z <= 12; ++z) EXPECT_EQ(enumerated(wide, z), enumerated(split, z)) << z;
  // A ring wholly beyond 180 is the same ring a turn west.
  const auto east = std::make_shared<const tile_area>(
      std::vector{polygon({{{200.5, 10.1}, {210.2, 10.1}, {205.3, 20.7}, {200.5, 10.1}}})});
  const auto west = std::make_shared<const tile_area>(
      std::vector{polygon({{{-159.5, 10.1}, {-149.8, 10.1}, {-154.7, 20.7}, {-159.5, 10.1}}})});
  for (int z = 0; z <= 10; ++z) EXPECT_EQ(enumerated(east, z), enumerated(west, z)) << z;
}

TEST(TileArea, BufferAddsTilesAroundAndWrapsTheAntimeridian) {
  expect_same_tiles({thin_diagonal_strip()}, 8, 2);
  expect_same_tiles(across_antimeridian_split(), 8, 1);
}

TEST(TileArea, RandomPolygonsMatchTheReference) {
  std::mt19937_64 rng(20261205);
  std::uniform_real_distribution<double> unit(0, 1);
  for (int round = 0; round < 40; ++round) {
    const double cx = -170 + 340 * unit(rng), cy = -70 + 140 * unit(rng);
    const double radius = 0.5 + 30 * unit(rng) * unit(rng);
    const int corners = 3 + static_cast<int>(unit(rng) * 12);
    // A star-shaped ring (simple), sometimes self-intersecting (random
    // angles), sometimes with a hole.
    const bool shuffled = round % 5 == 4;
    std::vector<double> angles;
    for (int i = 0; i < corners; ++i) angles.push_back(unit(rng) * 2 * std::numbers::pi);
    if (!shuffled) std::sort(angles.begin(), angles.end());
    std::vector<lon_lat> ring;
    for (double a : angles) {
      const double r = radius * (0.3 + 0.7 * unit(rng));
      ring.push_back({std::clamp(cx + r * std::cos(a), -180.0, 180.0),
                      std::clamp(cy + r * std::sin(a) * 0.6, -89.0, 89.0)});
    }
    ring.push_back(ring.front());
    std::vector<std::vector<lon_lat>> rings{ring};
    if (round % 3 == 0) {
      const double h = radius * 0.2;
      rings.push_back({{cx - h, cy - h * 0.5},
                       {cx + h, cy - h * 0.5},
                       {cx + h * 0.3, cy + h * 0.5},
                       {cx - h, cy - h * 0.5}});
    }
    SCOPED_TRACE("round " + std::to_string(round));
    expect_same_tiles({polygon(rings)}, 7, round % 4 == 1 ? 1 : 0);
  }
}

TEST(TileArea, ManyShortEdgesMatchTheReference) {
  // A circle of 5000 vertices with a circular hole of 2000: each column
  // reads only the edges that can reach it.
  std::vector<std::vector<lon_lat>> rings(2);
  for (int i = 0; i <= 5000; ++i) {
    const double a = 2 * std::numbers::pi * (i % 5000) / 5000;
    rings[0].push_back({10 + 5 * std::cos(a), 50 + 3 * std::sin(a)});
  }
  for (int i = 0; i <= 2000; ++i) {
    const double a = 2 * std::numbers::pi * (i % 2000) / 2000;
    rings[1].push_back({10.3 + 2 * std::cos(a), 50.1 + 1.2 * std::sin(a)});
  }
  expect_same_tiles({polygon(rings)}, 9);
}

TEST(TileArea, CountsHighZoomsWithoutVisitingTheBox) {
  // Zoom 20 of the strip: about 1% of its box's 10^9 tiles.
  const tile_area area({thin_diagonal_strip()});
  const std::uint64_t n = area.count_at_zoom(20);
  EXPECT_GT(n, 100'000u);
  EXPECT_LT(n, tile_set({bbox{2.01, 40.01, 12.03, 49.98}}, {20}).count() / 50);
}

TEST(TileArea, BoundsAndFingerprint) {
  const tile_area split(across_antimeridian_split());
  ASSERT_EQ(split.bounds().size(), 2u);
  EXPECT_EQ(split.bounds()[0], (bbox{170.2, -20.4, 180, -1.7}));
  const tile_area jumping({polygon(
      {{{170.2, -20.4}, {-170.5, -20.4}, {-175.6, -7.3}, {172.3, -1.7}, {170.2, -20.4}}})});
  ASSERT_EQ(jumping.bounds().size(), 1u);
  EXPECT_EQ(jumping.bounds()[0], (bbox{170.2, -20.4, -170.5, -1.7}));
  EXPECT_TRUE(jumping.bounds()[0].crosses_antimeridian());

  const tile_area strip({thin_diagonal_strip()});
  EXPECT_EQ(strip.fingerprint_text(), tile_area({thin_diagonal_strip()}).fingerprint_text());
  EXPECT_NE(strip.fingerprint_text(), tile_area({thin_diagonal_strip()}, 1).fingerprint_text());
  EXPECT_NE(strip.fingerprint_text(), tile_area({square_with_hole()}).fingerprint_text());
  EXPECT_EQ(strip.fingerprint_text().rfind("area:", 0), 0u);
}

// ---------------------------------------------------------------------------
// GeoJSON
// ---------------------------------------------------------------------------

std::string geojson_error(const std::string& text) {
  try {
    tile_area::from_geojson(text);
  } catch (const area_error& e) {
    return e.what();
  }
  return "(accepted)";
}

TEST(TileAreaGeoJson, ReadsEveryContainer) {
  const std::string ring = "[[0,0],[10,0],[10,10],[0,10],[0,0]]";
  const std::string poly = R"({"type":"Polygon","coordinates":[)" + ring + "]}";
  const std::string multi = R"({"type":"MultiPolygon","coordinates":[[)" + ring + "]]}";
  const std::string feature = R"({"type":"Feature","properties":{},"geometry":)" + poly + "}";
  const std::string collection = R"({"type":"FeatureCollection","features":[)" + feature +
                                 R"(,{"type":"Feature","geometry":null}]})";
  const std::string geometries = R"({"type":"GeometryCollection","geometries":[)" + multi + "]}";
  const std::uint64_t want = tile_area::from_geojson(poly).count_at_zoom(8);
  for (const std::string& text : {multi, feature, collection, geometries}) {
    EXPECT_EQ(tile_area::from_geojson(text).count_at_zoom(8), want) << text;
  }
  EXPECT_EQ(tile_area::from_geojson(poly).bounds()[0], (bbox{0, 0, 10, 10}));
}

TEST(TileAreaGeoJson, ErrorsSayWhatAndWhere) {
  EXPECT_EQ(geojson_error(R"({"type":"FeatureCollection","features":[
      {"type":"Feature","geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]}},
      {"type":"Feature","geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[0,0]]]}}]})"),
            "feature 2, ring 1: a Polygon ring needs at least 4 positions");
  EXPECT_EQ(geojson_error(R"({"type":"MultiPolygon","coordinates":[[[[0,0],[1,0],[1,1],[0,0]]],
      [[[0,0],[1,0],[1,1],[0,1]]]]})"),
            "polygon 2, ring 1: a Polygon ring must end with its first position");
  EXPECT_EQ(geojson_error(R"({"type":"Point","coordinates":[1,2]})"),
            "a Point has no area (use a Polygon or a MultiPolygon)");
  EXPECT_EQ(geojson_error(R"({"type":"Polygon","coordinates":[[[0,0],[1,"a"],[1,1],[0,0]]]})"),
            "ring 1, position 2: a coordinate is not a number");
  EXPECT_EQ(geojson_error(R"({"type":"Polygon","coordinates":[[[0,0],[1,95],[1,1],[0,0]]]})"),
            "ring 1, position 2: a position is outside longitude ±360, latitude ±90");
  EXPECT_EQ(geojson_error(R"({"type":"FeatureCollection","features":[]})"),
            "no Polygon or MultiPolygon in it");
  EXPECT_EQ(geojson_error(R"({"type":"Polygon"})"), "a Polygon has no \"coordinates\"");
  EXPECT_EQ(geojson_error("[1,2]"), "not a GeoJSON object");
  EXPECT_EQ(geojson_error(R"({"type":"Polygon",)").rfind("not valid JSON near byte", 0), 0u);
  EXPECT_EQ(geojson_error(R"({"type":"Blob"})"), "unknown geometry type \"Blob\"");
  // A ring that goes all the way round the globe has no inside.
  EXPECT_EQ(geojson_error(R"({"type":"Polygon","coordinates":[[[0,10],[120,10],[-120,10],
      [0,10]]]})"),
            "ring 1: the ring goes all the way round the globe (around a pole)");
  EXPECT_EQ(geojson_error(R"({"type":"FeatureCollection","features":[{"type":"Feature",
      "geometry":{"type":"MultiPolygon","coordinates":[[[[0,0],[1,0],[1,1],[0,0]]],
      [[[0,10],[120,10],[-120,10],[0,10]]]]}}]})"),
            "feature 1, polygon 2, ring 1: the ring goes all the way round the globe (around a "
            "pole)");
}

}  // namespace
