// tile_key_set: per zoom, a bitmap over the bounding rectangle of a dense
// area, sorted keys for the rest, and a hash set of recent insertions merged
// in batches.

#include "cohort/tiles/tile_key_set.hpp"

#include <algorithm>
#include <utility>

namespace cohort::app::tiles {

namespace {

constexpr std::uint64_t pack_xy(std::uint32_t x, std::uint32_t y) {
  return (std::uint64_t{x} << 32) | y;
}
constexpr std::uint32_t key_x(std::uint64_t key) {
  return static_cast<std::uint32_t>(key >> 32);
}
constexpr std::uint32_t key_y(std::uint64_t key) {
  return static_cast<std::uint32_t>(key);
}

// Sorted keys are merged with the recent ones when the recent ones exceed
// this many, or 1/16 of the sorted ones: amortised, each key is moved about
// 16 times, and the hash set (~40 bytes per key) stays small.
constexpr std::size_t min_recent_before_merge = 4096;
// A zoom switches to a bitmap when its bounding rectangle has at most this
// many cells per tile: the bitmap then costs at most 4 bytes per tile,
// half of a sorted key.
constexpr std::uint64_t max_cells_per_tile = 32;
// Below this many tiles outside the bitmap, sorted keys are cheap anyway.
constexpr std::size_t min_tiles_for_bitmap = 1024;

}  // namespace

bool tile_key_set::zoom_part::in_bitmap(std::uint32_t x, std::uint32_t y) const {
  return width > 0 && x >= x0 && x - x0 < width && y >= y0 && y - y0 < height;
}

std::uint64_t tile_key_set::zoom_part::bit_index(std::uint32_t x, std::uint32_t y) const {
  return std::uint64_t{x - x0} * height + (y - y0);
}

void tile_key_set::zoom_part::merge_recent() {
  if (recent.empty()) return;
  const std::size_t middle = sorted.size();
  sorted.insert(sorted.end(), recent.begin(), recent.end());
  std::sort(sorted.begin() + static_cast<std::ptrdiff_t>(middle), sorted.end());
  std::inplace_merge(sorted.begin(), sorted.begin() + static_cast<std::ptrdiff_t>(middle),
                     sorted.end());
  recent.clear();
}

void tile_key_set::zoom_part::maybe_make_dense(int z) {
  if (sorted.size() < min_tiles_for_bitmap) return;
  // Bounding rectangle of every tile of this zoom (recent is empty here).
  std::uint32_t min_x = key_x(sorted.front());
  std::uint32_t max_x = key_x(sorted.back());
  std::uint32_t min_y = UINT32_MAX;
  std::uint32_t max_y = 0;
  for (const std::uint64_t key : sorted) {
    min_y = std::min(min_y, key_y(key));
    max_y = std::max(max_y, key_y(key));
  }
  const bool had_bitmap = width > 0;
  if (had_bitmap) {
    min_x = std::min(min_x, x0);
    max_x = std::max(max_x, x0 + width - 1);
    min_y = std::min(min_y, y0);
    max_y = std::max(max_y, y0 + height - 1);
  }
  const auto area = [](std::uint64_t x_lo, std::uint64_t x_hi, std::uint64_t y_lo,
                       std::uint64_t y_hi) { return (x_hi - x_lo + 1) * (y_hi - y_lo + 1); };
  if (area(min_x, max_x, min_y, max_y) > max_cells_per_tile * count) return;

  // A bitmap that grows (a download goes column by column) gets slack in the
  // directions it grew, so that it is rebuilt O(log n) times, not every merge.
  const std::uint64_t last = (std::uint64_t{1} << z) - 1;
  std::uint64_t lo_x = min_x, hi_x = max_x, lo_y = min_y, hi_y = max_y;
  if (had_bitmap) {
    const std::uint64_t grow_x = width / 2 + 1;
    const std::uint64_t grow_y = height / 2 + 1;
    if (min_x < x0) lo_x = lo_x > grow_x ? lo_x - grow_x : 0;
    if (max_x > x0 + width - 1) hi_x = std::min(hi_x + grow_x, last);
    if (min_y < y0) lo_y = lo_y > grow_y ? lo_y - grow_y : 0;
    if (max_y > y0 + height - 1) hi_y = std::min(hi_y + grow_y, last);
    if (area(lo_x, hi_x, lo_y, hi_y) > max_cells_per_tile * count) {
      lo_x = min_x, hi_x = max_x, lo_y = min_y, hi_y = max_y;
    }
  }

  zoom_part next;
  next.x0 = static_cast<std::uint32_t>(lo_x);
  next.y0 = static_cast<std::uint32_t>(lo_y);
  next.width = static_cast<std::uint32_t>(hi_x - lo_x + 1);
  next.height = static_cast<std::uint32_t>(hi_y - lo_y + 1);
  next.bits.assign((area(lo_x, hi_x, lo_y, hi_y) + 63) / 64, 0);
  const auto set = [&next](std::uint32_t x, std::uint32_t y) {
    const std::uint64_t i = next.bit_index(x, y);
    next.bits[i / 64] |= std::uint64_t{1} << (i % 64);
  };
  for (std::size_t w = 0; w < bits.size(); ++w) {
    for (std::uint64_t word = bits[w]; word != 0; word &= word - 1) {
      const std::uint64_t i = w * 64 + static_cast<std::uint64_t>(__builtin_ctzll(word));
      set(x0 + static_cast<std::uint32_t>(i / height), y0 + static_cast<std::uint32_t>(i % height));
    }
  }
  for (const std::uint64_t key : sorted) set(key_x(key), key_y(key));
  next.count = count;
  *this = std::move(next);
}

bool tile_key_set::contains(const tile& t) const {
  if (t.z < 0 || t.z > max_zoom) return false;
  const zoom_part& p = zooms_[static_cast<std::size_t>(t.z)];
  if (p.count == 0) return false;
  if (p.in_bitmap(t.x, t.y)) {
    const std::uint64_t i = p.bit_index(t.x, t.y);
    return (p.bits[i / 64] >> (i % 64)) & 1;
  }
  const std::uint64_t key = pack_xy(t.x, t.y);
  return std::binary_search(p.sorted.begin(), p.sorted.end(), key) || p.recent.contains(key);
}

bool tile_key_set::insert(const tile& t) {
  zoom_part& p = zooms_[static_cast<std::size_t>(t.z)];
  if (p.in_bitmap(t.x, t.y)) {
    const std::uint64_t i = p.bit_index(t.x, t.y);
    const std::uint64_t mask = std::uint64_t{1} << (i % 64);
    if (p.bits[i / 64] & mask) return false;
    p.bits[i / 64] |= mask;
  } else {
    const std::uint64_t key = pack_xy(t.x, t.y);
    if (std::binary_search(p.sorted.begin(), p.sorted.end(), key)) return false;
    if (!p.recent.insert(key).second) return false;
  }
  ++p.count;
  ++size_;
  if (p.recent.size() > std::max(min_recent_before_merge, p.sorted.size() / 16)) {
    p.merge_recent();
    p.maybe_make_dense(t.z);
  }
  return true;
}

bool tile_key_set::erase(const tile& t) {
  if (t.z < 0 || t.z > max_zoom) return false;
  zoom_part& p = zooms_[static_cast<std::size_t>(t.z)];
  if (p.count == 0) return false;
  if (p.in_bitmap(t.x, t.y)) {
    const std::uint64_t i = p.bit_index(t.x, t.y);
    const std::uint64_t mask = std::uint64_t{1} << (i % 64);
    if (!(p.bits[i / 64] & mask)) return false;
    p.bits[i / 64] &= ~mask;
  } else {
    const std::uint64_t key = pack_xy(t.x, t.y);
    const auto it = std::lower_bound(p.sorted.begin(), p.sorted.end(), key);
    if (it != p.sorted.end() && *it == key) {
      p.sorted.erase(it);
    } else if (p.recent.erase(key) == 0) {
      return false;
    }
  }
  --p.count;
  --size_;
  return true;
}

void tile_key_set::clear() {
  for (zoom_part& p : zooms_) p = zoom_part{};
  size_ = 0;
}

std::size_t tile_key_set::memory_bytes() const {
  std::size_t bytes = 0;
  for (const zoom_part& p : zooms_) {
    bytes +=
        p.bits.capacity() * sizeof(std::uint64_t) + p.sorted.capacity() * sizeof(std::uint64_t);
    // A node (next pointer, key, cached hash) plus its bucket pointer.
    bytes += p.recent.bucket_count() * sizeof(void*) + p.recent.size() * 32;
  }
  return bytes;
}

std::vector<tile> tile_key_set::tiles() const {
  std::vector<tile> out;
  out.reserve(size_);
  for (int z = 0; z <= max_zoom; ++z) {
    const zoom_part& p = zooms_[static_cast<std::size_t>(z)];
    if (p.count == 0) continue;
    std::vector<std::uint64_t> keys(p.sorted);
    keys.insert(keys.end(), p.recent.begin(), p.recent.end());
    for (std::size_t w = 0; w < p.bits.size(); ++w) {
      for (std::uint64_t word = p.bits[w]; word != 0; word &= word - 1) {
        const std::uint64_t i = w * 64 + static_cast<std::uint64_t>(__builtin_ctzll(word));
        keys.push_back(pack_xy(p.x0 + static_cast<std::uint32_t>(i / p.height),
                               p.y0 + static_cast<std::uint32_t>(i % p.height)));
      }
    }
    std::sort(keys.begin(), keys.end());
    for (const std::uint64_t key : keys) out.push_back(tile{z, key_x(key), key_y(key)});
  }
  return out;
}

}  // namespace cohort::app::tiles
