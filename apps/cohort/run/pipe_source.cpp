// pipe_source and chunk_file: the chunks of --pipe as in-memory files, one
// ahead of the jobs, and of --pipepart as byte ranges of the files.

#include "cohort/run/inputs.hpp"
#include "cohort/run/pipe_chunks.hpp"

#include <fmt/core.h>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cassert>
#include <cerrno>
#include <cstring>
#include <system_error>

namespace cohort::app::run {

namespace {

[[noreturn]] void throw_errno(const char* what) {
  throw std::system_error(errno, std::generic_category(), what);
}

int make_memfd() {
  const int fd = ::memfd_create("cohort-chunk", MFD_CLOEXEC);
  if (fd < 0) throw_errno("memfd_create");
  return fd;
}

void write_all(int fd, const char* data, std::size_t size) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw_errno("writing a chunk");
    data += n;
    size -= static_cast<std::size_t>(n);
  }
}

}  // namespace

// --- chunk_file ---------------------------------------------------------------

chunk_file chunk_file::of(std::string_view bytes) {
  chunk_file f(make_memfd());
  write_all(f.fd_, bytes.data(), bytes.size());
  f.rewind();
  return f;
}

chunk_file chunk_file::range(int fd, std::uint64_t offset, std::uint64_t length) {
  // A copy, so that a job's chunk does not depend on the source's lifetime;
  // the job reads it with splice at an explicit offset, never moving the
  // file offset that the copies share.
  const int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (copy < 0) throw_errno("dup");
  chunk_file f(copy);
  f.offset_ = offset;
  f.length_ = length;
  return f;
}

chunk_file& chunk_file::operator=(chunk_file&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(o.fd_, -1);
    offset_ = o.offset_;
    length_ = o.length_;
  }
  return *this;
}

chunk_file::~chunk_file() {
  if (fd_ >= 0) ::close(fd_);
}

void chunk_file::rewind() const noexcept {
  if (fd_ >= 0 && !is_range()) ::lseek(fd_, 0, SEEK_SET);
}

// --- pipe_source --------------------------------------------------------------

struct pipe_source::state {
  std::function<void(std::string)> warn;
  // --pipe
  std::optional<fd_reader> reader;
  std::optional<chunk_splitter> splitter;
  // --pipepart: each file's descriptor and boundaries
  struct part_file {
    int fd = -1;
    std::vector<std::uint64_t> pos;
  };
  std::vector<part_file> files;
  std::size_t file = 0, index = 0;

  state() = default;
  state(const state&) = delete;
  state& operator=(const state&) = delete;
  ~state() {
    for (const part_file& f : files) ::close(f.fd);
  }

  // The next chunk of a --pipe splitter or of the --pipepart files.
  bool take(chunk_file& chunk) {
    if (splitter) {
      const auto c = splitter->next();
      if (c) chunk = chunk_file::of(*c);
      return c.has_value();
    }
    for (; file < files.size(); ++file, index = 0) {
      const part_file& f = files[file];
      if (index + 1 < f.pos.size()) {
        chunk = chunk_file::range(f.fd, f.pos[index], f.pos[index + 1] - f.pos[index]);
        ++index;
        return true;
      }
    }
    return false;
  }
  bool ended() const { return splitter ? splitter->finished() : file >= files.size(); }
};

pipe_source::pipe_source(int fd, const pipe_options& o) : s_(std::make_unique<state>()) {
  s_->reader.emplace(fd);
  state* s = s_.get();
  s_->splitter.emplace(o, [s](std::string m) {
    if (s->warn) s->warn(std::move(m));
  });
}

namespace {

// An opened --pipepart file and its size; throws input_error.
std::pair<int, std::uint64_t> open_part_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    throw input_error(fmt::format("cannot read input file '{}': {}", path, std::strerror(errno)));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw input_error(fmt::format(
        "--pipepart reads seekable files only: '{}' is not a regular file (use --pipe)", path));
  }
  return {fd, static_cast<std::uint64_t>(st.st_size)};
}

}  // namespace

pipe_source::pipe_source(const std::vector<std::string>& paths, const pipe_options& o,
                         std::size_t slots)
    : s_(std::make_unique<state>()) {
  std::vector<std::uint64_t> sizes;
  for (const std::string& path : paths) {
    auto [fd, size] = open_part_file(path);
    s_->files.push_back({fd, {}});
    sizes.push_back(size);
  }
  // GNU: a negative --block (default -10) is chunks per job slot, of the
  // files' total size.
  std::int64_t block = o.block_given ? o.block : -10;
  if (block < 0) {
    std::uint64_t total = 0;
    for (std::uint64_t size : sizes) total += size;
    block = static_cast<std::int64_t>(1 + total / std::max<std::uint64_t>(1, slots) /
                                              static_cast<std::uint64_t>(-block));
  }
  const record_split split(o);
  for (std::size_t i = 0; i < paths.size(); ++i) {
    const int fd = s_->files[i].fd;
    s_->files[i].pos =
        part_positions(sizes[i], static_cast<std::uint64_t>(block), split,
                       [fd](std::uint64_t at, char* into, std::size_t n) -> std::size_t {
                         const ssize_t got = ::pread(fd, into, n, static_cast<off_t>(at));
                         return got > 0 ? static_cast<std::size_t>(got) : 0;
                       });
  }
}

pipe_source::pipe_source(pipe_source&&) noexcept = default;
pipe_source& pipe_source::operator=(pipe_source&&) noexcept = default;
pipe_source::~pipe_source() = default;

void pipe_source::on_warning(std::function<void(std::string)> warn) {
  s_->warn = std::move(warn);
}

bool pipe_source::may_wait() const noexcept {
  return s_->reader && s_->reader->may_wait();
}

std::optional<std::uint64_t> pipe_source::total() const {
  if (s_->splitter) return std::nullopt;
  std::uint64_t n = 0;
  for (const auto& f : s_->files) n += f.pos.size() - 1;
  return n;
}

bool pipe_source::next(chunk_file& chunk) {
  state& s = *s_;
  for (;;) {
    if (s.take(chunk)) return true;
    if (s.ended()) return false;
    // One of GNU's rounds: read until the buffer holds whole blocks.
    std::size_t need = s.splitter->want();
    bool eof = false;
    while (need > 0 && !eof) {
      const std::size_t n = s.reader->read_some_blocking(s.splitter->space(need), need);
      s.splitter->commit(n);
      eof = n == 0;
      need -= n;
    }
    s.splitter->end_round(eof);
  }
}

task<bool> pipe_source::next_async(chunk_file& chunk) {
  state& s = *s_;
  for (;;) {
    if (s.take(chunk)) co_return true;
    if (s.ended()) co_return false;
    // As next(); a cancel keeps what was read (committed) for the next call.
    std::size_t need = s.splitter->want();
    bool eof = false;
    while (need > 0 && !eof) {
      const std::size_t n = co_await s.reader->read_some(s.splitter->space(need), need);
      s.splitter->commit(n);
      eof = n == 0;
      need -= n;
    }
    s.splitter->end_round(eof);
  }
}

}  // namespace cohort::app::run
