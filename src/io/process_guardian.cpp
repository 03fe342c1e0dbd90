#include <cohort/io/process_guardian.hpp>

#include "io/spawn_support.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <random>
#include <set>
#include <string_view>
#include <system_error>
#include <thread>

extern char** environ;

namespace cohort {

namespace {

using io_detail::throw_errno;

// The environment variable that marks every job of one runner.
constexpr const char* marker_name = "COHORT_GUARDIAN_TOKEN";
// What the guardian ignores: a terminal's signals, a hang-up, a SIGTERM
// meant for the runner's group. Only the end of file is the runner's death.
constexpr int ignored_signals[] = {SIGINT,  SIGTERM, SIGHUP,  SIGQUIT,
                                   SIGPIPE, SIGTSTP, SIGTTIN, SIGTTOU};
// The guardian's end of the pipe, in the guardian.
constexpr int guardian_fd = 3;
// How often the guardian looks whether the groups are gone during a step.
constexpr auto group_poll = std::chrono::milliseconds(5);
// After each read the guardian sleeps this long, so that the records of many
// jobs arrive in one wake-up instead of one wake-up each (measured: one
// wake-up per record cost the guardian about 15 us of CPU per job, ~2 % of
// a job of `true`). It delays the reaction to the runner's death by as
// much; a 64 KiB pipe holds 8,192 records meanwhile.
constexpr auto batch_interval = std::chrono::milliseconds(10);

// One message, runner -> guardian: one 8-byte write each (atomic: below
// PIPE_BUF), so the pipe always holds whole records.
enum op : std::int32_t { op_watch = 1, op_forget = 2, op_done = 3 };
struct message {
  std::int32_t op;
  std::int32_t pgid;
};

std::string random_token() {
  std::random_device rd;
  std::uint64_t v = (std::uint64_t(rd()) << 32) ^ rd();
  v ^= std::uint64_t(::getpid()) << 20;
  char buf[17];
  auto [end, ec] = std::to_chars(buf, buf + 16, v, 16);
  (void)ec;
  return std::string(buf, end);
}

}  // namespace

// --- the runner's side --------------------------------------------------------

process_guardian process_guardian::start(std::vector<std::string> command,
                                         const term_sequence& seq) {
  if (command.empty())
    throw std::invalid_argument("cohort::process_guardian::start: empty command");
  process_guardian g;
  g.token_ = random_token();
  command.push_back(g.token_);
  command.push_back(to_string(seq));

  // fds[0], read: the guardian's (a copy stays with us, so that writing to
  // a guardian someone killed is never a SIGPIPE: the pipe just fills).
  // fds[1], write: ours, non-blocking, close-on-exec so no job inherits it.
  // Both above the standard descriptors: a runner started with stdin or
  // stdout closed would get the pipe there, and the spawn's /dev/null
  // actions would replace the guardian's end before it is moved to fd 3.
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw_errno(errno, "cohort: guardian pipe");
  for (int& fd : fds) {
    const int high = ::fcntl(fd, F_DUPFD_CLOEXEC, 10);
    ::close(fd);
    fd = high;
  }
  if (fds[0] < 0 || fds[1] < 0 || ::fcntl(fds[1], F_SETFL, O_NONBLOCK) != 0) {
    const int e = errno;
    for (int fd : fds) {
      if (fd >= 0) ::close(fd);
    }
    throw_errno(e, "cohort: guardian pipe");
  }
  io_detail::spawn_file_actions actions;
  io_detail::spawn_attributes attributes;
  // The signals it ignores stay blocked until it does (a signal sent to it
  // while it loads would otherwise take the default action).
  sigset_t all, held;
  sigfillset(&all);
  sigemptyset(&held);
  for (int sig : ignored_signals) sigaddset(&held, sig);
  // Its own process group (out of the terminal's foreground group), default
  // dispositions and an empty mask (it sets what it ignores itself); stdio
  // on /dev/null, its end of the pipe on fd 3, nothing else of ours.
  posix_spawn_file_actions_t* fa = actions.get();
  int rc = ::posix_spawnattr_setflags(
      attributes.get(), POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
  if (rc == 0) rc = ::posix_spawnattr_setpgroup(attributes.get(), 0);
  if (rc == 0) rc = ::posix_spawnattr_setsigdefault(attributes.get(), &all);
  if (rc == 0) rc = ::posix_spawnattr_setsigmask(attributes.get(), &held);
  if (rc == 0) rc = ::posix_spawn_file_actions_addopen(fa, 0, "/dev/null", O_RDONLY, 0);
  if (rc == 0) rc = ::posix_spawn_file_actions_addopen(fa, 1, "/dev/null", O_WRONLY, 0);
  if (rc == 0) rc = ::posix_spawn_file_actions_adddup2(fa, 1, 2);
  if (rc == 0) rc = ::posix_spawn_file_actions_adddup2(fa, fds[0], guardian_fd);
  if (rc == 0) rc = ::posix_spawn_file_actions_addclosefrom_np(fa, guardian_fd + 1);
  if (rc == 0) rc = ::posix_spawn_file_actions_addchdir_np(fa, "/");
  std::vector<char*> argv;
  argv.reserve(command.size() + 1);
  for (std::string& a : command) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  if (rc == 0) rc = ::posix_spawn(&pid, argv[0], fa, attributes.get(), argv.data(), environ);
  if (rc != 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    throw_errno(rc, "cohort: cannot start the process guardian '" + command.front() + "'");
  }
  g.read_fd_ = fds[0];
  g.fd_ = fds[1];
  g.pid_ = pid;
  return g;
}

process_guardian::process_guardian(process_guardian&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      read_fd_(std::exchange(other.read_fd_, -1)),
      pid_(std::exchange(other.pid_, -1)),
      token_(std::move(other.token_)) {}

process_guardian& process_guardian::operator=(process_guardian&& other) noexcept {
  if (this != &other) {
    close();
    fd_ = std::exchange(other.fd_, -1);
    read_fd_ = std::exchange(other.read_fd_, -1);
    pid_ = std::exchange(other.pid_, -1);
    token_ = std::move(other.token_);
  }
  return *this;
}

process_guardian::~process_guardian() {
  close();
}

std::pair<std::string, std::string> process_guardian::marker() const {
  if (token_.empty()) return {};
  return {marker_name, token_};
}

process_guardian::watch_handle process_guardian::watch(pid_t pgid) noexcept {
  if (fd_ < 0 || pgid <= 0) return {};
  send(op_watch, pgid);
  return fd_ < 0 ? watch_handle() : watch_handle(this, pgid);
}

void process_guardian::send(int op, pid_t pgid) noexcept {
  if (fd_ < 0) return;
  const message m{op, pgid};
  for (;;) {
    const ssize_t n = ::write(fd_, &m, sizeof m);
    if (n == static_cast<ssize_t>(sizeof m)) return;
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      // Full: 8,192 records unread. Wait for a live guardian; give up on a
      // dead one (run on unguarded).
      int status;
      if (::waitpid(pid_, &status, WNOHANG) == 0) {
        pollfd p{fd_, POLLOUT, 0};
        ::poll(&p, 1, 100);
        continue;
      }
      pid_ = -1;  // reaped (or not ours to reap)
    }
    drop();
    return;
  }
}

void process_guardian::drop() noexcept {
  if (fd_ >= 0) ::close(std::exchange(fd_, -1));
  if (read_fd_ >= 0) ::close(std::exchange(read_fd_, -1));
}

void process_guardian::close() noexcept {
  if (fd_ >= 0) send(op_done, 0);
  drop();
  if (pid_ <= 0) return;
  // Cut its batching sleep short (SIGUSR1 interrupts it; before its handler
  // is installed the default action ends it, which is as good), then reap
  // it: it exits at once on "done" and end of file. Bounded, for a stopped
  // one. The pid is our unreaped child: it cannot belong to anyone else.
  ::kill(pid_, SIGUSR1);
  for (int i = 0; i < 1000; ++i) {
    int status;
    const pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_ || (r < 0 && errno != EINTR)) break;
    if (r == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  pid_ = -1;
}

process_guardian::watch_handle& process_guardian::watch_handle::operator=(
    watch_handle&& o) noexcept {
  if (this != &o) {
    reset();
    g_ = std::exchange(o.g_, nullptr);
    pgid_ = std::exchange(o.pgid_, -1);
  }
  return *this;
}

void process_guardian::watch_handle::reset() noexcept {
  if (g_ != nullptr && pgid_ > 0) g_->send(op_forget, pgid_);
  g_ = nullptr;
  pgid_ = -1;
}

// --- the guardian process ---------------------------------------------------

namespace {

// "/proc/PID/stat" -> (pgid, session) of a live process; false if gone.
bool group_and_session(pid_t pid, pid_t& pgid, pid_t& sid) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/stat", static_cast<int>(pid));
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buf[1024];
  const ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  if (n <= 0) return false;
  buf[n] = '\0';
  // After the command in parentheses (which may hold anything): state ppid
  // pgrp session ...
  const char* p = std::strrchr(buf, ')');
  if (p == nullptr) return false;
  char state;
  int ppid, pg, s;
  if (std::sscanf(p + 1, " %c %d %d %d", &state, &ppid, &pg, &s) != 4) return false;
  if (state == 'Z' || state == 'X') return false;
  pgid = pg;
  sid = s;
  return true;
}

// True if the environment of `pid` holds the entry `entry` ("NAME=value").
bool has_marker(pid_t pid, std::string_view entry) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/environ", static_cast<int>(pid));
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;  // gone, or not ours to read
  std::string env(1, '\0');  // a leading NUL: every entry is "\0NAME=value\0"
  char buf[16384];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    env.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  env += '\0';
  std::string needle(1, '\0');
  needle.append(entry);
  needle += '\0';
  return env.find(needle) != std::string::npos;
}

// The process groups, in our session, of the processes carrying the marker.
std::set<pid_t> marked_groups(std::string_view entry, pid_t session, pid_t skip_a, pid_t skip_b) {
  std::set<pid_t> groups;
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) return groups;
  const pid_t self = ::getpid();
  while (const dirent* e = ::readdir(proc)) {
    pid_t pid = 0;
    const char* name = e->d_name;
    const auto [end, ec] = std::from_chars(name, name + std::strlen(name), pid);
    if (ec != std::errc() || *end != '\0' || pid <= 0 || pid == self) continue;
    pid_t pgid, sid;
    if (!group_and_session(pid, pgid, sid) || sid != session) continue;
    if (pgid <= 1 || pgid == skip_a || pgid == skip_b) continue;
    if (has_marker(pid, entry)) groups.insert(pgid);
  }
  ::closedir(proc);
  return groups;
}

void sleep_ms(std::chrono::milliseconds ms) {
  timespec ts{static_cast<time_t>(ms.count() / 1000),
              static_cast<long>(ms.count() % 1000) * 1000000L};
  while (::nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

// The runner's nudge (SIGUSR1 after "done"): only interrupts the batching
// sleep, which then ends (nanosleep's EINTR).
extern "C" void on_nudge(int) {}

// Sends `sig` to each group; drops the groups that are gone. True if any left.
bool signal_groups(std::set<pid_t>& groups, int sig) {
  for (auto it = groups.begin(); it != groups.end();) {
    if (::kill(-*it, sig) != 0 && errno == ESRCH) {
      it = groups.erase(it);
    } else {
      ++it;
    }
  }
  return !groups.empty();
}

void terminate_groups(std::set<pid_t> groups, const term_sequence& seq) {
  using namespace std::chrono;
  for (const term_step& step : seq) {
    if (!signal_groups(groups, step.signal)) return;
    const auto end = cohort::deadline_after(steady_clock::now(), step.wait);
    while (steady_clock::now() < end) {
      if (!signal_groups(groups, 0)) return;
      sleep_ms(std::min(group_poll,
                        duration_cast<milliseconds>(end - steady_clock::now()) + milliseconds(1)));
    }
  }
  signal_groups(groups, SIGKILL);
}

}  // namespace

int process_guardian_main(int argc, char** argv) {
  // argv: SUBCOMMAND TOKEN SEQUENCE
  if (argc != 3) return 2;
  const std::string entry = std::string(marker_name) + '=' + argv[1];
  term_sequence seq;
  try {
    seq = parse_term_sequence(argv[2]);
  } catch (...) {
    return 2;
  }
  // (They were blocked from its start: unblocked only now, and any pending
  // one is discarded.)
  sigset_t held;
  sigemptyset(&held);
  for (int sig : ignored_signals) {
    ::signal(sig, SIG_IGN);
    sigaddset(&held, sig);
  }
  ::sigprocmask(SIG_UNBLOCK, &held, nullptr);
  const pid_t runner_group = ::getpgid(::getppid());
  const pid_t own_group = ::getpgrp();
  const pid_t session = ::getsid(0);

  struct sigaction nudge {};
  nudge.sa_handler = on_nudge;  // no SA_RESTART: the sleep ends
  ::sigaction(SIGUSR1, &nudge, nullptr);

  std::set<pid_t> groups;
  bool done = false;
  message batch[512];
  std::size_t have = 0;  // bytes in `batch` (a read may end mid-record)
  for (;;) {
    char* const into = reinterpret_cast<char*>(batch) + have;
    const ssize_t n = ::read(guardian_fd, into, sizeof batch - have);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // end of file: the runner is gone (or said done)
    have += static_cast<std::size_t>(n);
    const std::size_t whole = have / sizeof(message);
    for (std::size_t i = 0; i < whole; ++i) {
      switch (batch[i].op) {
        case op_watch: groups.insert(batch[i].pgid); break;
        case op_forget: groups.erase(batch[i].pgid); break;
        case op_done: done = true; break;
        default: break;
      }
    }
    const std::size_t rest = have - whole * sizeof(message);
    std::memmove(batch, reinterpret_cast<char*>(batch) + whole * sizeof(message), rest);
    have = rest;
    if (done) continue;  // the end of file follows at once
    if (static_cast<std::size_t>(n) < sizeof batch / 2) {
      // Drained: let the next records gather (see batch_interval).
      timespec ts{0, std::chrono::nanoseconds(batch_interval).count()};
      ::nanosleep(&ts, nullptr);
    }
  }
  if (done) return 0;
  // The runner died. Its jobs' groups, plus any job spawned in the instant
  // before it could announce it.
  std::set<pid_t> marked = marked_groups(entry, session, runner_group, own_group);
  groups.insert(marked.begin(), marked.end());
  groups.erase(runner_group);
  groups.erase(own_group);
  terminate_groups(std::move(groups), seq);
  return 0;
}

}  // namespace cohort
