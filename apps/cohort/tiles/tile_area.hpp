#pragma once

/// \file
/// tile_area: an area of polygons (from GeoJSON, `cohort tiles --area`) and
/// the exact set of tiles that intersect it at each zoom, with an optional
/// buffer of whole tiles around.
///
/// Geometry conventions:
/// - Vertices are projected to Web Mercator (latitudes clamped to
///   ±max_latitude) and edges are straight lines there, as a map shows them.
/// - A tile is in the area when the interior of its square overlaps the
///   interior of a polygon (the border rule of tile_math.hpp): an edge that
///   crosses the tile, a tile inside the polygon, or a polygon inside the
///   tile. A tile entirely inside a hole is out; a tile that a hole's edge
///   crosses is in. Polygons are united (even-odd within one polygon).
/// - Antimeridian: a ring whose longitude jumps by more than 180° between
///   consecutive positions is unwrapped (the shorter way round); parts
///   beyond ±180 wrap to the other side. Polygons split at ±180 (RFC 7946
///   §3.1.9) need nothing special.
/// - buffer N adds every tile within N tiles (Chebyshev distance, columns
///   wrapping around the antimeridian, rows clamped) at every zoom.

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "cohort/tiles/tile_math.hpp"

namespace cohort::app::tiles {

/// A position in degrees.
struct lon_lat {
  double lon = 0;
  double lat = 0;
};

/// One polygon: its exterior ring, then its holes. Each ring is closed (its
/// last position equals its first) and has at least 4 positions.
struct area_polygon {
  std::vector<std::vector<lon_lat>> rings;
};

/// A GeoJSON text that is not an area: the message names what is wrong and
/// where ("feature 3, polygon 1, ring 2: a ring needs at least 4 positions").
class area_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Rows [begin, end) of one tile column.
using row_span = detail::y_span;

/// The area. Immutable; shared by the tile_set and its enumerators.
///
///   tile_area a = tile_area::from_geojson(text, 1);
///   std::uint64_t n = a.count_at_zoom(12);
class tile_area {
 public:
  /// Throws area_error when `polygons` is empty or a ring is not closed or
  /// has fewer than 4 positions, or std::invalid_argument for a negative
  /// buffer.
  tile_area(std::vector<area_polygon> polygons, int buffer = 0);

  /// Reads a GeoJSON Polygon, MultiPolygon, GeometryCollection of those,
  /// Feature or FeatureCollection. Throws area_error (one line).
  static tile_area from_geojson(std::string_view text, int buffer = 0);

  /// The buffer in tiles.
  int buffer() const { return buffer_; }

  /// One bounding box per polygon (west > east when it crosses the
  /// antimeridian), for MBTiles `bounds` and the fingerprint.
  std::vector<bbox> bounds() const;

  /// A short canonical text of the geometry and the buffer, the same for
  /// the same area: "area:<16 hex digits>[+buffer=N]".
  std::string fingerprint_text() const;

  /// Exact number of tiles at zoom z.
  std::uint64_t count_at_zoom(int z) const;
  /// True when `t` is in the area.
  bool contains(const tile& t) const;

  /// The columns [begin, end) that may hold tiles at zoom z: sorted,
  /// disjoint; every tile of the area lies in one of them.
  std::vector<row_span> candidate_columns(int z) const;
  /// The rows of column x at zoom z that are in the area (buffer included),
  /// sorted and disjoint.
  void column_rows(int z, std::uint32_t x, std::vector<row_span>& out) const;

 private:
  // A polygon in normalized Web Mercator: u = x / 2^z, v = y / 2^z.
  // Its edges (all rings: even-odd needs no ring identity), sorted by their
  // western end, so that a column looks only at the edges that can reach
  // it: those whose western end lies within `widest` west of its east side.
  struct projected_edge {
    double u0, v0, u1, v1;
  };
  struct projected_polygon {
    std::vector<projected_edge> edges;
    double widest = 0;  // the largest |u1 - u0|
    double min_u = 0, max_u = 0;
  };
  // Appends the polygon's projections to projected_: one per whole turn of
  // the globe that brings a part of it into (-180, 180).
  void project(const area_polygon& poly);
  void raw_rows(int z, std::uint32_t x, std::vector<row_span>& out) const;

  std::vector<area_polygon> polygons_;  // unwrapped, as given otherwise
  std::vector<projected_polygon> projected_;
  int buffer_ = 0;
};

}  // namespace cohort::app::tiles
