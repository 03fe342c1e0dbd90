#include <cohort/cancel_scope.hpp>

#include <cohort/event.hpp>
#include <cohort/shield.hpp>
#include <cohort/sleep.hpp>
#include <cohort/task.hpp>
#include <cohort/task_group.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <stdexcept>

#include "core_test.hpp"
#include "lifetime.hpp"
#include "virtual_loop.hpp"

using namespace std::chrono_literals;
using cohort::cancel_reason;
using cohort::cancel_scope;
using cohort::task;
using cohort::test::sleep_then_mark;
using cohort::test::value_after;
using cohort::test::virtual_loop;

namespace {

class CancelScope : public cohort::test::leak_checked_test {};

/// An operation that completes as soon as it starts with a value that must
/// not be lost (like a granted permit): once started, a cancel cannot stop it.
class instant_value_op {
 public:
  explicit instant_value_op(int v) noexcept : value_(v) {}
  void start(cohort::completion& c) noexcept { c.complete(); }
  bool cancel() noexcept { return false; }
  bool must_resume() const noexcept { return true; }
  int result() const noexcept { return value_; }

 private:
  int value_;
};
static_assert(cohort::operation<instant_value_op>);

/// A body whose only wait is shielded: its scope stays running through cancels.
task<int> shielded_value_after(cohort::duration d, int v) {
  co_return co_await cohort::shield(value_after(d, v));
}

}  // namespace

// --- G2: level-triggered ----------------------------------------------------

TEST_F(CancelScope, G2_CancelBeforeRunEndsTheFirstWaitAtOnce) {
  virtual_loop loop;
  cancel_scope scope;
  scope.cancel();
  EXPECT_TRUE(scope.cancel_called());
  EXPECT_FALSE(scope.cancelled_caught());
  bool reached = false;
  bool completed = true;
  const auto t0 = loop.now();
  loop.run([&]() -> task<> { completed = co_await scope.run(sleep_then_mark(1h, &reached)); }());
  EXPECT_FALSE(completed);
  EXPECT_FALSE(reached);
  EXPECT_EQ(loop.now(), t0);  // virtual time did not advance
  EXPECT_TRUE(scope.cancelled_caught());
  EXPECT_EQ(scope.reason(), cancel_reason::requested);
}

TEST_F(CancelScope, G2_WaitStartedAfterCancelEndsAtOnce) {
  virtual_loop loop;
  cancel_scope outer;
  cancel_scope inner;
  bool before_cancel = false;
  bool inner_reached = false;
  bool after_inner = false;
  auto body = [&]() -> task<> {
    // The cancel arrives while the body is shielded; nothing is waiting in
    // the scope when it happens.
    co_await cohort::shield(value_after(2s, 0));
    before_cancel = outer.cancel_called();
    // A scope started afterwards starts cancelled: its first wait ends at once.
    (void)co_await inner.run(sleep_then_mark(1h, &inner_reached));
    after_inner = true;
  };
  loop.call_after(1s, [&] { outer.cancel(); });
  const auto t0 = loop.now();
  loop.run([&]() -> task<> { (void)co_await outer.run(body()); }());
  EXPECT_TRUE(before_cancel);
  EXPECT_FALSE(inner_reached);
  EXPECT_FALSE(after_inner);
  EXPECT_EQ(loop.now() - t0, 2s);
  EXPECT_TRUE(outer.cancelled_caught());
  EXPECT_FALSE(inner.cancelled_caught());  // the cancel was not inner's own
  EXPECT_EQ(inner.reason(), cancel_reason::parent);
  EXPECT_EQ(inner.origin_reason(), cancel_reason::requested);
}

TEST_F(CancelScope, G2_ScopeStartedAfterACancelFromInsideIsAlreadyCancelled) {
  virtual_loop loop;
  cancel_scope scope;
  cancel_scope nested;
  int waits_started = 0;
  int waits_ended = 0;
  bool after_nested = false;
  auto one_wait = [&]() -> task<> {
    ++waits_started;
    co_await cohort::sleep_for(1h);
    ++waits_ended;
  };
  auto body = [&]() -> task<> {
    scope.cancel();
    (void)co_await nested.run(one_wait());
    after_nested = true;
  };
  const auto t0 = loop.now();
  loop.run([&]() -> task<> { (void)co_await scope.run(body()); }());
  EXPECT_EQ(waits_started, 1);
  EXPECT_EQ(waits_ended, 0);
  EXPECT_FALSE(after_nested);
  EXPECT_EQ(loop.now(), t0);
  EXPECT_EQ(nested.reason(), cancel_reason::parent);
  EXPECT_FALSE(nested.cancelled_caught());
  EXPECT_TRUE(scope.cancelled_caught());
}

TEST_F(CancelScope, G2_ScopeStartedAfterASignalIsAlreadyCancelled) {
  virtual_loop loop;
  bool after_scope = false;
  std::optional<int> r = 1;
  loop.call_after(1s, [&] { loop.cancel_root(cancel_reason::signal); });
  const auto t0 = loop.now();
  auto main_task = [&]() -> task<> {
    co_await cohort::shield(value_after(2s, 0));  // the signal arrives in here
    r = co_await cohort::move_on_after(10s, value_after(1h, 7));
    after_scope = true;
  };
  EXPECT_THROW(loop.run(main_task()), cohort::cancelled_error);
  EXPECT_FALSE(after_scope);
  EXPECT_EQ(r, 1);  // never assigned: the scope did not catch the signal
  EXPECT_EQ(loop.now() - t0, 2s);
}

TEST_F(CancelScope, G2_CancelDuringAWaitEndsIt) {
  virtual_loop loop;
  cancel_scope scope;
  bool reached = false;
  bool after_run = false;
  std::optional<int> result = 5;
  loop.call_after(2s, [&] { scope.cancel(); });
  const auto t0 = loop.now();
  loop.run([&]() -> task<> {
    result = co_await scope.run(value_after(1h, 1));
    after_run = true;
  }());
  EXPECT_FALSE(result.has_value());
  EXPECT_TRUE(after_run);
  EXPECT_FALSE(reached);
  EXPECT_EQ(loop.now() - t0, 2s);
  EXPECT_TRUE(scope.cancelled_caught());
}

TEST_F(CancelScope, G2_CancelFromInsideTheBodyTakesEffectAtItsNextWait) {
  virtual_loop loop;
  cancel_scope scope;
  bool ran_after_cancel = false;
  bool after_wait = false;
  auto body = [&]() -> task<> {
    scope.cancel();
    ran_after_cancel = true;  // cancel() never unwinds synchronously
    co_await cohort::sleep_for(1s);
    after_wait = true;
  };
  const auto t0 = loop.now();
  bool completed = true;
  loop.run([&]() -> task<> { completed = co_await scope.run(body()); }());
  EXPECT_TRUE(ran_after_cancel);
  EXPECT_FALSE(after_wait);
  EXPECT_FALSE(completed);
  EXPECT_EQ(loop.now(), t0);
  EXPECT_TRUE(scope.cancelled_caught());
}

TEST_F(CancelScope, G2_CheckpointEndsATaskInACancelledScope) {
  virtual_loop loop;
  cancel_scope scope;
  int rounds = 0;
  auto body = [&]() -> task<> {
    for (;;) {
      ++rounds;
      if (rounds == 3) scope.cancel();
      co_await cohort::checkpoint();
    }
  };
  loop.run([&]() -> task<> { (void)co_await scope.run(body()); }());
  EXPECT_EQ(rounds, 3);
  EXPECT_TRUE(scope.cancelled_caught());
}

TEST_F(CancelScope, G2_CancelFromASiblingTask) {
  virtual_loop loop;
  cancel_scope scope;
  bool reached = false;
  bool after_run = false;
  // Spawned tasks start later: their lambdas must outlive the full-expression.
  auto waiter = [&]() -> task<> {
    (void)co_await scope.run(sleep_then_mark(1h, &reached));
    after_run = true;
  };
  auto canceller = [&]() -> task<> {
    co_await cohort::sleep_for(3s);
    scope.cancel();
  };
  const auto t0 = loop.now();
  loop.run([&]() -> task<> {
    co_await cohort::with_task_group([&](cohort::task_group& g) -> task<> {
      g.spawn(waiter());
      g.spawn(canceller());
      co_return;
    });
  }());
  EXPECT_FALSE(reached);
  EXPECT_TRUE(after_run);
  EXPECT_EQ(loop.now() - t0, 3s);
  EXPECT_TRUE(scope.cancelled_caught());
}

// --- double cancel, deadlines, timeouts ---------------------------------------

TEST_F(CancelScope, DoubleCancelBeforeRunKeepsTheFirstReason) {
  virtual_loop loop;
  cancel_scope scope;
  scope.cancel(cancel_reason::requested);
  scope.cancel(cancel_reason::sibling_failed);
  EXPECT_EQ(scope.reason(), cancel_reason::requested);
  loop.run([&]() -> task<> { (void)co_await scope.run(value_after(1s, 0)); }());
  EXPECT_EQ(scope.reason(), cancel_reason::requested);
  EXPECT_EQ(scope.origin_reason(), cancel_reason::requested);
}

TEST_F(CancelScope, DoubleCancelDuringRunKeepsTheFirstReason) {
  // The body is shielded, so the scope is still running at every cancel.
  virtual_loop loop;
  cancel_scope scope;
  scope.set_timeout(10s);
  loop.call_after(1s, [&] {
    scope.cancel(cancel_reason::sibling_failed);
    scope.cancel(cancel_reason::requested);
  });
  loop.call_after(2s, [&] { scope.cancel(cancel_reason::signal); });
  const auto t0 = loop.now();
  loop.run([&]() -> task<> { (void)co_await scope.run(shielded_value_after(20s, 0)); }());
  EXPECT_EQ(loop.now() - t0, 20s);  // past the deadline: it did not override
  EXPECT_EQ(scope.reason(), cancel_reason::sibling_failed);
  EXPECT_EQ(scope.origin_reason(), cancel_reason::sibling_failed);
}

TEST_F(CancelScope, CancelAfterTheDeadlineKeepsReasonDeadline) {
  virtual_loop loop;
  cancel_scope scope;
  scope.set_timeout(1s);
  loop.call_after(2s, [&] { scope.cancel(cancel_reason::requested); });
  loop.run([&]() -> task<> {
    (void)co_await scope.run(shielded_value_after(3s, 0));
    scope.cancel(cancel_reason::requested);  // and after the run
  }());
  EXPECT_EQ(scope.reason(), cancel_reason::deadline);
  EXPECT_EQ(scope.origin_reason(), cancel_reason::deadline);
}

TEST_F(CancelScope, MoveOnAfterReturnsEmptyExactlyAtTheDeadline) {
  virtual_loop loop;
  const auto t0 = loop.now();
  std::optional<int> r = 1;
  cohort::time_point ended;
  loop.run([&]() -> task<> {
    r = co_await cohort::move_on_after(5s, value_after(1h, 7));
    ended = loop.now();
  }());
  EXPECT_FALSE(r.has_value());
  EXPECT_EQ(ended - t0, 5s);
}

TEST_F(CancelScope, MoveOnAfterVoidBodyReturnsFalseOnExpiryAndTrueOnCompletion) {
  virtual_loop loop;
  bool expired_result = true;
  bool completed_result = false;
  const auto t0 = loop.now();
  loop.run([&]() -> task<> {
    bool reached = false;
    expired_result = co_await cohort::move_on_after(2s, sleep_then_mark(1h, &reached));
    completed_result = co_await cohort::move_on_after(2s, sleep_then_mark(1s, &reached));
  }());
  EXPECT_FALSE(expired_result);
  EXPECT_TRUE(completed_result);
  EXPECT_EQ(loop.now() - t0, 3s);
}

TEST_F(CancelScope, MoveOnAtAnAbsoluteDeadline) {
  virtual_loop loop;
  const auto t0 = loop.now();
  std::optional<int> r = 1;
  loop.run([&]() -> task<> {
    co_await cohort::sleep_for(1s);
    r = co_await cohort::move_on_at(t0 + 4s, value_after(1h, 7));
  }());
  EXPECT_FALSE(r.has_value());
  EXPECT_EQ(loop.now() - t0, 4s);
}

TEST_F(CancelScope, DeadlineAlreadyPassedCancelsAtOnce) {
  virtual_loop loop;
  const auto t0 = loop.now();
  std::optional<int> r = 1;
  loop.run([&]() -> task<> {
    co_await cohort::sleep_for(2s);
    r = co_await cohort::move_on_at(t0 + 1s, value_after(1h, 7));
  }());
  EXPECT_FALSE(r.has_value());
  EXPECT_EQ(loop.now() - t0, 2s);
}

TEST_F(CancelScope, FailAfterThrowsTimeoutError) {
  virtual_loop loop;
  const auto t0 = loop.now();
  bool timed_out = false;
  bool after = false;
  loop.run([&]() -> task<> {
    try {
      (void)co_await cohort::fail_after(3s, value_after(1h, 7));
      after = true;
    } catch (const cohort::timeout_error&) {
      timed_out = true;
    }
  }());
  EXPECT_TRUE(timed_out);
  EXPECT_FALSE(after);
  EXPECT_EQ(loop.now() - t0, 3s);
}

TEST_F(CancelScope, FailAfterReturnsTheValueWhenInTime) {
  virtual_loop loop;
  auto main_task = []() -> task<int> {
    co_return co_await cohort::fail_after(3s, value_after(1s, 7));
  };
  EXPECT_EQ(loop.run(main_task()), 7);
}

TEST_F(CancelScope, FailAtThrowsTimeoutErrorAtTheDeadline) {
  virtual_loop loop;
  const auto t0 = loop.now();
  auto main_task = [&]() -> task<int> {
    co_return co_await cohort::fail_at(t0 + 2s, value_after(1h, 7));
  };
  EXPECT_THROW(loop.run(main_task()), cohort::timeout_error);
  EXPECT_EQ(loop.now() - t0, 2s);
}

TEST_F(CancelScope, BodyFinishingBeforeTheDeadlineReturnsItsValue) {
  virtual_loop loop;
  cancel_scope scope;
  scope.set_timeout(10s);
  std::optional<int> r;
  const auto t0 = loop.now();
  cohort::time_point ended;
  loop.run([&]() -> task<> {
    r = co_await scope.run(value_after(1s, 42));
    ended = loop.now();
    co_await cohort::sleep_for(30s);  // the disarmed deadline never fires
  }());
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(*r, 42);
  EXPECT_EQ(ended - t0, 1s);
  EXPECT_FALSE(scope.cancelled_caught());
  EXPECT_FALSE(scope.cancel_called());
  EXPECT_EQ(scope.reason(), cancel_reason::none);
}

TEST_F(CancelScope, SetDeadlineMovesARunningDeadlineLater) {
  virtual_loop loop;
  cancel_scope scope;
  scope.set_timeout(5s);
  const auto t0 = loop.now();
  loop.call_after(2s, [&] { scope.set_deadline(t0 + 12s); });
  loop.run([&]() -> task<> { (void)co_await scope.run(value_after(1h, 0)); }());
  EXPECT_EQ(loop.now() - t0, 12s);
  EXPECT_EQ(scope.deadline(), t0 + 12s);
  EXPECT_EQ(scope.reason(), cancel_reason::deadline);
  EXPECT_TRUE(scope.cancelled_caught());
}

TEST_F(CancelScope, SetDeadlineMovesARunningDeadlineEarlier) {
  virtual_loop loop;
  cancel_scope scope;
  scope.set_timeout(10s);
  const auto t0 = loop.now();
  loop.call_after(2s, [&] { scope.set_deadline(t0 + 3s); });
  loop.run([&]() -> task<> { (void)co_await scope.run(value_after(1h, 0)); }());
  EXPECT_EQ(loop.now() - t0, 3s);
  EXPECT_EQ(scope.reason(), cancel_reason::deadline);
}

TEST_F(CancelScope, SetDeadlineInThePastCancelsARunningScopeNow) {
  virtual_loop loop;
  cancel_scope scope;
  const auto t0 = loop.now();
  loop.call_after(2s, [&] { scope.set_deadline(t0); });
  loop.run([&]() -> task<> { (void)co_await scope.run(value_after(1h, 0)); }());
  EXPECT_EQ(loop.now() - t0, 2s);
  EXPECT_EQ(scope.reason(), cancel_reason::deadline);
}

TEST_F(CancelScope, SetTimeoutBeforeRunIsRelativeToTheStart) {
  virtual_loop loop;
  cancel_scope scope;
  scope.set_timeout(5s);
  const auto t0 = loop.now();
  loop.run([&]() -> task<> {
    co_await cohort::sleep_for(3s);
    (void)co_await scope.run(value_after(1h, 0));
  }());
  EXPECT_EQ(loop.now() - t0, 8s);
  EXPECT_EQ(scope.deadline(), t0 + 8s);
  EXPECT_TRUE(scope.cancelled_caught());
}

TEST_F(CancelScope, SetTimeoutWhileRunningIsRelativeToNow) {
  virtual_loop loop;
  cancel_scope scope;
  const auto t0 = loop.now();
  loop.call_after(2s, [&] { scope.set_timeout(3s); });
  loop.run([&]() -> task<> { (void)co_await scope.run(value_after(1h, 0)); }());
  EXPECT_EQ(loop.now() - t0, 5s);
}

// --- propagation and reasons (G6) ---------------------------------------------

TEST_F(CancelScope, ConstructedWithAnAbsoluteDeadline) {
  virtual_loop loop;
  const auto t0 = loop.now();
  cancel_scope scope(t0 + 3s);
  EXPECT_EQ(scope.deadline(), t0 + 3s);
  loop.run([&]() -> task<> { (void)co_await scope.run(value_after(1h, 0)); }());
  EXPECT_EQ(loop.now() - t0, 3s);
  EXPECT_EQ(scope.reason(), cancel_reason::deadline);
  EXPECT_TRUE(scope.cancelled_caught());
}

TEST_F(CancelScope, OuterCancellationPassesThroughAnInnerScope) {
  virtual_loop loop;
  cancel_scope outer;
  cancel_scope inner;
  bool after_inner = false;
  bool after_outer = false;
  auto body = [&]() -> task<> {
    (void)co_await inner.run(value_after(1h, 0));
    after_inner = true;
  };
  loop.call_after(1s, [&] { outer.cancel(); });
  loop.run([&]() -> task<> {
    (void)co_await outer.run(body());
    after_outer = true;
  }());
  EXPECT_FALSE(inner.cancelled_caught());
  EXPECT_FALSE(after_inner);
  EXPECT_TRUE(outer.cancelled_caught());
  EXPECT_TRUE(after_outer);
  EXPECT_EQ(outer.reason(), cancel_reason::requested);
  EXPECT_EQ(inner.reason(), cancel_reason::parent);
  EXPECT_EQ(inner.origin_reason(), cancel_reason::requested);
}

TEST_F(CancelScope, InnerCancellationIsCaughtByTheInnerScope) {
  virtual_loop loop;
  cancel_scope outer;
  cancel_scope inner;
  bool after_inner = false;
  auto body = [&]() -> task<> {
    (void)co_await inner.run(value_after(1h, 0));
    after_inner = true;
  };
  loop.call_after(1s, [&] { inner.cancel(); });
  loop.run([&]() -> task<> { (void)co_await outer.run(body()); }());
  EXPECT_TRUE(inner.cancelled_caught());
  EXPECT_TRUE(after_inner);
  EXPECT_FALSE(outer.cancelled_caught());
  EXPECT_FALSE(outer.cancel_called());
}

TEST_F(CancelScope, G6_ReasonRequested) {
  virtual_loop loop;
  cancel_scope scope;
  loop.call_after(1s, [&] { scope.cancel(); });
  loop.run([&]() -> task<> { (void)co_await scope.run(value_after(1h, 0)); }());
  EXPECT_EQ(scope.reason(), cancel_reason::requested);
  EXPECT_EQ(scope.origin_reason(), cancel_reason::requested);
}

TEST_F(CancelScope, G6_ReasonDeadline) {
  virtual_loop loop;
  cancel_scope scope;
  scope.set_timeout(1s);
  loop.run([&]() -> task<> { (void)co_await scope.run(value_after(1h, 0)); }());
  EXPECT_TRUE(scope.cancel_called());
  EXPECT_EQ(scope.reason(), cancel_reason::deadline);
  EXPECT_EQ(scope.origin_reason(), cancel_reason::deadline);
}

TEST_F(CancelScope, G6_ReasonParentWithTheOriginsDeadline) {
  virtual_loop loop;
  cancel_scope outer;
  cancel_scope inner;
  outer.set_timeout(2s);
  bool after_inner = false;
  auto body = [&]() -> task<> {
    (void)co_await inner.run(value_after(1h, 0));
    after_inner = true;
  };
  loop.run([&]() -> task<> { (void)co_await outer.run(body()); }());
  EXPECT_FALSE(inner.cancel_called());
  EXPECT_FALSE(inner.cancelled_caught());
  EXPECT_FALSE(after_inner);
  EXPECT_TRUE(outer.cancelled_caught());
  EXPECT_EQ(inner.reason(), cancel_reason::parent);
  EXPECT_EQ(inner.origin_reason(), cancel_reason::deadline);
  EXPECT_EQ(outer.reason(), cancel_reason::deadline);
}

TEST_F(CancelScope, G6_ReasonSignalFromTheRoot) {
  virtual_loop loop;
  cancel_scope scope;
  bool after = false;
  loop.call_after(1s, [&] { loop.cancel_root(cancel_reason::signal); });
  try {
    loop.run([&]() -> task<> {
      (void)co_await scope.run(value_after(1h, 0));
      after = true;
    }());
    ADD_FAILURE() << "a root cancel must end run() with cancelled_error";
  } catch (const cohort::cancelled_error& e) {
    EXPECT_EQ(e.reason(), cancel_reason::signal);
  }
  EXPECT_FALSE(after);
  EXPECT_FALSE(scope.cancelled_caught());
  EXPECT_EQ(scope.reason(), cancel_reason::parent);
  EXPECT_EQ(scope.origin_reason(), cancel_reason::signal);
}

TEST_F(CancelScope, G6_ReasonSiblingFailed) {
  virtual_loop loop;
  cancel_scope scope;
  auto waiter = [&]() -> task<> { (void)co_await scope.run(value_after(1h, 0)); };
  auto failing = []() -> task<> {
    co_await cohort::sleep_for(1s);
    throw std::runtime_error("sibling");
  };
  auto main_task = [&]() -> task<> {
    co_await cohort::with_task_group([&](cohort::task_group& g) -> task<> {
      g.spawn(waiter());
      g.spawn(failing());
      co_return;
    });
  };
  EXPECT_THROW(loop.run(main_task()), cohort::group_error);
  EXPECT_EQ(scope.reason(), cancel_reason::parent);
  EXPECT_EQ(scope.origin_reason(), cancel_reason::sibling_failed);
}

TEST_F(CancelScope, ExceptionFromTheBodyPropagates) {
  virtual_loop loop;
  cancel_scope scope;
  bool caught = false;
  loop.run([&]() -> task<> {
    try {
      (void)co_await scope.run([]() -> task<int> {
        co_await cohort::sleep_for(1s);
        throw std::runtime_error("body");
      }());
    } catch (const std::runtime_error&) {
      caught = true;
    }
  }());
  EXPECT_TRUE(caught);
  EXPECT_FALSE(scope.cancelled_caught());
}

TEST_F(CancelScope, G9_CancelledBodyRunsEveryDestructor) {
  virtual_loop loop;
  cohort::test::lifetimes life;
  cancel_scope scope;
  auto leaf = [&](cohort::test::lifetimes::token) -> task<> {
    auto t = life.make();
    co_await cohort::sleep_for(1h);
  };
  auto body = [&]() -> task<> {
    auto t = life.make();
    co_await leaf(life.make());
  };
  loop.call_after(1s, [&] { scope.cancel(); });
  loop.run([&]() -> task<> { (void)co_await scope.run(body()); }());
  EXPECT_GE(life.constructed(), 3);
  EXPECT_EQ(life.alive(), 0);
}

// --- G8: no lost results --------------------------------------------------------

TEST_F(CancelScope, G8_OperationCompletedInTheSameInstantAsTheCancelDeliversItsResult) {
  virtual_loop loop;
  cancel_scope scope;
  cohort::event ev;
  bool got_event = false;
  bool after_next_wait = false;
  auto body = [&]() -> task<> {
    co_await ev.wait();
    got_event = true;
    co_await cohort::sleep_for(1s);
    after_next_wait = true;
  };
  // Both happen before the loop runs the waiter again.
  loop.call_after(1s, [&] {
    ev.set();
    scope.cancel();
  });
  const auto t0 = loop.now();
  loop.run([&]() -> task<> { (void)co_await scope.run(body()); }());
  EXPECT_TRUE(got_event);
  EXPECT_FALSE(after_next_wait);
  EXPECT_TRUE(scope.cancelled_caught());
  EXPECT_EQ(loop.now() - t0, 1s);
}

TEST_F(CancelScope, G8_ABodyThatFinishesDespiteTheCancelDeliversItsValue) {
  virtual_loop loop;
  cancel_scope scope;
  std::optional<int> r;
  loop.call_after(1s, [&] { scope.cancel(); });
  loop.run([&]() -> task<> {
    r = co_await scope.run(
        []() -> task<int> { co_return co_await cohort::shield(value_after(2s, 9)); }());
  }());
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(*r, 9);
  EXPECT_FALSE(scope.cancelled_caught());
  EXPECT_TRUE(scope.cancel_called());
}

TEST_F(CancelScope, G8_BodyWithoutWaitsDeliversItsValueEvenIfCancelledBeforeRun) {
  virtual_loop loop;
  cancel_scope scope;
  scope.cancel();
  std::optional<int> r;
  loop.run([&]() -> task<> { r = co_await scope.run([]() -> task<int> { co_return 5; }()); }());
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(*r, 5);
  EXPECT_FALSE(scope.cancelled_caught());
}

TEST_F(CancelScope, G8_CheckpointCancelledBeforeItResumesDoesNotReturn) {
  // A checkpoint completes at once but has no result worth delivering: a
  // cancel that arrives before it resumes ends the task there.
  virtual_loop loop;
  cancel_scope scope;
  bool after_checkpoint = false;
  auto body = [&]() -> task<> {
    co_await cohort::checkpoint();
    after_checkpoint = true;
  };
  auto first = [&]() -> task<> { (void)co_await scope.run(body()); };
  auto second = [&]() -> task<> {
    scope.cancel();
    co_return;
  };
  loop.run([&]() -> task<> {
    co_await cohort::with_task_group([&](cohort::task_group& g) -> task<> {
      g.spawn(first());
      g.spawn(second());
      co_return;
    });
  }());
  EXPECT_FALSE(after_checkpoint);
  EXPECT_TRUE(scope.cancelled_caught());
}

TEST_F(CancelScope, G8_ValueCompletedBeforeTheCancelReachesTheTaskIsDelivered) {
  // The counterpart of the checkpoint test: the operation's result must be
  // delivered, so the task resumes with it and ends at its next wait.
  virtual_loop loop;
  cancel_scope scope;
  int value = 0;
  bool after_next_wait = false;
  auto body = [&]() -> task<> {
    value = co_await instant_value_op(42);
    co_await cohort::sleep_for(1s);
    after_next_wait = true;
  };
  auto first = [&]() -> task<> { (void)co_await scope.run(body()); };
  auto second = [&]() -> task<> {
    scope.cancel();
    co_return;
  };
  const auto t0 = loop.now();
  loop.run([&]() -> task<> {
    co_await cohort::with_task_group([&](cohort::task_group& g) -> task<> {
      g.spawn(first());
      g.spawn(second());
      co_return;
    });
  }());
  EXPECT_EQ(value, 42);
  EXPECT_FALSE(after_next_wait);
  EXPECT_EQ(loop.now(), t0);
  EXPECT_TRUE(scope.cancelled_caught());
}

// --- duration::max() (and any huge duration) means no deadline ----------------

TEST_F(CancelScope, MoveOnAfterMaxDurationHasNoDeadline) {
  virtual_loop loop;
  const auto t0 = loop.now();
  const std::optional<int> r = loop.run([]() -> task<std::optional<int>> {
    co_return co_await cohort::move_on_after(cohort::duration::max(), value_after(1h, 7));
  }());
  EXPECT_EQ(r, 7) << "a move_on_after without a deadline timed out";
  EXPECT_EQ(loop.now() - t0, 1h);
}

TEST_F(CancelScope, FailAfterHugeDurationHasNoDeadline) {
  virtual_loop loop;
  const int v = loop.run([]() -> task<int> {
    co_return co_await cohort::fail_after(cohort::duration::max() - 1s, value_after(1h, 8));
  }());
  EXPECT_EQ(v, 8);
}

TEST_F(CancelScope, SetTimeoutMaxBeforeAndDuringRunHasNoDeadline) {
  virtual_loop loop;
  cancel_scope before;
  before.set_timeout(cohort::duration::max());
  cancel_scope during;
  loop.call_after(1s, [&] { during.set_timeout(cohort::duration::max()); });
  loop.run([&]() -> task<> {
    EXPECT_EQ(co_await before.run(value_after(1h, 1)), 1);
    EXPECT_EQ(co_await during.run(value_after(1h, 2)), 2);
  }());
  EXPECT_EQ(before.deadline(), cohort::time_point::max());
  EXPECT_EQ(during.deadline(), cohort::time_point::max());
  EXPECT_FALSE(before.cancel_called());
  EXPECT_FALSE(during.cancel_called());
}

TEST_F(CancelScope, SetTimeoutMaxRemovesARunningDeadline) {
  virtual_loop loop;
  cancel_scope scope;
  scope.set_timeout(2s);
  loop.call_after(1s, [&] { scope.set_timeout(cohort::duration::max()); });
  const auto t0 = loop.now();
  loop.run([&]() -> task<> { EXPECT_EQ(co_await scope.run(value_after(1h, 3)), 3); }());
  EXPECT_EQ(loop.now() - t0, 1h);
}

TEST_F(CancelScope, MoveOnAfterMinDurationTimesOutAtOnce) {
  virtual_loop loop;
  const auto t0 = loop.now();
  const std::optional<int> r = loop.run([]() -> task<std::optional<int>> {
    co_return co_await cohort::move_on_after(cohort::duration::min(), value_after(1h, 0));
  }());
  EXPECT_FALSE(r.has_value());
  EXPECT_EQ(loop.now(), t0);
}

// --- G9: deep nesting is cancelled without recursion --------------------------

namespace {
task<> nested_scopes(int depth) {
  if (depth == 0) {
    co_await cohort::sleep_for(1h);
    co_return;
  }
  (void)co_await cohort::move_on_after(1h, nested_scopes(depth - 1));
}
}  // namespace

TEST_F(CancelScope, G9_CancellingFiftyThousandNestedScopesDoesNotOverflowTheStack) {
  virtual_loop loop;
  const auto t0 = loop.now();
  const bool completed = loop.run([]() -> task<bool> {
    co_return co_await cohort::move_on_after(1s, nested_scopes(50'000));
  }());
  EXPECT_FALSE(completed);
  EXPECT_EQ(loop.now() - t0, 1s);
}
