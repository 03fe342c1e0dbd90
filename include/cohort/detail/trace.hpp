#pragma once
// Lifecycle tracing. The runtime installs a sink when COHORT_TRACE is set;
// otherwise every hook is one predictable branch on a null pointer.

#include <cohort/cancel_reason.hpp>

#include <cstdint>

namespace cohort::detail {

class promise_base;
class cancel_node;

enum class trace_kind : std::uint8_t {
  spawned,           ///< a child was queued in a task group
  started,           ///< a child ran for the first time
  not_started,       ///< a child was destroyed unstarted (its group was cancelled)
  finished,          ///< a task completed with a value
  failed,            ///< a task completed with an exception
  cancelled,         ///< a task was unwound by cancellation
  cancel_requested,  ///< a scope was cancelled (node, reason)
  cleanup_begun,     ///< a finally cleanup started
  cleanup_ended,     ///< a finally cleanup finished
  cleanup_cut,       ///< a finally cleanup was cancelled (grace or escalation)
};

struct trace_record {
  trace_kind kind;
  const promise_base* task = nullptr;  // may be null (cancel_requested)
  const cancel_node* node = nullptr;   // may be null
  cancel_reason reason = cancel_reason::none;
};

using trace_sink_fn = void (*)(const trace_record&) noexcept;

inline trace_sink_fn& trace_sink() noexcept {
  static trace_sink_fn sink = nullptr;
  return sink;
}

inline void trace(trace_kind kind, const promise_base* task, const cancel_node* node = nullptr,
                  cancel_reason reason = cancel_reason::none) noexcept {
  if (trace_sink_fn sink = trace_sink(); sink != nullptr) [[unlikely]] {
    sink(trace_record{kind, task, node, reason});
  }
}

}  // namespace cohort::detail
