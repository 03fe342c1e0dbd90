#include <cohort/finally.hpp>

#include <cohort/cancel_scope.hpp>
#include <cohort/event.hpp>
#include <cohort/shield.hpp>
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

// --- G6: a cleanup factory's error is never dropped ---------------------------

namespace {

/// A cleanup factory that throws when called (it is not a coroutine: the
/// exception leaves `cleanup()` itself, before any cleanup task exists).
task<> throwing_factory() {
  throw std::runtime_error("factory failed");
}

/// A body that waits an hour, then cleanup made by `throwing_factory`.
task<> finally_with_throwing_factory() {
  co_await cohort::finally(value_after(1h, 0), &throwing_factory);
}

/// A body that waits an hour, then a cleanup that throws after 1 s.
task<> finally_with_throwing_cleanup() {
  co_await cohort::finally(value_after(1h, 0), []() -> task<> {
    co_await cohort::sleep_for(1s);
    throw std::runtime_error("cleanup failed");
  });
}

/// Awaits `a` expecting it to throw a runtime_error; returns its what().
template <class A>
task<std::string> what_thrown(A a) {
  try {
    (void)co_await std::move(a);
  } catch (const std::runtime_error& e) {
    co_return e.what();
  }
  co_return "nothing thrown";
}

}  // namespace

TEST_F(Finally, G6_FactoryErrorAfterABodyCancelledByMoveOnAfterIsThrown) {
  virtual_loop loop;
  const auto t0 = loop.now();
  const std::string what =
      loop.run(what_thrown(cohort::move_on_after(1s, finally_with_throwing_factory())));
  EXPECT_EQ(what, "factory failed") << "move_on_after reported a plain timeout";
  EXPECT_EQ(loop.now() - t0, 1s);
}

TEST_F(Finally, G6_FactoryErrorAfterABodyCancelledByFailAfterIsThrownInsteadOfTheTimeout) {
  virtual_loop loop;
  const std::string what = loop.run([]() -> task<std::string> {
    try {
      co_await cohort::fail_after(1s, finally_with_throwing_factory());
    } catch (const cohort::timeout_error&) {
      co_return "timeout";
    } catch (const std::runtime_error& e) {
      co_return e.what();
    }
    co_return "nothing thrown";
  }());
  EXPECT_EQ(what, "factory failed");
}

TEST_F(Finally, G6_FactoryErrorAfterABodyCancelledByItsScopeIsThrownByRun) {
  virtual_loop loop;
  cancel_scope scope;
  loop.call_after(1s, [&] { scope.cancel(); });
  const std::string what = loop.run(what_thrown(scope.run(finally_with_throwing_factory())));
  EXPECT_EQ(what, "factory failed");
  EXPECT_FALSE(scope.cancelled_caught());
}

TEST_F(Finally, G6_FactoryErrorAfterARootCancelReachesTheCallerWhichThenUnwinds) {
  virtual_loop loop;
  bool caught = false;
  bool after = false;
  loop.call_after(1s, [&] { loop.cancel_root(cancel_reason::signal); });
  const auto reason = run_expecting_cancel(loop, [&]() -> task<> {
    try {
      co_await finally_with_throwing_factory();
    } catch (const std::runtime_error&) {
      caught = true;
    }
    co_await cohort::sleep_for(1s);  // still cancelled: unwinds here
    after = true;
  }());
  EXPECT_EQ(reason, cancel_reason::signal);
  EXPECT_TRUE(caught) << "the factory's error was dropped";
  EXPECT_FALSE(after);
}

TEST_F(Finally, G6_CleanupErrorAfterABodyCancelledByMoveOnAfterIsThrown) {
  virtual_loop loop;
  const auto t0 = loop.now();
  const std::string what =
      loop.run(what_thrown(cohort::move_on_after(1s, finally_with_throwing_cleanup())));
  EXPECT_EQ(what, "cleanup failed");
  EXPECT_EQ(loop.now() - t0, 2s);
}

TEST_F(Finally, G6_CleanupErrorAfterABodyCancelledByItsScopeIsThrownByRun) {
  virtual_loop loop;
  cancel_scope scope;
  loop.call_after(1s, [&] { scope.cancel(); });
  const std::string what = loop.run(what_thrown(scope.run(finally_with_throwing_cleanup())));
  EXPECT_EQ(what, "cleanup failed");
}

// --- grace: duration::max() is no deadline; a grace bounds nested cleanup ----

TEST_F(Finally, MaxGraceMeansNoDeadline) {
  virtual_loop loop;
  log_t log;
  loop.call_after(1s, [&] { loop.cancel_root(cancel_reason::signal); });
  const auto t0 = loop.now();
  (void)run_expecting_cancel(loop, [&]() -> task<> {
    co_await cohort::finally(value_after(1h, 0), logging_cleanup(log, 10h),
                             cohort::duration::max());
  }());
  EXPECT_EQ(log, (log_t{"cleanup start", "cleanup end"})) << "the grace cut the cleanup at once";
  EXPECT_EQ(loop.now() - t0, 1s + 10h);
}

TEST_F(Finally, HugeGraceMeansNoDeadline) {
  virtual_loop loop;
  log_t log;
  const int v = loop.run([&]() -> task<int> {
    co_return co_await cohort::finally(value_after(1s, 4), logging_cleanup(log, 10h),
                                       cohort::duration::max() - 1h);
  }());
  EXPECT_EQ(v, 4);
  EXPECT_EQ(log, (log_t{"cleanup start", "cleanup end"}));
}

namespace {

/// A cleanup whose own work is a `finally` with the default grace: its body
/// waits `body_wait`, its cleanup waits an hour.
auto cleanup_with_nested_finally(log_t& log, cohort::duration body_wait) {
  return [&log, body_wait]() -> task<> {
    log.push_back("outer cleanup start");
    co_await cohort::finally(value_after(body_wait, 0), [&log]() -> task<> {
      log.push_back("inner cleanup start");
      co_await cohort::sleep_for(1h);
      log.push_back("inner cleanup end");
    });
    log.push_back("outer cleanup end");
  };
}

}  // namespace

TEST_F(Finally, GraceBoundsACleanupThatStartsWhenTheGraceRunsOut) {
  // The outer grace cancels the inner finally's body; the inner cleanup then
  // starts with nothing left of the outer grace, so it is cut at once.
  virtual_loop loop;
  log_t log;
  loop.call_after(1s, [&] { loop.cancel_root(cancel_reason::signal); });
  const auto t0 = loop.now();
  (void)run_expecting_cancel(loop, [&]() -> task<> {
    co_await cohort::finally(value_after(1h, 0), cleanup_with_nested_finally(log, 1h), 20ms);
  }());
  EXPECT_EQ(log, (log_t{"outer cleanup start", "inner cleanup start"}));
  EXPECT_EQ(loop.now() - t0, 1s + 20ms) << "the inner cleanup escaped the outer grace";
}

TEST_F(Finally, GraceBoundsANestedCleanupThatStartedEarlier) {
  // The inner cleanup starts 5 ms into the outer one: it gets the 15 ms left,
  // not its own 5 s.
  virtual_loop loop;
  log_t log;
  loop.call_after(1s, [&] { loop.cancel_root(cancel_reason::signal); });
  const auto t0 = loop.now();
  (void)run_expecting_cancel(loop, [&]() -> task<> {
    co_await cohort::finally(value_after(1h, 0), cleanup_with_nested_finally(log, 5ms), 20ms);
  }());
  // The inner body had completed, so the inner finally returns when its
  // cleanup is cut, and the outer cleanup (which has no wait left) ends.
  EXPECT_EQ(log, (log_t{"outer cleanup start", "inner cleanup start", "outer cleanup end"}));
  EXPECT_EQ(loop.now() - t0, 1s + 20ms);
}

TEST_F(Finally, GraceBoundsNestedCleanupAfterANormalBody) {
  virtual_loop loop;
  log_t log;
  const auto t0 = loop.now();
  const int v = loop.run([&]() -> task<int> {
    co_return co_await cohort::finally(value_after(1s, 8), cleanup_with_nested_finally(log, 5ms),
                                       20ms);
  }());
  EXPECT_EQ(v, 8);
  EXPECT_EQ(loop.now() - t0, 1s + 20ms);
}

TEST_F(Finally, AnInnerGraceShorterThanWhatIsLeftOfTheOuterOneIsKept) {
  virtual_loop loop;
  log_t log;
  const auto t0 = loop.now();
  (void)loop.run([&]() -> task<int> {
    co_return co_await cohort::finally(
        value_after(1s, 0),
        [&]() -> task<> {
          co_await cohort::finally(value_after(1ms, 0), logging_cleanup(log, 1h), 2ms);
          log.push_back("outer cleanup end");
        },
        1h);
  }());
  EXPECT_EQ(log, (log_t{"cleanup start", "outer cleanup end"}));
  EXPECT_EQ(loop.now() - t0, 1s + 3ms);
}

TEST_F(Finally, AUserShieldInsideACleanupMayOutliveTheGrace) {
  // Documented: the grace's cancel is soft, so an explicit shield the
  // cleanup awaits runs on (only escalation would cut it).
  virtual_loop loop;
  log_t log;
  const auto t0 = loop.now();
  (void)loop.run([&]() -> task<int> {
    co_return co_await cohort::finally(
        value_after(1s, 0),
        [&]() -> task<> {
          co_await cohort::shield(value_after(1s, 0));
          log.push_back("shield done");
          co_await cohort::sleep_for(1s);
          log.push_back("outer cleanup end");
        },
        20ms);
  }());
  EXPECT_EQ(log, (log_t{"shield done"}));
  EXPECT_EQ(loop.now() - t0, 2s);
}

TEST_F(Finally, ACleanupStartingAfterTheGraceRanOutStartsCancelled) {
  // The outer cleanup outlives its 3 ms grace in an explicit shield; the
  // finally after it starts its cleanup at 4 ms with nothing left of that
  // grace, so the cleanup starts cancelled, as a scope whose deadline has
  // passed does: its wait on an event that is already set must not succeed.
  // Found by cohort-property (cancel_observed_as_success): the grace became
  // a timer due in the past, which fires only at the next turn, and a wait
  // that is ready at once passed before it.
  virtual_loop loop;
  log_t log;
  cohort::event ready;
  ready.set();
  const auto t0 = loop.now();
  (void)loop.run([&]() -> task<int> {
    co_return co_await cohort::finally(
        value_after(0s, 0),
        [&]() -> task<> {
          (void)co_await cohort::shield(value_after(4ms, 0));
          (void)co_await cohort::finally(value_after(0s, 0), [&]() -> task<> {
            log.push_back("inner cleanup start");
            co_await ready.wait();
            log.push_back("inner cleanup saw the event");
          });
          log.push_back("outer cleanup end");
        },
        3ms);
  }());
  // (The inner body is cancelled too, by the outer grace, so after the cut
  // cleanup the cancellation goes on and the outer cleanup ends there.)
  EXPECT_EQ(log, (log_t{"inner cleanup start"}));
  EXPECT_EQ(loop.now() - t0, 4ms);
}

TEST_F(Finally, AFinallyInAUserShieldInsideACleanupKeepsItsOwnGrace) {
  // The explicit shield is out of reach of the outer grace, and so is a
  // finally inside it: its cleanup gets its own grace, not what is left of
  // the outer one (which ran out while the shielded body ran). Found by
  // cohort-property (cleanup_cut_early): the inner cleanup inherited the
  // outer grace's end through the shield and was cut the moment it began.
  virtual_loop loop;
  log_t log;
  const auto t0 = loop.now();
  (void)loop.run([&]() -> task<int> {
    co_return co_await cohort::finally(
        value_after(0s, 0),
        [&]() -> task<> {
          co_await cohort::shield([&]() -> task<> {
            (void)co_await cohort::finally(value_after(13ms, 0), logging_cleanup(log, 1ms), 2ms);
          }());
          co_await cohort::sleep_for(1s);  // the outer grace is over: cut here
          log.push_back("outer cleanup end");
        },
        10ms);
  }());
  EXPECT_EQ(log, (log_t{"cleanup start", "cleanup end"}));
  EXPECT_EQ(loop.now() - t0, 14ms);
}
