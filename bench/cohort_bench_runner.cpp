// build/bin/cohort-bench-runner: the runner benchmark with the command line
// and RESULT line of ../shared/peers/asyncio_runner.py, so scripts/bench and
// the peers' harness can drive both the same way.
//
//   cohort-bench-runner --n N --concurrency C --work sleep0|sleepS|sync
//                       [--cleanup-await S] [--start-delay S]
//
// Each task counts `started`, awaits its work (sleep0: one yield to the
// loop, like asyncio.sleep(0); sync: no wait at all, the task completes
// synchronously), counts `completed`, and in its cleanup awaits
// --cleanup-await seconds (shielded, as a cohort::finally) before counting
// `cleanups`. Prints READY on stderr once SIGINT is handled; prints a human
// line and `RESULT {json}` on stdout; after a SIGINT it ends by that SIGINT
// (cohort::exit_like), so a shell shows 130 and stops its script.
#include <cohort/cohort.hpp>
#include <cohort/runner/run_tasks.hpp>
#include <cohort/runtime/run.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>

namespace {

struct counters {
  std::size_t started = 0, completed = 0, cleanup_entered = 0, cleanups = 0;
} S;

struct options {
  std::size_t n = 200000;
  std::size_t concurrency = 1000;
  std::string work = "sleep0";
  double work_s = 0;
  bool sync = false;  // --work sync: the task never waits
  double cleanup_await = 0;
  double start_delay = 0;
};

cohort::duration seconds(double s) {
  return std::chrono::duration_cast<cohort::duration>(std::chrono::duration<double>(s));
}

struct job {
  const options* o;
  cohort::task<> work() {
    ++S.started;
    if (o->work_s > 0) {
      co_await cohort::sleep_for(seconds(o->work_s));
    } else if (!o->sync) {
      co_await cohort::checkpoint();
    }
    ++S.completed;
  }
  cohort::task<> run() {
    if (o->cleanup_await <= 0) {
      // A cleanup that does not await is a destructor, as it would be in C++
      // (one frame per task, like the peer's one coroutine per task).
      struct cleanup {
        cleanup() { ++S.cleanup_entered; }
        ~cleanup() { ++S.cleanups; }
      } c;
      ++S.started;
      if (o->work_s > 0) {
        co_await cohort::sleep_for(seconds(o->work_s));
      } else if (!o->sync) {
        co_await cohort::checkpoint();
      }
      ++S.completed;
    } else {
      co_await cohort::finally(work(), [o = o]() -> cohort::task<> {
        ++S.cleanup_entered;
        co_await cohort::sleep_for(seconds(o->cleanup_await));
        ++S.cleanups;
      });
    }
  }
};

struct jobs {
  const options* o;
  std::size_t next_ = 0;
  std::optional<job> next() {
    if (next_ >= o->n) return std::nullopt;
    ++next_;
    return job{o};
  }
  std::size_t size() const { return o->n; }
};

// The process's own peak resident set (VmHWM). Not getrusage's ru_maxrss:
// Linux carries the parent's high-water mark into it across fork + exec, so
// a program started from a large parent would report the parent's peak.
double peak_rss_mib() {
  std::FILE* f = std::fopen("/proc/self/status", "r");
  if (f == nullptr) return 0;
  char line[256];
  double kib = 0;
  while (std::fgets(line, sizeof line, f) != nullptr) {
    if (std::strncmp(line, "VmHWM:", 6) == 0) {
      kib = std::strtod(line + 6, nullptr);
      break;
    }
  }
  std::fclose(f);
  return kib / 1024.0;
}

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr,
               "cohort-bench-runner: %s\nusage: cohort-bench-runner --n N --concurrency C "
               "--work sleep0|sleepS|sync [--cleanup-await S] [--start-delay S]\n",
               why);
  std::exit(2);
}

double number(const char* flag, const char* v) {
  char* end = nullptr;
  const double d = std::strtod(v, &end);
  if (end == v || *end != '\0' || d < 0)
    usage((std::string(flag) + ": not a number: " + v).c_str());
  return d;
}

}  // namespace

int main(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) usage(("missing value for " + a).c_str());
    const char* v = argv[++i];
    if (a == "--n")
      o.n = static_cast<std::size_t>(number("--n", v));
    else if (a == "--concurrency")
      o.concurrency = static_cast<std::size_t>(number("--concurrency", v));
    else if (a == "--work")
      o.work = v;
    else if (a == "--cleanup-await")
      o.cleanup_await = number("--cleanup-await", v);
    else if (a == "--start-delay")
      o.start_delay = number("--start-delay", v);
    else if (a == "--impl" || a == "--sigint" || a == "--cleanup")
      continue;  // the peer's knobs
    else
      usage(("unknown option " + a).c_str());
  }
  o.sync = o.work == "sync";
  if (!o.sync && o.work.rfind("sleep", 0) != 0) usage("--work must be sleep0, sleepS or sync");
  if (!o.sync) o.work_s = o.work.size() > 5 ? number("--work", o.work.c_str() + 5) : 0;

  cohort::time_point t0{}, t1{};
  cohort::time_point signalled{};
  cohort::task_runner runner(jobs{&o}, o.concurrency);
  const auto ended = cohort::run_with_outcome([&](cohort::runtime& rt) -> cohort::task<int> {
    std::fputs("READY\n", stderr);
    std::fflush(stderr);
    struct stamp {
      cohort::runtime& rt;
      cohort::time_point& t1;
      cohort::time_point& signalled;
      ~stamp() {
        t1 = cohort::clock::now();
        signalled = rt.signal_time();
      }
    } s{rt, t1, signalled};
    if (o.start_delay > 0) co_await cohort::sleep_for(seconds(o.start_delay));
    t0 = cohort::clock::now();
    co_await runner.run();
    co_return 0;
  });
  const auto t_end = cohort::clock::now();
  if (t0 == cohort::time_point{}) t0 = t1;
  const double elapsed = std::chrono::duration<double>(t1 - t0).count();
  const double peak_mib = peak_rss_mib();
  const bool interrupted = ended.interrupted();
  const double tps = elapsed > 0 ? static_cast<double>(S.completed) / elapsed : 0;
  if (!interrupted) {
    std::printf("cohort: %zu tasks in %.3fs = %.1f tasks/s, peak RSS %.1f MiB\n", S.completed,
                elapsed, tps, peak_mib);
  } else {
    std::printf(
        "cohort: interrupted; cleanups ran %zu of %zu started (entered %zu); %zu never "
        "started; peak RSS %.1f MiB\n",
        S.cleanups, S.started, S.cleanup_entered, o.n - S.started, peak_mib);
  }
  std::string sig_to_exit = "null";
  if (signalled != cohort::time_point{}) {
    sig_to_exit = std::to_string(std::chrono::duration<double>(t_end - signalled).count());
  }
  std::printf(
      "RESULT {\"impl\": \"cohort\", \"n\": %zu, \"concurrency\": %zu, \"work\": \"%s\", "
      "\"cleanup_await\": %g, \"outcome\": \"%s\", \"started\": %zu, \"completed\": %zu, "
      "\"cleanup_entered\": %zu, \"cleanups\": %zu, \"never_started\": %zu, \"elapsed_s\": %.4f, "
      "\"tasks_per_s\": %.1f, \"sigint_to_cleanup_done_s\": %s, \"peak_rss_mib\": %.1f}\n",
      o.n, o.concurrency, o.work.c_str(), o.cleanup_await,
      interrupted ? "cancelled:signal" : "completed", S.started, S.completed, S.cleanup_entered,
      S.cleanups, o.n - S.started, elapsed, tps, sig_to_exit.c_str(), peak_mib);
  std::fflush(stdout);
  return cohort::exit_like(ended);
}
