// libFuzzer target: GeoJSON areas (tile_area::from_geojson, `cohort tiles
// --area`), then their tiles at zooms 0-6.
//
// Input: the first byte chooses the buffer (0-2), the rest is the GeoJSON.
// An area_error is an accepted outcome if its message is one line; any
// other exception, a crash or a broken invariant (counts that differ from
// the enumeration, tiles out of order or out of range, contains() saying no
// to an enumerated tile) is a bug.

#include "cohort/tiles/tile_area.hpp"

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string_view>

namespace {

using namespace cohort::app::tiles;

void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const int buffer = data[0] % 3;
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  std::shared_ptr<const tile_area> area;
  try {
    area = std::make_shared<const tile_area>(tile_area::from_geojson(text, buffer));
  } catch (const area_error& e) {
    check(std::string_view(e.what()).find('\n') == std::string_view::npos);
    return 0;
  }
  check(area->buffer() == buffer);
  for (const bbox& b : area->bounds()) {
    check(b.west >= -180 && b.west <= 180 && b.east >= -180 && b.east <= 180);
    check(b.south >= -90 && b.north <= 90 && b.south <= b.north);
  }
  check(area->fingerprint_text().rfind("area:", 0) == 0);

  const tile_set set = tile_set::of_area(area, {0, 1, 2, 3, 4, 5, 6});
  std::uint64_t per_zoom = 0;
  for (const zoom_count& c : set.counts_per_zoom()) {
    check(c.count <= std::uint64_t{tiles_per_axis(c.zoom)} * tiles_per_axis(c.zoom));
    per_zoom += c.count;
  }
  check(per_zoom == set.count());
  std::uint64_t seen = 0;
  std::optional<tile> previous;
  auto e = set.enumerate();
  for (std::optional<tile> t = e.next(); t; t = e.next(), ++seen) {
    check(t->x < tiles_per_axis(t->z) && t->y < tiles_per_axis(t->z));
    check(!previous || *previous < *t);
    if (seen < 2048) check(set.contains(*t));
    previous = t;
  }
  check(seen == per_zoom);
  check(!e.next());
  return 0;
}
