#include <cohort/io/process_guardian.hpp>

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
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

// The environment variable that marks every job of one runner.
constexpr const char* marker_name = "COHORT_GUARDIAN_TOKEN";
// The guardian's end of the socket, in the guardian.
constexpr int guardian_fd = 3;
// How often the guardian looks whether the groups are gone during a step.
constexpr auto group_poll = std::chrono::milliseconds(5);

// One message, runner -> guardian: a SOCK_SEQPACKET record each.
enum op : std::int32_t { op_watch = 1, op_forget = 2, op_done = 3 };
struct message {
  std::int32_t op;
  std::int32_t pgid;
};

[[noreturn]] void throw_errno(int error, const std::string& what) {
  throw std::system_error(error, std::generic_category(), what);
}

std::string random_token() {
  std::random_device rd;
  std::uint64_t v = (std::uint64_t(rd()) << 32) ^ rd();
  v ^= std::uint64_t(::getpid()) << 20;
  char buf[17];
  auto [end, ec] = std::to_chars(buf, buf + 16, v, 16);
  (void)ec;
  return std::string(buf, end);
}

std::string sequence_text(const term_sequence& seq) {
  std::string s;
  for (const term_step& step : seq) {
    if (!s.empty()) s += ',';
    s += std::to_string(step.signal);
    s += ',';
    s += std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(step.wait).count());
  }
  return s;
}

}  // namespace

// --- the runner's side --------------------------------------------------------

process_guardian process_guardian::start(std::vector<std::string> command, term_sequence seq) {
  if (command.empty())
    throw std::invalid_argument("cohort::process_guardian::start: empty command");
  process_guardian g;
  g.token_ = random_token();
  command.push_back(g.token_);
  command.push_back(sequence_text(seq));

  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
    throw_errno(errno, "cohort: guardian socketpair");
  }
  struct file_actions {
    posix_spawn_file_actions_t fa;
    file_actions() { ::posix_spawn_file_actions_init(&fa); }
    ~file_actions() { ::posix_spawn_file_actions_destroy(&fa); }
  } actions;
  struct attributes {
    posix_spawnattr_t attr;
    attributes() { ::posix_spawnattr_init(&attr); }
    ~attributes() { ::posix_spawnattr_destroy(&attr); }
  } attributes;
  sigset_t all, none;
  sigfillset(&all);
  sigemptyset(&none);
  // Its own process group (out of the terminal's foreground group), default
  // dispositions and an empty mask (it sets what it ignores itself); stdio
  // on /dev/null, its socket end on fd 3, nothing else of ours.
  posix_spawn_file_actions_t* fa = &actions.fa;
  int rc = ::posix_spawnattr_setflags(
      &attributes.attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
  if (rc == 0) rc = ::posix_spawnattr_setpgroup(&attributes.attr, 0);
  if (rc == 0) rc = ::posix_spawnattr_setsigdefault(&attributes.attr, &all);
  if (rc == 0) rc = ::posix_spawnattr_setsigmask(&attributes.attr, &none);
  if (rc == 0) rc = ::posix_spawn_file_actions_addopen(fa, 0, "/dev/null", O_RDONLY, 0);
  if (rc == 0) rc = ::posix_spawn_file_actions_addopen(fa, 1, "/dev/null", O_WRONLY, 0);
  if (rc == 0) rc = ::posix_spawn_file_actions_adddup2(fa, 1, 2);
  if (rc == 0) rc = ::posix_spawn_file_actions_adddup2(fa, sv[1], guardian_fd);
  if (rc == 0) rc = ::posix_spawn_file_actions_addclosefrom_np(fa, guardian_fd + 1);
  if (rc == 0) rc = ::posix_spawn_file_actions_addchdir_np(fa, "/");
  std::vector<char*> argv;
  for (std::string& a : command) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  if (rc == 0) rc = ::posix_spawn(&pid, argv[0], fa, &attributes.attr, argv.data(), environ);
  ::close(sv[1]);
  if (rc != 0) {
    ::close(sv[0]);
    throw_errno(rc, "cohort: cannot start the process guardian '" + command.front() + "'");
  }
  g.fd_ = sv[0];
  g.pid_ = pid;
  return g;
}

process_guardian::process_guardian(process_guardian&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      pid_(std::exchange(other.pid_, -1)),
      token_(std::move(other.token_)) {}

process_guardian& process_guardian::operator=(process_guardian&& other) noexcept {
  if (this != &other) {
    close();
    fd_ = std::exchange(other.fd_, -1);
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
  ssize_t n;
  do {
    // Blocking: the guardian reads as fast as jobs start. MSG_NOSIGNAL: a
    // guardian killed by someone is EPIPE here, not SIGPIPE for the runner.
    n = ::send(fd_, &m, sizeof m, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  if (n != static_cast<ssize_t>(sizeof m)) {
    // The guardian is gone: run on without it.
    ::close(std::exchange(fd_, -1));
    reap();
  }
}

void process_guardian::close() noexcept {
  if (fd_ < 0) return;
  send(op_done, 0);
  if (fd_ >= 0) ::close(std::exchange(fd_, -1));
  reap();
}

void process_guardian::reap() noexcept {
  if (pid_ <= 0) return;
  // It exits at once on "done" and end of file; do not hang on a stopped one.
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
    const auto end = steady_clock::now() + step.wait;
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
  // A terminal's signals, a hang-up, a SIGTERM meant for the runner's
  // group: none of them is the runner's death; only the end of file is.
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE, SIGTSTP, SIGTTIN, SIGTTOU}) {
    ::signal(sig, SIG_IGN);
  }
  const pid_t runner_group = ::getpgid(::getppid());
  const pid_t own_group = ::getpgrp();
  const pid_t session = ::getsid(0);

  std::set<pid_t> groups;
  bool done = false;
  for (;;) {
    message m{};
    const ssize_t n = ::recv(guardian_fd, &m, sizeof m, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // end of file: the runner is gone (or said done)
    if (n != static_cast<ssize_t>(sizeof m)) continue;
    switch (m.op) {
      case op_watch: groups.insert(m.pgid); break;
      case op_forget: groups.erase(m.pgid); break;
      case op_done: done = true; break;
      default: break;
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
