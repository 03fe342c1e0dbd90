// Writing your own cancellable operation (the protocol in
// <cohort/operation.hpp>): a mailbox that one task receives from while others
// post to it. docs/guide.md walks through this file.
//
// Runs on a basic_loop on virtual time, so it is instant and deterministic.
// Exits 1 if anything did not behave as printed.

#include <cohort/cohort.hpp>

#include <cstdio>
#include <deque>
#include <stdexcept>
#include <string>
#include <utility>

namespace {

using namespace std::chrono_literals;

/// A queue of items with one receiver at a time. `co_await box.receive()`
/// waits for the next item. A receiver cancelled while it waits takes
/// nothing: an item is removed from the box only when it is delivered.
template <class T>
class mailbox {
 public:
  /// Adds an item and wakes the waiting receiver, if any.
  void post(T item) {
    items_.push_back(std::move(item));
    if (waiting_ != nullptr) std::exchange(waiting_, nullptr)->complete();
  }
  std::size_t size() const noexcept { return items_.size(); }

  /// The operation `receive()` returns. Created and moved freely until the
  /// task awaits it; from start() on it stays at one address, inside the
  /// awaiting task's frame, until the wait is over.
  class receive_op {
   public:
    explicit receive_op(mailbox& box) noexcept : box_(&box) {}
    receive_op(receive_op&& o) noexcept : box_(o.box_) {}
    // Defensive: if the task's frame is destroyed while this op is still
    // registered, unregister rather than leave the box a dangling pointer.
    ~receive_op() {
      if (completion_ != nullptr && box_->waiting_ == completion_) box_->waiting_ = nullptr;
    }

    // An item is there already: no suspension, result() is called at once.
    // (Not consulted when the task's scope is cancelled: then the wait ends
    // the task, level-triggered, even if an item is there.)
    bool ready() const noexcept { return !box_->items_.empty(); }

    // Register to be woken. Throwing here makes `co_await` throw.
    void start(cohort::completion& c) {
      if (box_->waiting_ != nullptr) throw std::logic_error("mailbox: one receiver at a time");
      completion_ = &c;
      box_->waiting_ = &c;
    }

    // The task's scope was cancelled. Still registered: unregister and say
    // so (true); complete() will never be called. Already woken by post():
    // false; the wait will end through complete() as usual.
    bool cancel() noexcept {
      if (box_->waiting_ != completion_) return false;
      box_->waiting_ = nullptr;
      return true;
    }

    // Woken and cancelled in the same instant: should the task still get
    // its item? No: the item is still in the box (result() was not called),
    // so nothing is lost and the next receive() gets it. An operation that
    // has already taken its resource must either return true here (the task
    // resumes with it, G8) or give it back in its destructor (as
    // cohort::semaphore does).
    bool must_resume() const noexcept { return false; }

    // The value of `co_await`. Only now does the item leave the box.
    T result() {
      T item = std::move(box_->items_.front());
      box_->items_.pop_front();
      return item;
    }

   private:
    mailbox* box_;
    cohort::completion* completion_ = nullptr;
  };

  /// Waits for the next item (a cancellable operation).
  [[nodiscard]] receive_op receive() noexcept { return receive_op(*this); }

 private:
  std::deque<T> items_;
  cohort::completion* waiting_ = nullptr;
};

int failures = 0;

void expect(bool ok, const char* what) {
  if (!ok) {
    std::printf("UNEXPECTED: %s\n", what);
    ++failures;
  }
}

cohort::task<> producer(mailbox<std::string>& box) {
  for (const char* word : {"one", "two", "three"}) {
    co_await cohort::sleep_for(10ms);
    box.post(word);
  }
}

cohort::task<> consumer(mailbox<std::string>& box, int& received) {
  for (;;) {
    std::string item = co_await box.receive();
    std::printf("received \"%s\"\n", item.c_str());
    ++received;
  }
}

cohort::task<> produce_and_consume(mailbox<std::string>& box, int& received) {
  co_await cohort::with_task_group([&](cohort::task_group& g) -> cohort::task<> {
    g.spawn(producer(box));
    g.spawn(consumer(box, received));
    co_return;
  });
}

cohort::task<> receive_into(mailbox<std::string>& box, std::string& out) {
  out = co_await box.receive();
}

cohort::task<> receive_in_scope(cohort::cancel_scope& scope, mailbox<std::string>& box,
                                std::string& out) {
  (void)co_await scope.run(receive_into(box, out));
}

cohort::task<> demo() {
  mailbox<std::string> box;

  // 1. Items as they come; the consumer loops forever and is stopped by a
  //    timeout while it waits.
  int received = 0;
  const bool finished = co_await cohort::move_on_after(50ms, produce_and_consume(box, received));
  std::printf("consumer stopped by the timeout (finished: %s) after %d items\n",
              finished ? "yes" : "no", received);
  expect(!finished && received == 3, "three items, then the timeout");

  // 2. An item posted in the same instant as the receiver is cancelled is not
  //    lost: the cancel wins, and the item stays for the next receive.
  std::string got;
  cohort::cancel_scope scope;
  co_await cohort::with_task_group([&](cohort::task_group& g) -> cohort::task<> {
    g.spawn(receive_in_scope(scope, box, got));
    co_await cohort::sleep_for(1ms);  // the receiver is waiting now
    box.post("four");                 // wakes it ...
    scope.cancel();                   // ... and cancels it before it resumes
    co_return;
  });
  std::printf("cancelled receiver got \"%s\"; %zu item left in the box\n", got.c_str(), box.size());
  expect(got.empty() && box.size() == 1, "the item stays in the box");
  std::string next = co_await box.receive();
  std::printf("the next receive got \"%s\"\n", next.c_str());
  expect(next == "four", "the next receive gets it");
}

}  // namespace

int main() {
  cohort::basic_loop loop(cohort::basic_loop::time_source::virtual_time);
  loop.run(demo());
  return failures == 0 ? 0 : 1;
}
