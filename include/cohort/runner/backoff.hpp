#pragma once
/// \file
/// Retry delays: capped exponential backoff with jitter.

#include <cohort/scheduler.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>

namespace cohort {

/// How often and how patiently a failed task is retried.
///
/// Attempt n (n = 1 for the first retry) waits `initial * multiplier^(n-1)`,
/// capped at `max_delay`, then jittered: the delay is drawn uniformly from
/// `[d * (1 - jitter), d]`, so many tasks that failed together do not retry
/// together.
struct retry_policy {
  /// Total attempts per task, the first included (1 = no retries).
  int max_attempts = 1;
  duration initial = std::chrono::milliseconds(100);
  duration max_delay = std::chrono::seconds(30);
  double multiplier = 2.0;
  double jitter = 0.5;  ///< 0 = none, 1 = "full jitter"

  /// The delay before retry number `retry` (1-based); `unit` is a uniform
  /// random number in [0, 1).
  duration delay(int retry, double unit) const noexcept {
    double d = std::chrono::duration<double>(initial).count();
    const double cap = std::chrono::duration<double>(max_delay).count();
    for (int i = 1; i < retry && d < cap; ++i) d *= multiplier;
    d = std::min(d, cap);
    d *= 1.0 - std::clamp(jitter, 0.0, 1.0) * unit;
    return std::chrono::duration_cast<duration>(std::chrono::duration<double>(d));
  }
};

namespace detail {
/// A small, fast, seedable generator for jitter (splitmix64).
class jitter_rng {
 public:
  explicit jitter_rng(std::uint64_t seed) noexcept : state_(seed) {}
  double next_unit() noexcept {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return static_cast<double>(z >> 11) * 0x1.0p-53;
  }

 private:
  std::uint64_t state_;
};
}  // namespace detail

}  // namespace cohort
