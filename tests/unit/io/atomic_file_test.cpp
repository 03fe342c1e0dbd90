#include "cohort/io/atomic_file.hpp"

#include <sched.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <random>
#include <set>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace {

namespace fs = std::filesystem;
using cohort::atomic_write;
using cohort::is_atomic_write_temporary;
using cohort::remove_stale_temporaries;

// A fresh directory under $TMPDIR (or /tmp), removed with its contents.
class scratch_dir {
 public:
  scratch_dir() {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string(base != nullptr && *base != '\0' ? base : "/tmp") +
                          "/cohort-atomic-test-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  scratch_dir(const scratch_dir&) = delete;
  scratch_dir& operator=(const scratch_dir&) = delete;
  ~scratch_dir() {
    std::error_code ec;
    fs::permissions(path_, fs::perms::owner_all, fs::perm_options::add, ec);
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::set<std::string> names_in(const fs::path& dir) {
  std::set<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.insert(e.path().filename().string());
  return names;
}

std::string random_bytes(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

// Runs `body` in a forked child and returns its exit status (or 128 + the
// signal that ended it). The body reports through its return value: the
// child cannot use GoogleTest's assertions.
int run_in_child(const std::function<int()>& body) {
  const pid_t pid = ::fork();
  if (pid < 0) throw std::system_error(errno, std::generic_category(), "fork");
  if (pid == 0) {
    int code = 100;
    try {
      code = body();
    } catch (...) {
      code = 101;
    }
    ::_exit(code);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + WTERMSIG(status);
}

// Exit codes of the child bodies below.
constexpr int child_ok = 0;
constexpr int child_skip = 77;
constexpr int child_no_error = 10;
constexpr int child_wrong_errno = 11;
constexpr int child_bad_message = 12;

// Calls atomic_write and checks that it throws a system_error with
// `expected` errno whose message names `path`.
int expect_write_error(const fs::path& path, const std::string& bytes, int expected) {
  try {
    atomic_write(path, bytes);
  } catch (const std::system_error& e) {
    if (e.code().value() != expected) return child_wrong_errno;
    const std::string what = e.what();
    if (what.find(path.string()) == std::string::npos) return child_bad_message;
    if (what.find('\n') != std::string::npos) return child_bad_message;
    return child_ok;
  }
  return child_no_error;
}

TEST(AtomicWrite, WritesTheExactBytesAndLeavesNoTemporary) {
  scratch_dir dir;
  const fs::path file = dir.path() / "tile.png";
  const std::string bytes = random_bytes(3 * 1024 * 1024 + 17, 1);
  atomic_write(file, bytes);
  EXPECT_EQ(read_file(file), bytes);
  EXPECT_EQ(names_in(dir.path()), std::set<std::string>{"tile.png"});
}

TEST(AtomicWrite, ReplacesAnExistingFile) {
  scratch_dir dir;
  const fs::path file = dir.path() / "a";
  atomic_write(file, std::string(5000, 'x'));
  atomic_write(file, std::string_view("short"));
  EXPECT_EQ(read_file(file), "short");
  atomic_write(file, std::string_view(""));
  EXPECT_EQ(fs::file_size(file), 0u);
  EXPECT_EQ(names_in(dir.path()), std::set<std::string>{"a"});
}

TEST(AtomicWrite, AcceptsBytesAsASpan) {
  scratch_dir dir;
  const std::vector<std::byte> bytes{std::byte{0x89}, std::byte{'P'}, std::byte{0}, std::byte{7}};
  atomic_write(dir.path() / "b", bytes);
  EXPECT_EQ(read_file(dir.path() / "b"), std::string("\x89P\0\x07", 4));
}

TEST(AtomicWrite, FsyncOptionWritesTheSameFile) {
  scratch_dir dir;
  const std::string bytes = random_bytes(70000, 2);
  atomic_write(dir.path() / "c", bytes, {.fsync = true});
  EXPECT_EQ(read_file(dir.path() / "c"), bytes);
  EXPECT_EQ(names_in(dir.path()), std::set<std::string>{"c"});
}

TEST(AtomicWrite, FileModeIs0644MinusTheUmask) {
  scratch_dir dir;
  const mode_t old = ::umask(027);
  atomic_write(dir.path() / "m", std::string_view("x"));
  ::umask(022);
  atomic_write(dir.path() / "n", std::string_view("x"));
  ::umask(old);
  struct stat st {};
  ASSERT_EQ(::stat((dir.path() / "m").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u);
  ASSERT_EQ(::stat((dir.path() / "n").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);
}

TEST(AtomicWrite, MissingDirectoryIsAnErrorUnlessCreateParents) {
  scratch_dir dir;
  const fs::path file = dir.path() / "14" / "8800" / "5373.png";
  try {
    atomic_write(file, std::string_view("png"));
    FAIL() << "expected a system_error";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code().value(), ENOENT);
    EXPECT_NE(std::string(e.what()).find(file.string()), std::string::npos) << e.what();
  }
  EXPECT_TRUE(names_in(dir.path()).empty());

  atomic_write(file, std::string_view("png"), {.create_parents = true});
  EXPECT_EQ(read_file(file), "png");
  // Sibling in the now existing directory, and with fsync (which also syncs
  // each directory it creates).
  atomic_write(dir.path() / "14" / "8801" / "1.png", std::string_view("q"),
               {.fsync = true, .create_parents = true});
  EXPECT_EQ(read_file(dir.path() / "14" / "8801" / "1.png"), "q");
}

TEST(AtomicWrite, ParentThatIsAFileIsAnError) {
  scratch_dir dir;
  atomic_write(dir.path() / "f", std::string_view("file"));
  try {
    atomic_write(dir.path() / "f" / "x" / "y", std::string_view("z"), {.create_parents = true});
    FAIL() << "expected a system_error";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code().value(), ENOTDIR) << e.what();
  }
  EXPECT_EQ(names_in(dir.path()), std::set<std::string>{"f"});
}

TEST(AtomicWrite, RenameFailureRemovesTheTemporary) {
  // The final name is a non-empty directory: rename() fails after the bytes
  // were written, and the temporary file must go.
  scratch_dir dir;
  fs::create_directories(dir.path() / "d" / "inside");
  try {
    atomic_write(dir.path() / "d", std::string(10000, 'x'));
    FAIL() << "expected a system_error";
  } catch (const std::system_error& e) {
    EXPECT_NE(std::string(e.what()).find("renaming"), std::string::npos) << e.what();
  }
  EXPECT_EQ(names_in(dir.path()), std::set<std::string>{"d"});
  EXPECT_TRUE(fs::is_directory(dir.path() / "d" / "inside"));
}

TEST(AtomicWrite, UnwritableDirectoryThrowsAndLeavesNothing) {
  scratch_dir dir;
  const fs::path ro = dir.path() / "ro";
  fs::create_directory(ro);
  atomic_write(ro / "old.png", std::string_view("old content"));
  // Root ignores directory permissions, so the child drops to "nobody".
  const int status = run_in_child([&] {
    if (::geteuid() == 0) {
      if (::setgid(65534) != 0 || ::setuid(65534) != 0) return 20;
    } else {
      ::chmod(ro.c_str(), 0555);
    }
    const int a = expect_write_error(ro / "old.png", std::string(4096, 'n'), EACCES);
    if (a != child_ok) return a;
    return expect_write_error(ro / "new.png", std::string(4096, 'n'), EACCES);
  });
  ::chmod(ro.c_str(), 0755);
  EXPECT_EQ(status, child_ok);
  EXPECT_EQ(names_in(ro), std::set<std::string>{"old.png"});
  EXPECT_EQ(read_file(ro / "old.png"), "old content");
}

TEST(AtomicWrite, FileSizeLimitFailureRemovesTheTemporary) {
  // RLIMIT_FSIZE with SIGXFSZ ignored makes write() fail with EFBIG part way
  // through, like a disk filling up.
  scratch_dir dir;
  const fs::path file = dir.path() / "big.png";
  atomic_write(file, std::string_view("previous"));
  const int status = run_in_child([&] {
    std::signal(SIGXFSZ, SIG_IGN);
    rlimit limit{};
    ::getrlimit(RLIMIT_FSIZE, &limit);
    limit.rlim_cur = 64 * 1024;
    if (::setrlimit(RLIMIT_FSIZE, &limit) != 0) return 20;
    return expect_write_error(file, random_bytes(1024 * 1024, 3), EFBIG);
  });
  EXPECT_EQ(status, child_ok);
  EXPECT_EQ(names_in(dir.path()), std::set<std::string>{"big.png"});
  EXPECT_EQ(read_file(file), "previous");
}

// Mounts a tmpfs on `where` in a private mount namespace of the calling
// (child) process. False when not permitted (not root, or in a container
// without CAP_SYS_ADMIN).
bool mount_private_tmpfs(const fs::path& where, const char* options, unsigned long flags) {
  if (::unshare(CLONE_NEWNS) != 0) return false;
  if (::mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return false;
  return ::mount("tmpfs", where.c_str(), "tmpfs", flags, options) == 0;
}

TEST(AtomicWrite, FullDiskThrowsEnospcAndLeavesNothing) {
  scratch_dir dir;
  const fs::path mnt = dir.path() / "small";
  fs::create_directory(mnt);
  const int status = run_in_child([&] {
    if (!mount_private_tmpfs(mnt, "size=64k", 0)) return child_skip;
    const int code = expect_write_error(mnt / "tile.png", random_bytes(512 * 1024, 4), ENOSPC);
    if (code != child_ok) return code;
    // Nothing is left on the tmpfs: not the final name, not a temporary.
    if (!names_in(mnt).empty()) return 30;
    // And the space is back: a small write succeeds.
    atomic_write(mnt / "small.png", std::string(1000, 's'));
    return read_file(mnt / "small.png") == std::string(1000, 's') ? child_ok : 31;
  });
  if (status == child_skip) GTEST_SKIP() << "cannot mount a tmpfs here (needs CAP_SYS_ADMIN)";
  EXPECT_EQ(status, child_ok);
}

TEST(AtomicWrite, ReadOnlyFileSystemThrowsErofs) {
  scratch_dir dir;
  const fs::path mnt = dir.path() / "ro";
  fs::create_directory(mnt);
  const int status = run_in_child([&] {
    if (!mount_private_tmpfs(mnt, "size=64k", MS_RDONLY)) return child_skip;
    return expect_write_error(mnt / "tile.png", "bytes", EROFS);
  });
  if (status == child_skip) GTEST_SKIP() << "cannot mount a tmpfs here (needs CAP_SYS_ADMIN)";
  EXPECT_EQ(status, child_ok);
}

TEST(AtomicWrite, ErrorMessageIsOneLineNamingThePathAndTheProblem) {
  scratch_dir dir;
  const fs::path file = dir.path() / "no" / "such" / "dir.png";
  try {
    atomic_write(file, std::string_view("x"));
    FAIL() << "expected a system_error";
  } catch (const std::system_error& e) {
    EXPECT_EQ(std::string(e.what()),
              "cannot write " + file.string() +
                  ": creating a temporary file: " + std::generic_category().message(ENOENT));
  }
}

TEST(AtomicWrite, ConcurrentWritersOfOneFileLeaveOneCompleteVersion) {
  scratch_dir dir;
  const fs::path file = dir.path() / "shared";
  std::vector<std::string> versions;
  for (unsigned i = 0; i < 4; ++i) versions.push_back(random_bytes(100000 + i * 1000, 10 + i));
  std::vector<std::thread> threads;
  for (const std::string& v : versions) {
    threads.emplace_back([&file, &v] {
      for (int i = 0; i < 20; ++i) atomic_write(file, v);
    });
  }
  for (auto& t : threads) t.join();
  const std::string final_bytes = read_file(file);
  EXPECT_NE(std::find(versions.begin(), versions.end(), final_bytes), versions.end());
  EXPECT_EQ(names_in(dir.path()), std::set<std::string>{"shared"});
}

TEST(AtomicWrite, KilledWriterNeverLeavesAPartialFileUnderTheFinalName) {
  // A child rewrites two files in a loop, alternating versions of different
  // sizes; it is killed after a random number of writes. The final names
  // always hold one complete version.
  scratch_dir dir;
  const std::string small = random_bytes(3000, 5);
  const std::string large = random_bytes(600000, 6);
  std::mt19937 rng(7);
  for (int iteration = 0; iteration < 8; ++iteration) {
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::close(fds[0]);
      for (unsigned i = 0;; ++i) {
        atomic_write(dir.path() / (i % 2 == 0 ? "x" : "y"), i % 3 == 0 ? small : large);
        const char byte = 1;
        if (::write(fds[1], &byte, 1) != 1) ::_exit(1);
      }
    }
    ::close(fds[1]);
    const int writes = static_cast<int>(rng() % 40) + 1;
    for (int i = 0; i < writes; ++i) {
      char byte;
      ASSERT_EQ(::read(fds[0], &byte, 1), 1);
    }
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    ::close(fds[0]);
    for (const char* name : {"x", "y"}) {
      const fs::path p = dir.path() / name;
      if (!fs::exists(p)) continue;
      const std::string got = read_file(p);
      EXPECT_TRUE(got == small || got == large) << name << " has " << got.size() << " bytes";
    }
  }
  // Whatever temporaries the kills left are recognised and removed.
  remove_stale_temporaries(dir.path());
  EXPECT_EQ(names_in(dir.path()), (std::set<std::string>{"x", "y"}));
}

TEST(IsAtomicWriteTemporary, RecognisesOnlyTheTemporaryPattern) {
  EXPECT_TRUE(is_atomic_write_temporary(".5373.png.tmp.4242.17"));
  EXPECT_TRUE(is_atomic_write_temporary(".a.tmp.1.0"));
  EXPECT_TRUE(is_atomic_write_temporary("..tmp.tmp.1.0"));
  EXPECT_FALSE(is_atomic_write_temporary("5373.png"));
  EXPECT_FALSE(is_atomic_write_temporary("5373.png.tmp.4242.17"));  // no leading dot
  EXPECT_FALSE(is_atomic_write_temporary("..tmp.1.0"));             // empty name
  EXPECT_FALSE(is_atomic_write_temporary(".a.tmp.1."));
  EXPECT_FALSE(is_atomic_write_temporary(".a.tmp..1"));
  EXPECT_FALSE(is_atomic_write_temporary(".a.tmp.x.1"));
  EXPECT_FALSE(is_atomic_write_temporary(".a.temp.1.2"));
  EXPECT_FALSE(is_atomic_write_temporary(".cohort-tiles.db"));
  EXPECT_FALSE(is_atomic_write_temporary(""));
}

TEST(RemoveStaleTemporaries, RemovesOnlyTemporaries) {
  scratch_dir dir;
  for (const char* name : {".1.png.tmp.99.0", ".2.png.tmp.1234567.42", "1.png", ".hidden",
                           "3.png.tmp.1.1", ".cohort-tiles.db"}) {
    atomic_write(dir.path() / name, std::string_view("x"));
  }
  fs::create_directory(dir.path() / ".d.tmp.1.1");  // a directory is never removed
  EXPECT_EQ(remove_stale_temporaries(dir.path()), 2u);
  EXPECT_EQ(names_in(dir.path()), (std::set<std::string>{"1.png", ".hidden", "3.png.tmp.1.1",
                                                         ".cohort-tiles.db", ".d.tmp.1.1"}));
  EXPECT_EQ(remove_stale_temporaries(dir.path()), 0u);
}

TEST(RemoveStaleTemporaries, MissingDirectoryIsNotAnError) {
  scratch_dir dir;
  EXPECT_EQ(remove_stale_temporaries(dir.path() / "absent"), 0u);
}

}  // namespace
