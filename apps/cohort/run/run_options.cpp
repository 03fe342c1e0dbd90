#include "cohort/run/run_options.hpp"

#include <cmath>
#include <csignal>
#include <cstdint>
#include <limits>

#include <fmt/format.h>

namespace cohort::app::run {

namespace {

using namespace std::chrono_literals;

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

// Parses a whole decimal number of at most 18 digits; nullopt otherwise.
std::optional<std::uint64_t> parse_digits(std::string_view s) {
  if (s.empty() || s.size() > 18) return std::nullopt;
  std::uint64_t v = 0;
  for (char c : s) {
    if (!is_digit(c)) return std::nullopt;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return v;
}

// `\d+(\.\d+)?`
bool is_decimal(std::string_view s) {
  auto dot = s.find('.');
  auto whole = s.substr(0, dot);
  auto frac = dot == std::string_view::npos ? std::string_view("0") : s.substr(dot + 1);
  auto digits = [](std::string_view d) {
    return !d.empty() && d.find_first_not_of("0123456789") == std::string_view::npos;
  };
  return digits(whole) && digits(frac);
}

// Percentages above this are refused (they stay exact as doubles).
constexpr std::int64_t max_percent = 1'000'000;

// A number `\d+(\.\d+)?` times `unit_ns` nanoseconds, truncated to the
// nanosecond; nullopt if malformed or beyond int64 nanoseconds.
std::optional<std::int64_t> scaled(std::string_view number, std::int64_t unit_ns) {
  auto dot = number.find('.');
  std::string_view whole = number.substr(0, dot);
  std::string_view frac =
      dot == std::string_view::npos ? std::string_view{} : number.substr(dot + 1);
  if (whole.empty() || (dot != std::string_view::npos && frac.empty())) return std::nullopt;
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
  unsigned __int128 total = w * static_cast<unsigned __int128>(unit_ns);
  // Digits beyond the 18th cannot add a whole nanosecond for any unit here.
  if (frac.size() > 18) frac = frac.substr(0, 18);
  unsigned __int128 num = 0;
  unsigned __int128 den = 1;
  for (char c : frac) {
    num = num * 10 + static_cast<unsigned>(c - '0');
    den *= 10;
  }
  total += num * static_cast<unsigned __int128>(unit_ns) / den;
  if (total > max) return std::nullopt;
  return static_cast<std::int64_t>(total);
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
    if (*n >= 1 && *n <= static_cast<std::uint64_t>(max_signal())) return static_cast<int>(*n);
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
std::string millis_text(std::chrono::nanoseconds d) {
  auto ns = d.count();
  std::string s = std::to_string(ns / 1'000'000);
  if (auto frac = ns % 1'000'000; frac != 0) {
    std::string digits = fmt::format("{:06d}", frac);
    while (digits.back() == '0') digits.pop_back();
    s += "." + digits;
  }
  return s;
}

}  // namespace

// ---------------------------------------------------------------------------
// --halt

halt_policy parse_halt(std::string_view text) {
  auto fail = [&](std::string_view why) -> option_error {
    return option_error(fmt::format("--halt: '{}': {}", text, why));
  };
  std::string expanded(text);
  // GNU parallel's short forms.
  if (text == "0") expanded = "never";
  if (text == "1") expanded = "soon,fail=1";
  if (text == "2") expanded = "now,fail=1";
  if (text == "-1") expanded = "soon,success=1";
  if (text == "-2") expanded = "now,success=1";
  if (!text.empty() && text.back() == '%' && parse_digits(text.substr(0, text.size() - 1))) {
    expanded = "soon,fail=" + std::string(text);
  }
  std::string_view s = expanded;

  halt_policy h;
  auto comma = s.find(',');
  std::string_view when = s.substr(0, comma);
  if (when == "never") {
    if (comma != std::string_view::npos) throw fail("nothing may follow 'never'");
    return h;
  }
  if (when == "soon") {
    h.when = halt_policy::timing::soon;
  } else if (when == "now") {
    h.when = halt_policy::timing::now;
  } else {
    throw fail(
        "expected 'never', 'now,COND=N', 'soon,COND=N' (COND: fail, success or done; N a count "
        "or a percentage like 20%), or 0, 1, 2, -1, -2, P%");
  }
  if (comma == std::string_view::npos) {
    throw fail(fmt::format("expected fail=, success= or done= after '{},'", when));
  }
  std::string_view rest = s.substr(comma + 1);
  auto eq = rest.find('=');
  std::string_view cond = rest.substr(0, eq);
  if (cond == "fail") {
    h.on = halt_policy::condition::fail;
  } else if (cond == "success") {
    h.on = halt_policy::condition::success;
  } else if (cond == "done") {
    h.on = halt_policy::condition::done;
  } else {
    throw fail(fmt::format("expected fail=, success= or done= after '{},'", when));
  }
  if (eq == std::string_view::npos) throw fail(fmt::format("expected a number after '{}='", cond));
  std::string_view value = rest.substr(eq + 1);
  if (!value.empty() && value.back() == '%') {
    auto p = parse_digits(value.substr(0, value.size() - 1));
    if (!p) throw fail(fmt::format("'{}' is not a whole percentage like 20%", value));
    if (*p < 1 || *p > 100) throw fail("the percentage must be 1% to 100%");
    h.percent = static_cast<double>(*p);
  } else {
    auto n = parse_digits(value);
    if (!n) throw fail(fmt::format("'{}' is not a number of jobs or a percentage", value));
    if (*n < 1) throw fail("the number of jobs must be at least 1");
    h.count = *n;
  }
  return h;
}

std::string to_string(const halt_policy& h) {
  if (h.when == halt_policy::timing::never) return "never";
  std::string s = h.when == halt_policy::timing::soon ? "soon," : "now,";
  switch (h.on) {
    case halt_policy::condition::fail: s += "fail="; break;
    case halt_policy::condition::success: s += "success="; break;
    case halt_policy::condition::done: s += "done="; break;
  }
  if (h.percent > 0) {
    s += fmt::format("{}%", static_cast<std::uint64_t>(h.percent));
  } else {
    s += std::to_string(h.count);
  }
  return s;
}

// ---------------------------------------------------------------------------
// --term-seq

term_sequence term_sequence::gnu_default() {
  return {{{SIGTERM, 200ms}, {SIGTERM, 100ms}, {SIGTERM, 50ms}, {SIGKILL, 25ms}}};
}

term_sequence parse_term_seq(std::string_view text) {
  auto fail = [&](std::string_view why) -> option_error {
    return option_error(fmt::format("--term-seq: '{}': {}", text, why));
  };
  if (text.empty()) throw fail("empty; expected SIGNAL,MS,... like TERM,200,TERM,100,KILL,25");
  term_sequence seq;
  std::size_t at = 0;
  bool expect_signal = true;
  for (;;) {
    auto comma = text.find(',', at);
    std::string_view token =
        text.substr(at, comma == std::string_view::npos ? text.npos : comma - at);
    if (expect_signal) {
      auto sig = parse_signal(token);
      if (!sig) {
        throw fail(
            fmt::format("'{}' is not a signal (a name like TERM or SIGKILL, or a number 1-{})",
                        token, max_signal()));
      }
      seq.steps.push_back({*sig, std::chrono::nanoseconds{0}});
    } else {
      auto ns = scaled(token, 1'000'000);
      if (!ns) {
        throw fail(fmt::format("'{}' is not a wait in milliseconds (like 200 or 12.5)", token));
      }
      seq.steps.back().wait = std::chrono::nanoseconds{*ns};
    }
    expect_signal = !expect_signal;
    if (comma == std::string_view::npos) break;
    at = comma + 1;
  }
  return seq;
}

std::string to_string(const term_sequence& seq) {
  std::string s;
  for (const auto& step : seq.steps) {
    if (!s.empty()) s += ',';
    s += signal_text(step.signal);
    s += ',';
    s += millis_text(step.wait);
  }
  return s;
}

// ---------------------------------------------------------------------------
// Durations

std::chrono::nanoseconds parse_duration(std::string_view text, std::string_view option) {
  auto fail = [&](std::string_view why) -> option_error {
    return option_error(fmt::format("{}: '{}': {}", option, text, why));
  };
  constexpr std::string_view expected =
      "expected seconds (30, 1.5) or numbers with units s, m, h, d (2s, 3m, 1h30m, 1d)";
  if (text.empty()) throw fail(fmt::format("empty; {}", expected));
  if (text.find_first_not_of("0123456789.") == std::string_view::npos) {
    auto ns = scaled(text, 1'000'000'000);
    if (!ns) throw fail(is_decimal(text) ? std::string_view("too large") : expected);
    return std::chrono::nanoseconds{*ns};
  }
  std::int64_t total = 0;
  std::size_t at = 0;
  while (at < text.size()) {
    auto unit_at = text.find_first_not_of("0123456789.", at);
    if (unit_at == std::string_view::npos) {
      throw fail(fmt::format("'{}' has no unit; {}", text.substr(at), expected));
    }
    std::int64_t unit = 0;
    switch (lower(text[unit_at])) {
      case 's': unit = 1'000'000'000; break;
      case 'm': unit = 60'000'000'000; break;
      case 'h': unit = 3'600'000'000'000; break;
      case 'd': unit = 86'400'000'000'000; break;
      default: throw fail(fmt::format("unknown unit '{}'; {}", text[unit_at], expected));
    }
    std::string_view number = text.substr(at, unit_at - at);
    if (number.empty()) throw fail(expected);
    auto ns = scaled(number, unit);
    if (!ns) throw fail(fmt::format("'{}' is not a number or is too large", number));
    if (*ns > std::numeric_limits<std::int64_t>::max() - total) throw fail("too large");
    total += *ns;
    at = unit_at + 1;
  }
  return std::chrono::nanoseconds{total};
}

timeout_spec parse_timeout(std::string_view text) {
  timeout_spec t;
  if (!text.empty() && text.back() == '%') {
    auto number = text.substr(0, text.size() - 1);
    auto pct = scaled(number, 1'000'000);  // percent in millionths
    if (!pct) {
      throw option_error(fmt::format(
          "--timeout: '{}': expected a duration (30, 1.5, 2m, 1h30m) or a percentage of the "
          "median runtime like 200%",
          text));
    }
    if (*pct > max_percent * 1'000'000) {
      throw option_error(fmt::format("--timeout: '{}': at most {}%", text, max_percent));
    }
    if (*pct == 0) return t;
    t.what = timeout_spec::kind::percent_of_median;
    t.percent_of_median = static_cast<double>(*pct) / 1e6;
    return t;
  }
  auto d = parse_duration(text, "--timeout");
  if (d.count() == 0) return t;
  t.what = timeout_spec::kind::fixed;
  t.fixed = d;
  return t;
}

// ---------------------------------------------------------------------------
// -j

jobs_spec parse_jobs(std::string_view text) {
  auto fail = [&]() -> option_error {
    return option_error(fmt::format(
        "-j: '{}': expected a number of jobs (8; 0 for no limit), +N or -N (CPU threads plus or "
        "minus N) or P% (of the CPU threads)",
        text));
  };
  jobs_spec j;
  if (text.empty()) throw fail();
  if (text.front() == '+' || text.front() == '-') {
    auto n = parse_digits(text.substr(1));
    if (!n) throw fail();
    j.what = text.front() == '+' ? jobs_spec::kind::cores_plus : jobs_spec::kind::cores_minus;
    j.n = *n;
    return j;
  }
  if (text.back() == '%') {
    auto p = scaled(text.substr(0, text.size() - 1), 1'000'000);
    if (!p) throw fail();
    if (*p > max_percent * 1'000'000) {
      throw option_error(fmt::format("-j: '{}': at most {}%", text, max_percent));
    }
    j.what = jobs_spec::kind::cores_percent;
    j.percent = static_cast<double>(*p) / 1e6;
    return j;
  }
  auto n = parse_digits(text);
  if (!n) throw fail();
  j.what = *n == 0 ? jobs_spec::kind::unlimited : jobs_spec::kind::count;
  j.n = *n;
  return j;
}

std::optional<std::uint64_t> jobs_spec::resolve(std::uint64_t cpu_threads) const {
  if (cpu_threads == 0) cpu_threads = 1;
  switch (what) {
    case kind::unlimited: return std::nullopt;
    case kind::count: return n;
    case kind::cores_plus: return cpu_threads + n;
    case kind::cores_minus: return n >= cpu_threads ? 1 : cpu_threads - n;
    case kind::cores_percent: {
      if (!(percent > 0)) return 1;
      // GNU parallel: ceil(threads * P / 100); at least one slot.
      const double p = percent < 1e12 ? percent : 1e12;  // beyond any machine anyway
      auto millionths = static_cast<unsigned __int128>(std::llround(p * 1e6));
      unsigned __int128 scaled_threads = cpu_threads * millionths;
      unsigned __int128 den = 100'000'000;
      auto slots = (scaled_threads + den - 1) / den;
      if (slots < 1) slots = 1;
      constexpr auto cap =
          static_cast<unsigned __int128>(std::numeric_limits<std::uint64_t>::max());
      return static_cast<std::uint64_t>(slots > cap ? cap : slots);
    }
  }
  return n;
}

std::string to_string(const jobs_spec& j) {
  switch (j.what) {
    case jobs_spec::kind::unlimited: return "0";
    case jobs_spec::kind::count: return std::to_string(j.n);
    case jobs_spec::kind::cores_plus: return "+" + std::to_string(j.n);
    case jobs_spec::kind::cores_minus: return "-" + std::to_string(j.n);
    case jobs_spec::kind::cores_percent: {
      std::string s = fmt::format("{:.6f}", j.percent);
      while (s.back() == '0') s.pop_back();
      if (s.back() == '.') s.pop_back();
      return s + "%";
    }
  }
  return std::to_string(j.n);
}

}  // namespace cohort::app::run
