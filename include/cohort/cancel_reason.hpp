#pragma once
/// \file
/// Why a scope was cancelled.

#include <cstdint>
#include <string_view>

namespace cohort {

/// Why a cancel scope, task group or task was cancelled.
///
/// A scope cancelled because an enclosing scope was cancelled reports
/// `parent`; `cancel_scope::origin_reason()` gives the reason of the scope
/// where the cancellation started.
enum class cancel_reason : std::uint8_t {
  none,            ///< not cancelled
  requested,       ///< `cancel()` was called explicitly
  deadline,        ///< the scope's deadline passed
  sibling_failed,  ///< another child of the same task group failed
  signal,          ///< SIGINT/SIGTERM reached the root scope
  parent,          ///< an enclosing scope was cancelled
  escalated,       ///< a second signal or an expired grace period: shields are pierced
};

/// The reason's name, as used in logs and JSON ("signal", "deadline", ...).
constexpr std::string_view to_string(cancel_reason r) noexcept {
  switch (r) {
    case cancel_reason::none: return "none";
    case cancel_reason::requested: return "requested";
    case cancel_reason::deadline: return "deadline";
    case cancel_reason::sibling_failed: return "sibling_failed";
    case cancel_reason::signal: return "signal";
    case cancel_reason::parent: return "parent";
    case cancel_reason::escalated: return "escalated";
  }
  return "unknown";
}

}  // namespace cohort
