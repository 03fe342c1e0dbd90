#include <cohort/sleep.hpp>

#include <cohort/cancel_scope.hpp>
#include <cohort/task_group.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <numeric>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "probes.hpp"

// Contract tests of sleep_for, sleep_until and checkpoint on virtual time
// (G2, G9). The fixture checks that every lifetime token was destroyed and no
// task frame leaked.

using namespace std::chrono_literals;

namespace {

namespace ct = cohort::test;
using cohort::cancel_scope;
using cohort::duration;
using cohort::task;
using cohort::task_group;
using cohort::time_point;

class Sleep : public ct::contract_test {};

TEST_F(Sleep, SleepForWakesAtExactlyTheDelay) {
  std::vector<duration> woke;
  loop_.run([&]() -> task<> {
    co_await cohort::sleep_for(1500ms);
    woke.push_back(elapsed());
    co_await cohort::sleep_for(1ns);
    woke.push_back(elapsed());
    co_await cohort::sleep_for(0s);
    woke.push_back(elapsed());
    co_await cohort::sleep_for(24h);
    woke.push_back(elapsed());
  }());
  EXPECT_EQ(woke, (std::vector<duration>{1500ms, 1500ms + 1ns, 1500ms + 1ns, 24h + 1500ms + 1ns}));
}

TEST_F(Sleep, SleepUntilWakesAtTheDeadline) {
  std::vector<duration> woke;
  loop_.run([&]() -> task<> {
    co_await cohort::sleep_until(start_ + 3s);
    woke.push_back(elapsed());
    co_await cohort::sleep_until(start_ + 3s + 250ms);
    woke.push_back(elapsed());
    co_await cohort::sleep_until(start_);  // in the past: wakes now, time stands
    woke.push_back(elapsed());
  }());
  EXPECT_EQ(woke, (std::vector<duration>{3s, 3s + 250ms, 3s + 250ms}));
}

task<> sleep_then_log(duration d, int id, ct::virtual_loop& loop, time_point start,
                      std::vector<std::pair<int, duration>>& log, ct::lifetimes::token) {
  co_await cohort::sleep_for(d);
  log.emplace_back(id, loop.now() - start);
}

TEST_F(Sleep, ManyTimersFireInDeadlineOrderAtTheirExactTimes) {
  constexpr int n = 200;
  std::vector<int> delays_ms(n);
  std::iota(delays_ms.begin(), delays_ms.end(), 1);
  std::mt19937 rng(12345);
  std::shuffle(delays_ms.begin(), delays_ms.end(), rng);  // started in a scrambled order
  std::vector<std::pair<int, duration>> log;
  loop_.run([&]() -> task<> {
    co_await cohort::with_task_group([&](task_group& g) -> task<> {
      for (int id = 0; id < n; ++id) {
        g.spawn(sleep_then_log(std::chrono::milliseconds(delays_ms[id]), id, loop_, start_, log,
                               life_.make()));
      }
      co_return;
    });
  }());
  ASSERT_EQ(log.size(), static_cast<std::size_t>(n));
  for (std::size_t i = 0; i < log.size(); ++i) {
    const auto [id, at] = log[i];
    EXPECT_EQ(at, std::chrono::milliseconds(i + 1)) << "wake #" << i;
    EXPECT_EQ(at, std::chrono::milliseconds(delays_ms[id])) << "sleeper " << id;
  }
  EXPECT_EQ(elapsed(), std::chrono::milliseconds(n));
}

TEST_F(Sleep, TimersWithTheSameDeadlineAllFireThen) {
  std::vector<std::pair<int, duration>> log;
  loop_.run([&]() -> task<> {
    co_await cohort::with_task_group([&](task_group& g) -> task<> {
      for (int id = 0; id < 10; ++id) {
        g.spawn(sleep_then_log(id % 2 == 0 ? 2s : 1s, id, loop_, start_, log, life_.make()));
      }
      co_return;
    });
  }());
  ASSERT_EQ(log.size(), 10u);
  for (std::size_t i = 0; i < log.size(); ++i) {
    EXPECT_EQ(log[i].second, i < 5 ? 1s : 2s);
    EXPECT_EQ(log[i].first % 2, i < 5 ? 1 : 0);
  }
}

task<> take_turns(std::string name, int turns, std::vector<std::string>& log,
                  ct::lifetimes::token) {
  for (int i = 0; i < turns; ++i) {
    log.push_back(name + std::to_string(i));
    co_await cohort::checkpoint();
  }
}

TEST_F(Sleep, CheckpointYieldsToOtherReadyTasks) {
  std::vector<std::string> log;
  loop_.run([&]() -> task<> {
    co_await cohort::with_task_group([&](task_group& g) -> task<> {
      g.spawn(take_turns("a", 3, log, life_.make()));
      g.spawn(take_turns("b", 3, log, life_.make()));
      co_return;
    });
  }());
  // Whichever starts first, each checkpoint lets the other one run.
  ASSERT_EQ(log.size(), 6u);
  for (std::size_t i = 1; i < log.size(); ++i) {
    EXPECT_NE(log[i][0], log[i - 1][0]) << "no yield between " << log[i - 1] << " and " << log[i];
  }
  EXPECT_EQ(elapsed(), 0s);  // yielding is not sleeping
}

task<> cancel_then_checkpoint(cancel_scope& scope, bool& reached, ct::lifetimes::token) {
  scope.cancel();
  co_await cohort::checkpoint();
  reached = true;
}

TEST_F(Sleep, G2_CheckpointUnwindsInACancelledScope) {
  cancel_scope scope;
  bool reached = false;
  std::optional<bool> completed;
  loop_.run([&]() -> task<> {
    completed = co_await scope.run(cancel_then_checkpoint(scope, reached, life_.make()));
  }());
  EXPECT_EQ(completed, false);
  EXPECT_FALSE(reached);
  EXPECT_TRUE(scope.cancelled_caught());
}

// Would run forever but for the cancel; bounded so a broken checkpoint fails
// the test instead of hanging it.
task<> busy_loop(long& iterations, ct::lifetimes::token) {
  while (iterations < 1000) {
    ++iterations;
    co_await cohort::checkpoint();
  }
}

task<> cancel_after_turns(cancel_scope& scope, int turns) {
  for (int i = 0; i < turns; ++i) co_await cohort::checkpoint();
  scope.cancel();
}

TEST_F(Sleep, G2_CheckpointLetsAnotherTaskCancelALongComputation) {
  cancel_scope scope;
  long iterations = 0;
  std::optional<bool> completed;
  loop_.run([&]() -> task<> {
    co_await cohort::with_task_group([&](task_group& g) -> task<> {
      g.spawn(cancel_after_turns(scope, 5));
      completed = co_await scope.run(busy_loop(iterations, life_.make()));
    });
  }());
  EXPECT_EQ(completed, false);
  EXPECT_GE(iterations, 5);
  EXPECT_LE(iterations, 7);  // stopped within a turn of the cancel
  EXPECT_EQ(elapsed(), 0s);
}

TEST_F(Sleep, G2_SleepInACancelledScopeUnwindsWithoutWaiting) {
  cancel_scope scope;
  scope.cancel();
  std::optional<bool> completed;
  loop_.run([&]() -> task<> { completed = co_await scope.run(ct::nap(1h)); }());
  EXPECT_EQ(completed, false);
  EXPECT_EQ(elapsed(), 0s);
}

task<> sleeper(duration d, bool& woke, ct::lifetimes::token) {
  co_await cohort::sleep_for(d);
  woke = true;
}

task<> many_sleepers(ct::lifetimes& life, bool& any_woke, int n) {
  co_await cohort::with_task_group([&](task_group& g) -> task<> {
    for (int i = 0; i < n; ++i) g.spawn(sleeper(1h + i * 1s, any_woke, life.make()));
    co_return;
  });
}

TEST_F(Sleep, G9_AThousandSleepersCancelledAtOnceAllUnwindWithoutLeaks) {
  constexpr int n = 1000;
  bool any_woke = false;
  std::optional<bool> completed;
  int alive_while_sleeping = 0;
  loop_.call_after(500ms, [&] { alive_while_sleeping = life_.alive(); });
  loop_.run([&]() -> task<> {
    completed = co_await cohort::move_on_after(1s, many_sleepers(life_, any_woke, n));
  }());
  EXPECT_EQ(completed, false);
  EXPECT_EQ(alive_while_sleeping, n);
  EXPECT_FALSE(any_woke);
  EXPECT_EQ(life_.alive(), 0);
  EXPECT_EQ(life_.destroyed(), life_.constructed());
  EXPECT_EQ(elapsed(), 1s);  // the cancelled timers did not keep the loop going
}

// --- duration::max() (and any huge duration) means no deadline ----------------

TEST_F(Sleep, SleepForMaxWaitsUntilCancelled) {
  bool reached = false;
  loop_.run([&]() -> task<> {
    (void)co_await cohort::move_on_after(1s, ct::nap(duration::max()));
    reached = true;
  }());
  EXPECT_TRUE(reached);
  EXPECT_EQ(elapsed(), 1s) << "sleep_for(duration::max()) ended before the cancel";
}

TEST_F(Sleep, SleepForHugeDurationsWaitsUntilCancelled) {
  std::vector<bool> completed;
  loop_.run([&]() -> task<> {
    completed.push_back(co_await cohort::move_on_after(1s, ct::nap(duration::max() - 1ns)));
    completed.push_back(co_await cohort::move_on_after(1s, ct::nap(duration::max() / 2 + 1h)));
  }());
  EXPECT_EQ(completed, (std::vector<bool>{false, false}));
  EXPECT_EQ(elapsed(), 2s);
}

TEST_F(Sleep, SleepForeverWithNothingElseIsADeadlockNotTheEndOfTime) {
  // Virtual time does not jump to time_point::max(): nothing can wake the
  // sleeper, which is what run() reports.
  EXPECT_THROW(loop_.run(ct::nap(duration::max())), std::logic_error);
  EXPECT_THROW(loop_.run([]() -> task<> { co_await cohort::sleep_until(time_point::max()); }()),
               std::logic_error);
  EXPECT_EQ(elapsed(), 0s);
}

TEST_F(Sleep, SleepForMinDurationWakesAtOnce) {
  loop_.run([&]() -> task<> { co_await cohort::sleep_for(duration::min()); }());
  EXPECT_EQ(elapsed(), 0s);
}

}  // namespace
