#include "cohort/tiles/tiles_cli.hpp"

#include "cohort/exit_codes.hpp"
#include "cohort/tiles/tile_args.hpp"

#include <fmt/core.h>
#include <CLI/CLI.hpp>

#include <charconv>
#include <cmath>

namespace cohort::app::tiles {

namespace {

constexpr const char* description =
    R"(Download the map tiles of an area into a directory or an MBTiles file.

  cohort tiles --bbox W,S,E,N --zoom A-B --url 'https://host/{z}/{x}/{y}.png' -o city.mbtiles

URL placeholders: {z} {x} {y}, {-y} (TMS row), {s} (one of --subdomains), {q}
(Bing quadkey). An output ending in .mbtiles is an MBTiles 1.3 file; anything
else is a directory OUT/z/x/y.ext. Re-running the same command resumes: tiles
already stored are skipped, failed ones are tried again.)";

constexpr const char* footer =
    R"(Be polite: identify yourself with --user-agent and keep -j low. The
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

}  // namespace

std::uint64_t parse_byte_count(const std::string& text, const char* option) {
  std::uint64_t value = 0;
  const char* begin = text.data();
  const char* end = begin + text.size();
  auto [ptr, ec] = std::from_chars(begin, end, value);
  std::uint64_t scale = 1;
  if (ec == std::errc{} && ptr + 1 == end) {
    if (*ptr == 'k' || *ptr == 'K') scale = 1024;
    if (*ptr == 'm' || *ptr == 'M') scale = std::uint64_t{1024} * 1024;
    if (scale != 1) ++ptr;
  }
  if (ec != std::errc{} || ptr != end || value == 0 || value > (UINT64_MAX / scale)) {
    throw usage_error(fmt::format("{}: '{}' is not a positive byte count (e.g. 500000, 512k, 4M)",
                                  option, detail::shown_in_message(text)));
  }
  return value * scale;
}

std::chrono::milliseconds parse_seconds(const std::string& text, const char* option) {
  double value = -1;
  const char* begin = text.data();
  const char* end = begin + text.size();
  auto [ptr, ec] = std::from_chars(begin, end, value);
  if (ec != std::errc{} || ptr != end || !std::isfinite(value) || value < 0 || value > 1e6) {
    throw usage_error(fmt::format("{}: '{}' is not a number of seconds (e.g. 10 or 0.5)", option,
                                  detail::shown_in_message(text)));
  }
  return std::chrono::milliseconds(static_cast<std::int64_t>(std::llround(value * 1000)));
}

tiles_parse_result parse_tiles_cli(int argc, char** argv) {
  tiles_options o;
  CLI::App app(description, "cohort tiles");
  app.footer(footer);
  app.set_version_flag("--version", std::string("cohort tiles ") + COHORT_VERSION);

  std::vector<std::string> bbox_texts;
  std::string zoom_text, url_text, subdomains_text = "a,b,c";
  std::string max_bytes_text, retry_delay_text, connect_text, request_text, stall_text;
  std::size_t concurrency = o.concurrency;
  app.add_option("-b,--bbox", bbox_texts,
                 "area W,S,E,N in degrees (repeatable; W > E crosses the antimeridian)")
      ->type_name("W,S,E,N")
      ->allow_extra_args(false);
  app.add_option("-z,--zoom", zoom_text, "zoom levels: 12, 10-14 or 8,10-12")->type_name("ZOOMS");
  app.add_option("-u,--url", url_text, "tile URL template, e.g. https://{s}.host/{z}/{x}/{y}.png")
      ->type_name("TEMPLATE");
  app.add_option("-o,--output", o.output, "OUT.mbtiles, or a directory for OUT/z/x/y.ext")
      ->type_name("PATH");
  app.add_option("--subdomains", subdomains_text, "values of {s} (default a,b,c)")
      ->type_name("LIST");
  app.add_option("-j,--concurrency", concurrency, "requests at a time (default 4: be polite)")
      ->type_name("N")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1024}));
  app.add_option("--rate", o.rate,
                 "at most this many requests per second per host (default: no limit)")
      ->type_name("PER_SECOND")
      ->check(CLI::Range(0.0, 1e6));
  app.add_option("--retries", o.retries, "retries of a failing tile (default 5)")
      ->type_name("N")
      ->check(CLI::Range(0, 100));
  app.add_option("--retry-delay", retry_delay_text,
                 "first retry's delay in seconds, doubled each retry up to 30 (default 0.5)")
      ->type_name("SECONDS");
  app.add_option("--connect-timeout", connect_text, "seconds to connect (default 10)")
      ->type_name("SECONDS");
  app.add_option("--request-timeout", request_text,
                 "seconds for a whole request (default 60; 0: none)")
      ->type_name("SECONDS");
  app.add_option("--stall-timeout", stall_text,
                 "fail a request that receives nothing for this many seconds, rounded up to "
                 "whole seconds (default 30; 0: never)")
      ->type_name("SECONDS");
  app.add_option("--user-agent", o.user_agent,
                 std::string("User-Agent header (default cohort/") + COHORT_VERSION + ")")
      ->type_name("TEXT");
  app.add_option("-H,--header", o.headers, "extra request header 'Name: value' (repeatable)")
      ->type_name("\"NAME: VALUE\"")
      ->allow_extra_args(false);
  app.add_option("--max-tile-bytes", max_bytes_text,
                 "largest acceptable tile, e.g. 512k or 4M (default 4M)")
      ->type_name("BYTES");
  app.add_flag("--force", o.force, "overwrite an output made from another URL, area or zooms");
  app.add_flag("--refresh", o.refresh,
               "revalidate stored tiles with ETag/Last-Modified; fetch only changed ones");
  app.add_flag("--strict", o.strict, "exit 1 when tiles are missing (404, or 204 empty)");
  app.add_flag("--fsync", o.fsync, "durable against power loss (slower)");
  app.add_flag("--dry-run", o.dry_run, "print the tiles per zoom level and exit");
  app.add_flag("-q,--quiet", o.quiet, "no progress bar, no summary line (errors only)");
  app.add_flag("--json", o.json, "print a JSON summary on stdout");

  try {
    app.parse(argc, argv);
    if (bbox_texts.empty()) throw usage_error("--bbox W,S,E,N is required");
    if (zoom_text.empty()) throw usage_error("--zoom is required (e.g. --zoom 10-14)");
    if (url_text.empty())
      throw usage_error("--url is required (e.g. --url 'https://host/{z}/{x}/{y}.png')");
    for (const auto& b : bbox_texts) o.boxes.push_back(parse_bbox(b));
    o.zooms = parse_zooms(zoom_text);
    o.url = url_template::parse(url_text, parse_subdomains(subdomains_text));
    if (o.output.empty() && !o.dry_run)
      throw usage_error("-o/--output is required (DIR or FILE.mbtiles)");
    o.concurrency = concurrency;
    if (!max_bytes_text.empty())
      o.max_tile_bytes = parse_byte_count(max_bytes_text, "--max-tile-bytes");
    if (!retry_delay_text.empty()) o.retry_delay = parse_seconds(retry_delay_text, "--retry-delay");
    if (!connect_text.empty()) o.connect_timeout = parse_seconds(connect_text, "--connect-timeout");
    if (!request_text.empty()) o.request_timeout = parse_seconds(request_text, "--request-timeout");
    if (!stall_text.empty()) o.stall_timeout = parse_seconds(stall_text, "--stall-timeout");
    for (const auto& h : o.headers) {
      const auto colon = h.find(':');
      if (colon == std::string::npos || colon == 0 ||
          h.find_first_of("\r\n") != std::string::npos) {
        throw usage_error(
            fmt::format("--header: '{}' is not 'Name: value'", detail::shown_in_message(h)));
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
    fmt::print(stderr, "cohort tiles: {}; see cohort tiles --help\n", e.what());
    return {std::nullopt, exit_usage};
  } catch (const std::exception& e) {
    fmt::print(stderr, "cohort tiles: {}\n", e.what());
    return {std::nullopt, exit_usage};
  }
  return {std::move(o), exit_ok};
}

}  // namespace cohort::app::tiles
