#include "cohort/run/signal_watch.hpp"

#include <poll.h>

#include <gtest/gtest.h>

#include <atomic>
#include <csignal>

namespace {

using cohort::app::run::signal_watch;

std::atomic<int> previous_calls{0};
void previous_handler(int) {
  ++previous_calls;
}

bool readable(int fd) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, 0) == 1;
}

// Installs `previous_handler` for SIGHUP for the test, then restores.
struct hup_handler {
  struct sigaction old {};
  hup_handler() {
    struct sigaction sa {};
    sa.sa_handler = &previous_handler;
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGHUP, &sa, &old);
  }
  ~hup_handler() { ::sigaction(SIGHUP, &old, nullptr); }
};

TEST(SignalWatch, RecordsTheSignalWakesTheFdAndCallsThePreviousHandler) {
  hup_handler h;
  previous_calls = 0;
  signal_watch watch;
  EXPECT_FALSE(watch.any());
  EXPECT_FALSE(readable(watch.fd()));
  watch.arm();
  ::raise(SIGHUP);
  EXPECT_TRUE(watch.any());
  EXPECT_TRUE(watch.seen(SIGHUP));
  EXPECT_FALSE(watch.seen(SIGINT));
  EXPECT_TRUE(readable(watch.fd()));
  EXPECT_EQ(previous_calls, 1);
}

TEST(SignalWatch, DisarmPutsThePreviousHandlerBack) {
  hup_handler h;
  previous_calls = 0;
  {
    signal_watch watch;
    watch.arm();
    watch.disarm();
    ::raise(SIGHUP);
    EXPECT_FALSE(watch.any());
  }
  EXPECT_EQ(previous_calls, 1);
  struct sigaction now {};
  ::sigaction(SIGHUP, nullptr, &now);
  EXPECT_EQ(now.sa_handler, &previous_handler);
}

}  // namespace
