#pragma once
// GNU parallel's options that `cohort run` does not have, each with the one
// line that says why and what to use instead: a command line written for GNU
// parallel never ends in "unknown option" for an option GNU documents.

#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace cohort::app::run {

/// One row of the table: GNU parallel's spellings of one or more options,
/// separated by spaces ("--sshlogin -S --sshloginfile --slf"), and why
/// cohort run does not have them / what to use instead.
struct unsupported_gnu_option {
  std::string_view names;
  std::string_view why;
};

/// Every GNU parallel 20221122 option that cohort run does not support, in
/// one table (gnu_options.cpp).
[[nodiscard]] std::span<const unsupported_gnu_option> unsupported_gnu_options();

/// The error for `word`, the first word CLI11 did not take as one of ours,
/// when it is an option of GNU parallel that cohort run does not support:
/// "--sshlogin is not supported: cohort run runs its jobs on this machine;
/// ...". `--opt=value` and `-Xvalue` are matched by their option. nullopt
/// for any other word.
///
///   unsupported_option_message("-S") -> "-S (--sshlogin) is not supported: ..."
[[nodiscard]] std::optional<std::string> unsupported_option_message(std::string_view word);

/// Throws usage_error if a word of the command holds a GNU parallel Perl
/// expression, `{= ... =}` (cohort has no Perl): the refusal says to compute
/// the value in the shell command instead.
void refuse_perl_expressions(std::span<const std::string> command);

}  // namespace cohort::app::run
