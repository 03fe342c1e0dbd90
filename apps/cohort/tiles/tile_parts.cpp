#include "cohort/tiles/tile_parts.hpp"

#include <algorithm>

#include "cohort/tiles/tile_area.hpp"
#include "cohort/tiles/tile_id.hpp"

namespace cohort::app::tiles {

namespace {

// A Hilbert sub-square of zoom z: the tiles whose Hilbert index within the
// zoom starts with the `depth` base-4 digits of `prefix`. Their IDs are
// [first_id(), first_id() + size()); they fill an aligned square of side
// 2^(z - depth) whose corner is the tile of Hilbert index `prefix` at zoom
// `depth`, scaled up (the curve's digits are the same at every order).
struct hilbert_square {
  int z = 0;
  int depth = 0;
  std::uint64_t prefix = 0;

  std::uint64_t size() const { return std::uint64_t{1} << (2 * (z - depth)); }
  std::uint64_t first_id() const { return first_tile_id(z) + prefix * size(); }
  hilbert_square child(std::uint64_t i) const { return {z, depth + 1, prefix * 4 + i}; }
  tile_rect rect() const {
    const tile corner = tile_of_id(first_tile_id(depth) + prefix);
    const int shift = z - depth;
    const std::uint32_t side = std::uint32_t{1} << shift;
    return {corner.x << shift, (corner.x << shift) + side, corner.y << shift,
            (corner.y << shift) + side};
  }
};

std::uint64_t overlap(std::uint32_t b0, std::uint32_t e0, std::uint32_t b1, std::uint32_t e1) {
  const std::uint32_t b = std::max(b0, b1);
  const std::uint32_t e = std::min(e0, e1);
  return e > b ? e - b : 0;
}

std::uint64_t count_area_in(const tile_area& area, int z, const tile_rect& r) {
  std::uint64_t n = 0;
  std::vector<row_span> rows;
  for (const row_span& cols : area.candidate_columns(z)) {
    const std::uint32_t x_end = std::min(cols.end, r.x_end);
    for (std::uint32_t x = std::max(cols.begin, r.x_begin); x < x_end; ++x) {
      area.column_rows(z, x, rows);
      for (const row_span& s : rows) n += overlap(s.begin, s.end, r.y_begin, r.y_end);
    }
  }
  return n;
}

// The tiles of `set` (whole, zoom sq.z assumed in it) inside the square.
std::uint64_t count_in_square(const tile_set& set, const hilbert_square& sq) {
  const tile_rect r = sq.rect();
  if (set.area()) return count_area_in(*set.area(), sq.z, r);
  std::vector<tile_rect> clipped;
  for (const bbox& b : set.boxes()) {
    for (tile_rect c : box_rects(b, sq.z)) {
      c.x_begin = std::max(c.x_begin, r.x_begin);
      c.x_end = std::min(c.x_end, r.x_end);
      c.y_begin = std::max(c.y_begin, r.y_begin);
      c.y_end = std::min(c.y_end, r.y_end);
      if (c.x_begin < c.x_end && c.y_begin < c.y_end) clipped.push_back(c);
    }
  }
  return detail::union_size(clipped);
}

std::uint64_t count_in(const tile_set& set, const hilbert_square& sq, const tile_id_range& ids) {
  const std::uint64_t lo = sq.first_id();
  const std::uint64_t hi = lo + sq.size();
  if (hi <= ids.begin || lo >= ids.end) return 0;
  if (ids.begin <= lo && hi <= ids.end) return count_in_square(set, sq);
  std::uint64_t n = 0;
  for (std::uint64_t i = 0; i < 4; ++i) n += count_in(set, sq.child(i), ids);
  return n;
}

// The ID of the tile of rank `r` (from 0, in ID order) among the `n` tiles
// of `set` at zoom z. Precondition: r < n.
std::uint64_t select_at_zoom(const tile_set& set, int z, std::uint64_t r, std::uint64_t n) {
  hilbert_square sq{z, 0, 0};
  while (sq.depth < z) {
    hilbert_square next = sq.child(3);
    std::uint64_t next_count = n;  // the last child holds what the others do not
    for (std::uint64_t i = 0; i < 3; ++i) {
      const std::uint64_t c = count_in_square(set, sq.child(i));
      if (r < c) {
        next = sq.child(i);
        next_count = c;
        break;
      }
      r -= c;
      next_count -= c;
    }
    sq = next;
    n = next_count;
  }
  return sq.first_id();
}

}  // namespace

std::uint64_t count_in_ids(const tile_set& set, int z, const tile_id_range& ids) {
  const auto& zooms = set.zooms();
  if (!std::binary_search(zooms.begin(), zooms.end(), z)) return 0;
  return count_in(set, hilbert_square{z, 0, 0}, ids);
}

std::uint64_t part_cut(const tile_set& set, std::uint32_t k, std::uint32_t n) {
  if (k == 0) return 0;
  if (k >= n) return UINT64_MAX;
  std::vector<std::uint64_t> per_zoom;
  std::uint64_t total = 0;
  for (int z : set.zooms()) {
    per_zoom.push_back(count_in_square(set, hilbert_square{z, 0, 0}));
    total += per_zoom.back();
  }
  // floor(k * total / n) without overflow: k < n < 2^32.
  std::uint64_t r = k * (total / n) + k * (total % n) / n;
  for (std::size_t i = 0; i < per_zoom.size(); ++i) {
    if (r < per_zoom[i]) return select_at_zoom(set, set.zooms()[i], r, per_zoom[i]);
    r -= per_zoom[i];
  }
  return UINT64_MAX;
}

tile_id_runs::tile_id_runs(const tile_set& set) : set_(&set) {}

std::optional<tile_id_range> tile_id_runs::next() {
  const tile_id_range& keep = set_->ids();
  for (;;) {
    if (stack_.empty()) {
      if (zoom_ == set_->zooms().size()) return std::nullopt;
      stack_.push_back({set_->zooms()[zoom_++], 0, 0});
    }
    const square s = stack_.back();
    stack_.pop_back();
    const hilbert_square sq{s.z, s.depth, s.prefix};
    const std::uint64_t lo = std::max(sq.first_id(), keep.begin);
    const std::uint64_t hi = std::min(sq.first_id() + sq.size(), keep.end);
    if (lo >= hi) continue;
    const std::uint64_t n = count_in_square(*set_, sq);
    if (n == 0) continue;
    if (n == sq.size()) return tile_id_range{lo, hi};
    for (std::uint64_t i = 4; i-- > 0;) stack_.push_back({s.z, s.depth + 1, s.prefix * 4 + i});
  }
}

tile_id_range part_ids(const tile_set& set, const work_part& part) {
  return {part_cut(set, part.index, part.count), part_cut(set, part.index + 1, part.count)};
}

}  // namespace cohort::app::tiles
