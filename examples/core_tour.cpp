// A tour of Cohort's core in four short sections, one idiom each:
//
//   1. a timeout around a slow operation         (move_on_after)
//   2. a failing child cancels its siblings      (with_task_group, group_error)
//   3. async cleanup that runs after a cancel    (finally)
//   4. a semaphore bounding fan-out              (semaphore)
//
// Runs on the real (steady) clock with millisecond sleeps; about 70 ms in all.
// Exits 1 if anything did not behave as printed, so CI checks it.

#include <cohort/cohort.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <optional>
#include <stdexcept>

namespace {

using namespace std::chrono_literals;

int failures = 0;

void expect(bool ok, const char* what) {
  if (!ok) {
    std::printf("  UNEXPECTED: %s\n", what);
    ++failures;
  }
}

long elapsed_ms(cohort::time_point since) {
  return static_cast<long>(
      std::chrono::duration_cast<std::chrono::milliseconds>(cohort::clock::now() - since).count());
}

// ---------------------------------------------------------------------------
// 1. Timeout. move_on_after cancels the body when the time is up and gives
// back an empty result instead of throwing (fail_after would throw).
// ---------------------------------------------------------------------------
cohort::task<int> slow_lookup() {
  co_await cohort::sleep_for(1s);  // stands in for a slow network call
  co_return 42;
}

cohort::task<> timeout_section() {
  std::puts("1. timeout: a 1 s lookup under a 20 ms timeout");
  const auto start = cohort::clock::now();
  std::optional<int> answer = co_await cohort::move_on_after(20ms, slow_lookup());
  std::printf("   no answer (%s), gave up after %ld ms\n", answer ? "?!" : "empty optional",
              elapsed_ms(start));
  expect(!answer, "the lookup should have timed out");
}

// ---------------------------------------------------------------------------
// 2. Fail-fast group. One child throws; the group cancels the others at
// their current wait (their destructors run, code after the wait does not),
// waits for all of them, then throws group_error with the first error as its
// cause.
// ---------------------------------------------------------------------------
struct say_when_unwound {
  int id;
  ~say_when_unwound() { std::printf("   worker %d: destroyed (cancelled at its sleep)\n", id); }
};

cohort::task<> worker(int id) {
  say_when_unwound guard{id};
  co_await cohort::sleep_for(500ms);
  std::printf("   worker %d: finished (not expected)\n", id);
}

cohort::task<> failing_worker() {
  co_await cohort::sleep_for(5ms);
  throw std::runtime_error("disk full");
}

cohort::task<> fail_fast_section() {
  std::puts("2. fail-fast: three workers and one that fails after 5 ms");
  try {
    co_await cohort::with_task_group([](cohort::task_group& g) -> cohort::task<> {
      for (int id = 1; id <= 3; ++id) g.spawn(worker(id));
      g.spawn(failing_worker());
      co_return;
    });
    expect(false, "the group should have failed");
  } catch (const cohort::group_error& e) {
    std::printf("   group_error: %s; cause: ", e.what());
    try {
      e.rethrow_cause();
    } catch (const std::runtime_error& cause) {
      std::printf("runtime_error(\"%s\")", cause.what());
    }
    std::printf("; errors kept: %zu; siblings cancelled: %zu\n", e.errors().size(), e.cancelled());
    expect(e.cancelled() == 3, "three siblings should have been cancelled");
  }
}

// ---------------------------------------------------------------------------
// 3. Async cleanup. finally runs its cleanup after the body however the body
// ends, here cancelled by a timeout. The cleanup may itself await: it is
// shielded from the cancel that caused it, under its own grace deadline.
// ---------------------------------------------------------------------------
cohort::task<> write_big_file() {
  std::puts("   body: writing out.tmp ...");
  co_await cohort::sleep_for(1s);
  std::puts("   body: done (not expected)");
}

cohort::task<> download_with_cleanup(bool& cleaned) {
  co_await cohort::finally(write_big_file(), [&]() -> cohort::task<> {
    std::puts("   cleanup: removing out.tmp (takes 5 ms)");
    co_await cohort::sleep_for(5ms);  // would end at once if it were not shielded
    cleaned = true;
    std::puts("   cleanup: done");
  });
  std::puts("   after finally (not expected: the cancel continues once cleanup is done)");
}

cohort::task<> cleanup_section() {
  std::puts("3. finally: a 1 s write under a 10 ms timeout");
  bool cleaned = false;
  const bool completed = co_await cohort::move_on_after(10ms, download_with_cleanup(cleaned));
  std::printf("   completed: %s, cleanup ran: %s\n", completed ? "yes" : "no",
              cleaned ? "yes" : "no");
  expect(!completed && cleaned, "the body should be cancelled and the cleanup complete");
}

// ---------------------------------------------------------------------------
// 4. Bounded fan-out. Six jobs, two permits: at most two run at once, and
// the others wait in FIFO order. The permit is released when it goes out of
// scope, also if the job is cancelled.
// ---------------------------------------------------------------------------
cohort::task<> job(cohort::semaphore& slots, int id, int& running, int& peak) {
  auto permit = co_await slots.acquire();
  peak = std::max(peak, ++running);
  std::printf("   job %d: running (%d at once)\n", id, running);
  co_await cohort::sleep_for(10ms);
  --running;
}

cohort::task<> semaphore_section() {
  std::puts("4. semaphore: six 10 ms jobs, two permits");
  cohort::semaphore slots(2);
  int running = 0;
  int peak = 0;
  const auto start = cohort::clock::now();
  co_await cohort::with_task_group([&](cohort::task_group& g) -> cohort::task<> {
    for (int id = 1; id <= 6; ++id) g.spawn(job(slots, id, running, peak));
    co_return;
  });
  std::printf("   all done in %ld ms, at most %d at once\n", elapsed_ms(start), peak);
  expect(peak == 2, "exactly two jobs should have run at once");
}

cohort::task<> tour() {
  co_await timeout_section();
  co_await fail_fast_section();
  co_await cleanup_section();
  co_await semaphore_section();
}

}  // namespace

int main() {
  cohort::sync_wait(tour());
  return failures == 0 ? 0 : 1;
}
