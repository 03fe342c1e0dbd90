#include <cohort/runtime/run.hpp>

#include <cohort/detail/trace.hpp>
#include <cohort/task_group.hpp>

#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <optional>

namespace cohort {

held_signals::held_signals(std::initializer_list<int> signals) noexcept {
  sigset_t set;
  sigemptyset(&set);
  for (const int sig : signals) sigaddset(&set, sig);
  active_ = pthread_sigmask(SIG_BLOCK, &set, &old_) == 0;
}

void held_signals::release() noexcept {
  if (!active_) return;
  active_ = false;
  pthread_sigmask(SIG_SETMASK, &old_, nullptr);
}

runtime::runtime(const run_options& options)
    : io_(1), loop_(io_), pool_(io_, options.blocking_threads), options_(options) {}

std::string runtime::dump() const {
  std::string out;
  if (const detail::cancel_node* root = loop_.root()) {
    root->dump(out);
  } else {
    out = "(no task running)\n";
  }
  return out;
}

namespace {

const char* trace_name(detail::trace_kind k) {
  using detail::trace_kind;
  switch (k) {
    case trace_kind::spawned: return "spawned";
    case trace_kind::started: return "started";
    case trace_kind::not_started: return "not-started";
    case trace_kind::finished: return "finished";
    case trace_kind::failed: return "failed";
    case trace_kind::cancelled: return "cancelled";
    case trace_kind::cancel_requested: return "cancel-requested";
    case trace_kind::cleanup_begun: return "cleanup-begun";
    case trace_kind::cleanup_ended: return "cleanup-ended";
    case trace_kind::cleanup_cut: return "cleanup-cut";
  }
  return "?";
}

time_point trace_epoch;

void trace_to_stderr(const detail::trace_record& r) noexcept {
  try {
    const auto ms = std::chrono::duration<double, std::milli>(clock::now() - trace_epoch).count();
    std::string line = "cohort-trace +";
    line += std::to_string(ms);
    line += "ms ";
    line += trace_name(r.kind);
    if (r.task != nullptr) {
      line += ' ';
      r.task->describe_chain(line);
    }
    if (r.reason != cancel_reason::none) {
      line += " reason=";
      line += to_string(r.reason);
    }
    line += '\n';
    std::fputs(line.c_str(), stderr);
  } catch (...) {
    // Tracing must never disturb the run.
  }
}

// Ignores SIGINT/SIGTERM from now on without a window in which the default
// action (death by signal) could apply: block, drop Asio's handlers, ignore,
// unblock (a pending signal is then discarded).
void ignore_terminating_signals(boost::asio::signal_set& sigs) {
  sigset_t set, old;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, &old);
  boost::system::error_code ignored;
  sigs.clear(ignored);
  std::signal(SIGINT, SIG_IGN);
  std::signal(SIGTERM, SIG_IGN);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

// Records the first SIGINT/SIGTERM the moment it is delivered, in front of
// Asio's handler (which it then calls). Asio hands a signal to the loop only
// when the loop gets a turn, and a main that ends in the same turn (its last
// synchronous step) never gives it one: without this record such a signal
// would be queued and forgotten, and the run reported as not interrupted.
class arrival_record {
 public:
  arrival_record() {
    arrived_.store(0);
    struct sigaction sa {};
    sa.sa_sigaction = &on_signal;
    sa.sa_flags = SA_SIGINFO;
    sigfillset(&sa.sa_mask);
    ::sigaction(SIGINT, &sa, &previous_[0]);
    ::sigaction(SIGTERM, &sa, &previous_[1]);
  }
  arrival_record(const arrival_record&) = delete;
  arrival_record& operator=(const arrival_record&) = delete;
  /// Puts Asio's handlers back (call with SIGINT/SIGTERM blocked).
  ~arrival_record() {
    ::sigaction(SIGINT, &previous_[0], nullptr);
    ::sigaction(SIGTERM, &previous_[1], nullptr);
  }
  /// The first signal delivered since construction, or 0.
  static int first() noexcept { return arrived_.load(); }

 private:
  static void on_signal(int signo, siginfo_t* info, void* context) {
    int none = 0;
    arrived_.compare_exchange_strong(none, signo);
    const struct sigaction& prev = previous_[signo == SIGINT ? 0 : 1];
    if ((prev.sa_flags & SA_SIGINFO) != 0) {
      if (prev.sa_sigaction != nullptr) prev.sa_sigaction(signo, info, context);
    } else if (prev.sa_handler != SIG_DFL && prev.sa_handler != SIG_IGN &&
               prev.sa_handler != nullptr) {
      prev.sa_handler(signo);
    }
  }
  static_assert(std::atomic<int>::is_always_lock_free, "used in a signal handler");
  static inline std::atomic<int> arrived_{0};
  static inline struct sigaction previous_[2] = {};
};

// Dies by `signo`: default action, unblocked, raised. Returns only if the
// signal could not kill the process (PID 1 of a PID namespace).
void die_by(int signo) noexcept {
  struct sigaction sa {};
  sa.sa_handler = SIG_DFL;
  sigemptyset(&sa.sa_mask);
  ::sigaction(signo, &sa, nullptr);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, signo);
  pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
  std::raise(signo);
}

}  // namespace

int exit_like(const run_outcome& outcome) {
  if (outcome.signal == 0) return outcome.code;
  std::fflush(nullptr);
  die_by(outcome.signal);
  return 128 + outcome.signal;
}

int run(const std::function<task<int>(runtime&)>& main, run_options options) {
  return run_with_outcome(main, options).code;
}

run_outcome run_with_outcome(const std::function<task<int>(runtime&)>& main, run_options options) {
  runtime rt(options);
  std::FILE* out = options.messages;

  const bool tracing = std::getenv("COHORT_TRACE") != nullptr;
  detail::trace_sink_fn previous_sink = detail::trace_sink();
  if (tracing) {
    trace_epoch = clock::now();
    detail::trace_sink() = &trace_to_stderr;
  }

  boost::asio::signal_set sigs(rt.io_);
  sigs.add(SIGINT);
  sigs.add(SIGTERM);
  if (options.sighup_drains) sigs.add(SIGHUP);
  if (options.sigquit_dumps) sigs.add(SIGQUIT);
  std::optional<arrival_record> arrivals(std::in_place);
  boost::asio::steady_timer grace(rt.io_);
  boost::asio::steady_timer limit(rt.io_);

  auto escalate = [&](const char* why) {
    if (rt.escalated_) return;
    rt.escalated_ = true;
    detail::cancel_node* root = rt.loop_.root();
    if (root == nullptr) return;
    std::string cleanups;
    root->dump_cleanups(cleanups);
    if (cleanups.empty()) {
      std::fprintf(out, "cohort: %s: escalating\n", why);
    } else {
      std::fprintf(out, "cohort: %s: escalating; cutting cleanups still running:\n%s", why,
                   cleanups.c_str());
    }
    std::fflush(out);
    root->cancel(cancel_reason::escalated, detail::cancel_level::hard);
    limit.expires_after(options.escalation_limit);
    limit.async_wait([&](const boost::system::error_code& ec) {
      if (ec) return;
      std::fprintf(out, "cohort: still running %.1f s after escalation; exiting now:\n%s",
                   std::chrono::duration<double>(options.escalation_limit).count(),
                   rt.dump().c_str());
      std::fflush(out);
      std::fflush(nullptr);
      if (rt.signal_ != 0) die_by(rt.signal_);
      std::_Exit(rt.signal_ != 0 ? 128 + rt.signal_ : 1);
    });
  };

  std::function<void()> wait_for_signal = [&] {
    sigs.async_wait([&](const boost::system::error_code& ec, int signo) {
      if (ec) return;
      if (signo == SIGQUIT) {
        std::fprintf(out, "cohort: task tree:\n%s", rt.dump().c_str());
        std::fflush(out);
      } else if (signo == SIGHUP) {
        rt.drain_.set();
      } else if (rt.signal_ == 0) {
        rt.signal_ = signo;
        rt.signal_time_ = clock::now();
        if (detail::cancel_node* root = rt.loop_.root()) root->cancel(cancel_reason::signal);
        grace.expires_after(options.grace);
        grace.async_wait([&](const boost::system::error_code& e) {
          if (!e) escalate("grace period ended");
        });
      } else {
        escalate("second signal");
      }
      wait_for_signal();
    });
  };
  wait_for_signal();

  int code = 1;
  try {
    code = rt.loop_.run(main(rt));
  } catch (const cancelled_error&) {
    code = 1;
  } catch (const std::exception& e) {
    std::fprintf(out, "error: %s\n", e.what());
  } catch (...) {
    // A thrown int or a type of the program's own: still an error, not
    // std::terminate.
    std::fprintf(out, "error: main threw a non-standard exception\n");
  }

  grace.cancel();
  limit.cancel();
  {
    // From here on a signal is late. One delivered before now counts, even
    // if the loop never got to it (main ended in the turn it arrived).
    held_signals hold{SIGINT, SIGTERM};
    if (rt.signal_ == 0 && arrival_record::first() != 0) {
      rt.signal_ = arrival_record::first();
      rt.signal_time_ = clock::now();
    }
    arrivals.reset();
  }
  if (rt.signal_ != 0) code = 128 + rt.signal_;
  if (options.ignore_signals_after) {
    ignore_terminating_signals(sigs);
  } else {
    boost::system::error_code ignored;
    sigs.clear(ignored);
  }
  sigs.cancel();
  if (tracing) detail::trace_sink() = previous_sink;
  std::fflush(out);
  return {code, rt.signal_};
}

}  // namespace cohort
