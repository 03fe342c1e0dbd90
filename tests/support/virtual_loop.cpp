#include "virtual_loop.hpp"

namespace cohort::test {

virtual_loop::~virtual_loop() {
  for (auto& c : callbacks_) remove_timer(c.entry);
}

void virtual_loop::call_at(time_point at, std::function<void()> fn) {
  callback& c = callbacks_.emplace_back();
  c.fn = std::move(fn);
  c.entry.deadline_ = at;
  c.entry.context_ = &c;
  c.entry.fire_ = [](detail::timer_entry* t) noexcept {
    static_cast<callback*>(t->context_)->fn();
  };
  add_timer(c.entry);
}

}  // namespace cohort::test
