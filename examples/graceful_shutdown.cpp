// Graceful shutdown of a pool of workers.
//
// Four workers take jobs from a shared counter until they are told to stop.
// Stopping is cancellation: Ctrl+C (SIGINT/SIGTERM) cancels the whole task
// tree, each worker's in-flight job unwinds, and each worker's cleanup (an
// awaiting "flush") still runs, shielded. Then the program ends by the same
// signal (cohort::exit_like), so a shell shows 130 and stops its script.
//
//   example-graceful_shutdown            # stops itself after 300 ms (exit 0)
//   example-graceful_shutdown --forever  # runs until Ctrl+C ($? 130)
#include <cohort/cohort.hpp>
#include <cohort/runtime/run.hpp>

#include <chrono>
#include <cstdio>
#include <string_view>

using namespace std::chrono_literals;

namespace {

cohort::task<> worker(int id, int& next_job, int& jobs_done) {
  co_await cohort::finally(
      [](int& next_job, int& jobs_done) -> cohort::task<> {
        for (;;) {
          const int job = next_job++;
          co_await cohort::sleep_for(20ms);  // the job's work
          ++jobs_done;
          (void)job;
        }
      }(next_job, jobs_done),
      [id]() -> cohort::task<> {
        co_await cohort::sleep_for(10ms);  // e.g. flush buffered results
        std::printf("worker %d flushed\n", id);
      },
      1s);  // the cleanup's own bound
}

}  // namespace

int main(int argc, char** argv) {
  const bool forever = argc > 1 && std::string_view(argv[1]) == "--forever";
  int next_job = 0;
  int jobs_done = 0;
  const cohort::run_outcome ended =
      cohort::run_with_outcome([&](cohort::runtime&) -> cohort::task<int> {
        auto workers = [&]() -> cohort::task<> {
          co_await cohort::with_task_group([&](cohort::task_group& g) -> cohort::task<> {
            for (int id = 1; id <= 4; ++id)
              g.spawn(worker(id, next_job, jobs_done).named("worker", id));
            co_return;
          });
        };
        if (forever) {
          co_await workers();
        } else {
          (void)co_await cohort::move_on_after(300ms, workers());
        }
        co_return 0;
      });
  std::printf("%d jobs done; exit %d\n", jobs_done, ended.code);
  return cohort::exit_like(ended);  // last: after a signal, dies by it
}
