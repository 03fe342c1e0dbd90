#include "cohort/tiles/tile_id.hpp"

namespace cohort::app::tiles {
namespace {

// One step of the Hilbert curve's rotation on a square of side s: flip when
// in the right half of the lower row, then transpose.
void rotate(std::uint64_t s, std::uint64_t& x, std::uint64_t& y, std::uint64_t rx,
            std::uint64_t ry) {
  if (ry == 0) {
    if (rx == 1) {
      x = s - 1 - x;
      y = s - 1 - y;
    }
    std::swap(x, y);
  }
}

}  // namespace

std::uint64_t tile_id(const tile& t) {
  std::uint64_t x = t.x;
  std::uint64_t y = t.y;
  std::uint64_t d = 0;
  for (std::uint64_t s = (std::uint64_t{1} << t.z) >> 1; s > 0; s >>= 1) {
    const std::uint64_t rx = (x & s) != 0 ? 1 : 0;
    const std::uint64_t ry = (y & s) != 0 ? 1 : 0;
    d += s * s * ((3 * rx) ^ ry);
    // Only the bits below s matter from here on.
    x &= s - 1;
    y &= s - 1;
    rotate(s, x, y, rx, ry);
  }
  return first_tile_id(t.z) + d;
}

tile tile_of_id(std::uint64_t id) {
  int z = 0;
  while (z < max_zoom && id >= first_tile_id(z + 1)) {
    ++z;
  }
  std::uint64_t t = id - first_tile_id(z);
  std::uint64_t x = 0;
  std::uint64_t y = 0;
  const std::uint64_t n = std::uint64_t{1} << z;
  for (std::uint64_t s = 1; s < n; s <<= 1) {
    const std::uint64_t rx = 1 & (t >> 1);
    const std::uint64_t ry = 1 & (t ^ rx);
    rotate(s, x, y, rx, ry);
    x += s * rx;
    y += s * ry;
    t >>= 2;
  }
  return tile{z, static_cast<std::uint32_t>(x), static_cast<std::uint32_t>(y)};
}

}  // namespace cohort::app::tiles
