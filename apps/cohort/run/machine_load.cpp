#include "cohort/run/machine_load.hpp"

#include "cohort/common/option_values.hpp"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <fstream>
#include <iterator>

namespace cohort::app::run {

namespace {

// The number after `key` at the start of a line of `text` ("procs_running 3",
// "MemAvailable:   123 kB").
std::optional<double> field(std::string_view text, std::string_view key) {
  std::size_t at = 0;
  while (at < text.size()) {
    const std::size_t end = std::min(text.find('\n', at), text.size());
    std::string_view line = text.substr(at, end - at);
    at = end + 1;
    if (!line.starts_with(key)) continue;
    line.remove_prefix(key.size());
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
    double value = 0;
    const auto [ptr, ec] = std::from_chars(line.data(), line.data() + line.size(), value);
    if (ec != std::errc{} || ptr == line.data()) return std::nullopt;
    return value;
  }
  return std::nullopt;
}

std::string read_all(const char* path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

machine_state parse_machine_state(std::string_view stat, std::string_view meminfo) {
  machine_state s;
  const auto running = field(stat, "procs_running");
  const auto blocked = field(stat, "procs_blocked");
  if (running) s.load = std::max(0.0, *running + blocked.value_or(0) - 1);
  if (auto avail = field(meminfo, "MemAvailable:")) {
    s.mem_available = static_cast<std::uint64_t>(*avail) * 1024;
  } else if (auto free = field(meminfo, "MemFree:")) {
    const double kb = *free + field(meminfo, "Buffers:").value_or(0) +
                      field(meminfo, "Cached:").value_or(0) +
                      field(meminfo, "SwapCached:").value_or(0);
    s.mem_available = static_cast<std::uint64_t>(kb) * 1024;
  }
  return s;
}

machine_state proc_machine_probe::read() {
  return parse_machine_state(read_all("/proc/stat"), read_all("/proc/meminfo"));
}

bool machine_allows(const machine_limits& limits, const machine_state& now) noexcept {
  if (limits.max_load && (!now.load || *now.load >= *limits.max_load)) return false;
  if (limits.min_free && now.mem_available && *now.mem_available < *limits.min_free) return false;
  return true;
}

bool memory_critical(const machine_limits& limits, const machine_state& now) noexcept {
  return limits.min_free && now.mem_available && *now.mem_available < *limits.min_free / 2;
}

double load_spec::resolve(unsigned cpu_threads) const noexcept {
  const double cpus = cpu_threads;
  double load = value;
  switch (what) {
    case kind::absolute: break;
    case kind::percent: load = cpus * value / 100; break;
    case kind::plus: load = cpus + value; break;
    case kind::minus: load = cpus - value; break;
  }
  return std::max(load, 0.01);
}

load_spec parse_load(std::string_view text) {
  auto bad = [&] {
    return usage_error(fmt::format(
        "--load: '{}': expected a number of processes (2, 1.5), a percentage of the CPU "
        "threads (100%) or +N/-N (CPU threads plus or minus N)",
        shown_in_message(text)));
  };
  load_spec s;
  std::string_view digits = text;
  if (digits.starts_with('+') || digits.starts_with('-')) {
    s.what = digits.front() == '+' ? load_spec::kind::plus : load_spec::kind::minus;
    digits.remove_prefix(1);
  } else if (digits.ends_with('%')) {
    s.what = load_spec::kind::percent;
    digits.remove_suffix(1);
  }
  // GNU: whole numbers for +N, -N and N%; N or N.M alone.
  const bool decimals_ok = s.what == load_spec::kind::absolute;
  if (digits.empty() || !(digits.front() >= '0' && digits.front() <= '9')) throw bad();
  const auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), s.value,
                                         std::chars_format::fixed);
  if (ec != std::errc{} || ptr != digits.data() + digits.size() || !std::isfinite(s.value)) {
    throw bad();
  }
  if (!decimals_ok && digits.find('.') != std::string_view::npos) throw bad();
  return s;
}

std::uint64_t parse_gnu_size(std::string_view text, std::string_view option) {
  auto bad = [&] {
    return usage_error(fmt::format(
        "{}: '{}': expected a size like 512M or 1G (K M G T P E: powers of 1024; k m g t p e: "
        "powers of 1000)",
        option, shown_in_message(text)));
  };
  double value = 0;
  const char* begin = text.data();
  const char* end = begin + text.size();
  if (text.empty() || !((text.front() >= '0' && text.front() <= '9') || text.front() == '.')) {
    throw bad();
  }
  const auto [ptr, ec] = std::from_chars(begin, end, value, std::chars_format::fixed);
  if (ec != std::errc{} || !std::isfinite(value)) throw bad();
  std::string_view unit(ptr, static_cast<std::size_t>(end - ptr));
  constexpr std::string_view prefixes = "kmgtpe";
  double scale = 1;
  if (!unit.empty()) {
    const char c = unit.front();
    const bool upper = c >= 'A' && c <= 'Z';
    const std::size_t power = prefixes.find(static_cast<char>(upper ? c - 'A' + 'a' : c));
    if (power == std::string_view::npos) throw bad();
    // "Ki", "ki", "KI": binary; "K": binary; "k": decimal (GNU's rules).
    const bool binary = upper || unit.size() == 2;
    if (unit.size() == 2 && unit[1] != 'i' && unit[1] != 'I') throw bad();
    if (unit.size() > 2) throw bad();
    scale = std::pow(binary ? 1024.0 : 1000.0, static_cast<double>(power + 1));
  }
  const double bytes = value * scale;
  if (bytes >= 1.8e19) throw bad();
  return static_cast<std::uint64_t>(bytes);
}

}  // namespace cohort::app::run
