#include <cohort/sync_wait.hpp>

#include <cohort/cancel_scope.hpp>
#include <cohort/event.hpp>
#include <cohort/finally.hpp>
#include <cohort/sleep.hpp>
#include <cohort/task.hpp>
#include <cohort/task_group.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <coroutine>
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

// --- the task tree dump (SIGQUIT) ---------------------------------------------

namespace {

task<> wait_on(cohort::event& e) {
  co_await e.wait();
}

task<> nap(cohort::duration d) {
  co_await cohort::sleep_for(d);
}

// The cancellation node the awaiting task runs in (never suspends).
struct current_node {
  using is_cohort_awaitable = void;
  const cohort::detail::cancel_node* node = nullptr;
  bool await_ready() const noexcept { return false; }
  template <class P>
  bool await_suspend(std::coroutine_handle<P> h) noexcept {
    node = &h.promise().node();
    return false;
  }
  const cohort::detail::cancel_node* await_resume() const noexcept { return node; }
};

std::size_t count_lines(const std::string& s) {
  return static_cast<std::size_t>(std::count(s.begin(), s.end(), '\n'));
}

}  // namespace

TEST_F(BasicLoop, DumpNamesEachTaskAndSaysHowLongItHasWaited) {
  cohort::test::virtual_loop loop;
  cohort::event never;
  std::string dump;
  loop.call_after(2300ms, [&] { dump = loop.dump(); });
  auto three_waits = [&]() -> task<> {
    co_await cohort::with_task_group([&](cohort::task_group& g) -> task<> {
      g.spawn(nap(1h).named("job 1: sleep 3600"));
      g.spawn(wait_on(never).named("tile 3/1/2 from example.org"));
      g.spawn([]() -> task<> {
        co_await cohort::sleep_for(1s);
        co_await cohort::sleep_for(1h);  // begun at +1 s: 1.3 s at the dump
      }());
      co_return;
    });
  };
  loop.run([&]() -> task<> { (void)co_await cohort::move_on_after(3s, three_waits()); }());
  EXPECT_NE(dump.find("\n      job 1: sleep 3600 waiting 2.3 s on sleep\n"), std::string::npos)
      << dump;
  EXPECT_NE(dump.find("\n      tile 3/1/2 from example.org waiting 2.3 s on event\n"),
            std::string::npos)
      << dump;
  EXPECT_NE(dump.find("\n      (unnamed task) waiting 1.3 s on sleep\n"), std::string::npos)
      << dump;
  EXPECT_EQ(loop.dump(), "(no task running)\n");
}

namespace {
task<> nested_scopes(int depth) {
  if (depth == 0) {
    co_await nap(1h).named("innermost");
    co_return;
  }
  (void)co_await cohort::move_on_after(1h, nested_scopes(depth - 1));
}

// `depth` scopes, then a finally whose cleanup waits (named "flush").
task<> cleanup_in_nested_scopes(int depth) {
  if (depth == 0) {
    co_await cohort::finally(nap(1s), [] { return nap(1h).named("flush"); });
    co_return;
  }
  (void)co_await cohort::move_on_after(1h, cleanup_in_nested_scopes(depth - 1));
}
}  // namespace

TEST_F(BasicLoop, DumpOfFiftyThousandNestedScopesDoesNotOverflowTheStack) {
  constexpr int depth = 50'000;
  cohort::test::virtual_loop loop;
  std::string dump;
  loop.call_after(2s, [&] { dump = loop.dump(); });
  loop.run([]() -> task<> { (void)co_await cohort::move_on_after(3s, nested_scopes(depth)); }());
  // root, the outer scope, one scope per level: one line each, and the wait.
  EXPECT_EQ(count_lines(dump), static_cast<std::size_t>(depth) + 3);
  EXPECT_NE(dump.find("(depth 50002) innermost waiting 2.0 s on sleep\n"), std::string::npos)
      << dump.substr(dump.size() - std::min<std::size_t>(dump.size(), 400));
  // Deep levels are numbered, not indented: the dump stays small.
  EXPECT_LT(dump.size(), static_cast<std::size_t>(depth) * 100);
}

TEST_F(BasicLoop, DumpCleanupsFindsACleanupFiftyThousandScopesDeep) {
  constexpr int depth = 50'000;
  cohort::test::virtual_loop loop;
  const cohort::detail::cancel_node* root = nullptr;
  std::string cleanups;
  loop.call_after(2s, [&] { root->dump_cleanups(cleanups); });
  loop.run([&]() -> task<> {
    root = co_await current_node{};
    while (root->parent() != nullptr) root = root->parent();
    (void)co_await cohort::move_on_after(3s, cleanup_in_nested_scopes(depth));
  }());
  EXPECT_EQ(cleanups, "  cleanup\n    flush waiting 1.0 s on sleep\n");
}
