#include <cohort/runtime/asio_loop.hpp>

#include <boost/asio/post.hpp>

#include <chrono>

namespace cohort {

namespace {
// Runnables run per posted Asio handler before I/O (and so a signal) gets a
// turn: at most drain_batch, and no more than drain_time. Counting alone is
// not a bound in time: each runnable may be a runner worker that completes
// 64 synchronous items before it yields, which under ASan took 1.2 s for a
// batch (a SIGINT waited that long). The clock is read every
// drain_clock_every runnables.
constexpr int drain_batch = 4096;
constexpr int drain_clock_every = 64;
static_assert(drain_batch % drain_clock_every == 0);
constexpr auto drain_time = std::chrono::milliseconds(1);
}  // namespace

asio_loop::asio_loop(boost::asio::io_context& io) : io_(&io), timer_(io) {}

asio_loop::~asio_loop() {
  timer_.cancel();
}

void asio_loop::post(detail::runnable& r) noexcept {
  ready_.push(r);
  schedule_drain();
}

void asio_loop::schedule_drain() {
  if (drain_posted_) return;
  drain_posted_ = true;
  boost::asio::post(*io_, [this] {
    drain_posted_ = false;
    time_point t = clock::now();
    set_turn_time(t);
    const time_point until = t + drain_time;
    // Two loops, not a test of the count per runnable: the inner one is the
    // plain pop-and-run of a batch.
    for (int run = 0; run < drain_batch; run += drain_clock_every) {
      for (int i = 0; i < drain_clock_every; ++i) {
        detail::runnable* r = ready_.pop();
        if (r == nullptr) return;
        r->run_(r);
      }
      t = clock::now();
      set_turn_time(t);
      if (t >= until) break;
    }
    if (!ready_.empty()) schedule_drain();
  });
}

void asio_loop::drain_now() noexcept {
  set_turn_time(clock::now());
  while (detail::runnable* r = ready_.pop()) r->run_(r);
}

void asio_loop::add_timer(detail::timer_entry& t) {
  timers_.insert(t);
  if (t.deadline_ >= armed_for_) return;
  // Due already (libcurl asks for 0 ms timeouts, about once per 15 tiles of
  // a download): fired from a posted handler. Re-arming the Asio timer for
  // it, then for the later deadline again, cost three timerfd_settime calls,
  // 2 % of the CPU of a tile download (each reprograms the CPU's timer, a
  // VM exit in a virtual machine).
  if (t.deadline_ <= clock::now()) {
    schedule_due();
  } else {
    rearm();
  }
}

void asio_loop::schedule_due() {
  if (due_posted_) return;
  due_posted_ = true;
  boost::asio::post(*io_, [this] {
    due_posted_ = false;
    timers_.fire_due(clock::now());
    if (!timers_.empty() && timers_.top().deadline_ < armed_for_) rearm();
  });
}

void asio_loop::remove_timer(detail::timer_entry& t) noexcept {
  // Leaving the Asio timer armed for a removed deadline is harmless: it
  // wakes, finds nothing due, and re-arms for the next one.
  timers_.remove(t);
}

void asio_loop::rearm() {
  if (timers_.empty()) {
    armed_for_ = time_point::max();
    timer_.cancel();
    return;
  }
  armed_for_ = timers_.top().deadline_;
  timer_.expires_at(armed_for_);
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec == boost::asio::error::operation_aborted) return;  // re-armed or shut down
    armed_for_ = time_point::max();
    timers_.fire_due(clock::now());
    rearm();
  });
}

}  // namespace cohort
