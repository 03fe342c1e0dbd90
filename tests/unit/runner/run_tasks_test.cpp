#include <cohort/runner/run_tasks.hpp>

#include <gtest/gtest.h>
#include <cohort/sleep.hpp>
#include <cohort/task_group.hpp>

#include <chrono>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "lifetime.hpp"
#include "virtual_loop.hpp"

using namespace std::chrono_literals;

namespace {

// What each test item does, by index.
struct script {
  std::function<cohort::task<>(int index, int attempt)> body;
  std::map<int, int> attempts;  // index -> attempts so far
  std::vector<int> start_order;
  int live = 0;
  int peak = 0;
};

struct item {
  int index;
  script* s;
  std::string key_;
  std::string gate_;
  std::string_view key() const { return key_; }
  std::string_view gate() const { return gate_; }
  cohort::task<> run() {
    const int attempt = ++s->attempts[index];
    s->start_order.push_back(index);
    ++s->live;
    s->peak = std::max(s->peak, s->live);
    struct dec {
      int& live;
      ~dec() { --live; }
    } d{s->live};
    co_await s->body(index, attempt);
  }
};

struct counting_source {
  counting_source(int count, script* sc, std::string g = {})
      : n(count), s(sc), gate(std::move(g)) {}
  int n;
  script* s;
  std::string gate;
  int next_ = 0;
  std::optional<item> next() {
    if (next_ >= n) return std::nullopt;
    const int i = next_++;
    return item{i, s, "k" + std::to_string(i), gate};
  }
  std::size_t size() const { return static_cast<std::size_t>(n); }
};

// An in-memory journal (the SQLite one has its own tests).
struct fake_journal final : cohort::runner_journal {
  std::set<std::string, std::less<>> done, failed;
  std::map<std::string, int, std::less<>> attempts;
  int flushes = 0;
  bool is_done(std::string_view k) const noexcept override { return done.find(k) != done.end(); }
  bool is_failed(std::string_view k) const noexcept override {
    return failed.find(k) != failed.end();
  }
  void record_done(std::string_view k, int a) override {
    done.emplace(k);
    failed.erase(std::string(k));
    attempts[std::string(k)] = a;
  }
  void record_failed(std::string_view k, int a, std::vector<std::string>) override {
    failed.emplace(k);
    attempts[std::string(k)] = a;
  }
  bool maybe_flush(cohort::time_point) override { return false; }
  void flush() override { ++flushes; }
};

cohort::task<> sleep_ms(int ms) {
  co_await cohort::sleep_for(std::chrono::milliseconds(ms));
}

TEST(RunTasks, RunsEveryItemAtMostCAtATime) {
  cohort::test::virtual_loop loop;
  script s;
  s.body = [](int, int) { return sleep_ms(10); };
  cohort::task_runner r(counting_source{100, &s}, 7);
  loop.run(r.run());
  EXPECT_EQ(r.summary().done, 100u);
  EXPECT_EQ(s.peak, 7);
  // 100 items of 10 ms, 7 at a time: ceil(100/7) = 15 rounds.
  EXPECT_EQ(loop.now() - cohort::test::virtual_loop::epoch(), 150ms);
}

// A lean item for the million-item test: no per-item bookkeeping.
struct lean_item {
  std::size_t* max_live;
  std::size_t base;
  cohort::task<> run() {
    *max_live = std::max(*max_live, cohort::detail::frame_stats().live() - base);
    co_await cohort::checkpoint();
  }
};
struct lean_source {
  int n;
  std::size_t* max_live;
  std::size_t base;
  int next_ = 0;
  std::optional<lean_item> next() {
    if (next_ >= n) return std::nullopt;
    ++next_;
    return lean_item{max_live, base};
  }
};

TEST(RunTasks, G4_QueuedItemsAreNotMaterialised) {
  // A million queued items: only a few task frames per worker exist at any
  // moment, however many items wait.
  cohort::test::virtual_loop loop;
  std::size_t max_live_frames = 0;
  const auto base = cohort::detail::frame_stats().live();
  cohort::task_runner r(lean_source{1'000'000, &max_live_frames, base}, 8);
  loop.run(r.run());
  EXPECT_EQ(r.summary().done, 1'000'000u);
  // Per worker: the worker and item.run (a first attempt that needs no gate,
  // timeout or retry has no frame of its own); plus the run's own frames.
  EXPECT_LT(max_live_frames, 8u * 2 + 8);
}

TEST(RunTasks, FailedItemKeepsEveryAttemptsError) {
  cohort::test::virtual_loop loop;
  script s;
  s.body = [](int i, int attempt) -> cohort::task<> {
    return [](int i, int attempt) -> cohort::task<> {
      co_await cohort::sleep_for(1ms);
      if (i == 3) throw std::runtime_error("attempt " + std::to_string(attempt));
    }(i, attempt);
  };
  cohort::runner_options o;
  o.retry.max_attempts = 3;
  cohort::task_runner r(counting_source{5, &s}, 2, o);
  loop.run(r.run());
  const auto& sum = r.summary();
  EXPECT_EQ(sum.done, 4u);
  EXPECT_EQ(sum.failed, 1u);
  ASSERT_EQ(sum.failures.size(), 1u);
  EXPECT_EQ(sum.failures[0].key, "k3");
  ASSERT_EQ(sum.failures[0].errors.size(), 3u);
  EXPECT_EQ(cohort::detail::describe_error(sum.failures[0].errors[2]), "attempt 3");
  EXPECT_EQ(s.attempts[3], 3);
  EXPECT_EQ(r.progress().retries, 2u);
}

TEST(RunTasks, RetrySucceedsAfterBackoffOnVirtualTime) {
  cohort::test::virtual_loop loop;
  script s;
  s.body = [](int, int attempt) -> cohort::task<> {
    return [](int attempt) -> cohort::task<> {
      if (attempt < 3) throw std::runtime_error("flaky");
      co_return;
    }(attempt);
  };
  cohort::runner_options o;
  o.retry.max_attempts = 5;
  o.retry.initial = 100ms;
  o.retry.jitter = 0;  // exact: 100 ms, then 200 ms
  cohort::task_runner r(counting_source{1, &s}, 1, o);
  loop.run(r.run());
  EXPECT_EQ(r.summary().done, 1u);
  EXPECT_EQ(loop.now() - cohort::test::virtual_loop::epoch(), 300ms);
}

TEST(RunTasks, BackoffIsCappedAndJittered) {
  cohort::retry_policy p;
  p.initial = 100ms;
  p.max_delay = 1s;
  p.jitter = 0.5;
  EXPECT_EQ(p.delay(1, 0.0), 100ms);
  EXPECT_EQ(p.delay(2, 0.0), 200ms);
  EXPECT_EQ(p.delay(10, 0.0), 1s);                                  // capped
  EXPECT_LE(std::chrono::abs(p.delay(10, 0.999999) - 500ms), 1us);  // within [cap/2, cap]
  cohort::detail::jitter_rng rng(1);
  for (int i = 0; i < 1000; ++i) {
    const auto d = p.delay(3, rng.next_unit());
    EXPECT_GT(d, 200ms);
    EXPECT_LE(d, 400ms);
  }
}

TEST(RunTasks, PerAttemptTimeout) {
  cohort::test::virtual_loop loop;
  script s;
  s.body = [](int i, int) { return sleep_ms(i == 0 ? 5000 : 10); };
  cohort::runner_options o;
  o.timeout = 1s;
  cohort::task_runner r(counting_source{3, &s}, 3, o);
  loop.run(r.run());
  EXPECT_EQ(r.summary().done, 2u);
  EXPECT_EQ(r.summary().failed, 1u);
  EXPECT_THROW(std::rethrow_exception(r.summary().failures[0].errors[0]), cohort::timeout_error);
  EXPECT_EQ(loop.now() - cohort::test::virtual_loop::epoch(), 1s);
}

TEST(RunTasks, RetryAfterPausesEveryTaskOnTheSameGate) {
  // Item 0 is told "retry after 5 s" on gate "host"; the others on the same
  // gate do not start an attempt before that moment.
  cohort::test::virtual_loop loop;
  script s;
  std::vector<cohort::time_point> attempt_times;
  s.body = [&](int i, int attempt) -> cohort::task<> {
    return [](int i, int attempt, std::vector<cohort::time_point>& times) -> cohort::task<> {
      auto& loop = co_await cohort::this_scheduler();
      times.push_back(loop.now());
      if (i == 0 && attempt == 1) throw cohort::retry_after("host", 5s, "429");
      co_await cohort::sleep_for(1ms);
    }(i, attempt, attempt_times);
  };
  cohort::runner_options o;
  o.retry.max_attempts = 2;
  o.retry.initial = 1ms;
  cohort::task_runner r(counting_source{4, &s, "host"}, 1, o);
  loop.run(r.run());
  EXPECT_EQ(r.summary().done, 4u);
  ASSERT_EQ(attempt_times.size(), 5u);
  const auto t0 = cohort::test::virtual_loop::epoch();
  for (std::size_t i = 1; i < attempt_times.size(); ++i) EXPECT_GE(attempt_times[i] - t0, 5s);
}

TEST(RunTasks, HaltNowOnFirstFailureCancelsRunning) {
  cohort::test::virtual_loop loop;
  script s;
  s.body = [](int i, int) -> cohort::task<> {
    return [](int i) -> cohort::task<> {
      co_await cohort::sleep_for(std::chrono::milliseconds(i == 2 ? 5 : 1000));
      if (i == 2) throw std::runtime_error("boom");
    }(i);
  };
  cohort::runner_options o;
  o.halt = {cohort::halt_policy::when::now, cohort::halt_policy::on::fail, 1, 0};
  cohort::task_runner r(counting_source{100, &s}, 4, o);
  loop.run(r.run());
  const auto& sum = r.summary();
  EXPECT_TRUE(sum.halted);
  EXPECT_EQ(sum.failed, 1u);
  EXPECT_EQ(sum.cancelled, 3u);
  EXPECT_EQ(sum.done, 0u);
  EXPECT_EQ(sum.not_started, 96u);
  ASSERT_TRUE(sum.cause.has_value());
  EXPECT_EQ(sum.failures[*sum.cause].key, "k2");
  EXPECT_EQ(sum.reason, cohort::cancel_reason::sibling_failed);
  EXPECT_EQ(loop.now() - cohort::test::virtual_loop::epoch(), 5ms);
}

TEST(RunTasks, HaltSoonLetsRunningFinish) {
  cohort::test::virtual_loop loop;
  script s;
  s.body = [](int i, int) -> cohort::task<> {
    return [](int i) -> cohort::task<> {
      co_await cohort::sleep_for(std::chrono::milliseconds(i == 2 ? 5 : 1000));
      if (i == 2) throw std::runtime_error("boom");
    }(i);
  };
  cohort::runner_options o;
  o.halt = {cohort::halt_policy::when::soon, cohort::halt_policy::on::fail, 1, 0};
  cohort::task_runner r(counting_source{100, &s}, 4, o);
  loop.run(r.run());
  const auto& sum = r.summary();
  EXPECT_TRUE(sum.halted);
  EXPECT_EQ(sum.failed, 1u);
  EXPECT_EQ(sum.done, 3u);
  EXPECT_EQ(sum.cancelled, 0u);
  EXPECT_EQ(sum.not_started, 96u);
}

TEST(RunTasks, HaltAfterNFailuresAndAfterAPercentage) {
  for (auto [count, percent, expect_failed] :
       {std::tuple{3u, 0.0, 3u}, std::tuple{1u, 10.0, 10u}}) {
    cohort::test::virtual_loop loop;
    script s;
    s.body = [](int i, int) -> cohort::task<> {
      return [](int i) -> cohort::task<> {
        co_await cohort::sleep_for(1ms);
        if (i % 2 == 0) throw std::runtime_error("even");
      }(i);
    };
    cohort::runner_options o;
    o.halt = {cohort::halt_policy::when::soon, cohort::halt_policy::on::fail, count, percent};
    cohort::task_runner r(counting_source{100, &s}, 1, o);
    loop.run(r.run());
    EXPECT_TRUE(r.summary().halted);
    EXPECT_EQ(r.summary().failed, expect_failed) << "count " << count << " percent " << percent;
  }
}

TEST(RunTasks, HaltOnSuccessAndOnDone) {
  cohort::test::virtual_loop loop;
  script s;
  s.body = [](int, int) { return sleep_ms(1); };
  cohort::runner_options o;
  o.halt = {cohort::halt_policy::when::now, cohort::halt_policy::on::success, 5, 0};
  cohort::task_runner r(counting_source{100, &s}, 1, o);
  loop.run(r.run());
  EXPECT_EQ(r.summary().done, 5u);
  EXPECT_EQ(r.summary().reason, cohort::cancel_reason::requested);

  script s2;
  s2.body = [](int i, int) -> cohort::task<> {
    return [](int i) -> cohort::task<> {
      co_await cohort::sleep_for(1ms);
      if (i == 0) throw std::runtime_error("x");
    }(i);
  };
  o.halt = {cohort::halt_policy::when::soon, cohort::halt_policy::on::done, 4, 0};
  cohort::task_runner r2(counting_source{100, &s2}, 1, o);
  loop.run(r2.run());
  EXPECT_EQ(r2.summary().done + r2.summary().failed, 4u);
}

TEST(RunTasks, G4_InterruptStopsAdmissionAndCountsEveryOutcome) {
  cohort::test::virtual_loop loop;
  script s;
  s.body = [](int i, int) { return sleep_ms(i < 10 ? 1 : 10000); };
  fake_journal j;
  cohort::runner_options o;
  o.journal = &j;
  cohort::task_runner r(counting_source{1000, &s}, 10, o);
  loop.call_after(50ms, [&] { loop.cancel_root(cohort::cancel_reason::signal); });
  EXPECT_THROW(loop.run(r.run()), cohort::cancelled_error);
  const auto& sum = r.summary();
  EXPECT_EQ(sum.done, 10u);
  EXPECT_EQ(sum.cancelled, 10u);
  EXPECT_EQ(sum.not_started, 980u);
  EXPECT_EQ(sum.reason, cohort::cancel_reason::signal);
  EXPECT_EQ(s.start_order.size(), 20u) << "nothing was admitted after the signal";
  // Only finished tasks are journaled; the cancelled and never-started stay pending.
  EXPECT_EQ(j.done.size(), 10u);
  EXPECT_GE(j.flushes, 1);

  // Resume: exactly the 990 unfinished items run; the 10 done are skipped.
  script s2;
  s2.body = [](int, int) { return sleep_ms(1); };
  cohort::task_runner r2(counting_source{1000, &s2}, 10, o);
  loop.run(r2.run());
  EXPECT_EQ(r2.summary().skipped, 10u);
  EXPECT_EQ(r2.summary().done, 990u);
  EXPECT_EQ(s2.start_order.size(), 990u);
  EXPECT_EQ(j.done.size(), 1000u);
}

TEST(RunTasks, FailedItemsAreSkippedOnResumeUnlessRerunRequested) {
  cohort::test::virtual_loop loop;
  fake_journal j;
  j.failed = {"k1", "k2"};
  j.done = {"k0"};
  for (bool rerun : {false, true}) {
    script s;
    s.body = [](int, int) { return sleep_ms(1); };
    cohort::runner_options o;
    o.journal = &j;
    o.rerun_failed = rerun;
    cohort::task_runner r(counting_source{4, &s}, 2, o);
    loop.run(r.run());
    // First run: k0 (done) and k1, k2 (failed) skipped, k3 runs. Second run
    // with rerun: k0 and k3 (done by now) skipped, k1 and k2 run again.
    EXPECT_EQ(r.summary().skipped, rerun ? 2u : 3u);
    EXPECT_EQ(r.summary().done, rerun ? 2u : 1u);
  }
  EXPECT_TRUE(j.failed.empty()) << "a failed key that later succeeds is done";
}

TEST(RunTasks, DrainStopsAdmissionAndLetsRunningFinish) {
  cohort::test::virtual_loop loop;
  script s;
  s.body = [](int, int) { return sleep_ms(100); };
  cohort::event drain;
  cohort::runner_options o;
  o.drain = &drain;
  cohort::task_runner r(counting_source{50, &s}, 5, o);
  loop.call_after(150ms, [&] { drain.set(); });
  loop.run(r.run());
  EXPECT_TRUE(r.summary().drained);
  EXPECT_EQ(r.summary().done, 10u);
  EXPECT_EQ(r.summary().cancelled, 0u);
  EXPECT_EQ(r.summary().not_started, 40u);
}

TEST(RunTasks, EventsReportEveryTransition) {
  cohort::test::virtual_loop loop;
  script s;
  s.body = [](int i, int attempt) -> cohort::task<> {
    return [](int i, int attempt) -> cohort::task<> {
      co_await cohort::sleep_for(1ms);
      if (i == 1 && attempt == 1) throw std::runtime_error("once");
    }(i, attempt);
  };
  std::map<cohort::task_event::kind, int> seen;
  cohort::runner_options o;
  o.retry.max_attempts = 2;
  o.on_event = [&](const cohort::task_event& e) { ++seen[e.what]; };
  cohort::task_runner r(counting_source{3, &s}, 3, o);
  loop.run(r.run());
  EXPECT_EQ(seen[cohort::task_event::kind::started], 3);
  EXPECT_EQ(seen[cohort::task_event::kind::done], 3);
  EXPECT_EQ(seen[cohort::task_event::kind::retrying], 1);
  EXPECT_EQ(seen[cohort::task_event::kind::failed], 0);
}

TEST(RunTasks, G9_NoFramesLeakAfterAnInterruptedRun) {
  cohort::test::frame_leak_check leaks;
  {
    cohort::test::virtual_loop loop;
    script s;
    s.body = [](int, int) { return sleep_ms(1000); };
    cohort::task_runner r(counting_source{100, &s}, 10);
    loop.call_after(10ms, [&] { loop.cancel_root(cohort::cancel_reason::signal); });
    EXPECT_THROW(loop.run(r.run()), cohort::cancelled_error);
    EXPECT_EQ(r.summary().cancelled, 10u);
  }
  EXPECT_EQ(leaks.leaked(), 0);
}

TEST(RunTasks, TimeoutBoundsEachAttemptAndTimedOutAttemptsAreRetried) {
  cohort::test::virtual_loop loop;
  script s;
  // The first two attempts hang; the third finishes in 10 ms.
  s.body = [](int, int attempt) { return sleep_ms(attempt < 3 ? 60000 : 10); };
  cohort::runner_options o;
  o.timeout = 1s;
  o.retry.max_attempts = 3;
  o.retry.initial = 100ms;
  o.retry.jitter = 0;
  cohort::task_runner r(counting_source{1, &s}, 1, o);
  loop.run(r.run());
  EXPECT_EQ(r.summary().done, 1u);
  EXPECT_EQ(s.attempts[0], 3);
  // 1 s + 100 ms + 1 s + 200 ms + 10 ms.
  EXPECT_EQ(loop.now() - cohort::test::virtual_loop::epoch(), 2310ms);
}

TEST(RunTasks, RetryAfterPausesOnlyItsOwnGate) {
  cohort::test::virtual_loop loop;
  std::map<std::string, std::vector<cohort::time_point>> starts;
  struct gated_item {
    std::string key_, gate_;
    std::map<std::string, std::vector<cohort::time_point>>* starts;
    std::string_view key() const { return key_; }
    std::string_view gate() const { return gate_; }
    cohort::task<> run() {
      auto& times = (*starts)[key_];
      times.push_back((co_await cohort::this_scheduler()).now());
      if (key_ == "a0" && times.size() == 1) throw cohort::retry_after("a", 10s, "429");
      co_await cohort::sleep_for(1ms);
    }
  };
  struct gated_source {
    std::map<std::string, std::vector<cohort::time_point>>* starts;
    int next_ = 0;
    std::optional<gated_item> next() {
      if (next_ >= 4) return std::nullopt;
      const int i = next_++;
      // a0, b1, a2, b3
      const std::string gate = i % 2 == 0 ? "a" : "b";
      return gated_item{gate + std::to_string(i), gate, starts};
    }
  };
  cohort::runner_options o;
  o.retry.max_attempts = 2;
  o.retry.initial = 1ms;
  o.retry.jitter = 0;
  cohort::task_runner r(gated_source{&starts}, 1, o);
  loop.run(r.run());
  EXPECT_EQ(r.summary().done, 4u);
  const auto t0 = cohort::test::virtual_loop::epoch();
  ASSERT_EQ(starts["a0"].size(), 2u);
  EXPECT_EQ(starts["a0"][1] - t0, 10s) << "the retry waited for its gate";
  EXPECT_EQ(starts["b1"].at(0) - t0, 10s + 1ms) << "one worker: b1 comes after a0";
  EXPECT_EQ(starts["a2"].at(0) - t0, 10s + 2ms);
  // With three workers, a2 waits for gate "a" in its slot while the items
  // of gate "b" go on in the others.
  starts.clear();
  const auto begin = loop.now();
  cohort::task_runner r2(gated_source{&starts}, 3, o);
  loop.run(r2.run());
  EXPECT_EQ(starts["b1"].at(0) - begin, 0ms);
  EXPECT_EQ(starts["b3"].at(0) - begin, 1ms) << "gate b is open while a is closed";
  EXPECT_GE(starts["a2"].at(0) - begin, 10s) << "a2 waits for gate a";
}

TEST(RunTasks, CancelDuringBackoffCountsTheItemCancelledNotFailed) {
  cohort::test::virtual_loop loop;
  script s;
  s.body = [](int, int) -> cohort::task<> {
    return []() -> cohort::task<> {
      co_await cohort::sleep_for(1ms);
      throw std::runtime_error("flaky");
    }();
  };
  fake_journal j;
  cohort::runner_options o;
  o.journal = &j;
  o.retry.max_attempts = 5;
  o.retry.initial = 1s;
  cohort::task_runner r(counting_source{3, &s}, 3, o);
  loop.call_after(100ms, [&] { loop.cancel_root(cohort::cancel_reason::signal); });
  EXPECT_THROW(loop.run(r.run()), cohort::cancelled_error);
  EXPECT_EQ(r.summary().cancelled, 3u);
  EXPECT_EQ(r.summary().failed, 0u);
  EXPECT_EQ(r.progress().retries, 3u);
  EXPECT_EQ(r.progress().running, 0u);
  EXPECT_TRUE(j.failed.empty() && j.done.empty()) << "a cancelled item stays pending";
}

TEST(RunTasks, HaltSoonStartsNoNewAttemptOfRunningItems) {
  cohort::test::virtual_loop loop;
  script s;
  // Item 0 fails at 1 ms and again at 12 ms, which halts the run. Item 1
  // fails at 5 ms and is waiting out its backoff (until 15 ms) at the halt:
  // it gets no second attempt.
  s.body = [](int i, int) -> cohort::task<> {
    return [](int i) -> cohort::task<> {
      co_await cohort::sleep_for(i == 0 ? 1ms : 5ms);
      throw std::runtime_error("x");
    }(i);
  };
  cohort::runner_options o;
  o.retry.max_attempts = 2;
  o.retry.initial = 10ms;
  o.retry.jitter = 0;
  o.halt = {cohort::halt_policy::when::soon, cohort::halt_policy::on::fail, 1, 0};
  cohort::task_runner r(counting_source{10, &s}, 2, o);
  loop.run(r.run());
  EXPECT_EQ(s.attempts[0], 2);
  EXPECT_EQ(s.attempts[1], 1) << "no new attempt after the halt";
  EXPECT_EQ(r.summary().failed, 2u);
  EXPECT_EQ(r.summary().not_started, 8u);
  EXPECT_EQ(loop.now() - cohort::test::virtual_loop::epoch(), 15ms);
}

// A source that cannot say its size.
struct unsized_source {
  int n;
  script* s;
  int next_ = 0;
  std::optional<item> next() {
    if (next_ >= n) return std::nullopt;
    const int i = next_++;
    return item{i, s, "k" + std::to_string(i), {}};
  }
};

TEST(RunTasks, HaltPercentOfFinishedWhenTheTotalIsUnknown) {
  cohort::test::virtual_loop loop;
  script s;
  // Items 0-9 succeed, then every item fails: 20% of finished is reached at
  // the third failure (3 of 13 is 23%; 2 of 12 is 17%).
  s.body = [](int i, int) -> cohort::task<> {
    return [](int i) -> cohort::task<> {
      co_await cohort::sleep_for(1ms);
      if (i >= 10) throw std::runtime_error("late");
    }(i);
  };
  cohort::runner_options o;
  o.halt = {cohort::halt_policy::when::soon, cohort::halt_policy::on::fail, 1, 20.0};
  cohort::task_runner r(unsized_source{100, &s}, 1, o);
  loop.run(r.run());
  EXPECT_TRUE(r.summary().halted);
  EXPECT_EQ(r.summary().done, 10u);
  EXPECT_EQ(r.summary().failed, 3u);
  EXPECT_FALSE(r.progress().total.has_value());
  EXPECT_EQ(r.summary().not_started, 87u) << "counted by draining the source";
}

TEST(RunTasks, FailuresOfKeylessItemsAreNamedByTheirPlaceInTheSource) {
  cohort::test::virtual_loop loop;
  struct keyless {
    int i;
    cohort::task<> run() {
      co_await cohort::checkpoint();
      if (i == 4) throw std::runtime_error("four");
    }
  };
  struct keyless_source {
    int next_ = 0;
    std::optional<keyless> next() {
      if (next_ >= 6) return std::nullopt;
      return keyless{next_++};
    }
  };
  cohort::task_runner r(keyless_source{}, 2);
  loop.run(r.run());
  ASSERT_EQ(r.summary().failures.size(), 1u);
  EXPECT_EQ(r.summary().failures[0].key, "5") << "the fifth item admitted (counting from 1)";
}

// A journal whose commits fail, as on a full disk.
struct failing_journal final : cohort::runner_journal {
  bool is_done(std::string_view) const noexcept override { return false; }
  bool is_failed(std::string_view) const noexcept override { return false; }
  void record_done(std::string_view, int) override {
    if (++records == 5) throw std::runtime_error("disk full");
  }
  void record_failed(std::string_view, int, std::vector<std::string>) override {}
  bool maybe_flush(cohort::time_point) override { return false; }
  void flush() override { ++flushes; }
  int records = 0;
  int flushes = 0;
};

TEST(RunTasks, AJournalErrorEndsTheRunWithThatError) {
  cohort::test::virtual_loop loop;
  script s;
  s.body = [](int, int) { return sleep_ms(1); };
  failing_journal j;
  cohort::runner_options o;
  o.journal = &j;
  cohort::task_runner r(counting_source{100, &s}, 2, o);
  try {
    loop.run(r.run());
    ADD_FAILURE() << "the run ignored the journal's error";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "disk full");
  }
  EXPECT_LT(s.start_order.size(), 10u) << "the run stopped admitting";
  EXPECT_GE(j.flushes, 1) << "and still tried to commit what it had";
}

// Items that finish without ever waiting (a cache hit, a skip decided in
// run()): the runner must still return to the loop now and then.
struct instant_item {
  long* runs;
  cohort::task<> run() {
    ++*runs;
    co_return;
  }
};

struct instant_source {
  long n;
  long* runs;
  long next_ = 0;
  std::optional<instant_item> next() {
    if (next_ >= n) return std::nullopt;
    ++next_;
    return instant_item{runs};
  }
  std::size_t size() const { return static_cast<std::size_t>(n); }
};

TEST(RunTasks, G4_ACancelReachesARunOfSynchronousItemsWithinABoundedNumberOfItems) {
  // Hole 4(b) of issue 11: a worker whose items complete synchronously never
  // returned to the loop, so a cancel requested by another task (a signal
  // handler, a deadline) waited until every item had run.
  cohort::test::virtual_loop loop;
  long runs = 0;
  constexpr long total = 1'000'000;
  cohort::task_runner r(instant_source{total, &runs}, 4);
  EXPECT_THROW(loop.run([](cohort::test::virtual_loop& loop, auto& r) -> cohort::task<> {
    co_await cohort::with_task_group([&](cohort::task_group& g) -> cohort::task<> {
      g.spawn(r.run());
      g.spawn([](cohort::test::virtual_loop& loop) -> cohort::task<> {
        co_await cohort::checkpoint();  // the workers have started by now
        loop.cancel_root(cohort::cancel_reason::signal);
      }(loop));
      co_return;
    });
  }(loop, r)),
               cohort::cancelled_error);
  // Each of the 4 workers yields at least every runner_yield_every items.
  EXPECT_LE(runs, 4 * 2 * static_cast<long>(cohort::detail::runner_yield_every));
  const auto& sum = r.summary();
  EXPECT_EQ(sum.reason, cohort::cancel_reason::signal);
  EXPECT_EQ(sum.done, static_cast<std::size_t>(runs));
  EXPECT_EQ(sum.done + sum.not_started, static_cast<std::size_t>(total));
}

TEST(RunTasks, AMillionSynchronousItemsDoNotOverflowTheStack) {
#if defined(__SANITIZE_THREAD__)
  // As Task.AMillionSynchronousAwaitsDoNotOverflowTheStack: TSan wraps every
  // function in entry/exit hooks, so the resume of the next coroutine can
  // never be a tail call and each synchronous await nests one level deeper
  // (docs/guide.md, Pitfalls). The Debug ASan+UBSan tree and the normal tree
  // run this test.
  GTEST_SKIP() << "symmetric transfer is not a tail call under TSan";
#endif
  // Hole 5(c) of issue 11: in Debug and ASan builds the worker nested one
  // stack level per synchronous item and overflowed between 30k and 100k.
  cohort::test::virtual_loop loop;
  long runs = 0;
  for (const std::size_t workers : {std::size_t{1}, std::size_t{3}}) {
    runs = 0;
    const auto sum = loop.run(cohort::run_tasks(instant_source{1'000'000, &runs}, workers));
    EXPECT_EQ(sum.done, 1'000'000u) << workers << " workers";
    EXPECT_EQ(runs, 1'000'000) << workers << " workers";
  }
}

}  // namespace

namespace {

// An item that learns its own outcome (the typed hand-back).
struct outcome_log {
  struct entry {
    int index;
    cohort::task_outcome outcome;
    int attempts;
    std::vector<std::string> errors;
    int value;  // what the task left in the item
  };
  std::vector<entry> ended;
};

struct reporting_item {
  int index;
  outcome_log* log;
  std::function<cohort::task<>(int index, int attempt, int& value)> body;
  int attempt = 0;
  int value = 0;
  cohort::task<> run() { return body(index, ++attempt, value); }
  void ended(const cohort::item_result& r) {
    std::vector<std::string> texts;
    for (const auto& e : r.errors) texts.push_back(cohort::detail::describe_error(e));
    log->ended.push_back({index, r.outcome, r.attempts, std::move(texts), value});
  }
};

struct reporting_source {
  int n;
  outcome_log* log;
  std::function<cohort::task<>(int, int, int&)> body;
  int next_ = 0;
  std::optional<reporting_item> next() {
    if (next_ >= n) return std::nullopt;
    return reporting_item{next_++, log, body};
  }
  std::size_t size() const { return static_cast<std::size_t>(n); }
};

}  // namespace

TEST(RunTasks, EachItemIsHandedItsOwnOutcomeWithWhatItsTaskLeftInIt) {
  cohort::test::virtual_loop loop;
  outcome_log log;
  auto body = [](int i, int attempt, int& value) -> cohort::task<> {
    co_await cohort::sleep_for(1ms);
    value = i * 10 + attempt;
    if (i == 1 || (i == 2 && attempt == 1)) throw std::runtime_error("no " + std::to_string(i));
  };
  cohort::runner_options o;
  o.retry.max_attempts = 2;
  o.retry.initial = 1ms;
  cohort::task_runner r(reporting_source{3, &log, body}, 3, o);
  loop.run(r.run());
  ASSERT_EQ(log.ended.size(), 3u);
  std::map<int, outcome_log::entry> by_index;
  for (auto& e : log.ended) by_index.emplace(e.index, e);
  EXPECT_EQ(by_index.at(0).outcome, cohort::task_outcome::done);
  EXPECT_EQ(by_index.at(0).attempts, 1);
  EXPECT_EQ(by_index.at(0).value, 1);
  EXPECT_TRUE(by_index.at(0).errors.empty());
  EXPECT_EQ(by_index.at(1).outcome, cohort::task_outcome::failed);
  EXPECT_EQ(by_index.at(1).attempts, 2);
  EXPECT_EQ(by_index.at(1).errors, (std::vector<std::string>{"no 1", "no 1"}));
  EXPECT_EQ(by_index.at(1).value, 12);
  EXPECT_EQ(by_index.at(2).outcome, cohort::task_outcome::done);
  EXPECT_EQ(by_index.at(2).attempts, 2);
  EXPECT_EQ(by_index.at(2).value, 22);
}

TEST(RunTasks, AnItemCancelledWhileRunningIsHandedCancelledWithItsAttempts) {
  cohort::test::virtual_loop loop;
  outcome_log log;
  auto body = [](int i, int attempt, int& value) -> cohort::task<> {
    value = attempt;
    co_await cohort::sleep_for(i == 0 ? 1ms : 1h);
    if (i == 0) throw std::runtime_error("flaky");
  };
  cohort::runner_options o;
  o.retry.max_attempts = 5;
  o.retry.initial = 1ms;
  o.retry.jitter = 0;
  cohort::task_runner r(reporting_source{4, &log, body}, 2, o);
  // Item 0 fails at 1 ms, retries at 2 ms (attempt 2), fails at 3 ms, then
  // waits 2 ms and starts attempt 3 at 5 ms: the cancel at 5.5 ms finds it
  // running its third attempt; item 1 sleeps in its first.
  loop.call_after(5500us, [&] { loop.cancel_root(cohort::cancel_reason::signal); });
  EXPECT_THROW(loop.run(r.run()), cohort::cancelled_error);
  ASSERT_EQ(log.ended.size(), 2u) << "items never started are not handed anything";
  std::map<int, outcome_log::entry> by_index;
  for (auto& e : log.ended) by_index.emplace(e.index, e);
  EXPECT_EQ(by_index.at(0).outcome, cohort::task_outcome::cancelled);
  EXPECT_EQ(by_index.at(0).attempts, 3);
  EXPECT_EQ(by_index.at(0).value, 3);
  EXPECT_EQ(by_index.at(1).outcome, cohort::task_outcome::cancelled);
  EXPECT_EQ(by_index.at(1).attempts, 1);
  EXPECT_EQ(r.summary().cancelled, 2u);
  EXPECT_EQ(r.summary().not_started, 2u);
}

TEST(RunTasks, APermanentErrorFailsTheItemAtOnceWithoutRetries) {
  cohort::test::virtual_loop loop;
  outcome_log log;
  auto body = [](int i, int, int&) -> cohort::task<> {
    co_await cohort::sleep_for(1ms);
    if (i == 0) throw cohort::permanent_error("HTTP 403");
    if (i == 1) throw std::runtime_error("flaky");
  };
  cohort::runner_options o;
  o.retry.max_attempts = 4;
  o.retry.initial = 10ms;
  cohort::task_runner r(reporting_source{2, &log, body}, 2, o);
  loop.run(r.run());
  std::map<int, outcome_log::entry> by_index;
  for (auto& e : log.ended) by_index.emplace(e.index, e);
  EXPECT_EQ(by_index.at(0).outcome, cohort::task_outcome::failed);
  EXPECT_EQ(by_index.at(0).attempts, 1) << "not retried";
  EXPECT_EQ(by_index.at(0).errors, std::vector<std::string>{"HTTP 403"});
  EXPECT_EQ(by_index.at(1).attempts, 4) << "an ordinary error is retried";
  EXPECT_EQ(r.summary().failed, 2u);
  EXPECT_EQ(r.progress().retries, 3u);
}

TEST(RunTasks, ARetryAfterOfDurationMaxClosesTheGateUntilTheRunEnds) {
  // duration::max() is "no limit": the gate stays closed (until the run is
  // cancelled), not a sum overflowed into a moment already passed.
  cohort::test::virtual_loop loop;
  script s;
  s.body = [](int i, int attempt) -> cohort::task<> {
    return [](int i, int attempt) -> cohort::task<> {
      if (i == 0 && attempt == 1) throw cohort::retry_after("host", cohort::duration::max(), "429");
      co_await cohort::sleep_for(1ms);
    }(i, attempt);
  };
  cohort::runner_options o;
  o.retry.max_attempts = 2;
  o.retry.initial = 1ms;
  cohort::task_runner r(counting_source{2, &s, "host"}, 1, o);
  loop.call_after(1h, [&] { loop.cancel_root(cohort::cancel_reason::signal); });
  EXPECT_THROW(loop.run(r.run()), cohort::cancelled_error);
  EXPECT_EQ(s.attempts[0], 1) << "retried through a gate that should be closed";
  EXPECT_EQ(s.attempts.count(1), 0u) << "item 1 is on the same gate";
}
