// tile_area's geometry: which tiles of a column intersect the polygons.
//
// Per column x (the open strip x < X < x+1 in tile units at zoom z):
// - every edge is clipped to the open strip; the rows whose open interval
//   the clipped piece passes through are in (the edge crosses those tiles,
//   so the polygon's interior is in them);
// - a tile that no edge crosses is wholly inside or wholly outside its
//   polygon, so testing one point decides it: the rows whose centre lies
//   inside, found from the crossings of the centre line X = x + 0.5 with the
//   rings (even-odd, so holes subtract).
// The column's rows are the union of both. Edges are sorted by their
// western end, so a column reads only those that can reach it.

#include "cohort/tiles/tile_area.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "cohort/tiles/tile_formats.hpp"

namespace cohort::app::tiles {
namespace {

double mercator_u(double lon) {
  return (lon + 180.0) / 360.0;
}

double mercator_v(double lat) {
  const double clamped = std::clamp(lat, -max_latitude, max_latitude);
  const double rad = clamped * std::numbers::pi / 180.0;
  return (1.0 - std::asinh(std::tan(rad)) / std::numbers::pi) / 2.0;
}

void merge_spans(std::vector<row_span>& spans) {
  std::sort(spans.begin(), spans.end(),
            [](const row_span& a, const row_span& b) { return a.begin < b.begin; });
  std::size_t merged = 0;
  for (std::size_t i = 0; i < spans.size(); ++i) {
    if (spans[i].begin >= spans[i].end) continue;
    if (merged > 0 && spans[i].begin <= spans[merged - 1].end) {
      spans[merged - 1].end = std::max(spans[merged - 1].end, spans[i].end);
    } else {
      spans[merged++] = spans[i];
    }
  }
  spans.resize(merged);
}

// Rows [lo, hi) clamped to [0, n), as a span (possibly empty).
row_span rows_between(double lo, double hi, double n) {
  lo = std::clamp(lo, 0.0, n);
  hi = std::clamp(hi, 0.0, n);
  return {static_cast<std::uint32_t>(lo), static_cast<std::uint32_t>(std::max(lo, hi))};
}

using ring_t = std::vector<lon_lat>;

// Throws area_error unless `ring` is closed, has 4 positions or more, and
// each is a finite longitude within ±360 and latitude within ±90.
void check_ring(const ring_t& ring, const std::string& where) {
  if (ring.size() < 4) throw area_error(where + "a ring needs at least 4 positions");
  if (ring.front().lon != ring.back().lon || ring.front().lat != ring.back().lat)
    throw area_error(where + "a ring must end where it starts");
  for (const lon_lat& p : ring) {
    if (!std::isfinite(p.lon) || !std::isfinite(p.lat) || std::abs(p.lon) > 360 ||
        std::abs(p.lat) > 90)
      throw area_error(where + "a position is outside longitude ±360, latitude ±90");
  }
}

// Unwraps the ring's longitudes: consecutive ones more than 180° apart go
// the short way round, except along the antimeridian itself. A hole (given
// its `exterior` ring) starts next to that ring.
void unwrap_ring(ring_t& ring, const ring_t* exterior) {
  double offset = 0;
  if (exterior != nullptr) {
    const double ref = exterior->front().lon;
    while (ring.front().lon + offset - ref > 180) offset -= 360;
    while (ring.front().lon + offset - ref < -180) offset += 360;
  }
  double previous = ring.front().lon;
  for (lon_lat& p : ring) {
    const double given = p.lon;
    const bool along_antimeridian = std::abs(given) == 180 && std::abs(previous) == 180;
    if (!along_antimeridian) {
      while (given - previous > 180) {
        offset -= 360;
        previous += 360;
      }
      while (given - previous < -180) {
        offset += 360;
        previous -= 360;
      }
    }
    previous = given;
    p.lon = given + offset;
  }
}

// Checks and unwraps the rings of the polygon numbered `number` (from 1, as
// the messages name it); throws area_error.
void prepare_polygon(area_polygon& poly, std::size_t number) {
  if (poly.rings.empty()) throw area_error("polygon " + std::to_string(number) + ": no ring");
  for (std::size_t r = 0; r < poly.rings.size(); ++r) {
    ring_t& ring = poly.rings[r];
    const std::string where =
        "polygon " + std::to_string(number) + ", ring " + std::to_string(r + 1) + ": ";
    check_ring(ring, where);
    unwrap_ring(ring, r > 0 ? &poly.rings[0] : nullptr);
    if (ring.front().lon != ring.back().lon)
      throw area_error(where + "the ring goes all the way round the globe (around a pole)");
  }
}

}  // namespace

tile_area::tile_area(std::vector<area_polygon> polygons, int buffer)
    : polygons_(std::move(polygons)), buffer_(buffer) {
  if (buffer < 0) throw std::invalid_argument("tile_area: negative buffer");
  if (polygons_.empty()) throw area_error("no polygon");
  for (std::size_t i = 0; i < polygons_.size(); ++i) prepare_polygon(polygons_[i], i + 1);
  for (const area_polygon& poly : polygons_) project(poly);
}

void tile_area::project(const area_polygon& poly) {
  double lo = poly.rings[0].front().lon, hi = lo;
  for (const auto& ring : poly.rings) {
    for (const lon_lat& p : ring) {
      lo = std::min(lo, p.lon);
      hi = std::max(hi, p.lon);
    }
  }
  // Parts beyond ±180 appear again on the other side of the world: one
  // copy per whole turn k that brings a part of it into (-180, 180).
  const double k_first = std::floor((-180 - hi) / 360) + 1;
  const double k_last = std::ceil((180 - lo) / 360) - 1;
  for (double k = k_first; k <= k_last; ++k) {
    const double shift = 360 * k;
    projected_polygon pp;
    for (const auto& ring : poly.rings) {
      for (std::size_t i = 0; i + 1 < ring.size(); ++i) {
        const projected_edge e{mercator_u(ring[i].lon + shift), mercator_v(ring[i].lat),
                               mercator_u(ring[i + 1].lon + shift), mercator_v(ring[i + 1].lat)};
        pp.widest = std::max(pp.widest, std::abs(e.u1 - e.u0));
        pp.edges.push_back(e);
      }
    }
    std::sort(pp.edges.begin(), pp.edges.end(),
              [](const projected_edge& a, const projected_edge& b) {
                return std::min(a.u0, a.u1) < std::min(b.u0, b.u1);
              });
    pp.min_u = mercator_u(lo + shift);
    pp.max_u = mercator_u(hi + shift);
    projected_.push_back(std::move(pp));
  }
}

std::vector<bbox> tile_area::bounds() const {
  std::vector<bbox> out;
  for (const area_polygon& poly : polygons_) {
    bbox b{poly.rings[0].front().lon, poly.rings[0].front().lat, poly.rings[0].front().lon,
           poly.rings[0].front().lat};
    for (const lon_lat& p : poly.rings[0]) {
      b.west = std::min(b.west, p.lon);
      b.east = std::max(b.east, p.lon);
      b.south = std::min(b.south, p.lat);
      b.north = std::max(b.north, p.lat);
    }
    if (b.east - b.west >= 360) {
      b.west = -180;
      b.east = 180;
    } else {
      while (b.west < -180) b.west += 360;
      while (b.west >= 180) b.west -= 360;
      while (b.east > 180) b.east -= 360;
      while (b.east <= -180) b.east += 360;
    }
    out.push_back(b);
  }
  return out;
}

std::string tile_area::fingerprint_text() const {
  std::string text;
  for (const area_polygon& poly : polygons_) {
    text += 'P';
    for (const auto& ring : poly.rings) {
      text += 'R';
      for (const lon_lat& p : ring) {
        detail::append_number(text, p.lon);
        text += ',';
        detail::append_number(text, p.lat);
        text += ' ';
      }
    }
  }
  std::uint64_t hash = 0xcbf29ce484222325ull;  // FNV-1a
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 0x100000001b3ull;
  }
  static constexpr char digits[] = "0123456789abcdef";
  std::string out = "area:";
  for (int shift = 60; shift >= 0; shift -= 4) out += digits[(hash >> shift) & 0xf];
  if (buffer_ > 0) out += "+buffer=" + std::to_string(buffer_);
  return out;
}

void tile_area::raw_rows(int z, std::uint32_t x, std::vector<row_span>& out) const {
  out.clear();
  const double n = static_cast<double>(tiles_per_axis(z));
  const double left = x, right = x + 1.0, centre = x + 0.5;
  std::vector<double> crossings;
  for (const projected_polygon& poly : projected_) {
    if (poly.max_u * n <= left || poly.min_u * n >= right) continue;
    crossings.clear();
    // Edges whose western end is at or east of the strip's east side, or
    // more than `widest` west of its west side, cannot meet the strip.
    const auto west_end = [](const projected_edge& e, double u) {
      return std::min(e.u0, e.u1) < u;
    };
    auto first = std::partition_point(poly.edges.begin(), poly.edges.end(), [&](const auto& e) {
      return west_end(e, (left - 1) / n - poly.widest);
    });
    const auto end = std::partition_point(first, poly.edges.end(),
                                          [&](const auto& e) { return west_end(e, right / n); });
    for (; first != end; ++first) {
      const double x0 = first->u0 * n, y0 = first->v0 * n;
      const double x1 = first->u1 * n, y1 = first->v1 * n;
      // The edge within the open strip left < X < right.
      double ya, yb;
      if (x0 == x1) {
        if (!(x0 > left && x0 < right)) continue;
        ya = y0;
        yb = y1;
      } else {
        const double lo = std::max(std::min(x0, x1), left);
        const double hi = std::min(std::max(x0, x1), right);
        if (!(lo < hi)) continue;
        const double slope = (y1 - y0) / (x1 - x0);
        ya = lo == x0 ? y0 : lo == x1 ? y1 : y0 + slope * (lo - x0);
        yb = hi == x0 ? y0 : hi == x1 ? y1 : y0 + slope * (hi - x0);
        if ((x0 <= centre) != (x1 <= centre)) crossings.push_back(y0 + slope * (centre - x0));
      }
      const double top = std::min(ya, yb), bottom = std::max(ya, yb);
      if (top < bottom) {
        out.push_back(rows_between(std::floor(top), std::ceil(bottom), n));
      } else if (std::floor(top) != top) {
        out.push_back(rows_between(std::floor(top), std::floor(top) + 1, n));
      }
    }
    std::sort(crossings.begin(), crossings.end());
    for (std::size_t i = 0; i + 1 < crossings.size(); i += 2) {
      // Rows r with crossings[i] < r + 0.5 < crossings[i + 1].
      out.push_back(
          rows_between(std::floor(crossings[i] - 0.5) + 1, std::ceil(crossings[i + 1] - 0.5), n));
    }
  }
  merge_spans(out);
}

void tile_area::column_rows(int z, std::uint32_t x, std::vector<row_span>& out) const {
  if (buffer_ == 0) {
    raw_rows(z, x, out);
    return;
  }
  out.clear();
  const std::int64_t n = tiles_per_axis(z);
  const std::int64_t b = buffer_;
  std::vector<row_span> column;
  const std::int64_t first = 2 * b + 1 >= n ? 0 : std::int64_t{x} - b;
  const std::int64_t last = 2 * b + 1 >= n ? n - 1 : std::int64_t{x} + b;
  for (std::int64_t c = first; c <= last; ++c) {
    raw_rows(z, static_cast<std::uint32_t>(((c % n) + n) % n), column);
    for (const row_span& s : column) {
      out.push_back({static_cast<std::uint32_t>(std::max<std::int64_t>(0, s.begin - b)),
                     static_cast<std::uint32_t>(std::min<std::int64_t>(n, s.end + b))});
    }
  }
  merge_spans(out);
}

std::vector<row_span> tile_area::candidate_columns(int z) const {
  const std::int64_t n = tiles_per_axis(z);
  const double nd = static_cast<double>(n);
  const std::int64_t b = buffer_;
  std::vector<row_span> out;
  const auto add = [&](std::int64_t lo, std::int64_t hi) {  // [lo, hi), may wrap
    if (hi - lo >= n) {
      out.push_back({0, static_cast<std::uint32_t>(n)});
    } else if (lo < 0) {
      out.push_back({static_cast<std::uint32_t>(lo + n), static_cast<std::uint32_t>(n)});
      out.push_back({0, static_cast<std::uint32_t>(hi)});
    } else if (hi > n) {
      out.push_back({static_cast<std::uint32_t>(lo), static_cast<std::uint32_t>(n)});
      out.push_back({0, static_cast<std::uint32_t>(hi - n)});
    } else {
      out.push_back({static_cast<std::uint32_t>(lo), static_cast<std::uint32_t>(hi)});
    }
  };
  for (const projected_polygon& poly : projected_) {
    const double lo = std::clamp(std::floor(poly.min_u * nd), 0.0, nd - 1);
    const double hi = std::clamp(std::ceil(poly.max_u * nd), lo + 1, nd);
    add(static_cast<std::int64_t>(lo) - b, static_cast<std::int64_t>(hi) + b);
  }
  merge_spans(out);
  return out;
}

std::uint64_t tile_area::count_at_zoom(int z) const {
  std::uint64_t total = 0;
  std::vector<row_span> rows;
  for (const row_span& columns : candidate_columns(z)) {
    for (std::uint32_t x = columns.begin; x < columns.end; ++x) {
      column_rows(z, x, rows);
      for (const row_span& s : rows) total += s.end - s.begin;
    }
  }
  return total;
}

bool tile_area::contains(const tile& t) const {
  if (t.z < 0 || t.z > max_zoom || t.x >= tiles_per_axis(t.z)) return false;
  std::vector<row_span> rows;
  column_rows(t.z, t.x, rows);
  return std::any_of(rows.begin(), rows.end(),
                     [&](const row_span& s) { return t.y >= s.begin && t.y < s.end; });
}

}  // namespace cohort::app::tiles
