#include "cohort/run/run_part.hpp"

#include "cohort/common/option_values.hpp"

#include <fmt/core.h>

namespace cohort::app::run {

std::string joblog_of_part(const std::string& file, const work_part& part) {
  std::string out;
  for (std::size_t i = 0; i < file.size(); ++i) {
    const char next = i + 1 < file.size() ? file[i + 1] : '\0';
    if (file[i] != '%' || (next != 'k' && next != 'n' && next != '%')) {
      out += file[i];
      continue;
    }
    if (next == 'k') out += std::to_string(part.index);
    if (next == 'n') out += std::to_string(part.count);
    if (next == '%') out += '%';
    ++i;
  }
  return out;
}

void check_joblog_part(const joblog_contents& log, const std::string& file, const work_part& part) {
  for (const joblog_record& r : log.records) {
    if (part.holds_job(r.seq)) continue;
    throw usage_error(fmt::format(
        "--resume: joblog {} holds job {}, which is part {}/{}, not this part {}; give each "
        "part its own joblog (e.g. --joblog jobs.%k.log)",
        shown_in_message(file), r.seq, (r.seq - 1) % part.count, part.count, part.text()));
  }
}

}  // namespace cohort::app::run
