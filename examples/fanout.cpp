// Semaphore-limited fan-out with cleanup that awaits.
//
// 20 "downloads" run at most 3 at a time. Each writes to a temporary name and
// must remove it if it does not finish; the removal is itself asynchronous,
// so it goes in a cohort::finally cleanup, which runs shielded even when the
// fan-out is cancelled. Here a deadline cancels the fan-out part-way: the
// downloads in flight unwind and clean up, the queued ones never start.
#include <cohort/cohort.hpp>
#include <cohort/runtime/run.hpp>

#include <chrono>
#include <cstdio>

using namespace std::chrono_literals;

namespace {

struct tally {
  int started = 0, finished = 0, cleaned = 0;
};

cohort::task<> download(cohort::semaphore& slots, int n, tally& t) {
  auto permit = co_await slots.acquire();  // waits for one of 3 slots
  ++t.started;
  bool complete = false;
  co_await cohort::finally(
      [](int n, bool& complete) -> cohort::task<> {
        co_await cohort::sleep_for(std::chrono::milliseconds(10 + 5 * (n % 4)));
        complete = true;
      }(n, complete),
      [&t, &complete]() -> cohort::task<> {
        if (complete) co_return;
        co_await cohort::sleep_for(5ms);  // remove the partial file
        ++t.cleaned;
      });
  if (complete) ++t.finished;
}

}  // namespace

int main() {
  tally t;
  const int code = cohort::run([&](cohort::runtime&) -> cohort::task<int> {
    cohort::semaphore slots(3);
    (void)co_await cohort::move_on_after(
        60ms, [](cohort::semaphore& slots, tally& t) -> cohort::task<> {
          co_await cohort::with_task_group([&](cohort::task_group& g) -> cohort::task<> {
            for (int n = 1; n <= 20; ++n) g.spawn(download(slots, n, t).named("download", n));
            co_return;
          });
        }(slots, t));
    co_return 0;
  });
  std::printf("started %d, finished %d, cleaned up %d, never started %d\n", t.started, t.finished,
              t.cleaned, 20 - t.started);
  // Every started download either finished or cleaned up.
  return code == 0 && t.started == t.finished + t.cleaned ? 0 : 1;
}
