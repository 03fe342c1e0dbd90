#include "cohort/tiles/tiles_cli.hpp"

#include "cohort/common/cli.hpp"
#include "cohort/common/option_values.hpp"
#include "cohort/exit_codes.hpp"
#include "cohort/tiles/tile_args.hpp"

#include <fmt/core.h>
#include <CLI/CLI.hpp>

#include <chrono>

namespace cohort::app::tiles {

namespace {

constexpr const char* description = R"(Usage:
  cohort tiles --bbox W,S,E,N --zoom ZOOMS --url TEMPLATE -o OUT [options]

Download the map tiles of an area into a directory or an MBTiles file.

URL placeholders: {z} {x} {y}, {-y} (TMS row), {s} (one of --subdomains), {q}
(Bing quadkey). An output ending in .mbtiles is an MBTiles 1.3 file; anything
else is a directory OUT/z/x/y.ext. Re-running the same command resumes: tiles
already stored are skipped, failed ones are tried again.
Durations: 0.5, 500ms, 2s, 1m. Sizes: 500000, 512k, 4M.
)";

constexpr const char* footer =
    R"(Examples:
  cohort tiles --bbox 13.08,52.33,13.76,52.68 --zoom 10-14 \
      --url 'https://tiles.example.org/{z}/{x}/{y}.png' -o berlin.mbtiles
  cohort tiles --bbox 177,-19,-178,-16 --zoom 5-8 --url '...' --dry-run
  cohort tiles ... -o tiles/ --refresh      revalidate what is stored

Be polite: identify yourself with --user-agent and keep -j low. The
OpenStreetMap tile servers forbid bulk downloading (see their tile usage
policy); run your own tile server for large areas.

Signals: the first Ctrl+C (SIGINT) or SIGTERM starts no new request, stops
the running ones, saves what was stored and tells how to resume; a second
one stops at once (the output stays consistent).

Exit status: 0 every tile stored (404s allowed unless --strict); 1 some tiles
failed (listed); 2 usage or input error; 130 interrupted by SIGINT, 143 by
SIGTERM. An interrupted download ends by its signal once the output is
saved (as the shell shows it: 130, 143), so Ctrl+C also stops a script that
runs cohort.)";

constexpr const char* area_group = "What to download";
constexpr const char* network_group = "Requests";
constexpr const char* output_group = "Output";

// The longest a tiles timeout or delay may be (about 11.6 days).
constexpr std::chrono::seconds max_wait{1'000'000};

// A duration option in whole milliseconds, rounded up so that a non-zero
// value never becomes 0 (which means "none" for the timeouts).
std::chrono::milliseconds parse_wait(const std::string& text, const char* option) {
  const std::chrono::nanoseconds d = parse_duration(text, option);
  check_at_most(d, max_wait, option);
  return std::chrono::ceil<std::chrono::milliseconds>(d);
}

}  // namespace

tiles_parse_result parse_tiles_cli(int argc, char** argv) {
  tiles_options o;
  CLI::App app(description, "cohort tiles");
  app.footer(footer);

  std::vector<std::string> bbox_texts;
  std::string zoom_text, url_text, subdomains_text = "a,b,c";
  std::string concurrency_text, rate_text, retries_text;
  std::string max_bytes_text, retry_delay_text, connect_text, request_text, stall_text;
  app.add_option("-b,--bbox", bbox_texts,
                 "area W,S,E,N in degrees (repeatable; W > E crosses the antimeridian)")
      ->type_name("W,S,E,N")
      ->allow_extra_args(false)
      ->group(area_group);
  app.add_option("-z,--zoom", zoom_text, "zoom levels: 12, 10-14 or 8,10-12")
      ->type_name("ZOOMS")
      ->group(area_group);
  app.add_option("-u,--url", url_text, "tile URL template, e.g. https://{s}.host/{z}/{x}/{y}.png")
      ->type_name("TEMPLATE")
      ->group(area_group);
  app.add_option("--subdomains", subdomains_text, "values of {s} (default a,b,c)")
      ->type_name("LIST")
      ->group(area_group);
  app.add_option("-o,--output", o.output, "OUT.mbtiles, or a directory for OUT/z/x/y.ext")
      ->type_name("OUT")
      ->group(area_group);
  app.add_option("-j,--concurrency", concurrency_text,
                 "requests at a time, 1 to 1,024 (default 4: be polite)")
      ->type_name("N")
      ->group(network_group);
  app.add_option("--rate", rate_text,
                 "at most this many requests per second per host (default: no limit)")
      ->type_name("PER_SECOND")
      ->group(network_group);
  app.add_option("--retries", retries_text, "retries of a failing tile, 0 to 100 (default 5)")
      ->type_name("N")
      ->group(network_group);
  app.add_option("--retry-delay", retry_delay_text,
                 "first retry's delay, doubled each retry up to 30s (default 0.5s)")
      ->type_name("DURATION")
      ->group(network_group);
  app.add_option("--connect-timeout", connect_text, "time to connect (default 10s)")
      ->type_name("DURATION")
      ->group(network_group);
  app.add_option("--request-timeout", request_text,
                 "time for a whole request (default 60s; 0: none)")
      ->type_name("DURATION")
      ->group(network_group);
  app.add_option("--stall-timeout", stall_text,
                 "fail a request that receives nothing for this long, rounded up to whole "
                 "seconds (default 30s; 0: never)")
      ->type_name("DURATION")
      ->group(network_group);
  app.add_option("--user-agent", o.user_agent,
                 std::string("User-Agent header (default cohort/") + COHORT_VERSION + ")")
      ->type_name("TEXT")
      ->group(network_group);
  app.add_option("-H,--header", o.headers, "extra request header 'Name: value' (repeatable)")
      ->type_name("\"NAME: VALUE\"")
      ->allow_extra_args(false)
      ->group(network_group);
  app.add_option("--max-tile-bytes", max_bytes_text,
                 "largest acceptable tile, e.g. 512k or 4M (default 4M)")
      ->type_name("SIZE")
      ->group(network_group);
  app.add_flag("--force", o.force, "overwrite an output made from another URL, area or zooms")
      ->group(output_group);
  app.add_flag("--refresh", o.refresh,
               "revalidate stored tiles with ETag/Last-Modified; fetch only changed ones")
      ->group(output_group);
  app.add_flag("--strict", o.strict, "exit 1 when tiles are missing (404, or 204 empty)")
      ->group(output_group);
  app.add_flag("--fsync", o.fsync, "durable against power loss (slower)")->group(output_group);
  app.add_flag("--dry-run", o.dry_run, "print the tiles per zoom level and exit")
      ->group(output_group);
  app.add_flag("-q,--quiet", o.quiet, "no progress bar, no summary line (errors only)")
      ->group(output_group);
  app.add_flag("--json", o.json, "print a JSON summary on stdout")->group(output_group);
  set_up_cli(app, "tiles");

  try {
    app.parse(argc, argv);
    if (!concurrency_text.empty()) {
      o.concurrency = static_cast<std::size_t>(parse_count(concurrency_text, "-j", 1, 1024));
    }
    if (!rate_text.empty()) {
      o.rate = parse_decimal(rate_text, "--rate", "requests per second", 0, 1e6);
    }
    if (!retries_text.empty()) {
      o.retries = static_cast<int>(parse_count(retries_text, "--retries", 0, 100));
    }
    if (bbox_texts.empty()) throw usage_error("--bbox W,S,E,N is required");
    if (zoom_text.empty()) throw usage_error("--zoom is required (e.g. --zoom 10-14)");
    if (url_text.empty())
      throw usage_error("--url is required (e.g. --url 'https://host/{z}/{x}/{y}.png')");
    for (const auto& b : bbox_texts) o.boxes.push_back(parse_bbox(b));
    o.zooms = parse_zooms(zoom_text);
    o.url = url_template::parse(url_text, parse_subdomains(subdomains_text));
    if (o.output.empty() && !o.dry_run)
      throw usage_error("-o/--output is required (DIR or FILE.mbtiles)");
    if (!max_bytes_text.empty()) o.max_tile_bytes = parse_size(max_bytes_text, "--max-tile-bytes");
    if (!retry_delay_text.empty()) o.retry_delay = parse_wait(retry_delay_text, "--retry-delay");
    if (!connect_text.empty()) o.connect_timeout = parse_wait(connect_text, "--connect-timeout");
    if (!request_text.empty()) o.request_timeout = parse_wait(request_text, "--request-timeout");
    if (!stall_text.empty()) o.stall_timeout = parse_wait(stall_text, "--stall-timeout");
    for (const auto& h : o.headers) {
      const auto colon = h.find(':');
      if (colon == std::string::npos || colon == 0 ||
          h.find_first_of("\r\n") != std::string::npos) {
        throw usage_error(fmt::format("--header: '{}' is not 'Name: value'", shown_in_message(h)));
      }
    }
    if (o.user_agent.find_first_of("\r\n") != std::string::npos) {
      throw usage_error("--user-agent: must be one line");
    }
    if (o.force && o.refresh) {
      throw usage_error("--force starts over and --refresh revalidates what is stored; pick one");
    }
  } catch (const CLI::Success& e) {
    return {std::nullopt, app.exit(e)};
  } catch (const CLI::ParseError& e) {
    fmt::print(stderr, "cohort tiles: {}\n",
               parse_error_message(e, "tiles", argc > 1 ? argv[argc - 1] : ""));
    return {std::nullopt, exit_usage};
  } catch (const std::exception& e) {
    fmt::print(stderr, "cohort tiles: {}\n", e.what());
    return {std::nullopt, exit_usage};
  }
  return {std::move(o), exit_ok};
}

}  // namespace cohort::app::tiles
