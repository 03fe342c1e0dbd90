#include <cohort/io/term_sequence.hpp>

#include "io/ascii_case.hpp"

#include <chrono>
#include <csignal>
#include <cstdint>
#include <optional>
#include <string>

namespace cohort {

namespace {

using namespace std::chrono_literals;

using io_detail::iequals;

// A whole decimal number of at most 18 digits; nullopt otherwise.
std::optional<std::int64_t> parse_digits(std::string_view s) {
  if (s.empty() || s.size() > 18) return std::nullopt;
  std::int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

// Milliseconds `\d+(\.\d+)?` as nanoseconds (digits past the ninth decimal of
// a second are dropped); nullopt if malformed or too large for int64 ns.
std::optional<std::chrono::nanoseconds> parse_millis(std::string_view s) {
  const auto dot = s.find('.');
  const auto whole = parse_digits(s.substr(0, dot));
  if (!whole || *whole > 9'000'000'000'000) return std::nullopt;  // ~285 years: fits in ns
  std::int64_t ns = *whole * 1'000'000;
  if (dot != std::string_view::npos) {
    const std::string_view frac = s.substr(dot + 1);
    if (frac.empty()) return std::nullopt;
    std::int64_t scale = 100'000;
    for (char c : frac) {
      if (c < '0' || c > '9') return std::nullopt;
      ns += (c - '0') * scale;
      scale /= 10;
    }
  }
  return std::chrono::nanoseconds(ns);
}

struct signal_name {
  std::string_view name;
  int number;
};

constexpr signal_name signal_names[] = {
    {"HUP", SIGHUP},       {"INT", SIGINT},   {"QUIT", SIGQUIT},     {"ILL", SIGILL},
    {"TRAP", SIGTRAP},     {"ABRT", SIGABRT}, {"IOT", SIGABRT},      {"BUS", SIGBUS},
    {"FPE", SIGFPE},       {"KILL", SIGKILL}, {"USR1", SIGUSR1},     {"SEGV", SIGSEGV},
    {"USR2", SIGUSR2},     {"PIPE", SIGPIPE}, {"ALRM", SIGALRM},     {"TERM", SIGTERM},
    {"CHLD", SIGCHLD},     {"CLD", SIGCHLD},  {"CONT", SIGCONT},     {"STOP", SIGSTOP},
    {"TSTP", SIGTSTP},     {"TTIN", SIGTTIN}, {"TTOU", SIGTTOU},     {"URG", SIGURG},
    {"XCPU", SIGXCPU},     {"XFSZ", SIGXFSZ}, {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF},
    {"WINCH", SIGWINCH},   {"IO", SIGIO},     {"SYS", SIGSYS},
#ifdef SIGSTKFLT
    {"STKFLT", SIGSTKFLT},
#endif
#ifdef SIGPWR
    {"PWR", SIGPWR},
#endif
#ifdef SIGPOLL
    {"POLL", SIGPOLL},
#endif
};

int max_signal() {
#ifdef SIGRTMAX
  return SIGRTMAX;
#else
  return 31;
#endif
}

std::optional<int> parse_signal(std::string_view s) {
  if (auto n = parse_digits(s)) {
    if (*n >= 1 && *n <= max_signal()) return static_cast<int>(*n);
    return std::nullopt;
  }
  if (s.size() > 3 && iequals(s.substr(0, 3), "SIG")) s.remove_prefix(3);
  for (const auto& n : signal_names) {
    if (iequals(s, n.name)) return n.number;
  }
  return std::nullopt;
}

std::string signal_text(int sig) {
  for (const auto& n : signal_names) {
    if (n.number == sig) return std::string(n.name);
  }
  return std::to_string(sig);
}

// Whole milliseconds as an integer, otherwise up to 6 decimals (exact for ns).
std::string millis_text(duration d) {
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
  std::string s = std::to_string(ns / 1'000'000);
  if (auto frac = ns % 1'000'000; frac != 0) {
    std::string digits = std::to_string(frac);
    digits.insert(0, 6 - digits.size(), '0');
    while (digits.back() == '0') digits.pop_back();
    s += "." + digits;
  }
  return s;
}

}  // namespace

term_sequence_error::term_sequence_error(std::string_view text, std::string reason)
    : std::invalid_argument("termination sequence '" + std::string(text) + "': " + reason),
      reason_(std::move(reason)) {}

term_sequence default_term_sequence() {
  return {{SIGTERM, 200ms}, {SIGTERM, 100ms}, {SIGTERM, 50ms}, {SIGKILL, 25ms}};
}

term_sequence parse_term_sequence(std::string_view text) {
  if (text.empty()) {
    throw term_sequence_error(text, "empty; expected SIGNAL,MS,... like TERM,200,TERM,100,KILL,25");
  }
  term_sequence seq;
  std::size_t at = 0;
  bool expect_signal = true;
  for (;;) {
    const auto comma = text.find(',', at);
    const std::string_view token =
        text.substr(at, comma == std::string_view::npos ? text.npos : comma - at);
    if (expect_signal) {
      const auto sig = parse_signal(token);
      if (!sig) {
        throw term_sequence_error(
            text, "'" + std::string(token) +
                      "' is not a signal (a name like TERM or SIGKILL, or a number 1-" +
                      std::to_string(max_signal()) + ")");
      }
      seq.push_back({*sig, duration::zero()});
    } else {
      const auto wait = parse_millis(token);
      if (!wait) {
        throw term_sequence_error(
            text, "'" + std::string(token) + "' is not a wait in milliseconds (like 200 or 12.5)");
      }
      seq.back().wait = std::chrono::duration_cast<duration>(*wait);
    }
    expect_signal = !expect_signal;
    if (comma == std::string_view::npos) break;
    at = comma + 1;
  }
  return seq;
}

std::string to_string(const term_sequence& seq) {
  std::string s;
  for (const auto& step : seq) {
    if (!s.empty()) s += ',';
    s += signal_text(step.signal);
    s += ',';
    s += millis_text(step.wait);
  }
  return s;
}

duration total_wait(const term_sequence& seq) noexcept {
  duration total{0};
  for (const term_step& step : seq) total = saturating_add(total, step.wait);
  return total;
}

}  // namespace cohort
