// libFuzzer target: parse_tilejson and its merging into the options.
//
// Input: a TileJSON document. Parsing may fail with usage_error, one line
// naming the source (that is fine); any other exception, a crash or a
// broken invariant is a bug. A document that parses is merged with
// apply_tilejson, whose templates must then expand for every tile of its
// lowest zoom's first row.

#include "cohort/tiles/tilejson.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "cohort/common/option_values.hpp"
#include "cohort/tiles/tiles_cli.hpp"

namespace {

using cohort::app::usage_error;
using namespace cohort::app::tiles;

void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  tilejson tj;
  try {
    tj = parse_tilejson(input, "fuzz.json");
  } catch (const usage_error& e) {
    const std::string_view what = e.what();
    check(what.starts_with("--tilejson fuzz.json: "));
    check(what.find('\n') == std::string_view::npos);
    return 0;
  }
  check(!tj.tiles.empty());
  if (tj.minzoom) check(*tj.minzoom >= 0 && *tj.minzoom <= max_zoom);
  if (tj.maxzoom) check(*tj.maxzoom >= 0 && *tj.maxzoom <= max_zoom);
  if (tj.minzoom && tj.maxzoom) check(*tj.minzoom <= *tj.maxzoom);
  if (tj.bounds) check(tj.bounds->south < tj.bounds->north);

  tiles_options o;
  o.tilejson = "fuzz.json";
  o.subdomains = {"a", "b"};
  try {
    apply_tilejson(o, tj);
  } catch (const usage_error& e) {
    check(std::string_view(e.what()).find('\n') == std::string_view::npos);
    return 0;
  }
  check(!o.zooms.empty() && o.boxes.size() == 1);
  const int z = o.zooms.front();
  const std::uint32_t n = std::min<std::uint32_t>(std::uint32_t{1} << z, 8);
  for (std::uint32_t x = 0; x < n; ++x) {
    const std::string url = o.url.expand({z, x, 0});
    check(url.size() > 7);  // at least a scheme and a host
  }
  return 0;
}
