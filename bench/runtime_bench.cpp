// Runtime benchmarks: the Asio loop and bridge.
#include <cohort/cohort.hpp>
#include <cohort/runtime/asio_loop.hpp>
#include <cohort/runtime/loop_thread.hpp>
#include <cohort/runtime/use_op.hpp>

#include <benchmark/benchmark.h>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <deque>

namespace {

// Cancel N Asio timer waits suspended through the bridge: loop time from
// g.cancel() until every waiter has unwound and the group has joined.
// Target (issue 3): N = 1000 in under 1 ms.
void BM_CancelSuspendedAsioTimerWaits(benchmark::State& state) {
  const auto n = static_cast<int>(state.range(0));
  for (auto _ : state) {
    boost::asio::io_context io;
    cohort::asio_loop loop(io);
    std::deque<boost::asio::steady_timer> timers;
    for (int i = 0; i < n; ++i) timers.emplace_back(io, std::chrono::hours(1));
    std::chrono::steady_clock::duration took{};
    loop.run([](std::deque<boost::asio::steady_timer>& timers,
                std::chrono::steady_clock::duration& took) -> cohort::task<> {
      cohort::clock::time_point start;
      co_await cohort::with_task_group([&](cohort::task_group& g) -> cohort::task<> {
        for (auto& t : timers) {
          g.spawn([](boost::asio::steady_timer& t) -> cohort::task<> {
            co_await t.async_wait(cohort::use_op);
          }(t));
        }
        co_await cohort::checkpoint();  // every child has started its wait
        start = cohort::clock::now();
        g.cancel();
      });
      took = cohort::clock::now() - start;
    }(timers, took));
    state.SetIterationTime(std::chrono::duration<double>(took).count());
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_CancelSuspendedAsioTimerWaits)
    ->Arg(1000)
    ->Arg(10000)
    ->UseManualTime()
    ->Unit(benchmark::kMicrosecond);

// A sleep on the real loop that is cancelled before it fires (timer heap
// insert + remove + unwind), per task.
void BM_CancelSuspendedCohortSleeps(benchmark::State& state) {
  const auto n = static_cast<int>(state.range(0));
  for (auto _ : state) {
    boost::asio::io_context io;
    cohort::asio_loop loop(io);
    std::chrono::steady_clock::duration took{};
    loop.run([](int n, std::chrono::steady_clock::duration& took) -> cohort::task<> {
      cohort::clock::time_point start;
      co_await cohort::with_task_group([&](cohort::task_group& g) -> cohort::task<> {
        for (int i = 0; i < n; ++i) {
          g.spawn([]() -> cohort::task<> { co_await cohort::sleep_for(std::chrono::hours(1)); }());
        }
        co_await cohort::checkpoint();
        start = cohort::clock::now();
        g.cancel();
      });
      took = cohort::clock::now() - start;
    }(n, took));
    state.SetIterationTime(std::chrono::duration<double>(took).count());
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_CancelSuspendedCohortSleeps)
    ->Arg(1000)
    ->UseManualTime()
    ->Unit(benchmark::kMicrosecond);

// Calls from the main loop to a loop_thread: `range(0)` calls at a time, each
// a trivial task there, 4096 calls an iteration. CPU time of both threads
// (the process's) per call: what moving a request to another loop costs,
// wake-ups of an idle loop included (issue 17's --threads).
cohort::task<int> trivial_there() {
  co_return 1;
}

cohort::task<> call_many(cohort::loop_thread& w, int total, int at_once) {
  int next = 0;
  co_await cohort::with_task_group([&](cohort::task_group& g) -> cohort::task<> {
    for (int k = 0; k < at_once; ++k) {
      g.spawn([](cohort::loop_thread& w, int& next, int total) -> cohort::task<> {
        while (next < total) {
          ++next;
          co_await w.call([] { return trivial_there(); });
        }
      }(w, next, total));
    }
    co_return;
  });
}

void BM_LoopThreadCall(benchmark::State& state) {
  const auto at_once = static_cast<int>(state.range(0));
  constexpr int calls = 4096;
  boost::asio::io_context io;
  cohort::asio_loop loop(io);
  cohort::loop_thread worker;
  for (auto _ : state) loop.run(call_many(worker, calls, at_once));
  state.SetItemsProcessed(state.iterations() * calls);
}
BENCHMARK(BM_LoopThreadCall)
    ->Arg(1)
    ->Arg(16)
    ->MeasureProcessCPUTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
