#include <cohort/io/process_guardian.hpp>

#include <gtest/gtest.h>

#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <system_error>
#include <vector>

// The runner's side of the guardian, against a stand-in guardian: a shell
// that copies its fd 3 (the pipe) to a file, or one that exits at once. The
// guardian's own behaviour (the termination sequence on the runner's death)
// is tested on the real binary: tests/integration/run_cli_kill9_test.py.

namespace {

struct record {
  std::int32_t op;
  std::int32_t pgid;
  friend bool operator==(const record&, const record&) = default;
};

std::string temp_path() {
  char name[] = "/tmp/cohort-guardian-test-XXXXXX";
  const int fd = ::mkstemp(name);
  EXPECT_GE(fd, 0);
  ::close(fd);
  return name;
}

std::vector<record> records_in(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string bytes = ss.str();
  EXPECT_EQ(bytes.size() % sizeof(record), 0u);
  std::vector<record> out(bytes.size() / sizeof(record));
  if (!out.empty()) std::memcpy(out.data(), bytes.data(), out.size() * sizeof(record));
  return out;
}

}  // namespace

TEST(ProcessGuardian, WritesWatchForgetAndDoneAndReapsTheGuardian) {
  const std::string out = temp_path();
  const std::string ready = out + ".ready";
  // $0 and $1 are the token and the sequence that start() appends. close()
  // nudges the guardian with SIGUSR1: the stand-in ignores it (and says so).
  ::setenv("GUARDIAN_TEST_OUT", out.c_str(), 1);
  ::setenv("GUARDIAN_TEST_READY", ready.c_str(), 1);
  auto g = cohort::process_guardian::start(
      {"/bin/sh", "-c",
       "trap '' USR1; : > \"$GUARDIAN_TEST_READY\"; exec cat <&3 > \"$GUARDIAN_TEST_OUT\""});
  ::unsetenv("GUARDIAN_TEST_OUT");
  ::unsetenv("GUARDIAN_TEST_READY");
  ASSERT_TRUE(g.active());
  while (::access(ready.c_str(), F_OK) != 0) ::usleep(1000);  // its trap is set
  const pid_t pid = g.pid();
  ASSERT_GT(pid, 0);
  const auto [name, value] = g.marker();
  EXPECT_EQ(name, "COHORT_GUARDIAN_TOKEN");
  EXPECT_FALSE(value.empty());
  {
    auto w = g.watch(4242);
    auto moved = std::move(w);  // forgets once, from where it ends up
    auto other = g.watch(4343);
    other.reset();
  }
  g.close();
  EXPECT_FALSE(g.active());
  EXPECT_EQ(::kill(pid, 0), -1) << "the guardian was not reaped";
  // watch 4242, watch 4343, forget 4343 (reset), forget 4242 (end of scope;
  // once, from the moved-to handle), done.
  const std::vector<record> got = records_in(out);
  ASSERT_EQ(got.size(), 5u);
  EXPECT_EQ(got[0], (record{1, 4242}));
  EXPECT_EQ(got[1], (record{1, 4343}));
  EXPECT_EQ(got[2], (record{2, 4343}));
  EXPECT_EQ(got[3], (record{2, 4242}));
  EXPECT_EQ(got[4], (record{3, 0}));
  std::remove(out.c_str());
  std::remove(ready.c_str());
}

TEST(ProcessGuardian, AnInactiveGuardianDoesNothing) {
  cohort::process_guardian g;
  EXPECT_FALSE(g.active());
  EXPECT_EQ(g.pid(), -1);
  EXPECT_TRUE(g.marker().first.empty());
  { auto w = g.watch(1234); }
  g.close();
}

TEST(ProcessGuardian, ADeadGuardianIsNoSigpipeAndTheRunnerGoesOnUnguarded) {
  // The stand-in exits at once without reading: the pipe fills (the runner
  // keeps a read end, so writing is never EPIPE/SIGPIPE), then the runner
  // finds the guardian dead and stops sending.
  auto g = cohort::process_guardian::start({"/bin/sh", "-c", "exit 0"});
  ASSERT_TRUE(g.active());
  for (int i = 0; i < 20000 && g.active(); ++i) {
    auto w = g.watch(100000 + i);
  }
  EXPECT_FALSE(g.active());
  auto w = g.watch(7);  // a no-op now
  g.close();
}

TEST(ProcessGuardian, AMissingGuardianProgramThrows) {
  EXPECT_THROW(cohort::process_guardian::start({"/nonexistent/cohort-guardian"}),
               std::system_error);
}
