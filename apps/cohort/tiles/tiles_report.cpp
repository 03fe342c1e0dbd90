#include "cohort/tiles/tiles_report.hpp"

#include "cohort/common/option_values.hpp"
#include "cohort/exit_codes.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <csignal>

namespace cohort::app::tiles {

double tiles_report::tiles_per_s() const {
  return elapsed_s > 0 ? static_cast<double>(handled) / elapsed_s : 0.0;
}

std::string summary_line(const tiles_report& r) {
  std::string s = fmt::format("{} tiles: {} stored", format_count(r.total), format_count(r.stored));
  auto add = [&](std::uint64_t n, const char* what) {
    if (n != 0) s += fmt::format(", {} {}", format_count(n), what);
  };
  // Known missing tiles are skipped too: said once, among the missing.
  add(r.skipped - std::min(r.skipped_missing, r.skipped), "skipped");
  add(r.unchanged, "unchanged");
  add(r.missing, "missing");
  add(r.failed, "failed");
  add(r.not_started, "not fetched yet");
  s += fmt::format(" in {:.1f} s ({:.1f} tiles/s, {:.1f} MB/s)", r.elapsed_s, r.tiles_per_s(),
                   r.elapsed_s > 0 ? static_cast<double>(r.bytes) / 1e6 / r.elapsed_s : 0.0);
  if (!r.output.empty()) s += " into " + r.output;
  return s;
}

std::string json_quoted(std::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

std::string summary_json(const tiles_report& r) {
  return fmt::format(
      "{{\"total\": {}, \"stored\": {}, \"skipped\": {}, \"unchanged\": {}, \"failed\": {}, "
      "\"missing\": {}, \"not_started\": {}, \"bytes\": {}, \"elapsed_s\": {:.3f}, "
      "\"tiles_per_s\": {:.1f}, \"outcome\": {}, \"output\": {}, \"failed_tiles\": {}, "
      "\"failed_tiles_total\": {}, \"failed_list\": {}}}\n",
      r.total, r.stored, r.skipped, r.unchanged, r.failed, r.missing, r.not_started, r.bytes,
      r.elapsed_s, r.tiles_per_s(), json_quoted(r.outcome), json_quoted(r.output), r.failed_tiles,
      r.failed_tiles_total, r.failed_list.empty() ? "null" : json_quoted(r.failed_list));
}

std::string tiles_outcome(const tiles_report& r, int signal, bool strict) {
  if (signal != 0) return "interrupted";
  if (r.failed > 0 || (strict && r.missing > 0)) return "failed";
  return "complete";
}

int tiles_exit_code(const tiles_report& r, int signal, bool strict) {
  if (signal == SIGINT) return exit_interrupted;
  if (signal == SIGTERM) return exit_terminated;
  if (r.failed > 0 || (strict && r.missing > 0)) return exit_failed;
  return exit_ok;
}

}  // namespace cohort::app::tiles
