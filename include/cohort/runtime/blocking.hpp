#pragma once
/// \file
/// `cohort::blocking_pool`: run blocking calls on worker threads and await
/// them.

#include <cohort/operation.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>

#include <atomic>
#include <exception>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>

namespace cohort {

namespace detail {

template <class F>
class blocking_op {
  using value_type = std::invoke_result_t<F&>;
  using stored_type = std::conditional_t<std::is_void_v<value_type>, bool, value_type>;
  enum : int { queued, running, finished, cancelled };

  struct shared {
    explicit shared(F f, boost::asio::io_context& io) : fn(std::move(f)), io(&io) {}
    std::atomic<int> state{queued};
    F fn;
    boost::asio::io_context* io;
    completion* done = nullptr;
    std::optional<stored_type> value;
    std::exception_ptr error;
  };

 public:
  blocking_op(F fn, boost::asio::io_context& io, boost::asio::thread_pool& pool)
      : state_(std::make_shared<shared>(std::move(fn), io)), pool_(&pool) {}

  void start(completion& c) {
    state_->done = &c;
    boost::asio::post(*pool_, [s = state_] {
      int expected = queued;
      if (!s->state.compare_exchange_strong(expected, running)) return;  // cancelled first
      try {
        if constexpr (std::is_void_v<value_type>) {
          s->fn();
          s->value.emplace(true);
        } else {
          s->value.emplace(s->fn());
        }
      } catch (...) {
        s->error = std::current_exception();
      }
      s->state.store(finished);
      // Completion is reported on the loop's thread.
      boost::asio::post(*s->io, [s] { s->done->complete(); });
    });
  }
  /// A call still queued is dropped; a call already running cannot be
  /// interrupted, so the task waits for it to return.
  bool cancel() noexcept {
    int expected = queued;
    return state_->state.compare_exchange_strong(expected, cancelled);
  }
  bool must_resume() const noexcept { return true; }
  const char* name() const noexcept { return "blocking call"; }
  value_type result() {
    if (state_->error) std::rethrow_exception(state_->error);
    if constexpr (!std::is_void_v<value_type>) return std::move(*state_->value);
  }

 private:
  std::shared_ptr<shared> state_;
  boost::asio::thread_pool* pool_;
};

}  // namespace detail

/// Worker threads for blocking calls (file system, CPU-heavy work, C
/// libraries without async APIs), awaited from the loop.
///
/// Cancellation: a call still queued is dropped and the task unwinds at once;
/// a call already running cannot be interrupted, so the awaiting task waits
/// for it to return, receives its result (it completed), and unwinds at its
/// next wait. Keep blocking calls short, or make them check a flag.
///
/// The threads start with the first `run()`: a program that never makes a
/// blocking call (every `cohort::run` has a pool) neither starts nor joins
/// them, which is half of the time from a signal to the end of such a run.
///
///     cohort::blocking_pool pool(io, 2);
///     auto bytes = co_await pool.run([&] { return read_whole_file(path); });
class blocking_pool {
 public:
  blocking_pool(boost::asio::io_context& io, std::size_t threads) : io_(&io), threads_(threads) {}
  blocking_pool(const blocking_pool&) = delete;
  blocking_pool& operator=(const blocking_pool&) = delete;
  ~blocking_pool() {
    if (pool_) pool_->join();
  }

  /// Runs `fn()` on a worker thread (a cancellable operation). Call from the
  /// loop's thread.
  template <class F>
  [[nodiscard]] detail::blocking_op<F> run(F fn) {
    if (!pool_) pool_.emplace(threads_);
    return detail::blocking_op<F>(std::move(fn), *io_, *pool_);
  }

 private:
  boost::asio::io_context* io_;
  std::size_t threads_;
  std::optional<boost::asio::thread_pool> pool_;  // started by the first run()
};

}  // namespace cohort
