#pragma once

/// \file
/// The command line of `cohort tiles`, parsed and checked into
/// tiles_options: every malformed value is a one-line error and exit
/// status 2 before anything is downloaded.

#include "cohort/common/part.hpp"
#include "cohort/tiles/download_plan.hpp"
#include "cohort/tiles/tile_area.hpp"
#include "cohort/tiles/tile_math.hpp"
#include "cohort/tiles/tilejson.hpp"
#include "cohort/tiles/url_template.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace cohort::app::tiles {

/// What `cohort tiles` was asked to do.
struct tiles_options {
  std::vector<bbox> boxes;                ///< --bbox (repeatable)
  std::shared_ptr<const tile_area> area;  ///< --area with --buffer (or null)
  std::vector<int> zooms;                 ///< --zoom, ascending, distinct
  url_template url;                       ///< --url with --subdomains
  /// --url naming a PMTiles archive, as pmtiles_source_url gives it (then
  /// `url` is empty); empty for a URL template.
  std::string archive;
  std::string output;                                 ///< -o/--output (dir or .mbtiles)
  std::size_t concurrency = 4;                        ///< -j/--concurrency
  std::size_t threads = 1;                            ///< --threads, resolved: 1 to -j
  double rate = 0;                                    ///< --rate requests/s per host (0: none)
  int retries = 5;                                    ///< --retries (after the first attempt)
  std::chrono::milliseconds retry_delay{500};         ///< --retry-delay, first backoff
  std::chrono::milliseconds connect_timeout{10'000};  ///< --connect-timeout
  std::chrono::milliseconds request_timeout{60'000};  ///< --request-timeout (0: none)
  std::chrono::milliseconds stall_timeout{30'000};    ///< --stall-timeout (0: none)
  std::string user_agent;                             ///< --user-agent (empty: cohort/VERSION)
  std::vector<std::string> headers;                   ///< --header "Name: value"
  std::uint64_t max_tile_bytes = 4ULL * 1024 * 1024;  ///< --max-tile-bytes
  std::size_t max_failures_in_a_row = 100;            ///< --max-failures-in-a-row (0: never stop)
  bool force = false;                                 ///< --force
  bool refresh = false;                               ///< --refresh
  bool strict = false;                                ///< --strict
  bool fsync = false;                                 ///< --fsync
  bool dry_run = false;                               ///< --dry-run
  std::uint64_t max_tiles = default_max_tiles;        ///< --max-tiles (0: no limit)
  bool allow_deep_zoom = false;                       ///< --allow-deep-zoom (zooms above 22)
  std::optional<work_part> part;                      ///< --part (none: the whole download)
  bool quiet = false;                                 ///< -q/--quiet
  bool json = false;                                  ///< --json
  std::string failed_list;                            ///< --failed-list FILE ("-": stdout)
  std::string name;                                   ///< --name (MBTiles metadata)
  std::string description;                            ///< --description (MBTiles metadata)
  std::string attribution;                            ///< --attribution (MBTiles metadata)
  std::string tilejson;                               ///< --tilejson URL|FILE ("": none)
  bool retina = false;                                ///< --retina: {r} is "@2x"
  std::vector<std::string> subdomains;                ///< --subdomains (the values of {s})
  std::string format;         ///< the TileJSON's `format` ("": from the URL)
  std::string json_metadata;  ///< MBTiles `json` (a TileJSON's vector_layers)
  /// True once the TileJSON is merged in (a --tilejson URL is fetched
  /// after parsing, by tiles_main).
  bool tilejson_applied = false;
};

/// Merges a TileJSON into `o` under what the command line said: its
/// `tiles` become the URL templates unless --url was given (several are
/// alternates, like {s}), its zoom range the zooms unless --zoom, its
/// bounds the area unless --bbox (the whole world when it has none), its
/// name, description and attribution the metadata unless given, and its
/// vector_layers the MBTiles `json` row. Throws usage_error naming
/// `o.tilejson` when the zooms are left unknown or a template is invalid.
void apply_tilejson(tiles_options& o, const tilejson& tj);

/// The options, or the exit status to return at once (--help and --version:
/// 0; a usage error: 2, the message already printed on stderr).
struct tiles_parse_result {
  std::optional<tiles_options> options;
  int exit_code = 0;
};

/// Parses `cohort tiles`'s arguments (argv[0] is "tiles").
tiles_parse_result parse_tiles_cli(int argc, char** argv);

/// The --area file (- for standard input) as a tile_area with `buffer`
/// tiles around it; every problem is one usage_error line starting with
/// "--area FILE:".
tile_area read_area_file(const std::string& file, int buffer);

}  // namespace cohort::app::tiles
