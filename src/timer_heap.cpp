#include <cohort/detail/timer_heap.hpp>

#include <cassert>

namespace cohort::detail {

void timer_heap::insert(timer_entry& t) {
  assert(!t.armed());
  heap_.push_back(&t);
  t.heap_index_ = heap_.size() - 1;
  sift_up(t.heap_index_);
}

void timer_heap::remove(timer_entry& t) noexcept {
  if (!t.armed()) return;
  std::size_t i = t.heap_index_;
  t.heap_index_ = timer_entry::not_armed;
  timer_entry* last = heap_.back();
  heap_.pop_back();
  if (last == &t) return;
  place(i, last);
  sift_up(i);
  sift_down(last->heap_index_);
}

std::size_t timer_heap::fire_due(std::chrono::steady_clock::time_point now) {
  std::size_t fired = 0;
  while (!heap_.empty() && heap_.front()->deadline_ <= now) {
    timer_entry& t = *heap_.front();
    remove(t);
    t.fire_(&t);
    ++fired;
  }
  return fired;
}

void timer_heap::sift_up(std::size_t i) noexcept {
  timer_entry* t = heap_[i];
  while (i > 0) {
    std::size_t parent = (i - 1) / 2;
    if (!(t->deadline_ < heap_[parent]->deadline_)) break;
    place(i, heap_[parent]);
    i = parent;
  }
  place(i, t);
}

void timer_heap::sift_down(std::size_t i) noexcept {
  timer_entry* t = heap_[i];
  const std::size_t n = heap_.size();
  for (;;) {
    std::size_t child = 2 * i + 1;
    if (child >= n) break;
    if (child + 1 < n && heap_[child + 1]->deadline_ < heap_[child]->deadline_) ++child;
    if (!(heap_[child]->deadline_ < t->deadline_)) break;
    place(i, heap_[child]);
    i = child;
  }
  place(i, t);
}

}  // namespace cohort::detail
