// `cohort tiles convert` (tiles_convert.hpp).

#include "cohort/tiles/tiles_convert.hpp"

#include <cohort/runtime/run.hpp>
#include <cohort/sleep.hpp>
#include <cohort/task_group.hpp>

#include <fmt/core.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <exception>
#include <memory>
#include <optional>

#include "cohort/common/cli.hpp"
#include "cohort/common/option_values.hpp"
#include "cohort/common/progress_bar.hpp"
#include "cohort/exit_codes.hpp"
#include "cohort/tiles/tile_area.hpp"
#include "cohort/tiles/tile_args.hpp"
#include "cohort/tiles/tiles_cli.hpp"

namespace cohort::app::tiles {

namespace {

namespace fs = std::filesystem;

// Thrown inside the copy when the loop asked it to stop.
struct copy_interrupted {};

// Shared by the copy on a worker thread and the loop.
struct copy_state {
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> done{0};
  bool finished = false;
  std::string error;
};

void copy_all(tile_reader& in, const fs::path& target, bool fsync, copy_state& s) {
  try {
    tile_sink_options so{in.info(), fsync, [&s] {
                           if (s.stop.load()) throw copy_interrupted{};
                         }};
    const auto sink = open_tile_sink(target, so);
    for (read_tile t; in.next(t);) {
      if (s.stop.load()) throw copy_interrupted{};
      sink->put(t.where, t.bytes);
      s.done.fetch_add(1);
    }
    sink->finish();
    s.finished = true;
  } catch (const copy_interrupted&) {
  } catch (const std::exception& e) {
    s.error = e.what();
  }
}

// Sets the stop flag when it goes, however: the copy's way of hearing a cancel.
struct stop_on_exit {
  std::atomic<bool>& stop;
  ~stop_on_exit() { stop.store(true); }
};

// Mirrors the worker's count into the progress the bar reads (on the loop).
task<> mirror_progress(copy_state& s, run_progress& p) {
  const stop_on_exit guard{s.stop};
  for (;;) {
    p.done = s.done.load();
    co_await sleep_for(std::chrono::milliseconds(50));
  }
}

}  // namespace

copy_result copy_tiles(tile_reader& in, const fs::path& target, bool quiet, bool fsync) {
  copy_state s;
  run_progress progress;
  if (in.info().tile_count) progress.total = *in.info().tile_count;
  std::unique_ptr<progress_bar> bar;
  if (!quiet) {
    progress_bar_options bo;
    bo.unit = "tiles";
    bar = std::make_unique<progress_bar>(progress, std::move(bo));
  }
  cohort::run_options ro;
  ro.grace = std::chrono::seconds(3);
  const auto started = std::chrono::steady_clock::now();
  const run_outcome ended = cohort::run_with_outcome(
      [&](cohort::runtime& rt) -> cohort::task<int> {
        co_await with_task_group([&](task_group& g) -> task<> {
          if (bar) g.spawn(bar->drive().named("progress bar"));
          g.spawn(mirror_progress(s, progress).named("progress"));
          co_await rt.blocking().run([&] { copy_all(in, target, fsync, s); });
          g.cancel();
        });
        co_return 0;
      },
      ro);
  progress.done = s.done.load();
  copy_result r;
  r.tiles = s.done.load();
  r.finished = s.finished;
  r.signal = ended.signal;
  r.error = s.error;
  if (r.error.empty() && !r.finished && ended.signal == 0) r.error = "the copy did not complete";
  r.elapsed_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (bar) bar->finish("");
  return r;
}

namespace {

struct convert_options {
  std::string input, output;
  std::string zoom, area;
  std::vector<std::string> boxes;
  bool force = false;
  bool quiet = false;
  bool fsync = false;
};

constexpr const char* convert_description = R"(cohort tiles convert: copy tiles between outputs

Usage:
  cohort tiles convert IN OUT [--zoom ZOOMS] [--bbox W,S,E,N | --area FILE] [options]

Copy the tiles of IN (a tile directory, an MBTiles file or a PMTiles archive,
recognised by its content) into OUT (a PMTiles archive if it ends in .pmtiles,
an MBTiles file if .mbtiles, else a tile directory), with their metadata.
OUT is written next to itself (OUT.tmp) and renamed into place at the end:
interrupted, it is left as it was.
)";

constexpr const char* convert_footer = R"(Examples:
  cohort tiles convert berlin.mbtiles berlin.pmtiles
  cohort tiles convert planet.pmtiles city --bbox 13.08,52.33,13.76,52.68 --zoom 0-14

Exit status: 0 done; 1 failed while copying; 2 usage or input error;
130/143 interrupted by SIGINT/SIGTERM (OUT untouched).
)";

std::optional<int> parse(int argc, char** argv, convert_options& o) {
  CLI::App app(convert_description, "cohort tiles convert");
  set_up_cli(app, "tiles convert");
  app.footer(convert_footer);
  app.add_option("IN", o.input, "the tiles to copy")->required()->type_name("");
  app.add_option("OUT", o.output, "where to copy them")->required()->type_name("");
  add_value(app, "-z,--zoom", o.zoom, "ZOOMS", "What to copy", "only these zoom levels");
  app.add_option("-b,--bbox", o.boxes, "only the tiles of this box (repeatable)")
      ->type_name("W,S,E,N")
      ->group("What to copy");
  add_value(app, "--area", o.area, "FILE", "What to copy", "only the tiles of this GeoJSON area");
  app.add_flag("--force", o.force, "replace OUT if it exists")->group("Output");
  app.add_flag("--fsync", o.fsync,
               "a directory or MBTiles OUT durable against power loss (costs ms per tile); a "
               "PMTiles OUT is always fsynced")
      ->group("Output");
  app.add_flag("-q,--quiet", o.quiet, "no progress bar, no summary line")->group(other_group);
  return parse_command_line(app, "tiles convert", argc, argv, exit_usage, [&] {
    if (!o.area.empty() && !o.boxes.empty()) {
      throw usage_error("--bbox and --area both give the area; use one");
    }
    if (!o.zoom.empty()) parse_zooms(o.zoom);
    for (const auto& b : o.boxes) parse_bbox(b);
  });
}

// The filter of the options, for a source that says `info` about itself.
tile_filter make_filter(const convert_options& o, const tile_source_info& info) {
  tile_filter f;
  if (!o.zoom.empty()) f.zooms = parse_zooms(o.zoom);
  if (o.boxes.empty() && o.area.empty()) return f;
  std::vector<int> zooms = f.zooms;
  if (zooms.empty()) {
    for (int z = info.min_zoom.value_or(0); z <= info.max_zoom.value_or(max_zoom); ++z) {
      zooms.push_back(z);
    }
  }
  if (!o.area.empty()) {
    f.tiles =
        tile_set::of_area(std::make_shared<const tile_area>(read_area_file(o.area, 0)), zooms);
  } else {
    std::vector<bbox> boxes;
    for (const auto& b : o.boxes) boxes.push_back(parse_bbox(b));
    f.tiles = tile_set(boxes, zooms);
  }
  return f;
}

// Opens the input with the filter, and checks the output may be written.
std::unique_ptr<tile_reader> open_input(const convert_options& o) {
  std::error_code ec;
  if (fs::exists(o.output, ec) && !o.force) {
    throw usage_error("output " + shown_in_message(o.output) +
                      " exists; use --force to replace it");
  }
  if (fs::equivalent(o.input, o.output, ec)) {
    throw usage_error("IN and OUT are the same: " + shown_in_message(o.output));
  }
  const tile_source_info info = open_tile_reader(o.input)->info();
  return open_tile_reader(o.input, make_filter(o, info));
}

int report(const convert_options& o, const copy_result& r, int& ended_by) {
  if (r.signal != 0) {
    ended_by = r.signal;
    fmt::print(stderr, "cohort tiles convert: interrupted by {}; {}\n",
               r.signal == SIGINT ? "SIGINT" : "SIGTERM",
               r.finished ? "but " + o.output + " was complete and is in place"
                          : o.output + " left as it was");
    return 128 + r.signal;
  }
  if (!r.error.empty()) {
    fmt::print(stderr, "cohort tiles convert: {}\n", r.error);
    return exit_failed;
  }
  if (!o.quiet) {
    fmt::print(stderr, "cohort tiles convert: {} tiles {} -> {} in {:.1f} s\n", r.tiles, o.input,
               o.output, r.elapsed_s);
  }
  return exit_ok;
}

}  // namespace

int convert_main(int argc, char** argv, int& ended_by) {
  convert_options o;
  if (auto code = parse(argc, argv, o)) return *code;
  std::unique_ptr<tile_reader> in;
  try {
    in = open_input(o);
  } catch (const std::exception& e) {
    fmt::print(stderr, "cohort tiles convert: {}\n", e.what());
    return exit_usage;
  }
  return report(o, copy_tiles(*in, o.output, o.quiet, o.fsync), ended_by);
}

}  // namespace cohort::app::tiles
