// libFuzzer target: --bbox, --zoom and --subdomains parsing, then tile
// counting and enumeration over what was accepted.
//
// Input lines: bbox, bbox, zoom, subdomains (missing lines are empty). A
// usage_error is an accepted outcome; any other exception (for example
// tile_set refusing a box that parse_bbox accepted), a crash or a broken
// invariant is a bug.

#include "cohort/tiles/tile_args.hpp"

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string_view>
#include <vector>

#include "cohort/tiles/tile_math.hpp"

namespace {

using cohort::app::usage_error;
using namespace cohort::app::tiles;

void check(bool ok) {
  if (!ok) std::abort();
}

std::string_view next_line(std::string_view& input) {
  const std::size_t newline = input.find('\n');
  const std::string_view line = input.substr(0, newline);
  input.remove_prefix(newline == std::string_view::npos ? input.size() : newline + 1);
  return line;
}

bool one_line(const usage_error& e) {
  return std::string_view(e.what()).find('\n') == std::string_view::npos;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::vector<bbox> boxes;
  for (int i = 0; i < 2; ++i) {
    const std::string_view line = next_line(input);
    try {
      const bbox b = parse_bbox(line);
      check(std::isfinite(b.west) && std::isfinite(b.south) && std::isfinite(b.east) &&
            std::isfinite(b.north));
      check(b.west >= -180 && b.west <= 180 && b.east >= -180 && b.east <= 180);
      check(b.south >= -90 && b.north <= 90 && b.south < b.north && b.west != b.east);
      boxes.push_back(b);
    } catch (const usage_error& e) {
      check(one_line(e));
    }
  }

  std::vector<int> zooms;
  try {
    zooms = parse_zooms(next_line(input));
    check(!zooms.empty());
    for (std::size_t i = 0; i < zooms.size(); ++i) {
      check(zooms[i] >= 0 && zooms[i] <= max_zoom);
      check(i == 0 || zooms[i - 1] < zooms[i]);
    }
  } catch (const usage_error& e) {
    check(one_line(e));
  }

  try {
    for (const auto& s : parse_subdomains(next_line(input))) check(!s.empty());
  } catch (const usage_error& e) {
    check(one_line(e));
  }

  const tile_set set(boxes, zooms);  // must accept whatever the parsers accepted
  const std::uint64_t total = set.count();
  std::uint64_t per_zoom = 0;
  for (const zoom_count& c : set.counts_per_zoom()) per_zoom += c.count;
  check(per_zoom == total);

  constexpr std::uint64_t limit = 4096;
  std::uint64_t seen = 0;
  std::optional<tile> previous;
  auto e = set.enumerate();
  for (std::optional<tile> t = e.next(); t && seen < limit; t = e.next(), ++seen) {
    check(t->x < tiles_per_axis(t->z) && t->y < tiles_per_axis(t->z));
    check(!previous || *previous < *t);
    check(set.contains(*t));
    previous = t;
  }
  if (total <= limit) {
    check(seen == total);
    check(!e.next());
  } else {
    check(seen == limit);
  }
  return 0;
}
