#pragma once

/// \file
/// Which byte ranges of a PMTiles archive to ask for, given the tiles an
/// extraction needs: few requests, few wasted bytes. Adjacent tiles go into
/// one request up to a size limit, and a small gap between two needed
/// tiles is fetched along when that is cheaper than another request (as the
/// reference `pmtiles extract` does with its overfetch ratio), within a
/// budget of wasted bytes.

#include "cohort/tiles/tile_math.hpp"

#include <cstdint>
#include <vector>

namespace cohort::app::tiles {

/// One tile an extraction needs and where its bytes lie in the archive
/// (absolute offset). Identical tiles stored once share their bytes.
struct tile_span {
  tile where;
  std::uint64_t offset = 0;
  std::uint32_t length = 0;

  friend bool operator==(const tile_span&, const tile_span&) = default;
};

/// One range request: bytes [offset, offset + length) of the archive and
/// the tiles they hold, by offset.
struct range_request {
  std::uint64_t offset = 0;
  std::uint64_t length = 0;
  std::vector<tile_span> tiles;
};

/// How far plan_range_requests merges.
struct coalesce_limits {
  /// No request is longer than this, unless one tile alone is.
  std::uint64_t max_request_bytes = std::uint64_t{2} * 1024 * 1024;
  /// Bytes fetched across gaps (not needed) at most this share of the
  /// needed bytes; the smallest gaps are bridged first.
  double max_overfetch = 0.05;
};

/// The bytes the tiles occupy in the archive, shared bytes counted once:
/// the least any extraction of them must fetch.
std::uint64_t needed_bytes(const std::vector<tile_span>& tiles);

/// The requests that fetch `tiles` (in any order): every tile lies whole in
/// exactly one request; requests do not overlap and come by offset; none is
/// longer than `limits.max_request_bytes` unless it holds a single run of
/// overlapping tiles that alone is; and their total length is at most
/// needed_bytes(tiles) × (1 + limits.max_overfetch).
///
///   auto reqs = plan_range_requests({{{14, 1, 2}, 1000, 300}, {{14, 1, 3}, 1300, 200}}, {});
///   reqs.size() == 1 && reqs[0].offset == 1000 && reqs[0].length == 500
std::vector<range_request> plan_range_requests(std::vector<tile_span> tiles,
                                               const coalesce_limits& limits);

}  // namespace cohort::app::tiles
