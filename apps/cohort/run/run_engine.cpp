#include "cohort/run/run_engine.hpp"

#include <cohort/cancel_scope.hpp>
#include <cohort/sleep.hpp>
#include <cohort/task_group.hpp>

#include <fmt/core.h>

#include <algorithm>
#include <utility>

namespace cohort::app::run {

namespace {

runner_options make_runner_options(const run_cli_options& o) {
  runner_options r;
  r.retry.max_attempts = std::max(1, o.retries);
  // Capped, jittered exponential backoff (GNU retries at once: --retry-delay 0).
  r.retry.initial = std::chrono::duration_cast<duration>(o.retry_delay);
  r.retry.max_delay = std::max(r.retry.initial, duration(std::chrono::seconds(10)));
  r.halt = o.halt;
  return r;
}

output_style style_of(const run_cli_options& o, const run_engine_parts& p) {
  return output_style{o.keep_order, o.line_buffer, p.out, p.err};
}

}  // namespace

const std::string& job_item::command(std::size_t slot) {
  const command_template& t = engine_->parts_.tmpl;
  const std::optional<command_template>& tag = engine_->parts_.tag;
  const std::optional<command_template>& wd = engine_->parts_.workdir;
  const bool by_slot = t.uses_slot() || (tag && tag->uses_slot()) || (wd && wd->uses_slot());
  if (!expanded_ || by_slot) {
    command_ = t.expand(args_, seq_, slot);
    expanded_ = true;
    if (engine_->parts_.workdir) engine_->parts_.workdir->expand_into(workdir_, args_, seq_, slot);
    // GNU parallel: -u prints no tag.
    if (engine_->options_.ungroup) return command_;
    if (tag) {
      tag->expand_into(tag_, args_, seq_, slot);
      tag_ += '\t';
    } else if (engine_->options_.tag) {
      tag_.clear();
      for (std::size_t i = 0; i < args_.size(); ++i) {
        if (i > 0) tag_ += ' ';
        tag_ += args_[i];
      }
      tag_ += '\t';
    }
  }
  return command_;
}

task<> job_item::run() {
  run_engine::slot_lease slot(*engine_);
  // The item outlives its task (the runner awaits the task in the item's
  // worker), so the task can carry the label as its name.
  try {
    label_ = fmt::format("job {}: {}", seq_, command(slot.number()));
  } catch (const usage_error& e) {
    // The command cannot be written (a --plus regular expression on a value
    // too long): the job fails, saying why.
    engine_->printer_.message(fmt::format("cohort run: job {}: {}", seq_, e.what()));
    throw;
  }
  return engine_->run_job(*this, std::move(slot)).named(label_.c_str());
}

void job_item::ended(const item_result& r) {
  engine_->job_ended(*this, r.outcome);
}

std::optional<job_item> job_source::next() {
  run_engine& e = *engine_;
  if (e.pending_) return std::exchange(e.pending_, std::nullopt);
  // Input that may wait is read by wait_ready(), on the loop, never here:
  // after it, a job is pending or the inputs ended.
  if (e.inputs_ended_ || e.input_may_wait()) return std::nullopt;
  for (;;) {
    bool ended = false;
    if (auto job = e.pull_job(ended)) return job;
    if (ended) return std::nullopt;
  }
}

task<> job_source::wait_ready() {
  return engine_->wait_for_input();
}

bool job_source::countable() const {
  // Counting the jobs never started reads the rest of the input: fine for
  // files and literals, not for a terminal someone is typing into nor a pipe
  // whose writer may never close it.
  // Nor after the source threw: reading on would throw again (a second,
  // different error for one run) or count from a broken input.
  if (engine_->failure_) return false;
  return !engine_->input_may_wait() || engine_->inputs_ended_;
}

run_engine::run_engine(run_cli_options options, run_engine_parts parts)
    : options_(std::move(options)),
      parts_(std::move(parts)),
      printer_(style_of(options_, parts_),
               [this] {
                 if (bar_) bar_->clear();
               }),
      runner_(job_source(*this), parts_.slots, [this] {
        runner_options r = make_runner_options(options_);
        if (options_.bar || options_.eta) {
          r.on_event = [this](const task_event& e) { count_event(e); };
        }
        if (parts_.limits.any()) r.admission = [this] { return wait_for_machine(); };
        return r;
      }()) {
  if (parts_.chunks) {
    parts_.chunks->on_warning(
        [this](const std::string& m) { printer_.message("cohort run: warning: " + m); });
  }
}

task<> run_engine::run(command_launcher& launcher, event& drain) {
  launcher_ = &launcher;
  runner_.set_drain(&drain);
  if (options_.bar || options_.eta) {
    if (auto total = parts_.chunks ? parts_.chunks->total() : parts_.inputs.total_jobs()) {
      if (options_.part) total = options_.part->jobs_of(*total);
      bar_counts_.total = static_cast<std::size_t>(*total);
    }
    bar_counts_.begin = (co_await this_scheduler()).now();
    progress_bar_options bo;
    bo.unit = "jobs";
    bar_.emplace(bar_counts_, std::move(bo));
  }
  try {
    co_await with_task_group([&](task_group& g) -> task<> {
      g.spawn(announce_drain(drain).named("SIGHUP notice"));
      if (bar_) g.spawn(bar_->drive().named("progress bar"));
      if (parts_.limits.min_free) g.spawn(watch_memory().named("--memfree watch"));
      co_await runner_.run();
      g.cancel();
    });
  } catch (const group_error& e) {
    // The run's own failure (its input changed under --resume, the joblog
    // cannot be written): kept for the caller to report once, in the tool's
    // words. A job's failure is an outcome and never reaches here.
    try {
      e.rethrow_cause();
    } catch (...) {
      failure_ = std::current_exception();
    }
  }
}

void run_engine::rethrow_failure() const {
  if (failure_) std::rethrow_exception(failure_);
}

void run_engine::finish_progress(bool with_summary) {
  if (!bar_) return;
  // A run that failed has its error to say, not a summary.
  bar_->finish(with_summary && !failure_ ? bar_->summary(clock::now()) : std::string());
}

task<> run_engine::announce_drain(event& drain) {
  co_await drain.wait();
  // As GNU parallel, say at once what SIGHUP does.
  printer_.message(
      fmt::format("cohort run: SIGHUP received: no new jobs will be started; waiting for the {} "
                  "running to finish (SIGINT or SIGTERM stops them now)",
                  format_count(runner_.progress().running)));
}

}  // namespace cohort::app::run
