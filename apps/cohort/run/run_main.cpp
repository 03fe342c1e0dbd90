#include "cohort/run/run_main.hpp"

#include "cohort/common/shell_quote.hpp"
#include "cohort/exit_codes.hpp"
#include "cohort/run/process_launcher.hpp"
#include "cohort/run/run_engine.hpp"
#include "cohort/run/run_exit_code.hpp"

#include <cohort/io/process_guardian.hpp>
#include <cohort/runtime/run.hpp>

#include <fmt/core.h>

#include <csignal>
#include <thread>

namespace cohort::app::run {

namespace {

std::size_t resolve_jobs(const jobs_spec& j) {
  const auto cores = std::max(1u, std::thread::hardware_concurrency());
  // Unlimited (-j 0): as many as the runner can hold; each job is a process.
  return static_cast<std::size_t>(j.resolve(cores).value_or(100000));
}

std::string resume_hint(int argc, char** argv, const run_cli_options& o) {
  if (o.joblog.empty()) return "run it with --joblog FILE to be able to resume an interrupted run";
  std::string cmd = "cohort run";
  if (!o.resume && !o.resume_failed) cmd += " --resume";
  for (int i = 1; i < argc; ++i) {
    cmd += ' ';
    append_shell_quoted(cmd, argv[i]);
  }
  return "resume with: " + cmd;
}

process_guardian start_guardian(const run_cli_options& o) {
  try {
    return process_guardian::start({"/proc/self/exe", guardian_subcommand}, o.term_seq);
  } catch (const std::exception& e) {
    // The run is still worth doing; only a kill -9 of it would leave jobs.
    fmt::print(stderr, "cohort run: warning: {}; jobs may outlive this process if it is killed\n",
               e.what());
    return {};
  }
}

// The whole of `cohort run` up to its summary; `ended_by` is set to the
// signal that interrupted the run, if one did.
int run_and_report(int argc, char** argv, int& ended_by) {
  // A signal during start-up is held, then handled like any other once the
  // runtime's handlers are in place (not fatal, not lost).
  cohort::held_signals held;
  auto parsed = parse_run_cli(argc, argv);
  if (!parsed.options) return parsed.exit_code;
  run_cli_options o = std::move(*parsed.options);

  try {
    auto split = split_command_line(o.words, o.arg_files);
    command_template tmpl = command_template::from_words(split.command);
    input_options io_opts;
    if (o.null_separated) io_opts.separator = '\0';
    input_generator inputs(std::move(split.sources), io_opts);
    // GNU parallel: a --halt percentage is of all the jobs when their number
    // is known (the runner would take it of the jobs finished so far).
    const cohort::halt_policy halt_given = o.halt;
    std::optional<std::uint64_t> total;
    if (o.halt.percent > 0) total = inputs.total_jobs();
    o.halt = halt_for_runner(o.halt, total);

    if (o.dry_run) {
      held.release();
      job_input in;
      std::string line;
      while (inputs.next(in)) {
        line.clear();
        tmpl.expand_into(line, in.args, in.seq, 1);
        line += '\n';
        std::fwrite(line.data(), 1, line.size(), stdout);
      }
      return exit_ok;
    }

    std::optional<resume_filter> resume;
    if (o.resume || o.resume_failed) {
      resume.emplace(read_joblog(o.joblog),
                     o.resume ? resume_mode::resume : resume_mode::resume_failed);
    }
    std::optional<joblog_writer> log;
    if (!o.joblog.empty()) {
      log.emplace(o.joblog, resume ? joblog_writer::mode::append : joblog_writer::mode::truncate);
    }

    // Kills the jobs' process groups if this process dies (kill -9, OOM)
    // before it could; told "done" when it goes out of scope.
    process_guardian guardian = start_guardian(o);

    const std::size_t jobs = resolve_jobs(o.jobs);
    run_engine engine(o, run_engine_parts{.tmpl = std::move(tmpl),
                                          .inputs = std::move(inputs),
                                          .resume = std::move(resume),
                                          .log = std::move(log),
                                          .slots = jobs});
    cohort::run_options ro;
    // Killing a job takes its whole --term-seq; leave room for it.
    std::chrono::nanoseconds seq_total{0};
    for (const auto& step : o.term_seq) seq_total += step.wait;
    ro.grace = std::max<duration>(
        std::chrono::seconds(5),
        std::chrono::duration_cast<duration>(seq_total) + std::chrono::seconds(1));
    bool hup = false;  // a SIGHUP came, even if the run ended before it mattered
    const cohort::run_outcome ended = cohort::run_with_outcome(
        [&](cohort::runtime& rt) -> cohort::task<int> {
          held.release();
          struct note_hup {
            cohort::runtime& rt;
            bool& hup;
            ~note_hup() { hup = rt.drain_requested().is_set(); }
          } note{rt, hup};
          process_launcher launcher(rt.io(), &guardian);
          co_await engine.run(launcher, rt.drain_requested());
          co_return 0;
        },
        ro);
    const int code = ended.code;
    const int signal = ended_by = ended.signal;
    engine.finish_progress(signal == 0 && code == 0);
    engine.flush_output();
    engine.rethrow_failure();  // said once, by the catch below
    const run_summary& s = engine.summary();
    if (signal != 0) {
      std::string never = s.not_started_known ? format_count(s.not_started) : "the rest";
      fmt::print(stderr,
                 "cohort run: interrupted by {}: {} done, {} failed, {} killed, {} never started; "
                 "{}\n",
                 signal == SIGINT ? "SIGINT" : "SIGTERM", format_count(s.done),
                 format_count(s.failed), format_count(s.cancelled), never,
                 resume_hint(argc, argv, o));
      return code;
    }
    if (code != 0) return exit_run_error;  // the run itself failed (already reported)
    if (s.halted) {
      // (The rest of a pipe that may still be written to is not counted.)
      fmt::print(stderr, "cohort run: halted ({} done, {} failed, {} killed, {} never started)\n",
                 format_count(s.done), format_count(s.failed), format_count(s.cancelled),
                 s.not_started_known ? format_count(s.not_started) : std::string("the rest"));
    }
    if (s.drained || hup) {
      fmt::print(stderr, "cohort run: SIGHUP: finished the running jobs; {} never started\n",
                 s.not_started_known ? std::to_string(s.not_started) : std::string("the rest"));
    }
    return run_exit_code(halt_given, s, engine.last_failure_code(), total);
  } catch (const std::exception& e) {
    fmt::print(stderr, "cohort run: {}\n", e.what());
    return exit_run_error;
  }
}

}  // namespace

int run_main(int argc, char** argv) {
  int ended_by = 0;
  const int code = run_and_report(argc, argv, ended_by);
  // The joblog is closed, the jobs' output and the summary written: an
  // interrupted run now ends by its signal, so that the shell around us
  // stops its script as it would for `sleep` (DESIGN.md G7).
  return cohort::exit_like({code, ended_by});
}

}  // namespace cohort::app::run
