#include <cohort/io/process.hpp>

#include "io/spawn_support.hpp"

#include <cohort/cancel_scope.hpp>
#include <cohort/finally.hpp>
#include <cohort/sleep.hpp>

#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <system_error>

extern char** environ;

namespace cohort {

namespace {

using io_detail::throw_errno;

using namespace std::chrono_literals;
namespace asio = boost::asio;

// How long the destructor and kill_and_reap() block for a KILLed leader to
// exit. A process stuck in uninterruptible sleep (D state) may take longer;
// it is then left unreaped (a zombie of ours, never a running orphan).
constexpr auto kill_reap_limit = 1s;
// How often a group wait looks for the group's last members once the
// leader has exited (there is no descriptor to await a process group with):
// soon at first (a signalled group usually empties within a millisecond or
// two), then less and less often.
constexpr auto group_poll_first = 1ms;
constexpr auto group_poll_max = 20ms;
// Bytes read from one pipe per wake-up, so a flood cannot starve the loop.
constexpr std::size_t read_budget = std::size_t{256} * 1024;
constexpr std::size_t read_chunk = std::size_t{64} * 1024;

// An owned file descriptor.
class unique_fd {
 public:
  unique_fd() noexcept = default;
  explicit unique_fd(int fd) noexcept : fd_(fd) {}
  unique_fd(unique_fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  unique_fd& operator=(unique_fd&& o) noexcept {
    reset(std::exchange(o.fd_, -1));
    return *this;
  }
  ~unique_fd() { reset(); }
  int get() const noexcept { return fd_; }
  int release() noexcept { return std::exchange(fd_, -1); }
  void reset(int fd = -1) noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

// A pipe whose read end (ours) is non-blocking; both ends close on exec.
std::pair<unique_fd, unique_fd> make_pipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw_errno(errno, "cohort: pipe2");
  unique_fd r(fds[0]), w(fds[1]);
  if (::fcntl(r.get(), F_SETFL, O_NONBLOCK) != 0) throw_errno(errno, "cohort: fcntl");
  return {std::move(r), std::move(w)};
}

exit_status to_exit_status(const siginfo_t& info) noexcept {
  exit_status s;
  if (info.si_code == CLD_EXITED) {
    s.code = info.si_status;
  } else {
    s.signal = info.si_status;
    s.core_dumped = info.si_code == CLD_DUMPED;
  }
  return s;
}

}  // namespace

namespace detail {

// Everything about one child. Heap-allocated so that the Asio handlers of a
// wait can point at it while the `process` handle moves.
class process_state {
 public:
  explicit process_state(asio::io_context& io)
      : pidfd_(io), streams_{stream(io), stream(io)}, group_timer_(io) {}
  process_state(const process_state&) = delete;
  process_state& operator=(const process_state&) = delete;
  ~process_state() { assert(waiter_ == nullptr && "process destroyed while being waited for"); }

  struct stream {
    explicit stream(asio::io_context& io) : desc(io) {}
    asio::posix::stream_descriptor desc;
    std::string text;
    std::function<void(std::string_view)> sink;
    bool open = false;
    bool sink_failed = false;
  };

  // --- the wait operation ---------------------------------------------

  // `whole_group`: the wait ends when the group is gone (wait_group), else
  // at the leader's exit (wait).
  bool ready(bool whole_group) const noexcept {
    return (whole_group ? group_gone_ : finished_) || error_ != nullptr;
  }

  void start_wait(completion& c, bool whole_group) {
    if (waiter_ != nullptr) {
      throw std::logic_error("cohort: a process is waited for by one task at a time");
    }
    waiter_ = &c;
    stopping_ = false;
    whole_group_ = whole_group;
    poll_delay_ = group_poll_first;
    if (!finished_) {
      ++outstanding_;
      arm_exit();
    } else if (whole_group_ && !poll_group()) {
      ++outstanding_;
      arm_group_poll();
    }
    for (int i = 0; i < 2; ++i) {
      if (streams_[i].open) {
        ++outstanding_;
        arm_stream(i);
      }
    }
    maybe_complete();
  }

  // The Asio waits report back (aborted) on the loop; the operation
  // completes when the last one has.
  bool cancel_wait() noexcept {
    stop_waiting();
    return false;
  }

  bool must_resume(bool whole_group) const noexcept { return ready(whole_group); }

  exit_status result() {
    if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
    assert(status_);
    return *status_;
  }

  // --- the rest ---------------------------------------------------------

  bool group_alive() const noexcept {
    // Once the group was found empty, its id is free for reuse: never ask.
    if (pid_ <= 0 || group_gone_) return false;
    return ::kill(-pid_, 0) == 0 || errno == EPERM;
  }

  bool signal_group(int sig) noexcept {
    if (pid_ <= 0 || group_gone_) return false;
    const bool sent = ::kill(-pid_, sig) == 0;
    // A leader that moved itself to another group (setsid) is signalled
    // directly; its pid is ours until we reap it.
    if (!finished_ && ::getpgid(pid_) != pid_) ::kill(pid_, sig);
    return sent;
  }

  void kill_and_reap() noexcept {
    if (pid_ <= 0 || group_gone_) return;
    assert(waiter_ == nullptr);
    if (!finished_) {
      signal_group(SIGKILL);
      const auto limit = clock::now() + kill_reap_limit;
      while (!reap()) {
        const auto left = std::chrono::ceil<std::chrono::milliseconds>(limit - clock::now());
        if (left <= 0ms) break;
        pollfd p{pidfd_.native_handle(), POLLIN, 0};
        ::poll(&p, 1, static_cast<int>(left.count()));
      }
    }
    close_streams();
    if (group_alive()) ::kill(-pid_, SIGKILL);
    if (finished_) reap_adopted(clock::now() + kill_reap_limit);
  }

  void close_output() { finish_streams(); }

  pid_t pid_ = -1;
  asio::posix::stream_descriptor pidfd_;
  stream streams_[2];
  std::optional<exit_status> status_;
  std::chrono::system_clock::time_point start_wall_;
  time_point start_;
  time_point end_;
  bool finished_ = false;    // the leader is reaped
  bool group_gone_ = false;  // ... and no process is left in its group

 private:
  void arm_exit() {
    pidfd_.async_wait(asio::posix::stream_descriptor::wait_read,
                      [this](const boost::system::error_code& ec) { on_exit_ready(ec); });
  }
  void arm_stream(int i) {
    streams_[i].desc.async_wait(
        asio::posix::stream_descriptor::wait_read,
        [this, i](const boost::system::error_code& ec) { on_stream_ready(i, ec); });
  }

  void arm_group_poll() {
    group_timer_.expires_after(poll_delay_);
    poll_delay_ = std::min<duration>(poll_delay_ * 2, group_poll_max);
    group_timer_.async_wait([this](const boost::system::error_code& ec) { on_group_poll(ec); });
  }

  void on_exit_ready(const boost::system::error_code& ec) {
    --outstanding_;
    if (!ec) {
      if (reap()) {
        on_leader_reaped();
      } else if (!stopping_) {
        ++outstanding_;  // not exited after all: wait again
        arm_exit();
      }
    } else if (ec != asio::error::operation_aborted) {
      fail(std::make_exception_ptr(
          boost::system::system_error(ec, "cohort: waiting for a process")));
    }
    maybe_complete();
  }

  // Everything the leader wrote is in the pipes (a write to a pipe completes
  // before the writer can exit). If the group is empty, the output is
  // complete: it is read and the pipes close. Else what is there is read and
  // they stay open for the processes left in the group: wait() ends here,
  // wait_group() polls the group.
  void on_leader_reaped() {
    if (poll_group()) return;  // closing the pipes ends their waits
    read_pending();
    if (whole_group_) {
      if (stopping_) return;
      ++outstanding_;
      arm_group_poll();
    } else {
      stop_waiting();  // the stream waits report back, aborted
    }
  }

  void on_group_poll(const boost::system::error_code& ec) {
    --outstanding_;
    if (!ec && !poll_group() && !stopping_) {
      ++outstanding_;
      arm_group_poll();
    }
    maybe_complete();
  }

  // Once the leader is reaped: true when no process is left in its group.
  // Then every member has exited, so all they wrote is in the pipes: read it
  // and close them (a writer outside the group is not waited for).
  bool poll_group() {
    if (group_gone_) return true;
    reap_adopted(time_point{});
    if (group_alive()) return false;
    group_gone_ = true;
    finish_streams();
    return true;
  }

  // Reaps the dead members of the group that are our children: orphans
  // reparented to us (adopt_orphans), waiting until `until` for those still
  // alive. Only once the leader is reaped, so that this never takes the
  // leader's status from the pidfd's waitid.
  void reap_adopted(time_point until) noexcept {
    for (;;) {
      siginfo_t info;
      std::memset(&info, 0, sizeof info);
      const int r = ::waitid(P_PGID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG);
      if (r != 0 && errno == EINTR) continue;
      if (r != 0) return;                 // no child of ours in the group (ECHILD)
      if (info.si_pid != 0) continue;     // reaped one: look for more
      if (clock::now() >= until) return;  // some still alive
      ::poll(nullptr, 0, 1);
    }
  }

  void on_stream_ready(int i, const boost::system::error_code& ec) {
    stream& s = streams_[i];
    if (ec || !s.open) {
      --outstanding_;
      maybe_complete();
      return;
    }
    if (read_available(s, read_budget)) {
      close_stream(s);
      --outstanding_;
    } else if (stopping_) {
      --outstanding_;
    } else {
      arm_stream(i);
    }
    maybe_complete();
  }

  // Reads what the pipe holds, up to `limit` bytes. True at end of file.
  bool read_available(stream& s, std::size_t limit) {
    const int fd = s.desc.native_handle();
    std::size_t total = 0;
    while (total < limit) {
      const std::size_t want = std::min(read_chunk, limit - total);
      char* into;
      std::size_t old_size = 0;
      if (s.sink) {
        scratch_.resize(read_chunk);
        into = scratch_.data();
      } else {
        old_size = s.text.size();
        s.text.resize(old_size + want);
        into = s.text.data() + old_size;
      }
      const ssize_t n = ::read(fd, into, want);
      const std::size_t got = n > 0 ? static_cast<std::size_t>(n) : 0;
      if (!s.sink) s.text.resize(old_size + got);
      if (n > 0) {
        total += got;
        if (s.sink) deliver(s, std::string_view(into, got));
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return false;
      return true;  // end of file, or an error that ends the stream alike
    }
    return false;
  }

  void deliver(stream& s, std::string_view chunk) {
    if (s.sink_failed) return;
    try {
      s.sink(chunk);
    } catch (...) {
      s.sink_failed = true;  // later output of this stream is dropped
      fail(std::current_exception());
    }
  }

  // Reads what the pipes hold now (not what a writer adds meanwhile: a
  // chatty writer cannot keep us here).
  void read_pending() {
    for (stream& s : streams_) {
      if (!s.open) continue;
      int pending = 0;
      if (::ioctl(s.desc.native_handle(), FIONREAD, &pending) == 0 && pending > 0) {
        if (read_available(s, static_cast<std::size_t>(pending))) close_stream(s);
      }
    }
  }

  void finish_streams() {
    read_pending();
    close_streams();
  }

  void close_stream(stream& s) noexcept {
    boost::system::error_code ignored;
    s.desc.close(ignored);  // a pending wait on it reports operation_aborted
    s.open = false;
  }
  void close_streams() noexcept {
    for (stream& s : streams_) close_stream(s);
  }

  // True once the child is reaped (or lost: see error_).
  bool reap() noexcept {
    if (finished_) return true;
    siginfo_t info;
    std::memset(&info, 0, sizeof info);
    int r;
    do {
      r = ::waitid(P_PIDFD, static_cast<id_t>(pidfd_.native_handle()), &info, WEXITED | WNOHANG);
    } while (r != 0 && errno == EINTR);
    if (r == 0 && info.si_pid == 0) return false;  // still running
    finished_ = true;
    end_ = clock::now();
    if (r == 0) {
      status_ = to_exit_status(info);
    } else {
      const int e = errno;
      try {
        error_ = std::make_exception_ptr(
            std::system_error(e, std::generic_category(),
                              "cohort: cannot reap process " + std::to_string(pid_) +
                                  " (reaped elsewhere? SIGCHLD must not be ignored)"));
      } catch (...) {
        error_ = std::current_exception();
      }
    }
    boost::system::error_code ignored;
    pidfd_.close(ignored);
    return true;
  }

  void fail(std::exception_ptr e) noexcept {
    if (!error_) error_ = std::move(e);
    stop_waiting();
  }

  void stop_waiting() noexcept {
    stopping_ = true;
    boost::system::error_code ignored;
    if (pidfd_.is_open()) pidfd_.cancel(ignored);
    group_timer_.cancel();
    for (stream& s : streams_) {
      if (s.open) s.desc.cancel(ignored);
    }
  }

  void maybe_complete() noexcept {
    if (outstanding_ != 0 || waiter_ == nullptr) return;
    std::exchange(waiter_, nullptr)->complete();
  }

  completion* waiter_ = nullptr;
  int outstanding_ = 0;  // Asio waits whose handler has not run yet
  bool stopping_ = false;
  bool whole_group_ = false;  // the wait in progress is wait_group()
  asio::steady_timer group_timer_;
  duration poll_delay_ = group_poll_first;
  std::exception_ptr error_;
  std::vector<char> scratch_;
};

}  // namespace detail

// --- options and results ----------------------------------------------------

std::vector<std::string> shell_argv(std::string command) {
  return {"/bin/sh", "-c", std::move(command)};
}

// --- spawning ---------------------------------------------------------------

process process::spawn(boost::asio::io_context& io, const process_options& options) {
  if (options.argv.empty()) throw std::invalid_argument("cohort::process::spawn: empty argv");
  if (options.out == output_mode::merge) {
    throw std::invalid_argument("cohort::process::spawn: output_mode::merge is for stderr only");
  }
  const std::string& command = options.argv.front();

  io_detail::spawn_file_actions actions;
  io_detail::spawn_attributes attributes;
  auto check = [&](int rc) {
    if (rc != 0) throw_errno(rc, "cohort: cannot prepare to spawn '" + command + "'");
  };

  // Own process group; default dispositions for every signal; empty mask.
  sigset_t all, none;
  sigfillset(&all);
  sigemptyset(&none);
  check(::posix_spawnattr_setflags(
      attributes.get(), POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK));
  check(::posix_spawnattr_setpgroup(attributes.get(), 0));
  check(::posix_spawnattr_setsigdefault(attributes.get(), &all));
  check(::posix_spawnattr_setsigmask(attributes.get(), &none));

  posix_spawn_file_actions_t* fa = actions.get();
  if (options.in == stdin_mode::null) {
    check(::posix_spawn_file_actions_addopen(fa, 0, "/dev/null", O_RDONLY, 0));
  } else if (options.in == stdin_mode::descriptor) {
    if (options.in_fd < 0) {
      throw std::invalid_argument("cohort::process::spawn: stdin_mode::descriptor without in_fd");
    }
    // dup2 onto itself would keep its close-on-exec flag: never ask for it.
    if (options.in_fd != 0) check(::posix_spawn_file_actions_adddup2(fa, options.in_fd, 0));
  }
  unique_fd read_ends[2], write_ends[2];
  const output_mode modes[2] = {options.out, options.err};
  for (int i = 0; i < 2; ++i) {
    const int target = i + 1;
    switch (modes[i]) {
      case output_mode::inherit: break;
      case output_mode::capture: {
        auto [r, w] = make_pipe();
        check(::posix_spawn_file_actions_adddup2(fa, w.get(), target));
        read_ends[i] = std::move(r);
        write_ends[i] = std::move(w);
        break;
      }
      case output_mode::discard:
        check(::posix_spawn_file_actions_addopen(fa, target, "/dev/null", O_WRONLY, 0));
        break;
      case output_mode::merge: check(::posix_spawn_file_actions_adddup2(fa, 1, 2)); break;
    }
  }
  if (!options.cwd.empty()) {
    check(::posix_spawn_file_actions_addchdir_np(fa, options.cwd.c_str()));
  }

  std::vector<char*> argv;
  argv.reserve(options.argv.size() + 1);
  for (const std::string& a : options.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);

  std::vector<std::string> added;
  std::vector<char*> envp;
  char** env = environ;
  if (!options.env.empty()) {
    for (const auto& [name, value] : options.env) {
      std::string& entry = added.emplace_back(name);
      entry += '=';
      entry += value;
    }
    for (char** e = environ; *e != nullptr; ++e) {
      const std::string_view entry(*e);
      const std::string_view name = entry.substr(0, entry.find('='));
      const bool replaced = std::any_of(options.env.begin(), options.env.end(),
                                        [&](const auto& kv) { return kv.first == name; });
      if (!replaced) envp.push_back(*e);
    }
    for (std::string& a : added) envp.push_back(a.data());
    envp.push_back(nullptr);
    env = envp.data();
  }

  auto s = std::make_unique<detail::process_state>(io);
  s->start_wall_ = std::chrono::system_clock::now();
  s->start_ = clock::now();
  pid_t pid = -1;
  const int rc = ::posix_spawnp(&pid, command.c_str(), fa, attributes.get(), argv.data(), env);
  for (unique_fd& w : write_ends) w.reset();
  if (rc != 0) {
    std::string what = "cohort: cannot spawn '" + command + "'";
    if (!options.cwd.empty()) what += " in directory '" + options.cwd + "'";
    throw_errno(rc, what);
  }
  s->pid_ = pid;

  // From here on a failure must not leave the child behind.
  auto abandon = [&](int error, const char* what) {
    ::kill(-pid, SIGKILL);
    ::kill(pid, SIGKILL);
    int ignored;
    while (::waitpid(pid, &ignored, 0) < 0 && errno == EINTR) {
    }
    s->pid_ = -1;
    throw_errno(error, std::string("cohort: ") + what + " for '" + command + "'");
  };
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) abandon(errno, "pidfd_open (Linux 5.3 or later) failed");
  boost::system::error_code ec;
  s->pidfd_.assign(pidfd, ec);
  if (ec) {
    ::close(pidfd);
    abandon(ec.value(), "registering the pidfd");
  }
  for (int i = 0; i < 2; ++i) {
    if (read_ends[i].get() < 0) continue;
    detail::process_state::stream& st = s->streams_[i];
    st.desc.assign(read_ends[i].get(), ec);
    if (ec) abandon(ec.value(), "registering a pipe");
    read_ends[i].release();
    st.open = true;
    st.sink = i == 0 ? options.on_stdout : options.on_stderr;
  }
  return process(std::move(s));
}

// --- process ----------------------------------------------------------------

process::process(std::unique_ptr<detail::process_state> s) noexcept : s_(std::move(s)) {}
process::process(process&& other) noexcept = default;
process& process::operator=(process&& other) noexcept {
  if (this != &other) {
    if (s_) s_->kill_and_reap();
    s_ = std::move(other.s_);
  }
  return *this;
}
process::~process() {
  if (s_) s_->kill_and_reap();
}

pid_t process::pid() const noexcept {
  return s_->pid_;
}
bool process::exited() const noexcept {
  return s_->finished_;
}
std::optional<exit_status> process::status() const noexcept {
  return s_->status_;
}
std::chrono::system_clock::time_point process::start_time() const noexcept {
  return s_->start_wall_;
}
duration process::runtime() const noexcept {
  return (s_->finished_ ? s_->end_ : clock::now()) - s_->start_;
}
const std::string& process::stdout_text() const noexcept {
  return s_->streams_[0].text;
}
const std::string& process::stderr_text() const noexcept {
  return s_->streams_[1].text;
}
std::string process::take_stdout() noexcept {
  return std::move(s_->streams_[0].text);
}
std::string process::take_stderr() noexcept {
  return std::move(s_->streams_[1].text);
}
process::wait_op process::wait() noexcept {
  return wait_op(*s_, false);
}
process::wait_op process::wait_group() noexcept {
  return wait_op(*s_, true);
}
bool process::group_exited() const noexcept {
  return s_->group_gone_;
}
bool process::signal_group(int sig) noexcept {
  return s_->signal_group(sig);
}
bool process::group_alive() const noexcept {
  return s_->group_alive();
}
void process::kill_and_reap() noexcept {
  s_->kill_and_reap();
}
void process::close_output() {
  s_->close_output();
}

bool process::wait_op::ready() const noexcept {
  return s_->ready(group_);
}
void process::wait_op::start(completion& c) {
  s_->start_wait(c, group_);
}
bool process::wait_op::cancel() noexcept {
  return s_->cancel_wait();
}
bool process::wait_op::must_resume() const noexcept {
  return s_->must_resume(group_);
}
exit_status process::wait_op::result() {
  return s_->result();
}

bool adopt_orphans() noexcept {
  return ::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0;
}

// --- terminate, supervise, run_process -------------------------------------

namespace {

task<exit_status> wait_for_exit(process& p) {
  co_return co_await p.wait();
}

task<exit_status> wait_for_group(process& p) {
  co_return co_await p.wait_group();
}

// If the task holding it is unwound (escalation, an expired grace), the
// group is KILLed and the leader reaped on the way out.
struct kill_on_unwind {
  process* p;
  ~kill_on_unwind() {
    if (p != nullptr) p->kill_and_reap();
  }
};

// Waits until the leader has exited and the group is empty, or `deadline`.
// An error from the wait (an output callback that threw) is kept in `error`.
task<> await_group_gone(process& p, time_point deadline, std::exception_ptr& error) {
  while (!p.group_exited() && clock::now() < deadline) {
    try {
      (void)co_await move_on_at(deadline, wait_for_group(p));
    } catch (...) {
      if (!error) error = std::current_exception();
    }
  }
}

}  // namespace

task<> terminate(process& p, term_sequence seq) {
  if (p.group_exited()) co_return;
  kill_on_unwind guard{&p};
  std::exception_ptr error;
  for (const term_step& step : seq) {
    // Once the leader is reaped, its pgid is signalled only while the group
    // has members: an empty group's id may be reused.
    if (!p.exited() || p.group_alive()) p.signal_group(step.signal);
    co_await await_group_gone(p, deadline_after(clock::now(), step.wait), error);
    if (p.group_exited()) break;
  }
  if (!p.exited()) {
    p.signal_group(SIGKILL);  // cannot be refused: wait for the leader's exit
    while (!p.exited()) {
      try {
        (void)co_await wait_for_exit(p);
      } catch (...) {
        if (!error) error = std::current_exception();
      }
    }
  }
  if (!p.group_exited()) {
    // Left: zombies nobody reaps, or what a KILL has not finished yet. None
    // writes any more: what the group wrote is in the pipes.
    if (p.group_alive()) p.signal_group(SIGKILL);
    p.close_output();
  }
  guard.p = nullptr;
  if (error) std::rethrow_exception(error);
}

task<exit_status> supervise(process& p, term_sequence seq) {
  // The cleanup's grace: the sequence's waits plus a second (unbounded if a
  // step waits duration::max(), "until the group is gone").
  const duration grace = saturating_add(total_wait(seq), 1s);
  co_return co_await finally(
      wait_for_exit(p), [&p, &seq] { return terminate(p, seq); }, grace);
}

task<process_result> run_process(boost::asio::io_context& io, process_options options,
                                 term_sequence seq) {
  co_await checkpoint();  // in a cancelled scope, start nothing
  process p = process::spawn(io, options);
  process_result r;
  r.pid = p.pid();
  r.status = co_await supervise(p, std::move(seq));
  r.start_time = p.start_time();
  r.runtime = p.runtime();
  r.out = p.take_stdout();
  r.err = p.take_stderr();
  co_return r;
}

}  // namespace cohort
