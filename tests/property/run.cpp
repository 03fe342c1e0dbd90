// Running a generated tree on virtual time and checking the contract.
//
// The checker keeps its own model of cancellation, independent of the
// library's: every scope the tree enters gets a `model_scope` recording its
// deadline, the moment it was first cancelled (by the tree, by the plan, by a
// failing sibling) and whether it is a shield or a cleanup. From the model
// alone it knows, at any moment, the earliest cancellation that must have
// reached a given point of the tree, and it compares that with what the tasks
// observed:
//
//   cancel_observed_as_success  a wait returned normally although a cancel
//                               that reaches it happened strictly before (G2,
//                               G10; a cancel in the same instant as the
//                               completion may go either way: G8)
//   late_unwind                 a frame without shielded work in it outlived
//                               a cancel that reaches it (virtual time: zero
//                               loop turns may pass), except a cancelled group
//                               body's frame, which ends exactly when the
//                               group's last child ends
//   deadlock                    the tree waited for something nothing could
//                               wake (a watchdog at +1000 h), unless a waiter
//                               wants a permit a cancelled body holds while it
//                               is kept for its children (documented)
//   started_after_cancel        a spawned child ran although its group was
//                               already cancelled (G4)
//   spurious_cancel             a scope caught a cancellation nobody asked
//                               for, or a deadline before it passed (G2, 11.7)
//   cleanup_cut_early           a cleanup was cut before its grace (or an
//                               enclosing one) expired and without escalation
//                               (G3, 11.8)
//   destructor                  a started task's frame was not destroyed
//                               exactly once (G3)
//   frame_leak                  task frames alive after the run (G9)
//   permit_lost                 a semaphore does not have all its permits (G5)
//   error_dropped / error_duplicated / group_errors
//                               every thrown error is reported exactly once,
//                               a group's errors are one per failed member and
//                               in the order they happened (G6, 11.1)
//   body_local_dead             a child was destroyed after its group body's
//                               frame, which a cancel unwound (11.5a)
//   escalation_not_prompt       the run outlived the second signal
//   result_lost                 an event wait woken before any cancel reached
//                               it was unwound instead of returning (G8)

#include <cohort/cancel_scope.hpp>
#include <cohort/event.hpp>
#include <cohort/finally.hpp>
#include <cohort/semaphore.hpp>
#include <cohort/shield.hpp>
#include <cohort/sleep.hpp>
#include <cohort/sync_wait.hpp>
#include <cohort/task.hpp>
#include <cohort/task_group.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <deque>
#include <exception>
#include <list>
#include <memory>
#include <stdexcept>
#include <unordered_map>
#include <utility>

#include "contract.hpp"
#include "virtual_loop.hpp"

namespace cohort::property {
namespace {

constexpr time_point never = time_point::max();

time_point add(time_point t, duration d) {
  if (d < duration::zero()) return t + d;
  if (d == duration::max() || t > time_point::max() - d) return never;
  return t + d;
}

/// What a `throw_error` statement throws.
struct thrown_error : std::exception {
  explicit thrown_error(int i) noexcept : id(i) {}
  const char* what() const noexcept override { return "property: thrown error"; }
  int id;
};

enum class boundary : std::uint8_t { none, shield, cleanup };

struct model_scope {
  model_scope* parent = nullptr;
  boundary edge = boundary::none;
  time_point deadline = never;   // own deadline: move_on/fail_after, or a cleanup's grace
  time_point cancelled = never;  // first cancel of its own
  std::string why;
  time_point hard = never;  // the root only: escalation

  void cancel(time_point at, std::string reason) {
    if (at < cancelled) {
      cancelled = at;
      why = std::move(reason);
    }
  }
};

/// The earliest cancellation that reaches a point of the tree.
struct reach {
  time_point at = never;
  std::string why;
  bool timer = false;  // a deadline: whether it fired yet at `at` depends on the heap's order
  void take(time_point t, const std::string& w, bool by_timer = false) {
    if (t < at || (t == at && t != never && timer && !by_timer)) {
      at = t;
      why = w;
      timer = by_timer;
    }
  }
};

reach reaching(const model_scope* m) {
  reach r;
  bool soft = true;    // soft cancels still reach (no shield crossed yet)
  bool graces = true;  // an enclosing cleanup's grace still reaches (no user shield crossed)
  for (const model_scope* s = m; s != nullptr; s = s->parent) {
    if (soft) {
      r.take(s->cancelled, s->why);
      r.take(s->deadline, s->edge == boundary::cleanup ? "its grace" : "a deadline", true);
    } else if (graces && s->edge == boundary::cleanup) {
      r.take(s->deadline, "an enclosing cleanup's grace (11.8)", true);
    }
    r.take(s->hard, "escalation (second signal)");
    if (s->edge == boundary::shield) soft = graces = false;
    if (s->edge == boundary::cleanup) soft = false;
  }
  return r;
}

struct state;

struct group_rec {
  state* st = nullptr;
  const stmt* s = nullptr;
  model_scope* m = nullptr;
  task_group* g = nullptr;           // while the group runs
  bool body_ended = false;           // the body returned or threw (its locals are gone, as in C++)
  bool body_locals_unwound = false;  // the body's frame was destroyed while it was suspended
  bool body_failed = false;
  int spawned = 0, completed = 0, failed = 0;
  std::vector<std::uint64_t> direct;    // throw sequence numbers of errors thrown straight into it
  struct scope_rec* scope = nullptr;    // the `scope` its children see
  group_rec* outer_body = nullptr;      // the group whose body's task chain runs this group
  int live_children = 0;                // spawned children whose frames are not destroyed yet
  time_point children_done_at = never;  // when live_children last fell to 0
};

/// True if a frame in the task chain of group `g`'s body (or of an enclosing
/// group's body, without crossing a spawn) may end now although a cancel
/// reached it earlier: a cancelled body's frames are kept until the group's
/// last child has ended and destroyed right then (docs/guide.md, "Children
/// are destroyed before the body"), so such a frame may end exactly when
/// that group's last child ended, and at no other late moment.
bool kept_for_children(const group_rec* g, time_point now) {
  for (; g != nullptr; g = g->outer_body)
    if (g->live_children == 0 && g->children_done_at == now) return true;
  return false;
}

struct scope_rec {
  cancel_scope* sc = nullptr;
  model_scope* m = nullptr;
};

struct cleanup_rec {
  const stmt* s = nullptr;
  model_scope* m = nullptr;
  time_point entered{};
  enum class end : std::uint8_t { running, completed, threw, cut } how = end::running;
  bool body_failed = false;
  std::vector<int> error_ids;
};

/// Where a statement runs.
struct ctx {
  state* st = nullptr;
  model_scope* m = nullptr;
  group_rec* group = nullptr;   // nearest group (spawn, cancel_group)
  scope_rec* scope = nullptr;   // nearest `scope` (cancel_scope)
  group_rec* direct = nullptr;  // the group an error thrown here reaches at once
  group_rec* body = nullptr;    // the innermost group whose body's task chain runs this
};

struct thrown_rec {
  int id;
  int by;
  time_point at;
};

struct state {
  const tree* t = nullptr;
  test::virtual_loop* loop = nullptr;
  time_point t0{};
  std::vector<std::unique_ptr<semaphore>> sems;
  std::vector<std::unique_ptr<event>> events;
  std::deque<model_scope> scopes;
  std::deque<group_rec> groups;
  std::deque<cleanup_rec> cleanups;
  std::unordered_map<int, group_rec*> group_by_id;
  std::unordered_map<int, scope_rec*> scope_by_id;
  std::vector<thrown_rec> thrown;
  std::unordered_map<int, std::uint64_t> throw_seq;
  std::vector<int> reported;
  std::vector<std::exception_ptr> timeouts_seen;
  struct frame_rec {
    bool started = false;
    int destroyed = 0;
    int by = 0;
  };
  std::vector<frame_rec> frames;
  std::vector<std::string> violations;
  model_scope* root = nullptr;
  std::vector<std::vector<class event_wait*>> waiting;  // per event: waits in progress
  struct holder {
    int sem;
    const group_rec* body;  // the group body whose task chain holds the permit, if any
  };
  std::list<holder> holders;   // permits held, and where
  bool stuck = false;          // the watchdog found the tree waiting for ever
  bool stuck_excused = false;  // ... because of the documented rule (see pinned_permit)

  time_point now() const { return loop->now(); }
  std::string at(time_point t) const {
    if (t == never) return "never";
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t - t0).count();
    char buf[48];
    std::snprintf(buf, sizeof buf, "+%lld.%06lldms", static_cast<long long>(ns / 1000000),
                  static_cast<long long>(ns % 1000000));
    return buf;
  }
  void fail(std::string v) {
    if (violations.size() < 20) violations.push_back(std::move(v));
  }
  model_scope* new_scope(model_scope* parent, boundary edge = boundary::none) {
    model_scope& m = scopes.emplace_back();
    m.parent = parent;
    m.edge = edge;
    return &m;
  }
  void record_throw(int id, int by, group_rec* direct) {
    thrown.push_back({id, by, now()});
    throw_seq[id] = thrown.size();
    if (direct != nullptr) direct->direct.push_back(thrown.size());
  }
};

/// A frame's identity: constructed with the frame's parameters, so the check
/// sees frames that were destroyed without ever starting too.
class frame_token {
 public:
  frame_token(state* st, int by) : st_(st), id_(static_cast<int>(st->frames.size())) {
    st->frames.push_back({false, 0, by});
  }
  frame_token(frame_token&& o) noexcept : st_(o.st_), id_(std::exchange(o.id_, -1)) {}
  frame_token(const frame_token&) = delete;
  ~frame_token() {
    if (id_ >= 0) ++st_->frames[static_cast<std::size_t>(id_)].destroyed;
  }
  void start() { st_->frames[static_cast<std::size_t>(id_)].started = true; }

 private:
  state* st_;
  int id_;
};

/// Checks, when a frame ends (returns, throws or is destroyed), that it did
/// not outlive a cancellation that reaches it.
class span {
 public:
  span(const ctx& c, const stmt* s, bool may_outlive)
      : st_(c.st), m_(c.m), body_(c.body), s_(s), start_(c.st->now()), exempt_(may_outlive) {}
  span(const span&) = delete;
  ~span() { end(); }
  void end() {
    if (done_) return;
    done_ = true;
    const time_point e = st_->now();
    reach r = reaching(m_);
    if (exempt_) {  // shielded work inside: only escalation must be prompt
      r = reach{};
      for (const model_scope* s = m_; s != nullptr; s = s->parent) r.take(s->hard, "escalation");
    }
    if (r.at != never && e > std::max(start_, r.at) && !kept_for_children(body_, e)) {
      st_->fail("late_unwind: the frame of #" + std::to_string(s_ != nullptr ? s_->id : 0) +
                " (started " + st_->at(start_) + ") ended at " + st_->at(e) + ", after " + r.why +
                " cancelled it at " + st_->at(r.at));
    }
  }

 private:
  state* st_;
  model_scope* m_;
  const group_rec* body_;
  const stmt* s_;
  time_point start_;
  bool exempt_;
  bool done_ = false;
};

void after_wait(const ctx& c, const stmt& s, const char* what) {
  const reach r = reaching(c.m);
  if (r.at < c.st->now()) {
    c.st->fail("cancel_observed_as_success: #" + std::to_string(s.id) + " " + what +
               " returned at " + c.st->at(c.st->now()) + " although " + r.why +
               " cancelled it at " + c.st->at(r.at));
  }
}

void collect_ids(state& st, const std::exception_ptr& e, std::vector<int>& out) {
  try {
    std::rethrow_exception(e);
  } catch (const thrown_error& t) {
    out.push_back(t.id);
  } catch (const group_error& g) {
    for (const auto& inner : g.errors()) collect_ids(st, inner, out);
  } catch (const timeout_error&) {
  } catch (const std::exception& x) {
    st.fail(std::string("unexpected_error: an error the tree never throws: ") + x.what());
  } catch (...) {
    st.fail("unexpected_error: a non-std exception");
  }
}

bool block_may_outlive(const block& b) {
  for (const stmt& s : b)
    if (s.has_shield_or_finally) return true;
  return false;
}

/// An event wait in progress. G8: a waiter the event woke before any cancel
/// reached it must see the event, even if a cancel follows in the same
/// instant; its frame must not be unwound at that wait.
class event_wait {
 public:
  event_wait(const ctx& c, const stmt& s) : st_(c.st), m_(c.m), s_(&s) {
    st_->waiting[static_cast<std::size_t>(s.index)].push_back(this);
  }
  event_wait(const event_wait&) = delete;
  ~event_wait() {
    auto& list = st_->waiting[static_cast<std::size_t>(s_->index)];
    list.erase(std::find(list.begin(), list.end(), this));
    if (woken && !returned) {
      st_->fail("result_lost: #" + std::to_string(s_->id) + " event wait was woken by a set at " +
                st_->at(woken_at) + " before any cancel reached it, but its task was unwound at " +
                st_->at(st_->now()) + " instead of seeing the event (G8)");
    }
  }
  /// The event is being set now.
  void on_set() {
    const reach r = reaching(m_);
    if (r.at > st_->now()) {
      woken = true;
      woken_at = st_->now();
    }
  }
  bool returned = false;

 private:
  state* st_;
  model_scope* m_;
  const stmt* s_;
  bool woken = false;
  time_point woken_at{};
};

void set_event(state& st, int index) {
  event& e = *st.events[static_cast<std::size_t>(index)];
  if (e.is_set()) return;
  for (event_wait* w : st.waiting[static_cast<std::size_t>(index)]) w->on_set();
  e.set();
}

task<> exec_block(frame_token tok, ctx c, const block* b, const stmt* owner);

task<> exec_chain(frame_token tok, ctx c, const stmt* s, int depth) {
  tok.start();
  span sp(c, s, s->has_shield_or_finally);
  if (depth <= 1) {
    co_await exec_block(frame_token(c.st, s->id), c, &s->body, s);
  } else {
    co_await exec_chain(frame_token(c.st, s->id), c, s, depth - 1);
  }
  sp.end();
}

task<> exec_acquire(frame_token tok, ctx c, const stmt* s) {
  tok.start();
  span sp(c, s, s->has_shield_or_finally);
  semaphore& sem = *c.st->sems[static_cast<std::size_t>(s->index)];
  semaphore::permit permit;
  if (s->variant == 1) {
    if (auto p = sem.try_acquire()) permit = std::move(*p);
  }
  if (!permit) {
    permit = co_await sem.acquire();
    after_wait(c, *s, "acquire");
  }
  if (!permit) c.st->fail("permit_lost: #" + std::to_string(s->id) + " acquire returned no permit");
  if (s->variant == 2) permit.release();
  struct held {
    state* st;
    std::list<state::holder>::iterator it;
    ~held() {
      if (st != nullptr) st->holders.erase(it);
    }
  } h{permit ? c.st : nullptr, permit
                                   ? c.st->holders.insert(c.st->holders.end(), {s->index, c.body})
                                   : std::list<state::holder>::iterator{}};
  co_await exec_block(frame_token(c.st, s->id), c, &s->body, s);
  sp.end();
}

task<> exec_finally_body(frame_token tok, ctx c, const stmt* s, bool* failed) {
  tok.start();
  span sp(c, s, block_may_outlive(s->body));
  try {
    co_await exec_block(frame_token(c.st, s->id), c, &s->body, s);
  } catch (...) {
    *failed = true;
    throw;
  }
  sp.end();
}

struct cleanup_guard {
  state* st;
  cleanup_rec* r;
  ~cleanup_guard() {
    if (r->how != cleanup_rec::end::running) return;
    r->how = cleanup_rec::end::cut;
    const reach why = reaching(r->m);
    if (why.at > st->now()) {
      st->fail("cleanup_cut_early: the cleanup of #" + std::to_string(r->s->id) + " (entered " +
               st->at(r->entered) + ", grace until " + st->at(r->m->deadline) + ") was cut at " +
               st->at(st->now()) + " without escalation or an expired grace");
    }
  }
};

task<> exec_cleanup(frame_token tok, ctx c, const stmt* s, cleanup_rec* r) {
  tok.start();
  cleanup_guard guard{c.st, r};
  span sp(c, s, block_may_outlive(s->cleanup));
  try {
    co_await exec_block(frame_token(c.st, s->id), c, &s->cleanup, s);
  } catch (...) {
    r->how = cleanup_rec::end::threw;
    collect_ids(*c.st, std::current_exception(), r->error_ids);
    throw;
  }
  r->how = cleanup_rec::end::completed;
  sp.end();
}

task<> exec_finally(frame_token tok, ctx c, const stmt* s) {
  tok.start();
  span sp(c, s, true);
  state* st = c.st;
  bool body_failed = false;
  ctx in = c;
  in.direct = nullptr;  // a failing body waits for its cleanup before its error moves on
  auto make_cleanup = [st, in, s, &body_failed]() -> task<> {
    cleanup_rec& r = st->cleanups.emplace_back();
    r.s = s;
    r.entered = st->now();
    r.body_failed = body_failed;
    r.m = st->new_scope(in.m, boundary::cleanup);
    r.m->deadline = add(r.entered, s->d);
    if (s->factory_throw != 0) {
      r.how = cleanup_rec::end::threw;
      r.error_ids.push_back(s->factory_throw);
      st->record_throw(s->factory_throw, s->id, nullptr);
      throw thrown_error(s->factory_throw);
    }
    ctx cc = in;
    cc.m = r.m;
    return exec_cleanup(frame_token(st, s->id), cc, s, &r);
  };
  co_await finally(exec_finally_body(frame_token(st, s->id), in, s, &body_failed), make_cleanup,
                   s->d);
  sp.end();
}

task<> exec_shield(frame_token tok, ctx c, const stmt* s) {
  tok.start();
  span sp(c, s, true);
  ctx in = c;
  in.m = c.st->new_scope(c.m, boundary::shield);
  co_await shield(exec_block(frame_token(c.st, s->id), in, &s->body, s));
  sp.end();
}

/// A spawned child's hold on its group body's locals: checked when the
/// child's frame is destroyed, started or not.
class body_local_ref {
 public:
  body_local_ref(group_rec* g, const stmt* s) : g_(g), s_(s) { ++g->live_children; }
  body_local_ref(body_local_ref&& o) noexcept : g_(std::exchange(o.g_, nullptr)), s_(o.s_) {}
  body_local_ref(const body_local_ref&) = delete;
  ~body_local_ref() {
    if (g_ == nullptr) return;
    if (--g_->live_children == 0) g_->children_done_at = g_->st->now();
    if (!s_->touch_body_local || !g_->body_locals_unwound) return;
    g_->st->fail("body_local_dead: the child #" + std::to_string(s_->id) + " of group #" +
                 std::to_string(g_->s->id) + " was destroyed at " + g_->st->at(g_->st->now()) +
                 " after the cancelled body's frame (issue 11.5a: a child reading the body's "
                 "locals, even from its destructor, reads freed memory)");
  }

 private:
  group_rec* g_;
  const stmt* s_;
};

task<> exec_child(frame_token tok, [[maybe_unused]] body_local_ref local, ctx c, const stmt* s) {
  tok.start();
  group_rec* g = c.group;
  const reach r = reaching(g->m);
  if (r.at < c.st->now()) {
    c.st->fail("started_after_cancel: child #" + std::to_string(s->id) + " of group #" +
               std::to_string(g->s->id) + " started at " + c.st->at(c.st->now()) + " although " +
               r.why + " cancelled the group at " + c.st->at(r.at));
  }
  span sp(c, s, s->has_shield_or_finally);
  try {
    co_await exec_block(frame_token(c.st, s->id), c, &s->body, s);
  } catch (...) {
    ++g->failed;
    if (!g->s->collect) g->m->cancel(c.st->now(), "the failure of child #" + std::to_string(s->id));
    throw;
  }
  ++g->completed;
  sp.end();
}

task<> exec_group_body(frame_token tok, ctx c) {
  tok.start();
  group_rec* g = c.group;
  struct local {
    group_rec* g;
    explicit local(group_rec* gr) : g(gr) {}
    ~local() {
      if (!g->body_ended) g->body_locals_unwound = true;
    }
  } body_local(g);
  span sp(c, g->s, g->s->has_shield_or_finally);
  try {
    co_await exec_block(frame_token(c.st, g->s->id), c, &g->s->body, g->s);
  } catch (...) {
    g->body_failed = true;
    g->body_ended = true;
    if (!g->s->collect)
      g->m->cancel(c.st->now(), "the failure of the body of group #" + std::to_string(g->s->id));
    throw;
  }
  g->body_ended = true;
  sp.end();
}

void check_group_error(group_rec* g, const group_error& e) {
  state& st = *g->st;
  const std::string name = "group #" + std::to_string(g->s->id);
  const std::size_t failures = static_cast<std::size_t>(g->failed) + (g->body_failed ? 1 : 0);
  if (e.errors().size() != failures) {
    st.fail("group_errors: " + name + " reports " + std::to_string(e.errors().size()) +
            " errors but " + std::to_string(failures) + " of its members failed");
  }
  if (e.errors().empty() || e.cause() != e.errors().front()) {
    st.fail("group_errors: " + name + "'s cause is not its first error");
  }
  const std::size_t ended_otherwise =
      static_cast<std::size_t>(g->spawned - g->completed - g->failed);
  if (e.cancelled() != ended_otherwise) {
    st.fail("group_errors: " + name + " counts " + std::to_string(e.cancelled()) +
            " members cancelled or not started, the tree saw " + std::to_string(ended_otherwise));
  }
  // Errors thrown straight into the group arrive when thrown: their order
  // among the group's errors is the order they were thrown in.
  std::uint64_t last = 0;
  for (const auto& err : e.errors()) {
    try {
      std::rethrow_exception(err);
    } catch (const thrown_error& t) {
      const std::uint64_t seq = st.throw_seq[t.id];
      bool is_direct = false;
      for (auto d : g->direct) is_direct = is_direct || d == seq;
      if (!is_direct) continue;
      if (seq < last) {
        st.fail("group_errors: " + name + " lists error#" + std::to_string(t.id) +
                " after an error thrown later (the cause must be the first)");
      }
      last = seq;
    } catch (...) {
    }
  }
}

task<> exec_group(frame_token tok, ctx c, const stmt* s) {
  tok.start();
  span sp(c, s, s->has_shield_or_finally);
  state* st = c.st;
  group_rec* g = &st->groups.emplace_back();
  g->st = st;
  g->s = s;
  g->m = st->new_scope(c.m);
  g->scope = c.scope;
  g->outer_body = c.body;
  st->group_by_id[s->id] = g;
  struct on_end {
    group_rec* g;
    ~on_end() { g->g = nullptr; }
  } end{g};
  ctx in = c;
  in.m = g->m;
  in.group = g;
  in.direct = g;
  in.body = g;
  const group_options opts{s->collect ? failure_policy::collect : failure_policy::fail_fast};
  try {
    co_await with_task_group(opts, [g, in](task_group& tg) -> task<> {
      g->g = &tg;
      ctx body = in;
      return exec_group_body(frame_token(g->st, g->s->id), body);
    });
  } catch (const group_error& e) {
    check_group_error(g, e);
    throw;
  }
  if (g->failed != 0 || g->body_failed) {
    st->fail("error_dropped: group #" + std::to_string(s->id) + " returned normally although " +
             std::to_string(g->failed + (g->body_failed ? 1 : 0)) + " of its members failed");
  }
  sp.end();
}

task<> exec_deadline(frame_token tok, ctx c, const stmt* s) {
  tok.start();
  span sp(c, s, s->has_shield_or_finally);
  state* st = c.st;
  ctx in = c;
  in.m = st->new_scope(c.m);
  in.m->deadline = add(st->now(), s->d);
  const time_point deadline = in.m->deadline;
  const bool at = s->index == 1;  // move_on_at / fail_at
  if (s->kind == op::move_on) {
    auto body = exec_block(frame_token(st, s->id), in, &s->body, s);
    const bool completed = at ? co_await move_on_at(deadline, std::move(body))
                              : co_await move_on_after(s->d, std::move(body));
    if (!completed && st->now() < deadline) {
      st->fail("spurious_cancel: move_on #" + std::to_string(s->id) + " gave up at " +
               st->at(st->now()) + " before its deadline " + st->at(deadline));
    }
  } else {
    try {
      auto body = exec_block(frame_token(st, s->id), in, &s->body, s);
      if (at) {
        co_await fail_at(deadline, std::move(body));
      } else {
        co_await fail_after(s->d, std::move(body));
      }
    } catch (const timeout_error&) {
      const std::exception_ptr e = std::current_exception();
      bool seen = false;
      for (const auto& x : st->timeouts_seen) seen = seen || x == e;
      if (!seen) {
        st->timeouts_seen.push_back(e);
        if (st->now() < deadline) {
          st->fail("spurious_cancel: fail_after #" + std::to_string(s->id) + " timed out at " +
                   st->at(st->now()) + " before its deadline " + st->at(deadline));
        }
      }
      throw;
    }
  }
  sp.end();
}

task<> exec_scope(frame_token tok, ctx c, const stmt* s) {
  tok.start();
  span sp(c, s, s->has_shield_or_finally);
  state* st = c.st;
  cancel_scope sc;
  scope_rec rec{&sc, st->new_scope(c.m)};
  st->scope_by_id[s->id] = &rec;
  struct on_end {
    state* st;
    int id;
    ~on_end() { st->scope_by_id.erase(id); }
  } end{st, s->id};
  ctx in = c;
  in.m = rec.m;
  in.scope = &rec;
  const bool completed = co_await sc.run(exec_block(frame_token(st, s->id), in, &s->body, s));
  if (!completed && std::min(rec.m->cancelled, rec.m->deadline) > st->now()) {
    st->fail("spurious_cancel: scope #" + std::to_string(s->id) + " caught a cancellation at " +
             st->at(st->now()) + " that nobody requested");
  }
  sp.end();
}

task<> exec_try(frame_token tok, ctx c, const stmt* s) {
  tok.start();
  span sp(c, s, s->has_shield_or_finally);
  ctx in = c;
  in.direct = nullptr;
  try {
    co_await exec_block(frame_token(c.st, s->id), in, &s->body, s);
  } catch (...) {
    collect_ids(*c.st, std::current_exception(), c.st->reported);
  }
  sp.end();
}

task<> exec_block(frame_token tok, ctx c, const block* b, const stmt* owner) {
  tok.start();
  state* st = c.st;
  span sp(c, owner, block_may_outlive(*b));
  for (const stmt& s : *b) {
    switch (s.kind) {
      case op::sleep:
        co_await sleep_for(s.d);
        after_wait(c, s, "sleep");
        break;
      case op::checkpoint:
        co_await checkpoint();
        after_wait(c, s, "checkpoint");
        break;
      case op::call: co_await exec_block(frame_token(st, s.id), c, &s.body, &s); break;
      case op::chain: co_await exec_chain(frame_token(st, s.id), c, &s, s.index); break;
      case op::throw_error: st->record_throw(s.id, s.id, c.direct); throw thrown_error(s.id);
      case op::set_event: set_event(*st, s.index); break;
      case op::wait_event: {
        event& e = *st->events[static_cast<std::size_t>(s.index)];
        event_wait pending(c, s);
        co_await e.wait();
        pending.returned = true;
        after_wait(c, s, "event wait");
        if (!e.is_set())
          st->fail("lost_wakeup: #" + std::to_string(s.id) + " event wait returned unset");
        break;
      }
      case op::acquire: co_await exec_acquire(frame_token(st, s.id), c, &s); break;
      case op::finally: co_await exec_finally(frame_token(st, s.id), c, &s); break;
      case op::shield: co_await exec_shield(frame_token(st, s.id), c, &s); break;
      case op::group: co_await exec_group(frame_token(st, s.id), c, &s); break;
      case op::spawn: {
        group_rec* g = c.group;
        ctx child = c;
        // The child runs in the group: the group's scope, not the spawn site's.
        child.m = g->m;
        child.direct = g;
        child.scope = g->scope;
        child.body = nullptr;  // a child is a task of its own, destroyed when it ends
        ++g->spawned;
        g->g->spawn(exec_child(frame_token(st, s.id), body_local_ref(g, &s), child, &s));
        break;
      }
      case op::move_on:
      case op::fail_after: co_await exec_deadline(frame_token(st, s.id), c, &s); break;
      case op::scope: co_await exec_scope(frame_token(st, s.id), c, &s); break;
      case op::try_catch: co_await exec_try(frame_token(st, s.id), c, &s); break;
      case op::cancel_group:
        c.group->g->cancel();
        c.group->m->cancel(st->now(), "group.cancel() at #" + std::to_string(s.id));
        break;
      case op::set_timeout: {
        // A deadline that has passed already cancelled the scope; the new
        // one replaces it (and cancels at once if it is not in the future).
        model_scope& m = *c.scope->m;
        if (m.deadline <= st->now()) m.cancel(m.deadline, "a deadline");
        m.deadline = add(st->now(), s.d);
        c.scope->sc->set_timeout(s.d);
        break;
      }
      case op::cancel_scope:
        c.scope->sc->cancel();
        c.scope->m->cancel(st->now(), "scope.cancel() at #" + std::to_string(s.id));
        break;
    }
  }
  sp.end();
}

void apply(state& st, const action& a) {
  const time_point now = st.now();
  switch (a.what) {
    case action::kind::signal:
      st.loop->cancel_root(cancel_reason::signal, false);
      st.root->cancel(now, "the signal");
      break;
    case action::kind::escalate:
      st.loop->cancel_root(cancel_reason::signal, true);
      st.root->cancel(now, "the signal");
      if (now < st.root->hard) st.root->hard = now;
      break;
    case action::kind::cancel_scope: {
      auto it = st.scope_by_id.find(a.target);
      if (it == st.scope_by_id.end()) return;
      it->second->sc->cancel();
      it->second->m->cancel(now, "the plan's cancel of scope #" + std::to_string(a.target));
      break;
    }
    case action::kind::cancel_group: {
      auto it = st.group_by_id.find(a.target);
      if (it == st.group_by_id.end() || it->second->g == nullptr) return;
      it->second->g->cancel();
      it->second->m->cancel(now, "the plan's cancel of group #" + std::to_string(a.target));
      break;
    }
    case action::kind::set_event: set_event(st, a.target); break;
  }
}

/// True if a semaphore that has waiters has a permit held by a cancelled
/// group body that is kept for its children: the documented price of
/// destroying a cancelled body after its children (docs/guide.md: what the
/// body's locals hold is released only then, so a child must not wait for
/// it). Waiting for such a permit is the tree's deadlock, not the library's.
bool pinned_permit(const state& st) {
  for (const state::holder& h : st.holders) {
    if (st.sems[static_cast<std::size_t>(h.sem)]->waiting() == 0) continue;
    for (const group_rec* g = h.body; g != nullptr; g = g->outer_body) {
      if (!g->body_ended && g->live_children > 0 && reaching(g->m).at <= st.now()) return true;
    }
  }
  return false;
}

void check_errors(state& st) {
  std::unordered_map<int, int> times;
  for (int id : st.reported) ++times[id];
  std::unordered_map<int, bool> excused;  // a cleanup's error after its body failed
  for (const cleanup_rec& r : st.cleanups)
    if (r.body_failed)
      for (int id : r.error_ids) excused[id] = true;
  for (const thrown_rec& t : st.thrown) {
    const int n = times[t.id];
    if (n == 0 && !excused[t.id]) {
      st.fail("error_dropped: error#" + std::to_string(t.id) + " thrown by #" +
              std::to_string(t.by) + " at " + st.at(t.at) + " was never reported (G6)");
    } else if (n > 1) {
      st.fail("error_duplicated: error#" + std::to_string(t.id) + " was reported " +
              std::to_string(n) + " times");
    }
  }
}

}  // namespace

outcome run_tree(const tree& t) {
  outcome out;
  const std::size_t frames_before = detail::frame_stats().live();
  state st;
  st.t = &t;
  {
    test::virtual_loop loop;
    st.loop = &loop;
    st.t0 = loop.now();
    for (int p : t.sem_permits)
      st.sems.push_back(std::make_unique<semaphore>(static_cast<std::size_t>(p)));
    for (int e = 0; e < t.events; ++e) st.events.push_back(std::make_unique<event>());
    st.waiting.resize(static_cast<std::size_t>(t.events));
    st.root = st.new_scope(nullptr);
    for (const action& a : t.plan) {
      loop.call_at(st.t0 + a.at, [&st, a] { apply(st, a); });
    }
    // A watchdog long after anything the tree does: if the tree is still
    // waiting then, nothing could wake it. It tears the tree down as the
    // loop's own deadlock error would, but first looks at why it is stuck,
    // and the model sees the tear-down as the hard cancel it is.
    loop.call_at(st.t0 + std::chrono::hours(1000), [&st] {
      st.stuck = true;
      st.stuck_excused = pinned_permit(st);
      st.loop->cancel_root(cancel_reason::requested, true);
      st.root->cancel(st.now(), "the watchdog (the tree was stuck)");
      st.root->hard = st.now();
    });
    ctx root;
    root.st = &st;
    root.m = st.root;
    prediction::ended how = prediction::ended::completed;
    try {
      loop.run(exec_block(frame_token(&st, 0), root, &t.root, nullptr));
      out.result = "completed";
    } catch (const cancelled_error& e) {
      how = prediction::ended::cancelled;
      out.result = std::string("cancelled (") + e.what() + ")";
      if (st.root->cancelled == never) {
        st.fail("spurious_cancel: the run ended cancelled but nothing cancelled the root");
      }
    } catch (const std::logic_error& e) {
      how = prediction::ended::error;
      out.result = std::string("logic_error: ") + e.what();
      st.fail(std::string("deadlock: ") + e.what());
    } catch (...) {
      how = prediction::ended::error;
      out.result = "error";
      collect_ids(st, std::current_exception(), st.reported);
    }
    const time_point end = loop.now();
    out.result += " at " + st.at(end);
    if (st.stuck && !st.stuck_excused) {
      st.fail(
          "deadlock: the tree waited for something nothing could wake (the watchdog tore it "
          "down at " +
          st.at(end) + ")");
    }
    if (st.root->hard < end) {
      st.fail("escalation_not_prompt: the run ended at " + st.at(end) +
              ", after the second signal at " + st.at(st.root->hard));
    }
    out.steps = loop.steps();
    for (std::size_t i = 0; i < st.sems.size(); ++i) {
      const auto& s = *st.sems[i];
      if (s.available() != static_cast<std::size_t>(t.sem_permits[i]) || s.waiting() != 0) {
        st.fail("permit_lost: sem" + std::to_string(i) + " ends with " +
                std::to_string(s.available()) + " of " + std::to_string(t.sem_permits[i]) +
                " permits and " + std::to_string(s.waiting()) + " waiters (G5)");
      }
    }
    for (const cleanup_rec& r : st.cleanups) {
      if (r.how == cleanup_rec::end::running) {
        st.fail("destructor: the cleanup of #" + std::to_string(r.s->id) + " never ended");
      }
    }
    check_errors(st);
    if (const std::optional<prediction> p = st.stuck ? std::nullopt : predict(t)) {
      out.predicted = true;
      std::vector<int> reported = st.reported;
      std::sort(reported.begin(), reported.end());
      static constexpr const char* names[] = {"completes", "fails", "is cancelled"};
      auto ids = [](const std::vector<int>& v) {
        std::string r = "{";
        for (int id : v) r += (r.size() > 1 ? "," : "") + std::to_string(id);
        return r + "}";
      };
      if (p->how != how || p->end != end - st.t0 || p->reported != reported) {
        st.fail(std::string("oracle_mismatch: the contract says the tree ") +
                names[static_cast<int>(p->how)] + " at " + st.at(st.t0 + p->end) +
                " reporting errors " + ids(p->reported) + "; the run " +
                names[static_cast<int>(how)] + " at " + st.at(end) + " reporting " + ids(reported));
      }
    }
  }
  for (const auto& f : st.frames) {
    if (f.destroyed != 1) {
      st.fail("destructor: a frame of #" + std::to_string(f.by) + (f.started ? " (started)" : "") +
              " was destroyed " + std::to_string(f.destroyed) + " times (G3)");
      break;
    }
  }
  const std::size_t frames_after = detail::frame_stats().live();
  if (frames_after != frames_before) {
    st.fail("frame_leak: " +
            std::to_string(static_cast<long long>(frames_after) -
                           static_cast<long long>(frames_before)) +
            " task frames alive after the run (G9)");
  }
  out.violations = std::move(st.violations);
  return out;
}

}  // namespace cohort::property
