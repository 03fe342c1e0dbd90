#include <cohort/io/fd_reader.hpp>

#include <cohort/cancel_scope.hpp>
#include <cohort/runtime/asio_loop.hpp>
#include <cohort/runtime/use_op.hpp>
#include <cohort/sync_wait.hpp>
#include <cohort/task_group.hpp>

#include <boost/asio/post.hpp>

#include <gtest/gtest.h>

#include "scratch_dir.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

// Real descriptors on the real loop: virtual time does not apply to I/O. No
// test sleeps: each waits for something it can observe (the loop's turn, a
// thread blocked in read()).

namespace {

using cohort::fd_reader;
using cohort::fd_reader_options;
using cohort::task;

struct pipe_fds {
  int read = -1;
  int write = -1;
  pipe_fds() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe");
    read = fds[0];
    write = fds[1];
  }
  void put(std::string_view s) const {
    ASSERT_EQ(::write(write, s.data(), s.size()), static_cast<ssize_t>(s.size()));
  }
  void close_write() {
    ::close(write);
    write = -1;
  }
  ~pipe_fds() {
    if (read >= 0) ::close(read);
    if (write >= 0) ::close(write);
  }
};

std::vector<std::string> all_blocking(fd_reader& r) {
  std::vector<std::string> out;
  std::string rec;
  while (r.read_blocking(rec)) out.push_back(rec);
  return out;
}

struct FdReaderTest : ::testing::Test {
  boost::asio::io_context io;
  cohort::asio_loop loop{io};

  // Every record, awaited on the loop.
  std::vector<std::string> all_awaited(fd_reader& r) {
    return loop.run([&]() -> task<std::vector<std::string>> {
      std::vector<std::string> out;
      std::string rec;
      while (co_await r.read(rec)) out.push_back(rec);
      co_return out;
    }());
  }

  // One turn of the loop for everything queued before it: a task spawned
  // before has run up to its first wait.
  task<> turn() { co_await boost::asio::post(io, cohort::use_op); }

  // Starts read(rec), cancels it once it waits, and says whether it ended
  // without a record (the cancel took it).
  bool cancelled_while_waiting(fd_reader& r, std::string& rec) {
    return loop.run([&]() -> task<bool> {
      cohort::cancel_scope scope;
      bool completed = false;
      co_await cohort::with_task_group([&](cohort::task_group& g) -> task<> {
        // (Arguments, not captures: the lambda is gone once spawn returns.)
        g.spawn(
            [](cohort::cancel_scope& sc, fd_reader& rd, std::string& out, bool& done) -> task<> {
              done = (co_await sc.run(rd.read(out))).has_value();
            }(scope, r, rec, completed));
        co_await turn();
        co_await turn();
        scope.cancel();
      });
      co_return !completed;
    }());
  }
};

TEST_F(FdReaderTest, LinesFromAPipeWithEmptyLinesAndCarriageReturnsKept) {
  pipe_fds p;
  p.put("a\n\nb\r\nc\n");
  p.close_write();
  fd_reader r(p.read);
  EXPECT_EQ(all_awaited(r), (std::vector<std::string>{"a", "", "b\r", "c"}));
}

TEST_F(FdReaderTest, NulSeparatedRecordsKeepTheirNewlines) {
  pipe_fds p;
  p.put(std::string_view("a\nb\0\0c", 6));
  p.close_write();
  fd_reader r(p.read, {.separator = '\0'});
  EXPECT_EQ(all_awaited(r), (std::vector<std::string>{"a\nb", "", "c"}));
}

TEST_F(FdReaderTest, APartialLastRecordCountsAndAFinalSeparatorAddsNone) {
  pipe_fds p;
  p.put("x\ny");
  p.close_write();
  fd_reader r(p.read);
  EXPECT_EQ(all_awaited(r), (std::vector<std::string>{"x", "y"}));
  pipe_fds q;
  q.put("x\n");
  q.close_write();
  fd_reader s(q.read);
  EXPECT_EQ(all_awaited(s), (std::vector<std::string>{"x"}));
}

TEST_F(FdReaderTest, EndOfInputIsFalseAgainAndAgainWithTheRecordCleared) {
  pipe_fds p;
  p.close_write();
  fd_reader r(p.read);
  std::string rec = "old";
  EXPECT_FALSE(loop.run(r.read(rec)));
  EXPECT_EQ(rec, "");
  EXPECT_FALSE(loop.run(r.read(rec)));
  EXPECT_FALSE(r.read_blocking(rec));
  EXPECT_TRUE(r.ready());
  fd_reader none;
  EXPECT_FALSE(none.read_blocking(rec));
}

TEST_F(FdReaderTest, ARecordArrivingInPiecesWaitsOnTheLoopWhileOtherTasksRun) {
  pipe_fds p;
  fd_reader r(p.read);
  std::string rec;
  std::vector<std::string> seen;
  loop.run([&]() -> task<> {
    co_await cohort::with_task_group([&](cohort::task_group& g) -> task<> {
      g.spawn([](fd_reader& rd, std::string& out, std::vector<std::string>& got) -> task<> {
        while (co_await rd.read(out)) got.push_back(out);
      }(r, rec, seen));
      co_await turn();
      p.put("he");  // the reader waits on the loop: this task runs meanwhile
      co_await turn();
      EXPECT_TRUE(seen.empty());
      p.put("llo\nwor");
      co_await turn();
      co_await turn();
      EXPECT_EQ(seen, (std::vector<std::string>{"hello"}));
      p.put("ld");
      p.close_write();
    });
  }());
  EXPECT_EQ(seen, (std::vector<std::string>{"hello", "world"}));
}

TEST_F(FdReaderTest, CancelWhileBlockedEndsTheWaitAndLosesNothing) {
  pipe_fds p;
  fd_reader r(p.read);
  p.put("a\nb");  // 'b' has no separator and the writer stays open
  std::string rec;
  ASSERT_TRUE(loop.run(r.read(rec)));
  EXPECT_EQ(rec, "a");
  EXPECT_TRUE(cancelled_while_waiting(r, rec));
  // The reader is usable again and kept the piece it had.
  p.put("c\n");
  ASSERT_TRUE(loop.run(r.read(rec)));
  EXPECT_EQ(rec, "bc");
  // A cancel before the read starts (level-triggered) ends it too.
  EXPECT_TRUE(loop.run([&]() -> task<bool> {
    cohort::cancel_scope scope;
    scope.cancel();
    co_return !(co_await scope.run(r.read(rec))).has_value();
  }()));
}

TEST_F(FdReaderTest, ReadSomeTakesTheBufferFirstThenWaitsOnTheLoopAndEndsWithZero) {
  pipe_fds p;
  fd_reader r(p.read);
  p.put("a\nbcd");
  std::string rec;
  ASSERT_TRUE(loop.run(r.read(rec)));  // buffers "bcd" behind the record
  EXPECT_EQ(rec, "a");
  char block[8];
  EXPECT_EQ(loop.run(r.read_some(block, 2)), 2u);
  EXPECT_EQ(std::string_view(block, 2), "bc");
  EXPECT_EQ(r.read_some_blocking(block, sizeof block), 1u);
  EXPECT_EQ(block[0], 'd');
  std::string seen;
  loop.run([&]() -> task<> {
    co_await cohort::with_task_group([&](cohort::task_group& g) -> task<> {
      g.spawn([](fd_reader& rd, std::string& got) -> task<> {
        char buf[4];
        while (const std::size_t n = co_await rd.read_some(buf, sizeof buf)) got.append(buf, n);
      }(r, seen));
      co_await turn();
      p.put("efghij");  // the reader waits on the loop meanwhile
      co_await turn();
      p.close_write();
    });
  }());
  EXPECT_EQ(seen, "efghij");
  EXPECT_EQ(loop.run(r.read_some(block, sizeof block)), 0u);
  EXPECT_EQ(r.read_some_blocking(block, sizeof block), 0u);
}

TEST_F(FdReaderTest, ACancelledReaderCanBeDestroyedAfterItsLoop) {
  pipe_fds p;
  auto r = std::make_unique<fd_reader>(p.read);
  std::string rec;
  {
    boost::asio::io_context io2;
    cohort::asio_loop loop2(io2);
    EXPECT_FALSE(loop2.run([&]() -> task<bool> {
      co_return (co_await cohort::move_on_after(cohort::duration::zero(), r->read(rec)))
          .has_value();
    }()));
  }
  p.put("z\n");
  EXPECT_TRUE(r->read_blocking(rec));
  EXPECT_EQ(rec, "z");
  r.reset();
}

TEST_F(FdReaderTest, WaitingLeavesTheDescriptorsFlagsAlone) {
  pipe_fds p;
  const int before = ::fcntl(p.read, F_GETFL);
  fd_reader r(p.read);
  std::string rec;
  EXPECT_TRUE(cancelled_while_waiting(r, rec));
  EXPECT_EQ(::fcntl(p.read, F_GETFL), before) << "still blocking for whoever shares it";
  p.put("x\n");
  ASSERT_TRUE(loop.run(r.read(rec)));
  EXPECT_EQ(::fcntl(p.read, F_GETFL), before);
}

TEST_F(FdReaderTest, AHugeRecordArrivesWholeThroughASmallBuffer) {
  pipe_fds p;
  const std::string big(8 << 20, 'x');
  std::thread writer([&] {
    p.put(big);
    p.put("\nend");
    p.close_write();
  });
  fd_reader r(p.read, {.buffer_size = 16});
  const auto got = all_awaited(r);
  writer.join();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].size(), big.size());
  EXPECT_EQ(got[0], big);
  EXPECT_EQ(got[1], "end");
}

TEST_F(FdReaderTest, ManySmallRecordsAcrossBufferBoundaries) {
  pipe_fds p;
  std::string text;
  std::vector<std::string> want;
  for (int i = 0; i < 3000; ++i) {
    want.push_back(std::string(static_cast<std::size_t>(i % 37), 'a' + i % 26));
    text += want.back() + "\n";
  }
  std::thread writer([&] {
    p.put(text);
    p.close_write();
  });
  fd_reader r(p.read, {.buffer_size = 7});
  EXPECT_EQ(all_awaited(r), want);
  writer.join();
}

TEST_F(FdReaderTest, ARegularFileIsReadDirectlyOnAnyScheduler) {
  cohort::test::scratch_dir dir;
  const int fd = ::open(dir.write("f", "1\n2\n3").c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  fd_reader r(fd, {.close = true});
  EXPECT_FALSE(r.may_wait()) << "epoll refuses regular files; their reads never wait";
  std::string rec;
  // sync_wait runs a basic loop, not Asio: no wait is ever needed.
  ASSERT_TRUE(cohort::sync_wait(r.read(rec)));
  EXPECT_EQ(rec, "1");
  EXPECT_EQ(all_blocking(r), (std::vector<std::string>{"2", "3"}));
  fd_reader null(::open("/dev/null", O_RDONLY | O_CLOEXEC), {.close = true});
  EXPECT_FALSE(null.may_wait());
  EXPECT_FALSE(cohort::sync_wait(null.read(rec)));
}

TEST_F(FdReaderTest, SocketsFifosAndTerminalsAreWaitedOn) {
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  fd_reader sock(sv[0], {.close = true});
  EXPECT_TRUE(sock.may_wait());
  ASSERT_EQ(::write(sv[1], "s1\ns2", 5), 5);
  ::close(sv[1]);
  EXPECT_EQ(all_awaited(sock), (std::vector<std::string>{"s1", "s2"}));

  cohort::test::scratch_dir dir;
  const std::string fifo = dir.file("fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  fd_reader f(::open(fifo.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC), {.close = true});
  EXPECT_TRUE(f.may_wait());
  const int w = ::open(fifo.c_str(), O_WRONLY | O_CLOEXEC);
  ASSERT_GE(w, 0);
  ASSERT_EQ(::write(w, "f1\n", 3), 3);
  std::string rec;
  ASSERT_TRUE(loop.run(f.read(rec)));
  EXPECT_EQ(rec, "f1");
  EXPECT_TRUE(cancelled_while_waiting(f, rec)) << "an open FIFO with nothing in it waits";
  ::close(w);
  EXPECT_FALSE(loop.run(f.read(rec)));

  const int master = ::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  ASSERT_GE(master, 0);
  ASSERT_EQ(::grantpt(master), 0);
  ASSERT_EQ(::unlockpt(master), 0);
  fd_reader tty(::open(::ptsname(master), O_RDONLY | O_NOCTTY | O_CLOEXEC), {.close = true});
  EXPECT_TRUE(tty.may_wait());
  EXPECT_TRUE(cancelled_while_waiting(tty, rec)) << "a terminal nobody types into waits";
  ASSERT_EQ(::write(master, "typed\n", 6), 6);
  ASSERT_TRUE(loop.run(tty.read(rec)));
  EXPECT_EQ(rec, "typed");
  ::close(master);
}

TEST_F(FdReaderTest, ReadyTakesInWhatIsThereWithoutWaiting) {
  pipe_fds p;
  fd_reader r(p.read, {.separator = '\0'});
  EXPECT_TRUE(r.may_wait());
  EXPECT_FALSE(r.ready());
  p.put("ab");
  EXPECT_FALSE(r.ready()) << "no whole record yet";
  p.put(std::string_view("c\0d", 3));
  EXPECT_TRUE(r.ready());
  std::string rec;
  ASSERT_TRUE(r.read_blocking(rec));
  EXPECT_EQ(rec, "abc");
  EXPECT_FALSE(r.ready()) << "'d' has no separator yet";
  p.close_write();
  EXPECT_TRUE(r.ready()) << "at the end the last record needs none";
  ASSERT_TRUE(r.read_blocking(rec));
  EXPECT_EQ(rec, "d");
}

TEST_F(FdReaderTest, ReadySeesARecordThatRefillsAnEmptiedBufferToTheSameLength) {
  // (Found by fuzz/fd_reader_fuzz.cpp: a refill that starts the buffer over
  // and reads as many bytes as it held looked like a read of nothing.)
  pipe_fds p;
  fd_reader r(p.read, {.buffer_size = 4});
  p.put("abc\n");
  ASSERT_TRUE(r.ready());
  std::string rec;
  ASSERT_TRUE(r.read_blocking(rec));
  EXPECT_EQ(rec, "abc");
  p.put("d\ne\n");
  EXPECT_TRUE(r.ready());
  ASSERT_TRUE(r.read_blocking(rec));
  EXPECT_EQ(rec, "d");
  ASSERT_TRUE(r.ready());
  ASSERT_TRUE(r.read_blocking(rec));
  EXPECT_EQ(rec, "e");
}

TEST_F(FdReaderTest, AReadErrorThrowsOrSetsTheErrorCode) {
  // A directory: epoll refuses it, and read() fails with EISDIR.
  fd_reader r(::open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC), {.close = true});
  std::string rec;
  std::error_code ec;
  EXPECT_FALSE(loop.run(r.read(rec, ec)));
  EXPECT_EQ(ec, std::errc::is_a_directory);
  EXPECT_THROW(loop.run(r.read(rec)), std::system_error);
  EXPECT_THROW(r.read_blocking(rec), std::system_error);
}

// ------------------------------------------------------------ EINTR

std::atomic<int> usr1_calls{0};
void on_usr1(int) {
  ++usr1_calls;
}

// True when thread `tid` of this process is blocked in read(2).
bool blocked_in_read(pid_t tid) {
  std::ifstream f("/proc/self/task/" + std::to_string(tid) + "/syscall");
  long nr = -1;
  return (f >> nr) && nr == SYS_read;
}

TEST_F(FdReaderTest, ABlockingReadInterruptedByASignalIsRetried) {
  struct sigaction sa {
  }, old{};
  sa.sa_handler = &on_usr1;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: the read fails with EINTR
  ::sigaction(SIGUSR1, &sa, &old);
  usr1_calls = 0;
  pipe_fds p;
  fd_reader r(p.read);
  const pid_t tid = static_cast<pid_t>(::syscall(SYS_gettid));
  const pthread_t self = ::pthread_self();
  std::thread helper([&] {
    while (!blocked_in_read(tid)) std::this_thread::yield();
    ::pthread_kill(self, SIGUSR1);
    while (usr1_calls == 0) std::this_thread::yield();
    while (!blocked_in_read(tid)) std::this_thread::yield();  // in read() again
    p.put("after\n");
  });
  std::string rec;
  EXPECT_TRUE(r.read_blocking(rec));
  EXPECT_EQ(rec, "after");
  helper.join();
  EXPECT_EQ(usr1_calls, 1);
  ::sigaction(SIGUSR1, &old, nullptr);
}

}  // namespace
