#pragma once

/// \file
/// The values both tools take on their command lines, parsed one way: a
/// duration, a size, a whole number in a range, and counts printed with
/// thousands separators. Every error is a usage_error whose what() is one
/// line naming the option, e.g. "-j must be at least 1" or
/// "--retry-delay: '1x': expected a duration like 0.5, 500ms, 2s or 1m".

#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace cohort::app {

/// A malformed command line or input: the tool prints what() (one line) and
/// exits with its usage status (`run`: 255, `tiles`: 2).
class usage_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Parses a duration: seconds (`30`, `0.5`), or numbers each followed by a
/// unit `ms`, `s`, `m`, `h` or `d`, any case, summed (`500ms`, `2s`, `1m`,
/// `1h30m`, `1d3.5h`). Resolution is the nanosecond; at most about 292
/// years. Throws usage_error naming `option`.
///
///   parse_duration("1m30s", "--delay") == 90s
[[nodiscard]] std::chrono::nanoseconds parse_duration(std::string_view text,
                                                      std::string_view option);

/// Parses a size in bytes: a whole number with an optional suffix `k`
/// (KiB), `m` (MiB) or `g` (GiB), any case (`500000`, `512k`, `4M`). Throws
/// usage_error naming `option`; zero is refused ("OPTION must be at least 1").
///
///   parse_size("4M", "--max-tile-bytes") == 4 * 1024 * 1024
[[nodiscard]] std::uint64_t parse_size(std::string_view text, std::string_view option);

/// Parses a whole number from `min` to `max` (no bound above when `max` is
/// empty). Throws usage_error naming `option`: "-j must be at least 1",
/// "--retries must be from 0 to 100", "-j: 'x': expected a whole number".
///
///   parse_count("8", "-j", 1, 1024) == 8
[[nodiscard]] std::int64_t parse_count(std::string_view text, std::string_view option,
                                       std::int64_t min, std::optional<std::int64_t> max);

/// Parses a decimal number (`2`, `0.5`) from `min` to `max`. Throws
/// usage_error naming `option` and `what` it counts ("requests per second").
[[nodiscard]] double parse_decimal(std::string_view text, std::string_view option,
                                   std::string_view what, double min, double max);

/// Throws usage_error "OPTION must be at most N seconds" when `value` is
/// longer than `max` (whole seconds).
void check_at_most(std::chrono::nanoseconds value, std::chrono::seconds max,
                   std::string_view option);

/// `n` with a comma every three digits, as a person reads it: "1,234,567".
[[nodiscard]] std::string format_count(std::uint64_t n);

/// A number `\d+`, `\d+\.\d*` or `\.\d+` (as Perl reads one: `.2`, `2.`) times `unit` (an integer
/// scale, e.g. nanoseconds per second), truncated; nullopt if malformed or beyond int64.
///
///   scaled_decimal("1.5", 1000) == 1500
[[nodiscard]] std::optional<std::int64_t> scaled_decimal(std::string_view number,
                                                         std::int64_t unit);

/// User text as echoed inside an error message: at most 80 characters
/// (then "..."), control characters shown as '?', so it stays one line.
[[nodiscard]] std::string shown_in_message(std::string_view text);

}  // namespace cohort::app
