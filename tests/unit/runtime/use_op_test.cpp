#include <cohort/runtime/use_op.hpp>

#include <cohort/cancel_scope.hpp>
#include <cohort/runtime/asio_loop.hpp>
#include <cohort/sleep.hpp>
#include <cohort/task_group.hpp>

#include <gtest/gtest.h>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>

using namespace std::chrono_literals;
namespace asio = boost::asio;

namespace {

// An Asio-style async operation whose initiation records that it ran and
// completes with `value` through an immediate post (no cancellation slot
// support: it always completes).
template <class Token>
auto async_answer(asio::io_context& io, bool& initiated, int value, Token&& token) {
  return asio::async_initiate<Token, void(boost::system::error_code, int)>(
      [&io, &initiated, value](auto handler) {
        initiated = true;
        asio::post(io, [h = std::move(handler), value]() mutable { std::move(h)({}, value); });
      },
      token);
}

struct loop_fixture : ::testing::Test {
  asio::io_context io;
  cohort::asio_loop loop{io};
};

using UseOp = loop_fixture;

TEST_F(UseOp, AwaitsAnAsioTimer) {
  asio::steady_timer timer(io, 5ms);
  const auto start = std::chrono::steady_clock::now();
  loop.run([](asio::steady_timer& t) -> cohort::task<> {
    co_await t.async_wait(cohort::use_op);
  }(timer));
  EXPECT_GE(std::chrono::steady_clock::now() - start, 5ms);
}

TEST_F(UseOp, ReturnsTheOperationsValue) {
  bool initiated = false;
  const int v = loop.run([](asio::io_context& io, bool& init) -> cohort::task<int> {
    co_return co_await async_answer(io, init, 42, cohort::use_op);
  }(io, initiated));
  EXPECT_TRUE(initiated);
  EXPECT_EQ(v, 42);
}

TEST_F(UseOp, G2_CancelEndsAPendingAsioWaitPromptly) {
  asio::steady_timer timer(io, std::chrono::hours(1));
  bool after = false;
  const auto start = std::chrono::steady_clock::now();
  const bool completed = loop.run([](asio::steady_timer& t, bool& after) -> cohort::task<bool> {
    co_return co_await cohort::move_on_after(
        5ms, [](asio::steady_timer& t, bool& after) -> cohort::task<> {
          co_await t.async_wait(cohort::use_op);
          after = true;
        }(t, after));
  }(timer, after));
  EXPECT_FALSE(completed);
  EXPECT_FALSE(after);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
}

TEST_F(UseOp, G2_OperationInAlreadyCancelledScopeIsNeverInitiated) {
  bool initiated = false;
  bool after = false;
  cohort::cancel_scope scope;
  scope.cancel();
  loop.run(
      [](cohort::cancel_scope& s, asio::io_context& io, bool& init, bool& after) -> cohort::task<> {
        (void)co_await s.run([](asio::io_context& io, bool& init, bool& after) -> cohort::task<> {
          co_await async_answer(io, init, 1, cohort::use_op);
          after = true;
        }(io, init, after));
      }(scope, io, initiated, after));
  EXPECT_FALSE(initiated);
  EXPECT_FALSE(after);
  EXPECT_TRUE(scope.cancelled_caught());
}

TEST_F(UseOp, G8_CompletedDespiteCancelDeliversItsResult) {
  // The operation's handler is already queued with a value when the scope is
  // cancelled; the value is delivered, and the next wait unwinds the task.
  bool initiated = false;
  int got = 0;
  bool reached_next_wait_end = false;
  cohort::cancel_scope scope;
  loop.run([](cohort::cancel_scope& s, asio::io_context& io, bool& init, int& got,
              bool& end) -> cohort::task<> {
    (void)co_await s.run([](cohort::cancel_scope& s, asio::io_context& io, bool& init, int& got,
                            bool& end) -> cohort::task<> {
      co_await cohort::with_task_group([&](cohort::task_group& g) -> cohort::task<> {
        g.spawn([](cohort::cancel_scope& s) -> cohort::task<> {
          s.cancel();  // runs after the answer's handler was posted
          co_return;
        }(s));
        got = co_await async_answer(io, init, 7, cohort::use_op);
        co_await cohort::sleep_for(1h);
        end = true;
      });
    }(s, io, init, got, end));
  }(scope, io, initiated, got, reached_next_wait_end));
  EXPECT_TRUE(initiated);
  EXPECT_EQ(got, 7);
  EXPECT_FALSE(reached_next_wait_end);
}

TEST_F(UseOp, ErrorCodeFlavourReturnsTheError) {
  asio::ip::tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
  const auto endpoint = acceptor.local_endpoint();
  acceptor.close();  // nothing listens there now
  const auto ec =
      loop.run([](asio::io_context& io,
                  asio::ip::tcp::endpoint ep) -> cohort::task<boost::system::error_code> {
        asio::ip::tcp::socket sock(io);
        co_return co_await sock.async_connect(ep, cohort::use_op_ec);
      }(io, endpoint));
  EXPECT_EQ(ec, asio::error::connection_refused);
}

TEST_F(UseOp, ThrowingFlavourThrowsSystemError) {
  asio::ip::tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
  const auto endpoint = acceptor.local_endpoint();
  acceptor.close();
  EXPECT_THROW(loop.run([](asio::io_context& io, asio::ip::tcp::endpoint ep) -> cohort::task<> {
    asio::ip::tcp::socket sock(io);
    co_await sock.async_connect(ep, cohort::use_op);
  }(io, endpoint)),
               boost::system::system_error);
}

TEST_F(UseOp, ErrorCodeFlavourWithValuesReturnsATuple) {
  bool initiated = false;
  auto [ec, v] =
      loop.run([](asio::io_context& io,
                  bool& init) -> cohort::task<std::tuple<boost::system::error_code, int>> {
        co_return co_await async_answer(io, init, 5, cohort::use_op_ec);
      }(io, initiated));
  EXPECT_FALSE(ec);
  EXPECT_EQ(v, 5);
}

TEST_F(UseOp, ExternalTimerCancelIsAnErrorNotACancellation) {
  // operation_aborted without a cancel request from the scope is just an
  // error code delivered to the task.
  asio::steady_timer timer(io, std::chrono::hours(1));
  const auto ec = loop.run([](asio::steady_timer& t) -> cohort::task<boost::system::error_code> {
    boost::system::error_code result;
    co_await cohort::with_task_group([&](cohort::task_group& g) -> cohort::task<> {
      g.spawn([](asio::steady_timer& t) -> cohort::task<> {
        t.cancel();
        co_return;
      }(t));
      result = co_await t.async_wait(cohort::use_op_ec);
    });
    co_return result;
  }(timer));
  EXPECT_EQ(ec, asio::error::operation_aborted);
}

}  // namespace
