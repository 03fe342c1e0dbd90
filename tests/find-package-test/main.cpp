// Builds against an installed Cohort through find_package(cohort) and
// cohort::cohort, and uses each layer once: the core (a task group with a
// timeout), the runtime (cohort::run), io (an HTTP client, an atomic write)
// and the runner (a journal), so the installed headers and libraries are
// checked by use, not only by compilation.
#include <cohort/cohort.hpp>
#include <cohort/io/atomic_file.hpp>
#include <cohort/io/http.hpp>
#include <cohort/runner/journal.hpp>
#include <cohort/runtime/run.hpp>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>

#include <unistd.h>

namespace {
cohort::task<int> sum_of_children() {
  int sum = 0;
  co_await cohort::with_task_group([&](cohort::task_group& g) -> cohort::task<> {
    for (int i = 1; i <= 3; ++i) {
      g.spawn([](int& s, int v) -> cohort::task<> {
        co_await cohort::sleep_for(std::chrono::milliseconds(1));
        s += v;
      }(sum, i));
    }
    co_return;
  });
  co_return sum;
}

cohort::task<int> app(cohort::runtime& rt) {
  cohort::http_client http(rt.loop());
  const auto dir = std::filesystem::temp_directory_path() /
                   ("cohort-find-package-test-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  cohort::atomic_write(dir / "out.txt", "written");
  bool done = false;
  {
    cohort::journal j(dir / "run.db", {{"test", "find_package"}}, {.force = true});
    j.record_done("a");
    done = j.is_done("a");
  }
  std::filesystem::remove_all(dir);
  const int sum = co_await sum_of_children();
  std::printf("find_package(cohort) consumer: sum=%d journal=%d\n", sum, done ? 1 : 0);
  co_return sum == 6 && done ? 0 : 1;
}
}  // namespace

int main() {
  return cohort::run(app);
}
