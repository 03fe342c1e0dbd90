#include "cohort/run/run_engine.hpp"

#include <cohort/cancel_scope.hpp>
#include <cohort/io/process.hpp>
#include <cohort/runtime/use_op.hpp>
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

}  // namespace

task<> job_item::run() {
  run_engine::slot_lease slot(*engine);
  std::string command = engine->tmpl_.expand(args, seq, slot.number());
  // The item outlives its task (the runner awaits the task in the item's
  // worker), so the task can carry the label as its name.
  label_ = fmt::format("job {}: {}", seq, command);
  return engine->run_job(seq, args, std::move(slot), std::move(command)).named(label_.c_str());
}

std::optional<job_item> job_source::next() {
  run_engine& e = *engine_;
  if (e.pending_) return std::exchange(e.pending_, std::nullopt);
  // Input that may wait is read by wait_ready(), on the loop, never here:
  // after it, a job is pending or the inputs ended.
  if (e.inputs_ended_ || e.inputs_.may_wait()) return std::nullopt;
  for (;;) {
    bool ended = false;
    if (auto job = e.pull_job(ended)) return job;
    if (ended) return std::nullopt;
  }
}

task<> job_source::wait_ready() {
  return engine_->wait_for_input();
}

task<> run_engine::wait_for_input() {
  if (!inputs_.may_wait()) co_return;  // next() reads without waiting
  // One worker reads at a time; the next one then reads the job after the
  // one this one took (a worker's next() follows its wait_ready() at once).
  auto turn = co_await input_turn_.acquire();
  while (!pending_ && !inputs_ended_) {
    job_input in;
    if (!co_await inputs_.next_async(in)) {
      inputs_ended_ = true;
      break;
    }
    pending_ = admit(in);
  }
}

std::optional<job_item> run_engine::pull_job(bool& ended) {
  job_input in;
  if (!inputs_.next(in)) {
    ended = inputs_ended_ = true;
    return std::nullopt;
  }
  return admit(in);
}

std::optional<job_item> run_engine::admit(job_input& in) {
  if (resume_) {
    std::optional<std::string_view> command;
    std::string expanded;
    if (!tmpl_.uses_slot()) {
      expanded = tmpl_.expand(in.args, in.seq, 1);
      command = expanded;
    }
    if (resume_->skip(in.seq, command)) {  // throws input_changed_error
      ++resume_skipped_;
      ++bar_counts_.skipped;
      settled_.insert(in.seq);
      return std::nullopt;
    }
  }
  return job_item{this, in.seq, std::move(in.args), std::to_string(in.seq), {}};
}

bool job_source::countable() const {
  // Counting the jobs never started reads the rest of the input: fine for
  // files and literals, not for a terminal someone is typing into nor a pipe
  // whose writer may never close it.
  // Nor after the source threw: reading on would throw again (a second,
  // different error for one run) or count from a broken input.
  if (engine_->failure_) return false;
  return !engine_->inputs_.may_wait() || engine_->inputs_ended_;
}

run_engine::run_engine(run_cli_options options, command_template tmpl, input_generator inputs,
                       std::optional<resume_filter> resume, std::optional<joblog_writer> log,
                       std::size_t slots)
    : options_(std::move(options)),
      tmpl_(std::move(tmpl)),
      inputs_(std::move(inputs)),
      resume_(std::move(resume)),
      log_(std::move(log)),
      runner_(job_source(*this), slots, [this] {
        runner_options r = make_runner_options(options_);
        r.on_event = [this](const task_event& e) { on_event(e); };
        return r;
      }()) {}

task<> run_engine::run(boost::asio::io_context& io, event& drain) {
  io_ = &io;
  // A job's process whose parent exits becomes our child, so that the group
  // waits reap it when it dies: a zombie left to a PID 1 that does not reap
  // (some containers) would count as a live member of its job's group.
  adopt_orphans();
  runner_.set_drain(&drain);
  if (options_.bar || options_.eta) {
    if (auto total = inputs_.total_jobs()) bar_counts_.total = static_cast<std::size_t>(*total);
    bar_counts_.begin = (co_await this_scheduler()).now();
    progress_bar_options bo;
    bo.unit = "jobs";
    bar_.emplace(bar_counts_, std::move(bo));
  }
  try {
    co_await with_task_group([&](task_group& g) -> task<> {
      g.spawn(announce_drain(drain).named("SIGHUP notice"));
      if (bar_) g.spawn(bar_->drive().named("progress bar"));
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

void run_engine::count_event(const task_event& e) {
  run_progress& c = bar_counts_;
  switch (e.what) {
    case task_event::kind::started:
      ++c.started;
      ++c.running;
      break;
    case task_event::kind::done:
      ++c.done;
      --c.running;
      break;
    case task_event::kind::failed:
      ++c.failed;
      --c.running;
      break;
    case task_event::kind::cancelled:
      ++c.cancelled;
      --c.running;
      break;
    case task_event::kind::retrying: ++c.retries; break;
    case task_event::kind::skipped: ++c.skipped; break;
  }
}

task<> run_engine::announce_drain(event& drain) {
  co_await drain.wait();
  // As GNU parallel, say at once what SIGHUP does.
  clear_progress();
  fmt::print(stderr,
             "cohort run: SIGHUP received: no new jobs will be started; waiting for the {} "
             "running to finish (SIGINT or SIGTERM stops them now)\n",
             format_count(runner_.progress().running));
  std::fflush(stderr);
}

std::size_t run_engine::take_slot() {
  if (free_slots_.empty()) return next_slot_++;
  const std::size_t s = *free_slots_.begin();
  free_slots_.erase(free_slots_.begin());
  return s;
}

duration run_engine::current_timeout() const {
  const auto& t = options_.timeout;
  if (t.what == timeout_spec::kind::fixed) return std::chrono::duration_cast<duration>(t.fixed);
  if (t.what == timeout_spec::kind::percent_of_median && ok_runtimes_.size() >= 3) {
    std::vector<double> r = ok_runtimes_;
    std::nth_element(r.begin(), r.begin() + static_cast<std::ptrdiff_t>(r.size() / 2), r.end());
    const double s = r[r.size() / 2] * t.percent_of_median / 100.0;
    return std::chrono::duration_cast<duration>(std::chrono::duration<double>(s));
  }
  return duration::max();
}

task<> run_engine::run_job(std::uint64_t seq, const std::vector<std::string>& args, slot_lease slot,
                           std::string command) {
  args_of_[seq] = args;

  if (options_.delay.count() > 0) {
    scheduler& loop = co_await this_scheduler();
    const time_point start_at = last_start_ + std::chrono::duration_cast<duration>(options_.delay);
    last_start_ = std::max(loop.now(), start_at);
    if (start_at > loop.now()) co_await sleep_until(start_at);
  }

  process_options po;
  po.argv = shell_argv(command);
  po.env = {{"PARALLEL_SEQ", std::to_string(seq)},
            {"PARALLEL_JOBSLOT", std::to_string(slot.number())}};
  po.out = output_mode::capture;
  po.err = output_mode::capture;
  std::string partial_out, partial_err;
  if (options_.line_buffer) {
    // Complete lines are printed as they come; a partial last line waits.
    auto printer = [this, &args](std::string& partial, std::FILE* f) {
      return [this, &args, &partial, f](std::string_view chunk) {
        partial.append(chunk);
        const auto end = partial.rfind('\n');
        if (end == std::string::npos) return;
        clear_progress();
        write_tagged(f, args, std::string_view(partial).substr(0, end + 1));
        std::fflush(f);
        partial.erase(0, end + 1);
      };
    };
    po.on_stdout = printer(partial_out, stdout);
    po.on_stderr = printer(partial_err, stderr);
  }

  if (guardian_ != nullptr && guardian_->active()) po.env.push_back(guardian_->marker());

  attempt& a = attempts_[seq];
  a = attempt{};
  a.entry.seq = seq;
  a.entry.command = command;
  // Declared before the process: the guardian forgets the group only after
  // the process's destructor has made sure it is gone.
  process_guardian::watch_handle guarded;
  process p = process::spawn(*io_, po);  // a spawn failure fails the job
  if (guardian_ != nullptr) guarded = guardian_->watch(p.pid());
  a.entry.start = p.start_time();

  // However this attempt ends (done, failed, killed by a signal or a halt),
  // keep what it printed and how long it ran.
  struct collect {
    attempt& a;
    process& p;
    std::string& partial_out;
    std::string& partial_err;
    ~collect() {
      a.out = p.take_stdout() + partial_out;
      a.err = p.take_stderr() + partial_err;
      a.entry.runtime = std::chrono::duration_cast<std::chrono::nanoseconds>(p.runtime());
      a.entry.receive = static_cast<std::int64_t>(a.out.size());
      if (auto st = p.status()) {
        a.entry.exit_value = st->signal != 0 ? -1 : st->code;
        a.entry.signal = st->signal;
      }
    }
  } keep{a, p, partial_out, partial_err};

  // supervise returns (or unwinds) once the whole group is gone: processes
  // the job left behind (`sleep 1000 &`) got the termination sequence, and
  // what any of them wrote, cleanup included, is in the output.
  exit_status status;
  const duration timeout = current_timeout();
  if (timeout == duration::max()) {
    status = co_await supervise(p, options_.term_seq);
  } else {
    auto r = co_await move_on_after(timeout, supervise(p, options_.term_seq));
    status = r ? *r : p.status().value_or(exit_status{});
    if (!r) warn_timed_out(command);
  }
  if (status.success()) {
    ok_runtimes_.push_back(std::chrono::duration<double>(p.runtime()).count());
    co_return;
  }
  throw job_failed(status.signal != 0
                       ? fmt::format("job {} killed by signal {}", seq, status.signal)
                       : fmt::format("job {} exited {}", seq, status.code));
}

void run_engine::warn_timed_out(std::string_view command) {
  // GNU parallel's warning ("This job was killed because it timed out:" and
  // the command), on one line; above the bar if one is drawn.
  const std::string line =
      fmt::format("cohort run: warning: this job was killed because it timed out: {}", command);
  if (bar_) {
    bar_->print_above(line);
  } else {
    fmt::print(stderr, "{}\n", line);
    std::fflush(stderr);
  }
}

void run_engine::on_event(const task_event& e) {
  if (bar_) count_event(e);
  if (e.what != task_event::kind::done && e.what != task_event::kind::failed &&
      e.what != task_event::kind::cancelled) {
    return;
  }
  std::uint64_t seq = 0;
  for (char c : e.key) seq = seq * 10 + static_cast<std::uint64_t>(c - '0');
  auto it = attempts_.find(seq);
  if (it == attempts_.end()) return;
  // GNU parallel logs a job that finished (ok or failed), never one it
  // killed because it was stopping: those are run again by --resume.
  if (e.what != task_event::kind::cancelled && log_) log_->write(it->second.entry);
  if (e.what == task_event::kind::failed) {
    const auto& entry = it->second.entry;
    last_failure_code_ = entry.signal != 0 ? 128 + entry.signal : entry.exit_value;
  }
  emit(seq, it->second);
  attempts_.erase(it);
}

void run_engine::emit(std::uint64_t seq, attempt& a) {
  if (options_.line_buffer) {
    // Complete lines were printed as they came; what is left is a last line
    // without its newline, printed now that the job is over (as GNU does).
    write_output(args_of_[seq], a.out, a.err);
    settled_.insert(seq);
    args_of_.erase(seq);
    return;
  }
  if (!options_.keep_order) {
    write_output(args_of_[seq], a.out, a.err);
    args_of_.erase(seq);
    return;
  }
  held_[seq] = {std::move(a.out), std::move(a.err)};
  settled_.insert(seq);
  while (settled_.count(next_to_print_) != 0) {
    if (auto h = held_.find(next_to_print_); h != held_.end()) {
      write_output(args_of_[next_to_print_], h->second.first, h->second.second);
      held_.erase(h);
    }
    args_of_.erase(next_to_print_);
    settled_.erase(next_to_print_);
    ++next_to_print_;
  }
}

void run_engine::flush_output() {
  for (auto& [seq, outputs] : held_) write_output(args_of_[seq], outputs.first, outputs.second);
  held_.clear();
}

void run_engine::write_output(const std::vector<std::string>& args, const std::string& out,
                              const std::string& err) {
  if (out.empty() && err.empty()) return;
  clear_progress();
  write_tagged(stdout, args, out);
  std::fflush(stdout);
  write_tagged(stderr, args, err);
  std::fflush(stderr);
}

void run_engine::write_tagged(std::FILE* f, const std::vector<std::string>& args,
                              std::string_view text) {
  if (text.empty()) return;
  if (!options_.tag) {
    std::fwrite(text.data(), 1, text.size(), f);
    return;
  }
  std::string tag;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (i != 0) tag += ' ';
    tag += args[i];
  }
  tag += '\t';
  std::string out;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    end = end == std::string_view::npos ? text.size() : end + 1;
    out += tag;
    out.append(text.substr(start, end - start));
    start = end;
  }
  std::fwrite(out.data(), 1, out.size(), f);
}

}  // namespace cohort::app::run
