#include <cohort/task_group.hpp>

#include <cohort/detail/errors.hpp>
#include <cohort/detail/trace.hpp>

#include <cassert>

namespace cohort {

// clang-tidy 14 takes the member initializer of errors_ (in the constructor
// of an exception type) for an exception object built and not thrown.
group_error::group_error(std::vector<std::exception_ptr> errors, std::size_t cancelled)
    // NOLINTNEXTLINE(bugprone-throw-keyword-missing)
    : errors_(std::move(errors)), cancelled_(cancelled) {
  assert(!errors_.empty());
  what_ = "task group failed: " + detail::describe_error(errors_.front());
  if (errors_.size() > 1) what_ += " (+" + std::to_string(errors_.size() - 1) + " more errors)";
}

task_group::task_group(group_options options) noexcept : options_(options) {
  starter_.run_ = &run_start;
  starter_.group = this;
}

task_group::~task_group() {
  assert(live_ == 0 && "a task group ended with live members");
}

std::coroutine_handle<> task_group::start(detail::promise_base& parent, task<> body) noexcept {
  bind(parent);
  node_.attach(parent.node(), /*shield=*/false);
  node_.set_kind(detail::node_kind::group);
  body_ = std::move(body);
  live_ = 1;
  return body_.promise().adopt(*this, node_);
}

void task_group::finish_or_throw() {
  if (!errors_.empty()) {
    throw group_error(std::move(errors_), stats_.cancelled + stats_.not_started);
  }
}

void task_group::add_pending(detail::promise_base& p) {
  assert(!closed_ && "spawn into a task group that has finished");
  detail::trace(detail::trace_kind::spawned, &p, &node_);
  pending_.push_back(&p);
  ++live_;
  ++stats_.spawned;
  if (!start_posted_) {
    start_posted_ = true;
    node_.sched().post(starter_);
  }
}

void task_group::run_start(detail::runnable* r) noexcept {
  task_group& g = *static_cast<starter*>(r)->group;
  g.start_posted_ = false;
  g.starting_batch_.swap(g.pending_);
  g.starting_ = true;
  for (detail::promise_base* p : g.starting_batch_) {
    if (g.node_.cancelled()) {
      ++g.stats_.not_started;
      g.any_unwound_ = true;
      detail::trace(detail::trace_kind::not_started, p, &g.node_, g.node_.origin_reason());
      detail::destroy_frames(*p);
      --g.live_;
    } else {
      detail::trace(detail::trace_kind::started, p, &g.node_);
      p->handle().resume();  // runs until its first wait (or to its end)
    }
  }
  g.starting_batch_.clear();
  g.starting_ = false;
  if (g.live_ == 0 && !g.closed_) {
    // Every remaining member was destroyed unstarted: finish from here.
    g.closed_ = true;
    g.release_unwound_body();
    if (g.errors_.empty() && g.node_.parent_cancels()) {
      g.node_.detach();
      g.post_unwind_parent();
    } else {
      g.node_.detach();
      g.post_resume_parent();
    }
  }
}

void task_group::release_unwound_body() noexcept {
  // Here, not in ~task_group: when the cancellation propagates, the frame
  // holding this group is destroyed next, and destroying the body from
  // inside it would recurse once per nested group.
  if (body_unwound_) body_.reset();
}

std::coroutine_handle<> task_group::on_task_done(detail::promise_base& p) noexcept {
  const bool is_body = body_ && &p == &body_.promise();
  detail::trace(p.failed() ? detail::trace_kind::failed : detail::trace_kind::finished, &p, &node_);
  if (p.failed()) {
    errors_.push_back(p.error());
    if (!is_body) ++stats_.failed;
    if (options_.on_failure == failure_policy::fail_fast)
      node_.cancel(cancel_reason::sibling_failed);
  } else if (!is_body) {
    ++stats_.completed;
  }
  if (is_body) {
    body_done_ = true;
    // The body's frame stays until the group ends; its value is void.
  } else {
    detail::destroy_frames(p);
  }
  if (--live_ > 0) return std::noop_coroutine();
  closed_ = true;
  release_unwound_body();
  const bool propagate = errors_.empty() && any_unwound_ && node_.parent_cancels();
  node_.detach();
  if (propagate) {
    post_unwind_parent();
    return std::noop_coroutine();
  }
  if (starting_) {  // resuming the parent here would destroy us mid-loop
    post_resume_parent();
    return std::noop_coroutine();
  }
  return parent().handle();
}

detail::promise_base* task_group::on_task_unwound(detail::promise_base& p) noexcept {
  detail::trace(detail::trace_kind::cancelled, &p, &node_, node_.origin_reason());
  if (body_ && &p == &body_.promise()) {
    // Its frames stay until the last child has ended, as they do when the
    // body completes: a child may refer to the body's locals.
    body_done_ = true;
    body_unwound_ = true;
  } else {
    ++stats_.cancelled;
    detail::destroy_frames(p);
  }
  any_unwound_ = true;
  if (--live_ > 0) return nullptr;
  closed_ = true;
  release_unwound_body();
  const bool propagate = errors_.empty() && node_.parent_cancels();
  node_.detach();
  if (propagate) return &parent();
  post_resume_parent();
  return nullptr;
}

}  // namespace cohort
