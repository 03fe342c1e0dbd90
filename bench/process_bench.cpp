// Spawn cost: start `/bin/true` and await its exit, N jobs at concurrency 1
// and 8, as jobs/s ("items_per_second", on the wall clock). Compared with Boost.Process v2's
// default launcher on the same Asio loop, and with the blocking baselines
// fork+exec+waitpid and posix_spawn+waitpid (no event loop at all).
//
//   cohort-bench --benchmark_filter=Spawn
#include <cohort/io/process.hpp>

#include <cohort/runtime/asio_loop.hpp>
#include <cohort/task_group.hpp>

#include <benchmark/benchmark.h>
#include <boost/asio/io_context.hpp>

#ifdef COHORT_BENCH_BOOST_PROCESS
#include <boost/process/v2/process.hpp>
#endif

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <functional>

extern char** environ;

namespace {

constexpr int jobs_per_iteration = 200;

void report(benchmark::State& state) {
  state.SetItemsProcessed(state.iterations() * jobs_per_iteration);
  state.counters["concurrency"] = static_cast<double>(state.range(0));
}

// cohort::run_process (spawn + supervise + reap), `concurrency` workers.
void BM_SpawnCohort(benchmark::State& state) {
  const int concurrency = static_cast<int>(state.range(0));
  const cohort::process_options options{.argv = {"/bin/true"}};
  for (auto _ : state) {
    boost::asio::io_context io;
    cohort::asio_loop loop(io);
    int next = 0;
    int failed = loop.run([](boost::asio::io_context& io, const cohort::process_options& options,
                             int concurrency, int& next) -> cohort::task<int> {
      int failed = 0;
      co_await cohort::with_task_group([&](cohort::task_group& g) -> cohort::task<> {
        for (int w = 0; w < concurrency; ++w) {
          g.spawn([](boost::asio::io_context& io, const cohort::process_options& options, int& next,
                     int& failed) -> cohort::task<> {
            while (next < jobs_per_iteration) {
              ++next;
              const auto r = co_await cohort::run_process(io, options);
              if (!r.status.success()) ++failed;
            }
          }(io, options, next, failed));
        }
        co_return;
      });
      co_return failed;
    }(io, options, concurrency, next));
    if (failed != 0) state.SkipWithError("a job failed");
  }
  report(state);
}
BENCHMARK(BM_SpawnCohort)
    ->Arg(1)
    ->Arg(8)
    ->Iterations(3)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

#ifdef COHORT_BENCH_BOOST_PROCESS
// Boost.Process v2, default launcher (fork + exec + an error pipe), awaited
// with async_wait on the same kind of Asio loop, plain callbacks.
void BM_SpawnBoostProcessV2(benchmark::State& state) {
  namespace bp = boost::process::v2;
  const int concurrency = static_cast<int>(state.range(0));
  for (auto _ : state) {
    boost::asio::io_context io;
    int next = 0;
    int failed = 0;
    std::function<void()> start_one = [&] {
      if (next >= jobs_per_iteration) return;
      ++next;
      auto proc = std::make_shared<bp::process>(io, "/bin/true", std::vector<std::string>{});
      proc->async_wait([&, proc](boost::system::error_code ec, int code) {
        if (ec || code != 0) ++failed;
        start_one();
      });
    };
    for (int w = 0; w < concurrency; ++w) start_one();
    io.run();
    if (failed != 0) state.SkipWithError("a job failed");
  }
  report(state);
}
BENCHMARK(BM_SpawnBoostProcessV2)
    ->Arg(1)
    ->Arg(8)
    ->Iterations(3)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
#endif

// Blocking baselines: keep `concurrency` children, waitpid(-1) for any.
template <class Start>
void blocking_baseline(benchmark::State& state, Start start) {
  const int concurrency = static_cast<int>(state.range(0));
  for (auto _ : state) {
    int started = 0, running = 0, failed = 0;
    while (started < jobs_per_iteration || running > 0) {
      while (running < concurrency && started < jobs_per_iteration) {
        if (start() < 0) std::abort();
        ++started;
        ++running;
      }
      int status = 0;
      if (::waitpid(-1, &status, 0) < 0) std::abort();
      --running;
      if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) ++failed;
    }
    if (failed != 0) state.SkipWithError("a job failed");
  }
  report(state);
}

void BM_SpawnForkExecBlocking(benchmark::State& state) {
  blocking_baseline(state, [] {
    const pid_t pid = ::fork();
    if (pid == 0) {
      char* const argv[] = {const_cast<char*>("/bin/true"), nullptr};
      ::execve("/bin/true", argv, environ);
      ::_exit(127);
    }
    return pid;
  });
}
BENCHMARK(BM_SpawnForkExecBlocking)
    ->Arg(1)
    ->Arg(8)
    ->Iterations(3)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

void BM_SpawnPosixSpawnBlocking(benchmark::State& state) {
  blocking_baseline(state, [] {
    pid_t pid;
    char* const argv[] = {const_cast<char*>("/bin/true"), nullptr};
    return ::posix_spawn(&pid, "/bin/true", nullptr, nullptr, argv, environ) == 0 ? pid : -1;
  });
}
BENCHMARK(BM_SpawnPosixSpawnBlocking)
    ->Arg(1)
    ->Arg(8)
    ->Iterations(3)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
