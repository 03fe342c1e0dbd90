#include "cohort/run/startup_signal_block.hpp"

#include <pthread.h>

#include <initializer_list>

namespace cohort::app::run {

startup_signal_block::startup_signal_block() {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&set, sig);
  active_ = pthread_sigmask(SIG_BLOCK, &set, &old_) == 0;
}

void startup_signal_block::release() noexcept {
  if (!active_) return;
  active_ = false;
  pthread_sigmask(SIG_SETMASK, &old_, nullptr);
}

}  // namespace cohort::app::run
