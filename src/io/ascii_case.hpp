#pragma once
// Case-insensitive comparison of ASCII text, for names that protocols and
// POSIX define as ASCII (HTTP header names, URL schemes, signal names): the
// same in every locale, unlike std::tolower. Private to src/io.

#include <cstddef>
#include <string_view>

namespace cohort::io_detail {

/// `c` with A-Z lowered; any other byte as it is.
constexpr char ascii_lower(char c) noexcept {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

/// True when `a` and `b` are equal but for the case of their ASCII letters.
constexpr bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  }
  return true;
}

}  // namespace cohort::io_detail
