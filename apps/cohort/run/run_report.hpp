#pragma once
// What `cohort run` says after its run, and the exit status it ends with.

#include "cohort/run/run_cli.hpp"
#include "cohort/run/run_engine.hpp"

#include <cohort/runner/run_tasks.hpp>

#include <cstdint>
#include <cstdio>
#include <optional>

namespace cohort::app::run {

/// How the run of an engine ended, and what the report needs to know of
/// the command line.
struct run_ending {
  int code = 0;      ///< cohort::run's code: not 0 if the run failed or was interrupted
  int signal = 0;    ///< the signal that interrupted the run, 0 if none
  bool hup = false;  ///< a SIGHUP came, even if the run ended before it mattered
  int argc = 0;      ///< the command line, for the resume hint
  char** argv = nullptr;
  const run_cli_options* options = nullptr;
  cohort::halt_policy halt_given{};           ///< --halt as the user wrote it
  std::optional<std::uint64_t> total_jobs{};  ///< when known (for a --halt percentage)
  std::FILE* messages = stderr;               ///< where the report's lines go
};

/// Closes the progress display, prints the output still held, then the
/// interruption, halt or SIGHUP line, and returns the exit status (see
/// run_exit_code). Throws the run's own failure (engine.rethrow_failure),
/// for the caller to report once.
int report_run(run_engine& engine, const run_ending& how);

/// The line that tells how to resume an interrupted run: the same command
/// with --resume, or that a --joblog is needed.
std::string resume_hint(int argc, char** argv, const run_cli_options& o);

}  // namespace cohort::app::run
