// Fuzzes the option value parsers: any text either parses or throws
// option_error, and what parses prints back (to_string) to text that parses
// to the same value.
//
// Input: one selector byte, then the option's text.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "cohort/run/run_options.hpp"

namespace run = cohort::app::run;

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

template <typename F>
void guarded(F f) {
  try {
    f();
  } catch (const run::option_error& e) {
    check(e.what()[0] != '\0');
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 5) {
    case 0:
      guarded([&] {
        auto h = run::parse_halt(text);
        check(run::parse_halt(run::to_string(h)) == h);
      });
      break;
    case 1:
      guarded([&] {
        auto s = run::parse_term_seq(text);
        check(!s.empty());
        for (const auto& step : s) check(step.signal > 0 && step.wait.count() >= 0);
        check(run::parse_term_seq(cohort::to_string(s)) == s);
      });
      break;
    case 2:
      guarded([&] {
        auto d = cohort::app::parse_duration(text, "--delay");
        check(d.count() >= 0);
        if (text.find_first_not_of("0123456789.") == std::string_view::npos) {
          check(cohort::app::parse_duration(std::string(text) + "s", "--delay") == d);
        }
      });
      break;
    case 3:
      guarded([&] {
        auto t = run::parse_timeout(text);
        check(t.what != run::timeout_spec::kind::fixed || t.fixed.count() > 0);
        check(t.what != run::timeout_spec::kind::percent_of_median || t.percent_of_median > 0);
      });
      break;
    case 4:
      guarded([&] {
        auto j = run::parse_jobs(text);
        check(run::parse_jobs(run::to_string(j)) == j);
        for (std::uint64_t cores : {1u, 2u, 7u, 64u, 4096u}) {
          auto n = j.resolve(cores);
          check(!n || *n >= 1);
        }
      });
      break;
  }
  return 0;
}
