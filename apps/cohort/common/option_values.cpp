#include "cohort/common/option_values.hpp"

#include <charconv>
#include <cmath>
#include <limits>

#include <fmt/format.h>

namespace cohort::app {

namespace {

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

// `\d+`, `\d+\.\d*` or `\.\d+`
bool is_decimal(std::string_view s) {
  auto dot = s.find('.');
  auto whole = s.substr(0, dot);
  auto frac = dot == std::string_view::npos ? std::string_view() : s.substr(dot + 1);
  auto digits = [](std::string_view d) {
    return d.find_first_not_of("0123456789") == std::string_view::npos;
  };
  return digits(whole) && digits(frac) && !(whole.empty() && frac.empty());
}

std::string range_text(std::int64_t min, std::optional<std::int64_t> max) {
  const auto shown = [](std::int64_t v) {
    return v < 0 ? "-" + format_count(static_cast<std::uint64_t>(-(v + 1)) + 1)
                 : format_count(static_cast<std::uint64_t>(v));
  };
  if (!max) return "at least " + shown(min);
  if (*max == min) return "exactly " + shown(min);
  return fmt::format("from {} to {}", shown(min), shown(*max));
}

}  // namespace

std::optional<std::int64_t> scaled_decimal(std::string_view number, std::int64_t unit) {
  auto dot = number.find('.');
  std::string_view whole = number.substr(0, dot);
  std::string_view frac =
      dot == std::string_view::npos ? std::string_view{} : number.substr(dot + 1);
  // As a number in GNU parallel (Perl): ".2" and "2." are numbers, "." is not.
  if (whole.empty() && frac.empty()) return std::nullopt;
  for (char c : whole) {
    if (!is_digit(c)) return std::nullopt;
  }
  for (char c : frac) {
    if (!is_digit(c)) return std::nullopt;
  }
  constexpr auto max = static_cast<unsigned __int128>(std::numeric_limits<std::int64_t>::max());
  unsigned __int128 w = 0;
  for (char c : whole) {
    w = w * 10 + static_cast<unsigned>(c - '0');
    if (w > max) return std::nullopt;
  }
  unsigned __int128 total = w * static_cast<unsigned __int128>(unit);
  // Digits beyond the 18th cannot add a whole unit of any scale used here.
  if (frac.size() > 18) frac = frac.substr(0, 18);
  unsigned __int128 num = 0;
  unsigned __int128 den = 1;
  for (char c : frac) {
    num = num * 10 + static_cast<unsigned>(c - '0');
    den *= 10;
  }
  total += num * static_cast<unsigned __int128>(unit) / den;
  if (total > max) return std::nullopt;
  return static_cast<std::int64_t>(total);
}

std::chrono::nanoseconds parse_duration(std::string_view text, std::string_view option) {
  auto fail = [&](std::string_view why) -> usage_error {
    return usage_error(fmt::format("{}: '{}': {}", option, shown_in_message(text), why));
  };
  constexpr std::string_view expected =
      "expected a duration like 0.5, 500ms, 2s or 1m (seconds, or numbers with units ms, s, m, "
      "h, d)";
  if (text.empty()) throw fail(fmt::format("empty; {}", expected));
  if (text.find_first_not_of("0123456789.") == std::string_view::npos) {
    auto ns = scaled_decimal(text, 1'000'000'000);
    if (!ns) throw fail(is_decimal(text) ? std::string_view("too large") : expected);
    return std::chrono::nanoseconds{*ns};
  }
  std::int64_t total = 0;
  std::size_t at = 0;
  while (at < text.size()) {
    auto unit_at = text.find_first_not_of("0123456789.", at);
    if (unit_at == std::string_view::npos) {
      throw fail(fmt::format("'{}' has no unit; {}", shown_in_message(text.substr(at)), expected));
    }
    std::int64_t unit = 0;
    std::size_t unit_size = 1;
    switch (lower(text[unit_at])) {
      case 's': unit = 1'000'000'000; break;
      case 'm':
        if (unit_at + 1 < text.size() && lower(text[unit_at + 1]) == 's') {
          unit = 1'000'000;
          unit_size = 2;
        } else {
          unit = 60'000'000'000;
        }
        break;
      case 'h': unit = 3'600'000'000'000; break;
      case 'd': unit = 86'400'000'000'000; break;
      default:
        throw fail(fmt::format("unknown unit '{}'; {}", shown_in_message(text.substr(unit_at, 1)),
                               expected));
    }
    std::string_view number = text.substr(at, unit_at - at);
    if (number.empty()) throw fail(expected);
    auto ns = scaled_decimal(number, unit);
    if (!ns) throw fail(fmt::format("'{}' is not a number or is too large", number));
    if (*ns > std::numeric_limits<std::int64_t>::max() - total) throw fail("too large");
    total += *ns;
    at = unit_at + unit_size;
  }
  return std::chrono::nanoseconds{total};
}

std::uint64_t parse_size(std::string_view text, std::string_view option) {
  std::uint64_t value = 0;
  const char* begin = text.data();
  const char* end = begin + text.size();
  auto [ptr, ec] = std::from_chars(begin, end, value);
  std::uint64_t scale = 1;
  if (ec == std::errc{} && ptr + 1 == end) {
    switch (lower(*ptr)) {
      case 'k': scale = 1024; break;
      case 'm': scale = std::uint64_t{1024} * 1024; break;
      case 'g': scale = std::uint64_t{1024} * 1024 * 1024; break;
      default: break;
    }
    if (scale != 1) ++ptr;
  }
  const bool digits_first = !text.empty() && is_digit(text.front());
  if (!digits_first || ec != std::errc{} || ptr != end) {
    throw usage_error(fmt::format("{}: '{}': expected a size in bytes like 500000, 512k or 4M",
                                  option, shown_in_message(text)));
  }
  if (value == 0) throw usage_error(fmt::format("{} must be at least 1 byte", option));
  if (value > std::numeric_limits<std::uint64_t>::max() / scale) {
    throw usage_error(fmt::format("{}: '{}': too large", option, shown_in_message(text)));
  }
  return value * scale;
}

std::int64_t parse_count(std::string_view text, std::string_view option, std::int64_t min,
                         std::optional<std::int64_t> max) {
  std::int64_t value = 0;
  const char* begin = text.data();
  const char* end = begin + text.size();
  const bool sign_ok = !text.empty() && (is_digit(text.front()) || text.front() == '-');
  auto [ptr, ec] = std::from_chars(begin, end, value);
  if (!sign_ok || ptr != end || (ec != std::errc{} && ec != std::errc::result_out_of_range)) {
    throw usage_error(fmt::format("{}: '{}': expected a whole number {}", option,
                                  shown_in_message(text), range_text(min, max)));
  }
  if (ec == std::errc::result_out_of_range || value < min || (max && value > *max)) {
    throw usage_error(fmt::format("{} must be {}", option, range_text(min, max)));
  }
  return value;
}

double parse_decimal(std::string_view text, std::string_view option, std::string_view what,
                     double min, double max) {
  double value = 0;
  const char* begin = text.data();
  const char* end = begin + text.size();
  const bool sign_ok = !text.empty() && (is_digit(text.front()) || text.front() == '-');
  auto [ptr, ec] = std::from_chars(begin, end, value, std::chars_format::fixed);
  if (!sign_ok || ec != std::errc{} || ptr != end || !std::isfinite(value)) {
    throw usage_error(fmt::format("{}: '{}': expected a number of {} like 2 or 0.5", option,
                                  shown_in_message(text), what));
  }
  if (value < min || value > max) {
    throw usage_error(fmt::format("{} must be from {} to {} {}", option, fmt::format("{:g}", min),
                                  format_count(static_cast<std::uint64_t>(max)), what));
  }
  return value;
}

void check_at_most(std::chrono::nanoseconds value, std::chrono::seconds max,
                   std::string_view option) {
  if (value <= max) return;
  throw usage_error(fmt::format("{} must be at most {} seconds", option,
                                format_count(static_cast<std::uint64_t>(max.count()))));
}

std::string format_count(std::uint64_t n) {
  std::string digits = std::to_string(n);
  std::string out;
  out.reserve(digits.size() + digits.size() / 3);
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i != 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return out;
}

std::string shown_in_message(std::string_view text) {
  constexpr std::size_t limit = 80;
  std::string out;
  for (char c : text.substr(0, limit)) {
    const auto u = static_cast<unsigned char>(c);
    out.push_back(u < 0x20 || u == 0x7f ? '?' : c);
  }
  if (text.size() > limit) out += "...";
  return out;
}

}  // namespace cohort::app
