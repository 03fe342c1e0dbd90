#pragma once
// Intrusive doubly-linked list. An element derives from list_hook<Tag> once
// per list it can be in; it unlinks itself when destroyed, so a list never
// holds a dangling element.

#include <cstddef>

namespace cohort::detail {

template <class Tag = void>
class list_hook {
 public:
  list_hook() noexcept = default;
  list_hook(const list_hook&) = delete;
  list_hook& operator=(const list_hook&) = delete;
  ~list_hook() { unlink(); }

  bool is_linked() const noexcept { return next_ != nullptr; }

  void unlink() noexcept {
    if (next_ != nullptr) {
      prev_->next_ = next_;
      next_->prev_ = prev_;
      prev_ = next_ = nullptr;
    }
  }

 private:
  template <class, class>
  friend class intrusive_list;
  list_hook* prev_ = nullptr;
  list_hook* next_ = nullptr;
};

template <class T, class Tag = void>
class intrusive_list {
  using hook = list_hook<Tag>;

 public:
  intrusive_list() noexcept { head_.prev_ = head_.next_ = &head_; }
  intrusive_list(const intrusive_list&) = delete;
  intrusive_list& operator=(const intrusive_list&) = delete;
  ~intrusive_list() {
    while (!empty()) head_.next_->unlink();
    head_.prev_ = head_.next_ = nullptr;
  }

  bool empty() const noexcept { return head_.next_ == &head_; }

  std::size_t size() const noexcept {
    std::size_t n = 0;
    for (const hook* h = head_.next_; h != &head_; h = h->next_) ++n;
    return n;
  }

  void push_back(T& item) noexcept {
    hook& h = item;
    h.prev_ = head_.prev_;
    h.next_ = &head_;
    head_.prev_->next_ = &h;
    head_.prev_ = &h;
  }

  T& front() noexcept { return static_cast<T&>(*head_.next_); }
  /// The first element, or null if the list is empty.
  T* first() const noexcept { return after(head_); }
  /// The element after `item` (which is in this list), or null if it is last.
  T* next(const T& item) const noexcept { return after(static_cast<const hook&>(item)); }

  T* pop_front() noexcept {
    if (empty()) return nullptr;
    hook* h = head_.next_;
    h->unlink();
    return static_cast<T*>(h);
  }

  /// Calls f on every element; f may unlink the element it is given (and
  /// nothing else).
  template <class F>
  void for_each(F&& f) {
    for (hook* h = head_.next_; h != &head_;) {
      hook* next = h->next_;
      f(static_cast<T&>(*h));
      h = next;
    }
  }
  template <class F>
  void for_each(F&& f) const {
    for (const hook* h = head_.next_; h != &head_; h = h->next_) f(static_cast<const T&>(*h));
  }

 private:
  T* after(const hook& h) const noexcept {
    return h.next_ == &head_ ? nullptr : static_cast<T*>(h.next_);
  }
  hook head_;
};

}  // namespace cohort::detail
