#pragma once
/// \file
/// `cohort::asio_loop`: Cohort's scheduler on a Boost.Asio io_context.

#include <cohort/detail/cancel_node.hpp>
#include <cohort/detail/root.hpp>
#include <cohort/detail/timer_heap.hpp>
#include <cohort/scheduler.hpp>
#include <cohort/task.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

namespace cohort {

/// Runs Cohort tasks on one thread of a Boost.Asio `io_context`, next to
/// any Asio I/O objects on the same context.
///
/// Cohort's ready queue is drained by one posted Asio handler at a time (in
/// batches, so I/O completions interleave fairly); Cohort's timers live in
/// one heap behind a single `steady_timer`, so arming and cancelling a
/// deadline never allocates or touches Asio. Use it from the io_context's
/// thread only.
///
///     boost::asio::io_context io;
///     cohort::asio_loop loop(io);
///     int v = loop.run(app());   // runs io until app() ends
class asio_loop final : public scheduler {
 public:
  explicit asio_loop(boost::asio::io_context& io);
  asio_loop(const asio_loop&) = delete;
  asio_loop& operator=(const asio_loop&) = delete;
  ~asio_loop();

  void post(detail::runnable& r) noexcept override;
  time_point now() const noexcept override { return clock::now(); }
  void add_timer(detail::timer_entry& t) override;
  void remove_timer(detail::timer_entry& t) noexcept override;

  boost::asio::io_context& io() const noexcept { return *io_; }

  /// Runs `t` as the top-level task, driving the io_context until it ends;
  /// returns its value, rethrows its exception, or throws `cancelled_error`.
  ///
  /// If an Asio handler throws out of the io_context, the task tree is torn
  /// down before the exception leaves: the root is cancelled hard (shields
  /// pierced) and the io_context runs until every task has unwound, so every
  /// destructor runs, children before their owners, pending Asio operations
  /// complete, and no timer or ready entry of the dead run stays in the
  /// loop, which can run again. Further exceptions during the tear-down are
  /// dropped; the first one is rethrown.
  template <class T>
  T run(task<T> t) {
    detail::cancel_node root(*this);
    detail::root_task<T> r(std::move(t), root);
    root_ = &root;
    struct reset {
      asio_loop* l;
      ~reset() { l->root_ = nullptr; }
    } guard{this};
    set_turn_time(now());
    r.start();
    try {
      while (!r.done()) run_one();
    } catch (...) {
      // Tear the tree down before the exception leaves (see above).
      root.cancel(cancel_reason::requested, detail::cancel_level::hard);
      while (!r.done()) {
        try {
          run_one();
        } catch (...) {  // the first exception is the one reported
        }
      }
      drain_now();
      throw;
    }
    drain_now();
    return r.result();
  }

  /// The root scope of the task being run (null when none).
  detail::cancel_node* root() const noexcept { return root_; }

 private:
  void run_one() {
    if (io_->stopped()) io_->restart();
    io_->run_one();
  }
  void schedule_drain();
  void drain_now() noexcept;
  void rearm();
  void schedule_due();

  boost::asio::io_context* io_;
  boost::asio::steady_timer timer_;
  detail::run_queue ready_;
  detail::timer_heap timers_;
  detail::cancel_node* root_ = nullptr;
  time_point armed_for_ = time_point::max();
  bool drain_posted_ = false;
  bool due_posted_ = false;
};

}  // namespace cohort
