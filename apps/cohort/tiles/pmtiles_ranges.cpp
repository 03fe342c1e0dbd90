#include "cohort/tiles/pmtiles_ranges.hpp"

#include <algorithm>
#include <numeric>
#include <tuple>

namespace cohort::app::tiles {

namespace {

// A run of overlapping tiles (shared bytes): it cannot be split between
// requests. tiles[first, last) of the sorted list.
struct piece {
  std::uint64_t begin = 0;
  std::uint64_t end = 0;
  std::size_t first = 0;
  std::size_t last = 0;
};

void sort_by_offset(std::vector<tile_span>& tiles) {
  std::sort(tiles.begin(), tiles.end(), [](const tile_span& a, const tile_span& b) {
    return std::tie(a.offset, a.length, a.where) < std::tie(b.offset, b.length, b.where);
  });
}

// The pieces of sorted `tiles`, by offset.
std::vector<piece> pieces_of(const std::vector<tile_span>& tiles) {
  std::vector<piece> out;
  for (std::size_t i = 0; i < tiles.size(); ++i) {
    const std::uint64_t b = tiles[i].offset;
    const std::uint64_t e = b + tiles[i].length;
    if (!out.empty() && b < out.back().end) {
      out.back().end = std::max(out.back().end, e);
      out.back().last = i + 1;
    } else {
      out.push_back({b, e, i, i + 1});
    }
  }
  return out;
}

// Which gaps between consecutive pieces to fetch across (joined[i]: piece
// i and i + 1 go in one request): the smallest gaps first, while the bytes
// bridged stay within the budget and the request within the limit. Runs
// of joined pieces are tracked by their ends: left_of[last piece of a run]
// is its first piece and right_of[first] its last.
std::vector<bool> joined_gaps(const std::vector<piece>& p, std::uint64_t budget,
                              std::uint64_t max_bytes) {
  const std::size_t n = p.size();
  std::vector<bool> joined(n == 0 ? 0 : n - 1, false);
  std::vector<std::size_t> order(joined.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  auto gap = [&](std::size_t i) { return p[i + 1].begin - p[i].end; };
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return gap(a) < gap(b); });
  std::vector<std::size_t> left_of(n);
  std::vector<std::size_t> right_of(n);
  std::iota(left_of.begin(), left_of.end(), std::size_t{0});
  std::iota(right_of.begin(), right_of.end(), std::size_t{0});
  std::uint64_t spent = 0;
  for (const std::size_t i : order) {
    if (spent + gap(i) > budget) break;  // every later gap is at least as large
    const std::size_t first = left_of[i];
    const std::size_t last = right_of[i + 1];
    if (p[last].end - p[first].begin > max_bytes) continue;
    spent += gap(i);
    joined[i] = true;
    right_of[first] = last;
    left_of[last] = first;
  }
  return joined;
}

}  // namespace

std::uint64_t needed_bytes(const std::vector<tile_span>& tiles) {
  std::vector<tile_span> sorted = tiles;
  sort_by_offset(sorted);
  std::uint64_t total = 0;
  for (const piece& p : pieces_of(sorted)) total += p.end - p.begin;
  return total;
}

std::vector<range_request> plan_range_requests(std::vector<tile_span> tiles,
                                               const coalesce_limits& limits) {
  sort_by_offset(tiles);
  const std::vector<piece> p = pieces_of(tiles);
  std::uint64_t needed = 0;
  for (const piece& q : p) needed += q.end - q.begin;
  const auto budget =
      static_cast<std::uint64_t>(static_cast<double>(needed) * limits.max_overfetch);
  const std::vector<bool> joined = joined_gaps(p, budget, limits.max_request_bytes);
  std::vector<range_request> out;
  for (std::size_t i = 0; i < p.size(); ++i) {
    if (i == 0 || !joined[i - 1]) out.push_back({p[i].begin, 0, {}});
    range_request& r = out.back();
    r.length = p[i].end - r.offset;
    r.tiles.insert(r.tiles.end(), tiles.begin() + static_cast<std::ptrdiff_t>(p[i].first),
                   tiles.begin() + static_cast<std::ptrdiff_t>(p[i].last));
  }
  return out;
}

}  // namespace cohort::app::tiles
