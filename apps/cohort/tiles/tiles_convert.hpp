#pragma once

/// \file
/// `cohort tiles convert IN OUT`: copies the tiles of a tile directory, an
/// MBTiles file or a PMTiles archive into another (any kind to any kind),
/// optionally only some zooms or an area, streaming, with the downloads'
/// progress bar, Ctrl+C behaviour and exit codes; and the copy itself, which
/// a download into a PMTiles archive uses to build it from its staging store.

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <string>

#include "cohort/tiles/tile_reader.hpp"
#include "cohort/tiles/tile_sink.hpp"

namespace cohort::app::tiles {

/// How a copy_tiles ended.
struct copy_result {
  std::uint64_t tiles = 0;  ///< tiles written
  bool finished = false;    ///< the output is complete and in place
  int signal = 0;           ///< the SIGINT or SIGTERM that interrupted it, or 0
  std::string error;        ///< why it failed (one line), "" if it did not
  double elapsed_s = 0;
};

/// Copies every tile of `in` into a sink for `target` and puts it in place,
/// under cohort::run: a progress bar unless `quiet` (`unit` names what is
/// counted), a first SIGINT/SIGTERM abandons the copy (the target stays as
/// it was; temporaries removed) and is reported in the result. Never throws
/// for the copy's own errors: they are in the result. `fsync`: see
/// tile_sink_options.
copy_result copy_tiles(tile_reader& in, const std::filesystem::path& target, bool quiet,
                       bool fsync);

/// The whole of `cohort tiles convert ARGS...` (argv[0] is "convert");
/// `ended_by` is set to the signal that interrupted it. Returns the exit
/// status: 0 done, 1 failed while copying, 2 a usage or input error (said
/// on stderr), 128 + signal when interrupted.
int convert_main(int argc, char** argv, int& ended_by);

}  // namespace cohort::app::tiles
