#include <cohort/task.hpp>

#include <gtest/gtest.h>

#include "virtual_loop.hpp"

namespace {
cohort::task<int> answer() {
  co_return 42;
}
}  // namespace

TEST(Task, ReturnsValueToAwaiter) {
  cohort::test::virtual_loop loop;
  EXPECT_EQ(loop.run(answer()), 42);
}
