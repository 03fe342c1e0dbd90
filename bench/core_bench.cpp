// Micro-benchmarks of Cohort's core: what a task, a group member, a
// cancellation and a semaphore hand-off cost.
//
// Everything runs on a `basic_loop` on virtual time, so a sleep never sleeps:
// what is measured is the library's own work. Benchmarks that process N items
// per iteration time themselves (UseManualTime, on the thread's CPU clock)
// and report `ns_per_item`.
// Every benchmark is named "core/..." so `scripts/bench core` can select them.

#include <cohort/cohort.hpp>

#include <benchmark/benchmark.h>

#include <malloc.h>

#include <chrono>
#include <coroutine>
#include <cstdint>
#include <cstdlib>
#include <ctime>
#include <exception>
#include <string_view>

namespace {

using namespace std::chrono_literals;
// The manual timings read this thread's CPU clock, not the wall clock: the
// loop never sleeps (virtual time), so the two agree on an idle machine,
// and the CPU clock does not count the time other processes take on a
// shared one.
struct cpu_clock {
  using time_point = std::chrono::nanoseconds;
  static time_point now() noexcept {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
  }
};

double seconds_between(cpu_clock::time_point from, cpu_clock::time_point to) {
  return std::chrono::duration<double>(to - from).count();
}

// glibc's malloc adapts two thresholds as a program runs: it gives the top of
// the heap back to the kernel once enough of it is free (M_TRIM_THRESHOLD),
// and serves large blocks (a group's 10,000-entry pending vector) with mmap
// (M_MMAP_THRESHOLD). A benchmark that allocates and frees 10,000 frames per
// iteration then page-faults the same memory back in every iteration, or
// not, depending on where its blocks happen to sit: spawn_join measured ~30
// or ~200 ns per child between two runs of the same binary, and page faults
// are slow on these virtual machines. Pinning both thresholds measures the
// library rather than that accident (docs/benchmarks.md reports both).
// COHORT_BENCH_MALLOC_DEFAULTS=1 keeps glibc's defaults.
const bool malloc_pinned = [] {
  const char* keep = std::getenv("COHORT_BENCH_MALLOC_DEFAULTS");
  const bool pin = keep == nullptr || std::string_view(keep) != "1";
  const bool ok =
      pin && mallopt(M_TRIM_THRESHOLD, 1 << 30) == 1 && mallopt(M_MMAP_THRESHOLD, 1 << 25) == 1;
  benchmark::AddCustomContext(
      "malloc", ok ? "trim and mmap thresholds pinned (1 GiB, 32 MiB)" : "glibc defaults");
  return ok;
}();

/// Sums the manual time of each iteration and reports it per item.
class per_item {
 public:
  explicit per_item(benchmark::State& state) noexcept : state_(&state) {}
  void record(double seconds, std::int64_t items) {
    state_->SetIterationTime(seconds);
    seconds_ += seconds;
    items_ += items;
  }
  ~per_item() {
    if (items_ == 0) return;
    state_->SetItemsProcessed(items_);
    state_->counters["ns_per_item"] = seconds_ * 1e9 / static_cast<double>(items_);
  }

 private:
  benchmark::State* state_;
  double seconds_ = 0;
  std::int64_t items_ = 0;
};

// ---------------------------------------------------------------------------
// (a) Baseline: a bare C++20 coroutine, no library. Created suspended,
// resumed to its end, destroyed: the floor every task pays (one frame
// allocation, one resume, one free).
// ---------------------------------------------------------------------------
struct bare_coroutine {
  struct promise_type {
    bare_coroutine get_return_object() noexcept {
      return {std::coroutine_handle<promise_type>::from_promise(*this)};
    }
    std::suspend_always initial_suspend() noexcept { return {}; }
    std::suspend_always final_suspend() noexcept { return {}; }
    void return_void() noexcept {}
    void unhandled_exception() noexcept { std::terminate(); }
  };
  std::coroutine_handle<promise_type> handle;
};

bare_coroutine bare() {
  co_return;
}

void baseline_coroutine(benchmark::State& state) {
  for (auto _ : state) {
    auto h = bare().handle;
    benchmark::DoNotOptimize(h);
    h.resume();
    h.destroy();
  }
}
BENCHMARK(baseline_coroutine)->Name("core/baseline_coroutine");

// ---------------------------------------------------------------------------
// (b) Spawn + join: a group body spawns N trivial children; the group joins.
// ---------------------------------------------------------------------------
cohort::task<> trivial_child() {
  co_return;
}

cohort::task<> spawn_and_join(std::int64_t n, cohort::group_stats& stats) {
  co_await cohort::with_task_group([n, &stats](cohort::task_group& g) -> cohort::task<> {
    for (std::int64_t i = 0; i < n; ++i) g.spawn(trivial_child());
    stats = g.stats();
    co_return;
  });
}

void spawn_join(benchmark::State& state) {
  const std::int64_t n = state.range(0);
  cohort::basic_loop loop(cohort::basic_loop::time_source::virtual_time);
  per_item timing(state);
  for (auto _ : state) {
    const auto live_before = cohort::detail::frame_stats().live();
    cohort::group_stats stats;
    const auto t0 = cpu_clock::now();
    loop.run(spawn_and_join(n, stats));
    timing.record(seconds_between(t0, cpu_clock::now()), n);
    if (stats.spawned != static_cast<std::size_t>(n) ||
        cohort::detail::frame_stats().live() != live_before) {
      state.SkipWithError("not every child was spawned and destroyed");
      break;
    }
  }
  {
    auto t = trivial_child();
    state.counters["child_frame_bytes"] =
        static_cast<double>(cohort::detail::frame_stats().last_size);
  }
}
BENCHMARK(spawn_join)
    ->Name("core/spawn_join")
    ->Arg(1'000)
    ->Arg(10'000)
    ->Arg(100'000)
    ->UseManualTime()
    ->Unit(benchmark::kMicrosecond);

// ---------------------------------------------------------------------------
// (c) Cancel N suspended children: each child sleeps for an hour; once all
// are suspended, the body cancels the group and the group joins. Timed from
// the cancel() call to the end of the join: per child, a timer removal, a
// post, and the destruction of its frame.
// ---------------------------------------------------------------------------
cohort::task<> long_sleeper() {
  co_await cohort::sleep_for(1h);
}

cohort::task<> cancel_suspended_children(std::int64_t n, double& seconds) {
  cpu_clock::time_point cancelled_at;
  co_await cohort::with_task_group([&](cohort::task_group& g) -> cohort::task<> {
    for (std::int64_t i = 0; i < n; ++i) g.spawn(long_sleeper());
    co_await cohort::checkpoint();  // every child has started and is asleep now
    cancelled_at = cpu_clock::now();
    g.cancel();
    co_return;
  });
  seconds = seconds_between(cancelled_at, cpu_clock::now());
}

void cancel_suspended(benchmark::State& state) {
  const std::int64_t n = state.range(0);
  cohort::basic_loop loop(cohort::basic_loop::time_source::virtual_time);
  per_item timing(state);
  for (auto _ : state) {
    const auto live_before = cohort::detail::frame_stats().live();
    const auto virtual_before = loop.now();
    double seconds = 0;
    loop.run(cancel_suspended_children(n, seconds));
    timing.record(seconds, n);
    // Had the cancel not reached them, the children would have slept an hour
    // of virtual time; every frame must be gone.
    if (loop.now() - virtual_before >= 1h || cohort::detail::frame_stats().live() != live_before) {
      state.SkipWithError("the children were not cancelled and destroyed");
      break;
    }
  }
  {
    auto t = long_sleeper();
    state.counters["sleeper_frame_bytes"] =
        static_cast<double>(cohort::detail::frame_stats().last_size);
  }
}
BENCHMARK(cancel_suspended)
    ->Name("core/cancel_suspended")
    ->Arg(1'000)
    ->Arg(10'000)
    ->Arg(100'000)
    ->UseManualTime()
    ->Unit(benchmark::kMicrosecond);

// ---------------------------------------------------------------------------
// (d) Semaphore acquire + release, uncontended: the ready() fast path.
// ---------------------------------------------------------------------------
cohort::task<> acquire_release(benchmark::State& state) {
  cohort::semaphore sem(1);
  for (auto _ : state) {
    auto permit = co_await sem.acquire();
    benchmark::DoNotOptimize(permit);
  }
}

void semaphore_uncontended(benchmark::State& state) {
  cohort::basic_loop loop(cohort::basic_loop::time_source::virtual_time);
  loop.run(acquire_release(state));
}
BENCHMARK(semaphore_uncontended)->Name("core/semaphore_uncontended");

// ---------------------------------------------------------------------------
// (e) Semaphore hand-off: W tasks queue on a one-permit semaphore; each takes
// the permit, gives it straight to the oldest waiter, and queues again. Timed
// over `handoffs` hand-offs, after every waiter is queued.
// ---------------------------------------------------------------------------
cohort::task<> cycle_permit(cohort::semaphore& sem, std::int64_t& remaining,
                            cpu_clock::time_point& last_handoff) {
  for (;;) {
    auto permit = co_await sem.acquire();
    if (remaining == 0) co_return;  // the permit moves on; the next one ends too
    if (--remaining == 0) last_handoff = cpu_clock::now();
  }
}

cohort::task<> semaphore_round_robin(std::int64_t waiters, std::int64_t handoffs, double& seconds) {
  cohort::semaphore sem(0);
  std::int64_t remaining = handoffs;
  cpu_clock::time_point first, last;
  co_await cohort::with_task_group([&](cohort::task_group& g) -> cohort::task<> {
    for (std::int64_t i = 0; i < waiters; ++i) g.spawn(cycle_permit(sem, remaining, last));
    co_await cohort::checkpoint();  // every waiter is queued now
    first = cpu_clock::now();
    sem.release();
  });
  seconds = seconds_between(first, last);
}

void semaphore_handoff(benchmark::State& state) {
  const std::int64_t waiters = state.range(0);
  constexpr std::int64_t handoffs = 100'000;
  cohort::basic_loop loop(cohort::basic_loop::time_source::virtual_time);
  per_item timing(state);
  for (auto _ : state) {
    double seconds = 0;
    loop.run(semaphore_round_robin(waiters, handoffs, seconds));
    timing.record(seconds, handoffs);
  }
}
BENCHMARK(semaphore_handoff)
    ->Name("core/semaphore_handoff")
    ->Arg(1'000)
    ->UseManualTime()
    ->Unit(benchmark::kMicrosecond);

// ---------------------------------------------------------------------------
// (f) A task awaiting a trivial child task that completes synchronously:
// frame allocation, symmetric transfer in and out, frame destruction.
// ---------------------------------------------------------------------------
cohort::task<int> trivial_value() {
  co_return 1;
}

cohort::task<> await_children(benchmark::State& state) {
  for (auto _ : state) {
    int v = co_await trivial_value();
    benchmark::DoNotOptimize(v);
  }
}

void await_trivial_task(benchmark::State& state) {
  cohort::basic_loop loop(cohort::basic_loop::time_source::virtual_time);
  loop.run(await_children(state));
}
BENCHMARK(await_trivial_task)->Name("core/await_trivial_task");

// ---------------------------------------------------------------------------
// (g) checkpoint() in a scope that is not cancelled: the level-triggered
// check, a post to the ready queue and one turn of the loop.
// ---------------------------------------------------------------------------
cohort::task<> checkpoints(benchmark::State& state) {
  for (auto _ : state) co_await cohort::checkpoint();
}

void checkpoint_not_cancelled(benchmark::State& state) {
  cohort::basic_loop loop(cohort::basic_loop::time_source::virtual_time);
  loop.run(checkpoints(state));
}
BENCHMARK(checkpoint_not_cancelled)->Name("core/checkpoint");

}  // namespace
