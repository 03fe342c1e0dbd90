#include "cohort/run/inputs.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <limits>
#include <utility>

#include <fmt/format.h>

namespace cohort::app::run {

input_source input_source::literals(std::vector<std::string> values) {
  input_source s;
  s.what = kind::literals;
  s.values = std::move(values);
  return s;
}

input_source input_source::file(std::string path) {
  input_source s;
  s.what = kind::file;
  s.path = std::move(path);
  return s;
}

command_and_sources split_command_line(std::span<const std::string> words,
                                       std::span<const std::string> arg_files) {
  command_and_sources out;
  for (const auto& f : arg_files) out.sources.push_back(input_source::file(f));

  enum class mode { command, literals, files } m = mode::command;
  for (const auto& w : words) {
    if (w == ":::+" || w == "::::+") {
      throw input_error(fmt::format("'{}' (linked input sources) is not supported", w));
    }
    if (w == ":::") {
      m = mode::literals;
      out.sources.push_back(input_source::literals({}));
      continue;
    }
    if (w == "::::") {
      m = mode::files;
      continue;
    }
    switch (m) {
      case mode::command: out.command.push_back(w); break;
      case mode::literals: out.sources.back().values.push_back(w); break;
      case mode::files: out.sources.push_back(input_source::file(w)); break;
    }
  }
  // `::: ` with nothing after it adds no source (GNU parallel ignores it too).
  std::erase_if(out.sources, [](const input_source& s) {
    return s.what == input_source::kind::literals && s.values.empty();
  });
  return out;
}

namespace {

std::string describe(const std::string& path) {
  return path == "-" ? std::string("standard input") : fmt::format("input file '{}'", path);
}

[[noreturn]] void throw_errno(const char* what, const std::string& path, int err) {
  throw input_error(fmt::format("cannot {} {}: {}", what, describe(path), std::strerror(err)));
}

// An open input file: owns the descriptor unless it is standard input.
class input_fd {
 public:
  input_fd() = default;
  input_fd(const std::string& path, int stdin_fd) : path_(path) {
    if (path == "-") {
      fd_ = stdin_fd;
    } else {
      fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd_ < 0) throw_errno("open", path, errno);
      owned_ = true;
    }
    struct stat st {};
    if (::fstat(fd_, &st) != 0) throw_errno("stat", path, errno);
    if (S_ISDIR(st.st_mode)) throw_errno("read", path, EISDIR);
    if (S_ISREG(st.st_mode)) {
      off_t here = ::lseek(fd_, 0, SEEK_CUR);
      if (here >= 0) {
        regular_ = true;
        start_ = here;
      }
    }
  }
  input_fd(input_fd&& o) noexcept
      : path_(std::move(o.path_)),
        fd_(std::exchange(o.fd_, -1)),
        owned_(std::exchange(o.owned_, false)),
        regular_(o.regular_),
        start_(o.start_),
        interrupt_fd_(o.interrupt_fd_) {}
  input_fd& operator=(input_fd&& o) noexcept {
    if (this != &o) {
      close();
      path_ = std::move(o.path_);
      fd_ = std::exchange(o.fd_, -1);
      owned_ = std::exchange(o.owned_, false);
      regular_ = o.regular_;
      start_ = o.start_;
      interrupt_fd_ = o.interrupt_fd_;
    }
    return *this;
  }
  ~input_fd() { close(); }

  // Reads up to n bytes; 0 at end of file.
  std::size_t read(char* buf, std::size_t n) {
    if (!regular_ && interrupt_fd_ >= 0) wait_readable();
    return read_now(buf, n);
  }

  // Reads up to n bytes without waiting for the input (call when
  // readable_now() said it is readable); 0 at end of file.
  std::size_t read_now(char* buf, std::size_t n) {
    for (;;) {
      ssize_t r = ::read(fd_, buf, n);
      if (r >= 0) return static_cast<std::size_t>(r);
      if (errno != EINTR) throw_errno("read", path_, errno);
    }
  }

  enum class readiness { none, input, interrupt };
  // What is readable at this instant (the interrupt descriptor first).
  readiness readable_now() const { return poll_once(0); }

  int native() const noexcept { return fd_; }

  // Counts values from where the file stood when opened, without moving the
  // file offset (pread), so a streaming reader is not disturbed.
  std::uint64_t count_values(char sep) const {
    std::uint64_t count = 0;
    char buf[1 << 16];
    off_t at = start_;
    char last = sep;
    for (;;) {
      ssize_t r = ::pread(fd_, buf, sizeof buf, at);
      if (r < 0) {
        if (errno == EINTR) continue;
        throw_errno("read", path_, errno);
      }
      if (r == 0) break;
      for (ssize_t i = 0; i < r; ++i) count += buf[i] == sep;
      last = buf[r - 1];
      at += r;
    }
    return count + (last != sep ? 1 : 0);
  }

  bool regular() const noexcept { return regular_; }
  void set_interrupt_fd(int fd) noexcept { interrupt_fd_ = fd; }
  const std::string& path() const noexcept { return path_; }

 private:
  void close() noexcept {
    if (owned_ && fd_ >= 0) ::close(fd_);
    fd_ = -1;
    owned_ = false;
  }

  std::string path_;
  int fd_ = -1;
  bool owned_ = false;
  bool regular_ = false;
  off_t start_ = 0;
  int interrupt_fd_ = -1;

  // One poll of the input and interrupt_fd_ (if any), waiting up to
  // `timeout_ms` (-1: until one is readable); the interrupt wins a tie.
  readiness poll_once(int timeout_ms) const {
    pollfd fds[2] = {{fd_, POLLIN, 0}, {interrupt_fd_, POLLIN, 0}};
    for (;;) {
      const int r = ::poll(fds, interrupt_fd_ >= 0 ? 2 : 1, timeout_ms);
      if (r < 0) {
        if (errno == EINTR) continue;
        throw_errno("poll", path_, errno);
      }
      if (interrupt_fd_ >= 0 && fds[1].revents != 0) return readiness::interrupt;
      // Data, end of file or an error: read() says which.
      return fds[0].revents != 0 ? readiness::input : readiness::none;
    }
  }

  // Waits until the input or interrupt_fd_ is readable; throws
  // input_interrupted for the latter.
  void wait_readable() {
    for (;;) {
      switch (poll_once(-1)) {
        case readiness::interrupt: throw input_interrupted();
        case readiness::input: return;
        case readiness::none: break;
      }
    }
  }
};

// Splits a stream into values at a separator. The buffer holds what was
// read and not yet taken; it grows only to fit a value longer than it.
class value_reader {
 public:
  value_reader() = default;
  value_reader(input_fd fd, char sep) : fd_(std::move(fd)), sep_(sep), buf_(1 << 16) {}

  bool next(std::string& out) {
    out.clear();
    for (;;) {
      if (take(out)) return true;
      if (eof_) return false;
      fill(/*wait=*/true);
    }
  }

  // True when next() will not read: a whole value is buffered, or the input
  // ended (or the interrupt descriptor is readable: next() then throws).
  // Reads what the descriptor holds now, never waiting for more.
  bool poll_ready() {
    for (;;) {
      if (eof_ || has_value()) return true;
      switch (fd_.readable_now()) {
        case input_fd::readiness::none: return false;
        case input_fd::readiness::interrupt: return true;
        case input_fd::readiness::input: fill(/*wait=*/false); break;
      }
    }
  }

  input_fd& fd() noexcept { return fd_; }

 private:
  // The buffered separator ending the next value, or null. Remembers how
  // far it looked, so a long value arriving in pieces is scanned once.
  const char* find_separator() noexcept {
    if (scan_ < end_) {
      const void* hit = std::memchr(buf_.data() + scan_, sep_, end_ - scan_);
      if (hit != nullptr) {
        scan_ = static_cast<std::size_t>(static_cast<const char*>(hit) - buf_.data());
        return static_cast<const char*>(hit);
      }
      scan_ = end_;
    }
    return nullptr;
  }
  bool has_value() noexcept { return find_separator() != nullptr; }

  // Moves the next buffered value into `out`: one ending in the separator,
  // or (at the end of the input) the rest without one.
  bool take(std::string& out) {
    const char* begin = buf_.data() + pos_;
    if (const char* hit = find_separator()) {
      out.assign(begin, static_cast<std::size_t>(hit - begin));
      pos_ = scan_ = scan_ + 1;
      return true;
    }
    if (eof_ && pos_ < end_) {
      out.assign(begin, end_ - pos_);
      pos_ = scan_ = end_;
      return true;
    }
    return false;
  }

  // Reads once into the free end of the buffer (making room first).
  void fill(bool wait) {
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
    char* into = buf_.data() + end_;
    const std::size_t room = buf_.size() - end_;
    const std::size_t n = wait ? fd_.read(into, room) : fd_.read_now(into, room);
    if (n == 0) eof_ = true;
    end_ += n;
  }

  input_fd fd_;
  char sep_ = '\n';
  std::vector<char> buf_;
  std::size_t pos_ = 0;   // start of the first value not taken
  std::size_t scan_ = 0;  // [pos_, scan_) holds no separator
  std::size_t end_ = 0;   // end of what was read
  bool eof_ = false;
};

std::uint64_t checked_mul(std::uint64_t a, std::uint64_t b) {
  if (a != 0 && b > std::numeric_limits<std::uint64_t>::max() / a) {
    throw input_error("too many combinations of input values (more than 2^64 jobs)");
  }
  return a * b;
}

// An epoll set that is readable when `fd` or `interrupt_fd` (if >= 0) is:
// a descriptor a loop can wait on for the input without touching the
// input's own flags (an Asio wait would make it non-blocking, and with it
// every process sharing it, such as the shell of a terminal). -1 if `fd`
// cannot be waited on (/dev/null, say: its reads never block anyway).
int make_wait_set(int fd, int interrupt_fd) {
  const int set = ::epoll_create1(EPOLL_CLOEXEC);
  if (set < 0) return -1;
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = fd;
  bool ok = ::epoll_ctl(set, EPOLL_CTL_ADD, fd, &ev) == 0;
  if (ok && interrupt_fd >= 0) {
    ev.data.fd = interrupt_fd;
    ok = ::epoll_ctl(set, EPOLL_CTL_ADD, interrupt_fd, &ev) == 0;
  }
  if (!ok) {
    ::close(set);
    return -1;
  }
  return set;
}

}  // namespace

struct input_generator::state {
  state() = default;
  state(const state&) = delete;
  state& operator=(const state&) = delete;
  ~state() {
    if (wait_set >= 0) ::close(wait_set);
  }

  input_options options;
  std::size_t nsources = 1;

  // The first source: literals in memory, or a streamed file.
  bool first_streamed = false;
  std::vector<std::string> first_values;
  std::size_t first_index = 0;
  value_reader first_reader;
  int wait_set = -1;  // make_wait_set() of a first source that is not a regular file
  std::optional<std::uint64_t> first_count;  // values of the first source, when known

  // Sources 2..n, whole in memory; odometer[i] indexes later[i].
  std::vector<std::vector<std::string>> later;
  std::vector<std::size_t> odometer;
  bool later_all_empty = true;

  std::string current_first;
  bool have_current = false;
  bool started = false;
  bool first_empty = false;  // the first source had no value: it yields one ""
  bool done = false;
  std::uint64_t produced = 0;

  int cr_lines = 0;
  int nl_lines = 0;
  bool crlf = false;

  void note_line(const std::string& v) {
    if (options.separator != '\n' || cr_lines + nl_lines >= 3) return;
    (!v.empty() && v.back() == '\r') ? ++cr_lines : ++nl_lines;
    if (cr_lines == 3) crlf = true;
  }

  // Reads the next value of the first source into current_first.
  bool advance_first() {
    if (first_empty) return false;
    if (!first_streamed) {
      if (first_index == first_values.size()) return false;
      current_first = first_values[first_index++];
      return true;
    }
    if (!first_reader.next(current_first)) return false;
    note_line(current_first);
    return true;
  }
};

input_generator::input_generator(std::vector<input_source> sources, input_options options)
    : state_(std::make_unique<state>()) {
  auto& s = *state_;
  s.options = options;
  if (sources.empty()) sources.push_back(input_source::standard_input());
  s.nsources = sources.size();

  auto& first = sources.front();
  if (first.what == input_source::kind::literals) {
    s.first_values = std::move(first.values);
    s.first_count = s.first_values.size();
  } else {
    s.first_streamed = true;
    input_fd fd(first.path, options.stdin_fd);
    fd.set_interrupt_fd(options.interrupt_fd);
    if (!fd.regular()) s.wait_set = make_wait_set(fd.native(), options.interrupt_fd);
    s.first_reader = value_reader(std::move(fd), options.separator);
  }

  for (std::size_t i = 1; i < sources.size(); ++i) {
    auto& src = sources[i];
    std::vector<std::string> values;
    if (src.what == input_source::kind::literals) {
      values = std::move(src.values);
    } else {
      value_reader reader(input_fd(src.path, options.stdin_fd), options.separator);
      std::string v;
      while (reader.next(v)) {
        s.note_line(v);
        values.push_back(v);
      }
    }
    if (!values.empty()) s.later_all_empty = false;
    s.later.push_back(std::move(values));
  }
  s.odometer.assign(s.later.size(), 0);
}

input_generator::input_generator(input_generator&&) noexcept = default;
input_generator& input_generator::operator=(input_generator&&) noexcept = default;
input_generator::~input_generator() = default;

bool input_generator::next(job_input& job) {
  auto& s = *state_;
  if (s.done) return false;

  if (!s.started) {
    s.started = true;
    if (!s.advance_first()) {
      if (s.later_all_empty) {
        s.done = true;
        return false;
      }
      s.first_empty = true;
      s.first_count = 1;
      s.current_first.clear();
    }
    // Some source has a value, so every empty one stands for a single "".
    for (auto& v : s.later) {
      if (v.empty()) v.emplace_back();
    }
    s.have_current = true;
  } else if (!s.have_current) {
    if (!s.advance_first()) {
      s.done = true;
      return false;
    }
    s.have_current = true;
  }

  job.seq = ++s.produced;
  job.args.resize(s.nsources);
  job.args[0].assign(s.current_first);
  for (std::size_t i = 0; i < s.later.size(); ++i) {
    job.args[i + 1].assign(s.later[i][s.odometer[i]]);
  }

  // Advance the odometer: the last source varies fastest.
  std::size_t i = s.later.size();
  for (; i > 0; --i) {
    if (++s.odometer[i - 1] < s.later[i - 1].size()) break;
    s.odometer[i - 1] = 0;
  }
  if (i == 0) {
    s.have_current = false;
    if (s.first_empty) s.done = true;
  }
  return true;
}

std::optional<std::uint64_t> input_generator::total_jobs() {
  auto& s = *state_;
  if (s.done) return s.produced;
  if (!s.first_count && s.first_streamed && s.first_reader.fd().regular()) {
    s.first_count = s.first_reader.fd().count_values(s.options.separator);
  }
  if (!s.first_count) return std::nullopt;
  std::uint64_t first = *s.first_count;
  if (first == 0) {
    if (s.later_all_empty) return 0;
    first = 1;
  }
  std::uint64_t later = 1;
  for (const auto& v : s.later) later = checked_mul(later, v.empty() ? 1 : v.size());
  return checked_mul(first, later);
}

int input_generator::wait_fd() const noexcept {
  return state_->wait_set;
}

bool input_generator::ready() {
  auto& s = *state_;
  if (s.done || !s.first_streamed || s.first_empty || s.have_current) return true;
  return s.first_reader.poll_ready();
}

std::uint64_t input_generator::produced() const noexcept {
  return state_->produced;
}

std::size_t input_generator::source_count() const noexcept {
  return state_->nsources;
}

bool input_generator::crlf_suspected() const noexcept {
  return state_->crlf;
}

}  // namespace cohort::app::run
