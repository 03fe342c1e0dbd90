#include "cohort/tiles/tile_math.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <stdexcept>
#include <utility>

#include "cohort/tiles/tile_area.hpp"
#include "cohort/tiles/tile_id.hpp"
#include "cohort/tiles/tile_parts.hpp"

namespace cohort::app::tiles {
namespace {

// Fractional tile column of a longitude. Multiplying by 2^z first keeps the
// result exact whenever the true value is a whole number (e.g. lon = 90 at
// zoom 2 gives exactly 3.0), which the border rule depends on.
double x_fraction(double lon, int z) {
  return (lon + 180.0) * tiles_per_axis(z) / 360.0;
}

// Fractional tile row of a latitude (clamped), 0 at the north edge.
double y_fraction(double lat, int z) {
  const double clamped = std::clamp(lat, -max_latitude, max_latitude);
  const double rad = clamped * std::numbers::pi / 180.0;
  return (1.0 - std::asinh(std::tan(rad)) / std::numbers::pi) / 2.0 * tiles_per_axis(z);
}

std::uint32_t clamp_to_axis(double v, double lo, double hi) {
  return static_cast<std::uint32_t>(std::clamp(v, lo, hi));
}

// Tiles whose interior overlaps the box [west, east] x [south, north], where
// west < east (no antimeridian crossing). Never empty: a box of positive size
// overlaps at least one tile even when rounding makes its edges coincide.
tile_rect rect_for(double west, double south, double east, double north, int z) {
  const double last = static_cast<double>(tiles_per_axis(z) - 1);
  const double n = static_cast<double>(tiles_per_axis(z));
  tile_rect r;
  r.x_begin = clamp_to_axis(std::floor(x_fraction(west, z)), 0, last);
  r.x_end = clamp_to_axis(std::ceil(x_fraction(east, z)), r.x_begin + 1.0, n);
  r.y_begin = clamp_to_axis(std::floor(y_fraction(north, z)), 0, last);
  r.y_end = clamp_to_axis(std::ceil(y_fraction(south, z)), r.y_begin + 1.0, n);
  return r;
}

bool is_valid(const bbox& b) {
  const auto finite = [](double v) { return std::isfinite(v); };
  if (!finite(b.west) || !finite(b.south) || !finite(b.east) || !finite(b.north)) return false;
  if (b.west < -180 || b.west > 180 || b.east < -180 || b.east > 180) return false;
  if (b.south < -90 || b.north > 90 || !(b.south < b.north)) return false;
  if (b.west == b.east || (b.west == 180 && b.east == -180)) return false;
  // Entirely outside Web Mercator's latitude range: no tile covers it.
  return b.south < max_latitude && b.north > -max_latitude;
}

void rects_at_zoom(const std::vector<bbox>& boxes, int z, std::vector<tile_rect>& out) {
  out.clear();
  for (const bbox& b : boxes) {
    for (const tile_rect& r : box_rects(b, z)) out.push_back(r);
  }
}

// Sorted distinct x borders of the rectangles: every rectangle either covers
// a slab [borders[i], borders[i+1]) entirely or not at all.
void slab_borders(const std::vector<tile_rect>& rects, std::vector<std::uint32_t>& out) {
  out.clear();
  for (const tile_rect& r : rects) {
    out.push_back(r.x_begin);
    out.push_back(r.x_end);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
}

// The union of the row ranges of the rectangles covering slab [x_lo, x_hi),
// as sorted disjoint spans.
void slab_spans(const std::vector<tile_rect>& rects, std::uint32_t x_lo, std::uint32_t x_hi,
                std::vector<detail::y_span>& out) {
  out.clear();
  for (const tile_rect& r : rects) {
    if (r.x_begin <= x_lo && r.x_end >= x_hi) out.push_back({r.y_begin, r.y_end});
  }
  std::sort(out.begin(), out.end(),
            [](const detail::y_span& a, const detail::y_span& b) { return a.begin < b.begin; });
  std::size_t merged = 0;
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (merged > 0 && out[i].begin <= out[merged - 1].end) {
      out[merged - 1].end = std::max(out[merged - 1].end, out[i].end);
    } else {
      out[merged++] = out[i];
    }
  }
  out.resize(merged);
}

}  // namespace

std::uint64_t detail::union_size(const std::vector<tile_rect>& rects) {
  std::vector<std::uint32_t> borders;
  std::vector<detail::y_span> spans;
  slab_borders(rects, borders);
  std::uint64_t total = 0;
  for (std::size_t i = 0; i + 1 < borders.size(); ++i) {
    slab_spans(rects, borders[i], borders[i + 1], spans);
    std::uint64_t rows = 0;
    for (const detail::y_span& s : spans) rows += s.end - s.begin;
    total += rows * (borders[i + 1] - borders[i]);
  }
  return total;
}

std::uint32_t tile_x(double lon, int z) {
  return clamp_to_axis(std::floor(x_fraction(lon, z)), 0, tiles_per_axis(z) - 1.0);
}

std::uint32_t tile_y(double lat, int z) {
  return clamp_to_axis(std::floor(y_fraction(lat, z)), 0, tiles_per_axis(z) - 1.0);
}

void append_quadkey(std::string& out, const tile& t) {
  for (int i = t.z; i > 0; --i) {
    const std::uint32_t mask = std::uint32_t{1} << (i - 1);
    char digit = '0';
    if (t.x & mask) digit += 1;
    if (t.y & mask) digit += 2;
    out.push_back(digit);
  }
}

std::string quadkey(const tile& t) {
  std::string out;
  out.reserve(static_cast<std::size_t>(t.z));
  append_quadkey(out, t);
  return out;
}

std::vector<tile_rect> box_rects(const bbox& box, int z) {
  std::vector<tile_rect> out;
  if (!box.crosses_antimeridian()) {
    out.push_back(rect_for(box.west, box.south, box.east, box.north, z));
    return out;
  }
  // A part of zero width (west == 180 or east == -180) covers nothing.
  if (box.west < 180) out.push_back(rect_for(box.west, box.south, 180, box.north, z));
  if (box.east > -180) out.push_back(rect_for(-180, box.south, box.east, box.north, z));
  return out;
}

tile_set::tile_set(std::vector<bbox> boxes, std::vector<int> zooms)
    : boxes_(std::move(boxes)), zooms_(std::move(zooms)) {
  for (const bbox& b : boxes_) {
    if (!is_valid(b)) throw std::invalid_argument("tile_set: invalid bounding box");
  }
  for (int z : zooms_) {
    if (z < 0 || z > max_zoom) throw std::invalid_argument("tile_set: zoom out of range 0..30");
  }
  std::sort(zooms_.begin(), zooms_.end());
  zooms_.erase(std::unique(zooms_.begin(), zooms_.end()), zooms_.end());
}

tile_set tile_set::of_area(std::shared_ptr<const tile_area> area, std::vector<int> zooms) {
  if (!area) throw std::invalid_argument("tile_set: null area");
  tile_set set({}, std::move(zooms));
  set.area_ = std::move(area);
  return set;
}

std::uint64_t tile_set::count_at_zoom(int z) const {
  if (!std::binary_search(zooms_.begin(), zooms_.end(), z)) return 0;
  if (!ids_.whole()) return count_in_ids(*this, z, ids_);
  if (area_) return area_->count_at_zoom(z);
  std::vector<tile_rect> rects;
  rects_at_zoom(boxes_, z, rects);
  return detail::union_size(rects);
}

tile_set tile_set::within(tile_id_range ids) const {
  tile_set part = *this;
  part.ids_ = ids;
  std::erase_if(part.zooms_, [&](int z) {
    return first_tile_id(z + 1) <= ids.begin || first_tile_id(z) >= ids.end;
  });
  return part;
}

std::uint64_t tile_set::count() const {
  std::uint64_t total = 0;
  for (int z : zooms_) total += count_at_zoom(z);
  return total;
}

std::vector<zoom_count> tile_set::counts_per_zoom() const {
  std::vector<zoom_count> out;
  out.reserve(zooms_.size());
  for (int z : zooms_) out.push_back({z, count_at_zoom(z)});
  return out;
}

bool tile_set::contains(const tile& t) const {
  if (!std::binary_search(zooms_.begin(), zooms_.end(), t.z)) return false;
  if (!ids_.whole() && !ids_.contains(tile_id(t))) return false;
  if (area_) return area_->contains(t);
  for (const bbox& b : boxes_) {
    for (const tile_rect& r : box_rects(b, t.z)) {
      if (r.contains(t.x, t.y)) return true;
    }
  }
  return false;
}

tile_enumerator tile_set::enumerate() const {
  return tile_enumerator(boxes_, area_, zooms_, ids_);
}

tile_enumerator::tile_enumerator(std::vector<bbox> boxes, std::shared_ptr<const tile_area> area,
                                 std::vector<int> zooms, tile_id_range ids)
    : boxes_(std::move(boxes)), area_(std::move(area)), zooms_(std::move(zooms)), ids_(ids) {
  done_ = !start_zoom();
}

bool tile_enumerator::start_zoom() {
  for (; zoom_index_ < zooms_.size(); ++zoom_index_) {
    if (area_) {
      columns_ = area_->candidate_columns(zooms_[zoom_index_]);
      column_ = 0;
      if (!columns_.empty()) x_ = columns_[0].begin;
      if (start_column()) return true;
      continue;
    }
    rects_at_zoom(boxes_, zooms_[zoom_index_], rects_);
    slab_borders(rects_, borders_);
    slab_ = 0;
    if (start_slab()) return true;
  }
  return false;
}

bool tile_enumerator::start_slab() {
  // Slabs between disjoint boxes have no spans and are skipped.
  for (; slab_ + 1 < borders_.size(); ++slab_) {
    slab_spans(rects_, borders_[slab_], borders_[slab_ + 1], spans_);
    if (!spans_.empty()) {
      x_ = borders_[slab_];
      span_ = 0;
      y_ = spans_[0].begin;
      return true;
    }
  }
  return false;
}

bool tile_enumerator::start_column() {
  for (; column_ < columns_.size(); ++column_) {
    x_ = std::max(x_, columns_[column_].begin);
    for (; x_ < columns_[column_].end; ++x_) {
      area_->column_rows(zooms_[zoom_index_], x_, spans_);
      if (!spans_.empty()) {
        span_ = 0;
        y_ = spans_[0].begin;
        return true;
      }
    }
  }
  return false;
}

std::optional<tile> tile_enumerator::next() {
  if (ids_.whole()) return next_any();
  // A part of a set: its tiles in the set's order, the others skipped (a
  // few nanoseconds each, next to a request per kept tile).
  while (std::optional<tile> t = next_any()) {
    if (ids_.contains(tile_id(*t))) return t;
  }
  return std::nullopt;
}

std::optional<tile> tile_enumerator::next_any() {
  if (done_) return std::nullopt;
  const tile current{zooms_[zoom_index_], x_, y_};

  if (++y_ < spans_[span_].end) return current;
  if (++span_ < spans_.size()) {
    y_ = spans_[span_].begin;
    return current;
  }
  span_ = 0;
  if (area_) {
    ++x_;
    if (start_column()) return current;
    ++zoom_index_;
    done_ = !start_zoom();
    return current;
  }
  if (++x_ < borders_[slab_ + 1]) {
    y_ = spans_[0].begin;
    return current;
  }
  ++slab_;
  if (start_slab()) return current;
  ++zoom_index_;
  done_ = !start_zoom();
  return current;
}

}  // namespace cohort::app::tiles
