// tile_area::from_geojson: GeoJSON (RFC 7946) to polygons, with one-line
// errors that say where ("feature 3, polygon 2, ring 1: ...", numbered
// from 1).

#include <boost/json.hpp>

#include <cmath>
#include <string>

#include "cohort/tiles/tile_area.hpp"

namespace cohort::app::tiles {
namespace {

namespace json = boost::json;

[[noreturn]] void fail(const std::string& where, const std::string& what) {
  throw area_error(where.empty() ? what : where + ": " + what);
}

std::string joined(const std::string& where, const std::string& more) {
  return where.empty() ? more : where + ", " + more;
}

double number(const json::value& v, const std::string& where) {
  if (v.is_double()) return v.get_double();
  if (v.is_int64()) return static_cast<double>(v.get_int64());
  if (v.is_uint64()) return static_cast<double>(v.get_uint64());
  fail(where, "a coordinate is not a number");
}

const json::array& array_of(const json::object& o, const char* key, const std::string& where,
                            const char* what) {
  const json::value* v = o.if_contains(key);
  if (!v) fail(where, std::string(what) + " has no \"" + key + "\"");
  if (!v->is_array()) fail(where, std::string("\"") + key + "\" is not an array");
  return v->get_array();
}

area_polygon polygon_of(const json::array& rings, const std::string& where) {
  if (rings.empty()) fail(where, "a Polygon needs at least one ring");
  area_polygon poly;
  for (std::size_t r = 0; r < rings.size(); ++r) {
    const std::string at = joined(where, "ring " + std::to_string(r + 1));
    if (!rings[r].is_array()) fail(at, "a ring is not an array of positions");
    const json::array& ring = rings[r].get_array();
    if (ring.size() < 4) fail(at, "a Polygon ring needs at least 4 positions");
    std::vector<lon_lat> out;
    out.reserve(ring.size());
    for (std::size_t i = 0; i < ring.size(); ++i) {
      const std::string pos = joined(at, "position " + std::to_string(i + 1));
      if (!ring[i].is_array() || ring[i].get_array().size() < 2)
        fail(pos, "a position is not an array [longitude, latitude]");
      const json::array& p = ring[i].get_array();
      const lon_lat ll{number(p[0], pos), number(p[1], pos)};
      if (!std::isfinite(ll.lon) || !std::isfinite(ll.lat) || std::abs(ll.lon) > 360 ||
          std::abs(ll.lat) > 90)
        fail(pos, "a position is outside longitude ±360, latitude ±90");
      out.push_back(ll);
    }
    if (out.front().lon != out.back().lon || out.front().lat != out.back().lat)
      fail(at, "a Polygon ring must end with its first position");
    poly.rings.push_back(std::move(out));
  }
  // What only the geometry can tell (a ring around a pole), said here with
  // the feature's place rather than the polygon's rank in the whole area.
  try {
    tile_area{{poly}};
  } catch (const area_error& e) {
    constexpr std::string_view own = "polygon 1, ";
    std::string_view what = e.what();
    if (what.starts_with(own)) what.remove_prefix(own.size());
    throw area_error(joined(where, std::string(what)));
  }
  return poly;
}

void add_geometry(const json::value& v, const std::string& where, std::vector<area_polygon>& out,
                  int depth) {
  if (!v.is_object()) fail(where, "a geometry is not a JSON object");
  const json::object& o = v.get_object();
  const json::value* type = o.if_contains("type");
  if (!type || !type->is_string()) fail(where, "a geometry has no \"type\"");
  const std::string t(type->get_string());
  if (t == "Polygon") {
    out.push_back(polygon_of(array_of(o, "coordinates", where, "a Polygon"), where));
  } else if (t == "MultiPolygon") {
    const json::array& polys = array_of(o, "coordinates", where, "a MultiPolygon");
    for (std::size_t i = 0; i < polys.size(); ++i) {
      const std::string at = joined(where, "polygon " + std::to_string(i + 1));
      if (!polys[i].is_array()) fail(at, "a polygon is not an array of rings");
      out.push_back(polygon_of(polys[i].get_array(), at));
    }
  } else if (t == "GeometryCollection") {
    if (depth > 8) fail(where, "geometry collections nested too deep");
    const json::array& geoms = array_of(o, "geometries", where, "a GeometryCollection");
    for (std::size_t i = 0; i < geoms.size(); ++i)
      add_geometry(geoms[i], joined(where, "geometry " + std::to_string(i + 1)), out, depth + 1);
  } else if (t == "Point" || t == "MultiPoint" || t == "LineString" || t == "MultiLineString") {
    fail(where, "a " + t + " has no area (use a Polygon or a MultiPolygon)");
  } else if (t == "Feature" || t == "FeatureCollection") {
    fail(where, "a " + t + " where a geometry belongs");
  } else {
    fail(where, "unknown geometry type \"" + t + "\"");
  }
}

void add_feature(const json::value& v, const std::string& where, std::vector<area_polygon>& out) {
  if (!v.is_object()) fail(where, "a feature is not a JSON object");
  const json::value* geometry = v.get_object().if_contains("geometry");
  if (!geometry) fail(where, "a Feature has no \"geometry\"");
  if (geometry->is_null()) return;  // RFC 7946 §3.2: an unlocated feature
  add_geometry(*geometry, where, out, 0);
}

}  // namespace

tile_area tile_area::from_geojson(std::string_view text, int buffer) {
  json::stream_parser parser;
  boost::system::error_code ec;
  const std::size_t used = parser.write(text.data(), text.size(), ec);
  if (!ec) parser.finish(ec);
  if (ec) {
    throw area_error("not valid JSON near byte " + std::to_string(used + 1) + ": " + ec.message());
  }
  const json::value root = parser.release();
  if (!root.is_object()) throw area_error("not a GeoJSON object");
  const json::value* type = root.get_object().if_contains("type");
  if (!type || !type->is_string()) throw area_error("a GeoJSON object needs a \"type\"");
  std::vector<area_polygon> polygons;
  if (type->get_string() == "FeatureCollection") {
    const json::array& features =
        array_of(root.get_object(), "features", "", "a FeatureCollection");
    for (std::size_t i = 0; i < features.size(); ++i)
      add_feature(features[i], "feature " + std::to_string(i + 1), polygons);
  } else if (type->get_string() == "Feature") {
    add_feature(root, "", polygons);
  } else {
    add_geometry(root, "", polygons, 0);
  }
  if (polygons.empty()) throw area_error("no Polygon or MultiPolygon in it");
  return tile_area(std::move(polygons), buffer);
}

}  // namespace cohort::app::tiles
