#pragma once
/// \file
/// The Asio bridge: any Boost.Asio asynchronous operation as a cancellable
/// Cohort wait.
///
/// Pass `cohort::use_op` (throws on error) or `cohort::use_op_ec` (returns
/// the error) as the completion token, and `co_await` the result:
///
///     boost::asio::steady_timer t(io, 5s);
///     co_await t.async_wait(cohort::use_op);                    // throws on error
///     auto [ec, n] = co_await sock.async_read_some(buf, cohort::use_op_ec);
///     co_await boost::asio::post(io, cohort::use_op);           // void(): yields nothing
///
/// Supported completion signatures (one signature per operation; the
/// arguments may be values or const references):
///
/// | signature                         | `use_op` yields           | `use_op_ec` yields |
/// |-----------------------------------|---------------------------|----------------------------------------|
/// | `void()`                          | nothing                   | (refused: use `use_op`) | |
/// `void(T...)`                      | `T`, or `tuple<T...>`     | (refused: use `use_op`) | |
/// `void(error_code)`                | nothing; throws on error  | `error_code` | |
/// `void(error_code, T...)`          | `T`, or `tuple<T...>`     | `tuple<error_code, T...>` | |
/// `void(exception_ptr)`             | nothing; rethrows         | `exception_ptr` | |
/// `void(exception_ptr, T...)`       | `T`, or `tuple<T...>`     | `tuple<exception_ptr, T...>` |
///
/// `use_op` throws `boost::system::system_error` for an error code and
/// rethrows an exception_ptr. Operations with several completion signatures
/// are not supported.
///
/// Nothing starts until the `co_await`. The operation is registered with the
/// task's cancellation scope: a cancel emits Asio's terminal cancellation on
/// the operation's slot. When the operation then completes with an error —
/// whatever error it is: `operation_aborted`, a channel's `channel_cancelled`,
/// or any other — the task is unwound (a cancellation, which `catch` cannot
/// swallow), never handed the error. When it completes successfully despite
/// the cancel, its result is delivered (G8) and the task unwinds at its next
/// wait. An operation started in an already-cancelled scope is never
/// initiated (Asio alone would lose that request). Operations that do not
/// support per-operation cancellation run to completion before the task
/// unwinds; an error they report without a cancel request from Cohort (a
/// timer cancelled by hand) is an ordinary error.

#include <cohort/operation.hpp>

#include <boost/asio/async_result.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/error.hpp>
#include <boost/system/system_error.hpp>

#include <exception>
#include <optional>
#include <tuple>
#include <type_traits>
#include <utility>

namespace cohort {

/// Completion token: `co_await` yields the operation's values and throws on
/// error (see the table in the file comment).
struct use_op_t {};
inline constexpr use_op_t use_op{};

/// Completion token: `co_await` yields `std::tuple<error, values...>` (just
/// the error when there are no values) and never throws; for operations
/// that report an `error_code` or an `exception_ptr` first.
struct use_op_ec_t {};
inline constexpr use_op_ec_t use_op_ec{};

namespace detail {

/// The error type of a completion signature that has no error argument.
struct no_asio_error {};

/// A completion signature `void(Args...)` (arguments decayed), split into
/// its error argument (if it has one) and its values.
template <class... Args>
struct asio_completion {
  using error_type = no_asio_error;
  using values = std::tuple<Args...>;
};
template <class... Values>
struct asio_completion<boost::system::error_code, Values...> {
  using error_type = boost::system::error_code;
  using values = std::tuple<Values...>;
};
template <class... Values>
struct asio_completion<std::exception_ptr, Values...> {
  using error_type = std::exception_ptr;
  using values = std::tuple<Values...>;
};

template <class Error>
bool asio_failed(const Error& e) noexcept {
  if constexpr (std::is_same_v<Error, no_asio_error>) {
    return false;
  } else {
    return static_cast<bool>(e);
  }
}

template <bool Throwing, class Initiation, class Args, class Error, class... Values>
class asio_op {
  static_assert(Throwing || !std::is_same_v<Error, no_asio_error>,
                "cohort::use_op_ec needs an operation that reports an error_code or an "
                "exception_ptr first; use cohort::use_op");

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
    cancel_emitted_ = true;
    signal_.emit(boost::asio::cancellation_type::terminal);
    return false;  // Asio completes the operation, with an error if it stopped
  }
  // After our cancel, an error (whichever code the operation chose) means the
  // operation stopped: deliver it as a cancel (G10). Success is a result (G8).
  bool must_resume() const noexcept { return !cancel_emitted_ || !asio_failed(error_); }
  const char* name() const noexcept { return "asio operation"; }

  auto result() {
    if constexpr (Throwing) {
      if constexpr (std::is_same_v<Error, boost::system::error_code>) {
        if (error_) throw boost::system::system_error(error_);
      } else if constexpr (std::is_same_v<Error, std::exception_ptr>) {
        if (error_) std::rethrow_exception(error_);
      }
      if constexpr (sizeof...(Values) == 0) {
        return;
      } else if constexpr (sizeof...(Values) == 1) {
        return std::move(std::get<0>(*values_));
      } else {
        return std::move(*values_);
      }
    } else {
      if constexpr (sizeof...(Values) == 0) {
        return error_;
      } else {
        return std::apply(
            [this](auto&&... v) { return std::tuple<Error, Values...>(error_, std::move(v)...); },
            std::move(*values_));
      }
    }
  }

 private:
  struct handler {
    using cancellation_slot_type = boost::asio::cancellation_slot;
    cancellation_slot_type get_cancellation_slot() const noexcept { return op->signal_.slot(); }
    void operator()(Values... v) requires std::is_same_v<Error, no_asio_error> {
      op->values_.emplace(std::move(v)...);
      op->completion_->complete();
    }
    void operator()(Error e, Values... v) requires(!std::is_same_v<Error, no_asio_error>) {
      op->error_ = std::move(e);
      op->values_.emplace(std::move(v)...);
      op->completion_->complete();
    }
    asio_op* op;
  };

  Initiation init_;
  Args args_;
  boost::asio::cancellation_signal signal_;
  completion* completion_ = nullptr;
  [[no_unique_address]] Error error_{};
  std::optional<std::tuple<Values...>> values_;
  bool cancel_emitted_ = false;
};

template <bool Throwing, class Completion>
struct asio_op_factory;

template <bool Throwing, class... Args>
struct asio_op_factory<Throwing, asio_completion<Args...>> {
  template <class Initiation, class... InitArgs>
  static auto make(Initiation&& init, InitArgs&&... args) {
    using args_t = std::tuple<std::decay_t<InitArgs>...>;
    using completion_t = asio_completion<Args...>;
    return make_op<std::decay_t<Initiation>, args_t, typename completion_t::error_type>(
        std::forward<Initiation>(init), args_t(std::forward<InitArgs>(args)...),
        static_cast<typename completion_t::values*>(nullptr));
  }

 private:
  template <class Initiation, class ArgsTuple, class Error, class... Values>
  static auto make_op(Initiation init, ArgsTuple args, std::tuple<Values...>*) {
    return asio_op<Throwing, Initiation, ArgsTuple, Error, Values...>(std::move(init),
                                                                      std::move(args));
  }
};

/// What Asio's async_result does for both tokens: `Token` (use_op_t,
/// throwing; use_op_ec_t, the error-code form) turns an Asio operation of
/// signature `void(Args...)` into an awaitable asio_op.
template <bool Throwing, class Token, class... Args>
struct use_op_result {
  template <class Initiation, class... InitArgs>
  static auto initiate(Initiation&& init, Token, InitArgs&&... args) {
    return asio_op_factory<Throwing, asio_completion<std::decay_t<Args>...>>::make(
        std::forward<Initiation>(init), std::forward<InitArgs>(args)...);
  }
};

}  // namespace detail
}  // namespace cohort

namespace boost::asio {

template <class... Args>
class async_result<cohort::use_op_t, void(Args...)>
    : public cohort::detail::use_op_result<true, cohort::use_op_t, Args...> {};

template <class... Args>
class async_result<cohort::use_op_ec_t, void(Args...)>
    : public cohort::detail::use_op_result<false, cohort::use_op_ec_t, Args...> {};

}  // namespace boost::asio
