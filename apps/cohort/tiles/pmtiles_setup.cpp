// What `cohort tiles --url x.pmtiles` does before it downloads: read the
// archive's index (pmtiles_source.hpp).

#include "cohort/exit_codes.hpp"
#include "cohort/tiles/pmtiles_source.hpp"
#include "cohort/tiles/tiles_setup.hpp"

#include <cohort/runtime/run.hpp>

#include <fmt/core.h>

#include <cstdio>

namespace cohort::app::tiles {

std::unique_ptr<tile_fetcher> make_archive_fetcher(asio_loop& loop, const tiles_options& o) {
  if (o.archive.rfind("file://", 0) == 0) return std::make_unique<file_range_fetcher>();
  return make_http_fetcher(loop, o.concurrency, o.threads);
}

std::optional<int> read_archive(tiles_options& o, std::optional<archive_index>& ix, int& ended_by) {
  std::string problem;
  const auto read = [&](cohort::runtime& rt) -> cohort::task<> {
    const std::unique_ptr<tile_fetcher> fetcher = make_archive_fetcher(rt.loop(), o);
    try {
      ix = co_await read_archive_root(*fetcher, o.archive, o);
    } catch (const archive_error& e) {
      problem = e.what();
    }
  };
  if (auto code = run_setup_step(read, ended_by)) return code;
  if (!problem.empty() || !ix) {
    fmt::print(stderr, "cohort tiles: {}\n", problem.empty() ? "cannot read the archive" : problem);
    return exit_usage;
  }
  if (o.format.empty()) o.format = pmtiles_format_name(ix->header);
  return std::nullopt;
}

}  // namespace cohort::app::tiles
