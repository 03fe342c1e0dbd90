#pragma once

/// \file
/// `--part K/N` and `--part auto`, shared by `cohort run` and `cohort tiles`:
/// which of N parts of the work this process does, so that a Slurm job
/// array or a Kubernetes Indexed Job splits one command over many machines
/// without a cluster manager of ours.
///
/// `--part auto` takes K and N from the scheduler's environment:
/// - Slurm job array: K = (SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN) /
///   SLURM_ARRAY_TASK_STEP (step 1 when unset), N = SLURM_ARRAY_TASK_COUNT;
/// - Kubernetes Indexed Job: K = JOB_COMPLETION_INDEX, N from `--parts N`,
///   or `--parts VAR` naming an environment variable that holds N
///   (Kubernetes gives no total).

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace cohort::app {

/// Part `index` of `count` (0 <= index < count).
struct work_part {
  std::uint32_t index = 0;
  std::uint32_t count = 1;

  /// "K/N", as `--part` takes it and a tiles output records it.
  std::string text() const;

  /// `cohort run`: job `seq` (from 1) belongs to part (seq - 1) mod N.
  bool holds_job(std::uint64_t seq) const { return (seq - 1) % count == index; }
  /// How many of jobs 1..total belong to this part.
  std::uint64_t jobs_of(std::uint64_t total) const {
    return total / count + (index < total % count ? 1 : 0);
  }

  friend bool operator==(const work_part&, const work_part&) = default;
};

/// Reads an environment variable: its value, or nullopt when unset.
using environment_reader = std::function<std::optional<std::string>(std::string_view name)>;

/// The process's environment (getenv).
std::optional<std::string> process_environment(std::string_view name);

/// Parses `--part`'s value `part` ("K/N" or "auto") with `--parts`'s value
/// `parts` ("" when not given; "N" or an environment variable's name).
/// Throws usage_error (one line naming the option) for a malformed value, K
/// outside 0..N-1, N < 1, `--parts` without `--part auto`, or `--part auto`
/// outside a Slurm array task and a Kubernetes Indexed Job.
///
///   parse_part("2/8", "", process_environment) == work_part{2, 8}
work_part parse_part(std::string_view part, std::string_view parts, const environment_reader& env);

}  // namespace cohort::app
