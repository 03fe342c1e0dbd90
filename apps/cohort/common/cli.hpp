#pragma once

/// \file
/// What both tools' command lines share beyond their values: the layout of
/// `--help` and the wording of a command-line mistake. A mistake is one line
/// on stderr, "cohort TOOL: MESSAGE", where MESSAGE names the option:
///
///   cohort tiles: unknown option '--frobnicate'; see cohort tiles --help
///   cohort run: --retry-delay needs a value; see cohort run --help
///   cohort tiles: -j must be from 1 to 1,024
///
/// (values are parsed by common/option_values.hpp, with the same wording).

#include <CLI/CLI.hpp>

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cohort::app {

/// `--help` as a person reads it: the description first (it holds the
/// synopsis, "Usage:" and the command forms), the options by group with
/// their value's name but no type or range annotation, descriptions wrapped
/// to 80 columns, then the footer (examples, signals, exit status). CLI11's
/// own "Usage: cohort run [OPTIONS]" line is left out.
class help_formatter : public CLI::Formatter {
 public:
  help_formatter();
  std::string make_usage(const CLI::App* app, std::string name) const override;
  std::string make_group(std::string group, bool is_positional,
                         std::vector<const CLI::Option*> opts) const override;
  std::string make_option_name(const CLI::Option* opt, bool is_positional) const override;
  std::string make_option_opts(const CLI::Option* opt) const override;
  std::string make_option(const CLI::Option* opt, bool is_positional) const override;
};

/// Gives `app` the look both tools share: help_formatter, `-h, --help` and
/// `--version` (printing "cohort TOOL VERSION"; `version_names` are its
/// spellings) in the group "Other".
void set_up_cli(CLI::App& app, std::string_view tool,
                const std::string& version_names = "--version");

/// The option group names both tools use for what they have in common.
inline constexpr const char* other_group = "Other";

/// The message for one of CLI11's parse errors in the tools' wording (see
/// the file comment), without the "cohort TOOL: " prefix. `last_word` is the
/// command line's last word: a value can only be missing after it, and it
/// names the option as the user wrote it (`-j`, not CLI11's `--jobs`).
[[nodiscard]] std::string parse_error_message(const CLI::ParseError& error, std::string_view tool,
                                              std::string_view last_word);

/// Declares an option NAMES that takes one value, kept as text in `target`
/// (read by the tool's own parsers after CLI11), shown in --help as
/// `NAMES VALUE_NAME` in `group`.
CLI::Option* add_value(CLI::App& app, const std::string& names, std::string& target,
                       const std::string& value_name, const std::string& group,
                       const std::string& help);

/// Parses the command line with `app`, then runs `check` (which reads the
/// options' values and throws usage_error for a bad one), and reports what
/// ends the tool at once: --help and --version (their output, status 0) or a
/// mistake (one line "cohort TOOL: MESSAGE" on stderr, status `usage_exit`).
/// Returns that status, or nullopt when the options are good.
[[nodiscard]] std::optional<int> parse_command_line(CLI::App& app, std::string_view tool, int argc,
                                                    char** argv, int usage_exit,
                                                    const std::function<void()>& check);

/// "unknown option 'WORD'; see cohort TOOL --help".
[[nodiscard]] std::string unknown_option_message(std::string_view word, std::string_view tool);

/// Runs a tool's whole command, `body(argc, argv, ended_by)`, and returns
/// the status to end the process with (DESIGN.md G7): once `body` has closed
/// the tool's files and written its summary, a command that a signal
/// interrupted (`ended_by` set to it) ends by that signal, so that the shell
/// around it stops its script as it would for `sleep`; otherwise the status
/// `body` returned.
int run_to_exit_status(int (*body)(int argc, char** argv, int& ended_by), int argc, char** argv);

}  // namespace cohort::app
