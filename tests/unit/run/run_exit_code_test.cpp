#include "cohort/run/run_exit_code.hpp"

#include <gtest/gtest.h>

namespace {

using cohort::halt_policy;
using cohort::run_summary;
using namespace cohort::app::run;

run_summary summary(std::size_t done, std::size_t failed, bool halted = false) {
  run_summary s;
  s.done = done;
  s.failed = failed;
  s.halted = halted;
  return s;
}

halt_policy policy(halt_policy::when w, halt_policy::on t, std::size_t count, double percent = 0) {
  return halt_policy{w, t, count, percent};
}

TEST(RunExitCode, FailedCountUpToAHundredThen101) {
  EXPECT_EQ(failed_exit_code(0), 0);
  EXPECT_EQ(failed_exit_code(1), 1);
  EXPECT_EQ(failed_exit_code(100), 100);
  EXPECT_EQ(failed_exit_code(101), 101);
  EXPECT_EQ(failed_exit_code(5000), 101);
}

TEST(RunExitCode, WithoutHaltItIsTheFailedCount) {
  EXPECT_EQ(run_exit_code({}, summary(3, 0), std::nullopt, std::nullopt), 0);
  EXPECT_EQ(run_exit_code({}, summary(3, 4), std::nullopt, std::nullopt), 4);
  EXPECT_EQ(run_exit_code({}, summary(0, 250), std::nullopt, std::nullopt), 101);
}

// The moment the halt came: `failed` jobs had failed of `finished`, and the
// job that halted the run had `status`.
halt_moment at(std::size_t failed, std::size_t finished, int status) {
  return halt_moment{failed, finished, status};
}

TEST(RunExitCode, FailOneGivesTheFailingJobsStatusWhenItHalted) {
  const auto now1 = policy(halt_policy::when::now, halt_policy::on::fail, 1);
  EXPECT_EQ(run_exit_code(now1, summary(2, 1, true), at(1, 3, 42), std::nullopt), 42);
  EXPECT_EQ(run_exit_code(now1, summary(2, 1, true), at(1, 3, 128 + 9), std::nullopt), 137);
  EXPECT_EQ(run_exit_code(now1, summary(2, 1, true), at(1, 3, 300), std::nullopt), 255);
  // GNU parallel exits -1 (255) for a job its --timeout killed.
  EXPECT_EQ(run_exit_code(now1, summary(2, 1, true), at(1, 3, -1), std::nullopt), 255);
  // A failure without a status (a job that could not start): the count.
  EXPECT_EQ(run_exit_code(now1, summary(2, 1, true), at(1, 3, 0), std::nullopt), 1);
  // Jobs that failed while the running ones finished (soon) do not count.
  const auto soon1 = policy(halt_policy::when::soon, halt_policy::on::fail, 1);
  EXPECT_EQ(run_exit_code(soon1, summary(0, 3, true), at(1, 1, 5), std::nullopt), 5);
  const auto soon2 = policy(halt_policy::when::soon, halt_policy::on::fail, 2);
  EXPECT_EQ(run_exit_code(soon2, summary(2, 2, true), at(2, 4, 42), std::nullopt), 2);
  EXPECT_EQ(run_exit_code(soon2, summary(0, 4, true), at(2, 2, 42), std::nullopt), 2);
}

TEST(RunExitCode, DoneOneGivesTheStatusOfTheFirstJobToFinish) {
  const auto done1 = policy(halt_policy::when::soon, halt_policy::on::done, 1);
  EXPECT_EQ(run_exit_code(done1, summary(0, 4, true), at(1, 1, 7), std::nullopt), 7);
  EXPECT_EQ(run_exit_code(done1, summary(1, 3, true), at(0, 1, 0), std::nullopt), 0);
  const auto done2 = policy(halt_policy::when::soon, halt_policy::on::done, 2);
  EXPECT_EQ(run_exit_code(done2, summary(0, 4, true), at(2, 2, 7), std::nullopt), 2);
}

TEST(RunExitCode, APercentageIsOfAllTheJobsWhenItHalted) {
  const auto p = policy(halt_policy::when::soon, halt_policy::on::fail, 1, 20);
  EXPECT_EQ(run_exit_code(p, summary(5, 3, true), at(2, 4, 1), 10), 20);
  EXPECT_EQ(run_exit_code(p, summary(5, 3, true), at(3, 4, 1), 9), 34);  // rounded up
  // The total unknown: of the jobs finished then.
  EXPECT_EQ(run_exit_code(p, summary(5, 3, true), at(1, 4, 1), std::nullopt), 25);
  // P% of the jobs is exactly one job: as fail=1, that job's status (GNU).
  EXPECT_EQ(run_exit_code(p, summary(3, 2, true), at(1, 2, 4), 5), 4);
}

TEST(RunExitCode, APercentageThatNeverHaltedIsOfTheJobsStarted) {
  const auto p = policy(halt_policy::when::soon, halt_policy::on::fail, 1, 90);
  EXPECT_EQ(run_exit_code(p, summary(9, 1), std::nullopt, 10), 10);
  EXPECT_EQ(run_exit_code(p, summary(1, 2), std::nullopt, 3), 67);  // rounded up
  EXPECT_EQ(run_exit_code(p, summary(0, 0), std::nullopt, 0), 0);
  // success=P% too (GNU parallel).
  const auto s = policy(halt_policy::when::soon, halt_policy::on::success, 1, 90);
  EXPECT_EQ(run_exit_code(s, summary(1, 2), std::nullopt, 3), 67);
}

TEST(RunExitCode, SuccessGivesZeroWhenItHalted) {
  const auto s1 = policy(halt_policy::when::now, halt_policy::on::success, 1);
  EXPECT_EQ(run_exit_code(s1, summary(1, 3, true), at(3, 4, 0), std::nullopt), 0);
  EXPECT_EQ(run_exit_code(s1, summary(0, 3, false), std::nullopt, std::nullopt), 3);
}

TEST(RunExitCode, HaltPercentageBecomesACountOfAKnownTotal) {
  const auto p = policy(halt_policy::when::soon, halt_policy::on::fail, 1, 20);
  EXPECT_EQ(halt_for_runner(p, 10).count, 2u);
  EXPECT_EQ(halt_for_runner(p, 10).percent, 0);
  EXPECT_EQ(halt_for_runner(p, 11).count, 3u);  // rounded up
  EXPECT_EQ(halt_for_runner(p, 1).count, 1u);
  EXPECT_EQ(halt_for_runner(p, std::nullopt), p);  // unknown: the runner's percentage
  const auto c = policy(halt_policy::when::now, halt_policy::on::fail, 3);
  EXPECT_EQ(halt_for_runner(c, 10), c);
}

}  // namespace
