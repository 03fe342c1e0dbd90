#include "cohort/run/command_template.hpp"

#include "cohort/common/shell_quote.hpp"

#include <array>
#include <charconv>
#include <optional>

namespace cohort::app::run {

namespace {

// {.}: Perl s:\.[^/.]*$:: -- the last '.', if no '/' follows it. (Perl's '$'
// may also match before a final "\n", but [^/.]* eats that "\n" anyway.)
std::string_view no_extension(std::string_view v) {
  auto dot = v.rfind('.');
  if (dot == std::string_view::npos) return v;
  if (v.find('/', dot) != std::string_view::npos) return v;
  return v.substr(0, dot);
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

std::string_view transform(path_part part, std::string_view v, std::string& scratch) {
  switch (part) {
    case path_part::whole: return v;
    case path_part::no_extension: return no_extension(v);
    case path_part::basename: return basename(v, scratch);
    case path_part::dirname: return dirname(v);
    case path_part::basename_no_extension: return no_extension(basename(v, scratch));
  }
  return v;
}

void append_number(std::string& out, std::uint64_t n) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, n);
  out.append(buf, r.ptr);
}

struct parsed_rpl {
  std::size_t length;
  bool is_positional;
  bool is_seq;
  bool is_slot;
  path_part part;
  std::int32_t position;
};

// The endings of a replacement string and the part of the input path each
// selects: {} {.} {/} {//} {/.}, and after a position alike ({1/.}).
struct path_suffix {
  std::string_view text;
  path_part part;
};
constexpr path_suffix path_suffixes[] = {
    {"/.}", path_part::basename_no_extension},
    {"//}", path_part::dirname},
    {"/}", path_part::basename},
    {".}", path_part::no_extension},
    {"}", path_part::whole},
};

// The ending `s` starts with, if any.
std::optional<path_suffix> match_path_suffix(std::string_view s) {
  for (const auto& suffix : path_suffixes) {
    if (s.starts_with(suffix.text)) return suffix;
  }
  return std::nullopt;
}

// Recognises a replacement string at the start of `s` (which starts with '{').
std::optional<parsed_rpl> parse_rpl(std::string_view s) {
  if (auto path = match_path_suffix(s.substr(1))) {
    return parsed_rpl{1 + path->text.size(), false, false, false, path->part, 0};
  }
  if (s.starts_with("{#}")) return parsed_rpl{3, false, true, false, path_part::whole, 0};
  if (s.starts_with("{%}")) return parsed_rpl{3, false, false, true, path_part::whole, 0};

  // {N}, {-N}, with an optional . / // /. before the '}'.
  std::size_t i = 1;
  bool negative = false;
  if (i < s.size() && s[i] == '-') {
    negative = true;
    ++i;
  }
  std::size_t digits_begin = i;
  std::int64_t n = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
    // Saturate: a huge position is simply out of range.
    if (n < (std::int64_t{1} << 31)) n = n * 10 + (s[i] - '0');
    ++i;
  }
  if (i == digits_begin || n == 0) return std::nullopt;
  if (n >= (std::int64_t{1} << 31)) n = (std::int64_t{1} << 31) - 1;
  if (auto path = match_path_suffix(s.substr(i))) {
    auto pos = static_cast<std::int32_t>(negative ? -n : n);
    return parsed_rpl{i + path->text.size(), true, false, false, path->part, pos};
  }
  return std::nullopt;
}

}  // namespace

std::string apply_path_part(path_part part, std::string_view value) {
  std::string scratch;
  return std::string(transform(part, value, scratch));
}

command_template command_template::compile(std::string_view command, bool context_replace) {
  command_template t;
  t.context_ = context_replace;
  t.text_ = std::string(command);
  const std::string_view text = t.text_;
  std::size_t literal_begin = 0;
  auto flush_literal = [&](std::size_t end) {
    if (end > literal_begin) {
      t.pieces_.push_back(
          {piece_kind::literal, path_part::whole, 0, literal_begin, end - literal_begin});
    }
  };
  std::size_t i = 0;
  while (i < text.size()) {
    auto brace = text.find('{', i);
    if (brace == std::string_view::npos) break;
    auto rpl = parse_rpl(text.substr(brace));
    if (!rpl) {
      i = brace + 1;
      continue;
    }
    if (!t.has_rpl_) {
      // GNU parallel: a replacement string in the first word of the command
      // (/^[^ \t\n=]*\257</) makes the input the command: nothing is quoted.
      if (text.substr(0, brace).find_first_of(" \t\n=") == std::string_view::npos) {
        t.quote_ = false;
      }
      t.has_rpl_ = true;
    }
    flush_literal(brace);
    piece p{};
    p.part = rpl->part;
    if (rpl->is_seq) {
      p.kind = piece_kind::seq;
    } else if (rpl->is_slot) {
      p.kind = piece_kind::slot;
      t.uses_slot_ = true;
    } else if (rpl->is_positional) {
      p.kind = piece_kind::one_arg;
      p.position = rpl->position;
    } else {
      p.kind = piece_kind::all_args;
    }
    t.pieces_.push_back(p);
    i = brace + rpl->length;
    literal_begin = i;
  }
  flush_literal(text.size());
  if (t.context_) t.split_blanks();
  return t;
}

namespace {
bool is_blank(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
}  // namespace

// Context replace works on words: literal pieces are cut where blanks begin
// and end, the blanks becoming pieces of their own.
void command_template::split_blanks() {
  std::vector<piece> split;
  for (const auto& p : pieces_) {
    if (p.kind != piece_kind::literal) {
      split.push_back(p);
      continue;
    }
    std::size_t i = p.offset;
    const std::size_t end = p.offset + p.length;
    while (i < end) {
      const bool blank = is_blank(text_[i]);
      std::size_t j = i;
      while (j < end && is_blank(text_[j]) == blank) ++j;
      split.push_back(
          {blank ? piece_kind::blank : piece_kind::literal, path_part::whole, 0, i, j - i});
      i = j;
    }
  }
  pieces_ = std::move(split);
}

std::string command_template::rename_columns(std::string_view text,
                                             std::span<const std::string> names) {
  std::string out(text);
  static constexpr std::string_view endings[] = {"}", "/}", "//}", ".}", "/.}"};
  for (std::size_t n = 0; n < names.size(); ++n) {
    const std::string open = "{" + names[n];
    const std::string id = "{" + std::to_string(n + 1);
    std::string next;
    std::size_t i = 0;
    while (i < out.size()) {
      const auto at = out.find(open, i);
      if (at == std::string::npos) break;
      std::string_view rest = std::string_view(out).substr(at + open.size());
      const std::string_view* ending = nullptr;
      for (const auto& e : endings) {
        if (rest.starts_with(e)) ending = &e;
      }
      if (ending == nullptr) {
        next.append(out, i, at + 1 - i);
        i = at + 1;
        continue;
      }
      next.append(out, i, at - i);
      next += id;
      next += *ending;
      i = at + open.size() + ending->size();
    }
    next.append(out, std::min(i, out.size()));
    out = std::move(next);
  }
  return out;
}

command_template command_template::from_words(std::span<const std::string> words,
                                              bool context_replace) {
  if (words.empty()) return compile("{}", context_replace);
  std::string joined;
  for (std::size_t i = 0; i < words.size(); ++i) {
    if (i > 0) joined.push_back(' ');
    joined.append(words[i]);
  }
  return compile(joined, context_replace);
}

void command_template::expand_piece(std::string& out, const piece& p,
                                    std::span<const std::string> args, const std::string* arg,
                                    std::uint64_t seq, std::size_t slot,
                                    std::string& scratch) const {
  auto append_value = [&](std::string_view v, path_part part) {
    auto t = transform(part, v, scratch);
    if (quote_) {
      append_shell_quoted(out, t);
    } else {
      out.append(t);
    }
  };
  switch (p.kind) {
    case piece_kind::literal:
    case piece_kind::blank: out.append(text_, p.offset, p.length); break;
    case piece_kind::seq: append_number(out, seq); break;
    case piece_kind::slot: append_number(out, slot); break;
    case piece_kind::all_args:
      if (arg != nullptr) {
        append_value(*arg, p.part);
        break;
      }
      for (std::size_t a = 0; a < args.size(); ++a) {
        if (a > 0) out.push_back(' ');
        append_value(args[a], p.part);
      }
      break;
    case piece_kind::one_arg: {
      const auto n = static_cast<std::int64_t>(args.size());
      const std::int64_t index = p.position > 0 ? p.position - 1 : n + p.position;
      if (index >= 0 && index < n) append_value(args[static_cast<std::size_t>(index)], p.part);
      break;
    }
  }
}

void command_template::expand_into(std::string& out, std::span<const std::string> args,
                                   std::uint64_t seq, std::size_t slot) const {
  out.clear();
  std::string scratch;
  if (!context_) {
    for (const auto& p : pieces_) expand_piece(out, p, args, nullptr, seq, slot, scratch);
  } else {
    // A word that holds {} is written once per argument, blank-separated.
    std::size_t i = 0;
    while (i < pieces_.size()) {
      if (pieces_[i].kind == piece_kind::blank) {
        expand_piece(out, pieces_[i++], args, nullptr, seq, slot, scratch);
        continue;
      }
      std::size_t end = i;
      bool repeated = false;
      for (; end < pieces_.size() && pieces_[end].kind != piece_kind::blank; ++end) {
        repeated = repeated || pieces_[end].kind == piece_kind::all_args;
      }
      if (!repeated || args.empty()) {
        for (; i < end; ++i) expand_piece(out, pieces_[i], args, nullptr, seq, slot, scratch);
        continue;
      }
      for (std::size_t a = 0; a < args.size(); ++a) {
        if (a > 0) out.push_back(' ');
        for (std::size_t k = i; k < end; ++k) {
          expand_piece(out, pieces_[k], args, &args[a], seq, slot, scratch);
        }
      }
      i = end;
    }
  }
  if (!has_rpl_ && append_) {
    // GNU appends " {}": with no argument at all (-N0) that leaves a blank.
    if (args.empty()) out.push_back(' ');
    for (const auto& a : args) {
      out.push_back(' ');
      append_shell_quoted(out, a);
    }
  }
}

std::size_t command_template::argument_length(const std::string& arg) const {
  if (!has_rpl_) return 1 + shell_quote(arg).size();
  std::string out;
  std::string scratch;
  const std::span<const std::string> one(&arg, 1);
  std::size_t n = 0;
  std::size_t i = 0;
  while (i < pieces_.size()) {
    if (!context_) {
      if (pieces_[i].kind == piece_kind::all_args) {
        out.clear();
        expand_piece(out, pieces_[i], one, &arg, 0, 0, scratch);
        n += 1 + out.size();
      }
      ++i;
      continue;
    }
    // Context mode: a word holding {} is written once more, with a blank.
    std::size_t end = i;
    bool repeated = false;
    for (; end < pieces_.size() && pieces_[end].kind != piece_kind::blank; ++end) {
      repeated = repeated || pieces_[end].kind == piece_kind::all_args;
    }
    if (repeated) {
      out.clear();
      for (std::size_t k = i; k < end; ++k) expand_piece(out, pieces_[k], one, &arg, 0, 0, scratch);
      n += 1 + out.size();
    }
    i = std::max(end, i + 1);
  }
  return n;
}

std::string command_template::expand(std::span<const std::string> args, std::uint64_t seq,
                                     std::size_t slot) const {
  std::string out;
  expand_into(out, args, seq, slot);
  return out;
}

}  // namespace cohort::app::run
