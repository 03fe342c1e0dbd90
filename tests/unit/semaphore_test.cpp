#include <cohort/semaphore.hpp>

#include <cohort/cancel_scope.hpp>
#include <cohort/sleep.hpp>
#include <cohort/task_group.hpp>

#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <optional>
#include <ostream>
#include <utility>
#include <vector>

#include "probes.hpp"

// Contract tests of semaphore (DESIGN.md G5, with G2, G8 and G9 where the
// semaphore is where they can break). The fixture checks that every lifetime
// token was destroyed and no task frame leaked.

using namespace std::chrono_literals;

namespace {

namespace ct = cohort::test;
using cohort::cancel_scope;
using cohort::duration;
using cohort::semaphore;
using cohort::task;
using cohort::task_group;
using cohort::time_point;

class Semaphore : public ct::contract_test {};

/// One acquisition: who, and when.
struct grant {
  int id;
  duration at;
  bool operator==(const grant&) const = default;
};

std::ostream& operator<<(std::ostream& os, const grant& g) {
  return os << "{" << g.id << " at " << std::chrono::duration<double>(g.at).count() << "s}";
}

/// Arrives after `arrive`, acquires, records the grant, holds for `hold`.
task<> acquire_and_hold(semaphore& sem, ct::virtual_loop& loop, time_point start, int id,
                        duration arrive, duration hold, std::vector<grant>& grants,
                        ct::lifetimes::token) {
  co_await cohort::sleep_for(arrive);
  auto permit = co_await sem.acquire();
  EXPECT_TRUE(permit);
  grants.push_back({id, loop.now() - start});
  co_await cohort::sleep_for(hold);
}

/// Runs `body` in `scope` (a waiter the test can cancel on its own).
task<> in_scope(cancel_scope& scope, task<> body) {
  co_await scope.run(std::move(body));
}

TEST_F(Semaphore, G5_GrantsPermitsInStrictArrivalOrder) {
  semaphore sem(1);
  auto held = sem.try_acquire();
  ASSERT_TRUE(held);
  std::vector<grant> grants;
  std::size_t waiting_before_release = 0;
  loop_.call_after(1s, [&] {
    waiting_before_release = sem.waiting();
    held.reset();
  });
  loop_.run([&]() -> task<> {
    co_await cohort::with_task_group([&](task_group& g) -> task<> {
      // Spawned 0..4 but arriving 4, 3, 2, 1, 0: the order is by arrival.
      for (int id = 0; id < 5; ++id) {
        g.spawn(
            acquire_and_hold(sem, loop_, start_, id, (5 - id) * 10ms, 1s, grants, life_.make()));
      }
      co_return;
    });
  }());
  EXPECT_EQ(waiting_before_release, 5u);
  EXPECT_EQ(grants, (std::vector<grant>{{4, 1s}, {3, 2s}, {2, 3s}, {1, 4s}, {0, 5s}}));
  EXPECT_EQ(sem.available(), 1u);
  EXPECT_EQ(sem.waiting(), 0u);
}

TEST_F(Semaphore, G5_CountingSemaphoreServesWaitersInOrderAsPermitsFree) {
  semaphore sem(2);
  std::vector<grant> grants;
  loop_.run([&]() -> task<> {
    co_await cohort::with_task_group([&](task_group& g) -> task<> {
      for (int id = 0; id < 6; ++id) {
        g.spawn(acquire_and_hold(sem, loop_, start_, id, id * 1ms, 1s, grants, life_.make()));
      }
      co_return;
    });
  }());
  EXPECT_EQ(grants, (std::vector<grant>{
                        {0, 0ms}, {1, 1ms}, {2, 1000ms}, {3, 1001ms}, {4, 2000ms}, {5, 2001ms}}));
  EXPECT_EQ(sem.available(), 2u);
}

task<> release_then_reacquire(semaphore& sem, ct::virtual_loop& loop, time_point start,
                              std::vector<grant>& grants, ct::lifetimes::token) {
  auto permit = co_await sem.acquire();
  grants.push_back({0, loop.now() - start});
  co_await cohort::sleep_for(1s);
  permit.release();
  // In the same turn as the release: the permit already belongs to the
  // waiter, so neither a try nor a new acquire may take it.
  EXPECT_EQ(sem.available(), 0u);
  EXPECT_FALSE(sem.try_acquire());
  auto again = co_await sem.acquire();
  grants.push_back({0, loop.now() - start});
}

TEST_F(Semaphore, G5_ReleasedPermitGoesToTheWaiterNotToALaterArrival) {
  semaphore sem(1);
  std::vector<grant> grants;
  loop_.run([&]() -> task<> {
    co_await cohort::with_task_group([&](task_group& g) -> task<> {
      g.spawn(release_then_reacquire(sem, loop_, start_, grants, life_.make()));
      g.spawn(acquire_and_hold(sem, loop_, start_, 1, 500ms, 1s, grants, life_.make()));
      co_return;
    });
  }());
  EXPECT_EQ(grants, (std::vector<grant>{{0, 0s}, {1, 1s}, {0, 2s}}));
  EXPECT_EQ(sem.available(), 1u);
}

TEST_F(Semaphore, G5_CancelledWaiterLeavesTheQueueAtOnce) {
  semaphore sem(1);
  auto held = sem.try_acquire();
  std::array<cancel_scope, 3> scopes;
  std::vector<grant> grants;
  std::size_t waiting_before_cancel = 0;
  std::size_t waiting_after_cancel = 0;
  loop_.call_after(500ms, [&] {
    waiting_before_cancel = sem.waiting();
    scopes[1].cancel();
    waiting_after_cancel = sem.waiting();  // synchronously, not at the next turn
  });
  loop_.call_after(1s, [&] { held.reset(); });
  loop_.run([&]() -> task<> {
    co_await cohort::with_task_group([&](task_group& g) -> task<> {
      for (int id = 0; id < 3; ++id) {
        g.spawn(in_scope(scopes[id], acquire_and_hold(sem, loop_, start_, id, id * 1ms, 1s, grants,
                                                      life_.make())));
      }
      co_return;
    });
  }());
  EXPECT_EQ(waiting_before_cancel, 3u);
  EXPECT_EQ(waiting_after_cancel, 2u);
  EXPECT_TRUE(scopes[1].cancelled_caught());
  EXPECT_EQ(grants, (std::vector<grant>{{0, 1s}, {2, 2s}}));  // 1 never got one
  EXPECT_EQ(sem.available(), 1u);
  EXPECT_EQ(sem.waiting(), 0u);
}

// G5: "A permit handed to a waiter that is cancelled in the same instant is
// given back." release() hands the permit to waiter 0; before the loop
// resumes it, its scope is cancelled.
TEST_F(Semaphore, G5_PermitHandedToAWaiterCancelledInTheSameInstantGoesToTheNextWaiter) {
  semaphore sem(1);
  auto held = sem.try_acquire();
  std::array<cancel_scope, 2> scopes;
  std::vector<grant> grants;
  std::size_t waiting_after_handoff = 0;
  std::optional<std::size_t> available_while_next_holds;
  loop_.call_after(1s, [&] {
    held.reset();  // hands the permit to waiter 0...
    waiting_after_handoff = sem.waiting();
    scopes[0].cancel();  // ...which is cancelled before it resumes
  });
  loop_.call_after(1500ms, [&] { available_while_next_holds = sem.available(); });
  loop_.run([&]() -> task<> {
    co_await cohort::with_task_group([&](task_group& g) -> task<> {
      for (int id = 0; id < 2; ++id) {
        g.spawn(in_scope(scopes[id], acquire_and_hold(sem, loop_, start_, id, id * 1ms, 1s, grants,
                                                      life_.make())));
      }
      co_return;
    });
  }());
  EXPECT_EQ(waiting_after_handoff, 1u);
  EXPECT_TRUE(scopes[0].cancelled_caught());
  EXPECT_EQ(grants, (std::vector<grant>{{1, 1s}}));  // waiter 0's code never ran
  EXPECT_EQ(available_while_next_holds, 0u);         // not duplicated
  EXPECT_EQ(sem.available(), 1u);                    // not lost
  EXPECT_EQ(sem.waiting(), 0u);
}

TEST_F(Semaphore, G5_PermitPassesOverEveryWaiterCancelledInTheSameInstant) {
  semaphore sem(1);
  auto held = sem.try_acquire();
  std::array<cancel_scope, 4> scopes;
  std::vector<grant> grants;
  loop_.call_after(1s, [&] {
    held.reset();        // to waiter 0 (already handed over)
    scopes[0].cancel();  // gives it back when it unwinds...
    scopes[1].cancel();  // ...past waiter 1, which left the queue at once
    scopes[3].cancel();
  });
  loop_.run([&]() -> task<> {
    co_await cohort::with_task_group([&](task_group& g) -> task<> {
      for (int id = 0; id < 4; ++id) {
        g.spawn(in_scope(scopes[id], acquire_and_hold(sem, loop_, start_, id, id * 1ms, 1s, grants,
                                                      life_.make())));
      }
      co_return;
    });
  }());
  EXPECT_EQ(grants, (std::vector<grant>{{2, 1s}}));
  EXPECT_EQ(sem.available(), 1u);
  EXPECT_EQ(sem.waiting(), 0u);
}

TEST_F(Semaphore, G5_PermitHandedToAWaiterCancelledInTheSameInstantReturnsToThePool) {
  semaphore sem(1);
  auto held = sem.try_acquire();
  cancel_scope scope;
  std::vector<grant> grants;
  std::optional<std::size_t> available_after;
  loop_.call_after(1s, [&] {
    held.reset();
    scope.cancel();
  });
  loop_.call_after(2s, [&] { available_after = sem.available(); });
  loop_.run([&]() -> task<> {
    co_await cohort::with_task_group([&](task_group& g) -> task<> {
      g.spawn(
          in_scope(scope, acquire_and_hold(sem, loop_, start_, 0, 0s, 1s, grants, life_.make())));
      co_await cohort::sleep_for(3s);
    });
  }());
  EXPECT_TRUE(scope.cancelled_caught());
  EXPECT_TRUE(grants.empty());
  EXPECT_EQ(available_after, 1u);
  auto again = sem.try_acquire();
  EXPECT_TRUE(again);
  EXPECT_FALSE(sem.try_acquire());  // exactly one permit, not two
}

TEST_F(Semaphore, G5_CancellingAThousandWaitersLeavesNoPermitBehind) {
  constexpr std::size_t n = 1000;
  semaphore sem(3);
  std::vector<grant> grants;
  std::size_t waiting_before = 0;
  std::size_t available_before = 99;
  std::size_t waiting_right_after_cancel = 99;
  loop_.run([&]() -> task<> {
    co_await cohort::with_task_group([&](task_group& g) -> task<> {
      for (int id = 0; id < static_cast<int>(n + 3); ++id) {
        g.spawn(acquire_and_hold(sem, loop_, start_, id, 0s, 1h, grants, life_.make()));
      }
      co_await cohort::sleep_for(1s);
      waiting_before = sem.waiting();
      available_before = sem.available();
      g.cancel();
      waiting_right_after_cancel = sem.waiting();
    });
  }());
  EXPECT_EQ(waiting_before, n);
  EXPECT_EQ(available_before, 0u);
  EXPECT_EQ(waiting_right_after_cancel, 0u);
  EXPECT_EQ(grants.size(), 3u);  // only the first three ever held a permit
  EXPECT_EQ(sem.available(), 3u);
  EXPECT_EQ(sem.waiting(), 0u);
  EXPECT_EQ(elapsed(), 1s);
}

TEST_F(Semaphore, G5_TryAcquireTakesOnlyFreePermits) {
  semaphore sem(2);
  auto a = sem.try_acquire();
  auto b = sem.try_acquire();
  ASSERT_TRUE(a && b);
  EXPECT_TRUE(*a && *b);
  EXPECT_EQ(sem.available(), 0u);
  EXPECT_FALSE(sem.try_acquire());
  a->release();
  EXPECT_FALSE(*a);
  a->release();  // idempotent
  EXPECT_EQ(sem.available(), 1u);
  auto c = sem.try_acquire();
  EXPECT_TRUE(c);
  EXPECT_EQ(sem.available(), 0u);
}

TEST_F(Semaphore, G5_PermitIsMovedAndReleasedExactlyOnce) {
  semaphore sem(2);
  {
    auto a = *sem.try_acquire();
    auto b = *sem.try_acquire();
    semaphore::permit moved(std::move(b));
    EXPECT_FALSE(b);  // NOLINT(bugprone-use-after-move): moved-from is empty
    EXPECT_TRUE(moved);
    EXPECT_EQ(sem.available(), 0u);
    a = std::move(moved);  // a's old unit goes back; a now holds b's
    EXPECT_EQ(sem.available(), 1u);
    EXPECT_TRUE(a);
    EXPECT_FALSE(moved);  // NOLINT(bugprone-use-after-move)
  }
  EXPECT_EQ(sem.available(), 2u);
}

TEST_F(Semaphore, AcquireWithAFreePermitDoesNotWait) {
  semaphore sem(1);
  std::size_t steps_before = 0;
  std::size_t steps_after = 0;
  loop_.run([&]() -> task<> {
    steps_before = loop_.steps();
    auto permit = co_await sem.acquire();
    steps_after = loop_.steps();
    EXPECT_EQ(sem.available(), 0u);
  }());
  EXPECT_EQ(steps_after, steps_before);
  EXPECT_EQ(sem.available(), 1u);
}

task<> acquire_then_sleep(semaphore& sem, bool& woke, ct::lifetimes::token) {
  auto permit = co_await sem.acquire();
  co_await cohort::sleep_for(1h);
  woke = true;
}

TEST_F(Semaphore, G5_PermitIsReleasedWhenItsHolderIsUnwound) {
  semaphore sem(1);
  bool holder_woke = false;
  std::vector<grant> grants;
  std::optional<bool> holder_completed;
  loop_.run([&]() -> task<> {
    co_await cohort::with_task_group([&](task_group& g) -> task<> {
      g.spawn(acquire_and_hold(sem, loop_, start_, 1, 500ms, 1s, grants, life_.make()));
      holder_completed =
          co_await cohort::move_on_after(1s, acquire_then_sleep(sem, holder_woke, life_.make()));
    });
  }());
  EXPECT_EQ(holder_completed, false);
  EXPECT_FALSE(holder_woke);
  EXPECT_EQ(grants, (std::vector<grant>{{1, 1s}}));  // the unwound holder's permit
  EXPECT_EQ(sem.available(), 1u);
}

task<> acquire_then_mark(semaphore& sem, bool& reached, ct::lifetimes::token) {
  auto permit = co_await sem.acquire();
  reached = true;
}

TEST_F(Semaphore, G2_AcquireInACancelledScopeUnwindsEvenWithPermitsFree) {
  semaphore sem(1);
  cancel_scope scope;
  scope.cancel();
  bool reached = false;
  std::optional<bool> completed;
  loop_.run([&]() -> task<> {
    completed = co_await scope.run(acquire_then_mark(sem, reached, life_.make()));
  }());
  EXPECT_EQ(completed, false);
  EXPECT_FALSE(reached);
  EXPECT_TRUE(scope.cancelled_caught());
  EXPECT_EQ(sem.available(), 1u);
  EXPECT_EQ(sem.waiting(), 0u);
}

}  // namespace
