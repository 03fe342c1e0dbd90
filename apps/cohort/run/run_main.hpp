#pragma once

namespace cohort::app::run {

/// `cohort run`: argv[0] is "run". Returns the process exit code.
int run_main(int argc, char** argv);

}  // namespace cohort::app::run
