#include "cohort/run/startup_signal_block.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <csignal>

namespace {

using cohort::app::run::startup_signal_block;

std::atomic<int> handler_calls{0};
void counting_handler(int) {
  ++handler_calls;
}

// Installs `counting_handler` for SIGHUP for the test, then restores.
struct hup_handler {
  struct sigaction old {};
  hup_handler() {
    struct sigaction sa {};
    sa.sa_handler = &counting_handler;
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGHUP, &sa, &old);
  }
  ~hup_handler() { ::sigaction(SIGHUP, &old, nullptr); }
};

TEST(StartupSignalBlock, HoldsASignalUntilReleased) {
  hup_handler h;
  handler_calls = 0;
  startup_signal_block block;
  ::raise(SIGHUP);
  EXPECT_EQ(handler_calls, 0);  // held, not lost, not fatal
  block.release();
  EXPECT_EQ(handler_calls, 1);
}

}  // namespace
