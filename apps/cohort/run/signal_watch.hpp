#pragma once
// `signal_watch`: notices SIGINT, SIGTERM and SIGHUP the moment they arrive,
// before the loop gets to them, for the parts of `cohort run` that cannot
// wait on the loop (the synchronous job source, a blocking read of a pipe).

#include <csignal>

namespace cohort::app::run {

/// While armed, a signal_watch sits in front of the handlers installed for
/// SIGINT, SIGTERM and SIGHUP (cohort::run's): each delivery is recorded,
/// makes `fd()` readable, and is then passed to the previous handler, so the
/// runtime still sees every signal. Only one may exist at a time. Arm it
/// after the runtime installed its handlers and disarm it before the runtime
/// removes them (inside the task given to cohort::run). The descriptor
/// exists from construction, so readers can be given it before arming.
/// Throws std::system_error if the pipe cannot be made.
///
///     signal_watch watch;             // fd() can be handed out now
///     watch.arm();                    // inside cohort::run's task
///     if (watch.any()) return;        // a signal arrived: start nothing more
///     watch.disarm();                 // before that task ends
class signal_watch {
 public:
  signal_watch();
  signal_watch(const signal_watch&) = delete;
  signal_watch& operator=(const signal_watch&) = delete;
  /// Disarms and closes the descriptor.
  ~signal_watch();

  /// Installs the handlers in front of the current ones.
  void arm();
  /// Puts the previous handlers back (idempotent).
  void disarm() noexcept;

  /// Readable once any of the three signals arrived while armed (never drained).
  [[nodiscard]] int fd() const noexcept;
  /// True once any of them arrived.
  [[nodiscard]] bool any() const noexcept;
  /// True once `sig` arrived.
  [[nodiscard]] bool seen(int sig) const noexcept;

 private:
  bool armed_ = false;
};

}  // namespace cohort::app::run
