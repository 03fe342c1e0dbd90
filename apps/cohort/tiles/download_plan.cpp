#include "cohort/tiles/download_plan.hpp"

#include "cohort/common/option_values.hpp"
#include "cohort/tiles/host_rate_limiter.hpp"
#include "cohort/tiles/tile_args.hpp"
#include "cohort/tiles/tiles_report.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <set>

namespace cohort::app::tiles {

namespace {

// The Earth's circumference at the equator in metres (WGS 84), the width of
// the zoom 0 tile.
constexpr double equator_m = 40'075'016.686;

std::string tile_width_at(int z) {
  const double m = equator_m / std::ldexp(1.0, z);
  return m >= 1 ? fmt::format("{:.1f} m", m) : fmt::format("{:.1f} cm", m * 100);
}

}  // namespace

double assumed_tile_bytes(std::string_view format) {
  if (format == "webp") return 12'000;
  if (format == "pbf" || format == "mvt") return 30'000;
  return 20'000;  // png, jpg, gif, and a format the URL does not name
}

std::size_t host_count(const url_template& url) {
  const std::size_t n =
      (url.uses_subdomains() ? std::max<std::size_t>(url.subdomains().size(), 1) : 1) *
      url.alternate_count();
  if (n < 2) return 1;
  // Tile (x, 0) takes subdomain x % subdomains and alternate template
  // x % alternates: expanding x = 0..n-1 names every host.
  std::set<std::string, std::less<>> hosts;
  for (std::size_t i = 0; i < n; ++i) {
    const std::string u = url.expand({max_zoom, static_cast<std::uint32_t>(i), 0});
    hosts.emplace(url_host(u));
  }
  return hosts.size();
}

download_plan plan_download(const tile_set& set, const url_template& url, std::size_t concurrency,
                            double rate) {
  download_plan p;
  p.zooms = set.counts_per_zoom();
  for (const auto& c : p.zooms) p.tiles += c.count;
  p.requests = p.tiles;
  std::string_view ext = url.extension();
  if (!ext.empty() && ext.front() == '.') ext.remove_prefix(1);
  p.format = std::string(ext);
  p.assumed_bytes_per_tile = assumed_tile_bytes(p.format);
  p.estimated_bytes = static_cast<double>(p.requests) * p.assumed_bytes_per_tile;
  p.concurrency = std::max<std::size_t>(concurrency, 1);
  p.rate = rate;
  p.hosts = host_count(url);
  const double n = static_cast<double>(p.requests);
  const double by_concurrency = n * p.seconds_per_request / static_cast<double>(p.concurrency);
  const double by_rate = rate > 0 ? n / (rate * static_cast<double>(p.hosts)) : 0;
  p.estimated_seconds = std::max(by_concurrency, by_rate);
  return p;
}

std::vector<std::string> refusals(const download_plan& plan, const download_limits& limits) {
  std::vector<std::string> out;
  const int deepest = plan.zooms.empty() ? 0 : plan.zooms.back().zoom;
  if (deepest > deepest_usual_zoom && !limits.allow_deep_zoom) {
    out.push_back(fmt::format(
        "zoom {} is above {}: its tiles are {} wide at the equator, deeper than tile servers serve "
        "(most stop between 18 and {}); check --zoom, or pass --allow-deep-zoom if you mean it",
        deepest, deepest_usual_zoom, tile_width_at(deepest), deepest_usual_zoom));
  }
  if (limits.max_tiles != 0 && plan.tiles > limits.max_tiles) {
    out.push_back(fmt::format(
        "{} tiles is above --max-tiles {}; check --bbox and --zoom (--dry-run shows the count per "
        "zoom), or pass --max-tiles 0 to allow any number",
        format_count(plan.tiles), format_count(limits.max_tiles)));
  }
  return out;
}

std::string dry_run_text(const download_plan& plan, const std::vector<std::string>& refused) {
  std::string s;
  for (const auto& c : plan.zooms) {
    s += fmt::format("zoom {:2}: {} tile{}\n", c.zoom, format_count(c.count),
                     c.count == 1 ? "" : "s");
  }
  s += fmt::format("total: {} tile{}\n", format_count(plan.tiles), plan.tiles == 1 ? "" : "s");
  s += fmt::format("requests: {} (one per tile; retries add more, tiles already stored fewer)\n",
                   format_count(plan.requests));
  s += fmt::format("bytes: ~{} (assuming ~{} per {} tile; not measured)\n",
                   approx_bytes(plan.estimated_bytes), approx_bytes(plan.assumed_bytes_per_tile),
                   plan.format.empty() ? std::string("map") : plan.format);
  std::string pace = fmt::format("-j {}", plan.concurrency);
  if (plan.rate > 0) {
    pace += fmt::format(" and --rate {} per host over {} host{}", plan.rate, plan.hosts,
                        plan.hosts == 1 ? "" : "s");
  }
  s += fmt::format("time: {} at {} (assuming ~{} s per request)\n",
                   approx_duration(plan.estimated_seconds), pace, plan.seconds_per_request);
  for (const auto& r : refused) s += "a run would refuse to start: " + r + "\n";
  return s;
}

std::string dry_run_json(const download_plan& plan, const std::vector<std::string>& refused) {
  std::string zooms;
  for (const auto& c : plan.zooms) {
    zooms += fmt::format("{}\"{}\": {}", zooms.empty() ? "" : ", ", c.zoom, c.count);
  }
  std::string reasons;
  for (const auto& r : refused) reasons += (reasons.empty() ? "" : ", ") + json_quoted(r);
  return fmt::format(
      "{{\"total\": {}, \"zooms\": {{{}}}, \"requests\": {}, \"format\": {}, "
      "\"assumed_bytes_per_tile\": {:.0f}, \"estimated_bytes\": {:.0f}, \"concurrency\": {}, "
      "\"rate\": {}, \"hosts\": {}, \"assumed_seconds_per_request\": {}, "
      "\"estimated_seconds\": {:.3f}, \"refusals\": [{}]}}\n",
      plan.tiles, zooms, plan.requests, json_quoted(plan.format), plan.assumed_bytes_per_tile,
      plan.estimated_bytes, plan.concurrency, plan.rate, plan.hosts, plan.seconds_per_request,
      plan.estimated_seconds, reasons);
}

std::uint64_t parse_max_tiles(const std::string& text) {
  std::string digits;
  for (char c : text) {
    if (c != ',') digits += c;
  }
  std::uint64_t value = 0;
  const char* end = digits.data() + digits.size();
  auto [ptr, ec] = std::from_chars(digits.data(), end, value);
  if (digits.empty() || ec != std::errc{} || ptr != end) {
    throw usage_error(fmt::format(
        "--max-tiles: '{}' is not a number of tiles (e.g. 5000000 or 5,000,000; 0: no limit)",
        shown_in_message(text)));
  }
  return value;
}

std::string approx_bytes(double bytes) {
  if (bytes < 1000) return fmt::format("{:.0f} B", bytes);
  constexpr const char* units[] = {"kB", "MB", "GB", "TB", "PB", "EB"};
  std::size_t u = 0;
  double v = bytes / 1000;
  while (v >= 999.95 && u + 1 < std::size(units)) {
    v /= 1000;
    ++u;
  }
  return fmt::format("{:.1f} {}", v, units[u]);
}

std::string approx_duration(double seconds) {
  constexpr double minute = 60, hour = 3600, day = 86'400, year = 365.25 * day;
  if (seconds < 1) return "under a second";
  if (seconds < 59.5) return fmt::format("~{:.0f} s", seconds);
  if (seconds < 59.5 * minute) return fmt::format("~{:.0f} min", seconds / minute);
  if (seconds < 48 * hour) return fmt::format("~{:.1f} h", seconds / hour);
  if (seconds < year) return fmt::format("~{:.1f} days", seconds / day);
  const double years = seconds / year;
  if (!(years < 1e15)) return "over 1,000,000,000,000,000 years";  // --rate 1e-9, say
  if (years < 9.95) return fmt::format("~{:.1f} years", years);
  return "~" + format_count(static_cast<std::uint64_t>(std::llround(years))) + " years";
}

}  // namespace cohort::app::tiles
