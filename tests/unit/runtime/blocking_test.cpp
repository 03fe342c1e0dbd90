#include <cohort/runtime/blocking.hpp>

#include <cohort/cancel_scope.hpp>
#include <cohort/runtime/asio_loop.hpp>
#include <cohort/sleep.hpp>
#include <cohort/task_group.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <stdexcept>

using namespace std::chrono_literals;

namespace {

struct Blocking : ::testing::Test {
  boost::asio::io_context io;
  cohort::asio_loop loop{io};
};

TEST_F(Blocking, ReturnsTheCallsValue) {
  cohort::blocking_pool pool(io, 2);
  const int v = loop.run([](cohort::blocking_pool& p) -> cohort::task<int> {
    co_return co_await p.run([] { return 6 * 7; });
  }(pool));
  EXPECT_EQ(v, 42);
}

TEST_F(Blocking, PropagatesTheCallsException) {
  cohort::blocking_pool pool(io, 1);
  EXPECT_THROW(loop.run([](cohort::blocking_pool& p) -> cohort::task<> {
    co_await p.run([] { throw std::runtime_error("disk on fire"); });
  }(pool)),
               std::runtime_error);
}

TEST_F(Blocking, CancelWhileQueuedDropsTheCall) {
  // One worker, busy until released; a second call is queued behind it and
  // cancelled: it never runs.
  cohort::blocking_pool pool(io, 1);
  std::promise<void> release;
  auto released = release.get_future().share();
  std::atomic<bool> second_ran{false};
  std::atomic<bool> first_running{false};
  loop.run([](cohort::blocking_pool& p, std::shared_future<void> released,
              std::atomic<bool>& second_ran, std::promise<void>& release,
              std::atomic<bool>& first_running) -> cohort::task<> {
    co_await cohort::with_task_group([&](cohort::task_group& g) -> cohort::task<> {
      g.spawn([](cohort::blocking_pool& p, std::shared_future<void> f,
                 std::atomic<bool>& running) -> cohort::task<> {
        // g++ 12 destroys a by-copy lambda capture twice when the lambda is
        // created in the co_await expression itself: name it first.
        auto wait_for_release = [f, &running] {
          running = true;
          f.wait();
        };
        co_await p.run(std::move(wait_for_release));
      }(p, released, first_running));
      while (!first_running) co_await cohort::sleep_for(1ms);  // the worker is now busy
      const bool done = co_await cohort::move_on_after(
          5ms, [](cohort::blocking_pool& p, std::atomic<bool>& ran) -> cohort::task<> {
            co_await p.run([&ran] { ran = true; });
          }(p, second_ran));
      EXPECT_FALSE(done);
      release.set_value();
    });
  }(pool, released, second_ran, release, first_running));
  EXPECT_FALSE(second_ran);
}

TEST_F(Blocking, CancelWhileRunningWaitsForTheCallAndDeliversIt) {
  cohort::blocking_pool pool(io, 1);
  std::atomic<bool> started{false};
  int got = 0;
  bool after_next_wait = false;
  cohort::cancel_scope scope;
  loop.run([](cohort::blocking_pool& p, std::atomic<bool>& started, int& got, bool& after,
              cohort::cancel_scope& scope) -> cohort::task<> {
    co_await cohort::with_task_group([&](cohort::task_group& g) -> cohort::task<> {
      // Cancel only once the call is running (not merely queued).
      g.spawn([](std::atomic<bool>& started, cohort::cancel_scope& scope) -> cohort::task<> {
        while (!started) co_await cohort::sleep_for(1ms);
        scope.cancel();
      }(started, scope));
      (void)co_await scope.run([](cohort::blocking_pool& p, std::atomic<bool>& started, int& got,
                                  bool& after) -> cohort::task<> {
        got = co_await p.run([&started] {
          started = true;
          std::this_thread::sleep_for(50ms);  // a blocking call, by design
          return 9;
        });
        co_await cohort::sleep_for(1h);
        after = true;
      }(p, started, got, after));
    });
  }(pool, started, got, after_next_wait, scope));
  EXPECT_TRUE(started);
  EXPECT_EQ(got, 9);  // G8: it completed, so its result was delivered
  EXPECT_FALSE(after_next_wait);
}

}  // namespace
