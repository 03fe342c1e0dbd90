#include "cohort/common/option_values.hpp"

#include <gtest/gtest.h>

#include <limits>
#include <string>

namespace {

using namespace std::chrono_literals;
using cohort::app::check_at_most;
using cohort::app::format_count;
using cohort::app::parse_count;
using cohort::app::parse_decimal;
using cohort::app::parse_duration;
using cohort::app::parse_size;
using cohort::app::usage_error;

template <typename F>
std::string error_of(F f) {
  try {
    f();
  } catch (const usage_error& e) {
    return e.what();
  }
  return "no error";
}

// ------------------------------------------------------------ durations

TEST(ParseDuration, SecondsAndUnits) {
  EXPECT_EQ(parse_duration("30", "--delay"), 30s);
  EXPECT_EQ(parse_duration("1.5", "--delay"), 1500ms);
  EXPECT_EQ(parse_duration("0.001", "--delay"), 1ms);
  EXPECT_EQ(parse_duration("2s", "--delay"), 2s);
  EXPECT_EQ(parse_duration("3m", "--delay"), 3min);
  EXPECT_EQ(parse_duration("1h", "--delay"), 1h);
  EXPECT_EQ(parse_duration("1d", "--delay"), 24h);
  EXPECT_EQ(parse_duration("1H30M", "--delay"), 90min);
  EXPECT_EQ(parse_duration("0.5m", "--delay"), 30s);
  // Numbers as GNU parallel (Perl) reads them.
  EXPECT_EQ(parse_duration(".2", "--delay"), 200ms);
  EXPECT_EQ(parse_duration("2.", "--delay"), 2s);
  EXPECT_EQ(parse_duration(".5m", "--delay"), 30s);
  // The man page's example: 100000 == 1d3.5h16.6m4s.
  EXPECT_EQ(parse_duration("1d3.5h16.6m4s", "--delay"), 100000s);
  EXPECT_EQ(parse_duration("0.0000000019", "--delay"), 1ns);  // truncated to the ns
}

TEST(ParseDuration, MillisecondsAsInTheOtherTool) {
  // Both tools take the same forms: 0.5, 500ms, 2s, 1m.
  EXPECT_EQ(parse_duration("500ms", "--retry-delay"), 500ms);
  EXPECT_EQ(parse_duration("500MS", "--retry-delay"), 500ms);
  EXPECT_EQ(parse_duration("0.5", "--retry-delay"), 500ms);
  EXPECT_EQ(parse_duration("1m500ms", "--retry-delay"), 60500ms);
  EXPECT_EQ(parse_duration("2.5ms", "--retry-delay"), 2500us);
  EXPECT_EQ(parse_duration("1m30s", "--retry-delay"), 90s);  // 'm' then '3': minutes
}

TEST(ParseDuration, Errors) {
  EXPECT_EQ(error_of([] { (void)parse_duration("1h30", "--timeout"); }),
            "--timeout: '1h30': '30' has no unit; expected a duration like 0.5, 500ms, 2s or 1m "
            "(seconds, or numbers with units ms, s, m, h, d)");
  EXPECT_EQ(error_of([] { (void)parse_duration("5w", "--delay"); }),
            "--delay: '5w': unknown unit 'w'; expected a duration like 0.5, 500ms, 2s or 1m "
            "(seconds, or numbers with units ms, s, m, h, d)");
  EXPECT_EQ(error_of([] { (void)parse_duration("99999999999999999999", "--delay"); }),
            "--delay: '99999999999999999999': too large");
  for (const char* bad :
       {"", ".", ".s", "1..2", "-1", "s", "1 s", "1e3", "1.5.2s", "m1", "ms", "1msx", "1sm"}) {
    EXPECT_NE(error_of([&] { (void)parse_duration(bad, "--delay"); }), "no error") << bad;
  }
  EXPECT_NE(error_of([] { (void)parse_duration("300000d", "--delay"); }), "no error");
  // Control characters never reach the terminal.
  EXPECT_EQ(error_of([] { (void)parse_duration("1\x1b[2J", "--delay"); }).find('\x1b'),
            std::string::npos);
}

TEST(CheckAtMost, NamesTheLimitInWholeSeconds) {
  check_at_most(10s, 1'000'000s, "--connect-timeout");
  EXPECT_EQ(error_of([] { check_at_most(1'000'001s, 1'000'000s, "--connect-timeout"); }),
            "--connect-timeout must be at most 1,000,000 seconds");
}

// ------------------------------------------------------------ sizes

TEST(ParseSize, BytesAndBinarySuffixes) {
  EXPECT_EQ(parse_size("1000", "--x"), 1000u);
  EXPECT_EQ(parse_size("2k", "--x"), 2048u);
  EXPECT_EQ(parse_size("512K", "--x"), 512u * 1024);
  EXPECT_EQ(parse_size("3M", "--x"), 3u * 1024 * 1024);
  EXPECT_EQ(parse_size("4m", "--x"), 4u * 1024 * 1024);
  EXPECT_EQ(parse_size("1G", "--x"), 1024u * 1024 * 1024);
}

TEST(ParseSize, Errors) {
  EXPECT_EQ(error_of([] { (void)parse_size("lots", "--max-tile-bytes"); }),
            "--max-tile-bytes: 'lots': expected a size in bytes like 500000, 512k or 4M");
  EXPECT_EQ(error_of([] { (void)parse_size("0", "--max-tile-bytes"); }),
            "--max-tile-bytes must be at least 1 byte");
  EXPECT_EQ(error_of([] { (void)parse_size("99999999999999999G", "--max-tile-bytes"); }),
            "--max-tile-bytes: '99999999999999999G': too large");
  for (const char* bad : {"", "-1", "+1", "1.5k", "4T", "k", "12 k", " 12", "4kb", "0x10"}) {
    EXPECT_NE(error_of([&] { (void)parse_size(bad, "--x"); }), "no error") << bad;
  }
}

// ------------------------------------------------------------ counts

TEST(ParseCount, InRange) {
  EXPECT_EQ(parse_count("8", "-j", 1, 1024), 8);
  EXPECT_EQ(parse_count("1024", "-j", 1, 1024), 1024);
  EXPECT_EQ(parse_count("0", "--retries", 0, std::nullopt), 0);
  EXPECT_EQ(parse_count("-3", "--x", -5, 5), -3);
}

TEST(ParseCount, OutOfRangeSaysTheRangeInPlainWords) {
  EXPECT_EQ(error_of([] { (void)parse_count("0", "-j", 1, 1024); }), "-j must be from 1 to 1,024");
  EXPECT_EQ(error_of([] { (void)parse_count("-1", "--retries", 0, std::nullopt); }),
            "--retries must be at least 0");
  EXPECT_EQ(error_of([] { (void)parse_count("99999999999999999999", "--retries", 0, 100); }),
            "--retries must be from 0 to 100");
  EXPECT_EQ(error_of([] { (void)parse_count("x", "-j", 1, 1024); }),
            "-j: 'x': expected a whole number from 1 to 1,024");
  for (const char* bad : {"", "+1", "1.0", " 1", "1 ", "0x1", "--1"}) {
    EXPECT_NE(error_of([&] { (void)parse_count(bad, "-j", 0, 10); }), "no error") << bad;
  }
}

TEST(ParseDecimal, RangeAndErrors) {
  EXPECT_DOUBLE_EQ(parse_decimal("2.5", "--rate", "requests per second", 0, 1e6), 2.5);
  EXPECT_EQ(error_of([] { (void)parse_decimal("2e9", "--rate", "requests per second", 0, 1e6); }),
            "--rate: '2e9': expected a number of requests per second like 2 or 0.5");
  EXPECT_EQ(error_of([] { (void)parse_decimal("-1", "--rate", "requests per second", 0, 1e6); }),
            "--rate must be from 0 to 1,000,000 requests per second");
  for (const char* bad : {"", "nan", "inf", "1,5", " 1"}) {
    EXPECT_NE(error_of([&] { (void)parse_decimal(bad, "--rate", "x", 0, 1e6); }), "no error")
        << bad;
  }
}

TEST(FormatCount, ThousandsSeparators) {
  EXPECT_EQ(format_count(0), "0");
  EXPECT_EQ(format_count(999), "999");
  EXPECT_EQ(format_count(1000), "1,000");
  EXPECT_EQ(format_count(1234567), "1,234,567");
  EXPECT_EQ(format_count(std::numeric_limits<std::uint64_t>::max()), "18,446,744,073,709,551,615");
}

}  // namespace
