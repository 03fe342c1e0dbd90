#include "cohort/run/replacement_strings.hpp"

#include "cohort/common/option_values.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <optional>

namespace cohort::app::run {

namespace {

// ------------------------------------------------------------ path parts

// The position of the `n`th last extension's '.': the value ends in n times
// `\.[^/.]*` (Perl s:(\.[^/.]*){n}$::); npos if it does not.
std::size_t extensions_begin(std::string_view v, int n) {
  std::size_t end = v.size();
  std::size_t dot = std::string_view::npos;
  for (int i = 0; i < n; ++i) {
    dot = end == 0 ? std::string_view::npos : v.rfind('.', end - 1);
    if (dot == std::string_view::npos) return dot;
    if (v.substr(dot, end - dot).find('/') != std::string_view::npos) {
      return std::string_view::npos;
    }
    end = dot;
  }
  return dot;
}

// {.} {..} {...}: Perl s:\.[^/.]*$:: (n times the extension). (Perl's '$'
// may also match before a final "\n", but [^/.]* eats that "\n" anyway.)
std::string_view no_extensions(std::string_view v, int n) {
  const std::size_t dot = extensions_begin(v, n);
  return dot == std::string_view::npos ? v : v.substr(0, dot);
}

// {+.} {+..} {+...}: Perl s:.*\.([^/.]*\.[^/.]*)$:$1: || s:.*$:: -- the
// last n extensions, or nothing. {+.} alone is s:.*\.:: (after the last
// '.', whatever follows it).
std::string_view extensions(std::string_view v, int n) {
  if (n == 1) {
    const std::size_t dot = v.rfind('.');
    return dot == std::string_view::npos ? std::string_view{} : v.substr(dot + 1);
  }
  const std::size_t dot = extensions_begin(v, n);
  return dot == std::string_view::npos ? std::string_view{} : v.substr(dot + 1);
}

// {+/}: Perl s:/[^/]*$:: || s:.*$:: -- up to the last '/', or nothing.
std::string_view directory_part(std::string_view v) {
  const std::size_t slash = v.rfind('/');
  return slash == std::string_view::npos ? std::string_view{} : v.substr(0, slash);
}

// {/}: Perl s:.*/:: without /s, where '.' does not match "\n": the match
// starts at the first line that holds a '/' and ends after that line's last
// '/'. Without a newline that is simply "after the last '/'".
std::string_view basename(std::string_view v, std::string& scratch) {
  if (v.find('\n') == std::string_view::npos) {
    auto slash = v.rfind('/');
    return slash == std::string_view::npos ? v : v.substr(slash + 1);
  }
  std::size_t line = 0;
  while (line <= v.size()) {
    auto end = v.find('\n', line);
    if (end == std::string_view::npos) end = v.size();
    auto slash = v.substr(line, end - line).rfind('/');
    if (slash != std::string_view::npos) {
      scratch.assign(v.substr(0, line));
      scratch.append(v.substr(line + slash + 1));
      return scratch;
    }
    line = end + 1;
  }
  return v;
}

// File::Basename's _strip_trailing_sep: s{(.)/*\z}{$1}s.
std::string_view strip_trailing_slashes(std::string_view d) {
  while (d.size() > 1 && d.back() == '/') d.remove_suffix(1);
  return d;
}

// File::Basename::fileparse's directory part: up to the last '/', or "./".
// Returns an empty view for "./" (so the caller can substitute ".").
struct parsed_path {
  std::string_view dir;  // empty: "./"
  std::string_view base;
};
parsed_path fileparse(std::string_view p) {
  auto slash = p.rfind('/');
  if (slash == std::string_view::npos) return {{}, p};
  return {p.substr(0, slash + 1), p.substr(slash + 1)};
}

// {//}: File::Basename::dirname for Unix. The result is a prefix of the
// input or ".".
std::string_view dirname(std::string_view v) {
  static constexpr std::string_view dot = ".";
  auto [dir, base] = fileparse(v);
  dir = dir.empty() ? dot : strip_trailing_slashes(dir);
  if (base.empty()) {
    auto again = fileparse(dir);
    dir = again.dir.empty() ? dot : strip_trailing_slashes(again.dir);
  }
  return dir;
}

std::string_view apply(path_part part, std::string_view v, std::string& scratch) {
  switch (part) {
    case path_part::whole: return v;
    case path_part::no_extension: return no_extensions(v, 1);
    case path_part::basename: return basename(v, scratch);
    case path_part::dirname: return dirname(v);
    case path_part::basename_no_extension: return no_extensions(basename(v, scratch), 1);
    case path_part::no_extension2: return no_extensions(v, 2);
    case path_part::no_extension3: return no_extensions(v, 3);
    case path_part::basename_no_extension2: return no_extensions(basename(v, scratch), 2);
    case path_part::basename_no_extension3: return no_extensions(basename(v, scratch), 3);
    case path_part::directory_part: return directory_part(v);
    case path_part::extension: return extensions(v, 1);
    case path_part::extension2: return extensions(v, 2);
    case path_part::extension3: return extensions(v, 3);
  }
  return v;
}

// ------------------------------------------------------------ the names

using detail::rpl_action;
using detail::rpl_found;
using detail::rpl_spec;

// What follows the prefix of one of --plus's dynamic strings (GNU's Perl
// regular expressions, each ending in '}').
enum class tail {
  none,           // a fixed name
  text,           // ([^}]+?)}
  digits,         // (\d+?)}
  digits_digits,  // (\d+?):(\d+?)}
  not_hash,       // ([^#}][^}]*?)}
  plain_slash,    // ([^#%}/]+?)/([^}]*?)}
  slash,          // ([^}]+?)/([^}]*?)}
};

// One name GNU parallel looks for: `prefix` and a `tail`; `gnu_key` is its
// key in GNU's table, whose length orders the search (longest first).
struct rule {
  std::string prefix;
  tail what = tail::none;
  std::size_t gnu_key_length = 0;
  rpl_action action = rpl_action::path;
  path_part part = path_part::whole;
  // GNU's code for the name starts with "1 " (a constant): its positional
  // form {N#} takes the argument at position N followed by the digit 1.
  bool code_starts_with_1 = false;
  std::string_view refused;  // a --plus name cohort does not have: why
};

rule fixed(std::string name, rpl_action a, path_part p = path_part::whole) {
  rule r;
  r.gnu_key_length = name.size();
  r.prefix = std::move(name);
  r.action = a;
  r.part = p;
  r.code_starts_with_1 = detail::is_constant(a);
  return r;
}

rule dynamic(std::string_view gnu_key, std::string prefix, tail t, rpl_action a) {
  rule r;
  r.prefix = std::move(prefix);
  r.what = t;
  r.gnu_key_length = gnu_key.size();
  r.action = a;
  return r;
}

constexpr std::string_view remote_only =
    "it names the remote host of a job; cohort run runs its jobs on this machine";
constexpr std::string_view skips_jobs =
    "it skips jobs (GNU logs them as failed, Exitval -2); filter the inputs before instead";

std::vector<rule> rules_of(const replacement_names& n) {
  std::vector<rule> rules;
  auto add = [&](const std::string& name, rpl_action a, path_part p = path_part::whole) {
    if (!name.empty()) rules.push_back(fixed(name, a, p));
  };
  add(n.all, rpl_action::path);
  add(n.no_extension, rpl_action::path, path_part::no_extension);
  add(n.basename, rpl_action::path, path_part::basename);
  add(n.dirname, rpl_action::path, path_part::dirname);
  add(n.basename_no_extension, rpl_action::path, path_part::basename_no_extension);
  add(n.seq, rpl_action::seq);
  add(n.slot, rpl_action::slot);
  if (n.plus) {
    add("{+/}", rpl_action::path, path_part::directory_part);
    add("{+.}", rpl_action::path, path_part::extension);
    add("{+..}", rpl_action::path, path_part::extension2);
    add("{+...}", rpl_action::path, path_part::extension3);
    add("{..}", rpl_action::path, path_part::no_extension2);
    add("{...}", rpl_action::path, path_part::no_extension3);
    add("{/..}", rpl_action::path, path_part::basename_no_extension2);
    add("{/...}", rpl_action::path, path_part::basename_no_extension3);
    add("{##}", rpl_action::total_jobs);
    add("{0%}", rpl_action::slot_padded);
    add("{0#}", rpl_action::seq_padded);
    add("{slot}", rpl_action::slot_var);
    for (const char* name : {"{host}", "{sshlogin}", "{hgrp}", "{agrp}"}) {
      rules.push_back(fixed(name, rpl_action::path));
      rules.back().refused = remote_only;
    }
    for (const char* name : {"{choose_k}", "{uniq}"}) {
      rules.push_back(fixed(name, rpl_action::path));
      rules.back().refused = skips_jobs;
    }
    rules.push_back(dynamic("{:-([^}]+?)}", "{:-", tail::text, rpl_action::if_false));
    rules.push_back(dynamic("{:(\\d+?)}", "{:", tail::digits, rpl_action::drop_first));
    rules.push_back(
        dynamic("{:(\\d+?):(\\d+?)}", "{:", tail::digits_digits, rpl_action::substring));
    rules.push_back(dynamic("{#([^#}][^}]*?)}", "{#", tail::not_hash, rpl_action::cut_prefix));
    rules.push_back(
        dynamic("{##([^#}][^}]*?)}", "{##", tail::not_hash, rpl_action::cut_prefix_long));
    rules.push_back(dynamic("{%([^}]+?)}", "{%", tail::text, rpl_action::cut_suffix));
    rules.push_back(dynamic("{%%([^}]+?)}", "{%%", tail::text, rpl_action::cut_suffix_long));
    rules.push_back(
        dynamic("{/([^#%}/]+?)/([^}]*?)}", "{/", tail::plain_slash, rpl_action::replace_first));
    rules.push_back(
        dynamic("{/#([^}]+?)/([^}]*?)}", "{/#", tail::slash, rpl_action::replace_start));
    rules.push_back(dynamic("{/%([^}]+?)/([^}]*?)}", "{/%", tail::slash, rpl_action::replace_end));
    rules.push_back(dynamic("{//([^}]+?)/([^}]*?)}", "{//", tail::slash, rpl_action::replace_all));
    rules.push_back(dynamic("{^([^}]+?)}", "{^", tail::text, rpl_action::upper_start));
    rules.push_back(dynamic("{^^([^}]+?)}", "{^^", tail::text, rpl_action::upper_all));
    rules.push_back(dynamic("{,([^}]+?)}", "{,", tail::text, rpl_action::lower_start));
    rules.push_back(dynamic("{,,([^}]+?)}", "{,,", tail::text, rpl_action::lower_all));
  }
  // GNU: "Replace long --rpl's before short ones, as a short may be a
  // substring of a long". (Names of equal length never overlap here.)
  std::stable_sort(rules.begin(), rules.end(), [](const rule& a, const rule& b) {
    return a.gnu_key_length > b.gnu_key_length;
  });
  return rules;
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// The end of a non-greedy group of at least `min` bytes, none in `not_in`
// (the first not in `not_first` either), followed by `end`: the position of
// that `end`, or nullopt.
std::optional<std::size_t> group_until(std::string_view s, std::size_t i, std::size_t min,
                                       std::string_view not_in, std::string_view not_first,
                                       char end) {
  for (std::size_t k = i; k < s.size(); ++k) {
    if (k >= i + min && s[k] == end) return k;
    if (not_in.find(s[k]) != std::string_view::npos) return std::nullopt;
    if (k == i && not_first.find(s[k]) != std::string_view::npos) return std::nullopt;
  }
  return std::nullopt;
}

std::optional<std::size_t> digits_until(std::string_view s, std::size_t i, char end,
                                        std::size_t& value) {
  std::size_t k = i;
  value = 0;
  while (k < s.size() && is_digit(s[k])) {
    if (value < (std::size_t{1} << 40)) value = value * 10 + static_cast<std::size_t>(s[k] - '0');
    ++k;
  }
  if (k == i || k == s.size() || s[k] != end) return std::nullopt;
  return k;
}

// Matches the tail of rule `r` at s[i...]: the end of the match and the
// groups in `spec`.
std::optional<std::size_t> match_tail(const rule& r, std::string_view s, std::size_t i,
                                      rpl_spec& spec, std::string& g1) {
  switch (r.what) {
    case tail::none: return i;
    case tail::text: {
      auto e = group_until(s, i, 1, "}", "", '}');
      if (!e) return std::nullopt;
      g1 = s.substr(i, *e - i);
      return *e + 1;
    }
    case tail::digits: {
      auto e = digits_until(s, i, '}', spec.n1);
      if (!e) return std::nullopt;
      return *e + 1;
    }
    case tail::digits_digits: {
      auto colon = digits_until(s, i, ':', spec.n1);
      if (!colon) return std::nullopt;
      auto e = digits_until(s, *colon + 1, '}', spec.n2);
      if (!e) return std::nullopt;
      return *e + 1;
    }
    case tail::not_hash: {
      auto e = group_until(s, i, 1, "}", "#", '}');
      if (!e) return std::nullopt;
      g1 = s.substr(i, *e - i);
      return *e + 1;
    }
    case tail::plain_slash:
    case tail::slash: {
      auto slash = r.what == tail::plain_slash ? group_until(s, i, 1, "#%}/", "", '/')
                                               : group_until(s, i, 1, "}", "", '/');
      if (!slash) return std::nullopt;
      auto e = group_until(s, *slash + 1, 0, "}", "", '}');
      if (!e) return std::nullopt;
      g1 = s.substr(i, *slash - i);
      spec.text = s.substr(*slash + 1, *e - *slash - 1);
      return *e + 1;
    }
  }
  return std::nullopt;
}

// GNU parallel's make_regexp_ungreedy: a '?' after every quantifier
// (* + {...}) outside a character class that has none.
std::string make_ungreedy(std::string_view re) {
  std::string out;
  bool in_class = false, escaped = false, found = false;
  for (char c : re) {
    if (found) {
      if (c != '?') out.push_back('?');
      found = false;
    }
    out.push_back(c);
    if (escaped) {
      escaped = false;
      continue;
    }
    if (c == '\\') {
      escaped = true;
      continue;
    }
    if (c == '[') {
      in_class = true;
      continue;
    }
    if (in_class) {
      if (c == ']') in_class = false;
      continue;
    }
    if (c == '*' || c == '}' || c == '+') found = true;
  }
  if (found) out.push_back('?');
  return out;
}

std::regex compile_regex(const std::string& re, std::string_view name) {
  try {
    return std::regex(re, std::regex::ECMAScript);
  } catch (const std::regex_error& e) {
    throw usage_error(
        fmt::format("--plus: '{}': '{}' is not a regular expression: {}", name, re, e.what()));
  }
}

// The regular expression(s) a dynamic string uses, from its group `g1`.
void compile_spec(rpl_spec& spec, const std::string& g1, std::string_view name) {
  switch (spec.action) {
    case rpl_action::if_false: spec.text = g1; break;
    case rpl_action::cut_prefix:
      spec.regex.push_back(compile_regex("^(?:" + make_ungreedy(g1) + ")", name));
      break;
    case rpl_action::cut_prefix_long:
    case rpl_action::replace_start:
    case rpl_action::upper_start:
    case rpl_action::lower_start:
      spec.regex.push_back(compile_regex("^(?:" + g1 + ")", name));
      break;
    case rpl_action::cut_suffix:
      spec.regex.push_back(compile_regex(make_ungreedy(g1), name));
      break;
    case rpl_action::replace_end:
      spec.regex.push_back(compile_regex("(?:" + g1 + ")$", name));
      break;
    case rpl_action::cut_suffix_long:
    case rpl_action::replace_first:
    case rpl_action::replace_all:
    case rpl_action::upper_all:
    case rpl_action::lower_all: spec.regex.push_back(compile_regex(g1, name)); break;
    default: break;
  }
}

bool is_perl_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

// A match of rule `r` in s[from, to): plain (`prefix...`) or positional
// (`{N prefix-without-{...}`).
std::optional<rpl_found> find_in(const rule& r, std::string_view s, std::size_t from,
                                 std::size_t to, bool positional) {
  const std::string_view window = s.substr(0, to);
  if (!positional) {
    for (std::size_t p = window.find(r.prefix, from); p != std::string_view::npos;
         p = window.find(r.prefix, p + 1)) {
      rpl_found f;
      f.spec.action = r.action;
      f.spec.part = r.part;
      std::string g1;
      if (auto end = match_tail(r, window, p + r.prefix.size(), f.spec, g1)) {
        f.begin = p;
        f.end = *end;
        compile_spec(f.spec, g1, s.substr(p, *end - p));
        return f;
      }
    }
    return std::nullopt;
  }
  const std::string_view rest = std::string_view(r.prefix).substr(1);
  for (std::size_t p = window.find('{', from); p != std::string_view::npos;
       p = window.find('{', p + 1)) {
    std::size_t q = p + 1;
    const bool negative = q < window.size() && window[q] == '-';
    if (negative) ++q;
    std::size_t digits_end = q;
    while (digits_end < window.size() && is_digit(window[digits_end])) ++digits_end;
    // Perl backtracks into \d+ when the name itself starts with a digit ({0#}).
    for (std::size_t d = digits_end; d > q; --d) {
      std::size_t k = d;
      while (k < window.size() && is_perl_space(window[k])) ++k;
      if (!window.substr(k).starts_with(rest)) continue;
      rpl_found f;
      f.spec.action = r.action;
      f.spec.part = r.part;
      std::string g1;
      auto end = match_tail(r, window, k + rest.size(), f.spec, g1);
      if (!end) continue;
      f.begin = p;
      f.end = *end;
      compile_spec(f.spec, g1, s.substr(p, *end - p));
      const std::string_view digits = window.substr(q, d - q);
      std::int64_t n = 0;
      for (char c : digits) {
        if (n < (std::int64_t{1} << 31)) n = n * 10 + (c - '0');
      }
      if (r.code_starts_with_1) n = n < (std::int64_t{1} << 31) ? n * 10 + 1 : n;
      // GNU's "if($1)": position "0" is the plain string (every argument);
      // "-0", "00"... count from the end past it: nothing.
      f.positional = negative || digits != "0" || r.code_starts_with_1;
      f.position = negative ? -n : n;
      return f;
    }
  }
  return std::nullopt;
}

}  // namespace

std::string apply_path_part(path_part part, std::string_view value) {
  std::string scratch;
  return std::string(apply(part, value, scratch));
}

namespace detail {

std::vector<rpl_found> find_replacement_strings(std::string_view word,
                                                const replacement_names& names) {
  // The word as pieces: text still to search, or a replacement string found.
  struct piece {
    std::size_t begin, end;
    std::optional<rpl_found> found;
  };
  std::vector<piece> pieces{{0, word.size(), std::nullopt}};
  for (const rule& r : rules_of(names)) {
    for (const bool positional : {false, true}) {
      if (positional && !r.prefix.starts_with('{')) continue;
      for (std::size_t i = 0; i < pieces.size(); ++i) {
        if (pieces[i].found) continue;
        const std::size_t begin = pieces[i].begin, end = pieces[i].end;
        auto f = find_in(r, word, begin, end, positional);
        if (!f) continue;
        if (!r.refused.empty()) {
          throw usage_error(fmt::format("--plus: {} is not supported: {}",
                                        word.substr(f->begin, f->end - f->begin), r.refused));
        }
        // Split: text before, the string, text after (searched next).
        std::vector<piece> split;
        if (f->begin > begin) split.push_back({begin, f->begin, std::nullopt});
        const std::size_t after = f->end;
        split.push_back({f->begin, f->end, std::move(f)});
        if (after < end) split.push_back({after, end, std::nullopt});
        pieces.erase(pieces.begin() + static_cast<std::ptrdiff_t>(i));
        pieces.insert(pieces.begin() + static_cast<std::ptrdiff_t>(i), split.begin(), split.end());
      }
    }
  }
  std::vector<rpl_found> found;
  for (auto& p : pieces) {
    if (p.found) found.push_back(std::move(*p.found));
  }
  return found;
}

namespace {

char ascii_upper(char c) {
  return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c;
}
char ascii_lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

// s/re/f($&)/ once (at the first match) or for every match.
template <class F>
std::string_view each_match(std::string_view v, const std::regex& re, bool all, F f,
                            std::string& scratch) {
  std::string out;
  std::size_t copied = 0;
  using it = std::regex_iterator<std::string_view::const_iterator>;
  for (it m(v.begin(), v.end(), re), stop; m != stop; ++m) {
    const auto at = static_cast<std::size_t>(m->position(0));
    out.append(v.substr(copied, at - copied));
    f(out, v.substr(at, static_cast<std::size_t>(m->length(0))));
    copied = at + static_cast<std::size_t>(m->length(0));
    if (!all) break;
  }
  out.append(v.substr(copied));
  scratch = std::move(out);
  return scratch;
}

// std::regex (libstdc++) recurses once per byte it reads: a value of some
// 30,000 bytes overflows an 8 MiB stack. Longer values are refused.
constexpr std::size_t max_regex_value = 8192;

void check_regex_value(const rpl_spec& spec, std::string_view v) {
  if (spec.regex.empty() || v.size() <= max_regex_value) return;
  throw usage_error(
      fmt::format("--plus: a value of {} bytes is too long for a regular expression (at most {}): "
                  "shorten the input, or transform it in the shell command",
                  v.size(), max_regex_value));
}

}  // namespace

std::string_view transform(const rpl_spec& spec, std::string_view v, std::string& scratch) {
  std::match_results<std::string_view::const_iterator> m;
  check_regex_value(spec, v);
  switch (spec.action) {
    case rpl_action::path: return apply(spec.part, v, scratch);
    case rpl_action::if_false:
      return v.empty() || v == "0" ? std::string_view(spec.text) : v;  // Perl's $_ ||= str
    case rpl_action::drop_first: return v.substr(std::min(spec.n1, v.size()));
    case rpl_action::substring:
      return spec.n1 > v.size() ? std::string_view{} : v.substr(spec.n1, spec.n2);
    case rpl_action::cut_prefix:
    case rpl_action::cut_prefix_long:
      if (std::regex_search(v.begin(), v.end(), m, spec.regex.front())) {
        return v.substr(static_cast<std::size_t>(m.length(0)));
      }
      return v;
    case rpl_action::cut_suffix:
      // s/(.*)re$/$1/: the longest (.*) -- the shortest suffix re matches.
      for (std::size_t i = v.size() + 1; i-- > 0;) {
        if (std::regex_match(v.begin() + static_cast<std::ptrdiff_t>(i), v.end(),
                             spec.regex.front())) {
          return v.substr(0, i);
        }
      }
      return v;
    case rpl_action::cut_suffix_long:
      // s/re$//: the leftmost start, the longest suffix.
      for (std::size_t i = 0; i <= v.size(); ++i) {
        if (std::regex_match(v.begin() + static_cast<std::ptrdiff_t>(i), v.end(),
                             spec.regex.front())) {
          return v.substr(0, i);
        }
      }
      return v;
    case rpl_action::replace_first:
    case rpl_action::replace_start:
    case rpl_action::replace_end:
    case rpl_action::replace_all:
      return each_match(
          v, spec.regex.front(), spec.action == rpl_action::replace_all,
          [&](std::string& out, std::string_view) { out += spec.text; }, scratch);
    case rpl_action::upper_start:
    case rpl_action::upper_all:
    case rpl_action::lower_start:
    case rpl_action::lower_all: {
      const bool upper =
          spec.action == rpl_action::upper_start || spec.action == rpl_action::upper_all;
      const bool all = spec.action == rpl_action::upper_all || spec.action == rpl_action::lower_all;
      return each_match(
          v, spec.regex.front(), all,
          [&](std::string& out, std::string_view hit) {
            for (char c : hit) out.push_back(upper ? ascii_upper(c) : ascii_lower(c));
          },
          scratch);
    }
    default: return v;
  }
}

}  // namespace detail
}  // namespace cohort::app::run
