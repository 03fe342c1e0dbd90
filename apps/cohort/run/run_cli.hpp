#pragma once
// The command line of `cohort run`, parsed into options (GNU parallel's
// names and meanings).

#include "cohort/common/part.hpp"
#include "cohort/run/inputs.hpp"
#include "cohort/run/machine_load.hpp"
#include "cohort/run/pipe_chunks.hpp"
#include "cohort/run/replacement_strings.hpp"
#include "cohort/run/run_options.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace cohort::app::run {

struct run_cli_options {
  jobs_spec jobs{};        ///< -j
  timeout_spec timeout{};  ///< --timeout
  int retries = 0;         ///< --retries (attempts in all, as GNU)
  std::chrono::nanoseconds retry_delay{std::chrono::milliseconds(100)};  ///< --retry-delay
  cohort::halt_policy halt{};                                            ///< --halt
  std::string joblog;             ///< --joblog FILE (without the + of `+FILE`)
  bool joblog_append = false;     ///< --joblog +FILE: append to FILE (GNU parallel)
  bool resume = false;            ///< --resume
  bool resume_failed = false;     ///< --resume-failed (also set by --retry-failed)
  bool retry_failed = false;      ///< --retry-failed: the log's failed commands are the jobs
  std::optional<work_part> part;  ///< --part (none: every job); --joblog has %k and %n expanded
  cohort::term_sequence term_seq = cohort::default_term_sequence();  ///< --term-seq
  bool keep_order = false;                                           ///< -k
  bool line_buffer = false;                                          ///< --line-buffer
  bool tag = false;                                                  ///< --tag
  bool bar = false;                                                  ///< --bar
  bool eta = false;                                                  ///< --eta
  bool dry_run = false;                                              ///< --dry-run
  /// -I, --extensionreplace ... (renamed), --plus.
  replacement_names names{};
  bool quote_command = false;             ///< -q/--quote
  std::optional<std::string> tagstring;   ///< --tagstring (its \t \n... resolved)
  bool print_commands = false;            ///< -v: each command on stdout, before its output
  bool print_commands_to_stderr = false;  ///< -t/--verbose: each command on stderr as it starts
  bool ungroup = false;                   ///< -u/--ungroup: output passes straight through
  std::optional<load_spec> load;          ///< --load MAX
  std::optional<std::uint64_t> memfree;   ///< --memfree SIZE, bytes
  std::optional<int> nice;                ///< --nice N: the jobs' niceness (absolute, as GNU)
  std::vector<std::string> env_vars;      ///< --env VAR: accepted, nothing to do locally
  std::string results;                 ///< --results NAME: output saved in files (results_layout)
  std::chrono::nanoseconds delay{0};   ///< --delay
  bool null_separated = false;         ///< -0 / --null
  std::vector<std::string> arg_files;  ///< -a FILE
  source_separators separators{};      ///< --arg-sep, --arg-file-sep (::: and ::::)
  std::string workdir;                 ///< --wd DIR ("..." a temporary one per job)
  std::string tmpdir;                  ///< --tmpdir DIR: the jobs' TMPDIR (as GNU parallel)
  /// --colsep, -N/-n/-L/--max-lines, --link, --header, -d (or -0), -E, --shuf
  input_options inputs{};
  /// --pipe (or --pipepart, pipe_cut.part): each job reads a chunk of the
  /// input on its standard input, cut as --block, --recstart, --recend,
  /// --regexp and -N say.
  bool pipe = false;
  pipe_options pipe_cut{};
  /// -X (true: context replace) / -m / --xargs: fill each command line
  enum class fill_mode { none, context, plain, xargs } fill = fill_mode::none;
  bool max_records_given = false;
  std::optional<std::size_t>
      max_chars;  ///< -s: the -X/-m line length  ///< -N/-n/-L given: a cap for -X/-m too
  bool context_replace = false;    ///< -N or -L: a word with {} is repeated per argument
  std::vector<std::string> words;  ///< COMMAND [ARGS] [::: ...] [:::: ...]
};

/// Parses `cohort run`'s arguments (argv[0] is "run"). Returns the options,
/// or an exit code when the command line asked for --help/--version or was
/// wrong (the message is already printed).
struct parse_result {
  std::optional<run_cli_options> options;
  int exit_code = 0;
};
parse_result parse_run_cli(int argc, char** argv);

}  // namespace cohort::app::run
