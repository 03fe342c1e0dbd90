// The program the real-signal tests drive (tests/integration/signal_test.py).
//
// Runs N tasks with at most C at a time. Each task prints `start i`, waits
// --work-ms, and in a finally cleanup awaits --cleanup-ms (or forever with
// --cleanup-never) before printing `cleanup i`. After SIGHUP no further task
// starts (a task that gets its slot later returns at once) while running ones
// finish. Prints `READY` on stderr once signals are handled, and `exit CODE`
// on stderr last; an interrupted run then ends by its signal (exit_like).
// With --blocking-ms, main first waits for a blocking call of that length on
// the pool (printing `blocking 0`), which no cancellation can cut: the
// runtime's escalation limit (--limit-ms) then ends the process.
#include <cohort/cohort.hpp>
#include <cohort/runtime/run.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

namespace {

using namespace std::chrono;

struct probe_options {
  int n = 10;
  int c = 2;
  long work_ms = 30000;
  long cleanup_ms = 200;
  long start_delay_ms = 0;
  long grace_ms = 5000;
  long blocking_ms = 0;
  long limit_ms = 2000;
  bool cleanup_never = false;
};

void say(const char* what, int i) {
  // One write per line, flushed at once: the harness reads as we go.
  std::printf("%s %d\n", what, i);
  std::fflush(stdout);
}

cohort::task<> job(cohort::semaphore& slots, cohort::event& drain, int i, const probe_options& o) {
  auto permit = co_await slots.acquire();
  if (drain.is_set()) co_return;  // draining: admit nothing new
  say("start", i);
  co_await cohort::finally(
      [](long ms) -> cohort::task<> { co_await cohort::sleep_for(milliseconds(ms)); }(o.work_ms),
      [&o, i]() -> cohort::task<> {
        if (o.cleanup_never) {
          co_await cohort::sleep_for(hours(24 * 365));
        } else {
          co_await cohort::sleep_for(milliseconds(o.cleanup_ms));
        }
        say("cleanup", i);
      },
      o.cleanup_never ? hours(24 * 365) : milliseconds(o.cleanup_ms) * 4 + seconds(1));
}

cohort::task<int> probe(cohort::event& drain, const probe_options& o) {
  if (o.start_delay_ms > 0) co_await cohort::sleep_for(milliseconds(o.start_delay_ms));
  cohort::semaphore slots(static_cast<std::size_t>(o.c));
  co_await cohort::with_task_group([&](cohort::task_group& g) -> cohort::task<> {
    for (int i = 1; i <= o.n; ++i)
      g.spawn(job(slots, drain, i, o).named("job", static_cast<unsigned>(i)));
    co_return;
  });
  co_return 0;
}

long arg_value(int& i, int argc, char** argv) {
  if (i + 1 >= argc) {
    std::fprintf(stderr, "signal_probe: %s needs a value\n", argv[i]);
    std::exit(2);
  }
  return std::strtol(argv[++i], nullptr, 10);
}

}  // namespace

int main(int argc, char** argv) {
  probe_options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--n")
      o.n = static_cast<int>(arg_value(i, argc, argv));
    else if (a == "--c")
      o.c = static_cast<int>(arg_value(i, argc, argv));
    else if (a == "--work-ms")
      o.work_ms = arg_value(i, argc, argv);
    else if (a == "--cleanup-ms")
      o.cleanup_ms = arg_value(i, argc, argv);
    else if (a == "--start-delay-ms")
      o.start_delay_ms = arg_value(i, argc, argv);
    else if (a == "--grace-ms")
      o.grace_ms = arg_value(i, argc, argv);
    else if (a == "--blocking-ms")
      o.blocking_ms = arg_value(i, argc, argv);
    else if (a == "--limit-ms")
      o.limit_ms = arg_value(i, argc, argv);
    else if (a == "--cleanup-never")
      o.cleanup_never = true;
    else {
      std::fprintf(stderr, "signal_probe: unknown option %s\n", a.c_str());
      return 2;
    }
  }
  cohort::run_options ro;
  ro.grace = milliseconds(o.grace_ms);
  ro.escalation_limit = milliseconds(o.limit_ms);
  const cohort::run_outcome ended = cohort::run_with_outcome(
      [&](cohort::runtime& rt) -> cohort::task<int> {
        std::fputs("READY\n", stderr);
        std::fflush(stderr);
        if (o.blocking_ms > 0) {
          co_await rt.blocking().run([&o] {
            say("blocking", 0);  // from the pool's thread: the call is running
            std::this_thread::sleep_for(milliseconds(o.blocking_ms));
          });
        }
        co_return co_await probe(rt.drain_requested(), o);
      },
      ro);
  std::fprintf(stderr, "exit %d\n", ended.code);
  return cohort::exit_like(ended);
}
