#include <cohort/sync_wait.hpp>

#include <cohort/cancel_scope.hpp>
#include <cohort/event.hpp>
#include <cohort/sleep.hpp>
#include <cohort/task.hpp>
#include <cohort/task_group.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "core_test.hpp"
#include "lifetime.hpp"
#include "virtual_loop.hpp"

using namespace std::chrono_literals;
using cohort::basic_loop;
using cohort::cancel_reason;
using cohort::task;
using cohort::test::value_after;

namespace {

class SyncWait : public cohort::test::leak_checked_test {};
class BasicLoop : public cohort::test::leak_checked_test {};

}  // namespace

TEST_F(SyncWait, SleepsOnTheSteadyClockAndReturnsTheValue) {
  // The one unit test on the real clock: sync_wait's loop has no other.
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(cohort::sync_wait(value_after(1ms, 7)), 7);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 1ms);
}

TEST_F(SyncWait, RethrowsTheTasksException) {
  auto failing = []() -> task<> {
    co_await cohort::checkpoint();
    throw std::runtime_error("boom");
  };
  EXPECT_THROW(cohort::sync_wait(failing()), std::runtime_error);
}

TEST_F(BasicLoop, VirtualTimeJumpsToTheNextDeadline) {
  basic_loop loop(basic_loop::time_source::virtual_time);
  const auto t0 = loop.now();
  EXPECT_EQ(loop.run(value_after(1h, 3)), 3);
  EXPECT_EQ(loop.now() - t0, 1h);
}

TEST_F(BasicLoop, ThrowsLogicErrorOnADeadlock) {
  // The task waits on an event nobody sets: no ready work and no timer.
  basic_loop loop(basic_loop::time_source::virtual_time);
  cohort::event never;
  cohort::test::lifetimes life;
  bool after = false;
  auto stuck = [&]() -> task<> {
    auto t = life.make();
    co_await never.wait();
    after = true;
  };
  EXPECT_THROW(loop.run(stuck()), std::logic_error);
  EXPECT_FALSE(after);
  // run() destroys the suspended frame as it throws: nothing leaks (the
  // fixture checks the frame count; ASan/LSan check the memory), and the
  // event no longer lists the waiter (its destructor asserts that).
  EXPECT_EQ(life.alive(), 0);
}

TEST_F(BasicLoop, DeadlockInsideAScopeLeavesNothingBehind) {
  basic_loop loop(basic_loop::time_source::virtual_time);
  cohort::event never;
  cohort::cancel_scope scope;
  cohort::test::lifetimes life;
  auto stuck = [&]() -> task<> {
    auto t = life.make();
    co_await never.wait();
  };
  auto main_task = [&]() -> task<> { (void)co_await scope.run(stuck()); };
  EXPECT_THROW(loop.run(main_task()), std::logic_error);
  EXPECT_EQ(life.alive(), 0);
  EXPECT_FALSE(scope.cancelled_caught());
}

TEST_F(BasicLoop, DeadlockInsideAGroupDestroysEveryChildAndTheLoopRunsAgain) {
  // Hole 6 of issue 11: run() threw with the group's children suspended;
  // their frames leaked (Debug asserted in ~task_group) and a sleep's timer
  // entry stayed in the heap after its frame was gone.
  cohort::test::virtual_loop loop;
  cohort::event never;
  cohort::test::lifetimes life;
  std::vector<std::string> order;
  auto waits_forever = [&](const char* name) -> task<> {
    cohort::test::destruction_logger log(order, name);
    auto t = life.make();
    co_await never.wait();
  };
  auto with_grandchild = [&]() -> task<> {
    auto t = life.make();
    co_await cohort::with_task_group([&](cohort::task_group& inner) -> task<> {
      inner.spawn(waits_forever("grandchild"));
      co_return;
    });
  };
  auto main_task = [&]() -> task<> {
    cohort::test::destruction_logger log(order, "main");
    co_await cohort::with_task_group([&](cohort::task_group& g) -> task<> {
      g.spawn(waits_forever("child 1"));
      g.spawn(with_grandchild());
      auto t = life.make();
      co_await never.wait();
    });
  };
  EXPECT_THROW(loop.run(main_task()), std::logic_error);
  EXPECT_EQ(life.constructed(), 4);
  EXPECT_EQ(life.alive(), 0);
  ASSERT_EQ(order.size(), 3u);
  EXPECT_EQ(order.back(), "main");  // children before their group's owner
  // The loop holds nothing of the dead run: it runs a new task normally.
  EXPECT_EQ(loop.run(value_after(1s, 5)), 5);
}

TEST_F(BasicLoop, ThrowsCancelledErrorWithTheRootReason) {
  cohort::test::virtual_loop loop;
  loop.call_after(1s, [&] { loop.cancel_root(cancel_reason::signal); });
  try {
    loop.run(value_after(1h, 0));
    ADD_FAILURE() << "run returned normally";
  } catch (const cohort::cancelled_error& e) {
    EXPECT_EQ(e.reason(), cancel_reason::signal);
  }
}

TEST_F(BasicLoop, CancelRootWithoutARunningTaskThrowsLogicError) {
  basic_loop loop(basic_loop::time_source::virtual_time);
  EXPECT_THROW(loop.cancel_root(cancel_reason::signal), std::logic_error);
  EXPECT_EQ(loop.run(value_after(1s, 1)), 1);
  EXPECT_THROW(loop.cancel_root(cancel_reason::signal), std::logic_error);
}

TEST_F(BasicLoop, RunsSeveralTasksOneAfterAnother) {
  basic_loop loop(basic_loop::time_source::virtual_time);
  const auto t0 = loop.now();
  EXPECT_EQ(loop.run(value_after(1s, 1)), 1);
  EXPECT_EQ(loop.run(value_after(2s, 2)), 2);
  EXPECT_EQ(loop.now() - t0, 3s);
}

// --- G2: deadlines are honoured while work is ready ---------------------------

namespace {

/// Yields `limit` times (a computation with checkpoints); returns how many
/// checkpoints it passed.
task<long> spin(long limit) {
  long n = 0;
  while (n < limit) {
    co_await cohort::checkpoint();
    ++n;
  }
  co_return n;
}

/// Retries an operation with a zero timeout, `limit` times.
task<> retry_with_zero_timeouts(long limit) {
  for (long i = 0; i < limit; ++i) {
    (void)co_await cohort::move_on_after(0ms, cohort::test::value_after(1s, 0));
  }
}

}  // namespace

TEST_F(BasicLoop, G2_ATimerThatIsDueFiresAtTheNextTurnWhateverIsReady) {
  basic_loop loop(basic_loop::time_source::virtual_time);
  bool fired = false;
  long checkpoints_before = -1;
  loop.run([&]() -> task<> {
    co_await cohort::with_task_group([&](cohort::task_group& g) -> task<> {
      g.spawn([](bool& fired) -> task<> {
        co_await cohort::sleep_for(0ms);
        fired = true;
      }(fired));
      g.spawn([](bool& fired, long& count) -> task<> {
        long n = 0;
        while (!fired && n < 1000) {
          co_await cohort::checkpoint();
          ++n;
        }
        count = n;
      }(fired, checkpoints_before));
      co_return;
    });
  }());
  EXPECT_TRUE(fired);
  EXPECT_LE(checkpoints_before, 2) << "the timer waited for the ready queue to empty";
}

TEST_F(BasicLoop, G2_MoveOnAfterEndsALoopOfCheckpointsOnVirtualTime) {
  // Virtual time cannot stand still for ever while work is ready: after
  // busy_turn_limit turns in a row it moves to the next deadline.
  basic_loop loop(basic_loop::time_source::virtual_time);
  const auto t0 = loop.now();
  const std::optional<long> r = loop.run([]() -> task<std::optional<long>> {
    co_return co_await cohort::move_on_after(50ms, spin(10'000'000));
  }());
  EXPECT_FALSE(r.has_value()) << "ran " << r.value_or(0) << " checkpoints past its deadline";
  EXPECT_EQ(loop.now() - t0, 50ms);
}

TEST_F(BasicLoop, G2_OuterDeadlineEndsARetryLoopOfZeroTimeouts) {
  basic_loop loop(basic_loop::time_source::virtual_time);
  const auto t0 = loop.now();
  EXPECT_THROW(loop.run([]() -> task<> {
    co_await cohort::fail_after(50ms, retry_with_zero_timeouts(1'000'000));
  }()),
               cohort::timeout_error);
  EXPECT_EQ(loop.now() - t0, 50ms);
}

TEST_F(BasicLoop, VirtualTimeStandsStillWhileWorkIsReadyForFewerThanTheBusyTurnLimit) {
  basic_loop loop(basic_loop::time_source::virtual_time);
  const auto t0 = loop.now();
  const std::optional<long> r = loop.run([]() -> task<std::optional<long>> {
    co_return co_await cohort::move_on_after(50ms, spin(basic_loop::busy_turn_limit / 2));
  }());
  EXPECT_EQ(r, basic_loop::busy_turn_limit / 2);
  EXPECT_EQ(loop.now(), t0);
}

TEST_F(SyncWait, G2_DeadlineEndsALoopOfCheckpointsOnTheSteadyClock) {
  // The loop reads the clock at every turn when a timer is armed; the
  // computation gives up by itself after 10 s of wall time (a failure).
  const auto start = std::chrono::steady_clock::now();
  auto spin_for_10s = [](std::chrono::steady_clock::time_point start) -> task<> {
    while (std::chrono::steady_clock::now() - start < 10s) co_await cohort::checkpoint();
  };
  const bool completed = cohort::sync_wait([&]() -> task<bool> {
    co_return co_await cohort::move_on_after(5ms, spin_for_10s(start));
  }());
  EXPECT_FALSE(completed);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
}
