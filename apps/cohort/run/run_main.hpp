#pragma once

namespace cohort::app::run {

/// `cohort run`: argv[0] is "run". Returns the process exit code.
int run_main(int argc, char** argv);

/// The hidden subcommand (`cohort __process-guardian ...`) that runs the
/// guardian process of `cohort run` (cohort::process_guardian_main): the
/// same binary, re-executed through /proc/self/exe, so nothing is forked
/// from a process that may have threads.
inline constexpr const char* guardian_subcommand = "__process-guardian";

}  // namespace cohort::app::run
