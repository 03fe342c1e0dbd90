#pragma once
/// \file
/// The Asio bridge: any Boost.Asio asynchronous operation as a cancellable
/// Cohort wait.
///
/// Pass `cohort::use_op` (throws on error) or `cohort::use_op_ec` (returns
/// the error code) as the completion token, and `co_await` the result:
///
///     boost::asio::steady_timer t(io, 5s);
///     co_await t.async_wait(cohort::use_op);                    // throws on error
///     auto [ec, n] = co_await sock.async_read_some(buf, cohort::use_op_ec);
///
/// Nothing starts until the `co_await`. The operation is registered with the
/// task's cancellation scope: a cancel emits Asio's terminal cancellation on
/// the operation's slot, and the task unwinds when the operation reports
/// `operation_aborted`. An operation started in an already-cancelled scope is
/// never initiated (Asio alone would lose that request). An operation that
/// completed in the same instant as the cancel delivers its result (G8); the
/// task unwinds at its next wait. Operations that do not support
/// per-operation cancellation run to completion before the task unwinds.

#include <cohort/operation.hpp>

#include <boost/asio/async_result.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/error.hpp>
#include <boost/system/system_error.hpp>

#include <optional>
#include <tuple>
#include <utility>

namespace cohort {

/// Completion token: `co_await` yields the operation's values and throws
/// `boost::system::system_error` on error.
struct use_op_t {};
inline constexpr use_op_t use_op{};

/// Completion token: `co_await` yields `std::tuple<error_code, values...>`
/// (just the `error_code` when there are no values) and never throws.
struct use_op_ec_t {};
inline constexpr use_op_ec_t use_op_ec{};

namespace detail {

template <bool Throwing, class Initiation, class Args, class... Results>
class asio_op {
 public:
  asio_op(Initiation init, Args args) : init_(std::move(init)), args_(std::move(args)) {}
  // Moved only before start (into the awaiter); the signal is not movable.
  asio_op(asio_op&& o) noexcept(
      std::is_nothrow_move_constructible_v<Initiation>&& std::is_nothrow_move_constructible_v<Args>)
      : init_(std::move(o.init_)), args_(std::move(o.args_)) {}

  void start(completion& c) {
    completion_ = &c;
    std::apply(
        [this](auto&&... a) { std::move(init_)(handler{this}, std::forward<decltype(a)>(a)...); },
        std::move(args_));
  }
  bool cancel() noexcept {
    signal_.emit(boost::asio::cancellation_type::terminal);
    return false;  // Asio completes the operation with operation_aborted
  }
  bool must_resume() const noexcept { return ec_ != boost::asio::error::operation_aborted; }
  const char* name() const noexcept { return "asio operation"; }

  auto result() {
    if constexpr (Throwing) {
      if (ec_) throw boost::system::system_error(ec_);
      if constexpr (sizeof...(Results) == 0) {
        return;
      } else if constexpr (sizeof...(Results) == 1) {
        return std::move(std::get<0>(*results_));
      } else {
        return std::move(*results_);
      }
    } else {
      if constexpr (sizeof...(Results) == 0) {
        return ec_;
      } else {
        return std::apply(
            [this](auto&&... r) {
              return std::tuple<boost::system::error_code, Results...>(ec_, std::move(r)...);
            },
            std::move(*results_));
      }
    }
  }

 private:
  struct handler {
    using cancellation_slot_type = boost::asio::cancellation_slot;
    cancellation_slot_type get_cancellation_slot() const noexcept { return op->signal_.slot(); }
    void operator()(boost::system::error_code ec, Results... r) {
      op->ec_ = ec;
      op->results_.emplace(std::move(r)...);
      op->completion_->complete();
    }
    asio_op* op;
  };

  Initiation init_;
  Args args_;
  boost::asio::cancellation_signal signal_;
  completion* completion_ = nullptr;
  boost::system::error_code ec_;
  std::optional<std::tuple<Results...>> results_;
};

template <bool Throwing, class... Results>
struct asio_op_factory {
  template <class Initiation, class... InitArgs>
  static auto make(Initiation&& init, InitArgs&&... args) {
    using args_t = std::tuple<std::decay_t<InitArgs>...>;
    return asio_op<Throwing, std::decay_t<Initiation>, args_t, Results...>(
        std::forward<Initiation>(init), args_t(std::forward<InitArgs>(args)...));
  }
};

}  // namespace detail
}  // namespace cohort

namespace boost::asio {

template <class... Results>
class async_result<cohort::use_op_t, void(boost::system::error_code, Results...)> {
 public:
  template <class Initiation, class... InitArgs>
  static auto initiate(Initiation&& init, cohort::use_op_t, InitArgs&&... args) {
    return cohort::detail::asio_op_factory<true, std::decay_t<Results>...>::make(
        std::forward<Initiation>(init), std::forward<InitArgs>(args)...);
  }
};

template <class... Results>
class async_result<cohort::use_op_ec_t, void(boost::system::error_code, Results...)> {
 public:
  template <class Initiation, class... InitArgs>
  static auto initiate(Initiation&& init, cohort::use_op_ec_t, InitArgs&&... args) {
    return cohort::detail::asio_op_factory<false, std::decay_t<Results>...>::make(
        std::forward<Initiation>(init), std::forward<InitArgs>(args)...);
  }
};

}  // namespace boost::asio
