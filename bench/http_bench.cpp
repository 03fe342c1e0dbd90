// HTTP client benchmarks: 2000 bodies of 16 KiB from an in-process Asio
// server on loopback (on a thread of its own), 16 connections; and the curl
// command-line tool (`curl --parallel --parallel-max 16`) on the same server.
//
//   scripts/bench http     (or: build/bin/cohort-bench --benchmark_filter='^http/')
//
// Counters: requests/s (wall clock), client CPU per request and in total (the
// loop thread for Cohort; the curl process, user + system, for curl). The
// server's CPU is not counted in either.
#include <cohort/cohort.hpp>
#include <cohort/io/http.hpp>
#include <cohort/runtime/asio_loop.hpp>

#include "http_test_server.hpp"

#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

extern char** environ;

namespace {

constexpr int requests = 2000;
constexpr int connections = 16;
constexpr int body_size = 16 * 1024;

cohort::test::http_test_server_thread& shared_server() {
  static cohort::test::http_test_server_thread server;
  return server;
}

std::vector<std::string> urls(cohort::test::http_test_server_thread& server) {
  // Distinct paths, the same size: /bytes/16384?i=N.
  std::vector<std::string> out;
  out.reserve(requests);
  for (int i = 0; i < requests; ++i) {
    out.push_back(server.url("/bytes/" + std::to_string(body_size) + "?i=" + std::to_string(i)));
  }
  return out;
}

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

void report(benchmark::State& state, double wall, double cpu, int ok) {
  state.SetIterationTime(wall);
  state.counters["requests_per_s"] = benchmark::Counter(requests / wall);
  state.counters["client_cpu_ms"] = benchmark::Counter(cpu * 1e3);
  state.counters["client_cpu_us_per_req"] = benchmark::Counter(cpu * 1e6 / requests);
  if (ok != requests) state.SkipWithError("some requests failed");
}

// 16 workers, each fetching the next URL until none is left: at most 16
// requests in flight, over (at most) 16 kept-alive connections.
void BM_HttpCohort16Workers(benchmark::State& state) {
  auto& server = shared_server();
  const std::vector<std::string> all = urls(server);
  for (auto _ : state) {
    boost::asio::io_context io;
    cohort::asio_loop loop(io);
    cohort::http_client client(loop, {.max_host_connections = connections});
    int ok = 0;
    const auto start = std::chrono::steady_clock::now();
    const double cpu0 = thread_cpu_seconds();
    loop.run(
        [](cohort::http_client& c, const std::vector<std::string>& all, int& ok) -> cohort::task<> {
          std::size_t next = 0;
          co_await cohort::with_task_group([&](cohort::task_group& g) -> cohort::task<> {
            for (int w = 0; w < connections; ++w) {
              g.spawn([](cohort::http_client& c, const std::vector<std::string>& all,
                         std::size_t& next, int& ok) -> cohort::task<> {
                while (next < all.size()) {
                  const auto r = co_await c.get(all[next++]);
                  if (r.ok() && r.body.size() == body_size) ++ok;
                }
              }(c, all, next, ok));
            }
            co_return;
          });
        }(client, all, ok));
    const double cpu = thread_cpu_seconds() - cpu0;
    report(state, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(),
           cpu, ok);
  }
}
BENCHMARK(BM_HttpCohort16Workers)
    ->Name("http/cohort_16_workers")
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond)
    ->Iterations(5);

// All 2000 requests started at once; libcurl queues them behind the cap of
// 16 connections.
void BM_HttpCohortAllAtOnceCap16(benchmark::State& state) {
  auto& server = shared_server();
  const std::vector<std::string> all = urls(server);
  for (auto _ : state) {
    boost::asio::io_context io;
    cohort::asio_loop loop(io);
    cohort::http_client client(loop,
                               {.max_host_connections = connections, .pooled_handles = requests});
    int ok = 0;
    const auto start = std::chrono::steady_clock::now();
    const double cpu0 = thread_cpu_seconds();
    loop.run([](cohort::http_client& c, const std::vector<std::string>& all,
                int& ok) -> cohort::task<> {
      co_await cohort::with_task_group([&](cohort::task_group& g) -> cohort::task<> {
        for (const std::string& url : all) {
          g.spawn([](cohort::http_client& c, const std::string& url, int& ok) -> cohort::task<> {
            const auto r = co_await c.get(url);
            if (r.ok() && r.body.size() == body_size) ++ok;
          }(c, url, ok));
        }
        co_return;
      });
    }(client, all, ok));
    const double cpu = thread_cpu_seconds() - cpu0;
    report(state, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(),
           cpu, ok);
  }
}
BENCHMARK(BM_HttpCohortAllAtOnceCap16)
    ->Name("http/cohort_all_at_once_cap_16")
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond)
    ->Iterations(5);

// The curl tool on the same server and URLs, 16 parallel transfers.
void BM_HttpCurlCliParallel16(benchmark::State& state) {
  auto& server = shared_server();
  const std::vector<std::string> all = urls(server);
  char config_path[] = "/tmp/cohort-http-bench-XXXXXX";
  const int fd = mkstemp(config_path);
  if (fd < 0) {
    state.SkipWithError("mkstemp failed");
    return;
  }
  close(fd);
  {
    std::ofstream config(config_path);
    for (const std::string& url : all) config << "url = \"" << url << "\"\noutput = /dev/null\n";
  }
  std::vector<std::string> args = {"curl",           "--silent", "--fail",   "--parallel",
                                   "--parallel-max", "16",       "--config", config_path};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    pid_t pid = 0;
    posix_spawn_file_actions_t quiet;  // curl draws a progress meter even with --silent
    posix_spawn_file_actions_init(&quiet);
    posix_spawn_file_actions_addopen(&quiet, 2, "/dev/null", O_WRONLY, 0);
    const int spawned = posix_spawnp(&pid, "curl", &quiet, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&quiet);
    if (spawned != 0) {
      state.SkipWithError("curl not found");
      break;
    }
    int status = 0;
    rusage usage{};
    wait4(pid, &status, 0, &usage);
    const double wall =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const double cpu = static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
                       static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) * 1e-6;
    const bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    report(state, wall, cpu, ok ? requests : 0);
  }
  std::remove(config_path);
}
BENCHMARK(BM_HttpCurlCliParallel16)
    ->Name("http/curl_cli_parallel_16")
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond)
    ->Iterations(5);

}  // namespace
