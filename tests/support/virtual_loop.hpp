#pragma once
// The core tests' event loop: `basic_loop` on virtual time, plus a way to
// make things happen at a chosen virtual moment (a signal arriving, a cancel
// from outside). Tests never sleep on the wall clock.

#include <cohort/sync_wait.hpp>

#include <functional>
#include <list>

namespace cohort::test {

class virtual_loop final : public basic_loop {
 public:
  virtual_loop() noexcept : basic_loop(time_source::virtual_time) {}
  ~virtual_loop();

  /// Calls `fn` on the loop at virtual time `at`.
  void call_at(time_point at, std::function<void()> fn);
  void call_after(duration d, std::function<void()> fn) { call_at(now() + d, std::move(fn)); }

  /// Where virtual time starts.
  static time_point epoch() noexcept { return time_point(std::chrono::hours(1)); }

 private:
  struct callback {
    detail::timer_entry entry;
    std::function<void()> fn;
  };
  std::list<callback> callbacks_;
};

}  // namespace cohort::test
