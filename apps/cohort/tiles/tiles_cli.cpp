#include "cohort/tiles/tiles_cli.hpp"

#include "cohort/tiles/pmtiles_source.hpp"

#include "cohort/common/cli.hpp"
#include "cohort/common/option_values.hpp"
#include "cohort/common/part.hpp"
#include "cohort/exit_codes.hpp"
#include "cohort/tiles/tile_args.hpp"

#include <fmt/core.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <thread>

namespace cohort::app::tiles {

namespace {

constexpr const char* description = R"(Usage:
  cohort tiles --bbox W,S,E,N --zoom ZOOMS --url TEMPLATE -o OUT [options]
  cohort tiles --tilejson URL|FILE -o OUT [options]
  cohort tiles --area FILE.geojson --zoom ZOOMS --url TEMPLATE -o OUT [options]
  cohort tiles convert IN OUT [options]   (see cohort tiles convert --help)

Download the map tiles of an area into a directory, an MBTiles file or a
PMTiles archive.

URL placeholders: {z} {x} {y}, {-y} (TMS row), {s} (one of --subdomains), {q}
(Bing quadkey), {r} (@2x with --retina). A TileJSON gives the URL templates
(several rotate like {s}), zooms, bounds and metadata; options override it.
--url may instead name a PMTiles archive (x.pmtiles over http(s), file:// or a
path): the area's tiles are fetched from it with coalesced range requests.
An output ending in .mbtiles is an MBTiles 1.3 file; anything else is a
directory OUT/z/x/y.ext. Re-running the same command resumes: tiles already
stored are skipped, failed ones are tried again.
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

// The --area file (- for standard input) as a tile_area; every problem is
// one usage_error line starting with "--area FILE:".
tile_area read_area(const std::string& file, int buffer) {
  const std::string shown = "--area " + shown_in_message(file) + ": ";
  std::string text;
  std::FILE* in = file == "-" ? stdin : std::fopen(file.c_str(), "rb");
  if (!in) throw usage_error(shown + "cannot read it: " + std::strerror(errno));
  char chunk[65536];
  std::size_t n;
  constexpr std::size_t max_area_bytes = std::size_t{256} << 20;  // also ends /dev/zero
  while ((n = std::fread(chunk, 1, sizeof chunk, in)) > 0 && text.size() <= max_area_bytes)
    text.append(chunk, n);
  if (text.size() > max_area_bytes) {
    if (in != stdin) std::fclose(in);
    throw usage_error(shown + "larger than 256 MiB");
  }
  const bool failed = std::ferror(in) != 0;
  const int error = errno;
  if (in != stdin) std::fclose(in);
  if (failed) throw usage_error(shown + "cannot read it: " + std::strerror(error));
  try {
    return tile_area::from_geojson(text, buffer);
  } catch (const area_error& e) {
    throw usage_error(shown + e.what());
  }
}

// The values that are parsed after CLI11 has split the command line.
struct value_texts {
  std::vector<std::string> boxes;
  std::string area, buffer;
  std::string zoom, url, subdomains = "a,b,c";
  std::string concurrency, threads, rate, retries, max_bytes, retry_delay, connect, request, stall;
  std::string max_failures, max_tiles;
  std::string part, parts;
};

// The suffix {r} expands to.
std::string_view retina_suffix(const tiles_options& o) {
  return o.retina ? "@2x" : "";
}

// --retina asks for the @2x tiles: a template without {r} would quietly
// fetch the others.
void check_retina(const tiles_options& o) {
  if (o.retina && !o.url.uses_retina()) {
    throw usage_error(fmt::format(
        "--retina: the URL template '{}' has no {{r}}; write {{r}} where the @2x suffix goes, "
        "e.g. .../{{z}}/{{x}}/{{y}}{{r}}.png",
        shown_in_message(o.url.text())));
  }
}

void add_area_options(CLI::App& app, tiles_options& o, value_texts& t) {
  app.add_option("-b,--bbox", t.boxes,
                 "area W,S,E,N in degrees (repeatable; W > E crosses the antimeridian)")
      ->type_name("W,S,E,N")
      ->allow_extra_args(false)
      ->group(area_group);
  add_value(app, "--area", t.area, "FILE", area_group,
            "GeoJSON polygons (- for stdin): only the tiles they intersect");
  add_value(app, "--buffer", t.buffer, "TILES", area_group,
            "with --area: add the tiles within TILES (0-64) tiles around it");
  add_value(app, "-z,--zoom", t.zoom, "ZOOMS", area_group, "zoom levels: 12, 10-14 or 8,10-12");
  add_value(app, "-u,--url", t.url, "TEMPLATE", area_group,
            "tile URL template, e.g. https://{s}.host/{z}/{x}/{y}.png, or a PMTiles archive");
  add_value(app, "--subdomains", t.subdomains, "LIST", area_group, "values of {s} (default a,b,c)");
  add_value(app, "-o,--output", o.output, "OUT", area_group,
            "OUT.mbtiles, OUT.pmtiles, or a directory for OUT/z/x/y.ext");
  add_value(app, "--tilejson", o.tilejson, "URL|FILE", area_group,
            "read the URL templates, zooms, bounds, scheme and metadata from a TileJSON "
            "(- for standard input); --url, --zoom, --bbox, --name... override it");
  app.add_flag("--retina", o.retina, "{r} in the URL becomes @2x (high-DPI tiles)")
      ->group(area_group);
}

void add_request_options(CLI::App& app, tiles_options& o, value_texts& t) {
  add_value(app, "-j,--concurrency", t.concurrency, "N", network_group,
            "requests at a time, 1 to 1,024 (default 4: be polite)");
  add_value(app, "--threads", t.threads, "N", network_group,
            "event loops the requests are spread over, each with its own connections, 1 to 256, "
            "at most -j (default: one per core, 1 with -j below 4)");
  add_value(app, "--rate", t.rate, "PER_SECOND", network_group,
            "at most this many requests per second per host (default: no limit)");
  add_value(app, "--retries", t.retries, "N", network_group,
            "retries of a failing tile, 0 to 100 (default 5)");
  add_value(app, "--retry-delay", t.retry_delay, "DURATION", network_group,
            "first retry's delay, doubled each retry up to 30s (default 0.5s)");
  add_value(app, "--connect-timeout", t.connect, "DURATION", network_group,
            "time to connect (default 10s)");
  add_value(app, "--request-timeout", t.request, "DURATION", network_group,
            "time for a whole request (default 60s; 0: none)");
  add_value(app, "--stall-timeout", t.stall, "DURATION", network_group,
            "fail a request that receives nothing for this long, rounded up to whole "
            "seconds (default 30s; 0: never)");
  add_value(app, "--user-agent", o.user_agent, "TEXT", network_group,
            std::string("User-Agent header (default cohort/") + COHORT_VERSION + ")");
  app.add_option("-H,--header", o.headers, "extra request header 'Name: value' (repeatable)")
      ->type_name("\"NAME: VALUE\"")
      ->allow_extra_args(false)
      ->group(network_group);
  add_value(app, "--max-tile-bytes", t.max_bytes, "SIZE", network_group,
            "largest acceptable tile, e.g. 512k or 4M (default 4M)");
  add_value(app, "--max-failures-in-a-row", t.max_failures, "N", network_group,
            "stop when this many answers in a row from a host fail the same way (HTTP 503, an "
            "HTML page...), or half as many before its first tile (default 100; 0: never)");
}

void add_output_flags(CLI::App& app, tiles_options& o, value_texts& t) {
  app.add_flag("--force", o.force, "overwrite an output made from another URL, area or zooms")
      ->group(output_group);
  app.add_flag("--refresh", o.refresh,
               "revalidate stored tiles with ETag/Last-Modified; fetch only changed ones")
      ->group(output_group);
  app.add_flag("--strict", o.strict, "exit 1 when tiles are missing (404, or 204 empty)")
      ->group(output_group);
  app.add_flag("--fsync", o.fsync, "durable against power loss (slower)")->group(output_group);
  app.add_flag("--dry-run", o.dry_run,
               "print the tiles per zoom level and an estimate of requests, bytes and time, "
               "and exit")
      ->group(output_group);
  app.add_flag("-q,--quiet", o.quiet, "no progress bar, no summary line (errors only)")
      ->group(output_group);
  app.add_flag("--json", o.json, "print a JSON summary on stdout")->group(output_group);
  add_value(app, "--failed-list", o.failed_list, "FILE", output_group,
            "at the end, write the failed tiles to FILE: a header 'z x y url error', then one "
            "tab-separated line per tile (header only when none failed; -: stdout)");
  add_value(app, "--max-tiles", t.max_tiles, "N", area_group,
            "refuse to start a run of more tiles than this (default 1,000,000; 0: no limit)");
  add_value(app, "--name", o.name, "TEXT", output_group,
            "MBTiles name (default: the output's file name)");
  add_value(app, "--description", o.description, "TEXT", output_group, "MBTiles description");
  add_value(app, "--attribution", o.attribution, "TEXT", output_group,
            "MBTiles attribution, e.g. '(c) OpenStreetMap contributors'");
  app.add_flag("--allow-deep-zoom", o.allow_deep_zoom,
               "allow zoom levels above 22 (refused otherwise: most often a typo)")
      ->group(area_group);
  add_value(app, "--part", t.part, "K/N|auto", area_group,
            "download part K of N (0 to N-1): a contiguous range of tiles along the Hilbert "
            "curve, the parts balanced by tile count; auto: from a Slurm job array or a "
            "Kubernetes Indexed Job (see --parts). Merge the parts with cohort tiles merge");
  add_value(app, "--parts", t.parts, "N|VAR", area_group,
            "with --part auto under Kubernetes (JOB_COMPLETION_INDEX): the number of parts, or "
            "the environment variable that holds it");
}

// --threads, or its default: one loop per core, one loop for fewer than 4
// connections; never more loops than connections.
std::size_t read_threads(const std::string& text, std::size_t concurrency) {
  std::size_t threads = 1;
  if (!text.empty()) {
    threads = static_cast<std::size_t>(parse_count(text, "--threads", 1, 256));
  } else if (concurrency >= 4) {
    threads = std::max(1U, std::thread::hardware_concurrency());
  }
  return std::min(threads, concurrency);
}

// -j, --threads, --rate, --retries and --max-failures-in-a-row.
void read_request_counts(tiles_options& o, const value_texts& t) {
  if (!t.concurrency.empty()) {
    o.concurrency = static_cast<std::size_t>(parse_count(t.concurrency, "-j", 1, 1024));
  }
  o.threads = read_threads(t.threads, o.concurrency);
  if (!t.rate.empty()) {
    o.rate = parse_decimal(t.rate, "--rate", "requests per second", 0, 1e6);
  }
  if (!t.retries.empty()) {
    o.retries = static_cast<int>(parse_count(t.retries, "--retries", 0, 100));
  }
  if (!t.max_failures.empty()) {
    o.max_failures_in_a_row = static_cast<std::size_t>(
        parse_count(t.max_failures, "--max-failures-in-a-row", 0, 1'000'000'000));
  }
}

// What to fetch: the area (--bbox or --area), the zooms and the URL, each
// given or taken from a --tilejson file.
void read_what_to_fetch(tiles_options& o, const value_texts& t) {
  const bool from_tilejson = !o.tilejson.empty();
  if (!t.area.empty() && !t.boxes.empty())
    throw usage_error("--bbox and --area both give the area; use one (a box is a Polygon too)");
  if (!t.buffer.empty() && t.area.empty()) throw usage_error("--buffer needs --area");
  if (t.boxes.empty() && t.area.empty() && !from_tilejson)
    throw usage_error("--bbox W,S,E,N or --area FILE.geojson is required");
  if (t.zoom.empty() && !from_tilejson) {
    throw usage_error("--zoom is required (e.g. --zoom 10-14)");
  }
  if (t.url.empty() && !from_tilejson) {
    throw usage_error(
        "--url or --tilejson is required (e.g. --url 'https://host/{z}/{x}/{y}.png')");
  }
  for (const auto& b : t.boxes) o.boxes.push_back(parse_bbox(b));
  if (!t.area.empty()) {
    const int buffer =
        t.buffer.empty() ? 0 : static_cast<int>(parse_count(t.buffer, "--buffer", 0, 64));
    o.area = std::make_shared<const tile_area>(read_area(t.area, buffer));
  }
  if (!t.zoom.empty()) o.zooms = parse_zooms(t.zoom);
  o.subdomains = parse_subdomains(t.subdomains);
  if (!t.url.empty() && is_pmtiles_source(t.url)) {
    o.archive = pmtiles_source_url(t.url);
  } else if (!t.url.empty()) {
    o.url = url_template::parse(t.url, o.subdomains, retina_suffix(o));
  }
  // A file is read now, so that its errors are usage errors like the
  // others; a URL is fetched by tiles_main, inside the runtime.
  if (from_tilejson && !is_tilejson_url(o.tilejson)) {
    apply_tilejson(o, read_tilejson_file(o.tilejson));
  } else if (!from_tilejson) {
    check_retina(o);
  }
}

// --max-tiles, --max-tile-bytes and the waits.
void read_limits_and_waits(tiles_options& o, const value_texts& t) {
  if (!t.max_tiles.empty()) o.max_tiles = parse_max_tiles(t.max_tiles);
  if (!t.max_bytes.empty()) o.max_tile_bytes = parse_size(t.max_bytes, "--max-tile-bytes");
  if (!t.retry_delay.empty()) o.retry_delay = parse_wait(t.retry_delay, "--retry-delay");
  if (!t.connect.empty()) o.connect_timeout = parse_wait(t.connect, "--connect-timeout");
  if (!t.request.empty()) o.request_timeout = parse_wait(t.request, "--request-timeout");
  if (!t.stall.empty()) o.stall_timeout = parse_wait(t.stall, "--stall-timeout");
}

// --header and --user-agent go into requests as they are: one line each.
void check_request_headers(const tiles_options& o) {
  for (const auto& h : o.headers) {
    const auto colon = h.find(':');
    if (colon == std::string::npos || colon == 0 || h.find_first_of("\r\n") != std::string::npos) {
      throw usage_error(fmt::format("--header: '{}' is not 'Name: value'", shown_in_message(h)));
    }
  }
  if (o.user_agent.find_first_of("\r\n") != std::string::npos) {
    throw usage_error("--user-agent: must be one line");
  }
}

// The outputs and the ways of writing them that cannot go together.
void check_outputs_fit(const tiles_options& o) {
  if (o.failed_list == "-" && o.json) {
    throw usage_error("--failed-list - and --json both write to stdout; give --failed-list a file");
  }
  if (!o.failed_list.empty() && !o.output.empty() &&
      std::filesystem::absolute(o.failed_list).lexically_normal() ==
          std::filesystem::absolute(o.output).lexically_normal()) {
    throw usage_error("--failed-list would overwrite the output; give it another file");
  }
  if (o.force && o.refresh) {
    throw usage_error("--force starts over and --refresh revalidates what is stored; pick one");
  }
}

// Reads the values and checks that the options fit together, in this order
// (the first mistake is the one reported); throws usage_error.
void read_values(tiles_options& o, const value_texts& t) {
  read_request_counts(o, t);
  read_what_to_fetch(o, t);
  if (o.output.empty() && !o.dry_run)
    throw usage_error("-o/--output is required (DIR or FILE.mbtiles)");
  read_limits_and_waits(o, t);
  if (!t.part.empty()) {
    o.part = parse_part(t.part, t.parts, process_environment);
  } else if (!t.parts.empty()) {
    throw usage_error("--parts goes with --part auto only");
  }
  check_request_headers(o);
  check_outputs_fit(o);
}

}  // namespace

void apply_tilejson(tiles_options& o, const tilejson& tj) {
  const std::string shown = shown_in_message(o.tilejson);
  if (o.url.text().empty() && o.archive.empty()) {
    try {
      o.url = url_template::parse_alternates(tj.tiles, o.subdomains, retina_suffix(o));
    } catch (const usage_error& e) {
      throw usage_error(fmt::format("--tilejson {}: 'tiles': {}", shown, e.what()));
    }
  }
  if (o.zooms.empty()) {
    if (!tj.maxzoom) {
      throw usage_error(
          fmt::format("--tilejson {}: has no 'maxzoom'; give the zooms with --zoom", shown));
    }
    for (int z = tj.minzoom.value_or(0); z <= *tj.maxzoom; ++z) o.zooms.push_back(z);
  }
  if (o.boxes.empty() && !o.area)  // --area gives the area too
    o.boxes.push_back(tj.bounds.value_or(bbox{-180, -max_latitude, 180, max_latitude}));
  if (o.name.empty()) o.name = tj.name;
  if (o.description.empty()) o.description = tj.description;
  if (o.attribution.empty()) o.attribution = tj.attribution;
  std::string format;
  for (const char c : tj.format)
    format += static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  if (format == "jpeg") format = "jpg";
  if (format == "png" || format == "jpg" || format == "webp" || format == "pbf" ||
      format == "mvt") {
    o.format = format;
  }
  o.json_metadata = tj.vector_layers_json;
  o.tilejson_applied = true;
  check_retina(o);
}

tiles_parse_result parse_tiles_cli(int argc, char** argv) {
  tiles_options o;
  value_texts t;
  CLI::App app(description, "cohort tiles");
  app.footer(footer);
  add_area_options(app, o, t);
  add_request_options(app, o, t);
  add_output_flags(app, o, t);
  set_up_cli(app, "tiles");
  const std::optional<int> ended =
      parse_command_line(app, "tiles", argc, argv, exit_usage, [&] { read_values(o, t); });
  if (ended) return {std::nullopt, *ended};
  return {std::move(o), exit_ok};
}

tile_area read_area_file(const std::string& file, int buffer) {
  return read_area(file, buffer);
}

}  // namespace cohort::app::tiles
