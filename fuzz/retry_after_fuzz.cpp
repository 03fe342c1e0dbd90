// Fuzzes the Retry-After parser: any header value must parse or be refused
// without crashing; a result is never negative; an all-digit value is its own
// number of seconds (saturated); anything starting with a sign is refused.
//
// Input: the header value's bytes.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "cohort/io/http.hpp"

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view value(reinterpret_cast<const char*>(data), size);
  // 2015-10-21 07:28:00 UTC: dates on both sides of it are exercised.
  const auto now = std::chrono::system_clock::from_time_t(1445412480);
  const auto r = cohort::parse_retry_after(value, now);
  if (r) check(r->count() >= 0);

  bool digits = !value.empty() && value.size() <= 18;
  for (char c : value) digits = digits && c >= '0' && c <= '9';
  if (digits) {
    std::int64_t n = 0;
    for (char c : value) n = n * 10 + (c - '0');
    check(r && r->count() == n);
  }
  if (!value.empty() && (value.front() == '-' || value.front() == '+')) check(!r);
  return 0;
}
