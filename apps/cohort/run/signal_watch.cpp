#include "cohort/run/signal_watch.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <stdexcept>
#include <system_error>

namespace cohort::app::run {

namespace {

constexpr int watched[] = {SIGINT, SIGTERM, SIGHUP};
constexpr int nwatched = 3;

// Async-signal-safe state of the one live watch.
std::atomic<unsigned> seen_mask{0};
int pipe_fds[2] = {-1, -1};
struct sigaction previous[nwatched];
std::atomic<bool> installed{false};

int index_of(int sig) noexcept {
  for (int i = 0; i < nwatched; ++i) {
    if (watched[i] == sig) return i;
  }
  return -1;
}

void on_signal(int sig, siginfo_t* info, void* context) {
  const int saved_errno = errno;
  const int i = index_of(sig);
  if (i >= 0) {
    seen_mask.fetch_or(1u << i);
    const char byte = 1;
    [[maybe_unused]] const ssize_t ignored = ::write(pipe_fds[1], &byte, 1);
    const struct sigaction& prev = previous[i];
    if ((prev.sa_flags & SA_SIGINFO) != 0) {
      if (prev.sa_sigaction != nullptr) prev.sa_sigaction(sig, info, context);
    } else if (prev.sa_handler != SIG_DFL && prev.sa_handler != SIG_IGN &&
               prev.sa_handler != nullptr) {
      prev.sa_handler(sig);
    }
  }
  errno = saved_errno;
}

}  // namespace

signal_watch::signal_watch() {
  if (installed.exchange(true)) throw std::logic_error("cohort run: one signal_watch at a time");
  if (::pipe2(pipe_fds, O_NONBLOCK | O_CLOEXEC) != 0) {
    installed = false;
    throw std::system_error(errno, std::generic_category(), "signal_watch: pipe2");
  }
  seen_mask = 0;
}

signal_watch::~signal_watch() {
  disarm();
  ::close(pipe_fds[0]);
  ::close(pipe_fds[1]);
  pipe_fds[0] = pipe_fds[1] = -1;
  installed = false;
}

void signal_watch::arm() {
  if (armed_) return;
  struct sigaction sa {};
  sa.sa_sigaction = &on_signal;
  sa.sa_flags = SA_SIGINFO;
  sigfillset(&sa.sa_mask);
  // Block while swapping, so no delivery sees half of the state.
  sigset_t set, old;
  sigemptyset(&set);
  for (int sig : watched) sigaddset(&set, sig);
  pthread_sigmask(SIG_BLOCK, &set, &old);
  for (int i = 0; i < nwatched; ++i) ::sigaction(watched[i], &sa, &previous[i]);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  armed_ = true;
}

void signal_watch::disarm() noexcept {
  if (!armed_) return;
  sigset_t set, old;
  sigemptyset(&set);
  for (int sig : watched) sigaddset(&set, sig);
  pthread_sigmask(SIG_BLOCK, &set, &old);
  for (int i = 0; i < nwatched; ++i) ::sigaction(watched[i], &previous[i], nullptr);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  armed_ = false;
}

int signal_watch::fd() const noexcept {
  return pipe_fds[0];
}

bool signal_watch::any() const noexcept {
  return seen_mask.load() != 0;
}

bool signal_watch::seen(int sig) const noexcept {
  const int i = index_of(sig);
  return i >= 0 && (seen_mask.load() & (1u << i)) != 0;
}

}  // namespace cohort::app::run
