#include "cohort/run/range_pipe.hpp"

#include <cohort/runtime/asio_loop.hpp>
#include <cohort/runtime/use_op.hpp>

#include <boost/asio/posix/stream_descriptor.hpp>

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>
#include <stdexcept>

namespace cohort::app::run {

namespace {

// 1 MiB, the most an unprivileged process may ask (fs.pipe-max-size): fewer
// wake-ups per chunk. A smaller pipe (the 64 KiB default) only costs turns.
constexpr int pipe_bytes = 1 << 20;

// splice() into a pipe with no reader raises SIGPIPE, which would kill
// cohort: block it in this thread for the call, and take away the one the
// call raised (a signal a syscall raises is directed at the calling thread).
struct sigpipe_blocked {
  sigset_t pipe_only{}, old{};
  sigpipe_blocked() noexcept {
    ::sigemptyset(&pipe_only);
    ::sigaddset(&pipe_only, SIGPIPE);
    ::pthread_sigmask(SIG_BLOCK, &pipe_only, &old);
  }
  void consume() noexcept {
    const timespec now{0, 0};
    while (::sigtimedwait(&pipe_only, nullptr, &now) < 0 && errno == EINTR) {
    }
  }
  ~sigpipe_blocked() { ::pthread_sigmask(SIG_SETMASK, &old, nullptr); }
};

}  // namespace

std::size_t splice_some(int from, std::uint64_t& offset, int to, std::size_t n,
                        std::error_code& error) noexcept {
  error.clear();
  sigpipe_blocked blocked;
  for (;;) {
    auto off = static_cast<loff_t>(offset);
    const ssize_t got = ::splice(from, &off, to, nullptr, n, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    if (got >= 0) {
      offset += static_cast<std::uint64_t>(got);
      return static_cast<std::size_t>(got);
    }
    if (errno == EINTR) continue;
    const int e = errno;
    if (e == EPIPE) blocked.consume();
    error.assign(e, std::generic_category());
    return 0;
  }
}

range_pipe::range_pipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    throw std::system_error(errno, std::generic_category(), "pipe2");
  }
  read_ = fds[0];
  write_ = fds[1];
  (void)::fcntl(write_, F_SETPIPE_SZ, pipe_bytes);
  // Only our end waits without blocking: the job's stays as jobs expect.
  if (::fcntl(write_, F_SETFL, ::fcntl(write_, F_GETFL) | O_NONBLOCK) != 0) {
    const int e = errno;
    close_read_end();
    close_write_end();
    throw std::system_error(e, std::generic_category(), "fcntl");
  }
}

range_pipe::~range_pipe() {
  close_read_end();
  close_write_end();
}

void range_pipe::close_read_end() noexcept {
  if (read_ >= 0) ::close(std::exchange(read_, -1));
}

void range_pipe::close_write_end() noexcept {
  if (write_ >= 0) ::close(std::exchange(write_, -1));
}

task<> range_pipe::wait_writable() {
  auto* loop = dynamic_cast<asio_loop*>(&co_await this_scheduler());
  if (loop == nullptr) {
    throw std::logic_error("range_pipe: feeding a job needs the Asio runtime");
  }
  // A descriptor object for this wait only; release() hands write_ back.
  boost::asio::posix::stream_descriptor waiter(loop->io(), write_);
  struct release_on_exit {
    boost::asio::posix::stream_descriptor& d;
    ~release_on_exit() { d.release(); }
  } release{waiter};
  co_await waiter.async_wait(boost::asio::posix::stream_descriptor::wait_write, use_op);
}

task<bool> range_pipe::feed(int fd, std::uint64_t offset, std::uint64_t length) {
  struct close_on_exit {
    range_pipe& p;
    ~close_on_exit() { p.close_write_end(); }
  } closing{*this};
  std::error_code error;
  while (length > 0) {
    const std::size_t want = length < pipe_bytes ? static_cast<std::size_t>(length) : pipe_bytes;
    const std::size_t n = splice_some(fd, offset, write_, want, error);
    length -= n;
    if (n > 0) continue;
    if (error == std::errc::resource_unavailable_try_again) {
      co_await wait_writable();
    } else if (error == std::errc::broken_pipe) {
      co_return false;
    } else if (error) {
      throw std::system_error(error, "splice (--pipepart)");
    } else {
      throw std::runtime_error("the file is shorter than it was (--pipepart)");
    }
  }
  co_return true;
}

}  // namespace cohort::app::run
