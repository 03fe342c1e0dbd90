#include "cohort/common/shell_quote.hpp"

#include <array>

namespace cohort::app {

namespace {

// The bytes GNU parallel leaves unquoted: /[^-_.+a-z0-9\/]/i does not match.
constexpr std::array<bool, 256> make_safe_table() {
  std::array<bool, 256> t{};
  for (int c = 'a'; c <= 'z'; ++c) t[c] = true;
  for (int c = 'A'; c <= 'Z'; ++c) t[c] = true;
  for (int c = '0'; c <= '9'; ++c) t[c] = true;
  for (unsigned char c : std::string_view("-_.+/")) t[c] = true;
  return t;
}
constexpr std::array<bool, 256> safe_byte = make_safe_table();

}  // namespace

void append_shell_quoted(std::string& out, std::string_view value) {
  if (value.empty()) {
    out.append("''");
    return;
  }
  bool safe = true;
  for (unsigned char c : value) {
    if (!safe_byte[c]) {
      safe = false;
      break;
    }
  }
  if (safe) {
    out.append(value);
    return;
  }
  const std::size_t start = out.size();
  out.push_back('\'');
  std::size_t run = 0;  // start of the current run without a quote
  for (std::size_t i = 0; i < value.size(); ++i) {
    if (value[i] == '\'') {
      out.append(value.substr(run, i - run));
      out.append("'\"'\"'");
      run = i + 1;
    }
  }
  out.append(value.substr(run));
  out.push_back('\'');
  // GNU parallel: s/^''//; s/''$//;
  if (std::string_view(out).substr(start).starts_with("''")) out.erase(start, 2);
  if (std::string_view(out).substr(start).ends_with("''")) out.resize(out.size() - 2);
}

std::string shell_quote(std::string_view value) {
  std::string out;
  append_shell_quoted(out, value);
  return out;
}

}  // namespace cohort::app
