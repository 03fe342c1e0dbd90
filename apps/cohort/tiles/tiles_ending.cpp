#include "cohort/tiles/tiles_ending.hpp"

#include "cohort/exit_codes.hpp"
#include "cohort/tiles/failed_list.hpp"

#include <fmt/core.h>

#include <csignal>
#include <cstdio>
#include <vector>

namespace cohort::app::tiles {

namespace {

// Failed tiles listed in --json (all of them go to --failed-list).
constexpr std::size_t failed_in_json = 1000;

void print_json(const tiles_report& r) {
  const std::string json = summary_json(r);
  std::fwrite(json.data(), 1, json.size(), stdout);
  std::fflush(stdout);
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

// Closes the output. After a stop the output's own error is said with the
// stop (close() then fails the same way, or says nothing new).
void close_store(tile_store& store, bool stopped) {
  if (!stopped) {
    store.close();
    return;
  }
  try {
    store.close();
  } catch (const std::exception&) {
  }
}

// Writes the --failed-list however the run ended (stopped, interrupted):
// that is when it is needed most. False when it could not be written.
bool write_list(const tiles_options& o, const std::vector<failed_tile>& failed) {
  if (o.failed_list.empty()) return true;
  try {
    write_failed_list(o.failed_list, failed_list_text(failed, o.url));
    return true;
  } catch (const std::exception& e) {
    fmt::print(stderr, "cohort tiles: {}\n", e.what());
    return false;
  }
}

// The summary and what follows it, for a run that was not stopped.
int report_finished(const tiles_options& o, const tile_downloader& d, tiles_report& r, int signal,
                    progress_bar* bar, std::string_view resume_command) {
  r.outcome = tiles_outcome(r, signal, o.strict);
  if (bar != nullptr) bar->finish("cohort tiles: " + summary_line(r));
  if (r.failed > 0) print_failures(d, r.failed);
  if (signal != 0) {
    fmt::print(stderr, "cohort tiles: interrupted by {}; resume with: {}\n",
               signal == SIGINT ? "SIGINT" : "SIGTERM", resume_command);
  } else if (o.strict && r.missing > 0 && !o.quiet) {
    fmt::print(stderr, "cohort tiles: {} tiles missing (404) and --strict\n", r.missing);
  }
  if (o.json) print_json(r);
  return tiles_exit_code(r, signal, o.strict);
}

}  // namespace

tiles_report make_report(const tiles_options& o, tile_downloader& d, const tile_store& store,
                         double elapsed_s) {
  const run_summary s = d.tile_summary();  // in tiles, also when tasks are byte ranges
  const download_counts& c = d.counts();
  tiles_report r;
  r.total = c.total;
  r.stored = c.stored;
  r.skipped = c.skipped;
  r.skipped_missing = c.skipped_missing;
  r.unchanged = c.unchanged;
  r.failed = s.failed;
  r.missing = store.missing_count();
  r.not_started = s.not_started + s.cancelled;
  r.bytes = c.bytes;
  r.handled = s.done + s.failed;
  r.elapsed_s = elapsed_s;
  r.output = o.output;
  r.failed_list = o.failed_list;
  return r;
}

int end_download(const tiles_options& o, tile_downloader& d, tile_store& store,
                 const run_outcome& ended, double elapsed_s, progress_bar* bar,
                 std::string_view resume_command) {
  tiles_report r = make_report(o, d, store, elapsed_s);
  const std::vector<failed_tile> failed = store.failed_tiles();
  r.failed_tiles_total = failed.size();
  r.failed_tiles = failed_tiles_json(failed, o.url, failed_in_json);
  close_store(store, d.stop_error().has_value());
  const bool list_written = write_list(o, failed);
  if (const auto& error = d.stop_error()) {
    if (bar != nullptr) bar->finish("");
    fmt::print(stderr, "cohort tiles: stopped: {}\n", *error);
    r.outcome = "stopped";
    if (o.json) print_json(r);
    return exit_failed;
  }
  if (ended.signal == 0 && ended.code != 0) {
    // The run itself failed (the runtime printed why).
    if (bar != nullptr) bar->finish("");
    return exit_failed;
  }
  const int status = report_finished(o, d, r, ended.signal, bar, resume_command);
  return status == exit_ok && !list_written ? exit_failed : status;
}

}  // namespace cohort::app::tiles
