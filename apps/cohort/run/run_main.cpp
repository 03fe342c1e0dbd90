#include "cohort/run/run_main.hpp"

#include "cohort/common/cli.hpp"
#include "cohort/exit_codes.hpp"
#include "cohort/run/gnu_options.hpp"
#include "cohort/run/process_launcher.hpp"
#include "cohort/run/run_engine.hpp"
#include "cohort/run/run_exit_code.hpp"
#include "cohort/run/run_report.hpp"

#include <cohort/io/process_guardian.hpp>
#include <cohort/runtime/run.hpp>

#include <fmt/core.h>

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <thread>

namespace cohort::app::run {

namespace {

std::size_t resolve_jobs(const jobs_spec& j) {
  const auto cores = std::max(1u, std::thread::hardware_concurrency());
  // Unlimited (-j 0): as many as the runner can hold; each job is a process.
  return static_cast<std::size_t>(j.resolve(cores).value_or(100000));
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

// The command's template; with --header, its {name}s are positions first.
command_template template_of(const run_cli_options& o, const std::vector<std::string>& words,
                             const std::vector<std::string>& header) {
  if (header.empty()) return command_template::from_words(words, o.context_replace);
  std::vector<std::string> renamed;
  renamed.reserve(words.size());
  for (const auto& w : words) renamed.push_back(command_template::rename_columns(w, header));
  return command_template::from_words(renamed, o.context_replace);
}

// -X/-m/--xargs: GNU parallel's usable length of a command line, half of
// what one exec argument may hold (MAX_ARG_STRLEN, 32 pages) less 3000.
constexpr std::size_t max_command_length = (32 * 4096 - 3000) / 2;

void fill_command_lines(const run_cli_options& o, run_engine_parts& parts) {
  command_line_fill fill;
  // A copy: the engine takes the parts (and their template) over.
  fill.arg_length = [t = parts.tmpl](const std::string& a) { return t.argument_length(a); };
  // The command without arguments: with one plain argument, less what it adds.
  const std::string one = "x";
  const std::size_t with_one = parts.tmpl.expand(std::span(&one, 1), 1, 1).size();
  fill.base_length = with_one - std::min(with_one, parts.tmpl.argument_length(one));
  fill.max_length = o.max_chars ? std::min(*o.max_chars, max_command_length) : max_command_length;
  fill.slots = parts.slots;
  fill.spread = o.fill != run_cli_options::fill_mode::xargs;
  if (o.max_records_given) fill.max_records = std::max<std::uint64_t>(1, o.inputs.records_per_job);
  parts.inputs.fill_command_lines(std::move(fill));
}

// --dry-run: the commands, one a line, run none.
int print_commands(const command_template& tmpl, input_generator& inputs) {
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

// The runtime's options: killing a job takes its whole --term-seq, so the
// grace period after a signal leaves room for it.
cohort::run_options runtime_options(const run_cli_options& o) {
  cohort::run_options ro;
  ro.grace = std::max<duration>(std::chrono::seconds(5),
                                saturating_add(total_wait(o.term_seq), std::chrono::seconds(1)));
  return ro;
}

// The command and its inputs; under --retry-failed, as GNU parallel, the
// commands of the job log (the command line's are ignored), unless there is
// no log yet (then GNU reads none either).
command_and_sources command_and_inputs(run_cli_options& o) {
  if (o.retry_failed) {
    const joblog_contents log = read_joblog(o.joblog);
    if (log.file_exists) {
      std::vector<std::string> commands = retry_commands(log);
      const bool newline = std::any_of(commands.begin(), commands.end(), [](const auto& c) {
        return c.find('\n') != std::string::npos;
      });
      if (newline) {
        // GNU's words: "Command lines contain newline. Forcing --null."
        fmt::print(stderr,
                   "cohort run: warning: command lines contain a newline: forcing --null\n");
        o.inputs.separator = '\0';
      }
      command_and_sources s;
      s.sources.push_back(input_source::literals(std::move(commands)));
      return s;
    }
  }
  return split_command_line(o.words, o.arg_files);
}

// The joblog to resume from and the one to write, as --resume and --joblog ask.
void open_joblogs(const run_cli_options& o, run_engine_parts& parts) {
  if (o.resume || o.resume_failed) {
    parts.resume.emplace(read_joblog(o.joblog),
                         o.resume ? resume_mode::resume : resume_mode::resume_failed);
  }
  if (o.joblog == "-") {
    // GNU parallel's --joblog -: the log on standard output.
    if (parts.resume) throw usage_error("--resume needs the job log in a file, not --joblog -");
    parts.log.emplace(parts.out);
  } else if (!o.joblog.empty()) {
    using mode = joblog_writer::mode;
    parts.log.emplace(o.joblog, o.joblog_append ? mode::append_lines
                                : parts.resume  ? mode::append
                                                : mode::truncate);
  }
}

// Runs `engine` on the runtime, its jobs as real processes; fills `how`.
void run_engine_on_runtime(run_engine& engine, const run_cli_options& o, held_signals& held,
                           run_ending& how) {
  // Kills the jobs' process groups if this process dies (kill -9, OOM)
  // before it could; told "done" when it goes out of scope.
  process_guardian guardian = start_guardian(o);
  const cohort::run_outcome ended = cohort::run_with_outcome(
      [&](cohort::runtime& rt) -> cohort::task<int> {
        held.release();
        struct note_hup {
          cohort::runtime& rt;
          bool& hup;
          ~note_hup() { hup = rt.drain_requested().is_set(); }
        } note{rt, how.hup};
        process_launcher launcher(rt.io(), &guardian);
        co_await engine.run(launcher, rt.drain_requested());
        co_return 0;
      },
      runtime_options(o));
  how.code = ended.code;
  how.signal = ended.signal;
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
    auto split = command_and_inputs(o);
    refuse_perl_expressions(split.command);
    input_generator inputs(std::move(split.sources), o.inputs);
    command_template tmpl = template_of(o, split.command, inputs.header_names());
    run_engine_parts parts{
        .tmpl = std::move(tmpl), .inputs = std::move(inputs), .slots = resolve_jobs(o.jobs)};
    run_ending how{.argc = argc, .argv = argv, .options = &o, .halt_given = o.halt};
    if (o.fill != run_cli_options::fill_mode::none) fill_command_lines(o, parts);
    if (o.load || o.memfree) {
      static proc_machine_probe machine;
      const auto cores = std::max(1u, std::thread::hardware_concurrency());
      if (o.load) parts.limits.max_load = o.load->resolve(cores);
      parts.limits.min_free = o.memfree;
      parts.machine = &machine;
    }
    if (o.nice) {
      errno = 0;
      const int current = ::getpriority(PRIO_PROCESS, 0);
      parts.nice = nice_increment(*o.nice, errno == 0 ? current : 0, ::geteuid() == 0);
    }
    if (!o.results.empty()) {
      // -N's records each name their sources; one record a job: all its arguments.
      const std::size_t width = o.max_records_given || o.fill != run_cli_options::fill_mode::none
                                    ? parts.inputs.source_count()
                                    : 0;
      parts.results.emplace(o.results, parts.inputs.header_names(), width);
    }
    if (o.halt.percent > 0) how.total_jobs = parts.inputs.total_jobs();
    o.halt = halt_for_runner(o.halt, how.total_jobs);
    if (o.dry_run) {
      held.release();
      return print_commands(parts.tmpl, parts.inputs);
    }
    open_joblogs(o, parts);
    run_engine engine(o, std::move(parts));
    run_engine_on_runtime(engine, o, held, how);
    ended_by = how.signal;
    return report_run(engine, how);
  } catch (const std::exception& e) {
    fmt::print(stderr, "cohort run: {}\n", e.what());
    return exit_run_error;
  }
}

}  // namespace

int run_main(int argc, char** argv) {
  // run_and_report closes the joblog and writes the jobs' output and the
  // summary before an interrupted run ends by its signal.
  return run_to_exit_status(run_and_report, argc, argv);
}

}  // namespace cohort::app::run
