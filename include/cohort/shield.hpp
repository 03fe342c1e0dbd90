#pragma once
/// \file
/// `cohort::shield`: run a task out of reach of the enclosing cancellation.

#include <cohort/cancel_scope.hpp>

namespace cohort {

/// Runs `body` shielded: a cancellation of any enclosing scope (a signal, a
/// deadline, a failing sibling) does not reach the waits inside it, which
/// keep going; the body's result or exception is delivered as usual, and the
/// outer cancellation takes effect at the caller's next wait.
///
/// Only escalation pierces a shield: a second signal or an expired grace
/// period cancels shielded work too, so a shield can never hang shutdown.
/// Give shielded work its own deadline (`cohort::finally` does) so it is
/// bounded even without escalation.
///
///     co_await cohort::shield(flush_journal());   // completes even on Ctrl+C
template <class T>
[[nodiscard]] detail::scope_awaiter<T, detail::scope_kind::shield> shield(task<T> body) noexcept {
  return {std::nullopt, std::nullopt, std::move(body)};
}

}  // namespace cohort
