#pragma once

/// \file
/// What `cohort tiles` does before it downloads: fetch a --tilejson URL,
/// check the plan against the guards (or print it for --dry-run), and open
/// the output.

#include "cohort/tiles/tile_math.hpp"
#include "cohort/tiles/tile_store.hpp"
#include "cohort/tiles/tiles_cli.hpp"

#include <cohort/runtime/run.hpp>

#include <functional>
#include <memory>
#include <optional>

namespace cohort::app::tiles {

/// Runs `step`, a network step before the download (fetching the
/// --tilejson URL, reading a PMTiles archive's root), in a runtime of its
/// own with 1 s of grace. Returns the exit status to end with, or nullopt
/// once the step has run: the signal's when interrupted (then `ended_by` is
/// set to the signal), 2 when the step threw.
std::optional<int> run_setup_step(const std::function<task<>(runtime&)>& step, int& ended_by);

/// Fetches the --tilejson URL (with the tiles' own request options) and
/// merges it into `o`. Returns the exit status to end with, or nullopt to go
/// on: 2 when it cannot be fetched or is not a TileJSON (said on stderr), or
/// the signal's when interrupted (then `ended_by` is set to the signal).
std::optional<int> fetch_tilejson(tiles_options& o, int& ended_by);

/// A download ready to start: its tiles and its open output.
struct prepared_download {
  std::optional<tile_set> set;
  std::unique_ptr<tile_store> store;  ///< null: end with `exit_code`
  int exit_code = 0;
};

/// Makes the tile set of `o`, checks the plan against --max-tiles and the
/// deep-zoom guard (before the output exists and before any request),
/// prints it for --dry-run, and opens the output. On anything but a
/// download to start, returns no store and the exit status (0 after
/// --dry-run, 2 with the reason on stderr). Signals are held (`held`) from
/// the moment the output is opened: a Ctrl+C before the download listens
/// is an interrupt like any other, not a kill.
prepared_download prepare_download(const tiles_options& o, std::optional<held_signals>& held);

}  // namespace cohort::app::tiles
