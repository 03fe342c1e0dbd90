#pragma once

/// \file
/// How `cohort tiles` ends a download: the output closed, the --failed-list
/// written, the summary line, the failed tiles and the resume hint on
/// stderr, the --json object on stdout, and the exit status.

#include "cohort/common/progress_bar.hpp"
#include "cohort/tiles/tile_store.hpp"
#include "cohort/tiles/tiles_cli.hpp"
#include "cohort/tiles/tiles_engine.hpp"
#include "cohort/tiles/tiles_report.hpp"

#include <cohort/runtime/run.hpp>

#include <string>
#include <string_view>

namespace cohort::app::tiles {

/// The report of a finished (or stopped, or interrupted) download: the
/// engine's typed counts, with the store's missing and failed lists.
/// Each tile is counted once: the numbers add up to the total.
tiles_report make_report(const tiles_options& o, tile_downloader& d, const tile_store& store,
                         double elapsed_s);

/// Ends a download that ran `elapsed_s` seconds and ended as `ended`:
/// closes `store`, writes the --failed-list, finishes `bar` (may be null)
/// with the summary line, prints the rest, and returns the exit status.
/// `resume_command` is the command line to type to resume.
int end_download(const tiles_options& o, tile_downloader& d, tile_store& store,
                 const run_outcome& ended, double elapsed_s, progress_bar* bar,
                 std::string_view resume_command);

}  // namespace cohort::app::tiles
