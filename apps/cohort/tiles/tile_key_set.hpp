#pragma once

/// \file
/// tile_key_set: the compact set of tile keys (z/x/y) a tile output keeps in
/// memory to answer "is this tile stored?" (or "missing?") over millions of
/// tiles.

#include <array>
#include <cstddef>
#include <cstdint>
#include <unordered_set>
#include <vector>

#include "cohort/tiles/tile_math.hpp"

namespace cohort::app::tiles {

/// A set of tiles (z/x/y) in compact form, for "is this tile stored?" over
/// millions of tiles: per zoom, a bitmap over the bounding rectangle when
/// the tiles are dense enough (a download area is), else a sorted vector of
/// 64-bit keys, plus a small hash set of recent insertions merged in
/// batches. Costs at most about 8 bytes per tile, and 1 bit per tile of the
/// bounding rectangle for a dense area (a few million tiles: a few hundred
/// KiB). Not thread-safe.
///
///   tile_key_set set;
///   set.insert({14, 8800, 5373});
///   set.contains({14, 8800, 5373}) == true
class tile_key_set {
 public:
  /// True when `t` is in the set. A tile with z outside 0..max_zoom is never.
  bool contains(const tile& t) const;
  /// Adds `t`; true when it was not there. Precondition: 0 <= t.z <= max_zoom
  /// and t.x, t.y < 2^t.z.
  bool insert(const tile& t);
  /// Removes `t`; true when it was there.
  bool erase(const tile& t);
  /// Number of tiles in the set.
  std::uint64_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  void clear();
  /// Heap bytes used, roughly (for tests and docs).
  std::size_t memory_bytes() const;
  /// Every tile, in (z, x, y) order.
  std::vector<tile> tiles() const;

 private:
  struct zoom_part {
    // The bitmap: bit (x - x0) * height + (y - y0) for tiles in
    // [x0, x0 + width) x [y0, y0 + height).
    std::uint32_t x0 = 0, y0 = 0, width = 0, height = 0;
    std::vector<std::uint64_t> bits;
    // Tiles outside the bitmap: `sorted` keys (x << 32 | y), and `recent`
    // ones not merged yet.
    std::vector<std::uint64_t> sorted;
    std::unordered_set<std::uint64_t> recent;
    std::uint64_t count = 0;

    bool in_bitmap(std::uint32_t x, std::uint32_t y) const;
    std::uint64_t bit_index(std::uint32_t x, std::uint32_t y) const;
    void merge_recent();
    void maybe_make_dense(int z);
  };

  std::array<zoom_part, max_zoom + 1> zooms_{};
  std::uint64_t size_ = 0;
};

}  // namespace cohort::app::tiles
