#pragma once
// The exit codes of the cohort tools (one place, so --help, the README and
// the code agree).

namespace cohort::app {

/// Exit codes shared by both tools. An interrupted run reports 130 or 143,
/// then ends by the signal itself (cohort::exit_like): a shell shows the same
/// $? and stops the script around it.
enum exit_code : int {
  exit_ok = 0,
  exit_failed = 1,         ///< tiles: some tiles failed
  exit_usage = 2,          ///< tiles: usage or input error
  exit_interrupted = 130,  ///< SIGINT (128 + 2)
  exit_terminated = 143,   ///< SIGTERM (128 + 15)
  // cohort run follows GNU parallel: 1-100 = that many jobs failed,
  // 101 = more than 100 failed, 255 = any other error.
  exit_run_many_failed = 101,
  exit_run_error = 255,
};

}  // namespace cohort::app
