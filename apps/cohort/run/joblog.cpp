#include "cohort/run/joblog.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <utility>

#include <fmt/format.h>

namespace cohort::app::run {

namespace {

template <typename Int>
void append_number(std::string& out, Int n) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, n);
  out.append(buf, r.ptr);
}

// Appends ms/1000 with exactly 3 decimals ("%.3f" of a whole number of ms).
std::string format_millis(std::int64_t ms) {
  std::string s;
  if (ms < 0) s.push_back('-');
  append_number(s, ms / 1000 < 0 ? -(ms / 1000) : ms / 1000);
  s.push_back('.');
  auto frac = ms % 1000 < 0 ? -(ms % 1000) : ms % 1000;
  s.push_back(static_cast<char>('0' + frac / 100));
  s.push_back(static_cast<char>('0' + frac / 10 % 10));
  s.push_back(static_cast<char>('0' + frac % 10));
  return s;
}

// Shows a command or a line on one line of an error message.
std::string printable(std::string_view s, std::size_t max = 200) {
  std::string out;
  for (const char ch : s) {
    if (out.size() >= max) {
      out.append("...");
      break;
    }
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '\n': out.append("\\n"); break;
      case '\t': out.append("\\t"); break;
      case '\r': out.append("\\r"); break;
      case '\\': out.append("\\\\"); break;
      default:
        if (c < 0x20 || c == 0x7f) {
          out.append(fmt::format("\\x{:02x}", c));
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  return out;
}

[[noreturn]] void throw_io(const char* what, const std::string& path, int err) {
  throw joblog_error(fmt::format("cannot {} joblog '{}': {}", what, path, std::strerror(err)));
}

}  // namespace

void append_joblog_line(std::string& out, const joblog_entry& e) {
  using namespace std::chrono;
  const auto start_ns = duration_cast<nanoseconds>(e.start.time_since_epoch()).count();
  // "%.3f": round to the nearest millisecond (half away from zero).
  std::int64_t start_ms = start_ns / 1'000'000;
  if (const auto rem = start_ns % 1'000'000; rem >= 500'000) {
    ++start_ms;
  } else if (rem <= -500'000) {
    --start_ms;
  }
  // GNU parallel truncates the runtime to the millisecond, then "%10.3f".
  const std::int64_t runtime_ms = std::max<std::int64_t>(0, e.runtime.count() / 1'000'000);

  append_number(out, e.seq);
  out.push_back('\t');
  out.append(e.host);
  out.push_back('\t');
  out.append(format_millis(start_ms));
  out.push_back('\t');
  auto runtime = format_millis(runtime_ms);
  if (runtime.size() < 10) out.append(10 - runtime.size(), ' ');
  out.append(runtime);
  out.push_back('\t');
  append_number(out, e.send);
  out.push_back('\t');
  append_number(out, e.receive);
  out.push_back('\t');
  append_number(out, e.exit_value);
  out.push_back('\t');
  append_number(out, e.signal);
  out.push_back('\t');
  const auto command_at = out.size();
  out.append(e.command);
  std::replace(out.begin() + static_cast<std::ptrdiff_t>(command_at), out.end(), '\n', '\0');
  out.push_back('\n');
}

// ---------------------------------------------------------------------------
// Writer

joblog_writer::joblog_writer(const std::string& path, mode m) : path_(path) {
  const int flags =
      O_CREAT | O_APPEND | O_CLOEXEC | (m == mode::truncate ? O_WRONLY | O_TRUNC : O_RDWR);
  fd_ = ::open(path.c_str(), flags, 0666);
  if (fd_ < 0) throw_io("open", path, errno);
  try {
    off_t size = 0;
    if (m != mode::truncate) {
      struct stat st {};
      if (::fstat(fd_, &st) != 0) throw_io("stat", path, errno);
      size = st.st_size;
      // Drop an incomplete last line (a write cut short by a crash) so the
      // next line starts on a line of its own.
      off_t keep = size;
      char buf[4096];
      while (keep > 0) {
        const off_t from = std::max<off_t>(0, keep - static_cast<off_t>(sizeof buf));
        const auto n = static_cast<std::size_t>(keep - from);
        ssize_t r = ::pread(fd_, buf, n, from);
        if (r < 0) {
          if (errno == EINTR) continue;
          throw_io("read", path, errno);
        }
        if (static_cast<std::size_t>(r) != n) throw_io("read", path, EIO);
        const char* nl = static_cast<const char*>(::memrchr(buf, '\n', n));
        if (nl != nullptr) {
          keep = from + (nl - buf) + 1;
          break;
        }
        keep = from;
      }
      if (keep != size) {
        if (::ftruncate(fd_, keep) != 0) throw_io("truncate", path, errno);
        size = keep;
      }
    }
    if (size == 0 && m != mode::append_lines) {
      std::string header(joblog_header);
      header.push_back('\n');
      write_all(header);
    }
  } catch (...) {
    ::close(fd_);
    throw;
  }
}

joblog_writer::joblog_writer(std::FILE* stream) : path_("-"), stream_(stream) {
  std::string header(joblog_header);
  header.push_back('\n');
  write_all(header);
}

joblog_writer::joblog_writer(joblog_writer&& o) noexcept
    : path_(std::move(o.path_)),
      fd_(std::exchange(o.fd_, -1)),
      stream_(std::exchange(o.stream_, nullptr)),
      line_(std::move(o.line_)) {}

joblog_writer& joblog_writer::operator=(joblog_writer&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    path_ = std::move(o.path_);
    fd_ = std::exchange(o.fd_, -1);
    stream_ = std::exchange(o.stream_, nullptr);
    line_ = std::move(o.line_);
  }
  return *this;
}

joblog_writer::~joblog_writer() {
  if (fd_ >= 0) ::close(fd_);
}

void joblog_writer::write(const joblog_entry& entry) {
  line_.clear();
  append_joblog_line(line_, entry);
  write_all(line_);
}

void joblog_writer::write_all(std::string_view bytes) {
  if (stream_ != nullptr) {
    if (std::fwrite(bytes.data(), 1, bytes.size(), stream_) != bytes.size() ||
        std::fflush(stream_) != 0) {
      throw_io("write", path_, errno);
    }
    return;
  }
  // One write() in practice; the loop only covers a short write (disk full
  // half-way, a huge line).
  while (!bytes.empty()) {
    ssize_t r = ::write(fd_, bytes.data(), bytes.size());
    if (r < 0) {
      if (errno == EINTR) continue;
      throw_io("write to", path_, errno);
    }
    bytes.remove_prefix(static_cast<std::size_t>(r));
  }
}

// ---------------------------------------------------------------------------
// Reader

namespace {

struct line_error {
  std::string reason;
};

std::uint64_t parse_seq(std::string_view s) {
  std::uint64_t v = 0;
  auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || r.ec != std::errc() || r.ptr != s.data() + s.size() || v == 0) {
    throw line_error{fmt::format("Seq '{}' is not a positive integer", printable(s, 40))};
  }
  return v;
}

template <typename Int>
Int parse_integer(std::string_view s, std::string_view field) {
  Int v = 0;
  auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || r.ec != std::errc() || r.ptr != s.data() + s.size()) {
    throw line_error{fmt::format("{} '{}' is not an integer", field, printable(s, 40))};
  }
  return v;
}

double parse_seconds(std::string_view s, std::string_view field) {
  // JobRuntime is right-aligned with spaces.
  auto first = s.find_first_not_of(' ');
  std::string_view t = first == std::string_view::npos ? std::string_view{} : s.substr(first);
  double v = 0;
  bool chars_ok = !t.empty() && t.find_first_not_of("-0123456789.") == std::string_view::npos;
  auto r = std::from_chars(t.data(), t.data() + t.size(), v);
  if (!chars_ok || r.ec != std::errc() || r.ptr != t.data() + t.size()) {
    throw line_error{fmt::format("{} '{}' is not a number of seconds", field, printable(s, 40))};
  }
  return v;
}

joblog_record parse_record(std::string_view line) {
  std::string_view fields[8];
  std::size_t at = 0;
  for (int i = 0; i < 8; ++i) {
    auto tab = line.find('\t', at);
    if (tab == std::string_view::npos) {
      throw line_error{fmt::format(
          "expected 9 tab-separated fields (Seq Host Starttime JobRuntime Send Receive Exitval "
          "Signal Command), found {}",
          i + 1)};
    }
    fields[i] = line.substr(at, tab - at);
    at = tab + 1;
  }
  joblog_record r;
  r.seq = parse_seq(fields[0]);
  if (fields[1].empty()) throw line_error{"Host is empty"};
  r.host = std::string(fields[1]);
  r.start_time = parse_seconds(fields[2], "Starttime");
  r.runtime = parse_seconds(fields[3], "JobRuntime");
  r.send = parse_integer<std::int64_t>(fields[4], "Send");
  r.receive = parse_integer<std::int64_t>(fields[5], "Receive");
  r.exit_value = parse_integer<int>(fields[6], "Exitval");
  r.signal = parse_integer<int>(fields[7], "Signal");
  r.command = std::string(line.substr(at));
  std::replace(r.command.begin(), r.command.end(), '\0', '\n');
  return r;
}

}  // namespace

joblog_contents parse_joblog(std::string_view text, std::string_view name) {
  joblog_contents out;
  std::size_t line_no = 0;
  std::size_t at = 0;
  while (at < text.size()) {
    ++line_no;
    auto nl = text.find('\n', at);
    if (nl == std::string_view::npos) {
      // The last write was cut short: that job did not finish as far as the
      // log can tell.
      out.ignored_incomplete_line = line_no;
      break;
    }
    std::string_view line = text.substr(at, nl - at);
    at = nl + 1;
    if (line_no == 1 && line == joblog_header) {
      out.has_header = true;
      continue;
    }
    if (line.empty()) continue;
    try {
      auto record = parse_record(line);
      record.line = line_no;
      out.records.push_back(std::move(record));
    } catch (const line_error& e) {
      throw joblog_error(fmt::format("{}:{}: malformed joblog line ({}): '{}'", name, line_no,
                                     e.reason, printable(line, 80)));
    }
  }
  return out;
}

joblog_contents read_joblog(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) {
      joblog_contents none;
      none.file_exists = false;
      return none;
    }
    throw_io("open", path, errno);
  }
  std::string text;
  char buf[1 << 16];
  for (;;) {
    ssize_t r = ::read(fd, buf, sizeof buf);
    if (r < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      throw_io("read", path, err);
    }
    if (r == 0) break;
    text.append(buf, static_cast<std::size_t>(r));
  }
  ::close(fd);
  return parse_joblog(text, path);
}

// ---------------------------------------------------------------------------
// Resume

std::vector<std::string> retry_commands(const joblog_contents& log) {
  std::vector<std::string> commands;
  for (const auto& r : log.records) {
    if (r.seq > commands.size()) commands.resize(static_cast<std::size_t>(r.seq));
    commands[static_cast<std::size_t>(r.seq - 1)] = r.command;
  }
  return commands;
}

resume_filter::resume_filter(const joblog_contents& log, resume_mode mode) : mode_(mode) {
  for (const auto& r : log.records) {
    auto& j = jobs_[r.seq];
    // GNU parallel: --resume skips any Seq in the log; --resume-failed only a
    // Seq with a line "Exitval 0, Signal 0" (a later failed retry does not undo it).
    if (mode == resume_mode::resume || (r.exit_value == 0 && r.signal == 0)) j.done = true;
    j.command = r.command;
    max_seq_ = std::max(max_seq_, r.seq);
  }
  skipped_ = static_cast<std::size_t>(
      std::count_if(jobs_.begin(), jobs_.end(), [](const auto& kv) { return kv.second.done; }));
}

bool resume_filter::skip(std::uint64_t seq, std::optional<std::string_view> command) {
  auto it = jobs_.find(seq);
  if (it == jobs_.end()) return false;
  if (command && *command != it->second.command && mode_ == resume_mode::resume_failed) {
    if (!warned_ && !change_warning_) {
      change_warning_ = fmt::format(
          "warning: the command changed since the joblog was written (Seq {} was '{}', now "
          "'{}'); the failed jobs run with the new command",
          seq, printable(it->second.command), printable(*command));
    }
  } else if (command && *command != it->second.command) {
    throw input_changed_error(fmt::format(
        "the input changed since the joblog was written: Seq {} was '{}', now '{}'; use a new "
        "--joblog or drop {}",
        seq, printable(it->second.command), printable(*command),
        mode_ == resume_mode::resume ? "--resume" : "--resume-failed"));
  }
  return it->second.done;
}

std::optional<std::string> resume_filter::take_change_warning() {
  if (!change_warning_) return std::nullopt;
  warned_ = true;
  return std::exchange(change_warning_, std::nullopt);
}

void resume_filter::check_total(std::uint64_t total_jobs) const {
  if (max_seq_ > total_jobs) {
    throw input_changed_error(fmt::format(
        "the input changed since the joblog was written: the joblog has job {} but the input now "
        "gives {} job{}; use a new --joblog or drop {}",
        max_seq_, total_jobs, total_jobs == 1 ? "" : "s",
        mode_ == resume_mode::resume ? "--resume" : "--resume-failed"));
  }
}

}  // namespace cohort::app::run
