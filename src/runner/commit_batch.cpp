#include <cohort/runner/commit_batch.hpp>

namespace cohort {

bool commit_batch::due(time_point now) noexcept {
  if (limits_.interval_from == batch_limits::start::periodic) {
    if (!since_) {
      since_ = now;
      return false;
    }
    if (now - *since_ < limits_.interval) return false;
    since_ = now;
    return changes_ > 0;
  }
  if (changes_ == 0) return false;
  if (!since_) since_ = now;
  return now - *since_ >= limits_.interval;
}

void commit_batch::committed() noexcept {
  changes_ = 0;
  bytes_ = 0;
  if (limits_.interval_from == batch_limits::start::first_sight) since_.reset();
}

}  // namespace cohort
