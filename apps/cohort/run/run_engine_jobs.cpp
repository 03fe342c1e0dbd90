// run_engine: where jobs come from (the inputs, --resume), how each attempt
// runs (--delay, --timeout, job slots) and what its outcome does.

#include "cohort/run/run_engine.hpp"

#include <cohort/cancel_scope.hpp>
#include <cohort/sleep.hpp>

#include <fmt/core.h>

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <system_error>
#include <utility>

namespace cohort::app::run {

namespace {

// --wd: GNU parallel creates the directory (mkdir -p) and refuses one it
// cannot enter. Returns why not, or "".
std::string make_workdir(const std::string& dir) {
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (std::filesystem::is_directory(dir) && ::access(dir.c_str(), X_OK) == 0) return {};
  return fmt::format("--wd: cannot change into '{}'{}", dir,
                     error ? ": " + error.message() : std::string());
}

}  // namespace

bool run_engine::next_input(job_input& in, chunk_file& chunk) {
  if (!parts_.chunks) return parts_.inputs.next(in);
  if (!parts_.chunks->next(chunk)) return false;
  in.seq = ++chunk_seq_;
  in.args.clear();  // GNU: {} is empty with --pipe
  return true;
}

task<bool> run_engine::next_input_async(job_input& in, chunk_file& chunk) {
  // One co_await per branch, its value stored: written as
  // `if (!parts_.chunks) co_return co_await ...; if (!co_await ...) ...`,
  // g++ 12 (RelWithDebInfo) built a coroutine whose body never ran.
  bool got = false;
  if (parts_.chunks) {
    got = co_await parts_.chunks->next_async(chunk);
    in.seq = ++chunk_seq_;
    in.args.clear();  // GNU: {} is empty with --pipe
  } else {
    got = co_await parts_.inputs.next_async(in);
  }
  co_return got;
}
namespace {

// How often --load/--memfree look at the machine while a job waits (GNU
// parallel: at most a second).
constexpr duration machine_poll_interval = std::chrono::milliseconds(500);

}  // namespace

task<> run_engine::wait_for_input() {
  if (!input_may_wait()) co_return;  // next() reads without waiting
  // One worker reads at a time; the next one then reads the job after the
  // one this one took (a worker's next() follows its wait_ready() at once).
  auto turn = co_await input_turn_.acquire();
  while (!pending_ && !inputs_ended_) {
    job_input in;
    chunk_file chunk;
    if (!co_await next_input_async(in, chunk)) {
      inputs_ended_ = true;
      break;
    }
    pending_ = admit(in, std::move(chunk));
  }
}

std::optional<job_item> run_engine::pull_job(bool& ended) {
  job_input in;
  chunk_file chunk;
  if (!next_input(in, chunk)) {
    ended = inputs_ended_ = true;
    return std::nullopt;
  }
  return admit(in, std::move(chunk));
}

std::optional<job_item> run_engine::admit(job_input& in, chunk_file chunk) {
  if (options_.part && !options_.part->holds_job(in.seq)) return std::nullopt;  // another part's
  job_item job(*this, std::move(in));
  job.chunk_ = std::move(chunk);
  if (parts_.resume) {
    // A template with {%} cannot reproduce its old command: not compared.
    std::optional<std::string_view> command;
    if (!parts_.tmpl.uses_slot()) command = job.command(1);
    const bool skip = parts_.resume->skip(job.seq_, command);  // throws input_changed_error
    if (auto warning = parts_.resume->take_change_warning()) {
      printer_.message("cohort run: " + *warning);
    }
    if (skip) {
      ++resume_skipped_;
      ++bar_counts_.skipped;
      printer_.job_skipped(job.seq_);
      return std::nullopt;
    }
  }
  return job;
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

task<> run_engine::wait_for_delay() {
  if (options_.delay.count() <= 0) co_return;
  scheduler& loop = co_await this_scheduler();
  const time_point start_at = last_start_ + std::chrono::duration_cast<duration>(options_.delay);
  last_start_ = std::max(loop.now(), start_at);
  if (start_at > loop.now()) co_await sleep_until(start_at);
}

task<> run_engine::wait_for_machine() {
  while (!machine_allows(parts_.limits, parts_.machine->read())) {
    co_await sleep_for(machine_poll_interval);
  }
}

task<> run_engine::watch_memory() {
  for (;;) {
    co_await sleep_for(machine_poll_interval);
    if (!memory_critical(parts_.limits, parts_.machine->read())) continue;
    // GNU parallel kills the youngest job (the highest Seq) and runs it later.
    running_launch* youngest = nullptr;
    for (running_launch* l : running_) {
      if (!l->evicted && (youngest == nullptr || l->seq > youngest->seq)) youngest = l;
    }
    if (youngest == nullptr) continue;
    youngest->evicted = true;
    youngest->scope->cancel();
  }
}

launch_request run_engine::request_for(job_item& job, std::size_t slot) {
  launch_request r;
  r.seq = job.seq_;
  r.slot = slot;
  r.command = job.command_;
  r.env = {{"PARALLEL_SEQ", std::to_string(job.seq_)}, {"PARALLEL_JOBSLOT", std::to_string(slot)}};
  if (options_.ungroup) {
    r.pass_output_through = true;
  } else if (options_.line_buffer && !parts_.results) {
    // Complete lines are printed as they come; a partial last line waits.
    r.on_stdout = printer_.line_sink(job.seq_, job.tag_, job.partial_out_, false);
    r.on_stderr = printer_.line_sink(job.seq_, job.tag_, job.partial_err_, true);
  }
  r.term_seq = &options_.term_seq;
  r.stdin_fd = job.chunk_.fd();
  r.stdin_offset = job.chunk_.offset();
  r.stdin_length = job.chunk_.length();
  r.nice = parts_.nice;
  if (parts_.temporary_workdir) {
    const char* tmp = std::getenv("TMPDIR");
    job.workdir_ = fmt::format("{}/cohort-wd-{}-{}", tmp != nullptr && *tmp != '\0' ? tmp : "/tmp",
                               ::getpid(), job.seq_);
  }
  if (!job.workdir_.empty()) {
    if (std::string why = make_workdir(job.workdir_); !why.empty()) {
      printer_.message(fmt::format("cohort run: {}", why));
      throw job_failed(fmt::format("job {}: {}", job.seq_, why));
    }
    r.cwd = job.workdir_;
  }
  return r;
}

task<> run_engine::launch_with_timeout(job_item& job, const launch_request& request) {
  launch_result& r = job.result_;
  const duration timeout = current_timeout();
  if (timeout == duration::max()) {
    co_await launcher_->launch(request, r);
  } else if (!co_await move_on_after(timeout, launcher_->launch(request, r))) {
    job.timed_out_ = true;
    warn_timed_out(job.command_);
  }
}

task<> run_engine::run_job(job_item& job, slot_lease slot) {
  co_await wait_for_delay();
  // --wd ...: the job's own directory goes with it, however it ends.
  struct remove_temporary_workdir {
    const job_item& job;
    bool temporary;
    ~remove_temporary_workdir() {
      std::error_code ignored;
      if (temporary && !job.workdir_.empty()) std::filesystem::remove_all(job.workdir_, ignored);
    }
  } remove{job, parts_.temporary_workdir};
  for (;;) {
    // Each attempt starts afresh: the job's outcome is its last attempt's.
    job.result_ = launch_result{};
    job.timed_out_ = false;
    job.partial_out_.clear();
    job.partial_err_.clear();
    const launch_request request = request_for(job, slot.number());
    print_command(job, request);
    // --memfree: watch_memory() may kill this launch to free memory; the job
    // then runs again once the machine can take it (GNU parallel).
    cancel_scope evict;
    running_launch me{job.seq_, &evict};
    running_.push_back(&me);
    struct unlist {
      std::vector<running_launch*>& all;
      running_launch* me;
      ~unlist() { std::erase(all, me); }
    } u{running_, &me};
    co_await evict.run(launch_with_timeout(job, request));
    if (!me.evicted) break;
    printer_.message(fmt::format(
        "cohort run: warning: job {} was killed: less than half of --memfree is available; it "
        "runs again when there is enough",
        job.seq_));
    co_await wait_for_machine();
  }
  launch_result& r = job.result_;
  if (r.success()) {
    ok_runtimes_.push_back(std::chrono::duration<double>(r.runtime).count());
    co_return;
  }
  throw job_failed(r.signal != 0 ? fmt::format("job {} killed by signal {}", job.seq_, r.signal)
                                 : fmt::format("job {} exited {}", job.seq_, r.code));
}

void run_engine::print_command(job_item& job, const launch_request& request) {
  if (options_.print_commands_to_stderr) printer_.message(job.command_);  // -t
  if (!options_.print_commands) return;
  const std::string line = job.command_ + '\n';
  if (options_.line_buffer) {
    request.on_stdout(line);
  } else if (options_.ungroup) {
    printer_.write_through(line);
  }
}

void run_engine::warn_timed_out(std::string_view command) {
  // GNU parallel's warning ("This job was killed because it timed out:" and
  // the command), on one line; above the bar if one is drawn.
  const std::string line =
      fmt::format("cohort run: warning: this job was killed because it timed out: {}", command);
  if (bar_) {
    bar_->print_above(line);
  } else {
    printer_.message(line);
  }
}

void run_engine::job_ended(job_item& job, task_outcome outcome) {
  note_halt();  // by the outcome before this one
  launch_result& r = job.result_;
  joblog_entry entry;
  entry.seq = job.seq_;
  entry.command = job.command_;
  entry.start = r.start;
  entry.runtime = r.runtime;
  r.out += job.partial_out_;
  r.err += job.partial_err_;
  entry.receive = static_cast<std::int64_t>(r.out.size());
  if (r.ended) {
    // GNU parallel: a job ended by a signal has Exitval 0 and the signal,
    // unless parallel killed it itself (--timeout): then -1.
    entry.exit_value = r.signal == 0 ? r.code : job.timed_out_ ? -1 : 0;
    entry.signal = r.signal;
  }
  // GNU parallel logs a job that finished (ok or failed), never one it
  // killed because it was stopping: those are run again by --resume.
  if (outcome != task_outcome::cancelled) {
    ++last_outcome_.finished;
    if (outcome == task_outcome::failed) ++last_outcome_.failed;
    last_outcome_.status = entry.exit_value != 0 ? entry.exit_value
                           : entry.signal != 0   ? 128 + entry.signal
                                                 : 0;
  }
  if (options_.print_commands && !options_.line_buffer && !options_.ungroup) {
    // -v: the command comes first in the job's output (printed at its start
    // with --line-buffer and -u, see print_command).
    r.out.insert(0, job.command_ + '\n');
  }
  if (parts_.results) {
    save_results(job, outcome);
  } else {
    printer_.job_ended(job.seq_, job.tag_, std::move(r.out), std::move(r.err));
  }
  // After the output, as GNU parallel (it shows with --joblog -).
  if (outcome != task_outcome::cancelled && parts_.log) parts_.log->write(entry);
}

void run_engine::save_results(job_item& job, task_outcome outcome) {
  const launch_result& r = job.result_;
  // The output goes to the files, not to the terminal (GNU parallel); -k
  // still learns that the job is over.
  printer_.job_ended(job.seq_, job.tag_, {}, {});
  try {
    parts_.results->save(job.args_, job.seq_, r.out, r.err);
  } catch (const std::exception& e) {
    // A job cut off by a stopping run must not throw (the run unwinds): say it.
    if (outcome != task_outcome::cancelled) throw;
    printer_.message(fmt::format("cohort run: {}", e.what()));
  }
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

}  // namespace cohort::app::run
