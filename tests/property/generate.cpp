// Drawing task trees from the grammar, and printing them.

#include <algorithm>
#include <chrono>
#include <sstream>
#include <stdexcept>

#include "contract.hpp"

namespace cohort::property {

using std::chrono::milliseconds;

std::uint32_t byte_chooser::below(std::uint32_t n) {
  if (n <= 1 || p_ == end_) return 0;
  std::uint32_t v = *p_++;
  if (n > 256 && p_ != end_) v = (v << 8) | *p_++;
  return v % n;
}

std::uint64_t tree_seed(std::uint64_t seed, std::uint64_t index) noexcept {
  // splitmix64 of the pair: neighbouring indices give unrelated trees.
  std::uint64_t z = seed * 0x9e3779b97f4a7c15ULL + index + 0x632be59bd9b4e019ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

avoid_set avoid_set::parse(const std::string& list) {
  avoid_set a;
  if (list.empty() || list == "none") return a;
  std::stringstream in(list);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (item == "1") {
      a.factory_throw = true;
    } else if (item == "5" || item == "5a") {
      a.body_local_ref = true;
    } else if (item == "7") {
      a.max_durations = true;
    } else if (item == "8") {
      a.nested_cleanup = true;
    } else {
      throw std::invalid_argument("unknown hole '" + item + "' (known: 1, 5, 7, 8)");
    }
  }
  return a;
}

std::string avoid_set::str() const {
  std::string s;
  auto add = [&](bool on, const char* n) {
    if (!on) return;
    if (!s.empty()) s += ',';
    s += n;
  };
  add(factory_throw, "1");
  add(body_local_ref, "5");
  add(max_durations, "7");
  add(nested_cleanup, "8");
  return s.empty() ? "none" : s;
}

namespace {

// What a statement being generated may use, given where it is.
struct where {
  int depth = 0;
  bool in_group = false;               // a group is near: spawn / cancel_group make sense
  bool in_scope = false;               // a `scope` is near: cancel_scope makes sense
  bool in_cleanup = false;             // inside a finally's cleanup
  int min_sem = 0;                     // lock order: only semaphores >= this (no deadlock)
  const where* group_level = nullptr;  // where the nearest group's children start
};

class generator {
 public:
  generator(chooser& c, const options& o, tree& t, bool sequential)
      : c_(c), o_(o), t_(t), sequential_(sequential) {}

  block make_block(const where& w) {
    block b;
    const int n = w.depth >= o_.max_depth ? 0 : static_cast<int>(c_.below(w.depth == 0 ? 7 : 4));
    for (int i = 0; i < n && nodes_ < o_.max_nodes; ++i) b.push_back(make_stmt(w));
    return b;
  }

  duration pick_sleep() {
    static constexpr int ms[] = {0, 1, 2, 3, 5, 8, 13};
    return milliseconds(ms[c_.below(7)]);
  }
  duration pick_deadline() {
    static constexpr int ms[] = {0, 1, 2, 4, 7, 10, 20, -1};
    const int v = ms[c_.below(8)];
    return v < 0 ? max_or_long() : milliseconds(v);
  }
  duration pick_grace() {
    static constexpr int ms[] = {0, 1, 3, 10, 30, -1};
    const int v = ms[c_.below(6)];
    return v < 0 ? max_or_long() : milliseconds(v);
  }
  duration max_or_long() {
    return o_.avoid.max_durations ? duration(std::chrono::hours(1000)) : duration::max();
  }

  stmt make_stmt(const where& w) {
    ++nodes_;
    stmt s;
    s.id = t_.next_id++;
    where in = w;
    in.depth = w.depth + 1;
    // Choice 0 is the smallest statement; compound ones need room to grow.
    // The weights make throws rare enough that most trees run a while.
    const bool leaf_only = w.depth + 1 >= o_.max_depth || nodes_ >= o_.max_nodes;
    static constexpr int weights[19] = {
        2, 3, 3, 1, 3, 1, 1,                 // checkpoint, sleep, sleep, throw, event, cancels
        2, 1, 2, 2, 2, 1, 2, 2, 3, 2, 1, 2,  // call .. scope
    };
    int total = 0;
    for (int i = 0; i < (leaf_only ? 7 : 19); ++i) total += weights[i];
    int roll = static_cast<int>(c_.below(static_cast<std::uint32_t>(total)));
    std::uint32_t pick = 0;
    while (roll >= weights[pick]) roll -= weights[pick++];
    if (sequential_) {
      // One task at a time: what the oracle can predict.
      static constexpr std::uint32_t one_task[19] = {0,  1,  2,  3,  1,  0,  1,  7,  8, 7,
                                                     10, 11, 12, 16, 17, 15, 16, 17, 18};
      pick = one_task[pick];
    }
    switch (pick) {
      case 0: s.kind = op::checkpoint; break;
      case 1: s.kind = op::sleep, s.d = pick_sleep(); break;
      case 2: s.kind = op::sleep, s.d = pick_sleep(); break;
      case 3: s.kind = op::throw_error; break;
      case 4:
        if (t_.events == 0) {
          s.kind = op::checkpoint;
        } else {
          s.kind = c_.below(2) == 0 ? op::wait_event : op::set_event;
          s.index = static_cast<int>(c_.below(static_cast<std::uint32_t>(t_.events)));
        }
        break;
      case 5:
        if (w.in_group) {
          s.kind = op::cancel_group;
        } else if (w.in_scope) {
          s.kind = op::cancel_scope;
        } else {
          s.kind = op::checkpoint;
        }
        break;
      case 6:
        if (w.in_scope) {
          s.kind = c_.below(2) == 0 ? op::cancel_scope : op::set_timeout;
          if (s.kind == op::set_timeout) s.d = pick_deadline();
        } else {
          s.kind = op::sleep, s.d = pick_sleep();
        }
        break;
      case 7: s.kind = op::call, s.body = make_block(in); break;
      case 8:
        s.kind = op::chain;
        s.index = c_.below(16) == 0 ? o_.deep_chain : 1 + static_cast<int>(c_.below(6));
        s.body = make_block(in);
        break;
      case 9: {
        const int sems = static_cast<int>(t_.sem_permits.size());
        if (w.min_sem >= sems) {
          s.kind = op::checkpoint;
          break;
        }
        s.kind = op::acquire;
        s.index =
            w.min_sem + static_cast<int>(c_.below(static_cast<std::uint32_t>(sems - w.min_sem)));
        s.variant = static_cast<int>(c_.below(3));
        in.min_sem = s.index + 1;
        s.body = make_block(in);
        break;
      }
      case 10:
      case 11: {
        if (w.in_cleanup && o_.avoid.nested_cleanup) {
          s.kind = op::call, s.body = make_block(in);
          break;
        }
        s.kind = op::finally;
        s.d = pick_grace();
        s.body = make_block(in);
        where cw = in;
        cw.in_cleanup = true;
        s.cleanup = make_block(cw);
        if (!o_.avoid.factory_throw && c_.below(6) == 0) s.factory_throw = t_.next_id++;
        break;
      }
      case 12: s.kind = op::shield, s.body = make_block(in); break;
      case 13:
      case 14: {
        s.kind = op::group;
        s.collect = c_.below(3) == 0;
        where gw = in;
        gw.in_group = true;
        gw.group_level = nullptr;  // set below, pointing at a copy that outlives the body
        where level = gw;
        gw.group_level = &level;
        // The body mostly spawns: put a few spawns first, then anything.
        const int spawns = static_cast<int>(c_.below(4));
        for (int i = 0; i < spawns && nodes_ < o_.max_nodes; ++i) s.body.push_back(make_spawn(gw));
        block rest = make_block(gw);
        for (auto& r : rest) s.body.push_back(std::move(r));
        break;
      }
      case 15:
        if (w.in_group && w.group_level != nullptr) {
          --nodes_;
          --t_.next_id;
          return make_spawn(w);
        }
        s.kind = op::try_catch, s.body = make_block(in);
        break;
      case 16:
      case 17:
        s.kind = pick == 16 ? op::move_on : op::fail_after;
        s.d = pick_deadline();
        if (c_.below(4) == 0) {
          // move_on_at / fail_at: an absolute deadline, maybe already past,
          // or time_point::max() (none).
          s.index = 1;
          if (c_.below(3) == 0) s.d = -milliseconds(1 + c_.below(3));
          if (s.d == duration(std::chrono::hours(1000))) s.d = duration::max();
        }
        s.body = make_block(in);
        break;
      case 18: {
        s.kind = c_.below(3) == 0 ? op::try_catch : op::scope;
        where sw = in;
        if (s.kind == op::scope) {
          sw.in_scope = true;
          scopes_.push_back(s.id);
        }
        s.body = make_block(sw);
        break;
      }
    }
    if (s.kind == op::group) groups_.push_back(s.id);
    return s;
  }

  stmt make_spawn(const where& w) {
    ++nodes_;
    stmt s;
    s.id = t_.next_id++;
    s.kind = op::spawn;
    s.touch_body_local = !o_.avoid.body_local_ref && c_.below(3) == 0;
    // The child runs in the group, not where the spawn is written.
    where cw = *w.group_level;
    cw.depth = w.depth + 1;
    cw.group_level = w.group_level;
    const int sems = static_cast<int>(t_.sem_permits.size());
    if (cw.min_sem < sems && c_.below(2) == 0 && nodes_ < o_.max_nodes) {
      // Siblings contending for a permit: hand-offs racing cancels (G5).
      ++nodes_;
      stmt a;
      a.id = t_.next_id++;
      a.kind = op::acquire;
      a.index =
          cw.min_sem + static_cast<int>(c_.below(static_cast<std::uint32_t>(sems - cw.min_sem)));
      where held = cw;
      held.min_sem = a.index + 1;
      a.body = make_block(held);
      s.body.push_back(std::move(a));
    }
    for (auto& b : make_block(cw)) s.body.push_back(std::move(b));
    return s;
  }

  void make_plan() {
    const std::uint32_t n = c_.below(5);
    duration last_signal = duration::max();
    for (std::uint32_t i = 0; i < n; ++i) {
      action a;
      static constexpr int when[] = {0, 1, 2, 3, 4, 5, 8, 13, 21};
      a.at = milliseconds(when[c_.below(9)]);
      switch (c_.below(7)) {
        case 0:
          a.what = action::kind::signal;
          last_signal = std::min(last_signal, a.at);
          break;
        case 1:
          if (last_signal == duration::max()) {
            a.what = action::kind::signal;
            last_signal = a.at;
          } else {
            a.what = action::kind::escalate;  // a second signal, later
            a.at = last_signal + milliseconds(when[c_.below(9)]);
          }
          break;
        case 2:
        case 3:
        case 4:
          if (scopes_.empty()) continue;
          a.what = action::kind::cancel_scope;
          a.target = scopes_[c_.below(static_cast<std::uint32_t>(scopes_.size()))];
          break;
        default:
          if (groups_.empty()) continue;
          a.what = action::kind::cancel_group;
          a.target = groups_[c_.below(static_cast<std::uint32_t>(groups_.size()))];
          break;
      }
      t_.plan.push_back(a);
    }
    // Every event is set from outside at some point, so no wait is forever.
    for (int e = 0; e < t_.events; ++e) {
      action a;
      a.what = action::kind::set_event;
      a.at = milliseconds(c_.below(25));
      a.target = e;
      t_.plan.push_back(a);
    }
  }

 private:
  chooser& c_;
  const options& o_;
  tree& t_;
  bool sequential_;
  int nodes_ = 0;
  std::vector<int> scopes_;
  std::vector<int> groups_;
};

bool mark(block& b) {
  bool any = false;
  for (stmt& s : b) {
    bool sub = mark(s.body);
    sub = mark(s.cleanup) || sub;
    if (s.kind == op::shield || s.kind == op::finally) sub = true;
    s.has_shield_or_finally = sub;
    any = any || sub;
  }
  return any;
}

int count(const block& b) {
  int n = 0;
  for (const stmt& s : b) n += 1 + count(s.body) + count(s.cleanup);
  return n;
}

const char* name(op k) {
  switch (k) {
    case op::sleep: return "sleep";
    case op::checkpoint: return "checkpoint";
    case op::call: return "call";
    case op::chain: return "chain";
    case op::throw_error: return "throw";
    case op::set_event: return "set_event";
    case op::wait_event: return "wait_event";
    case op::acquire: return "acquire";
    case op::finally: return "finally";
    case op::shield: return "shield";
    case op::group: return "group";
    case op::spawn: return "spawn";
    case op::move_on: return "move_on_after";
    case op::fail_after: return "fail_after";
    case op::scope: return "cancel_scope.run";
    case op::try_catch: return "try";
    case op::cancel_group: return "group.cancel()";
    case op::cancel_scope: return "scope.cancel()";
    case op::set_timeout: return "scope.set_timeout";
  }
  return "?";
}

std::string show(duration d) {
  if (d == duration::max()) return "max";
  if (d < duration::zero()) return "-" + show(-d);
  const auto ms = std::chrono::duration_cast<milliseconds>(d).count();
  if (d == milliseconds(ms)) return std::to_string(ms) + "ms";
  return std::to_string(d.count()) + "ns";
}

void dump_block(std::ostringstream& out, const block& b, int indent) {
  for (const stmt& s : b) {
    out << std::string(static_cast<std::size_t>(indent) * 2, ' ') << '#' << s.id << ' '
        << name(s.kind);
    switch (s.kind) {
      case op::sleep:
      case op::move_on:
      case op::fail_after:
        out << ' ' << show(s.d);
        if (s.index == 1)
          out << (s.d == duration::max() ? " (_at time_point::max())" : " (_at now + d)");
        break;
      case op::throw_error: out << " error#" << s.id; break;
      case op::set_event:
      case op::wait_event: out << " event" << s.index; break;
      case op::acquire:
        out << " sem" << s.index << (s.variant == 1 ? " (try_acquire first)" : "")
            << (s.variant == 2 ? " (permit released before the body)" : "");
        break;
      case op::set_timeout: out << ' ' << show(s.d); break;
      case op::chain: out << " depth " << s.index; break;
      case op::group: out << (s.collect ? " collect" : " fail_fast"); break;
      case op::spawn:
        if (s.touch_body_local) out << " (child's destructor reads a body local)";
        break;
      case op::finally:
        out << " grace " << show(s.d);
        if (s.factory_throw != 0) out << " (factory throws error#" << s.factory_throw << ')';
        break;
      default: break;
    }
    out << '\n';
    dump_block(out, s.body, indent + 1);
    if (s.kind == op::finally) {
      out << std::string(static_cast<std::size_t>(indent) * 2, ' ') << "  cleanup:\n";
      dump_block(out, s.cleanup, indent + 2);
    }
  }
}

struct scope_state {
  bool in_group = false;
  bool in_scope = false;
  int min_sem = 0;
  const scope_state* group_level = nullptr;
};

// The rules the generator follows, checked again after a shrink step edits a
// tree: spawns and cancels only where their target exists, lock order.
bool valid_block(const block& b, const scope_state& w, const tree& t) {
  for (const stmt& s : b) {
    scope_state in = w;
    switch (s.kind) {
      case op::spawn: {
        if (!w.in_group || w.group_level == nullptr) return false;
        scope_state child = *w.group_level;  // the child runs in the group
        child.group_level = w.group_level;
        if (!valid_block(s.body, child, t)) return false;
        continue;
      }
      case op::cancel_group:
        if (!w.in_group) return false;
        break;
      case op::cancel_scope:
      case op::set_timeout:
        if (!w.in_scope) return false;
        break;
      case op::acquire:
        if (s.index < w.min_sem || s.index >= static_cast<int>(t.sem_permits.size())) return false;
        in.min_sem = s.index + 1;
        break;
      case op::set_event:
      case op::wait_event:
        if (s.index >= t.events) return false;
        break;
      case op::scope: in.in_scope = true; break;
      case op::group: {
        scope_state level = w;
        level.in_group = true;
        level.group_level = nullptr;
        scope_state body = level;
        body.group_level = &level;
        if (!valid_block(s.body, body, t)) return false;
        continue;
      }
      default: break;
    }
    if (!valid_block(s.body, in, t) || !valid_block(s.cleanup, in, t)) return false;
  }
  return true;
}

}  // namespace

bool valid(const tree& t) {
  return valid_block(t.root, scope_state{}, t);
}

tree generate(chooser& c, const options& o) {
  tree t;
  // A third of the trees run one task at a time, so the oracle can predict them.
  const bool sequential = c.below(3) == 0;
  if (!sequential) {
    const int sems = static_cast<int>(c.below(3));
    for (int i = 0; i < sems; ++i) t.sem_permits.push_back(1 + static_cast<int>(c.below(2)));
    t.events = static_cast<int>(c.below(3));
  }
  generator g(c, o, t, sequential);
  where top;
  t.root = g.make_block(top);
  g.make_plan();
  finish(t);
  return t;
}

void finish(tree& t) {
  mark(t.root);
}

int size(const tree& t) {
  return count(t.root) + static_cast<int>(t.plan.size());
}

std::string dump(const tree& t) {
  std::ostringstream out;
  out << "semaphores:";
  for (int p : t.sem_permits) out << ' ' << p;
  out << "; events: " << t.events << '\n';
  out << "root task:\n";
  dump_block(out, t.root, 1);
  out << "plan:\n";
  for (const action& a : t.plan) {
    out << "  at " << show(a.at) << ": ";
    switch (a.what) {
      case action::kind::signal: out << "signal (cancel_root soft)"; break;
      case action::kind::escalate: out << "second signal (cancel_root hard)"; break;
      case action::kind::cancel_scope: out << "cancel scope #" << a.target; break;
      case action::kind::cancel_group: out << "cancel group #" << a.target; break;
      case action::kind::set_event: out << "set event" << a.target; break;
    }
    out << '\n';
  }
  return out.str();
}

std::string invariant_of(const std::string& violation) {
  return violation.substr(0, violation.find_first_of(": "));
}

}  // namespace cohort::property
