// The core alone: built against cohort::core only (find_package(cohort
// COMPONENTS core) in the find_package consumer test, every object of
// cohort_core in ctest core_only), so it must link and run with none of
// Boost, libcurl or SQLite. Runs a task group with a timeout on sync_wait.
#include <cohort/cohort.hpp>

#include <chrono>
#include <cstdio>

namespace {
cohort::task<int> child(int v) {
  co_await cohort::sleep_for(std::chrono::milliseconds(1));
  co_return v;
}

cohort::task<int> app() {
  int sum = 0;
  co_await cohort::with_task_group([&](cohort::task_group& g) -> cohort::task<> {
    for (int i = 1; i <= 3; ++i) {
      g.spawn([](int& s, int v) -> cohort::task<> { s += co_await child(v); }(sum, i));
    }
    co_return;
  });
  auto late = co_await cohort::move_on_after(std::chrono::milliseconds(1), []() -> cohort::task<> {
    co_await cohort::sleep_for(std::chrono::hours(1));
  }());
  co_return late ? -1 : sum;
}
}  // namespace

int main() {
  const int sum = cohort::sync_wait(app());
  std::printf("cohort core-only consumer: sum=%d\n", sum);
  return sum == 6 ? 0 : 1;
}
