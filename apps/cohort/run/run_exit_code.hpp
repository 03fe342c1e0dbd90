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

/// The moment a --halt stopped the run (GNU parallel decides its exit
/// status then): the jobs failed and finished so far, the one that halted
/// the run included, and that job's status (its exit value; 128 + N if
/// signal N ended it; -1 if --timeout killed it).
struct halt_moment {
  std::size_t failed = 0;
  std::size_t finished = 0;
  int status = 0;

  friend bool operator==(const halt_moment&, const halt_moment&) = default;
};

/// The exit status of a run that was neither interrupted nor failed itself
/// (GNU parallel's rules), from the --halt policy as given, the summary, the
/// moment the run halted (if it did) and the number of jobs if known. When
/// it halted: success 0; a count of 1 (fail=1, done=1, or a percentage that
/// is exactly one job) the status of the job that halted it (255 for -1);
/// a percentage that of all the jobs that had failed then, rounded up; a
/// count failed_exit_code of the jobs that had failed then (not those that
/// failed while the running ones finished). Otherwise a percentage policy
/// gives the percentage of the jobs started that failed, rounded up, and
/// anything else failed_exit_code.
///
///     run_exit_code(parse_halt("now,fail=1"), summary, halt_moment{1, 1, 3}, 10) == 3
[[nodiscard]] int run_exit_code(const cohort::halt_policy& given, const run_summary& summary,
                                std::optional<halt_moment> halted_at,
                                std::optional<std::uint64_t> total_jobs);

}  // namespace cohort::app::run
