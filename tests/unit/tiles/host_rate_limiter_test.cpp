#include "cohort/tiles/host_rate_limiter.hpp"

#include <cohort/cancel_scope.hpp>
#include <cohort/sleep.hpp>
#include <cohort/task_group.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <vector>

#include "virtual_loop.hpp"

using namespace std::chrono_literals;

namespace {

using cohort::duration;
using cohort::task;
using cohort::task_group;
using cohort::time_point;
using cohort::app::tiles::host_rate_limiter;
using cohort::app::tiles::url_host;
using cohort::test::virtual_loop;

// Times (after the epoch) at which `count` requests per host pass the limiter,
// all asked for at once by as many workers.
std::vector<duration> pass_times(host_rate_limiter& limiter, std::vector<std::string> hosts) {
  virtual_loop loop;
  std::vector<duration> times;
  loop.run([&]() -> task<> {
    co_await cohort::with_task_group([&](task_group& g) -> task<> {
      for (const auto& h : hosts) {
        g.spawn([](host_rate_limiter& l, std::string host, virtual_loop& lp,
                   std::vector<duration>& out) -> task<> {
          co_await l.acquire(host);
          out.push_back(lp.now() - virtual_loop::epoch());
        }(limiter, h, loop, times));
      }
      co_return;
    });
  }());
  return times;
}

TEST(host_rate_limiter, spaces_requests_to_one_host) {
  host_rate_limiter limiter(4.0);  // one per 250 ms
  const auto times = pass_times(limiter, {"a", "a", "a", "a"});
  EXPECT_EQ(times, (std::vector<duration>{0ms, 250ms, 500ms, 750ms}));
}

TEST(host_rate_limiter, hosts_are_independent) {
  host_rate_limiter limiter(2.0);
  const auto times = pass_times(limiter, {"a", "b", "a", "b"});
  EXPECT_EQ(times, (std::vector<duration>{0ms, 0ms, 500ms, 500ms}));
}

TEST(host_rate_limiter, zero_rate_means_no_limit) {
  host_rate_limiter limiter(0.0);
  EXPECT_FALSE(limiter.limited());
  const auto times = pass_times(limiter, {"a", "a", "a"});
  EXPECT_EQ(times, (std::vector<duration>{0ms, 0ms, 0ms}));
}

TEST(host_rate_limiter, an_idle_host_does_not_bank_slots) {
  host_rate_limiter limiter(10.0);
  virtual_loop loop;
  std::vector<duration> times;
  loop.run([&]() -> task<> {
    co_await limiter.acquire("a");
    co_await cohort::sleep_for(1s);
    for (int i = 0; i < 3; ++i) {
      co_await limiter.acquire("a");
      times.push_back(loop.now() - virtual_loop::epoch());
    }
  }());
  // After a second of silence the next request goes at once, then 100 ms apart:
  // no burst of the ten slots the idle second "saved".
  EXPECT_EQ(times, (std::vector<duration>{1s, 1100ms, 1200ms}));
}

TEST(host_rate_limiter, a_cancelled_waiter_leaves_at_once) {
  host_rate_limiter limiter(1.0);
  virtual_loop loop;
  bool passed = false;
  loop.run([&]() -> task<> {
    co_await limiter.acquire("a");
    passed = co_await cohort::move_on_after(200ms, limiter.acquire("a"));
  }());
  EXPECT_FALSE(passed);
  EXPECT_EQ(loop.now() - virtual_loop::epoch(), 200ms);
}

TEST(url_host, takes_host_and_port) {
  EXPECT_EQ(url_host("http://127.0.0.1:8080/1/2/3.png"), "127.0.0.1:8080");
  EXPECT_EQ(url_host("https://a.tile.example.org/1/2/3.png?key=x"), "a.tile.example.org");
  EXPECT_EQ(url_host("https://h?x"), "h");
  EXPECT_EQ(url_host("no scheme"), "");
}

}  // namespace
