#include <cohort/runtime/loop_thread.hpp>

#include <cohort/cancel_scope.hpp>
#include <cohort/event.hpp>
#include <cohort/finally.hpp>
#include <cohort/runtime/asio_loop.hpp>
#include <cohort/shield.hpp>
#include <cohort/sleep.hpp>
#include <cohort/task_group.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <random>
#include <stdexcept>
#include <thread>

// Calls between real loops on real threads: these tests are about the
// threads meeting (TSan runs them), so they use the wall clock only where a
// remote task must still be waiting when the cancel arrives; nothing here
// measures time.

using namespace std::chrono_literals;

namespace {

struct LoopThread : ::testing::Test {
  boost::asio::io_context io;
  cohort::asio_loop loop{io};
};

// Sets `e` on the loop of `io` (from any thread).
void set_on(boost::asio::io_context& io, cohort::event& e) {
  boost::asio::post(io, [&e] { e.set(); });
}

cohort::task<std::thread::id> remote_id() {
  co_return std::this_thread::get_id();
}

TEST_F(LoopThread, CallRunsTheTaskOnTheThreadAndReturnsItsValue) {
  cohort::loop_thread worker;
  const auto id = loop.run([](cohort::loop_thread& w) -> cohort::task<std::thread::id> {
    co_return co_await w.call([] { return remote_id(); });
  }(worker));
  EXPECT_NE(id, std::this_thread::get_id());
  EXPECT_EQ(worker.invoke([] { return std::this_thread::get_id(); }), id);
}

cohort::task<int> throws_remotely() {
  co_await cohort::sleep_for(0ms);
  throw std::runtime_error("remote trouble");
}

TEST_F(LoopThread, AnExceptionThereIsRethrownHere) {
  cohort::loop_thread worker;
  EXPECT_THROW(loop.run([](cohort::loop_thread& w) -> cohort::task<int> {
    co_return co_await w.call([] { return throws_remotely(); });
  }(worker)),
               std::runtime_error);
}

// Waits there until cancelled; records that it started (on the caller's
// loop) and, once its cleanup has run (shielded, and taking a while), that
// it unwound.
cohort::task<> wait_forever(boost::asio::io_context& caller, cohort::event& started) {
  set_on(caller, started);
  co_await cohort::sleep_for(1h);
}

cohort::task<> wait_there(boost::asio::io_context& caller, cohort::event& started,
                          std::atomic<bool>& unwound) {
  auto cleanup = [&unwound]() -> cohort::task<> {
    co_await cohort::sleep_for(3ms);
    unwound = true;
  };
  co_await cohort::finally(wait_forever(caller, started), cleanup);
}

TEST_F(LoopThread, ACancelHereCancelsThereAndTheCallEndsAfterTheRemoteTaskUnwound) {
  cohort::loop_thread worker;
  std::atomic<bool> unwound{false};
  bool unwound_when_call_ended = false;
  loop.run([](cohort::loop_thread& w, boost::asio::io_context& io, std::atomic<bool>& unwound,
              bool& seen) -> cohort::task<> {
    cohort::event started;
    cohort::cancel_scope scope;
    co_await cohort::with_task_group([&](cohort::task_group& g) -> cohort::task<> {
      g.spawn([](cohort::event& s, cohort::cancel_scope& sc) -> cohort::task<> {
        co_await s.wait();
        sc.cancel();
      }(started, scope));
      auto make = [&io, &started, &unwound] { return wait_there(io, started, unwound); };
      const bool completed = co_await scope.run(w.call(make));
      EXPECT_FALSE(completed);
      seen = unwound.load();
    });
  }(worker, io, unwound, unwound_when_call_ended));
  EXPECT_TRUE(unwound_when_call_ended);
}

TEST_F(LoopThread, ACallInACancelledScopeNeverRunsThere) {
  cohort::loop_thread worker;
  std::atomic<bool> ran{false};
  loop.run([](cohort::loop_thread& w, std::atomic<bool>& ran) -> cohort::task<> {
    cohort::cancel_scope scope;
    scope.cancel();
    auto make = [&ran]() -> cohort::task<> {
      ran = true;
      co_return;
    };
    EXPECT_FALSE(co_await scope.run(w.call(make)));
  }(worker, ran));
  worker.invoke([] {});  // every post before this one has run there
  EXPECT_FALSE(ran.load());
}

// Finishes there, shielded, however the call is cancelled: the value is
// delivered (G8).
cohort::task<int> finish_shielded(boost::asio::io_context& caller, cohort::event& started) {
  co_return co_await cohort::shield(
      [](boost::asio::io_context& c, cohort::event& s) -> cohort::task<int> {
        set_on(c, s);
        co_await cohort::sleep_for(5ms);
        co_return 7;
      }(caller, started));
}

TEST_F(LoopThread, ATaskThatFinishesDespiteTheCancelDeliversItsValue) {
  cohort::loop_thread worker;
  const std::optional<int> v = loop.run(
      [](cohort::loop_thread& w, boost::asio::io_context& io) -> cohort::task<std::optional<int>> {
        cohort::event started;
        cohort::cancel_scope scope;
        std::optional<int> got;
        co_await cohort::with_task_group([&](cohort::task_group& g) -> cohort::task<> {
          g.spawn([](cohort::event& s, cohort::cancel_scope& sc) -> cohort::task<> {
            co_await s.wait();
            sc.cancel();
          }(started, scope));
          auto make = [&io, &started] { return finish_shielded(io, started); };
          got = co_await scope.run(w.call(make));
        });
        co_return got;
      }(worker, io));
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(*v, 7);
}

TEST_F(LoopThread, DestroyingTheThreadEndsItsCallsWithLoopStopped) {
  auto worker = std::make_unique<cohort::loop_thread>();
  std::atomic<bool> unwound{false};
  bool stopped = false;
  loop.run([](std::unique_ptr<cohort::loop_thread>& w, boost::asio::io_context& io,
              std::atomic<bool>& unwound, bool& stopped) -> cohort::task<> {
    cohort::event started;
    co_await cohort::with_task_group([&](cohort::task_group& g) -> cohort::task<> {
      g.spawn([](cohort::event& s, std::unique_ptr<cohort::loop_thread>& wt) -> cohort::task<> {
        co_await s.wait();
        wt.reset();  // cancels the call's task there, joins the thread
      }(started, w));
      auto make = [&io, &started, &unwound] { return wait_there(io, started, unwound); };
      try {
        co_await w->call(make);
      } catch (const cohort::loop_stopped_error&) {
        stopped = true;
      }
    });
  }(worker, io, unwound, stopped));
  EXPECT_TRUE(stopped);
  EXPECT_TRUE(unwound.load());
}

cohort::task<int> add_there(cohort::loop_thread& next, int v) {
  co_return 1 + co_await next.call([v]() -> cohort::task<int> { co_return v * 2; });
}

TEST_F(LoopThread, ALoopThreadCallsAnother) {
  cohort::loop_thread a;
  cohort::loop_thread b;
  const int v = loop.run([](cohort::loop_thread& a, cohort::loop_thread& b) -> cohort::task<int> {
    co_return co_await a.call([&b] { return add_there(b, 20); });
  }(a, b));
  EXPECT_EQ(v, 41);
}

TEST_F(LoopThread, InvokeReturnsAndRethrowsAndRunsInlineOnItsOwnThread) {
  cohort::loop_thread worker;
  EXPECT_EQ(worker.invoke([] { return 5; }), 5);
  EXPECT_THROW(worker.invoke([]() -> int { throw std::logic_error("no"); }), std::logic_error);
  EXPECT_TRUE(worker.invoke(
      [&worker] { return worker.on_this_thread() && worker.invoke([] { return true; }); }));
}

// Many calls at once on two threads, a random share of them cancelled at a
// random point: every call ends, each exactly once, and what ran there
// balances what was called (TSan checks the threads' hand-overs).
cohort::task<> counted(std::atomic<int>& live, int spins) {
  ++live;
  struct leave {
    std::atomic<int>* n;
    ~leave() { --*n; }
  } l{&live};
  for (int i = 0; i < spins; ++i) co_await cohort::sleep_for(0ms);
}

TEST_F(LoopThread, ManyCallsWithRandomCancelsAllEnd) {
  cohort::loop_thread a;
  cohort::loop_thread b;
  std::atomic<int> live{0};
  const unsigned seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  int ended = 0;
  constexpr int calls = 600;
  loop.run([](cohort::loop_thread& a, cohort::loop_thread& b, std::atomic<int>& live,
              std::mt19937& rng, int& ended) -> cohort::task<> {
    co_await cohort::with_task_group([&](cohort::task_group& g) -> cohort::task<> {
      for (int i = 0; i < calls; ++i) {
        const int spins = static_cast<int>(rng() % 4);
        const int cancel_after = static_cast<int>(rng() % 6);  // 4, 5: never
        g.spawn([](cohort::loop_thread& w, std::atomic<int>& live, int spins, int cancel_after,
                   int& ended) -> cohort::task<> {
          cohort::cancel_scope scope;
          co_await cohort::with_task_group([&](cohort::task_group& inner) -> cohort::task<> {
            if (cancel_after < 4) {
              inner.spawn([](cohort::cancel_scope& sc, int n) -> cohort::task<> {
                for (int k = 0; k < n; ++k) co_await cohort::sleep_for(0ms);
                sc.cancel();
              }(scope, cancel_after));
            }
            auto make = [&live, spins] { return counted(live, spins); };
            co_await scope.run(w.call(make));
            ++ended;
          });
        }(i % 2 == 0 ? a : b, live, spins, cancel_after, ended));
      }
      co_return;
    });
  }(a, b, live, rng, ended));
  EXPECT_EQ(ended, calls);
  EXPECT_EQ(live.load(), 0);
}

}  // namespace
