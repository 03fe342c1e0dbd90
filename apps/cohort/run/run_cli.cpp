#include "cohort/run/run_cli.hpp"

#include "cohort/common/cli.hpp"
#include "cohort/common/option_values.hpp"
#include "cohort/exit_codes.hpp"

#include <fmt/core.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <climits>
#include <cstdint>

namespace cohort::app::run {

namespace {

constexpr const char* description = R"(Usage:
  cohort run [options] COMMAND [ARGS...] ::: A B C [::: X Y]  every combination
  cohort run [options] COMMAND :::: FILE                      one input per line
  cohort run [options] COMMAND < inputs                       each stdin line
  cohort run [options] < commands                             lines are commands

Run a command for every input, many at a time (GNU parallel's options).

Replacement strings: {} {.} {/} {//} {/.} {#} (job number) {%} (slot) {1} {2}...
Without any, the input is appended. Inputs are shell-quoted: they can never
inject shell code. Commands run with /bin/sh -c, each in its own process group.
Durations: 0.5, 500ms, 2s, 1m, 1h30m.
)";

constexpr const char* footer =
    R"(Examples:
  cohort run -j 4 gzip ::: *.log
  find . -name '*.png' | cohort run --bar optipng {}
  cohort run --joblog jobs.log --retries 3 curl -sO {} :::: urls.txt
  cohort run --resume --joblog jobs.log curl -sO {} :::: urls.txt

Signals: the first Ctrl+C (SIGINT) or SIGTERM starts nothing more, sends
the --term-seq to every running job's process group, writes the job log and
says how to resume; a second one kills at once. SIGHUP: start nothing more,
let running jobs finish.

Exit status (as GNU parallel): 0 all jobs succeeded; 1-100 that many jobs
failed; 101 more than 100 failed; 255 other error; 130 interrupted by
SIGINT, 143 by SIGTERM. With --halt ...,fail=1: the failing job's status;
with a P% halt: the percentage of the jobs that failed. An interrupted run
ends by its signal once the job log is written (as the shell shows it:
130, 143), so Ctrl+C also stops a script that runs cohort.)";

constexpr const char* jobs_group = "Jobs";
constexpr const char* input_group = "Input";
constexpr const char* output_group = "Output";
constexpr const char* log_group = "Job log and resume";

}  // namespace

parse_result parse_run_cli(int argc, char** argv) {
  run_cli_options o;
  CLI::App app(description, "cohort run");
  app.footer(footer);
  app.prefix_command();  // the first non-option word starts the command

  std::string jobs_text, timeout_text, halt_text, term_text, delay_text, retries_text;
  std::string retry_delay_text;
  app.add_option("-j,--jobs", jobs_text,
                 "jobs at a time: N, 0 (no limit), +N or -N (CPU threads plus or minus N), "
                 "P% (of the CPU threads); default: one per CPU thread")
      ->type_name("N")
      ->group(jobs_group);
  app.add_option("--timeout", timeout_text,
                 "kill a job (with --term-seq) that runs longer than this, or than P% of the "
                 "median runtime (200%); default: none")
      ->type_name("DURATION")
      ->group(jobs_group);
  app.add_option("--retries", retries_text,
                 "run a failing job up to N times in all (default 1: no retry)")
      ->type_name("N")
      ->group(jobs_group);
  app.add_option("--retry-delay", retry_delay_text,
                 "wait before the first retry, doubling up to 10s, jittered (default 0.1s; "
                 "0 retries at once, as GNU parallel)")
      ->type_name("DURATION")
      ->group(jobs_group);
  app.add_option("--delay", delay_text, "wait this long between job starts (default 0)")
      ->type_name("DURATION")
      ->group(jobs_group);
  app.add_option("--halt", halt_text,
                 "stop early: now|soon,fail|success|done=N|P%, e.g. now,fail=1 "
                 "(default never)")
      ->type_name("WHEN")
      ->group(jobs_group);
  app.add_option("--term-seq", term_text,
                 "signals and waits in ms that kill a job (default "
                 "TERM,200,TERM,100,TERM,50,KILL,25)")
      ->type_name("SEQ")
      ->group(jobs_group);
  // One FILE per -a (else CLI11 takes the command's words as more files).
  app.add_option("-a,--arg-file", o.arg_files, "read inputs from FILE (repeatable)")
      ->type_name("FILE")
      ->allow_extra_args(false)
      ->group(input_group);
  app.add_flag("-0,--null", o.null_separated, "inputs are separated by NUL, not newline")
      ->group(input_group);
  app.add_flag("-k,--keep-order", o.keep_order, "print output in input order")->group(output_group);
  app.add_flag("--line-buffer,--lb", o.line_buffer, "print output line by line as it comes")
      ->group(output_group);
  app.add_flag("--tag", o.tag, "prefix output lines with the job's arguments")->group(output_group);
  app.add_flag("--bar", o.bar, "show a progress bar on stderr")->group(output_group);
  app.add_flag("--eta", o.eta, "show the estimated time left on stderr")->group(output_group);
  app.add_flag("--dry-run", o.dry_run, "print the commands instead of running them")
      ->group(output_group);
  app.add_option("--joblog", o.joblog, "log every finished job in FILE (GNU parallel's format)")
      ->type_name("FILE")
      ->group(log_group);
  app.add_flag("--resume", o.resume, "skip the jobs in --joblog")->group(log_group);
  app.add_flag("--resume-failed", o.resume_failed,
               "skip the jobs in --joblog that succeeded; run the failed ones again")
      ->group(log_group);
  set_up_cli(app, "run");

  try {
    app.parse(argc, argv);
    o.words = app.remaining();
    // prefix_command() hands an unknown option over as the command's first
    // word; GNU parallel refuses it, and so do we (nothing is run).
    if (!o.words.empty() && o.words.front().size() > 1 && o.words.front()[0] == '-' &&
        o.words.front() != "--") {
      throw usage_error(unknown_option_message(o.words.front(), "run"));
    }
    if (!o.words.empty() && o.words.front() == "--") o.words.erase(o.words.begin());
    if (!jobs_text.empty()) o.jobs = parse_jobs(jobs_text);
    if (!timeout_text.empty()) o.timeout = parse_timeout(timeout_text);
    if (!retries_text.empty()) {
      // Beyond INT_MAX attempts is "retry for ever" in practice.
      o.retries = static_cast<int>(
          std::min<std::int64_t>(parse_count(retries_text, "--retries", 0, std::nullopt), INT_MAX));
    }
    if (!halt_text.empty()) o.halt = parse_halt(halt_text);
    if (!term_text.empty()) o.term_seq = parse_term_seq(term_text);
    if (!delay_text.empty()) o.delay = parse_duration(delay_text, "--delay");
    if (!retry_delay_text.empty()) {
      o.retry_delay = parse_duration(retry_delay_text, "--retry-delay");
    }
    if (o.resume && o.resume_failed) {
      throw usage_error("--resume and --resume-failed cannot be combined; pick one");
    }
    if ((o.resume || o.resume_failed) && o.joblog.empty()) {
      throw usage_error("--resume needs --joblog FILE (the log of the earlier run)");
    }
    if (o.line_buffer && o.keep_order) {
      throw usage_error("--line-buffer and --keep-order cannot be combined");
    }
  } catch (const CLI::Success& e) {
    return {std::nullopt, app.exit(e)};
  } catch (const CLI::ParseError& e) {
    fmt::print(stderr, "cohort run: {}\n",
               parse_error_message(e, "run", argc > 1 ? argv[argc - 1] : ""));
    return {std::nullopt, exit_run_error};
  } catch (const std::exception& e) {
    fmt::print(stderr, "cohort run: {}\n", e.what());
    return {std::nullopt, exit_run_error};
  }
  return {std::move(o), 0};
}

}  // namespace cohort::app::run
