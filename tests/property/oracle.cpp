// An independent oracle for sequential trees: what the contract says such a
// tree must do, computed by walking the tree with a clock, never by running
// the library. A tree is sequential when it has one task at a time (no group,
// spawn, semaphore or event) and its plan only signals, escalates and
// cancels scopes. Where two things happen in the same virtual instant and
// the contract allows either order, the oracle says nothing (inconclusive).

#include <algorithm>
#include <optional>
#include <set>
#include <vector>

#include "contract.hpp"

namespace cohort::property {
namespace {

constexpr duration never = duration::max();

duration add(duration t, duration d) {
  if (d < duration::zero()) return t + d;
  if (d == duration::max() || t > duration::max() - d) return never;
  return t + d;
}

struct inconclusive {};

// One enclosing scope on the way from a statement to the root.
struct frame {
  enum class kind : std::uint8_t { move_on, fail, scope, shield, cleanup } what;
  duration deadline = never;  // move_on/fail deadline, scope's plan cancel, cleanup's grace
  duration armed{};           // when its deadline was armed (the scope started)
  int armed_batch = 0;        // timer batches run before it was armed
  bool fired = false;         // its deadline cancelled a wait already
};

struct result {
  enum class kind : std::uint8_t { ok, error, cancel } what = kind::ok;
  std::vector<int> ids;  // error: the thrown ids it carries (a timeout carries none)
};

// The loop runs in turns (docs/guide.md, "Time and loops"): each turn first
// fires every timer that is due, then runs the work that was ready at that
// moment. Virtual time only moves when nothing is ready, and then every
// timer due fires before any task runs: at time `now`, a deadline at `now`
// armed earlier has fired; one armed at `now` itself fires at the start of
// the next turn (so it ends waits; whether a checkpoint, or anything else
// that takes a turn, passes before it depends on the turns, and is left
// open). The root task starts before the first turn, so the plan's timers
// due at 0 are such timers too.
class walker {
 public:
  explicit walker(const tree& t) : t_(t) {
    for (const action& a : t.plan) {
      if (a.what == action::kind::signal) signal_ = std::min(signal_, a.at);
      if (a.what == action::kind::escalate) {
        hard_ = std::min(hard_, a.at);
        signal_ = std::min(signal_, a.at);
      }
    }
  }

  prediction run() {
    const result r = block_of(t_.root);
    prediction p;
    p.end = now_;
    p.reported = caught_;
    if (r.what == result::kind::ok) {
      p.how = prediction::ended::completed;
    } else if (r.what == result::kind::error) {
      p.how = prediction::ended::error;
      p.reported.insert(p.reported.end(), r.ids.begin(), r.ids.end());
    } else {
      p.how = prediction::ended::cancelled;
    }
    std::sort(p.reported.begin(), p.reported.end());
    return p;
  }

 private:
  static constexpr int signal_source = -1;
  static constexpr int hard_source = -2;

  // The earliest cancellation that reaches a point; a tie between two
  // sources is an order the contract leaves open.
  struct reach {
    duration at = never;
    int source = 0;  // a frame index, or signal_source / hard_source
    bool tie = false;
    void take(duration t, int src) {
      if (t == never) return;
      if (t < at) {
        at = t, source = src, tie = false;
      } else if (t == at) {
        tie = true;
      }
    }
  };

  // Walks from frame `from` outwards. `soft`/`graces`: whether soft cancels
  // and enclosing cleanups' graces still get through at `from`. A cleanup's
  // deadline already includes what was left of the enclosing grace when it
  // began (see `cleanup_bound`), and it is its own timer, so an enclosing
  // grace reaches no further than the cleanup nested in it.
  template <class F>
  void sources(int from, bool soft, bool graces, F&& take) const {
    for (int i = from; i >= 0; --i) {
      const frame& f = stack_[static_cast<std::size_t>(i)];
      if (soft || (graces && f.what == frame::kind::cleanup)) take(f.deadline, i);
      if (f.what == frame::kind::shield) soft = graces = false;
      if (f.what == frame::kind::cleanup) soft = graces = false;
    }
    if (soft) take(signal_, signal_source);
    take(hard_, hard_source);
  }

  reach reaching() const {
    reach r;
    sources(static_cast<int>(stack_.size()) - 1, true, true,
            [&](duration t, int src) { r.take(t, src); });
    if (r.tie) throw inconclusive{};
    return r;
  }

  // The loop fires every due timer at once, when nothing is ready.
  void batch() {
    batch_at_ = now_;
    ++batches_;
  }
  bool fired(int src) const {
    // The plan's timers are armed before the run starts.
    if (src == signal_source)
      return signal_fired_ || signal_ < now_ || (signal_ == now_ && batch_at_ == now_);
    if (src == hard_source)
      return hard_fired_ || hard_ < now_ || (hard_ == now_ && batch_at_ == now_);
    const frame& f = stack_[static_cast<std::size_t>(src)];
    if (f.deadline == now_ && batch_at_ == now_ && batches_ > f.armed_batch) return true;
    // A scope whose deadline is not after its start starts cancelled. (A
    // cleanup's grace of 0 is a timer like any other: it fires once the
    // ready work is done, so a checkpoint there is left open; issue 11.3.)
    return f.fired || f.deadline < now_ ||
           (f.deadline == now_ && (f.armed < now_ || f.what != frame::kind::cleanup));
  }

  // A timer due now that has not fired yet: it fires at the start of the
  // next turn, whatever is running.
  bool due_timer_pending() const {
    for (int i = 0; i < static_cast<int>(stack_.size()); ++i)
      if (stack_[static_cast<std::size_t>(i)].deadline == now_ && !fired(i)) return true;
    return (signal_ == now_ && !fired(signal_source)) || (hard_ == now_ && !fired(hard_source));
  }

  result cancelled(const reach& r) {
    if (r.source == signal_source) {
      signal_fired_ = true;
    } else if (r.source == hard_source) {
      hard_fired_ = signal_fired_ = true;
    } else {
      stack_[static_cast<std::size_t>(r.source)].fired = true;
    }
    result c;
    c.what = result::kind::cancel;
    return c;
  }

  // A wait of `d` (nullopt: a checkpoint, which completes at once).
  std::optional<result> wait(std::optional<duration> d) {
    const reach r = reaching();
    if (r.at < now_ || (r.at == now_ && fired(r.source))) return cancelled(r);  // at once
    if (!d) {
      if (r.at == now_) throw inconclusive{};  // a deadline armed this instant (issue 11.3)
      return std::nullopt;
    }
    const duration wake = add(now_, *d);
    if (r.at == now_ && *d > duration::zero()) {
      batch();  // the wait is armed, then the due timer fires
      return cancelled(r);
    }
    if (r.at == wake) throw inconclusive{};  // completion and cancel in one instant: G8 allows both
    if (r.at < wake) {
      now_ = r.at;
      batch();
      return cancelled(r);
    }
    now_ = wake;
    batch();
    return std::nullopt;
  }

  // The end of the enclosing cleanup's grace, which bounds a cleanup that
  // starts now (docs/guide.md, "A grace bounds everything inside the
  // cleanup"), unless a user shield stands between them.
  duration cleanup_bound() const {
    for (auto f = stack_.rbegin(); f != stack_.rend(); ++f) {
      if (f->what == frame::kind::shield) return never;
      if (f->what == frame::kind::cleanup) return f->deadline;
    }
    return never;
  }

  duration plan_cancel(int scope_id) const {
    duration at = never;
    for (const action& a : t_.plan) {
      if (a.what != action::kind::cancel_scope || a.target != scope_id) continue;
      if (a.at == now_) throw inconclusive{};  // the scope starts in the same instant
      if (a.at > now_) at = std::min(at, a.at);
    }
    return at;
  }

  // Runs `b` in a new frame. A cancellation unwinding to the frame stops
  // there (`*caught`) if the frame's own cancel fired and nothing outside it
  // that reaches it has fired by now; otherwise it goes on outwards.
  result nested(const block& b, frame::kind k, duration deadline, bool* caught) {
    stack_.push_back({k, deadline, now_, batches_, false});
    const int me = static_cast<int>(stack_.size()) - 1;
    result r = block_of(b);
    if (r.what == result::kind::cancel) {
      bool outside = false;
      const bool through = k != frame::kind::shield && k != frame::kind::cleanup;
      sources(me - 1, through, k != frame::kind::shield,
              [&](duration, int src) { outside = outside || fired(src); });
      if (k == frame::kind::cleanup || (!outside && k != frame::kind::shield && fired(me))) {
        // A scope that catches its cancellation resumes its caller in a
        // turn of its own: a timer due now fires first, and may unwind the
        // caller instead (an order that turns decide, left open here).
        if (k != frame::kind::cleanup && due_timer_pending()) throw inconclusive{};
        *caught = true;
        r = {};
      }
    }
    stack_.pop_back();
    return r;
  }

  result block_of(const block& b) {
    for (const stmt& s : b) {
      std::optional<result> r = statement(s);
      if (r && r->what != result::kind::ok) return *r;
    }
    return {};
  }

  std::optional<result> statement(const stmt& s) {
    bool caught = false;
    switch (s.kind) {
      case op::sleep: return wait(s.d);
      case op::checkpoint: return wait(std::nullopt);
      case op::call:
      case op::chain: return block_of(s.body);
      case op::throw_error: {
        result e;
        e.what = result::kind::error;
        e.ids.push_back(s.id);
        return e;
      }
      case op::move_on: return nested(s.body, frame::kind::move_on, add(now_, s.d), &caught);
      case op::fail_after: {
        result r = nested(s.body, frame::kind::fail, add(now_, s.d), &caught);
        if (caught) r.what = result::kind::error;  // timeout_error: no thrown id
        return r;
      }
      case op::scope: return nested(s.body, frame::kind::scope, plan_cancel(s.id), &caught);
      case op::shield: return nested(s.body, frame::kind::shield, never, &caught);
      case op::try_catch: {
        result r = block_of(s.body);
        if (r.what != result::kind::error) return r;
        caught_.insert(caught_.end(), r.ids.begin(), r.ids.end());
        return std::nullopt;
      }
      case op::finally: {
        const result body = block_of(s.body);
        // The cleanup starts when the body ends, shielded, under its grace;
        // whatever unwinds it (its grace, an enclosing grace, escalation)
        // cuts it, and the body's outcome goes on.
        result clean;
        if (s.factory_throw != 0) {
          clean.what = result::kind::error;
          clean.ids.push_back(s.factory_throw);
        } else {
          clean = nested(s.cleanup, frame::kind::cleanup, std::min(add(now_, s.d), cleanup_bound()),
                         &caught);
        }
        if (body.what == result::kind::error) return body;    // the body's error wins
        if (clean.what == result::kind::error) return clean;  // never dropped (G6)
        return body;
      }
      default: throw inconclusive{};  // not a sequential statement
    }
  }

  const tree& t_;
  std::vector<frame> stack_;
  std::vector<int> caught_;
  duration now_ = duration::zero();
  duration signal_ = never;
  duration hard_ = never;
  bool signal_fired_ = false;
  bool hard_fired_ = false;
  duration batch_at_ = duration::min();  // when timers last fired
  int batches_ = 0;
};

bool sequential(const block& b) {
  for (const stmt& s : b) {
    switch (s.kind) {
      case op::sleep:
      case op::checkpoint:
      case op::call:
      case op::chain:
      case op::throw_error:
      case op::move_on:
      case op::fail_after:
      case op::scope:
      case op::shield:
      case op::try_catch: break;
      case op::finally: break;
      default: return false;
    }
    if (!sequential(s.body) || !sequential(s.cleanup)) return false;
  }
  return true;
}

}  // namespace

std::optional<prediction> predict(const tree& t) {
  if (!sequential(t.root)) return std::nullopt;
  for (const action& a : t.plan)
    if (a.what == action::kind::cancel_group) return std::nullopt;
  try {
    return walker(t).run();
  } catch (const inconclusive&) {
    return std::nullopt;
  }
}

}  // namespace cohort::property
