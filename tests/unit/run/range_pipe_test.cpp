#include "cohort/run/range_pipe.hpp"

#include <cohort/io/fd_reader.hpp>
#include <cohort/runtime/asio_loop.hpp>
#include <cohort/task_group.hpp>

#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>
#include <string>

// --pipepart's jobs read their byte range of the file through a pipe fed
// with splice: the exact range, each feed whole, no SIGPIPE when the job
// stops reading, and a cancel ends the feed at once.

namespace {

using cohort::app::run::range_pipe;
using cohort::app::run::splice_some;

// A file holding `bytes` (a memfd: splice reads it as any regular file).
struct temp_file {
  int fd = -1;
  explicit temp_file(const std::string& bytes) {
    fd = ::memfd_create("range-pipe-test", MFD_CLOEXEC);
    EXPECT_GE(fd, 0);
    EXPECT_EQ(::write(fd, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
  }
  ~temp_file() { ::close(fd); }
};

// `n` bytes that differ from one offset to the next.
std::string numbered(std::size_t n) {
  std::string s;
  for (std::size_t i = 0; s.size() < n; ++i) s += std::to_string(i) + '\n';
  s.resize(n);
  return s;
}

// Everything the reader of `fd` gets until its end, waiting on the loop.
cohort::task<> read_all(int fd, std::string& into) {
  cohort::fd_reader in(fd);
  char buf[65536];
  while (const std::size_t n = co_await in.read_some(buf, sizeof buf)) into.append(buf, n);
}

TEST(RangePipe, AJobReadsExactlyItsRangeOfTheFileAndEachFeedReadsItAgain) {
  // More than a pipe holds (1 MiB), so the feed waits for the reader.
  const std::string bytes = numbered(3 << 20);
  temp_file file(bytes);
  boost::asio::io_context io;
  cohort::asio_loop loop{io};
  const std::uint64_t offset = 12345, length = (2 << 20) + 777;
  for (int attempt = 0; attempt < 2; ++attempt) {  // --retries: the same bytes again
    range_pipe in;
    std::string got;
    bool whole = false;
    loop.run([&]() -> cohort::task<> {
      co_await cohort::with_task_group([&](cohort::task_group& g) -> cohort::task<> {
        g.spawn(read_all(in.read_end(), got));
        whole = co_await in.feed(file.fd, offset, length);
      });
    }());
    EXPECT_TRUE(whole);
    EXPECT_EQ(got.size(), length);
    EXPECT_TRUE(got == bytes.substr(offset, length)) << "attempt " << attempt;
  }
  // The shared descriptor's own offset is not used: still at the end of the write.
  EXPECT_EQ(::lseek(file.fd, 0, SEEK_CUR), static_cast<off_t>(bytes.size()));
}

TEST(RangePipe, AJobThatExitsWithoutReadingEndsTheFeedWithoutSigpipe) {
  const std::string bytes = numbered(3 << 20);
  temp_file file(bytes);
  boost::asio::io_context io;
  cohort::asio_loop loop{io};
  range_pipe in;
  in.close_read_end();  // as a job that exited at once: the pipe has no reader
  // With SIGPIPE at its default, a raised one would kill this test.
  const bool whole = loop.run(in.feed(file.fd, 0, bytes.size()));
  EXPECT_FALSE(whole);
  sigset_t pending;
  ::sigpending(&pending);
  EXPECT_FALSE(::sigismember(&pending, SIGPIPE));

  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  ::close(fds[0]);
  std::uint64_t at = 0;
  std::error_code error;
  EXPECT_EQ(splice_some(file.fd, at, fds[1], 10, error), 0u);
  EXPECT_EQ(error, std::errc::broken_pipe);
  EXPECT_EQ(at, 0u);
  ::sigpending(&pending);
  EXPECT_FALSE(::sigismember(&pending, SIGPIPE));
  ::close(fds[1]);
}

TEST(RangePipe, ACancelEndsAFeedWaitingForRoomAndClosesThePipe) {
  const std::string bytes = numbered(4 << 20);
  temp_file file(bytes);
  boost::asio::io_context io;
  cohort::asio_loop loop{io};
  range_pipe in;
  std::string got;
  loop.run([&]() -> cohort::task<> {
    co_await cohort::with_task_group([&](cohort::task_group& g) -> cohort::task<> {
      g.spawn(in.feed(file.fd, 0, bytes.size()));
      // A job that reads a little and then nothing: the pipe fills, the feed waits.
      cohort::fd_reader job(in.read_end());
      char c;
      EXPECT_EQ(co_await job.read_some(&c, 1), 1u);
      got += c;
      g.cancel();
    });
  }());
  // The write end is closed: the rest of the pipe, then its end (no hang).
  std::string rest;
  loop.run(read_all(in.read_end(), rest));
  got += rest;
  EXPECT_LT(got.size(), bytes.size());
  EXPECT_TRUE(got == bytes.substr(0, got.size()));
}

TEST(RangePipe, AFileShorterThanTheRangeFailsTheFeed) {
  temp_file file("12345\n");
  boost::asio::io_context io;
  cohort::asio_loop loop{io};
  range_pipe in;
  EXPECT_THROW(loop.run(in.feed(file.fd, 2, 100)), std::runtime_error);
  char buf[16];
  EXPECT_EQ(::read(in.read_end(), buf, sizeof buf), 4);  // what there was, then the end
  EXPECT_EQ(::read(in.read_end(), buf, sizeof buf), 0);
}

}  // namespace
