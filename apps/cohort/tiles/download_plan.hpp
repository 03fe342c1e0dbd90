#pragma once

/// \file
/// What a `cohort tiles` run would cost before it starts: the tiles per
/// zoom, an estimate of requests, bytes and time (what `--dry-run` prints),
/// and the guard against an accidental huge download (`--max-tiles`,
/// `--allow-deep-zoom`), which refuses a run before any output is created
/// and before any request.
///
/// The estimate is computed, not measured: bytes from an assumed size per
/// tile format and time from an assumed time per request, both said in the
/// output, so that a reader knows what the figures rest on.

#include "cohort/tiles/tile_math.hpp"
#include "cohort/tiles/url_template.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace cohort::app::tiles {

/// Default of `--max-tiles`: a run of more tiles refuses to start.
inline constexpr std::uint64_t default_max_tiles = 1'000'000;

/// Zoom levels above this one are refused unless `--allow-deep-zoom` says
/// they are meant: tile servers serve up to zoom 18 to 22, and a deeper
/// zoom is most often a typo that multiplies the tile count by 4 per level.
inline constexpr int deepest_usual_zoom = 22;

/// Time assumed per request for the time estimate: a round trip to a
/// tile server over a kept-alive connection.
inline constexpr double assumed_seconds_per_request = 0.1;

/// Size assumed for one tile of `format` ("png", "jpg", "jpeg", "webp",
/// "gif", "pbf", "mvt"; "" or anything else: unknown) in bytes, for the byte
/// estimate. Rough figures for tiles of a city at zooms 12 to 16; real
/// tiles vary tenfold (sea, fields, dense streets).
///
///   assumed_tile_bytes("png") == 20'000
double assumed_tile_bytes(std::string_view format);

/// The number of distinct hosts the tiles of `url` are fetched from (the
/// values of {s} when it lies in the host, else 1): --rate applies to each.
std::size_t host_count(const url_template& url);

/// What a run would fetch and how long it would take.
struct download_plan {
  std::vector<zoom_count> zooms;      ///< tiles per zoom, ascending
  std::uint64_t tiles = 0;            ///< distinct tiles over all zooms
  std::uint64_t requests = 0;         ///< one per tile (retries add more)
  std::string format;                 ///< "png", ...; "" when the URL does not say
  double assumed_bytes_per_tile = 0;  ///< see assumed_tile_bytes
  double estimated_bytes = 0;         ///< requests × assumed_bytes_per_tile
  std::size_t concurrency = 1;        ///< -j
  double rate = 0;                    ///< --rate per host (0: none)
  std::size_t hosts = 1;              ///< see host_count
  double seconds_per_request = assumed_seconds_per_request;
  double estimated_seconds = 0;  ///< the slower of -j and --rate's pace
};

/// The plan of downloading `set` from `url` with `concurrency` requests at
/// a time and at most `rate` requests per second per host (0: no limit).
/// Counts exactly (tile_set::counts_per_zoom: no enumeration).
///
///   auto plan = plan_download(set, url, 4, 0);
///   plan.estimated_seconds == plan.requests * 0.1 / 4
download_plan plan_download(const tile_set& set, const url_template& url, std::size_t concurrency,
                            double rate);

/// What the guard allows (`--max-tiles`, `--allow-deep-zoom`).
struct download_limits {
  std::uint64_t max_tiles = default_max_tiles;  ///< 0: no limit
  bool allow_deep_zoom = false;
};

/// Parses a `--max-tiles` value: digits, commas allowed ("5,000,000"); 0
/// means no limit. Throws usage_error naming the option otherwise.
std::uint64_t parse_max_tiles(const std::string& text);

/// Why `plan` must not start under `limits`: one line each (without the
/// "refusing to start" prefix), saying the count or the zoom and how to
/// proceed; empty when it may start. A plan of exactly max_tiles tiles may.
///
///   refusals(plan, {1'000'000, false}) ==
///     {"224,395,264 tiles is above --max-tiles 1,000,000; check --bbox and --zoom "
///      "(--dry-run shows the count per zoom), or pass --max-tiles 0 to allow any number"}
std::vector<std::string> refusals(const download_plan& plan, const download_limits& limits);

/// `--dry-run`'s text: a line per zoom, the total, then the estimate of
/// requests, bytes and time with what it assumes, then a line per refusal
/// ("a run would refuse to start: ...").
std::string dry_run_text(const download_plan& plan, const std::vector<std::string>& refused);

/// `--dry-run --json`'s one-line object: `total` and `zooms` (a count per
/// zoom, keyed by the zoom as a string), then `requests`, `format`,
/// `assumed_bytes_per_tile`, `estimated_bytes`, `concurrency`, `rate`,
/// `hosts`, `assumed_seconds_per_request`, `estimated_seconds`, `refusals`
/// (a list of lines). Newline-terminated.
std::string dry_run_json(const download_plan& plan, const std::vector<std::string>& refused);

/// A byte count for people, in decimal units as the summary line's MB/s:
/// "850 B", "20.0 kB", "1.5 MB", ..., "29.3 PB", "1.2 EB".
std::string approx_bytes(double bytes);

/// A duration for people, approximate: "under a second", "~12 s",
/// "~4 min", "~2.5 h", "~3.1 days", "~1,162 years".
std::string approx_duration(double seconds);

}  // namespace cohort::app::tiles
