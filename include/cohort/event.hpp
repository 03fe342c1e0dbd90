#pragma once
/// \file
/// `cohort::event`: a one-shot signal tasks can wait for.

#include <cohort/detail/intrusive_list.hpp>
#include <cohort/operation.hpp>

#include <cassert>

namespace cohort {

/// A one-shot event: `set()` wakes every waiter, and later waits complete at
/// once. A cancelled waiter leaves the queue immediately; a waiter woken in
/// the same instant as it is cancelled still sees the event (it completed).
///
///     cohort::event ready;
///     co_await ready.wait();      // elsewhere: ready.set();
class event {
  struct waiter_tag;

 public:
  class wait_op : private detail::list_hook<waiter_tag> {
   public:
    explicit wait_op(event& e) noexcept : event_(&e) {}
    wait_op(wait_op&& o) noexcept : event_(o.event_) { assert(!o.is_linked()); }
    bool ready() const noexcept { return event_->set_; }
    void start(completion& c) noexcept {
      completion_ = &c;
      event_->waiters_.push_back(*this);
    }
    bool cancel() noexcept {
      if (!is_linked()) return false;
      unlink();
      return true;
    }
    bool must_resume() const noexcept { return true; }
    void result() const noexcept {}
    const char* name() const noexcept { return "event"; }

   private:
    friend class event;
    friend class detail::intrusive_list<wait_op, waiter_tag>;
    event* event_;
    completion* completion_ = nullptr;
  };

  event() noexcept = default;
  event(const event&) = delete;
  event& operator=(const event&) = delete;
  ~event() { assert(waiters_.empty() && "event destroyed with waiters"); }

  /// Sets the event and wakes every waiter (idempotent).
  void set() noexcept {
    set_ = true;
    while (wait_op* w = waiters_.pop_front()) w->completion_->complete();
  }
  bool is_set() const noexcept { return set_; }
  /// Waits until the event is set (a cancellable operation).
  [[nodiscard]] wait_op wait() noexcept { return wait_op(*this); }

 private:
  detail::intrusive_list<wait_op, waiter_tag> waiters_;
  bool set_ = false;
};

}  // namespace cohort
