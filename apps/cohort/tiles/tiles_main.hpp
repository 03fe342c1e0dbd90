#pragma once
// `cohort tiles`: parse, open the output, download, report.

namespace cohort::app::tiles {

/// The whole subcommand (argv[0] is "tiles"); returns the exit status.
int tiles_main(int argc, char** argv);

}  // namespace cohort::app::tiles
