#include "cohort/tiles/tiles_main.hpp"

#include "cohort/common/error_text.hpp"
#include "cohort/common/option_values.hpp"
#include "cohort/common/progress_bar.hpp"
#include "cohort/common/shell_quote.hpp"
#include "cohort/exit_codes.hpp"
#include "cohort/tiles/download_plan.hpp"
#include "cohort/tiles/failed_list.hpp"
#include "cohort/tiles/tile_fetcher.hpp"
#include "cohort/tiles/tiles_cli.hpp"
#include "cohort/tiles/tiles_engine.hpp"
#include "cohort/tiles/tiles_report.hpp"

#include <cohort/io/http.hpp>
#include <cohort/runtime/run.hpp>
#include <cohort/task_group.hpp>

#include <fmt/core.h>

#include <unistd.h>
#include <cerrno>  // program_invocation_name (glibc)
#include <chrono>
#include <csignal>
#include <cstdio>
#include <optional>

namespace cohort::app::tiles {

namespace {

// Failed tiles listed in --json (all of them go to --failed-list).
constexpr std::size_t failed_in_json = 1000;

// The command to type to run this one again: the program as it was invoked
// (argv[0] of the process, e.g. "cohort" or "build/bin/cohort"), then "tiles"
// and its arguments.
std::string same_command(int argc, char** argv) {
  std::string cmd;
  append_shell_quoted(cmd, program_invocation_name);
  for (int i = 0; i < argc; ++i) {
    cmd += ' ';
    append_shell_quoted(cmd, argv[i]);
  }
  return cmd;
}

std::string store_format(const url_template& url) {
  std::string_view ext = url.extension();
  if (!ext.empty() && ext.front() == '.') ext.remove_prefix(1);
  return std::string(ext);
}

std::unique_ptr<tile_store> open_output(const tiles_options& o) {
  tile_fingerprint fp{o.url.source_text(), o.boxes, o.zooms};
  if (o.area) {
    fp.boxes = o.area->bounds();  // MBTiles `bounds` follows the area
    fp.area = o.area->fingerprint_text();
  }
  tile_store_options so;
  so.force = o.force;
  so.fsync = o.fsync;
  so.format = store_format(o.url);
  if (so.format.empty()) so.format = o.format;
  so.json = o.json_metadata;
  so.name = o.name;
  so.description = o.description;
  so.attribution = o.attribution;
  return open_tile_store(o.output, fp, so);
}

// Fetches the --tilejson URL (with the tiles' own request options) and
// merges it into `o`. Returns the exit status to end with, or nullopt to go
// on: 2 when it cannot be fetched or is not a TileJSON (said on stderr), or
// the signal's when interrupted.
std::optional<int> fetch_tilejson(tiles_options& o, int& ended_by) {
  std::string text;
  std::string problem;
  cohort::run_options ro;
  ro.grace = std::chrono::seconds(1);
  ro.ignore_signals_after = false;
  const cohort::run_outcome ended = cohort::run_with_outcome(
      [&](cohort::runtime& rt) -> cohort::task<int> {
        http_client client(rt.loop());
        http_request req(o.tilejson);
        req.user_agent = o.user_agent;
        req.headers = o.headers;
        req.connect_timeout = o.connect_timeout;
        req.total_timeout = o.request_timeout;
        req.max_body_bytes = max_tilejson_bytes;
        const http_response r = co_await client.get_ec(std::move(req));
        if (r.error) {
          problem = r.error_message.empty() ? r.error.message() : r.error_message;
        } else if (r.status != 200) {
          problem = fmt::format("HTTP status {}", r.status);
        } else {
          text = r.body;
        }
        co_return 0;
      },
      ro);
  if (ended.signal != 0) {
    ended_by = ended.signal;
    return ended.code;
  }
  if (ended.code != 0) return exit_usage;
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

// The failed tiles the engine kept, then how many more there are.
void print_failures(const tile_downloader& d, std::uint64_t failed) {
  for (const auto& f : d.failures()) {
    fmt::print(stderr, "cohort tiles: failed {}/{}/{}: {}\n", f.where.z, f.where.x, f.where.y,
               f.reason);
  }
  const std::size_t shown = d.failures().size();
  if (failed > shown) {
    fmt::print(stderr, "cohort tiles: ... and {} more failed tiles\n", failed - shown);
  }
}

// The whole of `cohort tiles` up to its summary; `ended_by` is set to the
// signal that interrupted the download, if one did.
int download_and_report(int argc, char** argv, int& ended_by) {
  auto parsed = parse_tiles_cli(argc, argv);
  if (!parsed.options) return parsed.exit_code;
  if (!parsed.options->tilejson.empty() && !parsed.options->tilejson_applied) {
    if (auto code = fetch_tilejson(*parsed.options, ended_by)) return *code;
  }
  const tiles_options o = std::move(*parsed.options);

  std::unique_ptr<tile_store> store;
  std::optional<tile_set> set;
  // Held from the moment the output is opened until cohort::run listens,
  // so that a Ctrl+C in between is not a kill but an interrupt like any other.
  std::optional<cohort::held_signals> held;
  try {
    if (o.area) {
      set.emplace(tile_set::of_area(o.area, o.zooms));
    } else {
      set.emplace(o.boxes, o.zooms);
    }
    // The guard against an accidental huge download: before the output
    // exists and before any request.
    const download_plan plan = plan_download(*set, o.url, o.concurrency, o.rate);
    const auto refused = refusals(plan, {o.max_tiles, o.allow_deep_zoom});
    if (o.dry_run) {
      const std::string text = o.json ? dry_run_json(plan, refused) : dry_run_text(plan, refused);
      std::fwrite(text.data(), 1, text.size(), stdout);
      return exit_ok;
    }
    if (!refused.empty()) {
      for (const auto& why : refused)
        fmt::print(stderr, "cohort tiles: refusing to start: {}\n", why);
      return exit_usage;
    }
    held.emplace();
    store = open_output(o);
  } catch (const std::exception& e) {
    fmt::print(stderr, "cohort tiles: {}\n", e.what());
    return exit_usage;
  }

  try {
    const std::size_t failed_before = store->failed_tiles().size();
    tile_downloader downloader(o, std::move(*set), *store);
    if (!o.quiet && failed_before > 0) {
      fmt::print(stderr, "cohort tiles: trying again {} tile{} that failed before\n", failed_before,
                 failed_before == 1 ? "" : "s");
    }
    std::optional<progress_bar> bar;
    if (!o.quiet) {
      progress_bar_options bo;
      bo.unit = "tiles";
      bar.emplace(downloader.progress(), std::move(bo));
      // Inside the total, as cohort run counts the jobs a --resume skips.
      bar->count_skipped(downloader.skipped_counter());
      bar->add_counter("missing", downloader.missing_counter());
      bar->track_bytes(downloader.bytes_counter());
    }

    const auto started = std::chrono::steady_clock::now();
    cohort::run_options ro;
    ro.grace = std::chrono::seconds(3);
    const cohort::run_outcome ended = cohort::run_with_outcome(
        [&](cohort::runtime& rt) -> cohort::task<int> {
          held->release();  // cohort::run handles them now
          co_await with_task_group([&](task_group& g) -> task<> {
            if (bar) g.spawn(bar->drive().named("progress bar"));
            // The fetcher lives in this frame: however the run ends, it
            // goes after the downloader's requests and before the loop.
            http_tile_fetcher fetcher(rt.loop(), o.concurrency);
            co_await downloader.run(fetcher, &rt.drain_requested());
            g.cancel();
          });
          co_return 0;
        },
        ro);
    const int code = ended.code;
    const int signal = ended_by = ended.signal;
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    const std::uint64_t missing = store->missing_count();
    const std::vector<failed_tile> failed_list = store->failed_tiles();
    if (downloader.stop_error()) {
      try {
        store->close();
      } catch (const std::exception&) {
        // The output's own error is said below.
      }
    } else {
      store->close();
    }

    const run_summary& s = downloader.summary();
    const download_counts& c = downloader.counts();
    tiles_report r;
    r.total = c.total;
    r.stored = c.stored;
    r.skipped = c.skipped;
    r.skipped_missing = c.skipped_missing;
    r.unchanged = c.unchanged;
    r.failed = s.failed;
    r.missing = missing;
    r.not_started = s.not_started + s.cancelled;
    r.bytes = c.bytes;
    r.handled = s.done + s.failed;
    r.elapsed_s = elapsed;
    r.output = o.output;
    r.failed_tiles_total = failed_list.size();
    r.failed_tiles = failed_tiles_json(failed_list, o.url, failed_in_json);
    r.failed_list = o.failed_list;
    // Written however the run ended (stopped, interrupted): that is when
    // it is needed most.
    bool list_written = true;
    if (!o.failed_list.empty()) {
      try {
        write_failed_list(o.failed_list, failed_list_text(failed_list, o.url));
      } catch (const std::exception& e) {
        fmt::print(stderr, "cohort tiles: {}\n", e.what());
        list_written = false;
      }
    }
    if (const auto& error = downloader.stop_error()) {
      if (bar) bar->finish("");
      fmt::print(stderr, "cohort tiles: stopped: {}\n", *error);
      if (o.json) {
        r.outcome = "stopped";
        const std::string json = summary_json(r);
        std::fwrite(json.data(), 1, json.size(), stdout);
        std::fflush(stdout);
      }
      return exit_failed;
    }
    if (signal == 0 && code != 0) {
      // The run itself failed (the runtime printed why).
      if (bar) bar->finish("");
      return exit_failed;
    }
    r.outcome = tiles_outcome(r, signal, o.strict);
    if (bar) bar->finish("cohort tiles: " + summary_line(r));
    if (r.failed > 0) print_failures(downloader, r.failed);
    if (signal != 0) {
      fmt::print(stderr, "cohort tiles: interrupted by {}; resume with: {}\n",
                 signal == SIGINT ? "SIGINT" : "SIGTERM", same_command(argc, argv));
    } else if (o.strict && r.missing > 0 && !o.quiet) {
      fmt::print(stderr, "cohort tiles: {} tiles missing (404) and --strict\n", r.missing);
    }
    if (o.json) {
      const std::string json = summary_json(r);
      std::fwrite(json.data(), 1, json.size(), stdout);
      std::fflush(stdout);
    }
    const int status = tiles_exit_code(r, signal, o.strict);
    return status == exit_ok && !list_written ? exit_failed : status;
  } catch (const std::exception& e) {
    fmt::print(stderr, "cohort tiles: {}\n", e.what());
    return exit_failed;
  }
}

}  // namespace

int tiles_main(int argc, char** argv) {
  int ended_by = 0;
  const int code = download_and_report(argc, argv, ended_by);
  // The tile store is closed and the summary written: an interrupted
  // download now ends by its signal, so that the shell around us stops its
  // script as it would for `sleep` (DESIGN.md G7).
  return cohort::exit_like({code, ended_by});
}

}  // namespace cohort::app::tiles
