#include "cohort/run/process_launcher.hpp"

#include "cohort/run/range_pipe.hpp"

#include <cohort/io/process.hpp>
#include <cohort/io/process_guardian.hpp>
#include <cohort/task_group.hpp>

#include <unistd.h>

#include <algorithm>
#include <optional>
#include <string>

namespace cohort::app::run {

namespace {

process_options options_of(const launch_request& r) {
  process_options po;
  po.argv = shell_argv(std::string(r.command));
  if (r.nice != 0) {
    // As GNU parallel's setpriority before its exec: the shell, and all it
    // starts, runs at the new niceness from its first instruction.
    po.argv.insert(po.argv.begin(), {"nice", "-n", std::to_string(r.nice)});
  }
  po.env = r.env;
  po.cwd = r.cwd;
  po.out = r.pass_output_through ? output_mode::inherit : output_mode::capture;
  po.err = r.pass_output_through ? output_mode::inherit : output_mode::capture;
  po.on_stdout = r.on_stdout;
  po.on_stderr = r.on_stderr;
  if (r.stdin_fd >= 0 && !r.stdin_length) {
    ::lseek(r.stdin_fd, 0, SEEK_SET);  // each attempt reads its chunk whole
    po.in = stdin_mode::descriptor;
    po.in_fd = r.stdin_fd;
  }
  return po;
}

// However a launch ends (done, failed, killed by a signal, a timeout or a
// halt), keeps what the job printed, how long it ran and how it ended.
struct collect {
  launch_result& r;
  process& p;
  ~collect() {
    r.out = p.take_stdout();
    r.err = p.take_stderr();
    r.runtime = std::chrono::duration_cast<std::chrono::nanoseconds>(p.runtime());
    if (auto st = p.status()) {
      r.ended = true;
      r.code = st->code;
      r.signal = st->signal;
    }
  }
};

}  // namespace

int nice_increment(int wanted, int current, bool may_lower) noexcept {
  const int target = std::clamp(wanted, -20, 19);
  if (target < current && !may_lower) return 0;
  return target - current;
}

process_launcher::process_launcher(boost::asio::io_context& io, process_guardian* guardian)
    : io_(&io), guardian_(guardian) {
  adopt_orphans();
}

task<> process_launcher::launch(const launch_request& request, launch_result& result) {
  process_options po = options_of(request);
  if (guardian_ != nullptr && guardian_->active()) po.env.push_back(guardian_->marker());
  // --pipepart: the job reads its range through a pipe fed below, so that
  // each attempt reads it whole and cohort never copies it.
  std::optional<range_pipe> input;
  if (request.stdin_fd >= 0 && request.stdin_length) {
    input.emplace();
    po.in = stdin_mode::descriptor;
    po.in_fd = input->read_end();
  }
  // Declared before the process: the guardian forgets the group only after
  // the process's destructor has made sure it is gone.
  process_guardian::watch_handle guarded;
  process p = process::spawn(*io_, po);  // a spawn failure fails the job
  if (guardian_ != nullptr) guarded = guardian_->watch(p.pid());
  if (input) input->close_read_end();  // the job's copy is the only one now
  result.start = p.start_time();
  collect keep{result, p};
  // supervise returns (or unwinds) once the whole group is gone: processes
  // the job left behind (`sleep 1000 &`) got the termination sequence, and
  // what any of them wrote, cleanup included, is in the output.
  // (The sequence in a local first: g++ 12 destroys a temporary made by a
  // conditional expression inside a co_await twice.)
  term_sequence seq = request.term_seq != nullptr ? *request.term_seq : default_term_sequence();
  if (!input) {
    (void)co_await supervise(p, std::move(seq));
    co_return;
  }
  // The feed runs beside the job: it ends when the range is written or the
  // job stops reading (EPIPE, no error), and is cancelled once the group is
  // gone (a process that left the group may still hold the pipe). A read
  // error of the file fails the feed, which cancels the job: the job fails.
  co_await with_task_group([&](task_group& g) -> task<> {
    g.spawn(input->feed(request.stdin_fd, request.stdin_offset, *request.stdin_length));
    (void)co_await supervise(p, std::move(seq));
    g.cancel();
  });
}

}  // namespace cohort::app::run
