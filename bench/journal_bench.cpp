// Journal throughput: how many task outcomes per second the journal records
// and commits, and how long reopening a large journal takes.
//
//   build/bin/cohort-bench --benchmark_filter=runner/journal
//
// The files live in $TMPDIR (default /tmp), so the figures are those of that
// file system.
#include <cohort/runner/journal.hpp>

#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;

const cohort::journal_fingerprint bench_run{{"command", "bench {}"}};

/// A fresh directory for one benchmark, removed at the end.
class scratch_dir {
 public:
  scratch_dir() {
    std::string templ = (fs::temp_directory_path() / "cohort-journal-bench-XXXXXX").string();
    if (mkdtemp(templ.data()) == nullptr) std::abort();
    path_ = templ;
  }
  ~scratch_dir() { fs::remove_all(path_); }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

std::vector<std::string> make_keys(std::size_t n, bool shuffled) {
  std::vector<std::string> keys;
  keys.reserve(n);
  char buf[32];
  for (std::size_t i = 0; i < n; ++i) {
    std::snprintf(buf, sizeof buf, "task-%09zu", i);
    keys.emplace_back(buf);
  }
  if (shuffled) std::shuffle(keys.begin(), keys.end(), std::mt19937_64(42));
  return keys;
}

/// Records state.range(0) done outcomes into a new journal and closes it
/// (the final batch commits inside the timing). range(1): keys in random
/// order (1) or ascending (0); range(2): batch size.
void record_done(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  const auto keys = make_keys(n, state.range(1) != 0);
  const auto batch = static_cast<std::size_t>(state.range(2));
  scratch_dir dir;
  int run = 0;
  for (auto _ : state) {
    const fs::path file = dir.path() / ("run-" + std::to_string(run++) + ".db");
    cohort::journal j(file, bench_run, {.batch_records = batch});
    for (std::size_t i = 0; i < n; ++i) j.record_done(keys[i], 1, {static_cast<std::int64_t>(i)});
    j.close();
    state.PauseTiming();
    fs::remove(file);
    state.ResumeTiming();
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * n));
}
BENCHMARK(record_done)
    ->Name("runner/journal_record_done")
    ->ArgNames({"n", "shuffled", "batch"})
    ->Args({1'000'000, 0, 512})
    ->Args({1'000'000, 1, 512})
    ->Args({1'000'000, 1, 4096})
    ->Args({100'000, 0, 1})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(3);

/// Reopens a journal of state.range(0) keys (loading every key into memory).
void reopen(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  scratch_dir dir;
  const fs::path file = dir.path() / "run.db";
  {
    const auto keys = make_keys(n, true);
    cohort::journal j(file, bench_run);
    for (const auto& k : keys) j.record_done(k);
  }
  for (auto _ : state) {
    cohort::journal j(file, bench_run);
    benchmark::DoNotOptimize(j.done_count());
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * n));
}
BENCHMARK(reopen)
    ->Name("runner/journal_reopen")
    ->ArgNames({"n"})
    ->Arg(100'000)
    ->Arg(1'000'000)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(3);

}  // namespace
