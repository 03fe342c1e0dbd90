#include "cohort/run/pipe_chunks.hpp"

#include "cohort/common/option_values.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <system_error>

namespace cohort::app::run {

namespace {

// GNU caps --pipe's block at 2 GiB - 1 ("2GB causes problems").
constexpr std::size_t max_block = (std::size_t{1} << 31) - 1;

// The multiplier of a unit prefix (GNU's multiply_binary_prefix), 0 if none.
double unit_of(std::string_view suffix) {
  if (suffix.empty()) return 1;
  const bool binary = suffix.size() == 2 && (suffix[1] == 'i' || suffix[1] == 'I');
  if (suffix.size() != 1 && !binary) return 0;
  static constexpr std::string_view units = "kmgtp";
  const char c = suffix[0];
  const auto lower = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  const std::size_t power = units.find(lower);
  if (power == std::string_view::npos) return 0;
  const bool upper = c != lower;
  return std::pow(upper || binary ? 1024.0 : 1000.0, static_cast<double>(power + 1));
}

// The printf escapes GNU resolves in a literal --recstart/--recend.
std::string unescape(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\\' || i + 1 == text.size()) {
      out.push_back(text[i]);
      continue;
    }
    switch (const char c = text[++i]) {
      case 'n': out.push_back('\n'); break;
      case 't': out.push_back('\t'); break;
      case 'r': out.push_back('\r'); break;
      case '0': out.push_back('\0'); break;
      case '\\':
      case '\'':
      case '"': out.push_back(c); break;
      default: out.push_back('\\'); out.push_back(c);
    }
  }
  return out;
}

// `pattern` with each '.' outside a bracket matching a newline too (Perl's
// /s, which GNU's --pipepart search has and --pipe's has not).
std::string dot_matches_all(std::string_view pattern) {
  std::string out;
  bool in_bracket = false;
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c == '\\' && i + 1 < pattern.size()) {
      out += pattern.substr(i++, 2);
      continue;
    }
    if (c == '[') in_bracket = true;
    if (c == ']') in_bracket = false;
    out += (c == '.' && !in_bracket) ? std::string_view("[\\s\\S]") : pattern.substr(i, 1);
  }
  return out;
}

}  // namespace

std::int64_t parse_block_size(std::string_view text) {
  std::size_t digits = 0;
  if (digits < text.size() && text[digits] == '-') ++digits;
  while (digits < text.size() &&
         ((text[digits] >= '0' && text[digits] <= '9') || text[digits] == '.')) {
    ++digits;
  }
  const double unit = unit_of(text.substr(digits));
  double number = 0;
  try {
    std::size_t used = 0;
    number = std::stod(std::string(text.substr(0, digits)), &used);
    if (used != digits) number = std::numeric_limits<double>::quiet_NaN();
  } catch (const std::exception&) {
    number = std::numeric_limits<double>::quiet_NaN();
  }
  const double value = number * unit;
  if (unit == 0 || !std::isfinite(value) || std::abs(value) >= 9.0e18 ||
      static_cast<std::int64_t>(value) == 0) {
    throw usage_error(fmt::format(
        "--block: '{}': expected a size in bytes like 1M, 512k or 10000 (K M G: powers of 1024, "
        "k m g: of 1000), not 0",
        text));
  }
  return static_cast<std::int64_t>(value);
}

// --- record_split -------------------------------------------------------------

record_split::record_split(const pipe_options& o) {
  // GNU's recstartrecend(): with neither given, records end in "\n"; with
  // only --recstart, they end anywhere before it.
  std::string end = o.recend.value_or(o.recstart ? "" : "\n");
  std::string start = o.recstart.value_or("");
  if (!o.regexp) {
    end_ = unescape(end);
    start_ = unescape(start);
    return;
  }
  if (!o.recstart && o.recend && end.empty()) end = "[\\s\\S]";  // --regexp --recend ''
  if (o.part) {
    end = dot_matches_all(end);
    start = dot_matches_all(start);
  }
  try {
    re_.emplace("(?:" + end + ")(?=(?:" + start + "))", std::regex::ECMAScript);
  } catch (const std::regex_error& e) {
    throw usage_error(fmt::format("--recstart/--recend: not a regular expression: {}", e.what()));
  }
}

std::size_t record_split::last(std::string_view text) const {
  if (re_) {
    // GNU's greedy `^(.*RECEND)RECSTART`: the match that starts last, even
    // inside an earlier one ("99\n" for "9.": the "9\n").
    std::size_t found = std::string_view::npos;
    std::cmatch m;
    for (std::size_t from = 0; from <= text.size(); ++from) {
      const auto flags =
          from > 0 ? std::regex_constants::match_prev_avail : std::regex_constants::match_default;
      if (!std::regex_search(text.data() + from, text.data() + text.size(), m, *re_, flags)) break;
      const auto start = from + static_cast<std::size_t>(m.position(0));
      found = start + static_cast<std::size_t>(m.length(0));
      from = start;
    }
    return found == 0 ? std::string_view::npos : found;
  }
  if (end_.empty() && start_.empty()) return text.empty() ? std::string_view::npos : text.size();
  std::size_t at;
  if (end_.size() == 1 && start_.empty()) {
    const void* hit = ::memrchr(text.data(), end_[0], text.size());
    at = hit == nullptr ? std::string_view::npos
                        : static_cast<std::size_t>(static_cast<const char*>(hit) - text.data());
  } else {
    at = text.rfind(end_ + start_);
  }
  if (at == std::string_view::npos || at + end_.size() == 0) return std::string_view::npos;
  return at + end_.size();
}

std::size_t record_split::first(std::string_view text, std::size_t from) const {
  if (from > text.size()) return std::string_view::npos;
  if (re_) {
    std::cmatch m;
    const auto flags =
        from > 0 ? std::regex_constants::match_prev_avail : std::regex_constants::match_default;
    if (!std::regex_search(text.data() + from, text.data() + text.size(), m, *re_, flags)) {
      return std::string_view::npos;
    }
    return from + static_cast<std::size_t>(m.position(0) + m.length(0));
  }
  const std::size_t at = text.find(end_ + start_, from);
  return at == std::string_view::npos ? at : at + end_.size();
}

std::size_t record_split::nth(std::string_view text, std::uint64_t n) const {
  // GNU's nindex: i = 0; n times: i = index(buf, sep, i + 1).
  std::size_t i = 0;
  const std::string sep = end_ + start_;
  for (std::uint64_t k = 0; k < n; ++k) {
    i = text.find(sep, i + 1);
    if (i == std::string_view::npos) return i;
  }
  return i + end_.size();
}

// --- chunk_splitter -----------------------------------------------------------

chunk_splitter::chunk_splitter(const pipe_options& o, std::function<void(std::string)> warn)
    : split_(o),
      records_(o.records),
      block_(static_cast<std::size_t>(std::clamp<std::int64_t>(o.block, 1, max_block))),
      warn_(std::move(warn)) {}

std::size_t chunk_splitter::want() const noexcept {
  return block_ - (end_ - begin_) % block_;
}

char* chunk_splitter::space(std::size_t n) {
  const std::size_t held = end_ - begin_;
  if (end_ + n > capacity_) {
    if (held + n <= capacity_ && held <= capacity_ / 2) {
      std::memmove(data_.get(), data_.get() + begin_, held);  // the rest is short
    } else {
      const std::size_t grown = std::max(capacity_ * 2, held + n);
      auto bigger = std::make_unique_for_overwrite<char[]>(grown);
      if (held > 0) std::memcpy(bigger.get(), data_.get() + begin_, held);
      data_ = std::move(bigger);
      capacity_ = grown;
    }
    begin_ = 0;
    end_ = held;
  }
  return data_.get() + end_;
}

void chunk_splitter::cut(std::size_t n) {
  chunks_.emplace_back(begin_, n);
  begin_ += n;
}

void chunk_splitter::end_round(bool eof) {
  const std::size_t before = chunks_.size();
  if (records_ > 0) {
    // GNU's pass_n: every run of N records, at the end of the input too.
    std::size_t at;
    while (end_ > begin_ && (at = split_.nth(rest(), records_)) != std::string_view::npos) {
      cut(at);
    }
  } else if (!eof) {
    // GNU's pass: after the last record end of the whole buffer.
    if (const std::size_t at = split_.last(rest()); at != std::string_view::npos) cut(at);
  }
  if (eof) {
    eof_ = true;
    if (end_ > begin_) cut(end_ - begin_);
  } else if (chunks_.size() == before) {
    grow_block();
  }
}

void chunk_splitter::grow_block() {
  if (block_ >= max_block) return;
  const std::size_t old = block_;
  block_ = std::min(static_cast<std::size_t>(std::ceil(static_cast<double>(block_) * 1.3 + 1)),
                    max_block);
  if (warn_) {
    warn_(fmt::format("a record was longer than {} bytes: --block grows to {}", old, block_));
  }
}

std::optional<std::string_view> chunk_splitter::next() {
  if (chunks_.empty()) return std::nullopt;
  const auto [offset, length] = chunks_.front();
  chunks_.pop_front();
  return std::string_view(data_.get() + offset, length);
}

// --- part_positions -----------------------------------------------------------

std::vector<std::uint64_t> part_positions(
    std::uint64_t size, std::uint64_t block, const record_split& split,
    const std::function<std::size_t(std::uint64_t, char*, std::size_t)>& read_at) {
  constexpr std::size_t piece = 131072;  // GNU's dd block
  std::vector<std::uint64_t> pos{0};
  std::string buf;
  for (std::uint64_t at = block; at < size; at += block) {
    buf.clear();
    for (;;) {
      const std::size_t old = buf.size();
      buf.resize(old + piece);
      const std::size_t got = read_at(at + old, buf.data() + old, piece);
      buf.resize(old + got);
      if (got == 0) break;
      // GNU looks in all it read from `at`: the first split (with --regexp,
      // its greedy match finds the last).
      const std::size_t found = split.is_regexp() ? split.last(buf) : split.first(buf, 0);
      if (found != std::string_view::npos) {
        at += found;
        pos.push_back(at);
        break;
      }
    }
  }
  if (pos.back() != size) pos.push_back(size);
  return pos;
}

}  // namespace cohort::app::run
