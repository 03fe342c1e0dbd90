#include <cohort/shield.hpp>

#include <cohort/cancel_scope.hpp>
#include <cohort/sleep.hpp>
#include <cohort/task.hpp>

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
using cohort::test::lifetimes;
using cohort::test::value_after;
using cohort::test::virtual_loop;

namespace {

class Shield : public cohort::test::leak_checked_test {};

}  // namespace

TEST_F(Shield, DeliversTheBodysValueWithoutCancellation) {
  virtual_loop loop;
  const auto t0 = loop.now();
  auto main_task = []() -> task<int> { co_return co_await cohort::shield(value_after(2s, 5)); };
  EXPECT_EQ(loop.run(main_task()), 5);
  EXPECT_EQ(loop.now() - t0, 2s);
}

TEST_F(Shield, ProtectsWaitsFromASoftRootCancel) {
  virtual_loop loop;
  int value = 0;
  bool after_shield = false;
  bool after_next_wait = false;
  cohort::time_point shield_ended;
  loop.call_after(1s, [&] { loop.cancel_root(cancel_reason::signal); });
  const auto t0 = loop.now();
  try {
    loop.run([&]() -> task<> {
      value = co_await cohort::shield(value_after(5s, 7));
      shield_ended = loop.now();
      after_shield = true;
      co_await cohort::sleep_for(1s);  // the outer cancellation takes effect here
      after_next_wait = true;
    }());
    ADD_FAILURE() << "the root cancel was lost";
  } catch (const cohort::cancelled_error& e) {
    EXPECT_EQ(e.reason(), cancel_reason::signal);
  }
  EXPECT_EQ(value, 7);
  EXPECT_TRUE(after_shield);
  EXPECT_EQ(shield_ended - t0, 5s);
  EXPECT_FALSE(after_next_wait);
  EXPECT_EQ(loop.now() - t0, 5s);
}

TEST_F(Shield, ProtectsWaitsFromAnEnclosingScopesCancel) {
  virtual_loop loop;
  cancel_scope scope;
  std::optional<int> seen;
  bool after_next_wait = false;
  auto body = [&]() -> task<> {
    seen = co_await cohort::shield(value_after(5s, 3));
    co_await cohort::sleep_for(1s);
    after_next_wait = true;
  };
  loop.call_after(1s, [&] { scope.cancel(); });
  const auto t0 = loop.now();
  loop.run([&]() -> task<> { (void)co_await scope.run(body()); }());
  ASSERT_TRUE(seen.has_value());
  EXPECT_EQ(*seen, 3);
  EXPECT_FALSE(after_next_wait);
  EXPECT_EQ(loop.now() - t0, 5s);
  EXPECT_TRUE(scope.cancelled_caught());
}

TEST_F(Shield, ProtectsEveryWaitOfTheBodyNotOnlyTheFirst) {
  virtual_loop loop;
  cancel_scope scope;
  int steps = 0;
  auto shielded = [&]() -> task<> {
    for (int i = 0; i < 4; ++i) {
      co_await cohort::sleep_for(1s);
      ++steps;
    }
  };
  loop.call_after(1500ms, [&] { scope.cancel(); });
  const auto t0 = loop.now();
  loop.run([&]() -> task<> {
    (void)co_await scope.run([&]() -> task<> { co_await cohort::shield(shielded()); }());
  }());
  EXPECT_EQ(steps, 4);
  EXPECT_EQ(loop.now() - t0, 4s);
  // The body finished despite the cancel (no wait after the shield): it is
  // a completion, not a caught cancellation.
  EXPECT_TRUE(scope.cancel_called());
  EXPECT_FALSE(scope.cancelled_caught());
}

TEST_F(Shield, HardCancelPiercesTheShield) {
  virtual_loop loop;
  lifetimes life;
  bool after_shield = false;
  int value = 0;
  auto shielded = [&]() -> task<int> {
    auto t = life.make();
    co_await cohort::sleep_for(1h);
    co_return 1;
  };
  loop.call_after(1s, [&] { loop.cancel_root(cancel_reason::escalated, /*hard=*/true); });
  const auto t0 = loop.now();
  try {
    loop.run([&]() -> task<> {
      value = co_await cohort::shield(shielded());
      after_shield = true;
    }());
    ADD_FAILURE() << "a hard cancel must end run() with cancelled_error";
  } catch (const cohort::cancelled_error& e) {
    EXPECT_EQ(e.reason(), cancel_reason::escalated);
  }
  EXPECT_EQ(value, 0);
  EXPECT_FALSE(after_shield);
  EXPECT_EQ(loop.now() - t0, 1s);
  EXPECT_EQ(life.alive(), 0);
}

TEST_F(Shield, HardCancelAfterASoftOneStillPiercesTheShield) {
  // Ctrl+C, then a second Ctrl+C: the first leaves the shielded work running,
  // the second ends it.
  virtual_loop loop;
  bool after_shield = false;
  loop.call_after(1s, [&] { loop.cancel_root(cancel_reason::signal); });
  loop.call_after(2s, [&] { loop.cancel_root(cancel_reason::escalated, /*hard=*/true); });
  const auto t0 = loop.now();
  try {
    loop.run([&]() -> task<> {
      co_await cohort::shield(value_after(1h, 0));
      after_shield = true;
    }());
    ADD_FAILURE() << "the hard cancel was lost";
  } catch (const cohort::cancelled_error& e) {
    EXPECT_EQ(e.reason(), cancel_reason::signal);  // the origin is the first cancel
  }
  EXPECT_FALSE(after_shield);
  EXPECT_EQ(loop.now() - t0, 2s);
}

TEST_F(Shield, StartedInAnAlreadyCancelledScopeRunsItsBodyNormally) {
  virtual_loop loop;
  cancel_scope scope;
  scope.cancel();
  int value = 0;
  bool after_next_wait = false;
  auto body = [&]() -> task<> {
    value = co_await cohort::shield(value_after(2s, 5));
    co_await cohort::sleep_for(1s);
    after_next_wait = true;
  };
  const auto t0 = loop.now();
  loop.run([&]() -> task<> { (void)co_await scope.run(body()); }());
  EXPECT_EQ(value, 5);
  EXPECT_FALSE(after_next_wait);
  EXPECT_EQ(loop.now() - t0, 2s);
  EXPECT_TRUE(scope.cancelled_caught());
}

TEST_F(Shield, ExceptionFromTheBodyPropagates) {
  virtual_loop loop;
  bool caught = false;
  loop.run([&]() -> task<> {
    try {
      co_await cohort::shield([]() -> task<> {
        co_await cohort::sleep_for(1s);
        throw std::runtime_error("shielded");
      }());
    } catch (const std::runtime_error&) {
      caught = true;
    }
  }());
  EXPECT_TRUE(caught);
}

TEST_F(Shield, AScopeInsideTheShieldCanStillCancelItself) {
  // A shield keeps the outside out; it does not stop cancellation that
  // starts inside it.
  virtual_loop loop;
  cancel_scope outer;
  std::optional<int> inner_result = 1;
  bool after_shield = false;
  bool after_next_wait = false;
  auto shielded = [&]() -> task<> {
    inner_result = co_await cohort::move_on_after(3s, value_after(1h, 2));
  };
  auto body = [&]() -> task<> {
    co_await cohort::shield(shielded());
    after_shield = true;
    co_await cohort::sleep_for(1s);
    after_next_wait = true;
  };
  loop.call_after(1s, [&] { outer.cancel(); });
  const auto t0 = loop.now();
  loop.run([&]() -> task<> { (void)co_await outer.run(body()); }());
  EXPECT_FALSE(inner_result.has_value());
  EXPECT_TRUE(after_shield);
  EXPECT_FALSE(after_next_wait);
  EXPECT_EQ(loop.now() - t0, 3s);
  EXPECT_TRUE(outer.cancelled_caught());
}
