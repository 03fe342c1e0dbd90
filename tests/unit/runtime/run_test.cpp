#include <cohort/runtime/run.hpp>

#include <cohort/sleep.hpp>

#include <gtest/gtest.h>

#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <stdexcept>

// Signals from outside are tested against a real subprocess
// (tests/integration); these cover the exit-code contract, a signal the
// process raises at itself (delivered before raise() returns), and the end
// by a signal in a forked child (a death test).

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

std::string messages_of(const cohort::run_options& o) {
  std::rewind(o.messages);
  char buf[256] = {};
  if (std::fgets(buf, sizeof buf, o.messages) == nullptr) return {};
  return buf;
}

TEST(Run, MainThrowingANonStandardExceptionPrintsAnErrorAndReturnsOne) {
  auto o = quiet();
  EXPECT_EQ(cohort::run([](cohort::runtime&) -> cohort::task<int> { throw 42; }, o), 1);
  EXPECT_EQ(messages_of(o), "error: main threw a non-standard exception\n");
}

TEST(Run, MainThrowingANonStandardExceptionAfterAWaitReturnsOne) {
  auto o = quiet();
  EXPECT_EQ(cohort::run(
                [](cohort::runtime&) -> cohort::task<int> {
                  co_await cohort::sleep_for(std::chrono::milliseconds(1));
                  throw 42;
                },
                o),
            1);
  EXPECT_EQ(messages_of(o), "error: main threw a non-standard exception\n");
}

// The signal lands in main's last synchronous step: the task ends in the
// same loop turn, so the loop never dispatches Asio's signal handler.
TEST(Run, SignalInMainsLastSynchronousStepInterruptsTheRun) {
  for (int sig : {SIGINT, SIGTERM}) {
    bool seen_inside = true;
    const int code = cohort::run(
        [&](cohort::runtime& rt) -> cohort::task<int> {
          co_await cohort::sleep_for(std::chrono::milliseconds(1));
          std::raise(sig);
          seen_inside = rt.interrupted();
          co_return 0;
        },
        quiet());
    EXPECT_FALSE(seen_inside) << "the loop handled it: the test does not test the last step";
    EXPECT_EQ(code, 128 + sig) << strsignal(sig);
  }
}

TEST(Run, SignalInMainsOnlySynchronousStepInterruptsTheRun) {
  const cohort::run_outcome r = cohort::run_with_outcome(
      [](cohort::runtime&) -> cohort::task<int> {
        std::raise(SIGINT);
        co_return 3;
      },
      quiet());
  EXPECT_EQ(r.signal, SIGINT);
  EXPECT_EQ(r.code, 130);
  EXPECT_TRUE(r.interrupted());
}

TEST(Run, OutcomeWithoutASignalIsMainsValue) {
  const cohort::run_outcome r =
      cohort::run_with_outcome([](cohort::runtime&) -> cohort::task<int> { co_return 7; }, quiet());
  EXPECT_EQ(r.code, 7);
  EXPECT_EQ(r.signal, 0);
  EXPECT_FALSE(r.interrupted());
  EXPECT_EQ(cohort::exit_like(r), 7);
}

// exit_like ends by the signal even when the program (or cohort::run's
// ignore_signals_after) left it ignored and blocked.
void end_like_an_interrupted_run(int sig) {
  std::signal(sig, SIG_IGN);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, sig);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::fputs("summary written\n", stderr);
  (void)cohort::exit_like({128 + sig, sig});
  std::fputs("still alive\n", stderr);
  std::exit(0);
}

TEST(RunDeathTest, ExitLikeEndsByTheRunsSignal) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(end_like_an_interrupted_run(SIGINT), testing::KilledBySignal(SIGINT),
              "summary written\n$");
  EXPECT_EXIT(end_like_an_interrupted_run(SIGTERM), testing::KilledBySignal(SIGTERM),
              "summary written\n$");
}

TEST(RunDeathTest, ARealRunInterruptedInItsLastStepEndsByTheSignal) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        const cohort::run_outcome r = cohort::run_with_outcome(
            [](cohort::runtime&) -> cohort::task<int> {
              std::raise(SIGINT);
              co_return 0;
            },
            cohort::run_options{});
        std::exit(cohort::exit_like(r));
      },
      testing::KilledBySignal(SIGINT), "");
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

// ------------------------------------------------------------ held_signals

std::atomic<int> hup_calls{0};
void count_hup(int) {
  ++hup_calls;
}

TEST(HeldSignals, HoldsASignalUntilReleased) {
  struct sigaction sa {
  }, old{};
  sa.sa_handler = &count_hup;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGHUP, &sa, &old);
  hup_calls = 0;
  {
    cohort::held_signals held;
    ::raise(SIGHUP);
    EXPECT_EQ(hup_calls, 0);  // held: not lost, not fatal
    held.release();
    EXPECT_EQ(hup_calls, 1);
    held.release();  // idempotent
  }
  EXPECT_EQ(hup_calls, 1);
  ::sigaction(SIGHUP, &old, nullptr);
}

TEST(HeldSignals, ASignalHeldBeforeTheRunInterruptsItOnceReleased) {
  cohort::held_signals held;
  ::raise(SIGINT);  // before any handler: would kill the process unheld
  const cohort::run_outcome r = cohort::run_with_outcome(
      [&](cohort::runtime&) -> cohort::task<int> {
        held.release();  // the runtime listens now
        co_return 0;
      },
      quiet());
  EXPECT_EQ(r.signal, SIGINT);
  EXPECT_EQ(r.code, 130);
}

}  // namespace
