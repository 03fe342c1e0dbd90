#pragma once
// Lifetime tracking for tests: prove that every destructor ran (G3) and
// nothing leaked (G9).
//
//     cohort::test::lifetimes life;
//     { auto t = life.token(); ... }      // constructed/destroyed counted
//     EXPECT_EQ(life.alive(), 0);

#include <cohort/detail/promise.hpp>

#include <cstddef>

namespace cohort::test {

class lifetimes {
 public:
  class token {
   public:
    explicit token(lifetimes& l) noexcept : owner_(&l) { ++owner_->constructed_; }
    token(token&& o) noexcept : owner_(o.owner_) { ++owner_->constructed_; }
    token(const token& o) noexcept : owner_(o.owner_) { ++owner_->constructed_; }
    ~token() { ++owner_->destroyed_; }

   private:
    lifetimes* owner_;
  };

  token make() noexcept { return token(*this); }
  int constructed() const noexcept { return constructed_; }
  int destroyed() const noexcept { return destroyed_; }
  int alive() const noexcept { return constructed_ - destroyed_; }

 private:
  int constructed_ = 0;
  int destroyed_ = 0;
};

/// Counts task frames alive on this thread between construction and check.
class frame_leak_check {
 public:
  frame_leak_check() noexcept : start_(detail::frame_stats().live()) {}
  /// Frames allocated since construction and not yet freed.
  std::ptrdiff_t leaked() const noexcept {
    return static_cast<std::ptrdiff_t>(detail::frame_stats().live()) -
           static_cast<std::ptrdiff_t>(start_);
  }

 private:
  std::size_t start_;
};

}  // namespace cohort::test
