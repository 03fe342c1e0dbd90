// What `cohort tiles --url x.pmtiles` does before it downloads: read the
// archive's index (pmtiles_source.hpp).

#include "cohort/exit_codes.hpp"
#include "cohort/tiles/pmtiles_source.hpp"

#include <cohort/runtime/run.hpp>

#include <fmt/core.h>

#include <chrono>
#include <cstdio>

namespace cohort::app::tiles {

std::unique_ptr<tile_fetcher> make_archive_fetcher(asio_loop& loop, const tiles_options& o) {
  if (o.archive.rfind("file://", 0) == 0) return std::make_unique<file_range_fetcher>();
  return make_http_fetcher(loop, o.concurrency, o.threads);
}

std::optional<int> read_archive(tiles_options& o, std::optional<archive_index>& ix, int& ended_by) {
  std::string problem;
  cohort::run_options ro;
  ro.grace = std::chrono::seconds(1);
  ro.ignore_signals_after = false;
  const cohort::run_outcome ended = cohort::run_with_outcome(
      [&](cohort::runtime& rt) -> cohort::task<int> {
        const std::unique_ptr<tile_fetcher> fetcher = make_archive_fetcher(rt.loop(), o);
        try {
          ix = co_await read_archive_root(*fetcher, o.archive, o);
        } catch (const archive_error& e) {
          problem = e.what();
        }
        co_return 0;
      },
      ro);
  if (ended.signal != 0) {
    ended_by = ended.signal;
    return ended.code;
  }
  if (ended.code != 0) return exit_usage;
  if (!problem.empty() || !ix) {
    fmt::print(stderr, "cohort tiles: {}\n", problem.empty() ? "cannot read the archive" : problem);
    return exit_usage;
  }
  if (o.format.empty()) o.format = pmtiles_format_name(ix->header);
  return std::nullopt;
}

}  // namespace cohort::app::tiles
