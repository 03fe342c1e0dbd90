#pragma once

#include "cohort/run/replacement_strings.hpp"

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace cohort::app::run {

/// How a command template is compiled: the options of `cohort run` that
/// change what its replacement strings are and how values are quoted.
struct template_options {
  /// -N, -L, -X: a word holding a replacement string is repeated for each
  /// argument, blank-separated.
  bool context_replace = false;
  /// -I, --extensionreplace ... (renamed) and --plus (more of them).
  replacement_names names{};
  /// -q/--quote: every word of the command is shell-quoted after the values
  /// are put in (unquoted), so the command runs without the shell's
  /// interpretation: `-q echo 'a b' {}` runs `echo 'a b' 'VALUE'`. Values
  /// that are several arguments become several words.
  bool quote_words = false;
  /// --tagstring: nothing is quoted (the text is printed, not run), and a
  /// text without replacement strings gets no arguments appended.
  bool is_tag = false;
};

/// A compiled command template: the command of `cohort run` with its
/// replacement strings located once, so expanding it for a job is a single
/// pass of appends (no parsing of the command again).
///
/// Replacement strings (GNU parallel's, found as GNU finds them: see
/// detail::find_replacement_strings): `{}` `{.}` `{/}` `{//}` `{/.}` stand
/// for every argument of the job, transformed, each quoted, joined by a space;
/// `{N}` `{N.}` `{N/}` `{N//}` `{N/.}` for the argument from source N (1-based;
/// `{-N}` counts from the last source; out of range: nothing; `{0}` is `{}`);
/// `{#}` the job's sequence number; `{%}` its slot. With --plus, more:
/// `{..}` `{+.}` `{##}` `{:-str}` `{%re}`... (replacement_strings.hpp). Other
/// braces are literal text. -I and friends rename them (template_options).
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
  /// Compiles a command string as one word. Unknown braces are literal
  /// text. Throws usage_error only for a --plus string cohort does not have
  /// or a --plus regular expression that does not compile.
  [[nodiscard]] static command_template compile(std::string_view command,
                                                bool context_replace = false);
  [[nodiscard]] static command_template compile(std::string_view command,
                                                const template_options& options);

  /// Compiles command words as GNU parallel does: each word searched for
  /// replacement strings on its own, then joined by single spaces, not
  /// quoted (-q: each quoted). No words: each input is the whole command
  /// (the template `{}`, whatever -I names it).
  [[nodiscard]] static command_template from_words(std::span<const std::string> words,
                                                   bool context_replace = false);
  [[nodiscard]] static command_template from_words(std::span<const std::string> words,
                                                   const template_options& options);

  /// --header: `text` with the column names as positions, as GNU parallel
  /// rewrites them: `{name}` becomes `{N}` (and `{name.}` `{N.}`, likewise
  /// for `/`, `//`, `/.`) where `name` is names[N-1]; names in order, each
  /// rewritten everywhere before the next.
  ///
  ///   rename_columns("echo {b} {a.}", {"a", "b"}) == "echo {2} {1.}"
  [[nodiscard]] static std::string rename_columns(std::string_view text,
                                                  std::span<const std::string> names);

  /// What `{##}` (the number of jobs) and the widths of `{0#}` and `{0%}`
  /// are made of: the run's number of jobs (unknown: `{##}` is 0) and of
  /// job slots. Set before expanding (see uses_job_counts()).
  void set_job_counts(std::optional<std::uint64_t> total_jobs, std::size_t slots) noexcept {
    total_jobs_ = total_jobs;
    slots_ = slots;
  }

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

  /// True when the template uses the slot ({%}, {0%}): its expansion then
  /// depends on the slot, which a resumed run cannot reproduce (see resume_filter).
  [[nodiscard]] bool uses_slot() const noexcept { return uses_slot_; }

  /// True when the template uses `{##}` or `{0#}`: set_job_counts() first.
  [[nodiscard]] bool uses_job_counts() const noexcept { return uses_total_; }

 private:
  enum class piece_kind : std::uint8_t {
    literal,
    blank,       // context replace: blanks between words of a command word
    word_break,  // -q: between two words of the command (quoted apart)
    all_args,
    one_arg,
    constant,  // {#} {%} {##}...: once, whatever the arguments
  };
  struct piece {
    piece_kind kind;
    std::uint32_t spec = 0;     // replacement strings: index in specs_
    std::int64_t position = 0;  // one_arg: 1-based, negative from the end
    std::size_t offset = 0;     // literal: where in text_
    std::size_t length = 0;
  };

  std::string text_;
  std::vector<piece> pieces_;
  std::vector<detail::rpl_spec> specs_;
  bool has_rpl_ = false;
  bool append_ = true;  // without replacement strings, append the arguments
  bool quote_ = true;
  bool quote_words_ = false;
  bool is_tag_ = false;
  bool uses_slot_ = false;
  bool uses_total_ = false;
  bool context_ = false;
  std::optional<std::uint64_t> total_jobs_;
  std::size_t slots_ = 1;

  // Where an expansion goes: `out`, and with -q where its words end.
  struct sink {
    std::string& out;
    std::vector<std::size_t>* word_ends = nullptr;
    std::string scratch{};
    void next_word() {
      if (word_ends != nullptr) {
        word_ends->push_back(out.size());
      } else {
        out.push_back(' ');
      }
    }
  };

  void add_word(std::size_t begin, std::size_t end, const replacement_names& names);
  void split_blanks();
  void append_constant(std::string& out, const detail::rpl_spec& spec, std::uint64_t seq,
                       std::size_t slot) const;
  void expand_piece(sink& s, const piece& p, std::span<const std::string> args,
                    const std::string* arg, std::uint64_t seq, std::size_t slot) const;
  void expand_pieces(sink& s, std::span<const std::string> args, std::uint64_t seq,
                     std::size_t slot) const;
};

}  // namespace cohort::app::run
