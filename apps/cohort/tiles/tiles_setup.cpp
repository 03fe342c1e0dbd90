#include "cohort/tiles/tiles_setup.hpp"

#include "cohort/common/option_values.hpp"
#include "cohort/exit_codes.hpp"
#include "cohort/tiles/download_plan.hpp"
#include "cohort/tiles/pmtiles_output.hpp"
#include "cohort/tiles/tile_fetcher.hpp"
#include "cohort/tiles/tile_parts.hpp"
#include "cohort/tiles/tile_reader.hpp"
#include "cohort/tiles/tilejson.hpp"

#include <fmt/core.h>

#include <chrono>
#include <cstdio>
#include <string>

namespace cohort::app::tiles {

namespace {

std::string store_format(const url_template& url) {
  std::string_view ext = url.extension();
  if (!ext.empty() && ext.front() == '.') ext.remove_prefix(1);
  return std::string(ext);
}

tile_fingerprint output_fingerprint(const tiles_options& o) {
  tile_fingerprint fp{o.archive.empty() ? o.url.source_text() : o.archive, o.boxes, o.zooms};
  if (o.area) {
    fp.boxes = o.area->bounds();  // MBTiles `bounds` follows the area
    fp.area = o.area->fingerprint_text();
  }
  if (o.part) fp.part = o.part->text();
  return fp;
}

std::unique_ptr<tile_store> open_output(const tiles_options& o) {
  const tile_fingerprint fp = output_fingerprint(o);
  tile_store_options so;
  so.force = o.force;
  so.fsync = o.fsync;
  so.format = store_format(o.url);
  if (so.format.empty()) so.format = o.format;
  so.json = o.json_metadata;
  so.name = o.name;
  so.description = o.description;
  so.attribution = o.attribution;
  if (output_kind_of(o.output) == tile_output_kind::pmtiles) {
    // Into the staging store; the archive is built at the end (pmtiles_output.hpp).
    if (so.name.empty()) so.name = std::filesystem::path(o.output).stem().string();
    return open_mbtiles_store(pmtiles_staging_path(o.output), fp, so);
  }
  return open_tile_store(o.output, fp, so);
}

// GETs the TileJSON: its text, or why it could not be had.
task<> get_tilejson(asio_loop& loop, const tiles_options& o, std::string& text,
                    std::string& problem) {
  http_tile_fetcher fetcher(loop, 1);
  http_request req(o.tilejson);
  req.user_agent = o.user_agent;
  req.headers = o.headers;
  req.connect_timeout = o.connect_timeout;
  req.total_timeout = o.request_timeout;
  req.max_body_bytes = max_tilejson_bytes;
  const http_response r = co_await fetcher.fetch(std::move(req));
  if (r.error) {
    problem = r.error_message.empty() ? r.error.message() : r.error_message;
  } else if (r.status != 200) {
    problem = fmt::format("HTTP status {}", r.status);
  } else {
    text = r.body;
  }
}

}  // namespace

std::optional<int> run_setup_step(const std::function<task<>(runtime&)>& step, int& ended_by) {
  cohort::run_options ro;
  ro.grace = std::chrono::seconds(1);
  ro.ignore_signals_after = false;
  const cohort::run_outcome ended = cohort::run_with_outcome(
      [&](cohort::runtime& rt) -> cohort::task<int> {
        co_await step(rt);
        co_return 0;
      },
      ro);
  if (ended.signal != 0) {
    ended_by = ended.signal;
    return ended.code;
  }
  if (ended.code != 0) return exit_usage;
  return std::nullopt;
}

std::optional<int> fetch_tilejson(tiles_options& o, int& ended_by) {
  std::string text;
  std::string problem;
  const auto fetch = [&](cohort::runtime& rt) -> cohort::task<> {
    co_await get_tilejson(rt.loop(), o, text, problem);
  };
  if (auto code = run_setup_step(fetch, ended_by)) return code;
  try {
    if (!problem.empty()) {
      throw usage_error(
          fmt::format("--tilejson {}: cannot fetch it: {}", shown_in_message(o.tilejson), problem));
    }
    apply_tilejson(o, parse_tilejson(text, o.tilejson));
  } catch (const usage_error& e) {
    fmt::print(stderr, "cohort tiles: {}\n", e.what());
    return exit_usage;
  }
  return std::nullopt;
}

prepared_download prepare_download(const tiles_options& o, std::optional<held_signals>& held) {
  prepared_download p;
  try {
    p.set.emplace(o.area ? tile_set::of_area(o.area, o.zooms) : tile_set(o.boxes, o.zooms));
    if (o.part) p.set = p.set->within(part_ids(*p.set, *o.part));
    const download_plan plan = plan_download(*p.set, o.url, o.concurrency, o.rate);
    const auto refused = refusals(plan, {o.max_tiles, o.allow_deep_zoom});
    if (o.dry_run) {
      const std::string text = o.json ? dry_run_json(plan, refused) : dry_run_text(plan, refused);
      std::fwrite(text.data(), 1, text.size(), stdout);
      p.exit_code = exit_ok;
      return p;
    }
    if (!refused.empty()) {
      for (const auto& why : refused) {
        fmt::print(stderr, "cohort tiles: refusing to start: {}\n", why);
      }
      p.exit_code = exit_usage;
      return p;
    }
    if (output_kind_of(o.output) == tile_output_kind::pmtiles) {
      if (auto code = check_existing_archive(o, output_fingerprint(o).fields())) {
        p.exit_code = *code;
        return p;
      }
    }
    held.emplace();
    p.store = open_output(o);
  } catch (const std::exception& e) {
    fmt::print(stderr, "cohort tiles: {}\n", e.what());
    p.store = nullptr;
    p.exit_code = exit_usage;
  }
  return p;
}

}  // namespace cohort::app::tiles
