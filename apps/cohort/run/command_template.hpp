#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace cohort::app::run {

/// The path transforms of the replacement strings, with GNU parallel's exact
/// semantics (its Perl expressions, including what they do to values that
/// contain a newline):
///
/// - `{.}`  remove_extension: drops the last `.` and what follows it, if no `/`
///          follows it: `a.tar.gz` -> `a.tar`, `.bashrc` -> ``, `a.b/c` unchanged.
/// - `{/}`  basename: drops everything up to the last `/`: `a/b/` -> ``, `/` -> ``.
/// - `{//}` dirname, as Perl's File::Basename::dirname: `a/b/` -> `a`, `a` -> `.`,
///          `/a` -> `/`, `` -> `.`.
/// - `{/.}` basename, then remove_extension.
enum class path_part { whole, no_extension, basename, dirname, basename_no_extension };

/// Applies a path transform to `value`; returns the result as a new string.
///
///   apply_path_part(path_part::dirname, "a/b.c") == "a"
[[nodiscard]] std::string apply_path_part(path_part part, std::string_view value);

/// A compiled command template: the command of `cohort run` with its
/// replacement strings located once, so expanding it for a job is a single
/// pass of appends (no parsing, no regex).
///
/// Replacement strings (GNU parallel's): `{}` `{.}` `{/}` `{//}` `{/.}` stand
/// for every argument of the job, transformed, each quoted, joined by a space;
/// `{N}` `{N.}` `{N/}` `{N//}` `{N/.}` for the argument from source N (1-based;
/// `{-N}` counts from the last source; out of range: nothing); `{#}` the job's
/// sequence number; `{%}` its slot. Anything else in braces, `{0}` included,
/// is literal text.
///
/// Quoting: every substituted argument is shell-quoted (append_shell_quoted),
/// so no input can inject shell code -- except when a replacement string is
/// part of the command's first word (no space, tab, newline or `=` before it,
/// e.g. `{}` or `{1} {2}` or `my_{}`): then the input IS the command and GNU
/// parallel inserts it unquoted, and so does this. A template without any
/// replacement string gets the job's arguments appended, each quoted,
/// separated by spaces. With no command at all, each input is the whole
/// command (unquoted): that is the template `{}`.
///
///   auto t = command_template::compile("convert {} {.}.png");
///   t.expand(std::vector<std::string>{"my pic.jpg"}, 1, 1);
///   // == "convert 'my pic.jpg' 'my pic'.png"
class command_template {
 public:
  /// Compiles a command string. Never fails: unknown braces are literal text.
  [[nodiscard]] static command_template compile(std::string_view command,
                                                bool context_replace = false);

  /// Compiles command words as GNU parallel does: joined by single spaces,
  /// not quoted. No words: each input is the whole command (the template `{}`).
  [[nodiscard]] static command_template from_words(std::span<const std::string> words,
                                                   bool context_replace = false);

  /// --header: `text` with the column names as positions, as GNU parallel
  /// rewrites them: `{name}` becomes `{N}` (and `{name.}` `{N.}`, likewise
  /// for `/`, `//`, `/.`) where `name` is names[N-1]; names in order, each
  /// rewritten everywhere before the next.
  ///
  ///   rename_columns("echo {b} {a.}", {"a", "b"}) == "echo {2} {1.}"
  [[nodiscard]] static std::string rename_columns(std::string_view text,
                                                  std::span<const std::string> names);

  /// Writes the command for one job into `out` (replacing its contents,
  /// reusing its capacity). `args` holds one value per input source.
  void expand_into(std::string& out, std::span<const std::string> args, std::uint64_t seq,
                   std::size_t slot) const;

  /// expand_into a new string.
  [[nodiscard]] std::string expand(std::span<const std::string> args, std::uint64_t seq,
                                   std::size_t slot) const;

  /// -X/-m: how much one more argument `arg` lengthens the command: each
  /// `{}` (or repeated word, in context mode) gets it, quoted, and a blank.
  [[nodiscard]] std::size_t argument_length(const std::string& arg) const;

  /// The command text this template was compiled from.
  [[nodiscard]] const std::string& text() const noexcept { return text_; }

  /// False when the template has no replacement string (the arguments are appended).
  [[nodiscard]] bool has_replacement_strings() const noexcept { return has_rpl_; }
  /// --pipe: nothing is appended to a template without replacement strings
  /// (a job's input is its standard input, as in GNU parallel).
  void append_no_arguments() noexcept { append_ = false; }

  /// False when substituted values are inserted unquoted (see the class comment).
  [[nodiscard]] bool quotes_values() const noexcept { return quote_; }

  /// True when the template uses `{%}`: its expansion then depends on the slot,
  /// which a resumed run cannot reproduce (see resume_filter).
  [[nodiscard]] bool uses_slot() const noexcept { return uses_slot_; }

 private:
  enum class piece_kind : std::uint8_t { literal, blank, all_args, one_arg, seq, slot };
  struct piece {
    piece_kind kind;
    path_part part = path_part::whole;
    std::int32_t position = 0;  // one_arg: 1-based, negative from the end
    std::size_t offset = 0;     // literal: where in text_
    std::size_t length = 0;
  };

  std::string text_;
  std::vector<piece> pieces_;
  bool has_rpl_ = false;
  bool append_ = true;  // without replacement strings, append the arguments
  bool quote_ = true;
  bool uses_slot_ = false;
  bool context_ = false;

  void split_blanks();
  void expand_piece(std::string& out, const piece& p, std::span<const std::string> args,
                    const std::string* arg, std::uint64_t seq, std::size_t slot,
                    std::string& scratch) const;
};

}  // namespace cohort::app::run
