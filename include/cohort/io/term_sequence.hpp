#pragma once
/// \file
/// A termination sequence: the signals sent to a process group that should
/// end, and how long to wait after each (GNU parallel's `--term-seq`). Used
/// by `cohort::terminate`/`supervise` (process.hpp), the process guardian,
/// and `cohort run --term-seq`: one grammar, one text form.

#include <cohort/scheduler.hpp>

#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace cohort {

/// One step of a termination sequence: send `signal`, then wait up to `wait`.
struct term_step {
  int signal;
  duration wait;

  friend bool operator==(const term_step&, const term_step&) = default;
};

/// A termination sequence (GNU parallel's `--term-seq`).
using term_sequence = std::vector<term_step>;

/// `TERM,200,TERM,100,TERM,50,KILL,25`, GNU parallel's default.
term_sequence default_term_sequence();

/// What `parse_term_sequence` throws: `what()` is
/// "termination sequence 'TEXT': REASON", `reason()` the part after the
/// colon (for a tool that names its own option instead).
class term_sequence_error : public std::invalid_argument {
 public:
  term_sequence_error(std::string_view text, std::string reason);
  /// Why the text is not a sequence, e.g. "'FOO' is not a signal (...)".
  const std::string& reason() const noexcept { return reason_; }

 private:
  std::string reason_;
};

/// Parses GNU parallel's `--term-seq` syntax: `SIGNAL,MS,SIGNAL,MS...`. A
/// signal is a name in any case, with or without `SIG` (`TERM`, `sigterm`),
/// or a number from 1 to SIGRTMAX; a wait is in milliseconds, fractions
/// allowed down to nanoseconds (`12.5`); a trailing signal without a wait
/// waits 0 ms. Throws `term_sequence_error` naming the bad element.
///
///     auto seq = cohort::parse_term_sequence("INT,500,KILL,25");
term_sequence parse_term_sequence(std::string_view text);

/// The text `parse_term_sequence` reads back to the same sequence: signal
/// names where known, waits in milliseconds with the fraction only where
/// there is one ("TERM,200,KILL,12.5").
std::string to_string(const term_sequence& seq);

/// The sum of `seq`'s waits, saturating at `duration::max()` ("no limit"):
/// how long delivering the whole sequence may take. A step that waits
/// `duration::max()` (until the group is gone) makes it unbounded.
duration total_wait(const term_sequence& seq) noexcept;

/// `a + b` for waits, saturating at `duration::max()` instead of overflowing.
constexpr duration saturating_add(duration a, duration b) noexcept {
  return b > duration::max() - a ? duration::max() : a + b;
}

}  // namespace cohort
