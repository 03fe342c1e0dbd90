#pragma once
// GNU parallel's replacement strings as `cohort run` finds them in a command
// word: their names (renamed by -I and friends, more of them with --plus),
// the order GNU looks for them in, and what each does to an input value.

#include <cstddef>
#include <cstdint>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

namespace cohort::app::run {

/// The path transforms of the replacement strings, with GNU parallel's exact
/// semantics (its Perl expressions, including what they do to values that
/// contain a newline):
///
/// - `{.}`  no_extension: drops the last `.` and what follows it, if no `/`
///          follows it: `a.tar.gz` -> `a.tar`, `.bashrc` -> ``, `a.b/c` unchanged.
/// - `{/}`  basename: drops everything up to the last `/`: `a/b/` -> ``, `/` -> ``.
/// - `{//}` dirname, as Perl's File::Basename::dirname: `a/b/` -> `a`, `a` -> `.`,
///          `/a` -> `/`, `` -> `.`.
/// - `{/.}` basename, then no_extension.
///
/// With --plus (`{} = {+/}/{/} = {.}.{+.} = {..}.{+..} = {...}.{+...}`):
///
/// - `{..}` `{...}` drop the last two (three) extensions, if the value ends
///          in that many (`a.tar.gz` -> `a`); else unchanged.
/// - `{/..}` `{/...}` basename, then that.
/// - `{+/}` the directory part: up to the last `/` (`a/b/c` -> `a/b`), or ``.
/// - `{+.}` after the last `.` (`a.tar.gz` -> `gz`, `a` -> ``).
/// - `{+..}` `{+...}` the last two (three) extensions (`a.tar.gz` -> `tar.gz`), or ``.
enum class path_part {
  whole,
  no_extension,
  basename,
  dirname,
  basename_no_extension,
  no_extension2,
  no_extension3,
  basename_no_extension2,
  basename_no_extension3,
  directory_part,
  extension,
  extension2,
  extension3,
};

/// Applies a path transform to `value`; returns the result as a new string.
///
///   apply_path_part(path_part::dirname, "a/b.c") == "a"
[[nodiscard]] std::string apply_path_part(path_part part, std::string_view value);

/// The names of the replacement strings of one run: GNU parallel's, as the
/// options rename them, and whether --plus adds its own. A renamed string
/// loses its positional forms unless the new name starts with `{` (as in
/// GNU: with `-I XX`, `{1}` is plain text; with `-I {a}`, `{1a}` is `{1}`).
struct replacement_names {
  std::string all = "{}";                      ///< -I, --replace, -i
  std::string no_extension = "{.}";            ///< --extensionreplace, --er
  std::string basename = "{/}";                ///< --basenamereplace, --bnr
  std::string dirname = "{//}";                ///< --dirnamereplace, --dnr
  std::string basename_no_extension = "{/.}";  ///< --basenameextensionreplace, --bner
  std::string seq = "{#}";                     ///< --seqreplace
  std::string slot = "{%}";                    ///< --slotreplace
  bool plus = false;                           ///< --plus

  friend bool operator==(const replacement_names&, const replacement_names&) = default;
};

namespace detail {

/// What a replacement string stands for.
enum class rpl_action : std::uint8_t {
  path,             ///< the value, transformed by a path_part
  seq,              ///< {#}: the job's sequence number
  slot,             ///< {%}: its slot
  total_jobs,       ///< {##}: the number of jobs
  seq_padded,       ///< {0#}: {#} with zeros, as wide as the number of jobs
  slot_padded,      ///< {0%}: {%} with zeros, as wide as the number of slots
  slot_var,         ///< {slot}: ${PARALLEL_JOBSLOT}, unquoted
  if_false,         ///< {:-str}: str if the value is empty or "0" (Perl's ||=)
  drop_first,       ///< {:n}: without its first n bytes
  substring,        ///< {:p:n}: n bytes from p
  cut_prefix,       ///< {#re}: without the shortest prefix matching re
  cut_prefix_long,  ///< {##re}: without the longest
  cut_suffix,       ///< {%re}: without the shortest suffix matching re
  cut_suffix_long,  ///< {%%re}: without the longest
  replace_first,    ///< {/re/str}
  replace_start,    ///< {/#re/str}: a match at the start
  replace_end,      ///< {/%re/str}: a match at the end
  replace_all,      ///< {//re/str}
  upper_start,      ///< {^re}: a match at the start upper-cased
  upper_all,        ///< {^^re}: every match
  lower_start,      ///< {,re}
  lower_all,        ///< {,,re}
};

/// True for the replacement strings whose value does not depend on the
/// arguments: written once per job, not once per argument.
[[nodiscard]] constexpr bool is_constant(rpl_action a) noexcept {
  return a == rpl_action::seq || a == rpl_action::slot || a == rpl_action::total_jobs ||
         a == rpl_action::seq_padded || a == rpl_action::slot_padded || a == rpl_action::slot_var;
}

/// One replacement string of a command word, with the parameters of a
/// dynamic --plus string ({:-str}, {%re}...).
struct rpl_spec {
  rpl_action action = rpl_action::path;
  path_part part = path_part::whole;
  std::string text;               ///< {:-str}'s str, {/re/str}'s str
  std::size_t n1 = 0, n2 = 0;     ///< {:n}, {:p:n}
  std::vector<std::regex> regex;  ///< the re of {#re} ... (one, when used)
};

/// A replacement string found in a word: where, and which.
struct rpl_found {
  std::size_t begin = 0, end = 0;
  rpl_spec spec;
  /// positional: {N...}; 1-based, negative from the end; out of range: nothing.
  bool positional = false;
  std::int64_t position = 0;
};

/// Finds every replacement string of `word` as GNU parallel does: each name,
/// longest first, is replaced throughout the word (never inside one found
/// before), then its positional form `{N...}` (names that start with `{`).
/// Returned in the word's order. Throws usage_error for a --plus string
/// cohort does not have ({choose_k}, {uniq}, {host}...) or a regular
/// expression that does not compile.
[[nodiscard]] std::vector<rpl_found> find_replacement_strings(std::string_view word,
                                                              const replacement_names& names);

/// Writes the value of a replacement string that depends on an argument
/// (not is_constant) for argument `v`; may use `scratch`. Throws
/// usage_error when a --plus regular expression would read more than 8 KiB
/// (std::regex recurses per byte: a longer value could overflow the stack).
[[nodiscard]] std::string_view transform(const rpl_spec& spec, std::string_view v,
                                         std::string& scratch);

}  // namespace detail
}  // namespace cohort::app::run
