#include <cohort/io/fd_reader.hpp>

#include <cohort/runtime/asio_loop.hpp>
#include <cohort/runtime/use_op.hpp>

#include <boost/asio/posix/stream_descriptor.hpp>

#include <poll.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <utility>

namespace cohort {

namespace {

// An epoll set holding `fd`, or -1 when epoll refuses `fd` (EPERM: a
// regular file, /dev/null: its reads never wait).
int make_wait_set(int fd) {
  const int set = ::epoll_create1(EPOLL_CLOEXEC);
  if (set < 0) throw std::system_error(errno, std::generic_category(), "fd_reader: epoll_create1");
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = fd;
  if (::epoll_ctl(set, EPOLL_CTL_ADD, fd, &ev) == 0) return set;
  const int err = errno;
  ::close(set);
  if (err == EPERM) return -1;
  throw std::system_error(err, std::generic_category(), "fd_reader: epoll_ctl");
}

// Waits (the thread) until `fd` is readable, or has hung up or failed.
void poll_blocking(int fd, std::error_code& error) {
  pollfd p{fd, POLLIN, 0};
  while (::poll(&p, 1, -1) < 0) {
    if (errno != EINTR) {
      error.assign(errno, std::generic_category());
      return;
    }
  }
}

}  // namespace

fd_reader::fd_reader(int fd, fd_reader_options options)
    : fd_(fd),
      owned_(options.close),
      separator_(options.separator),
      buf_(options.buffer_size == 0 ? 1 : options.buffer_size),
      eof_(fd < 0) {
  try {
    if (fd >= 0) wait_set_ = make_wait_set(fd);
  } catch (...) {
    close();
    throw;
  }
}

fd_reader::fd_reader(fd_reader&& o) noexcept
    : fd_(std::exchange(o.fd_, -1)),
      owned_(std::exchange(o.owned_, false)),
      wait_set_(std::exchange(o.wait_set_, -1)),
      separator_(o.separator_),
      buf_(std::move(o.buf_)),
      pos_(std::exchange(o.pos_, 0)),
      scan_(std::exchange(o.scan_, 0)),
      end_(std::exchange(o.end_, 0)),
      eof_(std::exchange(o.eof_, true)) {}

fd_reader& fd_reader::operator=(fd_reader&& o) noexcept {
  if (this != &o) {
    close();
    fd_ = std::exchange(o.fd_, -1);
    owned_ = std::exchange(o.owned_, false);
    wait_set_ = std::exchange(o.wait_set_, -1);
    separator_ = o.separator_;
    buf_ = std::move(o.buf_);
    pos_ = std::exchange(o.pos_, 0);
    scan_ = std::exchange(o.scan_, 0);
    end_ = std::exchange(o.end_, 0);
    eof_ = std::exchange(o.eof_, true);
  }
  return *this;
}

fd_reader::~fd_reader() {
  close();
}

void fd_reader::close() noexcept {
  if (wait_set_ >= 0) ::close(wait_set_);
  if (owned_ && fd_ >= 0) ::close(fd_);
  wait_set_ = fd_ = -1;
  owned_ = false;
}

// The buffered separator ending the next record, or null. Remembers how far
// it looked, so a long record arriving in pieces is scanned once.
const char* fd_reader::find_separator() noexcept {
  if (scan_ < end_) {
    const void* hit = std::memchr(buf_.data() + scan_, separator_, end_ - scan_);
    if (hit != nullptr) {
      scan_ = static_cast<std::size_t>(static_cast<const char*>(hit) - buf_.data());
      return static_cast<const char*>(hit);
    }
    scan_ = end_;
  }
  return nullptr;
}

// Moves the next buffered record into `record`: one ending in the separator,
// or (at the end of the input) the rest without one.
bool fd_reader::take(std::string& record) {
  const char* begin = buf_.data() + pos_;
  if (const char* hit = find_separator()) {
    record.assign(begin, static_cast<std::size_t>(hit - begin));
    pos_ = scan_ = scan_ + 1;
    return true;
  }
  if (eof_ && pos_ < end_) {
    record.assign(begin, end_ - pos_);
    pos_ = scan_ = end_;
    return true;
  }
  return false;
}

// Reads once into the free end of the buffer, making room first; returns
// the number of bytes read. A read that would block (someone else made the
// descriptor non-blocking) reads nothing and leaves eof_ alone.
std::size_t fd_reader::fill(std::error_code& error) {
  if (pos_ == end_) {
    pos_ = scan_ = end_ = 0;
  } else if (end_ == buf_.size()) {
    if (pos_ > 0) {
      std::memmove(buf_.data(), buf_.data() + pos_, end_ - pos_);
      scan_ -= pos_;
      end_ -= pos_;
      pos_ = 0;
    } else {
      buf_.resize(buf_.size() * 2);
    }
  }
  for (;;) {
    const ssize_t n = ::read(fd_, buf_.data() + end_, buf_.size() - end_);
    if (n > 0) {
      end_ += static_cast<std::size_t>(n);
      return static_cast<std::size_t>(n);
    }
    if (n == 0) {
      eof_ = true;
      return 0;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) error.assign(errno, std::generic_category());
    return 0;
  }
}

// True when a read() of the descriptor would not wait now: data, the end of
// the input, or an error (read() then says which).
bool fd_reader::readable_now(std::error_code& error) const {
  pollfd p{fd_, POLLIN, 0};
  for (;;) {
    const int r = ::poll(&p, 1, 0);
    if (r >= 0) return r > 0;
    if (errno != EINTR) {
      error.assign(errno, std::generic_category());
      return true;
    }
  }
}

task<> fd_reader::wait_readable() {
  auto* loop = dynamic_cast<asio_loop*>(&co_await this_scheduler());
  if (loop == nullptr) {
    throw std::logic_error(
        "cohort::fd_reader: waiting for input needs the Asio runtime (cohort::run or an "
        "asio_loop)");
  }
  // A descriptor object for this wait only, so that none outlives the loop
  // (a reader may be made before cohort::run and used after it): release()
  // takes the set back out of the loop's epoll without closing it.
  boost::asio::posix::stream_descriptor waiter(loop->io(), wait_set_);
  struct release_on_exit {
    boost::asio::posix::stream_descriptor& d;
    ~release_on_exit() { d.release(); }
  } release{waiter};
  co_await waiter.async_wait(boost::asio::posix::stream_descriptor::wait_read, use_op);
}

task<bool> fd_reader::read(std::string& record, std::error_code& error) {
  error.clear();
  for (;;) {
    if (take(record)) co_return true;
    if (eof_ || error) break;
    if (wait_set_ >= 0 && !readable_now(error)) {
      co_await wait_readable();
      continue;  // readable now, unless a reader elsewhere took it first
    }
    (void)fill(error);
  }
  record.clear();
  co_return false;
}

task<bool> fd_reader::read(std::string& record) {
  std::error_code error;
  const bool got = co_await read(record, error);
  if (error) throw std::system_error(error, "read");
  co_return got;
}

// Moves up to `size` buffered bytes into `into`.
std::size_t fd_reader::take_some(char* into, std::size_t size) noexcept {
  const std::size_t n = std::min(size, end_ - pos_);
  if (n == 0) return 0;
  std::memcpy(into, buf_.data() + pos_, n);
  pos_ += n;
  scan_ = std::max(scan_, pos_);
  return n;
}

// One read() straight into `into` (the buffer is empty): the bytes read, 0
// at the end of the input (eof_ set), on an error, or when it would block.
std::size_t fd_reader::read_direct(char* into, std::size_t size, std::error_code& error) {
  for (;;) {
    const ssize_t n = ::read(fd_, into, size);
    if (n > 0) return static_cast<std::size_t>(n);
    if (n == 0) {
      eof_ = true;
      return 0;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) error.assign(errno, std::generic_category());
    return 0;
  }
}

task<std::size_t> fd_reader::read_some(char* into, std::size_t size) {
  if (const std::size_t n = take_some(into, size); n > 0 || size == 0) co_return n;
  std::error_code error;
  while (!eof_) {
    if (wait_set_ >= 0 && !readable_now(error)) {
      co_await wait_readable();
      continue;
    }
    if (error) break;
    if (const std::size_t n = read_direct(into, size, error)) co_return n;
    if (error) break;
  }
  if (error) throw std::system_error(error, "read");
  co_return 0;
}

std::size_t fd_reader::read_some_blocking(char* into, std::size_t size) {
  if (const std::size_t n = take_some(into, size); n > 0 || size == 0) return n;
  std::error_code error;
  while (!eof_) {
    if (const std::size_t n = read_direct(into, size, error)) return n;
    if (error) throw std::system_error(error, "read");
    if (!eof_) poll_blocking(fd_, error);  // the descriptor is non-blocking
    if (error) throw std::system_error(error, "read");
  }
  return 0;
}

bool fd_reader::read_blocking(std::string& record) {
  std::error_code error;
  for (;;) {
    if (take(record)) return true;
    if (eof_ || error) break;
    // Nothing read and not at the end: the descriptor is non-blocking.
    if (fill(error) == 0 && !error && !eof_) poll_blocking(fd_, error);
  }
  record.clear();
  if (error) throw std::system_error(error, "read");
  return false;
}

bool fd_reader::ready() {
  std::error_code error;
  for (;;) {
    if (eof_ || find_separator() != nullptr) return true;
    if (wait_set_ >= 0 && !readable_now(error)) return false;
    const std::size_t got = fill(error);
    if (error) throw std::system_error(error, "read");
    if (got == 0 && !eof_) return false;
  }
}

}  // namespace cohort
