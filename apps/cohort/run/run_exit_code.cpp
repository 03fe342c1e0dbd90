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

namespace {

// `part` of `whole` in percent, rounded up (GNU parallel's ceil).
int percent_of(std::uint64_t part, std::uint64_t whole) {
  return whole == 0 ? 0 : static_cast<int>((part * 100 + whole - 1) / whole);
}

}  // namespace

int run_exit_code(const cohort::halt_policy& h, const run_summary& s, std::optional<halt_moment> at,
                  std::optional<std::uint64_t> total) {
  using P = cohort::halt_policy;
  if (h.mode == P::when::never) return failed_exit_code(s.failed);
  if (!s.halted || !at) {
    if (h.percent <= 0) return failed_exit_code(s.failed);
    return percent_of(s.failed, s.done + s.failed + s.cancelled);
  }
  if (h.trigger == P::on::success) return exit_ok;
  const bool one_job =
      h.percent > 0 ? total && static_cast<double>(*total) * h.percent == 100.0 : h.count == 1;
  if (one_job && at->status != 0) return at->status < 0 ? 255 : std::min(at->status, 255);
  if (h.percent > 0) return percent_of(at->failed, total.value_or(at->finished));
  return failed_exit_code(at->failed);
}

}  // namespace cohort::app::run
