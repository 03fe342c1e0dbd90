#include <cohort/event.hpp>

#include <cohort/cancel_scope.hpp>
#include <cohort/sleep.hpp>
#include <cohort/task_group.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <vector>

#include "probes.hpp"

// Contract tests of event (G2 and G8 at a one-shot signal). The fixture checks
// that every lifetime token was destroyed and no task frame leaked.

using namespace std::chrono_literals;

namespace {

namespace ct = cohort::test;
using cohort::cancel_scope;
using cohort::duration;
using cohort::event;
using cohort::task;
using cohort::task_group;
using cohort::time_point;

class Event : public ct::contract_test {};

/// Waits for `e`, then stamps the moment it woke.
task<> wait_then_stamp(event& e, ct::virtual_loop& loop, std::optional<time_point>& woke,
                       ct::lifetimes::token) {
  co_await e.wait();
  woke = loop.now();
}

task<> in_scope(cancel_scope& scope, task<> body) {
  co_await scope.run(std::move(body));
}

task<> count_wakes(event& e, int& wakes, ct::lifetimes::token) {
  co_await e.wait();
  ++wakes;
}

/// Waits for `e`; records when it woke (if ever) and when its frame died.
task<> probed_wait(event& e, ct::virtual_loop& loop, std::optional<time_point>& woke,
                   std::optional<time_point>& destroyed, ct::lifetimes::token) {
  ct::on_exit probe([&] { destroyed = loop.now(); });
  co_await e.wait();
  woke = loop.now();
}

task<> wait_then_sleep(event& e, bool& resumed, bool& past_next_wait, ct::lifetimes::token) {
  co_await e.wait();
  resumed = true;
  co_await cohort::sleep_for(1s);
  past_next_wait = true;
}

task<> wait_then_mark(event& e, bool& reached, ct::lifetimes::token) {
  co_await e.wait();
  reached = true;
}

TEST_F(Event, SetWakesEveryWaiter) {
  event e;
  std::vector<std::optional<time_point>> woke(3);
  loop_.run([&]() -> task<> {
    co_await cohort::with_task_group([&](task_group& g) -> task<> {
      for (auto& w : woke) g.spawn(wait_then_stamp(e, loop_, w, life_.make()));
      co_await cohort::sleep_for(1s);
      EXPECT_FALSE(e.is_set());
      for (auto& w : woke) EXPECT_FALSE(w);  // nobody woke before the set
      e.set();
      EXPECT_TRUE(e.is_set());
    });
  }());
  for (auto& w : woke) {
    ASSERT_TRUE(w);
    EXPECT_EQ(*w - start_, 1s);
  }
}

TEST_F(Event, WaitAfterSetCompletesAtOnce) {
  event e;
  e.set();
  std::size_t steps_before = 0;
  std::size_t steps_after = 0;
  loop_.run([&]() -> task<> {
    steps_before = loop_.steps();
    co_await e.wait();
    steps_after = loop_.steps();
  }());
  EXPECT_EQ(steps_after, steps_before);  // did not even go through the loop
  EXPECT_EQ(elapsed(), 0s);
}

TEST_F(Event, SetIsIdempotent) {
  event e;
  int wakes = 0;
  loop_.run([&]() -> task<> {
    co_await cohort::with_task_group([&](task_group& g) -> task<> {
      g.spawn(count_wakes(e, wakes, life_.make()));
      co_await cohort::sleep_for(1s);
      e.set();
      e.set();
      co_await cohort::sleep_for(1s);
      e.set();
      co_await e.wait();
    });
  }());
  EXPECT_EQ(wakes, 1);
  EXPECT_TRUE(e.is_set());
}

TEST_F(Event, G2_CancelledWaiterLeavesTheQueue) {
  event e;
  cancel_scope scope;
  std::optional<time_point> cancelled_woke;
  std::optional<time_point> cancelled_destroyed;
  std::optional<time_point> other_woke;
  loop_.call_after(500ms, [&] { scope.cancel(); });
  loop_.run([&]() -> task<> {
    co_await cohort::with_task_group([&](task_group& g) -> task<> {
      g.spawn(in_scope(scope,
                       probed_wait(e, loop_, cancelled_woke, cancelled_destroyed, life_.make())));
      g.spawn(wait_then_stamp(e, loop_, other_woke, life_.make()));
      co_await cohort::sleep_for(1s);
      e.set();  // must wake only the waiter still queued (ASan: no freed frame)
    });
  }());
  EXPECT_TRUE(scope.cancelled_caught());
  EXPECT_FALSE(cancelled_woke);
  ASSERT_TRUE(cancelled_destroyed);
  EXPECT_EQ(*cancelled_destroyed - start_, 500ms);  // unwound at the cancel, not at the set
  ASSERT_TRUE(other_woke);
  EXPECT_EQ(*other_woke - start_, 1s);
}

TEST_F(Event, G8_WaiterSetAndCancelledInTheSameInstantResumesThenUnwindsAtItsNextWait) {
  event e;
  cancel_scope scope;
  bool resumed = false;
  bool past_next_wait = false;
  loop_.call_after(1s, [&] {
    e.set();         // the wait completed...
    scope.cancel();  // ...and the cancel arrives before the task resumes
  });
  std::optional<bool> completed;
  loop_.run([&]() -> task<> {
    completed = co_await scope.run(wait_then_sleep(e, resumed, past_next_wait, life_.make()));
  }());
  EXPECT_TRUE(resumed);  // the completed wait delivered its result
  EXPECT_FALSE(past_next_wait);
  EXPECT_EQ(completed, false);
  EXPECT_TRUE(scope.cancelled_caught());
  EXPECT_EQ(elapsed(), 1s);
}

TEST_F(Event, G2_WaitInACancelledScopeUnwindsEvenIfTheEventIsSet) {
  event e;
  e.set();
  cancel_scope scope;
  scope.cancel();
  bool reached = false;
  std::optional<bool> completed;
  loop_.run([&]() -> task<> {
    completed = co_await scope.run(wait_then_mark(e, reached, life_.make()));
  }());
  EXPECT_EQ(completed, false);
  EXPECT_FALSE(reached);
}

}  // namespace
