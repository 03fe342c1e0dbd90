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

// Percentages above this are refused (they stay exact as doubles).
constexpr std::int64_t max_percent = 1'000'000;

}  // namespace

// ---------------------------------------------------------------------------
// --halt

namespace {

option_error halt_error(std::string_view text, std::string_view why) {
  return option_error(fmt::format("--halt: '{}': {}", text, why));
}

// GNU parallel's short forms spelled out ("1" is "soon,fail=1", "20%" is
// "soon,fail=20%"); any other text as it is.
std::string spelled_out_halt(std::string_view text) {
  if (text == "0") return "never";
  if (text == "1") return "soon,fail=1";
  if (text == "2") return "now,fail=1";
  if (text == "-1") return "soon,success=1";
  if (text == "-2") return "now,success=1";
  if (!text.empty() && text.back() == '%' && parse_digits(text.substr(0, text.size() - 1))) {
    return "soon,fail=" + std::string(text);
  }
  return std::string(text);
}

// `when` is "soon" or "now" (never is handled before).
cohort::halt_policy::when halt_when(std::string_view text, std::string_view when) {
  if (when == "soon") return cohort::halt_policy::when::soon;
  if (when == "now") return cohort::halt_policy::when::now;
  throw halt_error(
      text,
      "expected 'never', 'now,COND=N', 'soon,COND=N' (COND: fail, success or done; N a count "
      "or a percentage like 20%), or 0, 1, 2, -1, -2, P%");
}

// `cond` is what follows "WHEN,": fail, success or done.
cohort::halt_policy::on halt_trigger(std::string_view text, std::string_view when,
                                     std::string_view cond) {
  if (cond == "fail") return cohort::halt_policy::on::fail;
  if (cond == "success") return cohort::halt_policy::on::success;
  if (cond == "done") return cohort::halt_policy::on::done;
  throw halt_error(text, fmt::format("expected fail=, success= or done= after '{},'", when));
}

// Reads what follows "COND=", a count or a percentage, into `h`.
void read_halt_threshold(cohort::halt_policy& h, std::string_view text, std::string_view value) {
  if (!value.empty() && value.back() == '%') {
    auto p = parse_digits(value.substr(0, value.size() - 1));
    if (!p) throw halt_error(text, fmt::format("'{}' is not a whole percentage like 20%", value));
    if (*p < 1 || *p > 100) throw halt_error(text, "the percentage must be 1% to 100%");
    h.percent = static_cast<double>(*p);
  } else {
    auto n = parse_digits(value);
    if (!n) {
      throw halt_error(text, fmt::format("'{}' is not a number of jobs or a percentage", value));
    }
    if (*n < 1) throw halt_error(text, "the number of jobs must be at least 1");
    h.count = *n;
  }
}

}  // namespace

cohort::halt_policy parse_halt(std::string_view text) {
  const std::string expanded = spelled_out_halt(text);
  const std::string_view s = expanded;
  cohort::halt_policy h;
  const auto comma = s.find(',');
  const std::string_view when = s.substr(0, comma);
  if (when == "never") {
    if (comma != std::string_view::npos) throw halt_error(text, "nothing may follow 'never'");
    return h;
  }
  h.mode = halt_when(text, when);
  if (comma == std::string_view::npos) {
    throw halt_error(text, fmt::format("expected fail=, success= or done= after '{},'", when));
  }
  const std::string_view rest = s.substr(comma + 1);
  const auto eq = rest.find('=');
  const std::string_view cond = rest.substr(0, eq);
  h.trigger = halt_trigger(text, when, cond);
  if (eq == std::string_view::npos) {
    throw halt_error(text, fmt::format("expected a number after '{}='", cond));
  }
  read_halt_threshold(h, text, rest.substr(eq + 1));
  return h;
}

std::string to_string(const cohort::halt_policy& h) {
  using P = cohort::halt_policy;
  if (h.mode == P::when::never) return "never";
  std::string s = h.mode == P::when::soon ? "soon," : "now,";
  switch (h.trigger) {
    case P::on::fail: s += "fail="; break;
    case P::on::success: s += "success="; break;
    case P::on::done: s += "done="; break;
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

cohort::term_sequence parse_term_seq(std::string_view text) {
  try {
    return cohort::parse_term_sequence(text);
  } catch (const cohort::term_sequence_error& e) {
    throw option_error(fmt::format("--term-seq: '{}': {}", text, e.reason()));
  }
}

// ---------------------------------------------------------------------------
// --timeout

timeout_spec parse_timeout(std::string_view text) {
  timeout_spec t;
  if (!text.empty() && text.back() == '%') {
    auto number = text.substr(0, text.size() - 1);
    auto pct = scaled_decimal(number, 1'000'000);  // percent in millionths
    if (!pct) {
      throw option_error(fmt::format(
          "--timeout: '{}': expected a duration like 0.5, 500ms, 2s or 1m, or a percentage of "
          "the median runtime like 200%",
          text));
    }
    if (*pct > max_percent * 1'000'000) {
      throw option_error(fmt::format("--timeout must be at most {}%", format_count(max_percent)));
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
    auto p = scaled_decimal(text.substr(0, text.size() - 1), 1'000'000);
    if (!p) throw fail();
    if (*p > max_percent * 1'000'000) {
      throw option_error(fmt::format("-j must be at most {}%", format_count(max_percent)));
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
