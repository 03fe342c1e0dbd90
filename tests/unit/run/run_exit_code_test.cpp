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
  EXPECT_EQ(run_exit_code({}, summary(3, 0), 0, std::nullopt), 0);
  EXPECT_EQ(run_exit_code({}, summary(3, 4), 9, std::nullopt), 4);
  EXPECT_EQ(run_exit_code({}, summary(0, 250), 9, std::nullopt), 101);
}

TEST(RunExitCode, FailOneGivesTheFailingJobsStatusWhenItHalted) {
  const auto now1 = policy(halt_policy::when::now, halt_policy::on::fail, 1);
  EXPECT_EQ(run_exit_code(now1, summary(2, 1, true), 42, std::nullopt), 42);
  EXPECT_EQ(run_exit_code(now1, summary(2, 1, true), 128 + 9, std::nullopt), 137);
  EXPECT_EQ(run_exit_code(now1, summary(2, 1, true), 300, std::nullopt), 255);
  // A failure without a status (a job that could not start): the count.
  EXPECT_EQ(run_exit_code(now1, summary(2, 1, true), 0, std::nullopt), 1);
  const auto soon2 = policy(halt_policy::when::soon, halt_policy::on::fail, 2);
  EXPECT_EQ(run_exit_code(soon2, summary(2, 2, true), 42, std::nullopt), 2);
}

TEST(RunExitCode, APercentageIsOfAllTheJobs) {
  const auto p = policy(halt_policy::when::soon, halt_policy::on::fail, 1, 20);
  EXPECT_EQ(run_exit_code(p, summary(5, 2, true), 1, 10), 20);
  EXPECT_EQ(run_exit_code(p, summary(9, 1), 1, 10), 10);
  run_summary s = summary(1, 1, true);  // the total unknown: of every job counted
  s.not_started = 2;
  EXPECT_EQ(run_exit_code(p, s, 1, std::nullopt), 25);
  EXPECT_EQ(run_exit_code(p, summary(0, 0), 0, 0), 0);
}

TEST(RunExitCode, SuccessGivesZeroWhenItHalted) {
  const auto s1 = policy(halt_policy::when::now, halt_policy::on::success, 1);
  EXPECT_EQ(run_exit_code(s1, summary(1, 3, true), 1, std::nullopt), 0);
  EXPECT_EQ(run_exit_code(s1, summary(0, 3, false), 1, std::nullopt), 3);
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
