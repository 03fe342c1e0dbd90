#pragma once

#include <cohort/task.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace cohort::app::run {

/// An input source could not be opened or read ("cannot read input file 'x': ...").
class input_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// One input source of `cohort run`: the values after a `:::` (literals), or the
/// lines of a file given with `:::: FILE` or `-a FILE` (`-` is standard input).
///
///   auto s = input_source::literals({"a", "b"});
///   auto f = input_source::file("list.txt");
struct input_source {
  enum class kind { literals, file };

  kind what = kind::literals;
  std::vector<std::string> values;  ///< kind::literals: the values (split at the separator
                                    ///< by input_generator, as GNU parallel)
  std::string path;                 ///< kind::file: the path; "-" is standard input
  /// Linked to the source before it (`:::+`, `::::+`): the two give their
  /// values side by side (first with first, second with second) instead of
  /// every combination, up to the shorter one's end.
  bool linked = false;

  [[nodiscard]] static input_source literals(std::vector<std::string> values);
  [[nodiscard]] static input_source file(std::string path);
  [[nodiscard]] static input_source standard_input() { return file("-"); }
};

/// The words that start input sources: `:::` and `::::` unless GNU's
/// --arg-sep / --arg-file-sep name others (each also with a `+` after it).
struct source_separators {
  std::string args = ":::";
  std::string files = "::::";
};

/// The positional part of a `cohort run` command line, split at `:::`/`::::`.
struct command_and_sources {
  std::vector<std::string> command;   ///< the command words; empty: each input is the command
  std::vector<input_source> sources;  ///< in command-line order; empty: read standard input
};

/// Splits the words after the options, `COMMAND... [::: A B] [:::: FILE...]`, as
/// GNU parallel does: `:::` starts a source of literal values, `::::` a list of
/// files that are one source each. `arg_files` (`-a FILE`, in order) become the
/// first sources, before those of `:::`/`::::`. An empty `:::`/`::::` adds nothing.
/// `:::+`/`::::+` start sources linked to the one before them (input_source::linked);
/// throws input_error when there is no source before them to link to.
/// `separators` replaces `:::` and `::::` (--arg-sep, --arg-file-sep).
///
///   auto s = split_command_line({"echo", "{}", ":::", "a", "b"});
///   // s.command == {"echo", "{}"}, s.sources[0].values == {"a", "b"}
[[nodiscard]] command_and_sources split_command_line(std::span<const std::string> words,
                                                     std::span<const std::string> arg_files = {},
                                                     const source_separators& separators = {});

/// GNU parallel's --trim: the whitespace taken off each argument before it
/// replaces a replacement string (n: none, l: leading, r: trailing, lr/rl: both).
enum class trim_mode { none, left, right, both };

/// How input files are read.
struct input_options {
  /// Ends one value in an input file: '\n', or '\0' for `-0`/`--null`. A last
  /// value without a separator still counts; a separator at the very end does
  /// not make an extra empty value. Nothing else is stripped: a "\r" of CRLF
  /// input stays part of the value, and empty lines are values (as GNU parallel).
  char separator = '\n';
  /// `-d` of several characters (GNU's `-d '\r\n'`): the characters before
  /// `separator` in it; a value ends where the whole delimiter does.
  std::string delimiter_head{};
  /// The descriptor read for the path "-" (tests pass a pipe). Not closed.
  int stdin_fd = 0;
  /// `-E EOF`: a value equal to this ends its source (it and what follows are
  /// not inputs), for `:::` values as for files.
  std::optional<std::string> eof_string{};
  /// `-r`/`--no-run-if-empty`: a value of only whitespace (after -L's joining)
  /// is skipped, as if it were not there (GNU parallel's rule, per source).
  bool skip_blank = false;
  /// `--trim`: whitespace taken off every argument (each column with --colsep).
  trim_mode trim = trim_mode::none;
  /// `-L`/`-l`: a value ending in whitespace continues with the next one
  /// (they are joined, as xargs and GNU parallel do).
  bool continue_lines = false;
  /// `-N`/`-n`/`-L`/`-l`: how many records (one value of each source) make
  /// one job, their values side by side; the last job may have fewer. 0 (`-N0`):
  /// one record per job, but none of its values are arguments.
  std::uint64_t records_per_job = 1;
  /// `--colsep REGEXP` (ECMAScript syntax, close to Perl's for the usual
  /// separators): each value is split into columns, which are the job's
  /// arguments (`{1}` the first column of the first source...). As in GNU
  /// parallel, empty fields stay (`a,,b` has three columns), a separator that
  /// matches nothing splits between characters, and each column is trimmed
  /// of leading and trailing whitespace.
  std::optional<std::string> colsep{};
  /// With colsep: columns lose their leading and trailing whitespace (GNU's
  /// --trim lr, the default with --colsep; not when --header alone splits at tabs).
  bool trim_columns = true;
  /// `--link`: all sources give their values side by side, the shorter ones
  /// starting over until the longest one ends (GNU parallel's --link).
  bool link = false;
  /// `--header`: the first value of each source is not an input but names its
  /// columns (split by `colsep`, or by tabs without it): see header_names().
  bool header = false;
  /// `--header 0`: no value is a header; the paths of the file sources name
  /// them instead, numbered in order among the files (GNU parallel's rule:
  /// `{f}` for the first file is `{1}`, even after a `:::` source).
  bool header_paths = false;
  /// `--shuf`: the jobs run in a random order. Reads every input up front.
  bool shuffle = false;
  /// `{##}` (the number of jobs): every input is read before the first job,
  /// in order (GNU parallel does so for {##}); total_jobs() then reads them.
  bool read_all = false;
};

/// The arguments of one job: one value per source, in source order (with
/// --colsep, one per column; with -N, those of each record in turn).
struct job_input {
  std::uint64_t seq = 0;          ///< 1-based job sequence number, `{#}`
  std::vector<std::string> args;  ///< args[i] comes from source i
};

/// -X/-m: how many records fit one command line (GNU parallel's rule): a
/// job takes records while the command stays shorter than `max_length`
/// (`base_length` plus arg_length() of each argument); a single record
/// longer than that is an error. With `spread`, at the end of the input the
/// last job's records are spread evenly over `slots` jobs (once).
struct command_line_fill {
  std::function<std::size_t(const std::string&)> arg_length;
  std::size_t base_length = 0;
  std::size_t max_length = 0;
  std::size_t slots = 1;
  bool spread = true;
  std::uint64_t max_records = 0;  ///< also at most this many records a job (-N); 0: no limit
};

/// A lazy generator of jobs' arguments: every combination of one value from
/// each source, the LAST source varying fastest (`::: a b ::: 1 2` gives
/// a 1, a 2, b 1, b 2), numbered from 1.
///
/// Memory is O(values of the sources after the first): those are read whole at
/// construction, because every value of the first source combines with all of
/// them. The first source is streamed a value at a time when it is a file (or
/// standard input) not linked to another, so `cat huge | cohort run` never
/// holds the input; only --shuf reads every input before the first job.
///
/// Linked sources (`:::+`, or all with --link) give one value of each side by
/// side; such a group counts as one source in the combinations.
///
/// Like GNU parallel, when several sources are given and some (not all) of them
/// are empty, an empty source counts as a single empty value; when every source
/// is empty there are no jobs.
///
/// Errors: the constructor throws input_error if a file cannot be opened or a
/// later source cannot be read; next() throws input_error on a read error of
/// the streamed first source. Move-only (owns the descriptor of the first file).
///
///   input_generator gen({input_source::literals({"a", "b"}), input_source::file("f")});
///   job_input job;
///   while (gen.next(job)) run(job.seq, job.args);
class input_generator {
 public:
  explicit input_generator(std::vector<input_source> sources, input_options options = {});
  input_generator(input_generator&&) noexcept;
  input_generator& operator=(input_generator&&) noexcept;
  ~input_generator();

  /// Produces the next job into `job` (reusing its strings' capacity) and
  /// returns true, or returns false when there are no more jobs. Blocks the
  /// thread when the first source waits for input (see may_wait()).
  bool next(job_input& job);

  /// As next(), but a wait for input of the first source is a cancellable
  /// wait on the loop (cohort::fd_reader::read): other tasks run meanwhile,
  /// and a cancel (Ctrl+C, a halt) ends it at once, losing nothing (the
  /// generator can be used again). Run it on the Asio runtime. Throws
  /// input_error on a read error.
  ///
  ///   while (co_await gen.next_async(job)) start(job);
  [[nodiscard]] task<bool> next_async(job_input& job);

  /// The number of jobs in all, if it can be known without consuming the
  /// input: the first source is literals, or a regular file (counted once by a
  /// scan, on the first call). For standard input or a pipe it is known only
  /// once next() has returned false. Never changes what next() produces.
  [[nodiscard]] std::optional<std::uint64_t> total_jobs();

  /// True when next() may wait for input still to come: the first source is
  /// a pipe, a FIFO, a socket or a terminal (not literals, a regular file or
  /// /dev/null).
  [[nodiscard]] bool may_wait() const noexcept;

  /// Jobs produced so far (the seq of the last one).
  [[nodiscard]] std::uint64_t produced() const noexcept;

  /// The number of sources (1 when reading standard input by default).
  [[nodiscard]] std::size_t source_count() const noexcept;

  /// True when the first values read from an input file all ended in "\r"
  /// (GNU parallel warns: "The first three values end in CR-NL").
  [[nodiscard]] bool crlf_suspected() const noexcept;

  /// -X/-m: fill each job's command line instead of input_options::records_per_job.
  /// Call before the first next(). Then total_jobs() is known only at the end.
  void fill_command_lines(command_line_fill how);

  /// With input_options::header: the names of the arguments, in order (the
  /// first is `{1}`); read at construction. Empty otherwise.
  [[nodiscard]] const std::vector<std::string>& header_names() const noexcept;

 private:
  struct state;
  std::unique_ptr<state> state_;
};

}  // namespace cohort::app::run
