#include "cohort/run/run_exit_code.hpp"

#include "cohort/exit_codes.hpp"

#include <algorithm>
#include <cmath>

namespace cohort::app::run {

cohort::halt_policy halt_for_runner(cohort::halt_policy given,
                                    std::optional<std::uint64_t> total_jobs) {
  if (given.percent <= 0 || !total_jobs) return given;
  given.count = std::max<std::size_t>(
      1, static_cast<std::size_t>(
             std::ceil(given.percent * static_cast<double>(*total_jobs) / 100.0 - 1e-9)));
  given.percent = 0;
  return given;
}

int failed_exit_code(std::size_t failed) {
  if (failed == 0) return exit_ok;
  if (failed > 100) return exit_run_many_failed;
  return static_cast<int>(failed);
}

int run_exit_code(const cohort::halt_policy& h, const run_summary& s, int last_failure,
                  std::optional<std::uint64_t> total) {
  if (h.mode == cohort::halt_policy::when::never) return failed_exit_code(s.failed);
  if (h.trigger == cohort::halt_policy::on::success) {
    return s.halted ? exit_ok : failed_exit_code(s.failed);
  }
  if (h.percent > 0) {
    const std::uint64_t all =
        total.value_or(s.done + s.failed + s.cancelled + s.not_started + s.skipped);
    return all == 0 ? 0 : static_cast<int>(s.failed * 100 / all);
  }
  if (s.halted && h.trigger == cohort::halt_policy::on::fail && h.count <= 1 && last_failure > 0) {
    return std::min(last_failure, 255);
  }
  return failed_exit_code(s.failed);
}

}  // namespace cohort::app::run
