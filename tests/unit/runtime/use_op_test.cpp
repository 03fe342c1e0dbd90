#include <cohort/runtime/use_op.hpp>

#include <cohort/cancel_scope.hpp>
#include <cohort/runtime/asio_loop.hpp>
#include <cohort/sleep.hpp>
#include <cohort/task_group.hpp>

#include <gtest/gtest.h>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/experimental/channel.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <exception>
#include <stdexcept>
#include <string>

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

// An operation with completion signature `void(Args...)`: completes through
// a post with `args`, or, if the cancellation slot fires first, with
// `on_cancel` (the operation's own way of saying it stopped). Counts how
// many times it completed.
template <class... Args>
struct fake_op {
  asio::io_context* io;
  std::tuple<Args...> args;
  std::tuple<Args...> on_cancel;
  bool complete_on_its_own = true;

  template <class Token>
  auto operator()(Token&& token) {
    return asio::async_initiate<Token, void(Args...)>(
        [this](auto handler) {
          auto slot = asio::get_associated_cancellation_slot(handler);
          auto shared = std::make_shared<std::optional<decltype(handler)>>(std::move(handler));
          if (slot.is_connected()) {
            slot.assign([this, shared](asio::cancellation_type) {
              if (!*shared) return;
              asio::post(*io, [h = std::move(**shared), a = on_cancel]() mutable {
                std::apply(std::move(h), std::move(a));
              });
              shared->reset();
            });
          }
          if (complete_on_its_own) {
            asio::post(*io, [shared, a = args]() mutable {
              if (!*shared) return;
              auto h = std::move(**shared);
              shared->reset();
              std::apply(std::move(h), std::move(a));
            });
          }
        },
        token);
  }
};

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

// Hole 9: every completion signature of the table in use_op.hpp.

TEST_F(UseOp, PostWithAVoidSignatureIsAwaitable) {
  int steps = 0;
  loop.run([](asio::io_context& io, int& steps) -> cohort::task<> {
    co_await asio::post(io, cohort::use_op);
    ++steps;
    co_await asio::post(asio::bind_executor(io.get_executor(), cohort::use_op));
    ++steps;
  }(io, steps));
  EXPECT_EQ(steps, 2);
}

TEST_F(UseOp, ValuesWithoutAnErrorAreReturned) {
  fake_op<int> one{&io, {4}, {0}};
  fake_op<int, std::string> two{&io, {5, "five"}, {0, ""}};
  const auto got = loop.run(
      [](fake_op<int>& one,
         fake_op<int, std::string>& two) -> cohort::task<std::tuple<int, int, std::string>> {
        const int a = co_await one(cohort::use_op);
        auto [b, s] = co_await two(cohort::use_op);
        co_return std::tuple<int, int, std::string>(a, b, s);
      }(one, two));
  EXPECT_EQ(got, std::make_tuple(4, 5, std::string("five")));
}

TEST_F(UseOp, ErrorCodeAloneThrowsOrIsReturned) {
  const boost::system::error_code bad = asio::error::connection_reset;
  fake_op<boost::system::error_code> ok{
      &io, {boost::system::error_code{}}, {boost::system::error_code{}}};
  fake_op<boost::system::error_code> failing{&io, {bad}, {bad}};
  const auto ec = loop.run(
      [](fake_op<boost::system::error_code>& ok,
         fake_op<boost::system::error_code>& f) -> cohort::task<boost::system::error_code> {
        co_await ok(cohort::use_op);
        bool threw = false;
        try {
          co_await f(cohort::use_op);
        } catch (const boost::system::system_error&) {
          threw = true;
        }
        EXPECT_TRUE(threw);
        co_return co_await f(cohort::use_op_ec);
      }(ok, failing));
  EXPECT_EQ(ec, bad);
}

TEST_F(UseOp, ExceptionPtrIsRethrownOrReturned) {
  const auto boom = std::make_exception_ptr(std::runtime_error("boom"));
  fake_op<std::exception_ptr, int> ok{&io, {nullptr, 3}, {nullptr, 0}};
  fake_op<std::exception_ptr, int> failing{&io, {boom, 0}, {boom, 0}};
  fake_op<std::exception_ptr> bare{&io, {boom}, {boom}};
  const int v = loop.run([](auto& ok, auto& f, auto& bare) -> cohort::task<int> {
    const int a = co_await ok(cohort::use_op);
    EXPECT_THROW(co_await f(cohort::use_op), std::runtime_error);
    auto [e, b] = co_await f(cohort::use_op_ec);
    EXPECT_EQ(e, std::get<0>(f.args));
    EXPECT_EQ(co_await bare(cohort::use_op_ec), std::get<0>(bare.args));
    co_return a + b;
  }(ok, failing, bare));
  EXPECT_EQ(v, 3);
}

// Hole 2 (G10): an operation that reports its cancellation with an error code
// of its own is still a cancel: the task unwinds and no catch sees it.

TEST_F(UseOp, G10_ChannelCancelledIsDeliveredAsACancelNotAnException) {
  asio::experimental::channel<void(boost::system::error_code, int)> ch(io);
  bool caught = false;
  bool after = false;
  cohort::cancel_scope scope;
  const bool completed = loop.run(
      [](cohort::cancel_scope& s, auto& ch, bool& caught, bool& after) -> cohort::task<bool> {
        const bool r = co_await s.run(
            [](cohort::cancel_scope& s, auto& ch, bool& caught, bool& after) -> cohort::task<> {
              co_await cohort::with_task_group([&](cohort::task_group& g) -> cohort::task<> {
                g.spawn([](cohort::cancel_scope& s) -> cohort::task<> {
                  s.cancel();  // runs once the receive is pending
                  co_return;
                }(s));
                try {
                  (void)co_await ch.async_receive(cohort::use_op);
                } catch (const std::exception&) {
                  caught = true;
                }
                after = true;
              });
            }(s, ch, caught, after));
        co_return r;
      }(scope, ch, caught, after));
  EXPECT_FALSE(completed);
  EXPECT_FALSE(caught);
  EXPECT_FALSE(after);
  EXPECT_TRUE(scope.cancelled_caught());
}

TEST_F(UseOp, G10_AnyErrorAfterTheBridgesCancelIsACancel) {
  // The operation answers our cancel with connection_reset, not
  // operation_aborted: still a cancel, for both tokens.
  for (const bool ec_flavour : {false, true}) {
    fake_op<boost::system::error_code, int> op{
        &io,
        {boost::system::error_code{}, 1},
        {boost::system::error_code(asio::error::connection_reset), 0},
        /*complete_on_its_own=*/false};
    bool after = false;
    cohort::cancel_scope scope;
    loop.run([](cohort::cancel_scope& s, auto& op, bool& after, bool ec_flavour) -> cohort::task<> {
      (void)co_await s.run(
          [](cohort::cancel_scope& s, auto& op, bool& after, bool ec_flavour) -> cohort::task<> {
            co_await cohort::with_task_group([&](cohort::task_group& g) -> cohort::task<> {
              g.spawn([](cohort::cancel_scope& s) -> cohort::task<> {
                s.cancel();
                co_return;
              }(s));
              try {
                if (ec_flavour) {
                  (void)co_await op(cohort::use_op_ec);
                } else {
                  (void)co_await op(cohort::use_op);
                }
              } catch (...) {
              }
              after = true;
            });
          }(s, op, after, ec_flavour));
    }(scope, op, after, ec_flavour));
    EXPECT_FALSE(after) << "ec flavour: " << ec_flavour;
    EXPECT_TRUE(scope.cancelled_caught()) << "ec flavour: " << ec_flavour;
  }
}

TEST_F(UseOp, G8_SuccessAfterTheBridgesCancelIsDelivered) {
  // The operation answers the cancel by completing successfully with a
  // value: delivered (not mistaken for a cancel), and the task unwinds at
  // its next wait.
  fake_op<boost::system::error_code, int> op{&io,
                                             {boost::system::error_code{}, 0},
                                             {boost::system::error_code{}, 9},
                                             /*complete_on_its_own=*/false};
  int got = 0;
  bool end = false;
  cohort::cancel_scope scope;
  loop.run([](cohort::cancel_scope& s, auto& op, int& got, bool& end) -> cohort::task<> {
    (void)co_await s.run(
        [](cohort::cancel_scope& s, auto& op, int& got, bool& end) -> cohort::task<> {
          co_await cohort::with_task_group([&](cohort::task_group& g) -> cohort::task<> {
            g.spawn([](cohort::cancel_scope& s) -> cohort::task<> {
              s.cancel();
              co_return;
            }(s));
            got = co_await op(cohort::use_op);
            co_await cohort::sleep_for(1h);
            end = true;
          });
        }(s, op, got, end));
  }(scope, op, got, end));
  EXPECT_EQ(got, 9);
  EXPECT_FALSE(end);
}

}  // namespace
