#include "cohort/run/run_report.hpp"

#include "cohort/common/option_values.hpp"
#include "cohort/common/shell_quote.hpp"
#include "cohort/exit_codes.hpp"
#include "cohort/run/run_exit_code.hpp"

#include <fmt/core.h>

#include <csignal>

namespace cohort::app::run {

namespace {

std::string never_started(const run_summary& s) {
  // (The rest of a pipe that may still be written to is not counted.)
  return s.not_started_known ? format_count(s.not_started) : std::string("the rest");
}

}  // namespace

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

int report_run(run_engine& engine, const run_ending& how) {
  engine.finish_progress(how.signal == 0 && how.code == 0);
  engine.flush_output();
  engine.rethrow_failure();  // said once, by the caller
  const run_summary& s = engine.summary();
  if (how.signal != 0) {
    fmt::print(how.messages,
               "cohort run: interrupted by {}: {} done, {} failed, {} killed, {} never started; "
               "{}\n",
               how.signal == SIGINT ? "SIGINT" : "SIGTERM", format_count(s.done),
               format_count(s.failed), format_count(s.cancelled), never_started(s),
               resume_hint(how.argc, how.argv, *how.options));
    return how.code;
  }
  if (how.code != 0) return exit_run_error;  // the run itself failed (already reported)
  if (s.halted) {
    fmt::print(
        how.messages, "cohort run: halted ({} done, {} failed, {} killed, {} never started)\n",
        format_count(s.done), format_count(s.failed), format_count(s.cancelled), never_started(s));
  }
  if (s.drained || how.hup) {
    fmt::print(how.messages, "cohort run: SIGHUP: finished the running jobs; {} never started\n",
               s.not_started_known ? std::to_string(s.not_started) : std::string("the rest"));
  }
  return run_exit_code(how.halt_given, s, engine.halted_at(), how.total_jobs);
}

}  // namespace cohort::app::run
