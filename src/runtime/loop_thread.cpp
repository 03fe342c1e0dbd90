#include <cohort/event.hpp>
#include <cohort/runtime/loop_thread.hpp>
#include <cohort/task_group.hpp>

namespace cohort {

// Set on the loop's thread when the loop_thread is being destroyed.
struct loop_thread::stop_signal {
  event stop;
  std::promise<void> started;  // set once calls can be taken
};

loop_thread::loop_thread() : stop_(std::make_unique<stop_signal>()) {
  keep_.emplace(io_.get_executor());  // the loop waits for calls while it has none
  std::future<void> running = stop_->started.get_future();
  thread_ = std::thread([this] {
    asio_loop loop(io_);
    loop_ = &loop;
    loop.run(host());
    group_ = nullptr;
    // What was posted while the loop stopped still runs: a call that came
    // in then is dropped unstarted, and its ticket tells the caller.
    io_.restart();
    io_.poll();
    loop_ = nullptr;
  });
  running.wait();
}

loop_thread::~loop_thread() {
  boost::asio::post(io_, [this] {
    stop_->stop.set();
    keep_.reset();
  });
  thread_.join();
}

void loop_thread::post(std::function<void()> f) {
  boost::asio::post(io_, std::move(f));
}

void loop_thread::spawn_remote(task<> t) {
  // Once the loop is stopping, a call that arrives is dropped unstarted: its
  // ticket tells the caller.
  if (group_ != nullptr && !stop_->stop.is_set()) group_->spawn(std::move(t));
}

task<> loop_thread::host() {
  co_await with_task_group([this](task_group& g) -> task<> {
    group_ = &g;
    stop_->started.set_value();
    co_await stop_->stop.wait();
    g.cancel();
  });
}

}  // namespace cohort
