// Fuzzes `cohort tiles`'s command line: any argument vector either parses to
// options or is refused with exit code 2 (0 for --help/--version); it never
// throws, crashes or leaves options that contradict each other.
//
// Input: the arguments after "tiles", separated by NUL bytes (at most 32).

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include <fcntl.h>
#include <unistd.h>

#include "cohort/exit_codes.hpp"
#include "cohort/tiles/tile_math.hpp"
#include "cohort/tiles/tiles_cli.hpp"
#include "support/fuzz_argv.hpp"

namespace tiles = cohort::app::tiles;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // --help prints; keep the fuzzer's own output readable. (Usage errors go
  // to stderr, which stays: the fuzzer reports crashes there.)
  const int null = ::open("/dev/null", O_WRONLY);
  if (null >= 0) ::dup2(null, STDOUT_FILENO);
  // --area - reads standard input: an empty one, never the terminal.
  const int empty = ::open("/dev/null", O_RDONLY);
  if (empty >= 0) ::dup2(empty, STDIN_FILENO);
  return 0;
}

namespace {

bool one_line(const std::string& s) {
  return s.find_first_of("\r\n") == std::string::npos;
}

// Latitudes are kept as given (-90..90) and clamped only when projected.
bool is_latitude(double v) {
  return std::isfinite(v) && v >= -90 && v <= 90;
}

bool is_longitude(double v) {
  return std::isfinite(v) && v >= -180 && v <= 180;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  cohort::fuzz::fuzz_args args("tiles", data, size);

  const auto r = tiles::parse_tiles_cli(args.argc(), args.argv());
  if (!r.options) {
    if (r.exit_code != cohort::app::exit_ok && r.exit_code != cohort::app::exit_usage) {
      std::abort();
    }
    return 0;
  }
  const auto& o = *r.options;
  if (r.exit_code != cohort::app::exit_ok) std::abort();
  // A --tilejson URL is fetched and merged after parsing (tiles_main).
  const bool tilejson_pending = !o.tilejson.empty() && !o.tilejson_applied;
  if (!tilejson_pending && (o.boxes.empty() || o.zooms.empty())) std::abort();
  for (const auto& b : o.boxes) {
    if (!is_longitude(b.west) || !is_longitude(b.east)) std::abort();
    if (!is_latitude(b.south) || !is_latitude(b.north) || !(b.south < b.north)) std::abort();
  }
  for (std::size_t i = 0; i < o.zooms.size(); ++i) {
    if (o.zooms[i] < 0 || o.zooms[i] > tiles::max_zoom) std::abort();
    if (i > 0 && o.zooms[i] <= o.zooms[i - 1]) std::abort();
  }
  if (o.output.empty() && !o.dry_run) std::abort();
  if (o.concurrency < 1 || o.concurrency > 1024) std::abort();
  if (o.retries < 0 || o.retries > 100) std::abort();
  if (!(o.rate >= 0)) std::abort();
  if (o.retry_delay.count() < 0 || o.connect_timeout.count() < 0 || o.request_timeout.count() < 0 ||
      o.stall_timeout.count() < 0) {
    std::abort();
  }
  if (o.max_tile_bytes == 0) std::abort();
  if (o.force && o.refresh) std::abort();
  if (!one_line(o.user_agent)) std::abort();
  for (const auto& h : o.headers) {
    if (!one_line(h) || h.find(':') == std::string::npos || h.front() == ':') std::abort();
  }
  return 0;
}
