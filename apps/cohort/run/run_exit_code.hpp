#pragma once
// The exit status of `cohort run` for a run that ended on its own (GNU
// parallel's rules), as pure functions of how the run went.

#include <cohort/runner/run_tasks.hpp>

#include <cstdint>
#include <optional>

namespace cohort::app::run {

/// The --halt policy the runner applies: a percentage is of all the jobs
/// when their number is known (GNU parallel), so it becomes a count of
/// them, rounded up; the runner would take it of the jobs finished so far.
///
///     halt_for_runner({soon, fail, .percent = 20}, 10).count == 2
[[nodiscard]] cohort::halt_policy halt_for_runner(cohort::halt_policy given,
                                                  std::optional<std::uint64_t> total_jobs);

/// `N` jobs failed: 0, N up to 100, 101 for more than 100.
[[nodiscard]] int failed_exit_code(std::size_t failed);

/// The exit status of a run that was neither interrupted nor failed itself,
/// from the --halt policy as given, the summary, the status of the last job
/// that failed (128 + N for signal N) and the number of jobs if known:
/// fail=1 (a count of 1) gives the failing job's status when it halted; a
/// percentage (fail=Y%, done=Y%) the percentage of all jobs that failed,
/// halted or not; success=X or Y% 0 when it halted; anything else
/// failed_exit_code.
///
///     run_exit_code(parse_halt("now,fail=1"), summary, 3, 10) == 3
[[nodiscard]] int run_exit_code(const cohort::halt_policy& given, const run_summary& summary,
                                int last_failure, std::optional<std::uint64_t> total_jobs);

}  // namespace cohort::app::run
