#pragma once
// Small probes for the core contract tests: a fixture that checks G3/G9 after
// every test, a way to see when a frame is destroyed, what an exception said,
// and a wait that a cancelled group cannot cut short.
//
//     class Semaphore : public cohort::test::contract_test {};
//     TEST_F(Semaphore, ...) {
//       cohort::test::on_exit done([&] { unwound_at = loop_.now(); });
//     }

#include <cohort/detail/errors.hpp>
#include <cohort/shield.hpp>
#include <cohort/sleep.hpp>
#include <cohort/task.hpp>

#include <gtest/gtest.h>

#include <exception>
#include <functional>
#include <stdexcept>
#include <string>
#include <utility>

#include "lifetime.hpp"
#include "virtual_loop.hpp"

namespace cohort::test {

/// A test on virtual time that fails if, at its end, a lifetime token is
/// still alive (a destructor did not run: G3) or a task frame allocated
/// during the test was not freed (G9).
class contract_test : public ::testing::Test {
 protected:
  void TearDown() override {
    EXPECT_EQ(life_.alive(), 0) << "a destructor of a task's state did not run";
    EXPECT_EQ(frames_.leaked(), 0) << "task frames leaked";
  }
  /// Virtual time since the test started.
  duration elapsed() const noexcept { return loop_.now() - start_; }

  frame_leak_check frames_;  // first, so it sees every frame of the test
  virtual_loop loop_;
  lifetimes life_;
  const time_point start_ = loop_.now();
};

/// Calls `fn` when destroyed: put one in a coroutine frame to observe when,
/// and whether, the frame is destroyed (a cancelled task is unwound by
/// destroying its frame, so this is the only code of it that still runs).
class on_exit {
 public:
  explicit on_exit(std::function<void()> fn) : fn_(std::move(fn)) {}
  on_exit(const on_exit&) = delete;
  on_exit& operator=(const on_exit&) = delete;
  ~on_exit() {
    if (fn_) fn_();
  }

 private:
  std::function<void()> fn_;
};

/// The `what()` of an exception held in `e` (as the library describes it:
/// "unknown exception" for one not derived from std::exception), or "<null>".
inline std::string what_of(const std::exception_ptr& e) {
  return e ? cohort::detail::describe_error(e) : "<null>";
}

/// A task that sleeps for `d` (so it can be passed to `shield`, scopes, ...).
inline task<> nap(duration d) {
  co_await sleep_for(d);
}

/// A task that waits shielded for `d`: a body uses it to let a cancelled
/// group finish unwinding its children before it looks at the group.
inline task<> shielded_nap(duration d) {
  co_await shield(nap(d));
}

}  // namespace cohort::test
