#include "cohort/run/command_template.hpp"

#include "cohort/common/shell_quote.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

namespace cohort::app::run {

namespace {

void append_number(std::string& out, std::uint64_t n) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, n);
  out.append(buf, r.ptr);
}

// GNU's width of {0#} and {0%}: 1+int(log(n)/log(10)), in doubles as Perl
// computes it (so 1000 is 3 wide).
int padded_width(std::uint64_t n) {
  if (n < 1) n = 1;
  return 1 + static_cast<int>(std::log(static_cast<double>(n)) / std::log(10.0));
}

void append_padded(std::string& out, std::uint64_t n, int width) {
  char buf[48];
  const int len =
      std::snprintf(buf, sizeof buf, "%0*llu", width, static_cast<unsigned long long>(n));
  out.append(buf, static_cast<std::size_t>(std::max(0, len)));
}

bool is_blank(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

}  // namespace

command_template command_template::compile(std::string_view command, bool context_replace) {
  template_options o;
  o.context_replace = context_replace;
  return compile(command, o);
}

command_template command_template::compile(std::string_view command,
                                           const template_options& options) {
  const std::string word(command);
  return from_words(std::span(&word, 1), options);
}

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
      split.push_back({blank ? piece_kind::blank : piece_kind::literal, 0, 0, i, j - i});
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
  template_options o;
  o.context_replace = context_replace;
  return from_words(words, o);
}

command_template command_template::from_words(std::span<const std::string> words,
                                              const template_options& options) {
  if (words.empty() && !options.is_tag) {
    const std::string all = options.names.all.empty() ? "{}" : options.names.all;
    return from_words(std::span(&all, 1), options);
  }
  command_template t;
  t.context_ = options.context_replace;
  t.quote_words_ = options.quote_words;
  t.is_tag_ = options.is_tag;
  for (std::size_t i = 0; i < words.size(); ++i) {
    if (i > 0) t.text_.push_back(' ');
    t.text_.append(words[i]);
  }
  // GNU parallel looks for replacement strings in each word on its own.
  std::size_t begin = 0;
  for (std::size_t i = 0; i < words.size(); ++i) {
    if (i > 0) {
      if (t.quote_words_) {
        t.pieces_.push_back({piece_kind::word_break});
      } else {
        t.pieces_.push_back({piece_kind::literal, 0, 0, begin - 1, 1});
      }
    }
    t.add_word(begin, begin + words[i].size(), options.names);
    begin += words[i].size() + 1;
  }
  if (t.is_tag_) t.quote_ = false;
  if (t.context_) t.split_blanks();
  return t;
}

void command_template::add_word(std::size_t begin, std::size_t end,
                                const replacement_names& names) {
  const std::string_view word = std::string_view(text_).substr(begin, end - begin);
  std::size_t literal_begin = begin;
  auto flush_literal = [&](std::size_t until) {
    if (until > literal_begin) {
      pieces_.push_back({piece_kind::literal, 0, 0, literal_begin, until - literal_begin});
    }
  };
  for (auto& found : detail::find_replacement_strings(word, names)) {
    const std::size_t at = begin + found.begin;
    if (!has_rpl_) {
      // GNU parallel: a replacement string in the first word of the command
      // (/^[^ \t\n=]*\257</) makes the input the command: nothing is quoted.
      if (std::string_view(text_).substr(0, at).find_first_of(" \t\n=") == std::string_view::npos) {
        quote_ = false;
      }
      has_rpl_ = true;
    }
    flush_literal(at);
    using detail::rpl_action;
    const rpl_action a = found.spec.action;
    uses_slot_ = uses_slot_ || a == rpl_action::slot || a == rpl_action::slot_padded;
    uses_total_ = uses_total_ || a == rpl_action::total_jobs || a == rpl_action::seq_padded;
    piece p{};
    p.spec = static_cast<std::uint32_t>(specs_.size());
    if (found.positional) {
      p.kind = piece_kind::one_arg;
      p.position = found.position;
    } else {
      p.kind = detail::is_constant(a) ? piece_kind::constant : piece_kind::all_args;
    }
    specs_.push_back(std::move(found.spec));
    pieces_.push_back(p);
    literal_begin = begin + found.end;
  }
  flush_literal(end);
}

void command_template::append_constant(std::string& out, const detail::rpl_spec& spec,
                                       std::uint64_t seq, std::size_t slot) const {
  using detail::rpl_action;
  switch (spec.action) {
    case rpl_action::seq: append_number(out, seq); break;
    case rpl_action::slot: append_number(out, slot); break;
    case rpl_action::total_jobs: append_number(out, total_jobs_.value_or(0)); break;
    case rpl_action::seq_padded:
      append_padded(out, seq, padded_width(total_jobs_.value_or(0)));
      break;
    case rpl_action::slot_padded: append_padded(out, slot, padded_width(slots_)); break;
    case rpl_action::slot_var: out += "${PARALLEL_JOBSLOT}"; break;
    default: break;
  }
}

void command_template::expand_piece(sink& s, const piece& p, std::span<const std::string> args,
                                    const std::string* arg, std::uint64_t seq,
                                    std::size_t slot) const {
  const bool quote = quote_ && !quote_words_ && !is_tag_;
  auto append_value = [&](std::string_view v) {
    auto t = detail::transform(specs_[p.spec], v, s.scratch);
    if (quote) {
      append_shell_quoted(s.out, t);
    } else {
      s.out.append(t);
    }
  };
  switch (p.kind) {
    case piece_kind::literal:
    case piece_kind::blank: s.out.append(text_, p.offset, p.length); break;
    case piece_kind::word_break: s.next_word(); break;
    case piece_kind::constant: append_constant(s.out, specs_[p.spec], seq, slot); break;
    case piece_kind::all_args:
      if (arg != nullptr) {
        append_value(*arg);
        break;
      }
      for (std::size_t a = 0; a < args.size(); ++a) {
        if (a > 0) s.next_word();
        append_value(args[a]);
      }
      break;
    case piece_kind::one_arg: {
      const auto n = static_cast<std::int64_t>(args.size());
      const std::int64_t index = p.position > 0 ? p.position - 1 : n + p.position;
      if (index < 0 || index >= n) break;
      if (detail::is_constant(specs_[p.spec].action)) {
        append_constant(s.out, specs_[p.spec], seq, slot);
      } else {
        append_value(args[static_cast<std::size_t>(index)]);
      }
      break;
    }
  }
}

void command_template::expand_pieces(sink& s, std::span<const std::string> args, std::uint64_t seq,
                                     std::size_t slot) const {
  if (!context_) {
    for (const auto& p : pieces_) expand_piece(s, p, args, nullptr, seq, slot);
    return;
  }
  // A word that holds {} is written once per argument, blank-separated.
  auto ends_group = [](piece_kind k) {
    return k == piece_kind::blank || k == piece_kind::word_break;
  };
  std::size_t i = 0;
  while (i < pieces_.size()) {
    if (ends_group(pieces_[i].kind)) {
      expand_piece(s, pieces_[i++], args, nullptr, seq, slot);
      continue;
    }
    std::size_t end = i;
    bool repeated = false;
    for (; end < pieces_.size() && !ends_group(pieces_[end].kind); ++end) {
      repeated = repeated || pieces_[end].kind == piece_kind::all_args;
    }
    if (!repeated || args.empty()) {
      for (; i < end; ++i) expand_piece(s, pieces_[i], args, nullptr, seq, slot);
      continue;
    }
    for (std::size_t a = 0; a < args.size(); ++a) {
      if (a > 0) s.next_word();
      for (std::size_t k = i; k < end; ++k) expand_piece(s, pieces_[k], args, &args[a], seq, slot);
    }
    i = end;
  }
}

void command_template::expand_into(std::string& out, std::span<const std::string> args,
                                   std::uint64_t seq, std::size_t slot) const {
  out.clear();
  std::vector<std::size_t> word_ends;
  sink s{out, quote_words_ ? &word_ends : nullptr};
  expand_pieces(s, args, seq, slot);
  if (!has_rpl_ && !is_tag_ && append_) {
    // GNU appends " {}": with no argument at all (-N0) that leaves a blank.
    if (args.empty() && !quote_words_) out.push_back(' ');
    for (const auto& a : args) {
      if (quote_words_) {
        s.next_word();
        out.append(a);
      } else {
        out.push_back(' ');
        append_shell_quoted(out, a);
      }
    }
  }
  if (!quote_words_) return;
  // -q: every word quoted on its own.
  std::string words;
  std::size_t begin = 0;
  word_ends.push_back(out.size());
  for (std::size_t i = 0; i < word_ends.size(); ++i) {
    if (i > 0) words.push_back(' ');
    append_shell_quoted(words, std::string_view(out).substr(begin, word_ends[i] - begin));
    begin = word_ends[i];
  }
  out = std::move(words);
}

std::size_t command_template::argument_length(const std::string& arg) const {
  if (!has_rpl_) return 1 + shell_quote(arg).size();
  std::string out;
  sink s{out};
  const std::span<const std::string> one(&arg, 1);
  std::size_t n = 0;
  std::size_t i = 0;
  auto ends_group = [](piece_kind k) {
    return k == piece_kind::blank || k == piece_kind::word_break;
  };
  while (i < pieces_.size()) {
    if (!context_) {
      if (pieces_[i].kind == piece_kind::all_args) {
        out.clear();
        expand_piece(s, pieces_[i], one, &arg, 0, 0);
        n += 1 + out.size();
      }
      ++i;
      continue;
    }
    // Context mode: a word holding {} is written once more, with a blank.
    std::size_t end = i;
    bool repeated = false;
    for (; end < pieces_.size() && !ends_group(pieces_[end].kind); ++end) {
      repeated = repeated || pieces_[end].kind == piece_kind::all_args;
    }
    if (repeated) {
      out.clear();
      for (std::size_t k = i; k < end; ++k) expand_piece(s, pieces_[k], one, &arg, 0, 0);
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
