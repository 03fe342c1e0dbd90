#pragma once

#include "cohort/common/option_values.hpp"

#include <cohort/io/process.hpp>
#include <cohort/runner/run_tasks.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cohort::app::run {

/// A value given to an option of `cohort run` is not valid: the usage_error
/// both tools throw. what() is one line naming the option, the value and
/// what was expected, e.g.
/// "--halt: 'now,fial=1': expected fail=, success= or done= after 'now,'".
using option_error = usage_error;

/// Parses a `--halt` value (GNU parallel's grammar) into the runner's
/// halt_policy: `never` (default) | `now|soon,fail|success|done=N` |
/// `...=P%`; the short forms `0` (never), `1` (soon,fail=1), `2`
/// (now,fail=1), `-1` (soon,success=1), `-2` (now,success=1) and `P%`
/// (soon,fail=P%). GNU's rule, for the runner: the condition holds once the
/// number of jobs that failed / succeeded / finished reaches `count`, or
/// `percent` (a whole number in 1..100) of the total number of jobs. `soon`
/// then starts no new job and waits for the running ones; `now` also kills
/// the running ones with the --term-seq. Throws option_error.
///
///   auto h = parse_halt("soon,fail=20%");  // when::soon, on::fail, percent 20
[[nodiscard]] cohort::halt_policy parse_halt(std::string_view text);

/// The canonical text of a halt_policy ("never", "now,fail=1", "soon,done=20%").
[[nodiscard]] std::string to_string(const cohort::halt_policy& policy);

/// Parses a `--term-seq` value into the cohort::term_sequence with which a
/// job is killed on --timeout, --halt now, or interruption. The text is
/// `SIGNAL,MS,SIGNAL,MS,...`: signal names with or without `SIG` (any case)
/// or numbers; waits in milliseconds (decimals allowed). As in GNU parallel,
/// the last signal may have no wait (it then waits 0 ms) and the sequence
/// need not end with KILL; the runner should still SIGKILL a group that
/// outlives its sequence, since no job process may survive `cohort run`.
/// The default is cohort::default_term_sequence() (TERM,200,TERM,100,TERM,50,KILL,25).
/// Throws option_error.
///
///   parse_term_seq("TERM,200,KILL,25") == {{SIGTERM, 200ms}, {SIGKILL, 25ms}}
[[nodiscard]] cohort::term_sequence parse_term_seq(std::string_view text);

// The canonical text of a term_sequence is cohort::to_string (found by
// argument-dependent lookup: to_string(seq)).

// Durations (--delay, --retry-delay, --timeout) are parsed by
// cohort::app::parse_duration (common/option_values.hpp), as in `cohort tiles`.

/// `--timeout`: a fixed duration, or (GNU parallel) `P%` of the median runtime
/// of the jobs that succeeded so far. `0` (any zero duration) means no timeout,
/// as in GNU parallel.
///
///   parse_timeout("200%").percent_of_median == 200
struct timeout_spec {
  enum class kind { none, fixed, percent_of_median };

  kind what = kind::none;
  std::chrono::nanoseconds fixed{};  ///< kind::fixed, > 0
  double percent_of_median = 0;      ///< kind::percent_of_median, > 0

  friend bool operator==(const timeout_spec&, const timeout_spec&) = default;
};

/// Parses a --timeout value (cohort::app::parse_duration's grammar or `P%`). Throws option_error.
[[nodiscard]] timeout_spec parse_timeout(std::string_view text);

/// `-j`/`--jobs`: how many jobs run at once (GNU parallel's grammar): `N`,
/// `0` (as many as possible), `+N`/`-N` (CPU threads plus/minus N, at least 1),
/// `P%` (P percent of the CPU threads, decimals allowed, at least 1; rounded up).
///
///   parse_jobs("+2").resolve(8) == 10
struct jobs_spec {
  enum class kind { count, unlimited, cores_plus, cores_minus, cores_percent };

  kind what = kind::cores_percent;
  std::uint64_t n = 0;   ///< count, cores_plus, cores_minus
  double percent = 100;  ///< cores_percent

  /// The number of job slots on a machine with `cpu_threads` CPU threads;
  /// std::nullopt means unlimited (`-j 0`). Never 0.
  [[nodiscard]] std::optional<std::uint64_t> resolve(std::uint64_t cpu_threads) const;

  friend bool operator==(const jobs_spec&, const jobs_spec&) = default;
};

/// Parses a -j value. Throws option_error. (GNU's "-j procfile" is not supported.)
[[nodiscard]] jobs_spec parse_jobs(std::string_view text);

/// The canonical text of a jobs_spec ("8", "0", "+2", "-1", "50%").
[[nodiscard]] std::string to_string(const jobs_spec& jobs);

}  // namespace cohort::app::run
