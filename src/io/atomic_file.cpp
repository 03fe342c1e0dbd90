#include "cohort/io/atomic_file.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <string>
#include <system_error>

namespace cohort {
namespace {

// Distinguishes the temporary files of concurrent atomic_write calls within
// one process; the pid distinguishes processes.
std::atomic<std::uint64_t> temp_counter{0};

[[noreturn]] void throw_errno(int error, const std::string& what) {
  throw std::system_error(error, std::generic_category(), what);
}

// A descriptor closed on scope exit (when not closed explicitly).
class fd_guard {
 public:
  explicit fd_guard(int fd) noexcept : fd_(fd) {}
  fd_guard(const fd_guard&) = delete;
  fd_guard& operator=(const fd_guard&) = delete;
  ~fd_guard() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const noexcept { return fd_; }
  // Closes now and returns close()'s errno (0 on success).
  int close() noexcept {
    const int fd = fd_;
    fd_ = -1;
    return ::close(fd) == 0 ? 0 : errno;
  }

 private:
  int fd_;
};

std::string directory_of(const std::filesystem::path& path) {
  std::string dir = path.parent_path().string();
  return dir.empty() ? std::string(".") : dir;
}

// fsync of a directory, so that entries created or renamed in it survive a
// power loss. Returns errno, 0 on success.
int fsync_directory(const std::string& dir) noexcept {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errno;
  int error = 0;
  while (::fsync(fd) != 0) {
    if (errno != EINTR) {
      error = errno;
      break;
    }
  }
  ::close(fd);
  return error;
}

// mkdir -p for `dir`, fsyncing the parent of each directory it creates when
// `durable`. Returns errno, 0 on success (including "already a directory").
int make_directories(const std::filesystem::path& dir, bool durable) {
  const std::string text = dir.empty() ? std::string(".") : dir.string();
  if (::mkdir(text.c_str(), 0777) != 0) {
    if (errno == EEXIST) {
      struct stat st {};
      if (::stat(text.c_str(), &st) != 0) return errno;
      return S_ISDIR(st.st_mode) ? 0 : ENOTDIR;
    }
    if (errno != ENOENT || !dir.has_parent_path() || dir.parent_path() == dir) return errno;
    if (const int error = make_directories(dir.parent_path(), durable); error != 0) return error;
    if (::mkdir(text.c_str(), 0777) != 0 && errno != EEXIST) return errno;
  }
  if (durable) return fsync_directory(directory_of(dir));
  return 0;
}

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (const char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

}  // namespace

void atomic_write(const std::filesystem::path& path, std::span<const std::byte> bytes,
                  const atomic_write_options& options) {
  const std::string shown = path.string();
  const std::string name = path.filename().string();
  if (name.empty() || name == "." || name == "..") {
    throw_errno(EISDIR, "cannot write " + shown + ": not a file name");
  }
  const std::string dir = directory_of(path);
  const std::string prefix = dir + "/." + name + ".tmp." + std::to_string(::getpid()) + ".";

  // Create the temporary file. EEXIST means a file left by a killed process
  // that had our pid (pids repeat, in containers especially): take the next
  // counter value.
  std::string temp;
  int fd = -1;
  bool made_parents = false;
  for (int attempt = 0; fd < 0; ++attempt) {
    temp = prefix + std::to_string(temp_counter.fetch_add(1, std::memory_order_relaxed));
    fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd >= 0) break;
    const int error = errno;
    if (error == EINTR || (error == EEXIST && attempt < 1000)) continue;
    if (error == ENOENT && options.create_parents && !made_parents) {
      made_parents = true;
      if (const int mk = make_directories(path.parent_path(), options.fsync); mk != 0) {
        std::string what = "cannot write ";
        what.append(shown).append(": creating its directory ").append(dir);
        throw_errno(mk, what);
      }
      continue;
    }
    throw_errno(error, "cannot write " + shown + ": creating a temporary file");
  }

  fd_guard file(fd);
  // From here on, every failure removes the temporary file.
  const auto fail = [&](int error, const char* step) {
    if (file.get() >= 0) file.close();
    ::unlink(temp.c_str());
    throw_errno(error, "cannot write " + shown + ": " + step);
  };

  const auto* data = reinterpret_cast<const char*>(bytes.data());
  std::size_t left = bytes.size();
  while (left > 0) {
    const ssize_t n = ::write(file.get(), data, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail(errno, "writing the temporary file");
    }
    if (n == 0) fail(EIO, "writing the temporary file");
    data += n;
    left -= static_cast<std::size_t>(n);
  }
  if (options.fsync) {
    while (::fsync(file.get()) != 0) {
      if (errno != EINTR) fail(errno, "syncing the temporary file");
    }
  }
  // close() can report a deferred write error (NFS, some FUSE file systems).
  if (const int error = file.close(); error != 0 && error != EINTR) {
    fail(error, "closing the temporary file");
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    fail(errno, "renaming the temporary file");
  }
  if (options.fsync) {
    if (const int error = fsync_directory(dir); error != 0) {
      throw_errno(error,
                  "cannot write " + shown + ": syncing its directory (the file is complete)");
    }
  }
}

void atomic_write(const std::filesystem::path& path, std::string_view bytes,
                  const atomic_write_options& options) {
  atomic_write(path, std::as_bytes(std::span(bytes.data(), bytes.size())), options);
}

bool is_atomic_write_temporary(std::string_view filename) {
  // .<name>.tmp.<pid>.<counter>, parsed from the end.
  const auto last_dot = filename.rfind('.');
  if (last_dot == std::string_view::npos || !all_digits(filename.substr(last_dot + 1))) {
    return false;
  }
  const std::string_view head = filename.substr(0, last_dot);
  const auto pid_dot = head.rfind('.');
  if (pid_dot == std::string_view::npos || !all_digits(head.substr(pid_dot + 1))) return false;
  const std::string_view base = head.substr(0, pid_dot);
  constexpr std::string_view tmp = ".tmp";
  if (base.size() < tmp.size() + 2 || !base.ends_with(tmp)) return false;
  // A leading dot and a name of at least one character before ".tmp".
  return base.front() == '.';
}

std::size_t remove_stale_temporaries(const std::filesystem::path& dir) {
  const std::string shown = dir.empty() ? std::string(".") : dir.string();
  DIR* stream = ::opendir(shown.c_str());
  if (stream == nullptr) {
    if (errno == ENOENT) return 0;
    throw_errno(errno, "cannot clean up " + shown + ": reading the directory");
  }
  std::size_t removed = 0;
  int error = 0;
  std::string failed_name;
  for (;;) {
    errno = 0;
    const dirent* entry = ::readdir(stream);
    if (entry == nullptr) {
      error = errno;
      break;
    }
    if (!is_atomic_write_temporary(entry->d_name)) continue;
    if (::unlinkat(::dirfd(stream), entry->d_name, 0) == 0) {
      ++removed;
    } else if (errno != ENOENT && errno != EISDIR) {
      error = errno;
      failed_name = entry->d_name;
      break;
    }
  }
  ::closedir(stream);
  if (error != 0) {
    if (failed_name.empty())
      throw_errno(error, "cannot clean up " + shown + ": reading the directory");
    throw_errno(error, "cannot clean up " + shown + ": removing " + failed_name);
  }
  return removed;
}

}  // namespace cohort
