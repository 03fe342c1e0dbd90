#pragma once
/// \file
/// `cohort::task_runner` / `cohort::run_tasks`: run many tasks, at most C at
/// a time, with lazy admission, retries, halting and a journal for resume.

#include <cohort/cancel_scope.hpp>
#include <cohort/detail/errors.hpp>
#include <cohort/event.hpp>
#include <cohort/runner/backoff.hpp>
#include <cohort/runner/runner_journal.hpp>
#include <cohort/sleep.hpp>
#include <cohort/task.hpp>
#include <cohort/task_group.hpp>

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

namespace cohort {

/// How one task of a run ended.
enum class task_outcome : std::uint8_t {
  done,         ///< completed
  failed,       ///< every attempt failed
  cancelled,    ///< was running when the run was cancelled or halted
  not_started,  ///< never admitted: the run stopped first (stays pending in the journal)
  skipped,      ///< already done according to the journal
};

/// Thrown by a task to make every task with the same gate wait `delay`
/// before its next attempt (an HTTP 429 with Retry-After for a host, say).
/// Counts as a failed attempt of the task that threw it.
class retry_after : public std::runtime_error {
 public:
  retry_after(std::string gate, duration delay, const std::string& what)
      : std::runtime_error(what), gate_(std::move(gate)), delay_(delay) {}
  const std::string& gate() const noexcept { return gate_; }
  duration delay() const noexcept { return delay_; }

 private:
  std::string gate_;
  duration delay_;
};

/// Thrown by a task whose failure another attempt cannot change (an HTTP
/// 403, a command that does not exist): the task fails at once, with no
/// further attempts, whatever `retry_policy::max_attempts` allows.
class permanent_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// How an item's task ended, handed to the item itself (see `runner_item`).
struct item_result {
  /// `done`, `failed`, or `cancelled` (running when the run was cancelled
  /// or halted "now"; it stays pending in a journal).
  task_outcome outcome = task_outcome::done;
  /// Attempts made, the last one included.
  int attempts = 1;
  /// For `failed`: every attempt's error, oldest first (the last is the one
  /// the task failed with). Empty otherwise. Valid during the call only.
  std::span<const std::exception_ptr> errors;
};

/// When a run stops on its own (GNU parallel's --halt).
struct halt_policy {
  enum class when : std::uint8_t {
    never,  ///< run everything
    soon,   ///< stop admitting; let running tasks finish
    now,    ///< stop admitting and cancel running tasks
  };
  enum class on : std::uint8_t { fail, success, done };
  when mode = when::never;
  on trigger = on::fail;
  std::size_t count = 1;  ///< halt after this many matching tasks...
  double percent = 0;     ///< ...or, if > 0, this percentage of the total (of finished tasks
                          ///< while the total is unknown)

  friend bool operator==(const halt_policy&, const halt_policy&) = default;
};

/// A task that failed, with every attempt's error in order.
struct task_failure {
  std::string key;
  std::vector<std::exception_ptr> errors;
};

/// A per-task event for logs and UIs (delivered synchronously: keep it cheap).
struct task_event {
  enum class kind : std::uint8_t { started, done, failed, retrying, cancelled, skipped };
  kind what;
  std::string_view key;
  int attempt = 0;
  std::exception_ptr error;  ///< for failed and retrying
};

/// Counters a progress display can read at any moment (no callbacks, no cost).
struct run_progress {
  std::optional<std::size_t> total;  ///< known when the source can say
  std::size_t started = 0;
  std::size_t done = 0;
  std::size_t failed = 0;
  std::size_t cancelled = 0;
  std::size_t skipped = 0;
  std::size_t running = 0;
  std::size_t retries = 0;
  time_point begin{};
};

/// How a run ended.
struct run_summary {
  std::size_t done = 0;
  std::size_t failed = 0;
  std::size_t cancelled = 0;
  std::size_t not_started = 0;  ///< counted only if the source could be counted
  bool not_started_known = true;
  std::size_t skipped = 0;
  /// Every failure, in the order they happened.
  std::vector<task_failure> failures;
  /// Index in `failures` of the failure that halted the run, if one did.
  std::optional<std::size_t> cause;
  /// Why the run stopped early (none if it ran to the end): `signal`,
  /// `deadline`, `sibling_failed` (halted by a failure), `requested` (halted
  /// by success/done counts), ...
  cancel_reason reason = cancel_reason::none;
  bool halted = false;   ///< stopped by the halt policy
  bool drained = false;  ///< stopped admitting because `drain` was set
};

/// Options of a run.
struct runner_options {
  /// Bound of each attempt (timeout_error when exceeded); max = none.
  duration timeout = duration::max();
  retry_policy retry;
  halt_policy halt;
  /// Where outcomes are recorded and looked up for resume (optional): a
  /// `cohort::journal` (journal.hpp), which must outlive the run.
  runner_journal* journal = nullptr;
  /// With a journal: re-run tasks that failed in an earlier run (else they
  /// are skipped).
  bool rerun_failed = false;
  /// When set (SIGHUP), admit nothing new and let running tasks finish.
  event* drain = nullptr;
  /// Optional per-task events.
  std::function<void(const task_event&)> on_event;
  /// Optional wait before each admission, for what the machine can take (the
  /// load, free memory: `cohort run --load`, `--memfree`): a worker with a
  /// free slot awaits it once it has taken the next item from the source
  /// (so the end of the source never waits), and the item starts only when
  /// it completes. Each waiting worker awaits its own call. The wait is
  /// cancelled with the run, and ended by a halt or a drain: the worker then
  /// ends, and its item counts as not started. Retries of an item already
  /// admitted do not wait. Empty: none.
  ///
  ///     o.admission = [&]() -> task<> {
  ///       while (load() > max) co_await sleep_for(1s);
  ///     };
  std::function<task<>()> admission;
  /// Seed of the retry jitter (0: from the clock).
  std::uint64_t seed = 0;
};

/// An item a source yields: `run()` makes its task (called only when the item
/// is admitted). Optional: `key()` (needed with a journal), `gate()` (tasks
/// with the same non-empty gate share `retry_after` pauses), and
/// `void ended(const item_result&)`.
///
/// `ended` is how a run hands each outcome back with its item, typed: the
/// runner calls it once for every item it started, when its task has ended
/// (done, failed after its last attempt, or cancelled while running), before
/// the journal records it and before `on_event`. The item is still alive and
/// holds whatever its task left in it (an exit status, captured output), so
/// a tool needs no side table keyed by a string. Not called for items
/// skipped by the journal nor for items never started. It may throw for
/// `done` and `failed` (the run then ends with that error, as a failing
/// journal does); for `cancelled` it is called while the run unwinds and
/// must not throw.
///
///     struct job {
///       int seq;
///       exit_status status;                 // set by the task
///       task<> run();
///       void ended(const cohort::item_result& r) { log(seq, r.outcome, status); }
///     };
///
/// To make an item's waits readable in the task tree dump (SIGQUIT) and in
/// traces, name the task `run()` returns with `task::named`. The runner keeps
/// the item alive until its task has ended, so the name can live in the item:
///
///     task<> run() {
///       label_ = fmt::format("job {}: {}", seq_, command_);  // a member
///       return run_job(seq_, command_).named(label_.c_str());
///     }
template <class I>
concept runner_item = requires(I& i) {
  { i.run() } -> std::same_as<task<>>;
};

/// A lazy sequence of items: `next()` returns the next item or nothing at
/// the end. Optional: `size()` (the total, for progress and not-started
/// counts) — without it the rest of the source is counted by draining it
/// after an interrupted run, unless the source has `bool countable() const`
/// returning false (for example input read from a terminal).
///
/// Optional: `task<> wait_ready()`, for a source whose next() would wait for
/// something outside the loop (lines from a pipe). A worker awaits it before
/// each next(), so the loop keeps running (finished tasks are reaped, their
/// events delivered) while the source waits. It must complete once next()
/// will not block: an item is at hand or the source has ended. Several
/// workers may wait at once and all may wake; the first to call next() gets
/// the item and the others' next() returns the next one, or nothing (that
/// worker ends), or blocks, so a source should make each woken waiter check
/// again before it completes. The wait is cancelled with the run (Ctrl+C
/// while the source waits ends the run as any cancel does), and by
/// anything that stops admission: a halt, a drain. The worker then ends.
template <class S>
concept task_source = requires(S& s) {
  {s.next()};
  requires runner_item<typename std::remove_cvref_t<decltype(*s.next())>>;
};

namespace detail {
template <class I>
concept has_key = requires(const I& i) {
  { i.key() } -> std::convertible_to<std::string_view>;
};
template <class I>
concept has_ended = requires(I& i, const item_result& r) {
  {i.ended(r)};
};
template <class I>
concept has_gate = requires(const I& i) {
  { i.gate() } -> std::convertible_to<std::string_view>;
};
template <class S>
concept has_size = requires(const S& s) {
  { s.size() } -> std::convertible_to<std::size_t>;
};
template <class S>
concept has_countable = requires(const S& s) {
  { s.countable() } -> std::same_as<bool>;
};
template <class S>
concept has_wait_ready = requires(S& s) {
  { s.wait_ready() } -> std::same_as<task<>>;
};

/// A worker returns to the loop after at most this many items, however fast
/// they are: see task_runner::worker.
inline constexpr std::size_t runner_yield_every = 64;
}  // namespace detail

/// Runs the items of `source`, at most `max_concurrent` at a time.
///
/// Admission is lazy: an item becomes a coroutine only when a slot is free,
/// so a million queued items cost only what the source holds. C workers pull
/// items in order; each item is attempted up to `retry.max_attempts` times
/// with capped, jittered backoff, each attempt bounded by `timeout`.
///
/// Cancellation: when the run is cancelled (a signal reaching the enclosing
/// scope), admission stops at once, running tasks unwind (their cleanups run)
/// and are counted `cancelled`, and items never admitted are `not_started`;
/// neither is written to the journal, so a resumed run executes exactly
/// them. `run()` is then unwound too, but the runner object keeps a complete
/// summary: read it after the run, for example after `cohort::run` returns.
/// The journal is flushed as the run ends, however it ends.
///
///     cohort::task_runner runner(items(urls), 8, options);
///     int code = cohort::run([&](cohort::runtime&) -> cohort::task<int> {
///       co_await runner.run();
///       co_return 0;
///     });
///     print(runner.summary());   // complete even after Ctrl+C
template <task_source S>
class task_runner {
  using item_type = std::remove_cvref_t<decltype(*std::declval<S&>().next())>;

 public:
  task_runner(S source, std::size_t max_concurrent, runner_options options = {})
      : source_(std::move(source)),
        max_concurrent_(max_concurrent == 0 ? 1 : max_concurrent),
        options_(std::move(options)),
        rng_(options_.seed != 0
                 ? options_.seed
                 : static_cast<std::uint64_t>(clock::now().time_since_epoch().count())) {
    if constexpr (!detail::has_key<item_type>) {
      if (options_.journal != nullptr) {
        throw std::logic_error("cohort::task_runner: a journal needs items with key()");
      }
    }
    if constexpr (detail::has_size<S>) progress_.total = source_.size();
  }
  task_runner(const task_runner&) = delete;
  task_runner& operator=(const task_runner&) = delete;
  ~task_runner() { flush_journal(); }

  /// Runs the whole source. Call once. Throws what the journal or the source
  /// throws (a task's error is an outcome, never thrown).
  [[nodiscard]] task<> run() {
    sched_ = &co_await this_scheduler();
    progress_.begin = sched_->now();
    struct flush_on_exit {
      task_runner* r;
      ~flush_on_exit() { r->flush_journal(); }
    } flusher{this};
    try {
      co_await with_task_group([this](task_group& g) -> task<> {
        group_ = &g;
        live_workers_ = max_concurrent_;
        for (std::size_t i = 0; i < max_concurrent_; ++i) g.spawn(worker().named("worker", i + 1));
        if (options_.drain != nullptr && (detail::has_wait_ready<S> || options_.admission)) {
          g.spawn(end_source_waits_on_drain().named("drain watcher"));
        }
        co_return;
      });
    } catch (const group_error& e) {
      // Only the runner's own work fails a worker (a journal that cannot
      // commit, a source that throws): report that error as it is.
      group_ = nullptr;
      e.rethrow_cause();
    }
    group_ = nullptr;
  }

  /// Sets (or replaces) the drain event before `run()`: once it is set,
  /// nothing new is admitted (SIGHUP: `runtime::drain_requested()`).
  void set_drain(event* drain) noexcept { options_.drain = drain; }

  /// Live counters for a progress display.
  const run_progress& progress() const noexcept { return progress_; }

  /// True once the halt policy stopped the run; unlike summary(), it may be
  /// read while the run goes on. The halt is decided right after an item's
  /// `ended()`, so the outcome that halted the run is the last one handed
  /// to an item before this became true.
  bool halted() const noexcept { return summary_.halted; }

  /// The run's summary; after an interrupted run, counts the items never
  /// admitted (draining the source once) on first call.
  const run_summary& summary() {
    if (!finalized_) finalize();
    return summary_;
  }

 private:
  // What a running_guard keeps to hand a cancelled item its outcome: only
  // for items with ended(), so that the others pay no store per item.
  struct ended_ref {
    item_type* item = nullptr;
    int attempts = 1;  // made so far, the running one included
  };
  struct no_ended_ref {};
  using ended_state = std::conditional_t<detail::has_ended<item_type>, ended_ref, no_ended_ref>;

  struct running_guard {
    task_runner* r;
    std::string_view key;
    bool finished = false;
    [[no_unique_address]] ended_state ended;
    ~running_guard() {
      --r->progress_.running;
      if (finished) return;
      // Unwound while running: the run was cancelled or halted.
      ++r->progress_.cancelled;
      ++r->summary_.cancelled;
      r->note_cancel_reason();
      if constexpr (detail::has_ended<item_type>) {
        ended.item->ended(item_result{task_outcome::cancelled, ended.attempts, {}});
      }
      r->emit(task_event::kind::cancelled, key, 0, nullptr);
    }
  };

  // Each worker pulls items until the source ends or admission stops. The
  // first attempt of an item runs in the worker's own frame: an item that
  // succeeds at once (the common case) costs only its own task frame, not a
  // frame of the runner's. Attempts that need a gate, a timeout or a retry
  // take the slower paths below. Cancellation destroys the worker's frame
  // at its current wait, so `guard` counts the running item as cancelled.
  //
  // Items that complete without suspending never hand the thread back to
  // the loop, so every `runner_yield_every` items the worker yields once (a
  // checkpoint): signals and cancellation reach the run at a bounded
  // interval however fast the items are, the other workers get their turn,
  // and the stack unwinds (where the resume of an awaiting coroutine is not
  // a tail call, Debug and sanitizer builds, each synchronous item nests one
  // level deeper). Items that wait anyway make the extra yield negligible.
  task<> worker() {
    // Set only while an attempt's failure is handed to retry(): declared
    // out of the loop, it costs nothing per successful item.
    std::exception_ptr error;
    std::size_t until_yield = detail::runner_yield_every;
    struct worker_guard {
      task_runner* r;
      ~worker_guard() {
        if (--r->live_workers_ == 0) r->drain_watch_.cancel();
      }
    } live{this};
    for (;;) {
      if (--until_yield == 0) {
        until_yield = detail::runner_yield_every;
        co_await yield_to_loop();
      }
      if (!admitting()) co_return;
      if constexpr (detail::has_wait_ready<S>) {
        co_await wait_for_source();
        if (!admitting()) co_return;
      }
      auto item = source_.next();
      if (!item) co_return;
      if (options_.admission) {
        // After next(): at the end of the source, nothing waits for the machine.
        const bool admitted = co_await wait_for_admission();
        if (!admitted) co_return;
      }
      const std::size_t seq = ++admitted_;
      if (skip(*item)) continue;
      ++progress_.started;
      ++progress_.running;
      // The key goes into the guard directly: a local copied into it was
      // read back as 16 bytes just written as two 8-byte stores, which the
      // CPU cannot forward (a stall of the worker on every item).
      running_guard guard{this, {}, false, {}};
      if constexpr (detail::has_ended<item_type>) guard.ended.item = &*item;
      if constexpr (detail::has_key<item_type>) guard.key = item->key();
      const std::string_view key = guard.key;
      emit(task_event::kind::started, key, 1, nullptr);
      try {
        if (plain_attempt(*item)) {
          co_await item->run();
        } else {
          co_await attempt(*item);
        }
      } catch (...) {
        error = attempt_error();
      }
      if (!error) {
        finish_done(guard, *item, key, 1);
      } else {
        // exchange, not move: the next item tests `error`, and a moved-from
        // exception_ptr need not be null.
        co_await retry(*item, seq, guard, std::exchange(error, nullptr));
      }
      if (options_.journal != nullptr) options_.journal->maybe_flush(now());
    }
  }

  // The worker's yield (see worker()), in a frame of its own: the
  // checkpoint's awaiter in the worker's frame made every worker's frame
  // larger, and every item's resume of it slower, for a wait made once in
  // runner_yield_every items.
  task<> yield_to_loop() {
    // No item is running here, so no running_guard notes why the run
    // stopped if it is cancelled at this wait: this one does.
    struct yield_guard {
      task_runner* r;
      bool resumed = false;
      ~yield_guard() {
        if (!resumed) r->note_cancel_reason();
      }
    } g{this};
    co_await checkpoint();
    g.resumed = true;
  }

  // The source's wait_ready(), in a scope of its own that a halt or a drain
  // cancels (stop_source_waits): an item it brought could not start anyway.
  task<> wait_for_source() { return stoppable_wait(source_.wait_ready()); }

  // runner_options::admission for an item taken from the source, ended
  // likewise by a halt or a drain. False (or unwound by a cancel): the item
  // is not started, and is counted with those never admitted.
  task<bool> wait_for_admission() {
    struct held_item {
      task_runner* r;
      bool admitted = false;
      ~held_item() {
        if (admitted) return;
        ++r->held_back_;
        r->note_cancel_reason();
      }
    } held{this};
    co_await stoppable_wait(options_.admission());
    if (!admitting()) co_return false;
    held.admitted = true;
    co_return true;
  }

  task<> stoppable_wait(task<> wait) {
    cancel_scope scope;
    source_waits_.push_back(&scope);
    struct unlist {
      std::vector<cancel_scope*>& waits;
      cancel_scope* s;
      ~unlist() { std::erase(waits, s); }
    } u{source_waits_, &scope};
    // clang-tidy 14 counts the coroutine frame's copy of `wait` as a first
    // move: this is the only one.
    (void)co_await scope.run(std::move(wait));  // NOLINT(bugprone-use-after-move)
  }

  void stop_source_waits() noexcept {
    for (cancel_scope* s : source_waits_) s->cancel();
  }

  // Ends the waits for the source when the drain is set; ends itself when
  // the last worker does.
  task<> end_source_waits_on_drain() {
    auto wait = [](event& drain) -> task<> { co_await drain.wait(); };
    if (co_await drain_watch_.run(wait(*options_.drain))) stop_source_waits();
  }

  bool admitting() noexcept {
    if (stop_admitting_ || (group_ != nullptr && group_->cancelled())) return false;
    if (options_.drain != nullptr && options_.drain->is_set()) {
      summary_.drained = true;
      return false;
    }
    return true;
  }

  bool skip(item_type& item) {
    if (options_.journal == nullptr) return false;
    if constexpr (detail::has_key<item_type>) {
      const std::string_view key = item.key();
      if (options_.journal->is_done(key) ||
          (!options_.rerun_failed && options_.journal->is_failed(key))) {
        ++progress_.skipped;
        ++summary_.skipped;
        emit(task_event::kind::skipped, key, 0, nullptr);
        return true;
      }
    }
    return false;
  }

  // Whether an attempt of `item` is just `item.run()`: no timeout, and no
  // gate that a `retry_after` has closed (none has, until one is thrown).
  bool plain_attempt(const item_type& item) const noexcept {
    if (options_.timeout != duration::max()) return false;
    if constexpr (detail::has_gate<item_type>) {
      if (!gates_.empty() && !item.gate().empty()) return false;
    }
    (void)item;
    return true;
  }

  // One attempt with its gate and timeout, in a frame of its own.
  task<> attempt(item_type& item) {
    if constexpr (detail::has_gate<item_type>) co_await wait_for_gate(item.gate());
    if (options_.timeout == duration::max()) {
      co_await item.run();
    } else {
      co_await fail_after(options_.timeout, item.run());
    }
  }

  // Called in a catch block: notes the pause a `retry_after` asks for and
  // returns the attempt's error.
  std::exception_ptr attempt_error() {
    try {
      throw;
    } catch (const retry_after& r) {
      close_gate(r.gate(), r.delay());
    } catch (...) {
    }
    return std::current_exception();
  }

  // Attempts 2, 3, ... of an item whose first attempt failed with `first`,
  // until one succeeds, the attempts run out or the run stops admitting.
  task<> retry(item_type& item, std::size_t seq, running_guard& guard, std::exception_ptr first) {
    std::vector<std::exception_ptr> errors;
    errors.push_back(std::move(first));
    for (int attempt_no = 1;; ++attempt_no) {
      if (attempt_no >= options_.retry.max_attempts || !admitting_retries() ||
          is_permanent(errors.back())) {
        finish_failed(guard, item, seq, attempt_no, std::move(errors));
        co_return;
      }
      ++progress_.retries;
      emit(task_event::kind::retrying, guard.key, attempt_no, errors.back());
      co_await sleep_for(options_.retry.delay(attempt_no, rng_.next_unit()));
      if (!admitting_retries()) {  // halted (soon) during the backoff
        finish_failed(guard, item, seq, attempt_no, std::move(errors));
        co_return;
      }
      if constexpr (detail::has_ended<item_type>) guard.ended.attempts = attempt_no + 1;
      std::exception_ptr error;
      try {
        co_await attempt(item);
      } catch (...) {
        error = attempt_error();
      }
      if (!error) {
        finish_done(guard, item, guard.key, attempt_no + 1);
        co_return;
      }
      errors.push_back(std::move(error));
    }
  }

  // (Always inlined: GCC does not inline it into the worker's coroutine on
  // its own, and the call is a tenth of the worker's cost per item.)
  [[gnu::always_inline]] void finish_done(running_guard& guard, item_type& item,
                                          std::string_view key, int attempts) {
    guard.finished = true;
    ++progress_.done;
    ++summary_.done;
    if constexpr (detail::has_ended<item_type>) {
      item.ended(item_result{task_outcome::done, attempts, {}});
    }
    (void)item;
    if (options_.journal != nullptr) options_.journal->record_done(key, attempts);
    emit(task_event::kind::done, key, attempts, nullptr);
    after_outcome(task_outcome::done);
  }

  void finish_failed(running_guard& guard, item_type& item, std::size_t seq, int attempts,
                     std::vector<std::exception_ptr> errors) {
    // Items without a key are named by their sequence number, made into
    // text only now that something needs it.
    const std::string_view key = guard.key;
    guard.finished = true;
    ++progress_.failed;
    ++summary_.failed;
    if constexpr (detail::has_ended<item_type>) {
      item.ended(item_result{task_outcome::failed, attempts, errors});
    }
    (void)item;
    if (options_.journal != nullptr) {
      std::vector<std::string> texts;
      texts.reserve(errors.size());
      for (const auto& e : errors) texts.push_back(detail::describe_error(e));
      options_.journal->record_failed(key, attempts, std::move(texts));
    }
    emit(task_event::kind::failed, key, attempts, errors.back());
    summary_.failures.push_back(
        task_failure{key.empty() ? std::to_string(seq) : std::string(key), std::move(errors)});
    after_outcome(task_outcome::failed);
  }

  static bool is_permanent(const std::exception_ptr& e) noexcept {
    try {
      std::rethrow_exception(e);
    } catch (const permanent_error&) {
      return true;
    } catch (...) {
      return false;
    }
  }

  // A halt "soon" lets running tasks finish but not start new attempts.
  bool admitting_retries() const noexcept { return !stop_admitting_; }

  task<> wait_for_gate(std::string_view gate) {
    if (gate.empty()) co_return;
    for (;;) {
      auto it = gates_.find(std::string(gate));
      if (it == gates_.end() || it->second <= now()) co_return;
      co_await sleep_until(it->second);
    }
  }

  void close_gate(const std::string& gate, duration delay) {
    if (gate.empty()) return;
    const time_point until = deadline_after(now(), delay);
    auto [it, inserted] = gates_.try_emplace(gate, until);
    if (!inserted && it->second < until) it->second = until;
  }

  void after_outcome(task_outcome outcome) {
    const halt_policy& h = options_.halt;
    if (h.mode == halt_policy::when::never || summary_.halted) return;
    std::size_t matching = 0;
    switch (h.trigger) {
      case halt_policy::on::fail: matching = summary_.failed; break;
      case halt_policy::on::success: matching = summary_.done; break;
      case halt_policy::on::done: matching = summary_.done + summary_.failed; break;
    }
    if (h.trigger == halt_policy::on::fail && outcome != task_outcome::failed) return;
    if (h.trigger == halt_policy::on::success && outcome != task_outcome::done) return;
    bool reached = false;
    if (h.percent > 0) {
      const std::size_t base = progress_.total ? *progress_.total : summary_.done + summary_.failed;
      reached = base > 0 &&
                static_cast<double>(matching) * 100.0 >= h.percent * static_cast<double>(base);
    } else {
      reached = matching >= h.count;
    }
    if (!reached) return;
    summary_.halted = true;
    stop_admitting_ = true;
    stop_source_waits();
    if (h.trigger == halt_policy::on::fail) summary_.cause = summary_.failures.size() - 1;
    const cancel_reason why = h.trigger == halt_policy::on::fail ? cancel_reason::sibling_failed
                                                                 : cancel_reason::requested;
    if (summary_.reason == cancel_reason::none) summary_.reason = why;
    if (h.mode == halt_policy::when::now && group_ != nullptr) group_->cancel(why);
  }

  void note_cancel_reason() noexcept {
    if (summary_.reason != cancel_reason::none || group_ == nullptr) return;
    summary_.reason = group_->origin_reason();
  }

  void emit(task_event::kind k, std::string_view key, int attempt, std::exception_ptr error) {
    if (options_.on_event) options_.on_event(task_event{k, key, attempt, std::move(error)});
  }

  void flush_journal() noexcept {
    if (options_.journal == nullptr) return;
    try {
      options_.journal->flush();
    } catch (...) {
      // The journal reports its own errors; a flush on the way out must not
      // turn an unwinding run into a crash.
    }
  }

  void finalize() {
    finalized_ = true;
    if constexpr (detail::has_size<S>) {
      // (An item held back by the admission wait was never admitted.)
      const std::size_t total = source_.size();
      summary_.not_started = total > admitted_ ? total - admitted_ : 0;
    } else {
      bool countable = true;
      if constexpr (detail::has_countable<S>) countable = source_.countable();
      if (!countable) {
        summary_.not_started_known = false;
        return;
      }
      summary_.not_started = held_back_;
      while (source_.next()) ++summary_.not_started;
    }
  }

  time_point now() const noexcept { return sched_ != nullptr ? sched_->now() : clock::now(); }

  S source_;
  std::size_t max_concurrent_;
  runner_options options_;
  detail::jitter_rng rng_;
  run_progress progress_;
  run_summary summary_;
  std::unordered_map<std::string, time_point> gates_;
  task_group* group_ = nullptr;
  scheduler* sched_ = nullptr;
  std::size_t admitted_ = 0;
  std::size_t held_back_ = 0;  // taken from the source, then stopped in the admission wait
  std::size_t live_workers_ = 0;
  std::vector<cancel_scope*> source_waits_;  // workers in stoppable_wait()
  cancel_scope drain_watch_;                 // end_source_waits_on_drain()
  bool stop_admitting_ = false;
  bool finalized_ = false;
};

/// Runs `source` to the end and returns the summary; see `task_runner`.
/// If the caller's scope is cancelled the summary is lost with the frame:
/// use a `task_runner` you own to read it after an interruption.
template <task_source S>
[[nodiscard]] task<run_summary> run_tasks(S source, std::size_t max_concurrent,
                                          runner_options options = {}) {
  task_runner<S> runner(std::move(source), max_concurrent, std::move(options));
  co_await runner.run();
  co_return runner.summary();
}

}  // namespace cohort
