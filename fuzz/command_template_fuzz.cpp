// Fuzzes the command template: compiling any text and expanding it with any
// arguments must not crash, quoting must round-trip through a strict
// single-quote parser (so no byte can escape into the shell), and the path
// parts must keep their GNU parallel properties. In context-replace mode (-N,
// -L) a template without `{}` expands as in the plain mode, and with
// arguments whose words hold `{}` every argument still appears. Column names
// (--header) are rewritten to positions, and a text without `{` is unchanged.
// The GNU options that change the strings: renamed (-I and friends) with
// names taken from the input, --plus (whose refusals and regular expressions
// that do not compile are usage errors, never a crash), -q (every word comes
// back from the strict quote parser: nothing reaches the shell unquoted) and
// --tagstring (nothing quoted, nothing appended).
//
// Input: TEMPLATE \0 ARG \1 ARG \1 ... (at most 8 arguments).

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "cohort/common/option_values.hpp"
#include "cohort/common/shell_quote.hpp"
#include "cohort/run/command_template.hpp"

namespace run = cohort::app::run;

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

bool safe_byte(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.' || c == '+' || c == '/';
}

// Reads back what append_shell_quoted writes, as /bin/sh would, accepting only
// 'single-quoted' runs, "'" and bare safe bytes: anything else means a byte
// reached the shell unquoted.
std::string unquote(std::string_view q) {
  std::string out;
  std::size_t i = 0;
  if (q == "''") return out;
  while (i < q.size()) {
    if (q[i] == '\'') {
      auto end = q.find('\'', i + 1);
      check(end != std::string_view::npos);
      out.append(q.substr(i + 1, end - i - 1));
      i = end + 1;
    } else if (q.substr(i).starts_with("\"'\"")) {
      out.push_back('\'');
      i += 3;
    } else {
      check(safe_byte(q[i]));
      out.push_back(q[i]);
      ++i;
    }
  }
  return out;
}

void check_path_parts(const std::string& v) {
  auto no_ext = run::apply_path_part(run::path_part::no_extension, v);
  check(std::string_view(v).starts_with(no_ext));
  auto dir = run::apply_path_part(run::path_part::dirname, v);
  check(dir == "." || std::string_view(v).starts_with(dir));
  check(!dir.empty());
  auto base = run::apply_path_part(run::path_part::basename, v);
  if (v.find('\n') == std::string::npos) {
    check(std::string_view(v).ends_with(base));
    check(base.find('/') == std::string::npos);
  }
  check(run::apply_path_part(run::path_part::basename_no_extension, v) ==
        run::apply_path_part(run::path_part::no_extension, base));
}

// -q: the command is words, each quoted on its own, joined by single blanks.
void check_quoted_words(std::string_view out) {
  std::size_t i = 0;
  while (i <= out.size()) {
    // A quoted word ends at a blank outside single quotes.
    std::size_t j = i;
    bool in_quotes = false;
    while (j < out.size() && (in_quotes || out[j] != ' ')) {
      if (!in_quotes && out.substr(j).starts_with("\"'\"")) {
        j += 3;  // a quote, quoted
        continue;
      }
      if (out[j] == '\'') in_quotes = !in_quotes;
      ++j;
    }
    check(!in_quotes);
    (void)unquote(out.substr(i, j - i));
    i = j + 1;
  }
}

// The options that change the replacement strings, on `text`.
void check_gnu_options(std::string_view text, const std::vector<std::string>& args,
                       std::size_t size) {
  run::template_options o;
  // Names from the arguments (-I ARG1 --er ARG2 ...), as a user may give any.
  std::string* names[] = {&o.names.all,     &o.names.no_extension, &o.names.basename,
                          &o.names.dirname, &o.names.seq,          &o.names.slot};
  for (std::size_t i = 0; i < args.size() && i < std::size(names); ++i) {
    if (!args[i].empty() && args[i].size() < 16) *names[i] = args[i];
  }
  const std::vector<std::string> words{"echo", std::string(text), "x"};
  auto renamed = run::command_template::from_words(words, o);
  (void)renamed.expand(args, size, 2);

  // -q: whatever the values, every word is quoted.
  o.quote_words = true;
  check_quoted_words(run::command_template::from_words(words, o).expand(args, size, 2));

  // --tagstring: never quoted, never anything appended.
  run::template_options tag;
  tag.is_tag = true;
  const std::vector<std::string> one{std::string(text)};
  auto t = run::command_template::from_words(one, tag);
  if (!t.has_replacement_strings()) check(t.expand(args, size, 2) == text);

  // --plus: std::regex is recursive, so the values it reads stay short here
  // (as file names are); refusals and bad regular expressions are usage errors.
  run::template_options plus;
  plus.names.plus = true;
  try {
    auto p = run::command_template::from_words(words, plus);
    p.set_job_counts(size, 3);
    bool short_values = true;
    for (const auto& a : args) short_values = short_values && a.size() <= 64;
    if (short_values) (void)p.expand(args, size, 2);
  } catch (const cohort::app::usage_error&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto nul = in.find('\0');
  std::string_view text = in.substr(0, nul);
  std::vector<std::string> args;
  if (nul != std::string_view::npos) {
    std::string_view rest = in.substr(nul + 1);
    while (args.size() < 8) {
      auto sep = rest.find('\1');
      args.emplace_back(rest.substr(0, sep));
      if (sep == std::string_view::npos) break;
      rest.remove_prefix(sep + 1);
    }
  }
  if (args.empty()) args.emplace_back(text);

  for (const auto& a : args) {
    check(unquote(cohort::app::shell_quote(a)) == a);
    check_path_parts(a);
  }

  // The whole input as a template of one word may hold a --plus regular
  // expression of any length: only short ones are compiled.
  if (text.size() <= 64) check_gnu_options(text, args, size);

  auto t = run::command_template::compile(text);
  check(t.text() == text);
  auto out = t.expand(args, size, 3);
  if (!t.has_replacement_strings()) {
    std::string expected(text);
    for (const auto& a : args) expected += " " + cohort::app::shell_quote(a);
    check(out == expected);
  }
  // The same template expanded twice (into a used buffer) gives the same text.
  std::string again = "leftover";
  t.expand_into(again, args, size, 3);
  check(again == out);

  // Context replace: the same text where no word repeats (no {} in it).
  auto c = run::command_template::compile(text, true);
  auto context_out = c.expand(args, size, 3);
  if (text.find("{}") == std::string_view::npos && text.find("{.}") == std::string_view::npos &&
      text.find("{/") == std::string_view::npos && text.find("{0") == std::string_view::npos) {
    // ({0...} is GNU's {}: every argument.)
    check(context_out == out);
  }
  c.expand_into(again, args, size, 3);
  check(again == context_out);
  // No argument at all (-N0): never a crash; without replacement strings a blank.
  auto none = c.expand({}, size, 3);
  if (!c.has_replacement_strings()) check(none == std::string(text) + " ");

  // -X/-m: one more argument never shortens the command.
  for (const auto& a : args) {
    if (!t.has_replacement_strings()) check(t.argument_length(a) > 0);
    (void)c.argument_length(a);
  }

  // --header: the arguments as column names.
  auto renamed = run::command_template::rename_columns(text, args);
  if (text.find('{') == std::string_view::npos) check(renamed == text);
  (void)run::command_template::compile(renamed, true).expand(args, size, 3);
  return 0;
}
