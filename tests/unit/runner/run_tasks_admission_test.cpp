// task_runner with runner_options::admission: no item starts until the wait
// for the machine (cohort run's --load, --memfree) lets it.

#include <cohort/runner/run_tasks.hpp>

#include <gtest/gtest.h>
#include <cohort/event.hpp>
#include <cohort/sleep.hpp>

#include <chrono>
#include <map>
#include <optional>
#include <stdexcept>
#include <vector>

#include "virtual_loop.hpp"

using namespace std::chrono_literals;

namespace {

cohort::duration since_epoch(cohort::test::virtual_loop& loop) {
  return loop.now() - cohort::test::virtual_loop::epoch();
}

// Items that take 10 ms and note when they started; item `fail` fails.
struct probe {
  cohort::test::virtual_loop* loop;
  std::vector<cohort::duration> started;
  int fail = -1;
};

struct noted_item {
  probe* p;
  int index;
  cohort::task<> run() {
    p->started.push_back(since_epoch(*p->loop));
    co_await cohort::sleep_for(10ms);
    if (index == p->fail) throw std::runtime_error("fails");
  }
};

struct counted_source {
  probe* p;
  int n;
  int at = 0;
  std::optional<noted_item> next() {
    if (at == n) return std::nullopt;
    return noted_item{p, at++};
  }
  std::size_t size() const { return static_cast<std::size_t>(n); }
};

// The machine: "busy" until a moment, polled every 100 ms as cohort run does.
struct machine {
  cohort::test::virtual_loop* loop;
  cohort::duration busy_until{};
  int polls = 0;
  cohort::task<> wait() {
    for (;;) {
      ++polls;
      if (since_epoch(*loop) >= busy_until) co_return;
      co_await cohort::sleep_for(100ms);
    }
  }
};

TEST(RunTasksAdmission, NoItemStartsUntilTheAdmissionWaitLetsIt) {
  cohort::test::virtual_loop loop;
  probe p{&loop, {}, -1};
  machine m{&loop, 250ms};
  cohort::runner_options o;
  o.admission = [&m] { return m.wait(); };
  cohort::task_runner r(counted_source{&p, 3}, 2, o);
  loop.run(r.run());
  EXPECT_EQ(r.summary().done, 3u);
  // Both workers waited until 300 ms (the poll after 250 ms); the third item
  // was admitted when a slot freed, at once (the machine is free by then).
  EXPECT_EQ(p.started, (std::vector<cohort::duration>{300ms, 300ms, 310ms}));
}

TEST(RunTasksAdmission, EachAdmissionWaitsAgainSoABusyMachineHoldsTheNextItem) {
  cohort::test::virtual_loop loop;
  probe p{&loop, {}, -1};
  // Free at first, busy from 5 ms to 505 ms: the second item waits.
  bool busy = false;
  loop.call_after(5ms, [&] { busy = true; });
  loop.call_after(505ms, [&] { busy = false; });
  cohort::runner_options o;
  o.admission = [&]() -> cohort::task<> {
    while (busy) co_await cohort::sleep_for(100ms);
  };
  cohort::task_runner r(counted_source{&p, 2}, 1, o);
  loop.run(r.run());
  EXPECT_EQ(p.started, (std::vector<cohort::duration>{0ms, 510ms}));
}

TEST(RunTasksAdmission, CancellingTheRunEndsTheWaitAndNothingStarts) {
  cohort::test::virtual_loop loop;
  probe p{&loop, {}, -1};
  machine m{&loop, 1h};
  cohort::runner_options o;
  o.admission = [&m] { return m.wait(); };
  cohort::task_runner r(counted_source{&p, 3}, 2, o);
  loop.call_after(450ms, [&] { loop.cancel_root(cohort::cancel_reason::signal); });
  EXPECT_THROW(loop.run(r.run()), cohort::cancelled_error);
  EXPECT_EQ(since_epoch(loop), 450ms);
  EXPECT_TRUE(p.started.empty());
  EXPECT_EQ(r.summary().not_started, 3u);
  EXPECT_EQ(r.summary().cancelled, 0u);
}

TEST(RunTasksAdmission, AnItemHeldByTheWaitOfACancelledRunCountsAsNotStartedInASourceWithoutSize) {
  // No size(): the summary drains the rest of the source, and adds the items
  // the waiting workers had taken from it.
  struct unsized_source {
    counted_source s;
    std::optional<noted_item> next() { return s.next(); }
  };
  cohort::test::virtual_loop loop;
  probe p{&loop, {}, -1};
  machine m{&loop, 1h};
  cohort::runner_options o;
  o.admission = [&m] { return m.wait(); };
  cohort::task_runner r(unsized_source{counted_source{&p, 5}}, 2, o);
  loop.call_after(50ms, [&] { loop.cancel_root(cohort::cancel_reason::signal); });
  EXPECT_THROW(loop.run(r.run()), cohort::cancelled_error);
  EXPECT_EQ(r.summary().not_started, 5u);
  EXPECT_EQ(r.summary().reason, cohort::cancel_reason::signal);
}

TEST(RunTasksAdmission, ADrainEndsTheWaitAtOnce) {
  cohort::test::virtual_loop loop;
  probe p{&loop, {}, -1};
  machine m{&loop, 1h};
  cohort::event drain;
  cohort::runner_options o;
  o.drain = &drain;
  o.admission = [&m] { return m.wait(); };
  cohort::task_runner r(counted_source{&p, 3}, 2, o);
  loop.call_after(130ms, [&] { drain.set(); });
  loop.run(r.run());
  EXPECT_TRUE(r.summary().drained);
  EXPECT_EQ(since_epoch(loop), 130ms);
  EXPECT_TRUE(p.started.empty());
  EXPECT_EQ(r.summary().not_started, 3u);
}

TEST(RunTasksAdmission, AHaltEndsTheOtherWorkersWaitsAtOnce) {
  // Item 0 is admitted, then the machine is busy; item 0 fails at 10 ms
  // under --halt soon,fail=1: the other worker's wait ends then.
  cohort::test::virtual_loop loop;
  probe p{&loop, {}, 0};
  bool busy = false;
  cohort::runner_options o;
  o.halt.mode = cohort::halt_policy::when::soon;
  o.halt.trigger = cohort::halt_policy::on::fail;
  o.admission = [&]() -> cohort::task<> {
    while (busy) co_await cohort::sleep_for(1h);
    busy = true;  // each admission makes the machine busy
  };
  cohort::task_runner r(counted_source{&p, 3}, 2, o);
  loop.run(r.run());
  EXPECT_TRUE(r.summary().halted);
  EXPECT_EQ(r.summary().failed, 1u);
  EXPECT_EQ(since_epoch(loop), 10ms);
  EXPECT_EQ(p.started.size(), 1u);
}

TEST(RunTasksAdmission, RetriesOfAnAdmittedItemDoNotWaitAgain) {
  cohort::test::virtual_loop loop;
  probe p{&loop, {}, 0};
  int waits = 0;
  cohort::runner_options o;
  o.retry.max_attempts = 3;
  o.retry.initial = 0ms;
  o.retry.max_delay = 0ms;
  o.admission = [&]() -> cohort::task<> {
    ++waits;
    co_return;
  };
  cohort::task_runner r(counted_source{&p, 1}, 1, o);
  loop.run(r.run());
  EXPECT_EQ(p.started.size(), 3u);
  EXPECT_EQ(waits, 1);  // and none at the end of the source
}

}  // namespace
