#include <cohort/finally.hpp>

#include <cohort/cancel_scope.hpp>
#include <cohort/event.hpp>
#include <cohort/sleep.hpp>
#include <cohort/task.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

#include "core_test.hpp"
#include "lifetime.hpp"
#include "virtual_loop.hpp"

using namespace std::chrono_literals;
using cohort::cancel_reason;
using cohort::cancel_scope;
using cohort::task;
using cohort::test::lifetimes;
using cohort::test::value_after;
using cohort::test::virtual_loop;

namespace {

class Finally : public cohort::test::leak_checked_test {};

using log_t = std::vector<std::string>;

/// A cleanup that sleeps `d` on the loop's clock, logging its start and end.
auto logging_cleanup(log_t& log, cohort::duration d) {
  return [&log, d]() -> task<> {
    log.push_back("cleanup start");
    co_await cohort::sleep_for(d);
    log.push_back("cleanup end");
  };
}

/// Runs `t`, expecting it to end by cancellation; returns the reason.
template <class T>
cancel_reason run_expecting_cancel(virtual_loop& loop, task<T> t) {
  try {
    loop.run(std::move(t));
  } catch (const cohort::cancelled_error& e) {
    return e.reason();
  }
  ADD_FAILURE() << "run() did not end with cancelled_error";
  return cancel_reason::none;
}

}  // namespace

// --- after normal completion and after errors ----------------------------------

TEST_F(Finally, G3_CleanupRunsAfterNormalCompletion) {
  virtual_loop loop;
  log_t log;
  const auto t0 = loop.now();
  const int v = loop.run([&]() -> task<int> {
    const int r = co_await cohort::finally(
        [&]() -> task<int> {
          co_await cohort::sleep_for(1s);
          log.push_back("body");
          co_return 3;
        }(),
        logging_cleanup(log, 1s));
    log.push_back("after");
    co_return r;
  }());
  EXPECT_EQ(v, 3);
  EXPECT_EQ(log, (log_t{"body", "cleanup start", "cleanup end", "after"}));
  EXPECT_EQ(loop.now() - t0, 2s);
}

TEST_F(Finally, G3_CleanupRunsAfterAnExceptionWhichPropagates) {
  virtual_loop loop;
  log_t log;
  std::string caught;
  loop.run([&]() -> task<> {
    try {
      co_await cohort::finally(
          []() -> task<> {
            co_await cohort::sleep_for(1s);
            throw std::runtime_error("body failed");
          }(),
          logging_cleanup(log, 1s));
      log.push_back("after");
    } catch (const std::runtime_error& e) {
      caught = e.what();
    }
  }());
  EXPECT_EQ(caught, "body failed");
  EXPECT_EQ(log, (log_t{"cleanup start", "cleanup end"}));
}

TEST_F(Finally, G3_BodyExceptionWinsOverACleanupException) {
  virtual_loop loop;
  std::string caught;
  loop.run([&]() -> task<> {
    try {
      co_await cohort::finally(
          []() -> task<> {
            co_await cohort::sleep_for(1s);
            throw std::runtime_error("body failed");
          }(),
          []() -> task<> {
            co_await cohort::sleep_for(1s);
            throw std::logic_error("cleanup failed");
          });
    } catch (const std::exception& e) {
      caught = e.what();
    }
  }());
  EXPECT_EQ(caught, "body failed");
}

TEST_F(Finally, G3_CleanupExceptionAfterASuccessfulBodyIsThrown) {
  virtual_loop loop;
  std::string caught;
  bool after = false;
  loop.run([&]() -> task<> {
    try {
      (void)co_await cohort::finally(value_after(1s, 1), []() -> task<> {
        co_await cohort::sleep_for(1s);
        throw std::logic_error("cleanup failed");
      });
      after = true;
    } catch (const std::logic_error& e) {
      caught = e.what();
    }
  }());
  EXPECT_EQ(caught, "cleanup failed");
  EXPECT_FALSE(after);
}

TEST_F(Finally, CleanupIsMadeOnlyWhenItStartsAndSeesWhatTheBodyLeft) {
  virtual_loop loop;
  int state = 0;
  int seen_by_factory = -1;
  int seen_by_cleanup = -1;
  loop.run([&]() -> task<> {
    co_await cohort::finally(
        [&]() -> task<> {
          co_await cohort::sleep_for(1s);
          state = 7;
        }(),
        [&]() -> task<> {
          seen_by_factory = state;
          return [](int* s, int* seen) -> task<> {
            co_await cohort::sleep_for(1s);
            *seen = *s;
          }(&state, &seen_by_cleanup);
        });
  }());
  EXPECT_EQ(seen_by_factory, 7);
  EXPECT_EQ(seen_by_cleanup, 7);
}

// --- after cancellation --------------------------------------------------------

TEST_F(Finally, BodyAndCleanupWithoutAwaits) {
  virtual_loop loop;
  log_t log;
  const int v = loop.run([&]() -> task<int> {
    co_return co_await cohort::finally(
        [&]() -> task<int> {
          log.push_back("body");
          co_return 8;
        }(),
        [&]() -> task<> {
          log.push_back("cleanup");
          co_return;
        });
  }());
  EXPECT_EQ(v, 8);
  EXPECT_EQ(log, (log_t{"body", "cleanup"}));
}

TEST_F(Finally, G3_CleanupRunsAfterCancellationAndItsOwnWaitsComplete) {
  virtual_loop loop;
  log_t log;
  loop.call_after(1s, [&] { loop.cancel_root(cancel_reason::signal); });
  const auto t0 = loop.now();
  const auto reason = run_expecting_cancel(loop, [&]() -> task<> {
    co_await cohort::finally(
        [&]() -> task<> {
          co_await cohort::sleep_for(1h);
          log.push_back("body end");
        }(),
        logging_cleanup(log, 1s));
    log.push_back("after");  // the cancellation continues: never runs
  }());
  EXPECT_EQ(reason, cancel_reason::signal);
  EXPECT_EQ(log, (log_t{"cleanup start", "cleanup end"}));
  EXPECT_EQ(loop.now() - t0, 2s);
}

TEST_F(Finally, G3_CleanupWithoutAwaitsRunsAfterCancellation) {
  virtual_loop loop;
  log_t log;
  loop.call_after(1s, [&] { loop.cancel_root(cancel_reason::signal); });
  const auto reason = run_expecting_cancel(loop, [&]() -> task<> {
    co_await cohort::finally(value_after(1h, 0), [&]() -> task<> {
      log.push_back("cleanup");
      co_return;
    });
    log.push_back("after");
  }());
  EXPECT_EQ(reason, cancel_reason::signal);
  EXPECT_EQ(log, (log_t{"cleanup"}));
}

TEST_F(Finally, G3_AfterAScopeCancelTheCleanupRunsThenTheScopeCatches) {
  virtual_loop loop;
  log_t log;
  cancel_scope scope;
  auto body = [&]() -> task<> {
    co_await cohort::finally(value_after(1h, 0), logging_cleanup(log, 2s));
    log.push_back("after finally");
  };
  loop.call_after(1s, [&] { scope.cancel(); });
  const auto t0 = loop.now();
  loop.run([&]() -> task<> {
    (void)co_await scope.run(body());
    log.push_back("after scope");
  }());
  EXPECT_EQ(log, (log_t{"cleanup start", "cleanup end", "after scope"}));
  EXPECT_EQ(loop.now() - t0, 3s);
  EXPECT_TRUE(scope.cancelled_caught());
}

TEST_F(Finally, G3_CleanupStartedInAnAlreadyCancelledScopeStillRuns) {
  virtual_loop loop;
  log_t log;
  cancel_scope scope;
  scope.cancel();
  auto body = [&]() -> task<> {
    co_await cohort::finally(value_after(1h, 0), logging_cleanup(log, 2s));
    log.push_back("after finally");
  };
  const auto t0 = loop.now();
  loop.run([&]() -> task<> { (void)co_await scope.run(body()); }());
  EXPECT_EQ(log, (log_t{"cleanup start", "cleanup end"}));
  EXPECT_EQ(loop.now() - t0, 2s);
  EXPECT_TRUE(scope.cancelled_caught());
}

TEST_F(Finally, G3_SecondSoftCancelDuringTheCleanupDoesNotCutIt) {
  virtual_loop loop;
  log_t log;
  loop.call_after(1s, [&] { loop.cancel_root(cancel_reason::signal); });
  loop.call_after(2s, [&] { loop.cancel_root(cancel_reason::requested); });
  const auto t0 = loop.now();
  const auto reason = run_expecting_cancel(loop, [&]() -> task<> {
    co_await cohort::finally(value_after(1h, 0), logging_cleanup(log, 3s));
    log.push_back("after");
  }());
  EXPECT_EQ(reason, cancel_reason::signal);
  EXPECT_EQ(log, (log_t{"cleanup start", "cleanup end"}));
  EXPECT_EQ(loop.now() - t0, 4s);
}

TEST_F(Finally, G3_CancelArrivingDuringTheCleanupOfACompletedBodyDoesNotCutIt) {
  virtual_loop loop;
  log_t log;
  int value = 0;
  loop.call_after(2s, [&] { loop.cancel_root(cancel_reason::signal); });
  const auto t0 = loop.now();
  const auto reason = run_expecting_cancel(loop, [&]() -> task<> {
    value = co_await cohort::finally(value_after(1s, 4), logging_cleanup(log, 2s));
    log.push_back("after finally");  // the body completed: its value is delivered
    co_await cohort::sleep_for(1s);  // and the cancel takes effect here
    log.push_back("after next wait");
  }());
  EXPECT_EQ(reason, cancel_reason::signal);
  EXPECT_EQ(value, 4);
  EXPECT_EQ(log, (log_t{"cleanup start", "cleanup end", "after finally"}));
  EXPECT_EQ(loop.now() - t0, 3s);
}

TEST_F(Finally, G3_CleanupThatNeverEndsIsCutExactlyAtItsGrace) {
  virtual_loop loop;
  log_t log;
  cohort::event never;
  loop.call_after(1s, [&] { loop.cancel_root(cancel_reason::signal); });
  const auto t0 = loop.now();
  const auto reason = run_expecting_cancel(loop, [&]() -> task<> {
    co_await cohort::finally(
        value_after(1h, 0),
        [&]() -> task<> {
          log.push_back("cleanup start");
          co_await never.wait();
          log.push_back("cleanup end");
        },
        /*grace=*/3s);
    log.push_back("after");
  }());
  EXPECT_EQ(reason, cancel_reason::signal);
  EXPECT_EQ(log, (log_t{"cleanup start"}));
  EXPECT_EQ(loop.now() - t0, 4s);  // cancelled at 1 s + 3 s of grace
}

TEST_F(Finally, G3_DefaultGraceCutsACleanupAfterANormalBodyAndTheValueIsDelivered) {
  virtual_loop loop;
  bool cleanup_end = false;
  const auto t0 = loop.now();
  const int v = loop.run([&]() -> task<int> {
    co_return co_await cohort::finally(value_after(1s, 6), [&]() -> task<> {
      co_await cohort::sleep_for(1h);
      cleanup_end = true;
    });
  }());
  EXPECT_EQ(v, 6);
  EXPECT_FALSE(cleanup_end);
  EXPECT_EQ(cohort::default_cleanup_grace, 5s);
  EXPECT_EQ(loop.now() - t0, 1s + cohort::default_cleanup_grace);
}

TEST_F(Finally, G3_HardCancelCutsTheCleanup) {
  virtual_loop loop;
  log_t log;
  lifetimes life;
  loop.call_after(1s, [&] { loop.cancel_root(cancel_reason::signal); });
  loop.call_after(2s, [&] { loop.cancel_root(cancel_reason::escalated, /*hard=*/true); });
  const auto t0 = loop.now();
  const auto reason = run_expecting_cancel(loop, [&]() -> task<> {
    co_await cohort::finally(value_after(1h, 0), [&]() -> task<> {
      auto t = life.make();
      log.push_back("cleanup start");
      co_await cohort::sleep_for(10s);
      log.push_back("cleanup end");
    });
    log.push_back("after");
  }());
  EXPECT_EQ(reason, cancel_reason::signal);
  EXPECT_EQ(log, (log_t{"cleanup start"}));
  EXPECT_EQ(loop.now() - t0, 2s);
  EXPECT_EQ(life.alive(), 0);
}

TEST_F(Finally, G3_CleanupStartedAfterAHardCancelIsCutAtItsFirstWait) {
  virtual_loop loop;
  log_t log;
  loop.call_after(1s, [&] { loop.cancel_root(cancel_reason::escalated, /*hard=*/true); });
  const auto t0 = loop.now();
  (void)run_expecting_cancel(loop, [&]() -> task<> {
    co_await cohort::finally(value_after(1h, 0), logging_cleanup(log, 10s));
    log.push_back("after");
  }());
  EXPECT_EQ(log, (log_t{"cleanup start"}));
  EXPECT_EQ(loop.now() - t0, 1s);
}

TEST_F(Finally, CleanupExceptionAfterACancelledBodyReachesTheCallerAndTheScopeStaysCancelled) {
  // G6: a cleanup's error is never dropped, even when the body was cancelled.
  // The caller sees it; its scope is still cancelled, so its next wait unwinds.
  virtual_loop loop;
  bool caught = false;
  bool after = false;
  loop.call_after(1s, [&] { loop.cancel_root(cancel_reason::signal); });
  const auto reason = run_expecting_cancel(loop, [&]() -> task<> {
    try {
      co_await cohort::finally(value_after(1h, 0), []() -> task<> {
        co_await cohort::sleep_for(1s);
        throw std::logic_error("cleanup failed");
      });
    } catch (const std::logic_error&) {
      caught = true;
    }
    co_await cohort::sleep_for(1s);  // still cancelled: unwinds here
    after = true;
  }());
  EXPECT_EQ(reason, cancel_reason::signal);
  EXPECT_TRUE(caught);
  EXPECT_FALSE(after);
}

TEST_F(Finally, G3_DestructorsOfEveryStartedTaskRun) {
  virtual_loop loop;
  lifetimes life;
  auto nested = [&](lifetimes::token) -> task<> {
    auto t = life.make();
    co_await cohort::sleep_for(1h);
  };
  auto body = [&]() -> task<> {
    auto t = life.make();
    co_await nested(life.make());
  };
  auto cleanup = [&]() -> task<> {
    auto t = life.make();
    co_await nested(life.make());  // never ends: cut by the grace
  };
  loop.call_after(1s, [&] { loop.cancel_root(cancel_reason::signal); });
  const auto t0 = loop.now();
  (void)run_expecting_cancel(loop, [&]() -> task<> {
    auto t = life.make();
    co_await cohort::finally(body(), cleanup, /*grace=*/2s);
  }());
  EXPECT_EQ(loop.now() - t0, 3s);
  EXPECT_GE(life.constructed(), 7);
  EXPECT_EQ(life.alive(), 0);
}
