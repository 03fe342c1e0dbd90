#include "cohort/common/part.hpp"

#include "cohort/common/option_values.hpp"

#include <fmt/format.h>

#include <cstdlib>
#include <limits>

namespace cohort::app {

namespace {

constexpr std::int64_t max_parts = std::numeric_limits<std::uint32_t>::max();

// A whole number from the scheduler's environment: `name`'s value.
std::int64_t env_number(const environment_reader& env, const char* name, std::int64_t min) {
  const std::optional<std::string> v = env(name);
  if (!v || v->empty()) {
    throw usage_error(fmt::format("--part auto: {} is not set", name));
  }
  return parse_count(*v, fmt::format("--part auto: {}", name), min, max_parts);
}

work_part checked(std::int64_t k, std::int64_t n, std::string_view where) {
  if (n < 1) throw usage_error(fmt::format("{}: N must be at least 1", where));
  if (k < 0 || k >= n) {
    throw usage_error(fmt::format("{}: K must be from 0 to N-1 ({}); it is {}", where, n - 1, k));
  }
  return {static_cast<std::uint32_t>(k), static_cast<std::uint32_t>(n)};
}

work_part slurm_part(const environment_reader& env) {
  const std::int64_t id = env_number(env, "SLURM_ARRAY_TASK_ID", 0);
  const std::int64_t min = env_number(env, "SLURM_ARRAY_TASK_MIN", 0);
  const std::int64_t count = env_number(env, "SLURM_ARRAY_TASK_COUNT", 1);
  std::int64_t step = 1;
  if (const auto s = env("SLURM_ARRAY_TASK_STEP"); s && !s->empty()) {
    step = env_number(env, "SLURM_ARRAY_TASK_STEP", 1);
  }
  if (id < min || (id - min) % step != 0) {
    throw usage_error(
        fmt::format("--part auto: Slurm array task {} is not on the array's range from {} by {}",
                    id, min, step));
  }
  return checked((id - min) / step, count,
                 "--part auto (a Slurm array needs contiguous task IDs, e.g. --array=0-7)");
}

work_part kubernetes_part(const environment_reader& env, std::string_view parts) {
  const std::int64_t k = env_number(env, "JOB_COMPLETION_INDEX", 0);
  if (parts.empty()) {
    throw usage_error(
        "--part auto: JOB_COMPLETION_INDEX (a Kubernetes Indexed Job) gives no total; give it "
        "with --parts N (the Job's completions) or --parts VAR (an environment variable)");
  }
  std::int64_t n = 0;
  if (parts.front() >= '0' && parts.front() <= '9') {
    n = parse_count(parts, "--parts", 1, max_parts);
  } else {
    const std::optional<std::string> v = env(parts);
    if (!v || v->empty()) {
      throw usage_error(
          fmt::format("--parts {}: no such environment variable", shown_in_message(parts)));
    }
    n = parse_count(*v, fmt::format("--parts {}", shown_in_message(parts)), 1, max_parts);
  }
  return checked(k, n, "--part auto");
}

work_part given_part(std::string_view text) {
  const auto slash = text.find('/');
  if (slash == std::string_view::npos) {
    throw usage_error(
        fmt::format("--part: '{}': expected K/N (e.g. 0/4) or auto", shown_in_message(text)));
  }
  const std::int64_t k = parse_count(text.substr(0, slash), "--part's K", 0, max_parts);
  const std::int64_t n = parse_count(text.substr(slash + 1), "--part's N", 0, max_parts);
  return checked(k, n, fmt::format("--part {}", shown_in_message(text)));
}

}  // namespace

std::string work_part::text() const {
  return fmt::format("{}/{}", index, count);
}

std::optional<std::string> process_environment(std::string_view name) {
  const char* v = std::getenv(std::string(name).c_str());
  if (v == nullptr) return std::nullopt;
  return std::string(v);
}

work_part parse_part(std::string_view part, std::string_view parts, const environment_reader& env) {
  if (part != "auto") {
    if (!parts.empty()) throw usage_error("--parts goes with --part auto only");
    return given_part(part);
  }
  if (env("SLURM_ARRAY_TASK_ID")) return slurm_part(env);
  if (env("JOB_COMPLETION_INDEX")) return kubernetes_part(env, parts);
  throw usage_error(
      "--part auto: neither a Slurm array task (SLURM_ARRAY_TASK_ID) nor a Kubernetes Indexed "
      "Job (JOB_COMPLETION_INDEX) in the environment; give --part K/N");
}

}  // namespace cohort::app
