#pragma once
// How `cohort run` prints its jobs' output: grouped per job as each ends
// (the default), in input order (-k), or line by line as it comes
// (--line-buffer); each line after the job's tag with --tag or --tagstring.

#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace cohort::app::run {

/// Where and how jobs' output is printed.
struct output_style {
  bool keep_order = false;   ///< -k
  bool line_buffer = false;  ///< --line-buffer
  std::FILE* out = stdout;
  std::FILE* err = stderr;
};

/// Prints each job's output once the job is over (or, with --line-buffer,
/// its complete lines as they come). With -k, a job's output waits until
/// every earlier job has printed or is known to print nothing; with -k and
/// --line-buffer (GNU parallel's), the lines of the oldest job not yet
/// printed come as they come, and a later job's are held until it is the
/// oldest (then what it printed so far comes out at once).
///
/// A job's tag (--tag: its arguments; --tagstring: that string expanded)
/// comes with its output, tab included; an empty tag prints the lines as
/// they are.
///
///     job_printer p(style, [&] { bar.clear(); });
///     p.job_ended(seq, "a\t", out, err);
class job_printer {
 public:
  /// `before_write` is called before anything is written (to erase a
  /// progress bar); may be empty.
  job_printer(output_style style, std::function<void()> before_write);

  /// The output of job `seq` (each line after `tag`), now that it is over,
  /// however it ended.
  void job_ended(std::uint64_t seq, const std::string& tag, std::string out, std::string err);
  /// Job `seq` prints nothing (--resume skipped it): -k does not wait for it.
  void job_skipped(std::uint64_t seq);
  /// --line-buffer: a sink for one stream of job `seq` that prints each
  /// complete line at once (with -k, once the job is the oldest); a last
  /// line without its newline stays in `partial` (printed with the job's
  /// output when it ends). `tag` and `partial` must outlive the sink.
  std::function<void(std::string_view)> line_sink(std::uint64_t seq, const std::string& tag,
                                                  std::string& partial, bool to_err);
  /// Prints every output still held by -k (after an interruption).
  void flush();
  /// Writes one message line to the error stream.
  void message(std::string_view line);
  /// Writes `text` to the output stream at once (-u: -v's command).
  void write_through(std::string_view text);

 private:
  struct held {
    std::string tag;
    std::string out, err;
  };
  void write(const std::string& tag, const std::string& out, const std::string& err);
  // -k: prints what is held for the oldest jobs, in order, up to the first
  // one not over (with --line-buffer, its lines so far: it is the oldest).
  void print_in_order();
  void write_tagged(std::FILE* f, const std::string& tag, std::string_view text);

  output_style style_;
  std::function<void()> before_write_;
  std::map<std::uint64_t, held> held_;  // -k: outputs (or lines) waiting for earlier jobs
  std::set<std::uint64_t> settled_;     // -k: seqs with nothing (more) to print
  std::uint64_t next_to_print_ = 1;
};

}  // namespace cohort::app::run
