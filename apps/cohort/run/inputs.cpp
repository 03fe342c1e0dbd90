#include "cohort/run/inputs.hpp"

#include <cohort/io/fd_reader.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <system_error>
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

// An input file opened for reading: its records, and for a regular file
// where reading started (to count its values without consuming them).
struct input_file {
  std::string path;
  fd_reader reader;
  bool regular = false;
  off_t start = 0;

  input_file() = default;
  input_file(const std::string& p, int stdin_fd, char sep) : path(p) {
    int fd = stdin_fd;
    if (path != "-") {
      fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) throw_errno("open", path, errno);
    }
    struct owned {
      int fd;
      ~owned() {
        if (fd >= 0) ::close(fd);
      }
    } guard{path == "-" ? -1 : fd};
    struct stat st {};
    if (::fstat(fd, &st) != 0) throw_errno("stat", path, errno);
    if (S_ISDIR(st.st_mode)) throw_errno("read", path, EISDIR);
    if (S_ISREG(st.st_mode)) {
      const off_t here = ::lseek(fd, 0, SEEK_CUR);
      if (here >= 0) {
        regular = true;
        start = here;
      }
    }
    reader = fd_reader(fd, {.separator = sep, .close = guard.fd >= 0});
    guard.fd = -1;  // the reader owns it now
  }

  // The next value, read on the thread (blocking).
  bool next(std::string& value) {
    try {
      return reader.read_blocking(value);
    } catch (const std::system_error& e) {
      throw_errno("read", path, e.code().value());
    }
  }

  // The next value, awaited on the loop (a cancellable wait).
  task<bool> next_async(std::string& value) {
    std::error_code error;
    const bool got = co_await reader.read(value, error);
    if (error) throw_errno("read", path, error.value());
    co_return got;
  }

  // Counts values from where the file stood when opened, without moving the
  // file offset (pread), so the reader is not disturbed.
  std::uint64_t count_values(char sep) const {
    std::uint64_t count = 0;
    char buf[1 << 16];
    off_t at = start;
    char last = sep;
    for (;;) {
      ssize_t r = ::pread(reader.native_handle(), buf, sizeof buf, at);
      if (r < 0) {
        if (errno == EINTR) continue;
        throw_errno("read", path, errno);
      }
      if (r == 0) break;
      for (ssize_t i = 0; i < r; ++i) count += buf[i] == sep;
      last = buf[r - 1];
      at += r;
    }
    return count + (last != sep ? 1 : 0);
  }
};

// The values of a `:::` as GNU parallel reads them: it writes them to a
// file, one a record, and reads that back, so a value holding the separator
// ("a\nb") is several values ("a", "b").
std::vector<std::string> literal_values(std::vector<std::string> values, char sep) {
  if (std::none_of(values.begin(), values.end(),
                   [sep](const std::string& v) { return v.find(sep) != std::string::npos; })) {
    return values;
  }
  std::vector<std::string> out;
  for (const std::string& v : values) {
    std::size_t at = 0;
    for (std::size_t end; (end = v.find(sep, at)) != std::string::npos; at = end + 1) {
      out.push_back(v.substr(at, end - at));
    }
    out.push_back(v.substr(at));
  }
  return out;
}

std::uint64_t checked_mul(std::uint64_t a, std::uint64_t b) {
  if (a != 0 && b > std::numeric_limits<std::uint64_t>::max() / a) {
    throw input_error("too many combinations of input values (more than 2^64 jobs)");
  }
  return a * b;
}

}  // namespace

struct input_generator::state {
  input_options options;
  std::size_t nsources = 1;

  // The first source: literals in memory, or a streamed file.
  bool first_streamed = false;
  std::vector<std::string> first_values;
  std::size_t first_index = 0;
  input_file first_file;
  // next_async() read the first source's next value into current_first
  // ahead of next(); `prefetched_value` is what that read returned.
  bool prefetched = false;
  bool prefetched_value = false;
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
    if (prefetched) {
      prefetched = false;
      return prefetched_value;
    }
    if (!first_file.next(current_first)) return false;
    note_line(current_first);
    return true;
  }

  // Whether next() will read the first source.
  bool next_reads_first() const {
    return first_streamed && !done && !first_empty && !prefetched && (!started || !have_current);
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
    s.first_values = literal_values(std::move(first.values), options.separator);
    s.first_count = s.first_values.size();
  } else {
    s.first_streamed = true;
    s.first_file = input_file(first.path, options.stdin_fd, options.separator);
  }

  for (std::size_t i = 1; i < sources.size(); ++i) {
    auto& src = sources[i];
    std::vector<std::string> values;
    if (src.what == input_source::kind::literals) {
      values = literal_values(std::move(src.values), options.separator);
    } else {
      input_file file(src.path, options.stdin_fd, options.separator);
      std::string v;
      while (file.next(v)) {
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
  if (!s.first_count && s.first_streamed && s.first_file.regular) {
    s.first_count = s.first_file.count_values(s.options.separator);
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

task<bool> input_generator::next_async(job_input& job) {
  auto& s = *state_;
  if (s.next_reads_first()) {
    // Cancelled here, nothing is lost: the reader keeps what it read.
    const bool got = co_await s.first_file.next_async(s.current_first);
    if (got) s.note_line(s.current_first);
    s.prefetched_value = got;
    s.prefetched = true;
  }
  co_return next(job);
}

bool input_generator::may_wait() const noexcept {
  const auto& s = *state_;
  return s.first_streamed && s.first_file.reader.may_wait();
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
