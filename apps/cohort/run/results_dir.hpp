#pragma once
// `cohort run --results NAME`: where each job's output is saved, in GNU
// parallel 20221122's layout.

#include "cohort/run/command_template.hpp"

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace cohort::app::run {

/// The files of one job under --results.
struct result_paths {
  std::string out;  ///< its standard output
  std::string err;  ///< its standard error
  std::string seq;  ///< its sequence number (no newline)
};

/// `--results NAME` (GNU parallel's): each job's standard output, standard
/// error and sequence number saved in files, which it writes instead of
/// printing the output. Three forms, as GNU's man page says:
///
/// - NAME without replacement strings: a tree rooted at NAME,
///   `NAME/<name1>/<value1>/<name2>/<value2>/{stdout,stderr,seq}`, where the
///   names are the input sources' numbers (`1`, `2`, ...) or, with
///   --header, their column names, sorted as GNU sorts them (numerically,
///   then by text); each value has `\` `TAB` NUL and `/` written as `\\`
///   `\t` `\0` `\_`. An empty value adds no directory.
/// - NAME with replacement strings that expands to a name ending in `/`: the
///   three files in that directory.
/// - NAME with replacement strings otherwise: the output in that file, the
///   error in `<file>.err`, the sequence number in `<file>.seq`.
///
/// Directories are created as needed. NAME ending in .csv, .tsv or .json is
/// GNU's single-file form, which is not supported (results_layout::make
/// throws usage_error).
///
///   results_layout r("out", {}, 0);
///   r.paths_for({{"a", "b"}}, 7).out == "out/1/a/2/b/stdout"  // two sources
class results_layout {
 public:
  /// `name` as given to --results; `header` the column names (--header),
  /// empty for none; `width` the number of arguments of one input record
  /// (the sources), so that -N's records each name theirs; 0: all of a
  /// job's arguments are one record (one per job; --colsep's columns).
  results_layout(std::string name, std::vector<std::string> header, std::size_t width);

  /// Where the output of job `seq` with arguments `args` goes.
  [[nodiscard]] result_paths paths_for(std::span<const std::string> args, std::uint64_t seq) const;

  /// Writes the three files of job `seq` (creating their directories).
  /// Throws std::runtime_error naming the file that cannot be written.
  void save(std::span<const std::string> args, std::uint64_t seq, std::string_view out,
            std::string_view err) const;

 private:
  std::string column_name(std::size_t column) const;

  std::string name_;
  std::optional<command_template> tmpl_;  // NAME with replacement strings
  std::vector<std::string> header_;
  std::size_t width_;  // arguments of one record; 0: all of a job's
};

/// A value as one directory name of --results' tree (GNU's quoting: `\`
/// `\\`, TAB `\t`, NUL `\0`, `/` `\_`).
///
///   results_dir_name("a/b") == "a\\_b"
[[nodiscard]] std::string results_dir_name(std::string_view value);

/// Refuses GNU's single-file forms of --results (NAME.csv, .tsv, .json).
/// Throws usage_error.
void check_results_name(std::string_view name);

}  // namespace cohort::app::run
