#pragma once
// What the core's contract tests share: a fixture that fails a test that
// leaks task frames (G9), and a few tiny tasks to await.
//
//     namespace { class Shield : public cohort::test::leak_checked_test {}; }
//     TEST_F(Shield, ...) { ... }   // fails if a frame is still alive at the end

#include <cohort/sleep.hpp>
#include <cohort/task.hpp>

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "lifetime.hpp"

namespace cohort::test {

/// A fixture that checks, after the test body, that every task frame the
/// test allocated was freed.
class leak_checked_test : public ::testing::Test {
 protected:
  void TearDown() override { EXPECT_EQ(frames_.leaked(), 0) << "task frames leaked"; }

 private:
  frame_leak_check frames_;
};

/// Appends its name to a log when destroyed: shows the order of destructors.
class destruction_logger {
 public:
  destruction_logger(std::vector<std::string>& log, std::string name)
      : log_(&log), name_(std::move(name)) {}
  destruction_logger(const destruction_logger&) = delete;
  destruction_logger& operator=(const destruction_logger&) = delete;
  ~destruction_logger() { log_->push_back(name_); }

 private:
  std::vector<std::string>* log_;
  std::string name_;
};

/// Sleeps for `d` on the loop's clock, then returns `value`.
template <class T>
task<T> value_after(duration d, T value) {
  co_await sleep_for(d);
  co_return value;
}

/// Sleeps for `d`; `*reached` is set only if the sleep ended normally.
inline task<> sleep_then_mark(duration d, bool* reached) {
  co_await sleep_for(d);
  *reached = true;
}

}  // namespace cohort::test
