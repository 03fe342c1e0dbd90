#include "cohort/run/run_part.hpp"

#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cohort/common/option_values.hpp"

namespace {

using cohort::app::usage_error;
using cohort::app::work_part;
using cohort::app::run::check_joblog_part;
using cohort::app::run::joblog_contents;
using cohort::app::run::joblog_of_part;
using cohort::app::run::joblog_record;

// The property of issue 15: for random N (1-64) and job counts, every job
// belongs to exactly one part, and jobs_of counts each part's jobs.
TEST(RunPart, EveryJobInExactlyOnePart) {
  std::mt19937_64 rng(15);
  for (int round = 0; round < 200; ++round) {
    const auto n = static_cast<std::uint32_t>(1 + rng() % 64);
    const std::uint64_t total = rng() % 1000;
    std::vector<int> owners(total + 1, 0);
    for (std::uint32_t k = 0; k < n; ++k) {
      const work_part part{k, n};
      std::uint64_t mine = 0;
      for (std::uint64_t seq = 1; seq <= total; ++seq) {
        if (!part.holds_job(seq)) continue;
        ++owners[seq];
        ++mine;
        EXPECT_EQ((seq - 1) % n, k);
      }
      EXPECT_EQ(part.jobs_of(total), mine) << k << "/" << n << " of " << total;
    }
    for (std::uint64_t seq = 1; seq <= total; ++seq) ASSERT_EQ(owners[seq], 1) << "job " << seq;
  }
}

TEST(RunPart, JoblogNamesTakeThePart) {
  EXPECT_EQ(joblog_of_part("jobs.%k.log", {2, 8}), "jobs.2.log");
  EXPECT_EQ(joblog_of_part("log.%k-of-%n", {2, 8}), "log.2-of-8");
  EXPECT_EQ(joblog_of_part("100%%.%k", {0, 4}), "100%.0");
  EXPECT_EQ(joblog_of_part("a%b%", {0, 4}), "a%b%");
  EXPECT_EQ(joblog_of_part("", {0, 4}), "");
}

joblog_contents log_of(std::vector<std::uint64_t> seqs) {
  joblog_contents log;
  for (std::uint64_t s : seqs) {
    joblog_record r;
    r.seq = s;
    log.records.push_back(r);
  }
  return log;
}

TEST(RunPart, ResumeRefusesAnotherPartsJoblog) {
  EXPECT_NO_THROW(check_joblog_part(log_of({2, 6, 10}), "j.1", {1, 4}));
  EXPECT_NO_THROW(check_joblog_part(log_of({}), "j.1", {1, 4}));
  try {
    check_joblog_part(log_of({2, 5}), "j.1", {1, 4});
    FAIL() << "a job of part 0 was accepted";
  } catch (const usage_error& e) {
    EXPECT_STREQ(e.what(),
                 "--resume: joblog j.1 holds job 5, which is part 0/4, not this part 1/4; give "
                 "each part its own joblog (e.g. --joblog jobs.%k.log)");
  }
}

}  // namespace
