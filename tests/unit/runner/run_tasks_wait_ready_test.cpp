// task_runner with a source that has wait_ready(): items that arrive over
// time (lines from a pipe) run as soon as they arrive, and earlier items
// finish (and are reported) without waiting for later ones.

#include <cohort/runner/run_tasks.hpp>

#include <gtest/gtest.h>
#include <cohort/event.hpp>
#include <cohort/sleep.hpp>

#include <chrono>
#include <deque>
#include <map>
#include <optional>
#include <stdexcept>

#include "virtual_loop.hpp"

using namespace std::chrono_literals;

namespace {

// Items arrive one by one (push) until the feed closes; each push or close
// sets the current event and starts a new one.
struct feed {
  std::deque<int> queue;
  bool closed = false;
  std::deque<cohort::event> events = std::deque<cohort::event>(1);
  int waits = 0;    // wait_ready() calls that had to wait
  int wakeups = 0;  // waits that ended
  void changed() {
    events.back().set();
    events.emplace_back();  // the set one stays alive for its woken waiters
  }
  void push(int i) {
    queue.push_back(i);
    changed();
  }
  void close() {
    closed = true;
    changed();
  }
};

struct timed_item {
  int index;
  cohort::task<> run() { co_await cohort::sleep_for(10ms); }
  std::string key_ = std::to_string(index);
  std::string_view key() const { return key_; }
};

struct feed_source {
  feed* f;
  std::optional<timed_item> next() {
    // Never blocks: the runner waited for wait_ready() first.
    if (f->queue.empty()) return std::nullopt;
    const int i = f->queue.front();
    f->queue.pop_front();
    return timed_item{i};
  }
  // Completes when next() has an item or the feed closed; every woken
  // waiter checks again (another worker may have taken the item).
  cohort::task<> wait_ready() {
    while (f->queue.empty() && !f->closed) {
      ++f->waits;
      co_await f->events.back().wait();
      ++f->wakeups;
    }
  }
};
static_assert(cohort::detail::has_wait_ready<feed_source>);

TEST(RunTasksWaitReady, ItemsRunAsTheyArriveAndFinishWithoutWaitingForLaterOnes) {
  cohort::test::virtual_loop loop;
  const auto t0 = cohort::test::virtual_loop::epoch();
  feed f;
  f.push(0);
  loop.call_after(1000ms, [&] { f.push(1); });
  loop.call_after(2000ms, [&] {
    f.push(2);
    f.push(3);
  });
  loop.call_after(3000ms, [&] { f.close(); });
  std::map<std::string, cohort::duration> started, done;
  cohort::runner_options o;
  o.on_event = [&](const cohort::task_event& e) {
    if (e.what == cohort::task_event::kind::started) started[std::string(e.key)] = loop.now() - t0;
    if (e.what == cohort::task_event::kind::done) done[std::string(e.key)] = loop.now() - t0;
  };
  cohort::task_runner r(feed_source{&f}, 4, o);
  loop.run(r.run());
  EXPECT_EQ(r.summary().done, 4u);
  // Item 0 is done at 10 ms, not when item 1 arrives; each later item
  // starts the moment it arrives, two at once when two arrive together.
  EXPECT_EQ(done["0"], 10ms);
  EXPECT_EQ(started["1"], 1000ms);
  EXPECT_EQ(done["1"], 1010ms);
  EXPECT_EQ(started["2"], 2000ms);
  EXPECT_EQ(started["3"], 2000ms);
  EXPECT_EQ(done["3"], 2010ms);
  // The run ends when the feed closes, with every worker woken by it.
  EXPECT_EQ(loop.now() - t0, 3000ms);
  EXPECT_GE(f.waits, 4) << "several workers waited at once";
  EXPECT_EQ(f.wakeups, f.waits);
}

TEST(RunTasksWaitReady, CancellingTheRunEndsAWaitForTheSource) {
  cohort::test::virtual_loop loop;
  feed f;
  f.push(0);
  cohort::task_runner r(feed_source{&f}, 3);
  loop.call_after(500ms, [&] { loop.cancel_root(cohort::cancel_reason::signal); });
  EXPECT_THROW(loop.run(r.run()), cohort::cancelled_error);
  EXPECT_EQ(loop.now() - cohort::test::virtual_loop::epoch(), 500ms);
  const auto& sum = r.summary();
  EXPECT_EQ(sum.done, 1u);
  EXPECT_EQ(sum.cancelled, 0u) << "nothing was running, the workers were waiting";
  EXPECT_EQ(f.wakeups, 0);
}

TEST(RunTasksWaitReady, ADrainEndsAWaitForTheSourceAtOnce) {
  cohort::test::virtual_loop loop;
  feed f;
  cohort::event drain;
  cohort::runner_options o;
  o.drain = &drain;
  cohort::task_runner r(feed_source{&f}, 2, o);
  loop.call_after(100ms, [&] { drain.set(); });
  // Nothing comes after the drain: the feed stays open (a pipe whose writer
  // never closes it).
  loop.run(r.run());
  EXPECT_TRUE(r.summary().drained);
  EXPECT_EQ(r.summary().done, 0u);
  EXPECT_EQ(loop.now() - cohort::test::virtual_loop::epoch(), 100ms);
  EXPECT_EQ(f.wakeups, 0) << "the waits were cancelled, not woken";
}

TEST(RunTasksWaitReady, AHaltSoonEndsTheOtherWorkersWaitsAtOnce) {
  // Item 0 fails at 10 ms under --halt soon,fail=1 while the other workers
  // wait for a feed that stays open: the run ends then, not when (if ever)
  // the next item comes.
  struct failing_item {
    int index;
    cohort::task<> run() {
      co_await cohort::sleep_for(10ms);
      throw std::runtime_error("fails");
    }
  };
  struct failing_source {
    feed* f;
    std::optional<failing_item> next() {
      if (f->queue.empty()) return std::nullopt;
      const int i = f->queue.front();
      f->queue.pop_front();
      return failing_item{i};
    }
    cohort::task<> wait_ready() {
      while (f->queue.empty() && !f->closed) co_await f->events.back().wait();
    }
  };
  cohort::test::virtual_loop loop;
  feed f;
  f.push(0);
  cohort::runner_options o;
  o.halt.mode = cohort::halt_policy::when::soon;
  o.halt.trigger = cohort::halt_policy::on::fail;
  cohort::task_runner r(failing_source{&f}, 3, o);
  loop.run(r.run());
  EXPECT_TRUE(r.summary().halted);
  EXPECT_EQ(r.summary().failed, 1u);
  EXPECT_EQ(loop.now() - cohort::test::virtual_loop::epoch(), 10ms);
}

TEST(RunTasksWaitReady, AWaitThatEndsNormallyAfterADrainWasWatchedStillEndsTheRun) {
  // The drain watcher ends with the workers: a run whose source ends
  // without a drain does not wait for one.
  cohort::test::virtual_loop loop;
  feed f;
  cohort::event drain;
  cohort::runner_options o;
  o.drain = &drain;
  cohort::task_runner r(feed_source{&f}, 2, o);
  f.push(0);
  loop.call_after(50ms, [&] { f.close(); });
  loop.run(r.run());
  EXPECT_FALSE(r.summary().drained);
  EXPECT_EQ(r.summary().done, 1u);
  EXPECT_EQ(loop.now() - cohort::test::virtual_loop::epoch(), 50ms);
}

}  // namespace
