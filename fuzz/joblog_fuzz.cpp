// Fuzzes the joblog reader: any bytes either parse or throw joblog_error;
// every parsed record written back with the writer's format parses to the
// same record; the resume filter accepts whatever parsed.

#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <string>
#include <string_view>

#include "cohort/run/joblog.hpp"

namespace run = cohort::app::run;

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

// Seconds as a whole number of ms, if it fits comfortably.
bool to_millis(double seconds, std::int64_t& ms) {
  if (!(std::fabs(seconds) < 1e12)) return false;
  ms = std::llround(seconds * 1000);
  return true;
}

// The writer takes nanosecond clocks: about ±292 years around 1970.
bool in_clock_range(std::int64_t start_ms, std::int64_t runtime_ms) {
  constexpr std::int64_t max_ms = 9'000'000'000'000;
  return start_ms <= max_ms && start_ms >= -max_ms && runtime_ms <= max_ms;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  run::joblog_contents log;
  try {
    log = run::parse_joblog(text, "fuzz");
  } catch (const run::joblog_error&) {
    return 0;
  }

  std::string rewritten(run::joblog_header);
  rewritten += '\n';
  std::size_t kept = 0;
  for (const auto& r : log.records) {
    check(r.seq >= 1);
    check(!r.host.empty());
    std::int64_t start_ms = 0;
    std::int64_t runtime_ms = 0;
    if (!to_millis(r.start_time, start_ms) || !to_millis(r.runtime, runtime_ms)) continue;
    if (!in_clock_range(start_ms, runtime_ms)) continue;
    run::joblog_entry e;
    e.seq = r.seq;
    e.host = r.host;
    e.start = std::chrono::system_clock::time_point(std::chrono::milliseconds(start_ms));
    e.runtime = std::chrono::milliseconds(runtime_ms < 0 ? 0 : runtime_ms);
    e.send = r.send;
    e.receive = r.receive;
    e.exit_value = r.exit_value;
    e.signal = r.signal;
    e.command = r.command;
    run::append_joblog_line(rewritten, e);
    ++kept;
  }
  auto again = run::parse_joblog(rewritten, "rewritten");
  check(again.has_header);
  check(!again.ignored_incomplete_line);
  check(again.records.size() == kept);
  std::size_t i = 0;
  for (const auto& r : log.records) {
    std::int64_t start_ms = 0;
    std::int64_t runtime_ms = 0;
    if (!to_millis(r.start_time, start_ms) || !to_millis(r.runtime, runtime_ms)) continue;
    if (!in_clock_range(start_ms, runtime_ms)) continue;
    const auto& a = again.records[i++];
    check(a.seq == r.seq && a.host == r.host && a.send == r.send && a.receive == r.receive);
    check(a.exit_value == r.exit_value && a.signal == r.signal && a.command == r.command);
  }

  std::map<std::uint64_t, std::string> last_command;
  for (const auto& r : log.records) last_command[r.seq] = r.command;
  for (auto mode : {run::resume_mode::resume, run::resume_mode::resume_failed}) {
    run::resume_filter filter(log, mode);
    check(filter.skipped_jobs() <= filter.logged_jobs());
    for (const auto& r : log.records) {
      (void)filter.skip(r.seq, std::nullopt);
      // A Seq is compared with the command of its last line: that one never "changed".
      (void)filter.skip(r.seq, last_command[r.seq]);
      if (!r.command.empty()) {
        try {
          (void)filter.skip(r.seq, r.command + "x");
        } catch (const run::input_changed_error&) {
        }
      }
    }
    try {
      filter.check_total(log.records.size());
    } catch (const run::input_changed_error&) {
    }
  }
  return 0;
}
