#pragma once
// `startup_signal_block`: holds SIGINT, SIGTERM and SIGHUP while `cohort run`
// starts up, until the runtime's handlers exist.

#include <csignal>

namespace cohort::app::run {

/// Blocks SIGINT, SIGTERM and SIGHUP in the calling thread until `release()`
/// or destruction: a signal that arrives while the tool starts up is held
/// (not fatal) and delivered to the handlers once they exist.
///
///     startup_signal_block held;   // first thing in main
///     ...                          // parse, open the inputs and the joblog
///     held.release();              // inside cohort::run's task
class startup_signal_block {
 public:
  startup_signal_block();
  startup_signal_block(const startup_signal_block&) = delete;
  startup_signal_block& operator=(const startup_signal_block&) = delete;
  ~startup_signal_block() { release(); }
  /// Restores the previous signal mask (pending signals are delivered now).
  void release() noexcept;

 private:
  sigset_t old_{};
  bool active_ = false;
};

}  // namespace cohort::app::run
