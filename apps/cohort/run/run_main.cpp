#include "cohort/run/run_main.hpp"

#include "cohort/common/cli.hpp"
#include "cohort/exit_codes.hpp"
#include "cohort/run/gnu_options.hpp"
#include "cohort/run/process_launcher.hpp"
#include "cohort/run/run_engine.hpp"
#include "cohort/run/run_exit_code.hpp"
#include "cohort/run/run_part.hpp"
#include "cohort/run/run_report.hpp"

#include <cohort/io/process_guardian.hpp>
#include <cohort/runtime/run.hpp>

#include <fmt/core.h>

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
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

// How the command (and --tagstring) is compiled: -N/-L/-X, -I & co., -q.
template_options template_options_of(const run_cli_options& o) {
  template_options t;
  t.context_replace = o.context_replace;
  t.names = o.names;
  t.quote_words = o.quote_command;
  return t;
}

// The words with --header's {name}s as positions.
std::vector<std::string> renamed(const std::vector<std::string>& words,
                                 const std::vector<std::string>& header) {
  std::vector<std::string> out;
  out.reserve(words.size());
  for (const auto& w : words) out.push_back(command_template::rename_columns(w, header));
  return out;
}

// The command's template; with --header, its {name}s are positions first.
command_template template_of(const run_cli_options& o, const std::vector<std::string>& words,
                             const std::vector<std::string>& header) {
  return command_template::from_words(renamed(words, header), template_options_of(o));
}

// --tagstring's template (nothing quoted); nullopt without --tagstring.
std::optional<command_template> tag_template_of(const run_cli_options& o,
                                                const std::vector<std::string>& header) {
  if (!o.tagstring) return std::nullopt;
  template_options t = template_options_of(o);
  t.quote_words = false;
  t.is_tag = true;
  return command_template::from_words(renamed({*o.tagstring}, header), t);
}

// --wd DIR: a template expanded per job, as GNU parallel (not quoted: it is
// a path, not shell words); none for "..." (a temporary directory).
std::optional<command_template> workdir_template_of(const run_cli_options& o,
                                                    const std::vector<std::string>& header) {
  if (o.workdir.empty() || o.workdir == "...") return std::nullopt;
  template_options t = template_options_of(o);
  t.quote_words = false;
  t.is_tag = true;  // nothing is appended when there is no replacement string
  return command_template::from_words(renamed({o.workdir}, header), t);
}

// --tagstring with a {= perl expression =}: refused, naming --tagstring.
void refuse_perl_in_tagstring(const std::string& tagstring) {
  try {
    refuse_perl_expressions(std::span(&tagstring, 1));
  } catch (const usage_error& e) {
    throw usage_error(fmt::format("--tagstring: {}", e.what()));
  }
}

// True when the command or --tagstring uses {##} or {0#}.
bool uses_job_counts(const run_cli_options& o, const std::vector<std::string>& words) {
  if (command_template::from_words(words, template_options_of(o)).uses_job_counts()) return true;
  const std::vector<std::string> none;
  auto tag = tag_template_of(o, none);
  return tag && tag->uses_job_counts();
}

// {##}, {0#}, {0%}: the number of jobs and of slots, in every template.
void set_job_counts(run_engine_parts& parts) {
  const bool counts = parts.tmpl.uses_job_counts() || (parts.tag && parts.tag->uses_job_counts());
  const std::optional<std::uint64_t> total =
      counts ? parts.inputs.total_jobs() : std::optional<std::uint64_t>();
  parts.tmpl.set_job_counts(total, parts.slots);
  if (parts.tag) parts.tag->set_job_counts(total, parts.slots);
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

// --pipe/--pipepart: the chunks of standard input or of the files given
// (-a FILE, :::: FILE), instead of inputs.
pipe_source chunks_of(const run_cli_options& o, const command_and_sources& split,
                      std::size_t slots) {
  std::vector<std::string> paths;
  for (const input_source& s : split.sources) {
    if (s.what != input_source::kind::file || !o.pipe_cut.part) {
      throw usage_error(
          o.pipe_cut.part
              ? "--pipepart reads files: give them with -a FILE (not :::)"
              : "--pipe reads standard input: give no -a, ::: or :::: (or use --pipepart -a FILE)");
    }
    paths.push_back(s.path);
  }
  if (!o.pipe_cut.part) return pipe_source(0, o.pipe_cut);
  if (paths.empty()) throw usage_error("--pipepart needs the file to cut: -a FILE");
  return pipe_source(paths, o.pipe_cut, slots);
}

// --dry-run: the commands, one a line, run none (-v prints them once too).
int print_commands(const command_template& tmpl, input_generator& inputs,
                   std::optional<pipe_source>& chunks, const std::optional<work_part>& part) {
  job_input in;
  std::string line;
  chunk_file chunk;
  auto next = [&] {
    if (!chunks) return inputs.next(in);
    in.seq++;
    return chunks->next(chunk);
  };
  while (next()) {
    if (part && !part->holds_job(in.seq)) continue;
    line.clear();
    tmpl.expand_into(line, in.args, in.seq, 1);
    line += '\n';
    std::fwrite(line.data(), 1, line.size(), stdout);
  }
  return exit_ok;
}

// --tmpdir DIR: as GNU parallel, the jobs' TMPDIR (GNU also puts its own
// temporary files there; cohort keeps output in memory). GNU's checks: the
// directory exists and is writable.
void use_tmpdir(const std::string& dir) {
  if (dir.empty()) return;
  if (::access(dir.c_str(), W_OK) != 0) {
    throw usage_error(
        fmt::format("--tmpdir: '{}' {}", dir,
                    errno == ENOENT ? "does not exist (mkdir it first)" : "is not writable"));
  }
  ::setenv("TMPDIR", dir.c_str(), 1);
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
        o.inputs.delimiter_head.clear();
      }
      command_and_sources s;
      s.sources.push_back(input_source::literals(std::move(commands)));
      return s;
    }
  }
  return split_command_line(o.words, o.arg_files, o.separators);
}

// The joblog to resume from and the one to write, as --resume and --joblog ask.
void open_joblogs(const run_cli_options& o, run_engine_parts& parts) {
  if (o.resume || o.resume_failed) {
    const joblog_contents earlier = read_joblog(o.joblog);
    if (o.part) check_joblog_part(earlier, o.joblog, *o.part);
    parts.resume.emplace(earlier, o.resume ? resume_mode::resume : resume_mode::resume_failed);
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

// The engine's parts as the options say: the command, its inputs (or
// --pipe's chunks), the tag, filled command lines and job counts.
run_engine_parts build_parts(run_cli_options& o) {
  auto split = command_and_inputs(o);
  refuse_perl_expressions(split.command);
  if (o.tagstring) refuse_perl_in_tagstring(*o.tagstring);
  // {##}: GNU parallel reads every input before the first job.
  o.inputs.read_all = uses_job_counts(o, split.command);
  const std::size_t slots = resolve_jobs(o.jobs);
  std::optional<pipe_source> chunks;
  if (o.pipe) {
    chunks.emplace(chunks_of(o, split, slots));
    split.sources = {input_source::literals({})};  // the jobs are the chunks
  }
  input_generator inputs(std::move(split.sources), o.inputs);
  command_template tmpl = template_of(o, split.command, inputs.header_names());
  if (o.pipe) tmpl.append_no_arguments();
  std::optional<command_template> tag = tag_template_of(o, inputs.header_names());
  std::optional<command_template> workdir = workdir_template_of(o, inputs.header_names());
  run_engine_parts parts{.tmpl = std::move(tmpl),
                         .inputs = std::move(inputs),
                         .tag = std::move(tag),
                         .workdir = std::move(workdir),
                         .temporary_workdir = o.workdir == "...",
                         .chunks = std::move(chunks),
                         .slots = slots};
  if (o.fill != run_cli_options::fill_mode::none) fill_command_lines(o, parts);
  set_job_counts(parts);
  return parts;
}

// --load, --memfree, --nice and --results: what the engine needs to know of
// the machine and where the output goes.
void apply_machine_options(const run_cli_options& o, run_engine_parts& parts) {
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
    use_tmpdir(o.tmpdir);
    run_engine_parts parts = build_parts(o);
    apply_machine_options(o, parts);
    run_ending how{.argc = argc, .argv = argv, .options = &o, .halt_given = o.halt};
    if (o.halt.percent > 0) how.total_jobs = parts.inputs.total_jobs();
    if (how.total_jobs && o.part) how.total_jobs = o.part->jobs_of(*how.total_jobs);
    o.halt = halt_for_runner(o.halt, how.total_jobs);
    if (o.dry_run) {
      held.release();
      return print_commands(parts.tmpl, parts.inputs, parts.chunks, o.part);
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
