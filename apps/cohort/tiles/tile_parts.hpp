#pragma once

/// \file
/// `cohort tiles --part K/N`: the tiles of a download cut into N parts, each
/// a contiguous range of PMTiles tile IDs (tile_id.hpp: zoom, then Hilbert
/// order), so that each part is a spatially compact piece of the map and
/// every tile is in exactly one part.
///
/// Balance: with T tiles in the set, part K holds the tiles of ranks
/// floor(K*T/N) to floor((K+1)*T/N) - 1 in ID order, so the parts' sizes
/// differ by at most one tile (parts are empty when T < N).
///
/// Nothing here enumerates the tiles: a count inside an ID range descends
/// the quadtree of Hilbert sub-squares (each an aligned square of tiles
/// whose IDs are contiguous) and counts the set inside whole squares from
/// its rectangles or its area's columns, so a cut costs O(zoom) square
/// counts.
///
///   tile_set set({parse_bbox("13.08,52.33,13.76,52.68")}, parse_zooms("10-14"));
///   tile_set mine = set.within(part_ids(set, {2, 8}));
///   for (auto e = mine.enumerate(); auto t = e.next();) fetch(*t);

#include <cstdint>
#include <optional>
#include <vector>

#include "cohort/common/part.hpp"
#include "cohort/tiles/tile_math.hpp"

namespace cohort::app::tiles {

/// The number of tiles of `set` at zoom z whose tile ID lies in `ids`. The
/// set's own ids() are ignored (the set is taken whole).
std::uint64_t count_in_ids(const tile_set& set, int z, const tile_id_range& ids);

/// The tile ID where part `k` of `n` of `set` begins (0 <= k <= n): 0 for
/// k = 0, UINT64_MAX for k = n, else the ID of the tile of rank
/// floor(k*T/n) (UINT64_MAX when there is none). The set is taken whole.
std::uint64_t part_cut(const tile_set& set, std::uint32_t k, std::uint32_t n);

/// The tile IDs of `part` of `set`: [part_cut(K), part_cut(K+1)).
tile_id_range part_ids(const tile_set& set, const work_part& part);

/// The tile IDs of a set in ascending order, as runs of consecutive IDs,
/// without enumerating its tiles: the quadtree of Hilbert sub-squares is
/// walked in ID order, a square wholly in the set is one run, one wholly
/// out is skipped. Memory O(zoom); the set's ids() are honoured.
///
///   tile_id_runs runs(set);
///   while (auto r = runs.next()) for (auto id = r->begin; id < r->end; ++id) use(id);
class tile_id_runs {
 public:
  /// Keeps a reference to `set`, which must outlive it.
  explicit tile_id_runs(const tile_set& set);
  /// The next run [begin, end), after the previous one; nullopt at the end.
  std::optional<tile_id_range> next();

 private:
  struct square {
    int z = 0;
    int depth = 0;
    std::uint64_t prefix = 0;
  };
  const tile_set* set_;
  std::size_t zoom_ = 0;
  std::vector<square> stack_;
};

}  // namespace cohort::app::tiles
