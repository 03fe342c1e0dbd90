// cohort: a parallel command runner and a resumable tile downloader on
// Cohort's structured concurrency. main() only dispatches.
#include "cohort/exit_codes.hpp"
#include "cohort/run/run_main.hpp"
#include "cohort/tiles/tiles_main.hpp"

#include <cohort/io/process_guardian.hpp>

#include <cstdio>
#include <cstring>

namespace {

constexpr const char* usage = R"(usage: cohort <command> [options]

commands:
  run     run a command for every input, many at a time (GNU parallel compatible)
  tiles   download the map tiles of an area into a directory, MBTiles or PMTiles

Run 'cohort <command> --help' for the command's options.
)";

}  // namespace

int main(int argc, char** argv) {
  // Internal: the guardian process that `cohort run` starts (not in --help).
  if (argc >= 2 && std::strcmp(argv[1], cohort::app::run::guardian_subcommand) == 0) {
    return cohort::process_guardian_main(argc - 1, argv + 1);
  }
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0) {
    std::fputs(usage, argc < 2 ? stderr : stdout);
    return argc < 2 ? cohort::app::exit_usage : cohort::app::exit_ok;
  }
  if (std::strcmp(argv[1], "--version") == 0) {
    std::printf("cohort %s\n", COHORT_VERSION);
    return cohort::app::exit_ok;
  }
  if (std::strcmp(argv[1], "run") == 0) return cohort::app::run::run_main(argc - 1, argv + 1);
  if (std::strcmp(argv[1], "tiles") == 0) {
    return cohort::app::tiles::tiles_main(argc - 1, argv + 1);
  }
  std::fprintf(stderr, "cohort: unknown command '%s'\n%s", argv[1], usage);
  return cohort::app::exit_usage;
}
