// PMTiles output of a download (pmtiles_output.hpp).

#include "cohort/tiles/pmtiles_output.hpp"

#include <fmt/core.h>

#include <csignal>
#include <cstdio>
#include <system_error>

#include "cohort/common/option_values.hpp"
#include "cohort/exit_codes.hpp"
#include "cohort/tiles/tile_reader.hpp"
#include "cohort/tiles/tiles_convert.hpp"

namespace cohort::app::tiles {

namespace fs = std::filesystem;

fs::path pmtiles_staging_path(const fs::path& archive) {
  fs::path p = archive;
  p += ".staging.mbtiles";
  return p;
}

std::optional<int> check_existing_archive(const tiles_options& o, const cohort::fingerprint& fp) {
  std::error_code ec;
  if (fs::exists(pmtiles_staging_path(o.output), ec) || !fs::exists(o.output, ec)) {
    return std::nullopt;
  }
  const std::string shown = shown_in_message(o.output);
  std::string why;
  try {
    const auto recorded = open_tile_reader(o.output)->info().fingerprint;
    if (recorded && fingerprint_differences(*recorded, fp).empty()) {
      if (!o.quiet) {
        fmt::print(stderr,
                   "cohort tiles: {} is complete (made by this same download); nothing to do\n",
                   shown);
      }
      return exit_ok;
    }
    if (!recorded) {
      why = "was not made by cohort tiles";
    } else {
      const fingerprint_difference d = fingerprint_differences(*recorded, fp).front();
      why = fmt::format("was made by another download ({} '{}'; now '{}')", d.name,
                        d.recorded.value_or(""), d.given.value_or(""));
    }
  } catch (const std::exception& e) {
    why = "is not a PMTiles archive we can read (" + std::string(e.what()) + ")";
  }
  if (o.force) return std::nullopt;
  fmt::print(stderr,
             "cohort tiles: output {} {}; use --force to overwrite or choose another output\n",
             shown, why);
  return exit_usage;
}

int build_archive(const tiles_options& o, int status, bool tiles_failed, int& ended_by) {
  const fs::path staging = pmtiles_staging_path(o.output);
  std::unique_ptr<tile_reader> in;
  try {
    in = open_tile_reader(staging);
  } catch (const std::exception& e) {
    fmt::print(stderr, "cohort tiles: {}\n", e.what());
    return exit_failed;
  }
  const copy_result r = copy_tiles(*in, o.output, o.quiet, o.fsync);
  in.reset();
  const std::string shown = shown_in_message(o.output);
  if (r.signal != 0) {
    ended_by = r.signal;
    fmt::print(stderr, "cohort tiles: interrupted by {} while building {}; {}\n",
               r.signal == SIGINT ? "SIGINT" : "SIGTERM", shown,
               r.finished ? "it was complete and is in place" : "run the same command to build it");
    return 128 + r.signal;
  }
  if (!r.error.empty()) {
    fmt::print(stderr, "cohort tiles: building {}: {}\n", shown, r.error);
    return exit_failed;
  }
  if (!tiles_failed) {
    std::error_code ec;
    fs::remove(staging, ec);
  }
  if (!o.quiet) {
    fmt::print(stderr, "cohort tiles: wrote {} ({} tiles){}\n", shown, r.tiles,
               tiles_failed ? "; the failed tiles are tried again, and the archive rebuilt, by the "
                              "next run of the same command"
                            : "");
  }
  return status;
}

}  // namespace cohort::app::tiles
