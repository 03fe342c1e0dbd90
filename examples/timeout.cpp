// A timeout around a slow operation, both flavours.
//
// move_on_after: give up quietly and go on without the result.
// fail_after:    give up with cohort::timeout_error.
// The slow operation here is an Asio timer awaited through the bridge
// (cohort::use_op); a socket read or a DNS lookup works the same way.
#include <cohort/cohort.hpp>
#include <cohort/runtime/run.hpp>
#include <cohort/runtime/use_op.hpp>

#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdio>

using namespace std::chrono_literals;

namespace {

cohort::task<int> slow_answer(boost::asio::io_context& io, std::chrono::milliseconds delay) {
  boost::asio::steady_timer timer(io, delay);
  co_await timer.async_wait(cohort::use_op);  // cancelled when the timeout hits
  co_return 42;
}

}  // namespace

int main() {
  return cohort::run([](cohort::runtime& rt) -> cohort::task<int> {
    auto fast = co_await cohort::move_on_after(100ms, slow_answer(rt.io(), 10ms));
    std::printf("fast: %s\n", fast ? std::to_string(*fast).c_str() : "timed out");

    auto slow = co_await cohort::move_on_after(20ms, slow_answer(rt.io(), 10s));
    std::printf("slow: %s\n", slow ? std::to_string(*slow).c_str() : "timed out");

    try {
      co_await cohort::fail_after(20ms, slow_answer(rt.io(), 10s));
    } catch (const cohort::timeout_error& e) {
      std::printf("fail_after: %s\n", e.what());
    }
    co_return (fast && !slow) ? 0 : 1;
  });
}
