#include "cohort/tiles/failure_guard.hpp"

#include "cohort/tiles/host_rate_limiter.hpp"

#include <fmt/core.h>

namespace cohort::app::tiles {

bool failure_guard::is_failure(int status, const std::optional<std::string>& problem) noexcept {
  // 404 and 204 are missing tiles, 304 an unchanged one: answers the run
  // expects, never a sign of a broken server.
  if (status == 404 || status == 204 || status == 304) return false;
  return status != 200 || problem.has_value();
}

std::optional<std::string> failure_guard::note(std::string_view url, int status,
                                               const std::optional<std::string>& problem) {
  if (limit_ == 0) return std::nullopt;
  const std::string_view host = url_host(url);
  auto it = hosts_.find(std::string(host));
  if (it == hosts_.end()) it = hosts_.emplace(std::string(host), host_state{}).first;
  host_state& h = it->second;
  if (!is_failure(status, problem)) {
    h.served = true;
    h.in_a_row = 0;
    return std::nullopt;
  }
  if (h.in_a_row == 0 || h.status != status) {
    h.status = status;
    h.in_a_row = 0;
    h.sample_url = url;
    h.problem = problem.value_or("");
  }
  ++h.in_a_row;
  const std::size_t needed = h.served ? limit_ : limit_ / 2 + limit_ % 2;  // half, rounded up
  if (h.in_a_row < needed) return std::nullopt;

  const std::string how = status == 200 ? fmt::format("HTTP 200, not a tile: {}", h.problem)
                                        : fmt::format("HTTP {}", status);
  const std::string which =
      h.served ? fmt::format("the last {} answers", h.in_a_row)
               : fmt::format("the first {} answer{}", h.in_a_row, h.in_a_row == 1 ? "" : "s");
  return fmt::format(
      "{} from {} all failed with {} (e.g. {}){}; nothing stored was lost: run the same command "
      "again to resume once the server works, or change the limit with --max-failures-in-a-row "
      "N (0: never stop)",
      which, host, how, h.sample_url, h.served ? "" : ", and no tile came");
}

}  // namespace cohort::app::tiles
