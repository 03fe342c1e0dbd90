// Fuzzes the option values both tools share (common/option_values.hpp): any
// text either parses or throws usage_error with a one-line message free of
// control characters, and what parses keeps the parsers' invariants.
//
// Input: one selector byte (duration, size, count, decimal), then the text.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "cohort/common/option_values.hpp"

namespace app = cohort::app;

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

// An error message is one printable line.
void check_message(const char* what) {
  const std::string_view m(what);
  check(!m.empty());
  for (const char c : m) check(static_cast<unsigned char>(c) >= 0x20 && c != 0x7f);
}

template <typename F>
void guarded(F f) {
  try {
    f();
  } catch (const app::usage_error& e) {
    check_message(e.what());
  }
}

bool only(std::string_view s, std::string_view chars) {
  return s.find_first_not_of(chars) == std::string_view::npos;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 4) {
    case 0:
      guarded([&] {
        const auto d = app::parse_duration(text, "--delay");
        check(d.count() >= 0);
        if (only(text, "0123456789.")) {
          // Bare seconds mean the same with the unit written out.
          check(app::parse_duration(std::string(text) + "s", "--delay") == d);
        }
      });
      break;
    case 1:
      guarded([&] {
        const std::uint64_t n = app::parse_size(text, "--max-tile-bytes");
        check(n >= 1);
        if (only(text, "0123456789") && n <= (UINT64_MAX >> 10)) {
          check(app::parse_size(std::string(text) + "k", "--max-tile-bytes") == n * 1024);
        }
      });
      break;
    case 2:
      guarded([&] {
        const std::int64_t n = app::parse_count(text, "-j", 1, 1024);
        check(n >= 1 && n <= 1024);
        std::string digits;
        for (const char c : app::format_count(static_cast<std::uint64_t>(n))) {
          if (c != ',') digits += c;
        }
        check(digits == std::to_string(n));
      });
      break;
    case 3:
      guarded([&] {
        const double r = app::parse_decimal(text, "--rate", "requests per second", 0, 1e6);
        check(r >= 0 && r <= 1e6);
      });
      break;
  }
  return 0;
}
