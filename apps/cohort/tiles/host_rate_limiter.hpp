#pragma once

/// \file
/// `--rate`: at most N requests per second to each host, whichever worker
/// makes them.

#include <cohort/scheduler.hpp>
#include <cohort/task.hpp>

#include <string>
#include <string_view>
#include <unordered_map>

namespace cohort::app::tiles {

/// Spaces the requests to each host 1/rate seconds apart, on the loop's
/// clock: the first request to a host goes at once, the next one waits for
/// its slot. Slots are handed out in the order acquire() is called, so the
/// workers of a host take turns. A rate of 0 means no limit.
///
/// Cancellation: a worker cancelled while it waits leaves at once; its slot
/// stays used (the next request is not moved earlier), which errs on the
/// polite side. Not thread-safe: one loop.
///
///   host_rate_limiter limiter(2.0);            // 2 requests/s per host
///   co_await limiter.acquire("tile.example");  // before each request
class host_rate_limiter {
 public:
  explicit host_rate_limiter(double requests_per_second) noexcept;

  /// Waits until the next request to `host` may start. Lazy.
  [[nodiscard]] task<> acquire(std::string_view host);

  /// The time the next request to `host` may start (now or earlier: at
  /// once). For tests and the progress display.
  [[nodiscard]] time_point next_slot(std::string_view host) const;

  bool limited() const noexcept { return interval_ > duration::zero(); }

 private:
  duration interval_{};
  std::unordered_map<std::string, time_point> next_;
};

/// The host (and port) of an http(s) URL: what lies between "://" and the
/// next '/', '?' or '#'; "" when the URL has no "://".
///
///   url_host("http://127.0.0.1:8080/1/2/3.png") == "127.0.0.1:8080"
std::string_view url_host(std::string_view url);

}  // namespace cohort::app::tiles
