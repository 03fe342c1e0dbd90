#include "cohort/tiles/host_rate_limiter.hpp"

#include <cohort/sleep.hpp>

#include <algorithm>
#include <chrono>

namespace cohort::app::tiles {

host_rate_limiter::host_rate_limiter(double requests_per_second) noexcept {
  if (requests_per_second > 0) {
    interval_ = std::chrono::duration_cast<duration>(
        std::chrono::duration<double>(1.0 / requests_per_second));
  }
}

task<> host_rate_limiter::acquire(std::string_view host) {
  if (!limited()) co_return;
  const time_point now = (co_await this_scheduler()).now();
  auto [it, inserted] = next_.try_emplace(std::string(host), now);
  const time_point slot = std::max(now, it->second);
  it->second = slot + interval_;
  if (slot > now) co_await sleep_until(slot);
}

time_point host_rate_limiter::next_slot(std::string_view host) const {
  auto it = next_.find(std::string(host));
  return it == next_.end() ? time_point{} : it->second;
}

std::string_view url_host(std::string_view url) {
  const auto scheme = url.find("://");
  if (scheme == std::string_view::npos) return {};
  std::string_view rest = url.substr(scheme + 3);
  return rest.substr(0, rest.find_first_of("/?#"));
}

}  // namespace cohort::app::tiles
