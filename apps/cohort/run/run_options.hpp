#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace cohort::app::run {

/// A value given to an option of `cohort run` is not valid. what() is one
/// line naming the option, the value and what was expected, e.g.
/// "--halt: 'now,fial=1': expected fail=, success= or done= after 'now,'".
class option_error : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

/// `--halt`: when to stop starting jobs (GNU parallel's grammar).
///
/// `never` (default) | `now|soon,fail|success|done=N` | `...=P%`; the short
/// forms `0` (never), `1` (soon,fail=1), `2` (now,fail=1), `-1`
/// (soon,success=1), `-2` (now,success=1) and `P%` (soon,fail=P%).
/// GNU's rule, for the runner: the condition holds once the number of jobs
/// that failed / succeeded / finished reaches `count`, or `percent` of the
/// total number of jobs. `soon` then starts no new job and waits for the
/// running ones; `now` also kills the running ones with the --term-seq.
///
///   auto h = parse_halt("soon,fail=20%");  // timing::soon, condition::fail, percent 20
struct halt_policy {
  enum class timing { never, soon, now };
  enum class condition { fail, success, done };

  timing when = timing::never;
  condition on = condition::fail;
  std::uint64_t count = 0;  ///< N >= 1; 0 when percent is used or `when` is never
  double percent = 0;       ///< P, a whole number in 1..100; 0 when count is used

  friend bool operator==(const halt_policy&, const halt_policy&) = default;
};

/// Parses a --halt value. Throws option_error.
[[nodiscard]] halt_policy parse_halt(std::string_view text);

/// The canonical text of a halt_policy ("never", "now,fail=1", "soon,done=20%").
[[nodiscard]] std::string to_string(const halt_policy& policy);

/// One step of a termination sequence: send `signal` to the job's process
/// group, then wait up to `wait` for it to exit.
struct term_step {
  int signal = 0;
  std::chrono::nanoseconds wait{};

  friend bool operator==(const term_step&, const term_step&) = default;
};

/// `--term-seq`: how a job is killed on --timeout, --halt now, or interruption.
/// The text is `SIGNAL,MS,SIGNAL,MS,...`: signal names with or without `SIG`
/// (any case) or numbers; waits in milliseconds (decimals allowed). As in GNU
/// parallel, the last signal may have no wait (it then waits 0 ms) and the
/// sequence need not end with KILL; the runner should still SIGKILL a group
/// that outlives its sequence, since no job process may survive `cohort run`.
///
///   parse_term_seq("TERM,200,KILL,25") == {{SIGTERM, 200ms}, {SIGKILL, 25ms}}
struct term_sequence {
  std::vector<term_step> steps;

  /// GNU parallel's default: TERM,200,TERM,100,TERM,50,KILL,25.
  [[nodiscard]] static term_sequence gnu_default();

  friend bool operator==(const term_sequence&, const term_sequence&) = default;
};

/// Parses a --term-seq value. Throws option_error.
[[nodiscard]] term_sequence parse_term_seq(std::string_view text);

/// The canonical text of a term_sequence ("TERM,200,KILL,25").
[[nodiscard]] std::string to_string(const term_sequence& sequence);

/// Parses a duration as GNU parallel's --timeout accepts it: seconds
/// (`30`, `1.5`), or numbers each followed by a unit s, m, h or d, any case,
/// summed (`2s`, `3m`, `1h`, `1d`, `1h30m`, `1d3.5h16.6m4s`). Resolution is
/// the nanosecond; at most about 292 years. `option` names the option in the
/// error ("--delay"). Throws option_error.
///
///   parse_duration("1m30s", "--delay") == 90s
[[nodiscard]] std::chrono::nanoseconds parse_duration(std::string_view text,
                                                      std::string_view option);

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

/// Parses a --timeout value (parse_duration's grammar or `P%`). Throws option_error.
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
