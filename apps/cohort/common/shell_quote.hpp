#pragma once

/// \file
/// Shell quoting shared by both tools: `cohort run` quotes each input it puts
/// into a command, and both tools quote the command line they print as a
/// resume hint.

#include <string>
#include <string_view>

namespace cohort::app {

/// Appends `value` quoted for /bin/sh exactly as GNU parallel quotes it, so
/// the shell reads back the same bytes and expands nothing: a value made only
/// of `A-Za-z0-9 - _ . + /` is left as it is, the empty string becomes `''`,
/// anything else is put in single quotes (a `'` inside becomes `'"'"'`, and
/// the `''` this leaves at either end is dropped).
///
///   std::string s;
///   append_shell_quoted(s, "it's");  // s == "'it'\"'\"'s'"
void append_shell_quoted(std::string& out, std::string_view value);

/// append_shell_quoted into a new string.
[[nodiscard]] std::string shell_quote(std::string_view value);

}  // namespace cohort::app
