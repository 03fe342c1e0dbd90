#include <cohort/task_group.hpp>

#include <cohort/cancel_scope.hpp>
#include <cohort/event.hpp>
#include <cohort/finally.hpp>
#include <cohort/shield.hpp>
#include <cohort/sleep.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "probes.hpp"

// Contract tests of task_group (DESIGN.md G1, G3, G4, G6, G9). Every test runs
// on virtual time; the fixture checks afterwards that every lifetime token was
// destroyed (G3) and no task frame leaked (G9).

using namespace std::chrono_literals;

namespace {

namespace ct = cohort::test;
using cohort::cancel_reason;
using cohort::duration;
using cohort::group_error;
using cohort::task;
using cohort::task_group;
using cohort::time_point;

class TaskGroup : public ct::contract_test {
 protected:
  /// Runs `body` as a group inside a top-level task; returns the
  /// group_error it threw, if any.
  template <class Body>
  std::optional<group_error> run_group(cohort::group_options options, Body body) {
    std::optional<group_error> error;
    loop_.run([&]() -> task<> {
      try {
        co_await cohort::with_task_group(options, std::move(body));
      } catch (const group_error& e) {
        error = e;
      }
    }());
    return error;
  }
  template <class Body>
  std::optional<group_error> run_group(Body body) {
    return run_group(cohort::group_options{}, std::move(body));
  }
};

/// How a child ended: when its frame was destroyed, what its group said
/// then, and whether it got past its wait.
struct child_end {
  std::optional<time_point> destroyed_at;
  cancel_reason group_reason = cancel_reason::none;
  bool finished = false;
};

task<> sleeper(task_group& g, ct::virtual_loop& loop, duration d, child_end& end,
               ct::lifetimes::token) {
  ct::on_exit probe([&] {
    end.destroyed_at = loop.now();
    end.group_reason = g.reason();
  });
  co_await cohort::sleep_for(d);
  end.finished = true;
}

task<> sleep_then_stamp(ct::virtual_loop& loop, duration d, std::optional<time_point>& at,
                        ct::lifetimes::token) {
  co_await cohort::sleep_for(d);
  at = loop.now();
}

task<> fail_after(duration d, std::string what, ct::lifetimes::token) {
  co_await cohort::sleep_for(d);
  throw std::runtime_error(what);
}

task<> mark_ran(bool& ran, ct::lifetimes::token) {
  ran = true;
  co_return;
}

std::vector<std::string> whats(const group_error& e) {
  std::vector<std::string> out;
  for (const auto& err : e.errors()) out.push_back(ct::what_of(err));
  return out;
}

// --- G1: no orphans ---------------------------------------------------------

TEST_F(TaskGroup, G1_GroupWaitsForEveryChild) {
  std::vector<std::optional<time_point>> finished(5);
  std::optional<time_point> group_returned;
  loop_.run([&]() -> task<> {
    co_await cohort::with_task_group([&](task_group& g) -> task<> {
      for (int i = 0; i < 5; ++i) {
        g.spawn(sleep_then_stamp(loop_, std::chrono::seconds(i + 1), finished[i], life_.make()));
      }
      EXPECT_EQ(g.running(), 5u);
      co_return;  // the body ends first; the group must not
    });
    group_returned = loop_.now();
  }());
  ASSERT_TRUE(group_returned);
  EXPECT_EQ(*group_returned - start_, 5s);
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(finished[i]) << "child " << i;
    EXPECT_EQ(*finished[i] - start_, std::chrono::seconds(i + 1)) << "child " << i;
  }
  EXPECT_EQ(life_.constructed(), life_.destroyed());
}

task<> spawn_chain(task_group& g, ct::virtual_loop& loop, ct::lifetimes& life, int depth,
                   std::vector<duration>& finished, time_point start, ct::lifetimes::token) {
  co_await cohort::sleep_for(1s);
  if (depth > 0) g.spawn(spawn_chain(g, loop, life, depth - 1, finished, start, life.make()));
  finished.push_back(loop.now() - start);  // ends before the child it spawned
}

TEST_F(TaskGroup, G1_ChildrenSpawnedByChildrenAreWaitedFor) {
  std::vector<duration> finished;
  std::optional<duration> group_returned;
  loop_.run([&]() -> task<> {
    co_await cohort::with_task_group([&](task_group& g) -> task<> {
      g.spawn(spawn_chain(g, loop_, life_, 3, finished, start_, life_.make()));
      co_return;
    });
    group_returned = elapsed();
  }());
  EXPECT_EQ(finished, (std::vector<duration>{1s, 2s, 3s, 4s}));
  EXPECT_EQ(group_returned, 4s);
}

task<> inner_group(ct::virtual_loop& loop, ct::lifetimes& life,
                   std::vector<std::optional<time_point>>& stamps,
                   std::optional<time_point>& inner_returned) {
  co_await cohort::with_task_group([&](task_group& g) -> task<> {
    g.spawn(sleep_then_stamp(loop, 1s, stamps[1], life.make()));
    g.spawn(sleep_then_stamp(loop, 3s, stamps[2], life.make()));
    co_return;
  });
  inner_returned = loop.now();
  co_await cohort::sleep_for(1s);
}

TEST_F(TaskGroup, G1_NestedGroupsWaitForTheirOwnChildren) {
  std::vector<std::optional<time_point>> stamps(3);
  std::optional<time_point> inner_returned;
  std::optional<time_point> outer_returned;
  loop_.run([&]() -> task<> {
    co_await cohort::with_task_group([&](task_group& g) -> task<> {
      g.spawn(sleep_then_stamp(loop_, 2s, stamps[0], life_.make()));
      g.spawn(inner_group(loop_, life_, stamps, inner_returned));
      co_return;
    });
    outer_returned = loop_.now();
  }());
  ASSERT_TRUE(inner_returned && outer_returned);
  EXPECT_EQ(*inner_returned - start_, 3s);  // the inner group waited for its 3 s child
  EXPECT_EQ(*outer_returned - start_, 4s);  // the outer one for the task that ran it
  for (auto& s : stamps) EXPECT_TRUE(s);
}

task<> slow_cleanup_child(ct::virtual_loop& loop, std::optional<time_point>& cleaned,
                          ct::lifetimes::token) {
  co_await cohort::finally(ct::nap(1h), [&]() -> task<> {
    co_await cohort::sleep_for(2s);
    cleaned = loop.now();
  });
}

TEST_F(TaskGroup, G1_CancelledGroupWaitsForItsChildrensCleanup) {
  std::optional<time_point> cleaned;
  auto error = run_group([&](task_group& g) -> task<> {
    g.spawn(slow_cleanup_child(loop_, cleaned, life_.make()));
    co_await cohort::sleep_for(1s);
    g.cancel();
  });
  EXPECT_FALSE(error);
  ASSERT_TRUE(cleaned);
  EXPECT_EQ(*cleaned - start_, 3s);
  EXPECT_EQ(elapsed(), 3s);  // not before the async cleanup was done
}

// --- G6: fail-fast, every error kept ------------------------------------------

TEST_F(TaskGroup, G6_FailingChildCancelsBodyAndSiblingsAtOnce) {
  std::vector<child_end> siblings(3);
  child_end body_end;
  auto error = run_group([&](task_group& g) -> task<> {
    for (auto& s : siblings) g.spawn(sleeper(g, loop_, 10s, s, life_.make()));
    g.spawn(fail_after(1s, "boom", life_.make()));
    ct::on_exit probe([&] {
      body_end.destroyed_at = loop_.now();
      body_end.group_reason = g.reason();
    });
    auto token = life_.make();
    co_await cohort::sleep_for(10s);
    body_end.finished = true;
  });
  ASSERT_TRUE(error);
  EXPECT_EQ(ct::what_of(error->cause()), "boom");
  EXPECT_EQ(whats(*error), std::vector<std::string>{"boom"});
  EXPECT_EQ(error->cancelled(), 3u);
  EXPECT_EQ(elapsed(), 1s);  // the group ended at the failure, not at 10 s
  for (auto& s : siblings) {
    EXPECT_FALSE(s.finished);
    ASSERT_TRUE(s.destroyed_at);
    EXPECT_EQ(*s.destroyed_at - start_, 1s);
    EXPECT_EQ(s.group_reason, cancel_reason::sibling_failed);
  }
  EXPECT_FALSE(body_end.finished);
  ASSERT_TRUE(body_end.destroyed_at);
  EXPECT_EQ(*body_end.destroyed_at - start_, 1s);
  EXPECT_EQ(body_end.group_reason, cancel_reason::sibling_failed);
}

TEST_F(TaskGroup, G6_FailingBodyCancelsChildren) {
  std::vector<child_end> children(2);
  auto error = run_group([&](task_group& g) -> task<> {
    for (auto& c : children) g.spawn(sleeper(g, loop_, 10s, c, life_.make()));
    co_await cohort::sleep_for(1s);
    throw std::runtime_error("body failed");
  });
  ASSERT_TRUE(error);
  EXPECT_EQ(whats(*error), std::vector<std::string>{"body failed"});
  EXPECT_EQ(error->cancelled(), 2u);
  EXPECT_EQ(elapsed(), 1s);
  for (auto& c : children) {
    EXPECT_FALSE(c.finished);
    EXPECT_EQ(c.group_reason, cancel_reason::sibling_failed);
  }
}

task<> spawn_then_fail(task_group& g, ct::lifetimes& life, bool& spawned_ran) {
  co_await cohort::sleep_for(1s);
  g.spawn(mark_ran(spawned_ran, life.make()));  // queued, then the group fails
  throw std::runtime_error("boom");
}

TEST_F(TaskGroup, G6_GroupErrorCountsCancelledAndNeverStartedMembers) {
  std::vector<child_end> siblings(2);
  bool spawned_ran = false;
  auto error = run_group([&](task_group& g) -> task<> {
    for (auto& s : siblings) g.spawn(sleeper(g, loop_, 10s, s, life_.make()));
    g.spawn(spawn_then_fail(g, life_, spawned_ran));
    co_return;
  });
  ASSERT_TRUE(error);
  EXPECT_EQ(ct::what_of(error->cause()), "boom");
  EXPECT_FALSE(spawned_ran);
  EXPECT_EQ(error->cancelled(), 3u);  // two siblings unwound + one never started
}

task<> fail_after_shielded_wait(duration d, std::string what, ct::lifetimes::token) {
  co_await cohort::shield(ct::nap(d));  // not cut short by the first failure
  throw std::runtime_error(what);
}

TEST_F(TaskGroup, G6_TwoFailuresAreBothKeptAndTheFirstIsTheCause) {
  auto error = run_group([&](task_group& g) -> task<> {
    g.spawn(fail_after_shielded_wait(2s, "second", life_.make()));
    g.spawn(fail_after(1s, "first", life_.make()));
    co_return;
  });
  ASSERT_TRUE(error);
  EXPECT_EQ(ct::what_of(error->cause()), "first");
  EXPECT_EQ(whats(*error), (std::vector<std::string>{"first", "second"}));
  EXPECT_EQ(error->cancelled(), 0u);  // the second one failed, it was not cancelled
  EXPECT_EQ(elapsed(), 2s);           // and the group waited for it
}

task<> fail_when_set(cohort::event& e, std::string what, std::vector<std::string>& thrown,
                     ct::lifetimes::token) {
  co_await e.wait();
  thrown.push_back(what);
  throw std::runtime_error(what);
}

TEST_F(TaskGroup, G6_FailuresInTheSameInstantAreAllKeptInOrder) {
  cohort::event go;
  std::vector<std::string> thrown;
  auto error = run_group([&](task_group& g) -> task<> {
    g.spawn(fail_when_set(go, "a", thrown, life_.make()));
    g.spawn(fail_when_set(go, "b", thrown, life_.make()));
    co_await cohort::sleep_for(1s);
    go.set();  // wakes both in the same instant: the second must still fail (G8)
  });
  ASSERT_TRUE(error);
  ASSERT_EQ(thrown.size(), 2u);
  EXPECT_EQ(whats(*error), thrown);  // in the order they happened
  EXPECT_EQ(ct::what_of(error->cause()), thrown.front());
}

TEST_F(TaskGroup, G6_CollectModeLetsSiblingsFinishAndReportsEveryError) {
  child_end survivor;
  auto error = run_group(cohort::group_options{cohort::failure_policy::collect},
                         [&](task_group& g) -> task<> {
                           g.spawn(fail_after(1s, "a", life_.make()));
                           g.spawn(fail_after(3s, "b", life_.make()));
                           g.spawn(sleeper(g, loop_, 5s, survivor, life_.make()));
                           co_await cohort::sleep_for(4s);
                           EXPECT_FALSE(g.cancelled());
                         });
  ASSERT_TRUE(error);
  EXPECT_EQ(whats(*error), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(ct::what_of(error->cause()), "a");
  EXPECT_EQ(error->cancelled(), 0u);
  EXPECT_TRUE(survivor.finished);
  EXPECT_EQ(survivor.group_reason, cancel_reason::none);
  EXPECT_EQ(elapsed(), 5s);
}

task<> inner_failing_group(ct::lifetimes& life) {
  co_await cohort::with_task_group([&](task_group& g) -> task<> {
    g.spawn(fail_after(1s, "inner boom", life.make()));
    co_return;
  });
}

TEST_F(TaskGroup, G6_NestedGroupFailurePropagatesOutward) {
  child_end outer_sibling;
  auto error = run_group([&](task_group& g) -> task<> {
    g.spawn(sleeper(g, loop_, 10s, outer_sibling, life_.make()));
    g.spawn(inner_failing_group(life_));
    co_return;
  });
  ASSERT_TRUE(error);
  ASSERT_EQ(error->errors().size(), 1u);
  try {
    error->rethrow_cause();
  } catch (const group_error& inner) {
    EXPECT_EQ(ct::what_of(inner.cause()), "inner boom");
  } catch (...) {
    ADD_FAILURE() << "the outer cause is not the inner group's error";
  }
  EXPECT_EQ(outer_sibling.group_reason, cancel_reason::sibling_failed);
  EXPECT_EQ(elapsed(), 1s);
}

// An error raised while the group is already cancelling is still an error.

task<> child_whose_cleanup_throws(ct::lifetimes::token) {
  co_await cohort::finally(ct::nap(1h), []() -> task<> {
    co_await cohort::sleep_for(1s);
    throw std::runtime_error("cleanup failed");
  });
}

// A cleanup's exception is never dropped, even when the body it cleans up
// after was cancelled (G6 "every error is kept").
TEST_F(TaskGroup, G6_ErrorFromCleanupInACancellingGroupIsTheCause) {
  auto error = run_group([&](task_group& g) -> task<> {
    g.spawn(child_whose_cleanup_throws(life_.make()));
    co_await cohort::sleep_for(1s);
    g.cancel();
  });
  ASSERT_TRUE(error) << "the cleanup's error was lost";
  EXPECT_EQ(ct::what_of(error->cause()), "cleanup failed");
  EXPECT_EQ(elapsed(), 2s);
}

// The same in fail-fast mode: the cancelled sibling's cleanup error is kept
// after the cause.
TEST_F(TaskGroup, G6_ErrorFromCleanupOfACancelledSiblingIsKept) {
  auto error = run_group([&](task_group& g) -> task<> {
    g.spawn(child_whose_cleanup_throws(life_.make()));
    g.spawn(fail_after(1s, "first", life_.make()));
    co_return;
  });
  ASSERT_TRUE(error);
  EXPECT_EQ(whats(*error), (std::vector<std::string>{"first", "cleanup failed"}));
  EXPECT_EQ(elapsed(), 2s);
}

TEST_F(TaskGroup, G6_ErrorAfterExplicitCancelIsTheCause) {
  child_end sibling;
  auto error = run_group([&](task_group& g) -> task<> {
    g.spawn(fail_after_shielded_wait(2s, "late failure", life_.make()));
    g.spawn(sleeper(g, loop_, 1h, sibling, life_.make()));
    co_await cohort::sleep_for(1s);
    g.cancel();
  });
  ASSERT_TRUE(error) << "an error despite the cancel was absorbed with the cancel";
  EXPECT_EQ(whats(*error), std::vector<std::string>{"late failure"});
  EXPECT_EQ(error->cancelled(), 1u);
  EXPECT_EQ(sibling.group_reason, cancel_reason::requested);
  EXPECT_EQ(elapsed(), 2s);
}

// --- cancel(): absorbed when explicit, propagated from outside ---------------

TEST_F(TaskGroup, G6_ExplicitCancelIsAbsorbed) {
  std::vector<child_end> children(3);
  bool body_went_on = false;
  bool after_group = false;
  loop_.run([&]() -> task<> {
    co_await cohort::with_task_group([&](task_group& g) -> task<> {
      for (auto& c : children) g.spawn(sleeper(g, loop_, 1h, c, life_.make()));
      co_await cohort::sleep_for(1s);
      g.cancel();
      EXPECT_TRUE(g.cancelled());
      co_await cohort::sleep_for(1h);
      body_went_on = true;
    });
    after_group = true;
  }());
  EXPECT_TRUE(after_group);
  EXPECT_FALSE(body_went_on);
  EXPECT_EQ(elapsed(), 1s);
  for (auto& c : children) {
    EXPECT_FALSE(c.finished);
    EXPECT_EQ(c.group_reason, cancel_reason::requested);
  }
}

task<> group_then_mark(ct::virtual_loop& loop, ct::lifetimes& life,
                       std::vector<child_end>& children, bool& after_group) {
  co_await cohort::with_task_group([&](task_group& g) -> task<> {
    for (auto& c : children) g.spawn(sleeper(g, loop, 1h, c, life.make()));
    co_await cohort::sleep_for(1h);
  });
  after_group = true;  // must not run: the enclosing scope was cancelled
}

TEST_F(TaskGroup, G6_CancellationFromAnEnclosingScopePropagatesThroughTheGroup) {
  std::vector<child_end> children(3);
  bool after_group = false;
  std::optional<bool> completed;
  loop_.run([&]() -> task<> {
    completed =
        co_await cohort::move_on_after(2s, group_then_mark(loop_, life_, children, after_group));
  }());
  ASSERT_TRUE(completed);
  EXPECT_FALSE(*completed);  // the move_on_after caught its own deadline
  EXPECT_FALSE(after_group);
  EXPECT_EQ(elapsed(), 2s);
  for (auto& c : children) {
    EXPECT_FALSE(c.finished);
    EXPECT_EQ(c.group_reason, cancel_reason::parent);
    ASSERT_TRUE(c.destroyed_at);
    EXPECT_EQ(*c.destroyed_at - start_, 2s);
  }
}

TEST_F(TaskGroup, G6_RootCancellationPropagatesThroughTheGroup) {
  std::vector<child_end> children(2);
  bool after_group = false;
  loop_.call_after(2s, [&] { loop_.cancel_root(cancel_reason::signal); });
  try {
    loop_.run(group_then_mark(loop_, life_, children, after_group));
    ADD_FAILURE() << "the root task was not cancelled";
  } catch (const cohort::cancelled_error& e) {
    EXPECT_EQ(e.reason(), cancel_reason::signal);
  }
  EXPECT_FALSE(after_group);
  EXPECT_EQ(elapsed(), 2s);
  for (auto& c : children) EXPECT_FALSE(c.finished);
}

TEST_F(TaskGroup, G6_DoubleCancelKeepsTheFirstReasonAndUnwindsOnce) {
  std::vector<child_end> children(3);
  cohort::group_stats stats;
  auto error = run_group([&](task_group& g) -> task<> {
    for (auto& c : children) g.spawn(sleeper(g, loop_, 1h, c, life_.make()));
    co_await cohort::sleep_for(1s);
    g.cancel();
    g.cancel(cancel_reason::deadline);
    EXPECT_EQ(g.reason(), cancel_reason::requested);
    co_await ct::shielded_nap(1s);
    stats = g.stats();
  });
  EXPECT_FALSE(error);
  EXPECT_EQ(stats.cancelled, 3u);
  EXPECT_EQ(life_.destroyed(), life_.constructed());
  for (auto& c : children) EXPECT_EQ(c.group_reason, cancel_reason::requested);
}

// --- G4: queued work never starts after cancellation ------------------------

TEST_F(TaskGroup, G4_ChildCancelledBeforeItsFirstResumeNeverRuns) {
  bool ran = false;
  cohort::group_stats stats;
  int alive_after_spawn = -1;
  int alive_after_cancel_took_effect = -1;
  auto error = run_group([&](task_group& g) -> task<> {
    g.spawn(mark_ran(ran, life_.make()));
    alive_after_spawn = life_.alive();  // the token is a parameter in the child's frame
    g.cancel();                         // in the same turn: the child has not run yet
    co_await ct::shielded_nap(1s);
    alive_after_cancel_took_effect = life_.alive();
    stats = g.stats();
  });
  EXPECT_FALSE(error);
  EXPECT_FALSE(ran);
  EXPECT_EQ(alive_after_spawn, 1);
  EXPECT_EQ(alive_after_cancel_took_effect, 0);  // its parameters were destroyed
  EXPECT_EQ(stats.spawned, 1u);
  EXPECT_EQ(stats.not_started, 1u);
  EXPECT_EQ(stats.cancelled, 0u);
  EXPECT_EQ(stats.completed, 0u);
}

TEST_F(TaskGroup, G4_SpawnIntoACancelledGroupNeverRuns) {
  bool ran = false;
  cohort::group_stats stats;
  auto error = run_group([&](task_group& g) -> task<> {
    co_await cohort::sleep_for(1s);
    g.cancel();
    g.spawn(mark_ran(ran, life_.make()));
    co_await ct::shielded_nap(1s);
    stats = g.stats();
  });
  EXPECT_FALSE(error);
  EXPECT_FALSE(ran);
  EXPECT_EQ(stats.not_started, 1u);
  EXPECT_EQ(stats.completed, 0u);
}

TEST_F(TaskGroup, G4_GroupWhoseOnlyChildNeverStartedEndsAtOnce) {
  bool ran = false;
  bool after_group = false;
  loop_.run([&]() -> task<> {
    co_await cohort::with_task_group([&](task_group& g) -> task<> {
      g.spawn(mark_ran(ran, life_.make()));
      g.cancel();
      co_return;  // the body is done; only the unstarted child is left
    });
    after_group = true;
  }());
  EXPECT_FALSE(ran);
  EXPECT_TRUE(after_group);
  EXPECT_EQ(elapsed(), 0s);
}

// --- stats and G9 -----------------------------------------------------------

TEST_F(TaskGroup, G9_StatsCountEveryOutcome) {
  child_end done;
  child_end stuck;
  bool late_ran = false;
  cohort::group_stats stats;
  auto error = run_group(cohort::group_options{cohort::failure_policy::collect},
                         [&](task_group& g) -> task<> {
                           g.spawn(sleeper(g, loop_, 1s, done, life_.make()));
                           g.spawn(fail_after(2s, "b", life_.make()));
                           g.spawn(sleeper(g, loop_, 1h, stuck, life_.make()));
                           co_await cohort::sleep_for(3s);
                           EXPECT_EQ(g.running(), 1u);
                           g.cancel();
                           g.spawn(mark_ran(late_ran, life_.make()));
                           co_await ct::shielded_nap(1s);
                           stats = g.stats();
                         });
  EXPECT_EQ(stats.spawned, 4u);
  EXPECT_EQ(stats.completed, 1u);
  EXPECT_EQ(stats.failed, 1u);
  EXPECT_EQ(stats.cancelled, 1u);
  EXPECT_EQ(stats.not_started, 1u);
  ASSERT_TRUE(error);  // an explicit cancel does not hide an earlier error
  EXPECT_EQ(whats(*error), std::vector<std::string>{"b"});
  EXPECT_EQ(error->cancelled(), 2u);
  EXPECT_TRUE(done.finished);
  EXPECT_FALSE(stuck.finished);
  EXPECT_FALSE(late_ran);
}

task<> leaf(std::vector<std::string>& destroyed, ct::lifetimes::token) {
  ct::on_exit probe([&] { destroyed.push_back("leaf"); });
  co_await cohort::sleep_for(1h);
}
task<> middle(std::vector<std::string>& destroyed, ct::lifetimes& life, ct::lifetimes::token) {
  ct::on_exit probe([&] { destroyed.push_back("middle"); });
  co_await leaf(destroyed, life.make());
}
task<> top(std::vector<std::string>& destroyed, ct::lifetimes& life, ct::lifetimes::token) {
  ct::on_exit probe([&] { destroyed.push_back("top"); });
  co_await middle(destroyed, life, life.make());
}

TEST_F(TaskGroup, G3_CancelledChildChainIsDestroyedInnermostFirst) {
  std::vector<std::string> destroyed;
  auto error = run_group([&](task_group& g) -> task<> {
    g.spawn(top(destroyed, life_, life_.make()));
    co_await cohort::sleep_for(1s);
    g.cancel();
  });
  EXPECT_FALSE(error);
  EXPECT_EQ(destroyed, (std::vector<std::string>{"leaf", "middle", "top"}));
  EXPECT_EQ(life_.constructed(), life_.destroyed());
}

TEST_F(TaskGroup, G9_TenThousandSleepingChildrenCancelledUnwindWithoutLeaks) {
  constexpr std::size_t n = 10'000;
  std::vector<child_end> children(n);
  cohort::group_stats stats;
  std::size_t running_before_cancel = 0;
  auto error = run_group([&](task_group& g) -> task<> {
    for (auto& c : children) g.spawn(sleeper(g, loop_, 1h, c, life_.make()));
    co_await cohort::sleep_for(1s);
    running_before_cancel = g.running();
    g.cancel();
    co_await ct::shielded_nap(1ms);
    stats = g.stats();
  });
  EXPECT_FALSE(error);
  EXPECT_EQ(running_before_cancel, n);
  EXPECT_EQ(stats.cancelled, n);
  EXPECT_EQ(stats.completed, 0u);
  EXPECT_EQ(life_.alive(), 0);
  EXPECT_EQ(elapsed(), 1s + 1ms);
  std::size_t unwound_at_cancel = 0;
  for (auto& c : children) {
    if (!c.finished && c.destroyed_at && *c.destroyed_at - start_ == 1s) ++unwound_at_cancel;
  }
  EXPECT_EQ(unwound_at_cancel, n);
}

// --- G6: a cleanup factory's error is never dropped ---------------------------

task<> cleanup_factory_throws() {
  throw std::runtime_error("factory failed");
}
task<> child_whose_cleanup_factory_throws(ct::lifetimes::token) {
  co_await cohort::finally(ct::nap(1h), &cleanup_factory_throws);
}

TEST_F(TaskGroup, G6_ErrorFromACleanupFactoryInACancelledGroupIsTheCause) {
  auto error = run_group([&](task_group& g) -> task<> {
    g.spawn(child_whose_cleanup_factory_throws(life_.make()));
    co_await cohort::sleep_for(1s);
    g.cancel();
  });
  ASSERT_TRUE(error) << "the cleanup factory's error was lost";
  EXPECT_EQ(whats(*error), std::vector<std::string>{"factory failed"});
  EXPECT_EQ(elapsed(), 1s);
}

TEST_F(TaskGroup, G6_ErrorFromACleanupFactoryOfACancelledSiblingIsKept) {
  auto error = run_group([&](task_group& g) -> task<> {
    g.spawn(child_whose_cleanup_factory_throws(life_.make()));
    g.spawn(fail_after(1s, "first", life_.make()));
    co_return;
  });
  ASSERT_TRUE(error);
  EXPECT_EQ(whats(*error), (std::vector<std::string>{"first", "factory failed"}));
}

// --- G3: a cancelled body's frame outlives its children -----------------------

/// Reads `body_local` (a local of the group's body) when its frame is
/// destroyed, after waiting an hour.
task<> reads_body_local_on_exit(const std::string& body_local, std::vector<std::string>& log,
                                ct::lifetimes::token) {
  ct::on_exit probe([&] { log.push_back("child read " + body_local); });
  co_await cohort::sleep_for(1h);
}

/// Cancels its group after `d`.
task<> cancel_group_after(task_group& g, duration d) {
  co_await cohort::sleep_for(d);
  g.cancel();
}

// The string is longer than any small-string buffer, so under ASan a read of
// it after the body's frame is gone is a heap-use-after-free.
const std::string long_text = "a body local long enough to live on the heap";

TEST_F(TaskGroup, G3_CancelledBodyIsDestroyedAfterItsChildren) {
  std::vector<std::string> log;
  auto error = run_group([&](task_group& g) -> task<> {
    const std::string local = long_text;
    ct::on_exit probe([&] { log.push_back("body"); });
    g.spawn(reads_body_local_on_exit(local, log, life_.make()));
    g.spawn(cancel_group_after(g, 1s));
    co_await cohort::sleep_for(1h);
  });
  EXPECT_FALSE(error);
  EXPECT_EQ(log, (std::vector<std::string>{"child read " + long_text, "body"}));
  EXPECT_EQ(elapsed(), 1s);
}

task<> spawn_reader_and_wait(task_group& g, std::vector<std::string>& log, ct::lifetimes& life) {
  const std::string local = long_text;
  ct::on_exit probe([&] { log.push_back("helper"); });
  g.spawn(reads_body_local_on_exit(local, log, life.make()));
  co_await cohort::sleep_for(1h);
}

// The same when the local lives in a task the body awaits: the body's whole
// chain of frames outlives the children.
TEST_F(TaskGroup, G3_CancelledBodyChainIsDestroyedAfterTheChildren) {
  std::vector<std::string> log;
  loop_.call_after(1s, [&] { loop_.cancel_root(cancel_reason::signal); });
  EXPECT_THROW(loop_.run([&]() -> task<> {
    co_await cohort::with_task_group([&](task_group& g) -> task<> {
      ct::on_exit probe([&] { log.push_back("body"); });
      co_await spawn_reader_and_wait(g, log, life_);
    });
  }()),
               cohort::cancelled_error);
  EXPECT_EQ(log, (std::vector<std::string>{"child read " + long_text, "helper", "body"}));
}

task<> cleanup_reads_body_local(const std::string& body_local, std::vector<std::string>& log,
                                ct::lifetimes::token) {
  co_await cohort::finally(ct::nap(1h), [&]() -> task<> {
    co_await cohort::sleep_for(10ms);
    log.push_back("cleanup read " + body_local);
  });
}

// A child's cleanup runs after the cancel, shielded: the body's locals are
// still there for it.
TEST_F(TaskGroup, G3_ChildCleanupAfterTheCancelStillSeesTheBodysLocals) {
  std::vector<std::string> log;
  auto error = run_group([&](task_group& g) -> task<> {
    const std::string local = long_text;
    ct::on_exit probe([&] { log.push_back("body"); });
    g.spawn(cleanup_reads_body_local(local, log, life_.make()));
    g.spawn(cancel_group_after(g, 1s));
    co_await cohort::sleep_for(1h);
  });
  EXPECT_FALSE(error);
  EXPECT_EQ(log, (std::vector<std::string>{"cleanup read " + long_text, "body"}));
  EXPECT_EQ(elapsed(), 1s + 10ms);
}

// --- G9: deep structures are cancelled without recursion ----------------------

task<> chain_of_waits(int depth) {
  if (depth == 0) {
    co_await cohort::sleep_for(1h);
  } else {
    co_await chain_of_waits(depth - 1);
  }
}

TEST_F(TaskGroup, G9_CancellingAChildTwoHundredThousandTasksDeepDoesNotOverflowTheStack) {
#if defined(__SANITIZE_THREAD__)
  // Starting the chain nests one level per task under TSan (see
  // Task.AMillionSynchronousAwaitsDoNotOverflowTheStack).
  GTEST_SKIP() << "symmetric transfer is not a tail call under TSan";
#endif
  auto error = run_group([&](task_group& g) -> task<> {
    g.spawn(chain_of_waits(200'000));
    co_await cohort::sleep_for(1s);
    g.cancel();
  });
  EXPECT_FALSE(error);
  EXPECT_EQ(elapsed(), 1s);
}

task<> nested_groups(int depth) {
  if (depth == 0) {
    co_await cohort::sleep_for(1h);
    co_return;
  }
  co_await cohort::with_task_group([depth](task_group&) { return nested_groups(depth - 1); });
}

TEST_F(TaskGroup, G9_CancellingFiftyThousandNestedGroupsDoesNotOverflowTheStack) {
  loop_.call_after(1s, [&] { loop_.cancel_root(cancel_reason::signal); });
  EXPECT_THROW(loop_.run(nested_groups(50'000)), cohort::cancelled_error);
  EXPECT_EQ(elapsed(), 1s);
}

}  // namespace
