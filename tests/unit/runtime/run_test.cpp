#include <cohort/runtime/run.hpp>

#include <cohort/sleep.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <stdexcept>

// Signals are tested against a real subprocess (tests/integration); these
// cover the exit-code contract without signals.

namespace {

cohort::run_options quiet() {
  cohort::run_options o;
  o.ignore_signals_after = false;
  o.messages = std::tmpfile();
  return o;
}

TEST(Run, ReturnsMainsValue) {
  EXPECT_EQ(cohort::run(
                [](cohort::runtime&) -> cohort::task<int> {
                  co_await cohort::sleep_for(std::chrono::milliseconds(1));
                  co_return 7;
                },
                quiet()),
            7);
}

TEST(Run, MainThrowingPrintsTheErrorAndReturnsOne) {
  auto o = quiet();
  EXPECT_EQ(cohort::run(
                [](cohort::runtime&) -> cohort::task<int> { throw std::runtime_error("boom"); }, o),
            1);
  std::rewind(o.messages);
  char buf[128] = {};
  ASSERT_NE(std::fgets(buf, sizeof buf, o.messages), nullptr);
  EXPECT_STREQ(buf, "error: boom\n");
}

TEST(Run, NotInterruptedWithoutASignal) {
  bool interrupted = true;
  cohort::run(
      [&](cohort::runtime& rt) -> cohort::task<int> {
        interrupted = rt.interrupted();
        co_return 0;
      },
      quiet());
  EXPECT_FALSE(interrupted);
}

TEST(Run, DumpShowsTheTaskTree) {
  std::string dump;
  cohort::run(
      [&](cohort::runtime& rt) -> cohort::task<int> {
        dump = rt.dump();
        co_return 0;
      },
      quiet());
  EXPECT_EQ(dump.rfind("root", 0), 0u) << dump;
}

}  // namespace
