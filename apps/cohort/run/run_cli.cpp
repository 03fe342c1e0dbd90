#include "cohort/run/run_cli.hpp"

#include "cohort/common/cli.hpp"
#include "cohort/common/option_values.hpp"
#include "cohort/exit_codes.hpp"
#include "cohort/run/gnu_options.hpp"
#include "cohort/run/results_dir.hpp"
#include "cohort/run/run_part.hpp"

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
(-I and the other *replace options rename them; --plus adds {..} {...} {/..}
{/...} {+/} {+.} {+..} {+...} {##} {0#} {0%} {slot} {:-str} {:n} {:p:n}
{#re} {##re} {%re} {%%re} {/re/str} {//re/str} {/#re/str} {/%re/str} {^re}
{^^re} {,re} {,,re}, as GNU parallel's --plus.)
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
SIGINT, 143 by SIGTERM. After a --halt, the status when it halted:
fail=1 or done=1: that job's status; fail=N: the number failed by then;
P%: the percentage of all jobs failed by then. An interrupted run
ends by its signal once the job log is written (as the shell shows it:
130, 143), so Ctrl+C also stops a script that runs cohort.)";

constexpr const char* jobs_group = "Jobs";
constexpr const char* input_group = "Input";
constexpr const char* output_group = "Output";
constexpr const char* log_group = "Job log and resume";
constexpr const char* rpl_group = "Replacement strings";
constexpr const char* pipe_group = "Chunks of the input on each job's stdin";

// The values that are parsed after CLI11 has split the command line.
struct value_texts {
  std::string nice, load, memfree;
  std::string jobs, timeout, retries, retry_delay, delay, halt, term_seq;
  std::string max_replace_args, max_args, max_lines_L, max_lines, delimiter, max_chars;
  std::string part, parts;
  std::string block;
  std::string trim;
  bool l_given = false;  // -l [N]
  CLI::Option* l_option = nullptr;
  bool no_keep_order = false;
  std::optional<std::string> tagstring;
  bool group = false;
};

void add_job_options(CLI::App& app, value_texts& t) {
  add_value(app, "-j,--jobs,-P,--max-procs,--maxprocs", t.jobs, "N", jobs_group,
            "jobs at a time: N, 0 (no limit), +N or -N (CPU threads plus or minus N), "
            "P% (of the CPU threads); default: one per CPU thread");
  add_value(app, "--timeout", t.timeout, "DURATION", jobs_group,
            "kill a job (with --term-seq) that runs longer than this, or than P% of the "
            "median runtime (200%); default: none");
  add_value(app, "--retries", t.retries, "N", jobs_group,
            "run a failing job up to N times in all (default 1: no retry)");
  add_value(app, "--retry-delay", t.retry_delay, "DURATION", jobs_group,
            "wait before the first retry, doubling up to 10s, jittered (default 0.1s; "
            "0 retries at once, as GNU parallel)");
  add_value(app, "--delay", t.delay, "DURATION", jobs_group,
            "wait this long between job starts (default 0)");
  add_value(app, "--halt,--halt-on-error,--haltonerror", t.halt, "WHEN", jobs_group,
            "stop early: now|soon,fail|success|done=N|P%, e.g. now,fail=1 "
            "(default never)");
  add_value(app, "--load", t.load, "MAX", jobs_group,
            "start a job only while fewer than MAX processes are running or waiting for the "
            "disk (GNU's load: this instant's): N, N% of the CPU threads, +N or -N");
  add_value(app, "--memfree", t.memfree, "SIZE", jobs_group,
            "start a job only while SIZE of memory is available (1G = 2^30, 1g = 10^9); "
            "below half of it, the youngest job is killed and runs again later");
  add_value(app, "--nice", t.nice, "N", jobs_group,
            "run the jobs at niceness N (-20 to 19; as GNU parallel, N itself, not added to "
            "cohort's)");
  add_value(app, "--term-seq,--termseq", t.term_seq, "SEQ", jobs_group,
            "signals and waits in ms that kill a job (default "
            "TERM,200,TERM,100,TERM,50,KILL,25)");
}

// Where inputs come from and where jobs run.
void add_input_options(CLI::App& app, run_cli_options& o, value_texts& t) {
  // One FILE per -a (else CLI11 takes the command's words as more files).
  app.add_option("-a,--arg-file,--argfile", o.arg_files, "read inputs from FILE (repeatable)")
      ->type_name("FILE")
      ->allow_extra_args(false)
      ->group(input_group);
  app.add_flag("-0,--null", o.null_separated, "inputs are separated by NUL, not newline")
      ->group(input_group);
  app.add_flag("-r,--no-run-if-empty,--norunifempty", o.inputs.skip_blank,
               "skip inputs of only whitespace (no job for a blank line)")
      ->group(input_group);
  add_value(app, "--trim", t.trim, "n|l|r|lr|rl", input_group,
            "take whitespace off each argument: n none (the default; lr with --colsep), l "
            "leading, r trailing, lr or rl both");
  add_value(app, "--arg-sep,--argsep", o.separators.args, "SEP", input_group,
            "SEP instead of ::: (and SEP+ instead of :::+)");
  add_value(app, "--arg-file-sep,--argfilesep", o.separators.files, "SEP", input_group,
            "SEP instead of :::: (and SEP+ instead of ::::+)");
  add_value(app, "--workdir,--work-dir,--wd", o.workdir, "DIR", jobs_group,
            "run the jobs in DIR (created if missing; replacement strings allowed); ... : each "
            "job in a new directory under $TMPDIR, removed after it");
  add_value(app, "--tmpdir,--tempdir", o.tmpdir, "DIR", jobs_group,
            "the jobs' TMPDIR (GNU parallel's temporary files; cohort keeps output in memory)");
}

// How jobs' output is shown or saved.
void add_output_options(CLI::App& app, run_cli_options& o, value_texts& t) {
  // GNU parallel compresses its temporary files of output; cohort has none.
  app.add_flag("--compress")
      ->description(
          "accepted for GNU parallel's command lines: output is kept in memory, so there are no "
          "temporary files to compress")
      ->group(output_group);
  app.add_flag("-k,--keep-order,--keeporder", o.keep_order, "print output in input order")
      ->group(output_group);
  app.add_flag("--no-keep-order,--nokeeporder", t.no_keep_order,
               "cancel -k wherever it is given (as GNU parallel)")
      ->group(output_group);
  app.add_flag("--line-buffer,--lb,--linebuffer", o.line_buffer,
               "print output line by line as it comes")
      ->group(output_group);
  app.add_flag("--tag", o.tag, "prefix output lines with the job's arguments")->group(output_group);
  app.add_flag("--bar", o.bar, "show a progress bar on stderr")->group(output_group);
  app.add_flag("--eta,--progress", o.eta,
               "show the progress on stderr: jobs done, running and failed, the rate and the "
               "time left (the same display as --bar)")
      ->group(output_group);
  // GNU parallel: --env VAR copies VAR to remote jobs; a local job has the
  // whole environment anyway, so here it changes nothing.
  app.add_option("--env", o.env_vars,
                 "accepted for GNU parallel's command lines: jobs inherit the whole "
                 "environment (--env matters for remote jobs only)")
      ->type_name("VAR")
      ->allow_extra_args(false)
      ->group(output_group);
  app.add_flag("--dry-run,--dryrun", o.dry_run, "print the commands instead of running them")
      ->group(output_group);
  add_value(app, "--results,--result,--res", o.results, "NAME", output_group,
            "save each job's output in files instead of printing it (GNU's layout): "
            "NAME/1/<arg>/stdout, stderr and seq; with a replacement string, NAME is the "
            "file (and NAME.err, NAME.seq), or the directory if it ends in /");
}

// --joblog, --resume, --retry-failed and --part.
void add_log_options(CLI::App& app, run_cli_options& o, value_texts& t) {
  add_value(app, "--joblog,--jl", o.joblog, "FILE", log_group,
            "log every finished job in FILE (GNU parallel's format); +FILE appends to FILE");
  app.add_flag("--resume", o.resume, "skip the jobs in --joblog")->group(log_group);
  app.add_flag("--resume-failed,--resumefailed", o.resume_failed,
               "skip the jobs in --joblog that succeeded; run the failed ones again")
      ->group(log_group);
  add_value(app, "--part", t.part, "K/N|auto", log_group,
            "run only part K of N (0 to N-1): the jobs whose sequence number seq has "
            "(seq - 1) mod N = K; {#} stays seq. auto: from a Slurm job array or a Kubernetes "
            "Indexed Job (see --parts). In --joblog's FILE, %k becomes K and %n N");
  add_value(app, "--parts", t.parts, "N|VAR", log_group,
            "with --part auto under Kubernetes (JOB_COMPLETION_INDEX): the number of parts, or "
            "the environment variable that holds it");
  app.add_flag("--retry-failed,--retryfailed", o.retry_failed,
               "run the failed jobs of --joblog again, with the commands in the log (the "
               "command and inputs given are ignored, as GNU parallel)")
      ->group(log_group);
}

// GNU parallel's options that shape the inputs into jobs' arguments.
void add_input_shaping_options(CLI::App& app, run_cli_options& o, value_texts& t) {
  app.add_option("-C,--colsep", o.inputs.colsep,
                 "split each input into columns at REGEXP: {1} {2}... are columns")
      ->type_name("REGEXP")
      ->group(input_group);
  add_value(app, "-N,--max-replace-args", t.max_replace_args, "N", input_group,
            "N inputs per job: {} is all of them (a word with {} is repeated for each), "
            "{1}..{N} each one; -N0: one input per job, not passed");
  add_value(app, "-n,--max-args", t.max_args, "N", input_group,
            "N inputs per job: {} is all of them, space-separated");
  add_value(app, "-L", t.max_lines_L, "N", input_group,
            "as -N, and an input ending in a blank continues on the next line");
  add_value(app, "--max-lines", t.max_lines, "N", input_group, "as -L (0 is 1)");
  // GNU's -l takes its value only if one follows (-l alone is -l 1).
  // (A flag, and a number after it is its value: CLI11's optional values
  // would take the command's first word.)
  t.l_option = app.add_flag("-l", t.l_given, "as --max-lines; -l alone is -l 1")
                   ->type_name("[N]")
                   ->group(input_group);
  app.add_flag("--link,--xapply", o.inputs.link,
               "take the sources' values side by side, the shorter ones starting over, not "
               "every combination (:::+ and ::::+ link one source to the one before it)")
      ->group(input_group);
  app.add_option_function<std::string>(
         "--header",
         [&o](const std::string& v) {
           // GNU: `--header 0` names the file sources by their paths.
           o.inputs.header = v != "0";
           o.inputs.header_paths = v == "0";
         },
         "the first input of each source names its columns: {name} is that column "
         "(--header 0: {FILE} is the source read from FILE)")
      ->type_name("REGEXP")
      ->group(input_group);
  add_value(app, "-d,--delimiter", t.delimiter, "DELIM", input_group,
            "inputs are separated by DELIM, not newline: one character or more (\\n \\t "
            "\\r \\0 allowed, e.g. -d '\\r\\n')");
  app.add_option("-E", o.inputs.eof_string, "an input equal to EOF ends its source")
      ->type_name("EOF")
      ->group(input_group);
  // GNU's deprecated --eof/-e: an optional value; without one (or ''), no EOF.
  app.add_option_function<std::string>(
         "-e,--eof",
         [&o](const std::string& v) {
           if (v.empty()) {
             o.inputs.eof_string.reset();
           } else {
             o.inputs.eof_string = v;
           }
         },
         "as -E EOF (deprecated in GNU parallel); without EOF: none")
      ->expected(0, 1)
      ->type_name("[EOF]")
      ->group(input_group);
}

// -X, -m, --xargs, -s, --shuf: how many inputs a command line takes, and in
// which order jobs run.
void add_fill_options(CLI::App& app, run_cli_options& o, value_texts& t) {
  app.add_flag_callback(
         "-X", [&o] { o.fill = run_cli_options::fill_mode::context; },
         "as many inputs per job as fit one command line (64 KB), a word with {} repeated for "
         "each; at the end spread over the job slots")
      ->group(input_group);
  app.add_flag_callback(
         "-m", [&o] { o.fill = run_cli_options::fill_mode::plain; },
         "as -X, but {} is all the inputs, space-separated")
      ->group(input_group);
  app.add_flag_callback(
         "--xargs", [&o] { o.fill = run_cli_options::fill_mode::xargs; },
         "as -m, without spreading the last inputs over the job slots")
      ->group(input_group);
  add_value(app, "-s,--max-chars,--maxchars", t.max_chars, "N", input_group,
            "with -X/-m: a command line of at most N characters");
  app.add_flag("--shuf", o.inputs.shuffle,
               "run the jobs in a random order (reads all the inputs before the first job)")
      ->group(input_group);
}

// GNU parallel's options that rename the replacement strings or add more.
void add_replacement_options(CLI::App& app, run_cli_options& o) {
  replacement_names& n = o.names;
  add_value(app, "-I", n.all, "STR", rpl_group, "use STR instead of {} (and {1} {2}... lose it)");
  // GNU's deprecated --replace/-i: an optional value, {} without one.
  app.add_option_function<std::string>(
         "--replace,-i", [&n](const std::string& v) { n.all = v.empty() ? "{}" : v; },
         "as -I STR (deprecated in GNU parallel); without STR: {}")
      ->expected(0, 1)
      ->type_name("[STR]")
      ->group(rpl_group);
  add_value(app, "--extensionreplace,--er", n.no_extension, "STR", rpl_group,
            "use STR instead of {.}");
  add_value(app, "--basenamereplace,--bnr", n.basename, "STR", rpl_group, "use STR instead of {/}");
  add_value(app, "--dirnamereplace,--dnr", n.dirname, "STR", rpl_group, "use STR instead of {//}");
  add_value(app, "--basenameextensionreplace,--bner", n.basename_no_extension, "STR", rpl_group,
            "use STR instead of {/.}");
  add_value(app, "--seqreplace", n.seq, "STR", rpl_group, "use STR instead of {#}");
  add_value(app, "--slotreplace", n.slot, "STR", rpl_group, "use STR instead of {%}");
  app.add_flag("--plus", n.plus, "GNU parallel's --plus replacement strings (above)")
      ->group(rpl_group);
}

// -v, -t, -q, -u, --tagstring: how commands and their output are shown.
void add_command_output_options(CLI::App& app, run_cli_options& o, value_texts& t) {
  app.add_option_function<std::string>(
         "--tagstring,--tag-string", [&t](const std::string& v) { t.tagstring = v; },
         "prefix output lines with STR and a tab; STR may hold replacement strings "
         "(\\t \\n \\r \\NNN as in GNU parallel)")
      ->type_name("STR")
      ->group(output_group);
  app.add_flag("-v", o.print_commands, "print each command on stdout, before its output")
      ->group(output_group);
  app.add_flag("-t,--verbose", o.print_commands_to_stderr,
               "print each command on stderr as it starts")
      ->group(output_group);
  app.add_flag("-q,--quote", o.quote_command,
               "quote the command's words, so the shell runs them as they are (no ; | $ ...)")
      ->group(output_group);
  app.add_flag("-u,--ungroup", o.ungroup,
               "output passes straight through, not grouped per job (lines may mix; no --tag)")
      ->group(output_group);
}

// GNU parallel's unquote_printf: \t \n \r and \NNN (octal) in --tagstring.
std::string unquote_printf(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\' || i + 1 == s.size()) {
      out.push_back(s[i]);
      continue;
    }
    const char c = s[i + 1];
    if (c == 't' || c == 'n' || c == 'r') {
      out.push_back(c == 't' ? '\t' : c == 'n' ? '\n' : '\r');
      ++i;
      continue;
    }
    std::size_t digits = 0;
    while (digits < 3 && i + 1 + digits < s.size() && s[i + 1 + digits] >= '0' &&
           s[i + 1 + digits] <= '9') {
      ++digits;
    }
    // GNU: \ddd (three digits), else \d (one), as a Perl "\ddd" octal escape.
    const std::size_t take = digits == 3 ? 3 : digits >= 1 ? 1 : 0;
    if (take == 0) {
      out.push_back(s[i]);
      continue;
    }
    unsigned value = 0;
    for (std::size_t k = 0; k < take; ++k) {
      const char d = s[i + 1 + k];
      if (d > '7') break;
      value = value * 8 + static_cast<unsigned>(d - '0');
    }
    out.push_back(static_cast<char>(value & 0xff));
    i += take;
  }
  return out;
}

// --pipe and --pipepart (GNU parallel's names and meanings).
void add_pipe_options(CLI::App& app, run_cli_options& o, value_texts& t) {
  app.add_flag("--pipe,--spreadstdin", o.pipe,
               "cut standard input into chunks of about --block bytes at record ends; each "
               "chunk is the standard input of one job (-k keeps their order)")
      ->group(pipe_group);
  app.add_flag("--pipepart,--pipe-part", o.pipe_cut.part,
               "as --pipe, for the files of -a FILE, cut by offsets without reading them "
               "through (the fast path)")
      ->group(pipe_group);
  add_value(app, "--block,--block-size,--blocksize", t.block, "SIZE", pipe_group,
            "about SIZE bytes a chunk (default 1M; K M G: powers of 1024, k m g: of 1000); "
            "a record longer than SIZE is one chunk. --pipepart: -N is N chunks per job slot "
            "(default -10)");
  app.add_option("--recstart", o.pipe_cut.recstart,
                 "records start with STR: chunks are cut before it (\\n \\t \\0 escapes)")
      ->type_name("STR")
      ->group(pipe_group);
  app.add_option("--recend", o.pipe_cut.recend,
                 "records end with STR (default \\n; '' cuts anywhere); with --recstart, "
                 "chunks are cut only between the two")
      ->type_name("STR")
      ->group(pipe_group);
  app.add_flag("--regexp,--regex", o.pipe_cut.regexp,
               "--recstart and --recend are regular expressions (ECMAScript)")
      ->group(pipe_group);
}

// --pipe's values, and the options it cannot go with; throws usage_error.
void read_pipe_values(run_cli_options& o, const value_texts& t) {
  pipe_options& p = o.pipe_cut;
  if (p.part) o.pipe = true;
  if (!t.block.empty()) {
    p.block = parse_block_size(t.block);
    p.block_given = true;
  }
  if (!o.pipe) return;
  if (p.block < 0 && !p.part) {
    throw usage_error("--block: a negative size (chunks per job slot) is for --pipepart only");
  }
  if (!t.max_lines.empty() || !t.max_lines_L.empty()) {
    throw usage_error("-L/--max-lines with --pipe is not supported: use -N (records a job)");
  }
  if (o.inputs.skip_blank) {
    // GNU's -r with --pipe deletes the blank lines of every chunk.
    throw usage_error(
        "-r with --pipe is not supported: drop blank lines before (grep -v '^\\s*$')");
  }
  if (!t.max_replace_args.empty() || !t.max_args.empty()) {
    if (o.inputs.records_per_job == 0) throw usage_error("-N with --pipe must be at least 1");
    if (p.part || p.regexp) {
      throw usage_error("-N with --pipepart or --regexp is not supported: use --block");
    }
    p.records = o.inputs.records_per_job;
  }
  if (o.fill != run_cli_options::fill_mode::none || o.inputs.colsep || o.inputs.header ||
      o.inputs.header_paths) {
    throw usage_error(
        "-X, -m, --xargs, --colsep and --header do not go with --pipe: a job's input is a chunk "
        "on its standard input, not arguments");
  }
}

// -d's value with GNU parallel's escapes (\n \t \r \0 \\) resolved.
std::string parse_delimiter(const std::string& text) {
  std::string d;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\\' || i + 1 == text.size()) {
      d.push_back(text[i]);
      continue;
    }
    switch (text[++i]) {
      case 'n': d.push_back('\n'); break;
      case 't': d.push_back('\t'); break;
      case 'r': d.push_back('\r'); break;
      case '0': d.push_back('\0'); break;
      case '\\': d.push_back('\\'); break;
      default: d.push_back('\\'); d.push_back(text[i]);
    }
  }
  if (d.empty()) throw usage_error("-d: the delimiter is empty");
  return d;
}

// -l [N]: GNU's optional value is a whole number that follows (Perl's
// Getopt::Long takes it); any other word starts the command.
void read_dash_l(run_cli_options& o, value_texts& t) {
  if (!t.l_given) return;
  std::string value = "1";
  auto all_digits = [](std::string_view w) {
    return !w.empty() &&
           std::all_of(w.begin(), w.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  // The attached form -l2: CLI11 splits a flag's attached rest into another
  // short option, so "2" comes back as the word "-2".
  const bool attached = !o.words.empty() && o.words.front().size() > 1 &&
                        o.words.front()[0] == '-' && all_digits(o.words.front().substr(1));
  if (attached || (!o.words.empty() && all_digits(o.words.front()))) {
    value = o.words.front().substr(attached ? 1 : 0);
    o.words.erase(o.words.begin());
  }
  if (t.max_lines.empty()) t.max_lines = value;
}

void read_input_shaping_values(run_cli_options& o, const value_texts& t) {
  auto count = [](const std::string& text, const char* name) {
    return static_cast<std::uint64_t>(parse_count(text, name, 0, std::nullopt));
  };
  // GNU's precedence: -N, then -n, then -L/--max-lines.
  if (!t.max_lines.empty()) {
    o.inputs.records_per_job = std::max<std::uint64_t>(1, count(t.max_lines, "--max-lines"));
    o.inputs.continue_lines = true;
    o.context_replace = true;
  }
  if (!t.max_lines_L.empty()) {
    o.inputs.records_per_job = count(t.max_lines_L, "-L");
    o.inputs.continue_lines = true;
    o.context_replace = true;
  }
  if (!t.max_args.empty()) o.inputs.records_per_job = count(t.max_args, "-n");
  if (!t.max_replace_args.empty()) {
    o.inputs.records_per_job = count(t.max_replace_args, "-N");
    o.context_replace = true;
  }
  o.max_records_given = !t.max_lines.empty() || !t.max_lines_L.empty() || !t.max_args.empty() ||
                        !t.max_replace_args.empty();
  if (o.fill == run_cli_options::fill_mode::context) o.context_replace = true;
  if ((o.inputs.header || o.inputs.header_paths) && !o.inputs.colsep) {
    // GNU: --header splits at tabs without --colsep, and trims nothing.
    o.inputs.colsep = "\t";
    o.inputs.trim_columns = false;
  }
  // GNU (Perl's truth): an empty EOF string is none, -E '' as -e.
  if (o.inputs.eof_string && o.inputs.eof_string->empty()) o.inputs.eof_string.reset();
  if (!t.max_chars.empty()) o.max_chars = static_cast<std::size_t>(count(t.max_chars, "-s"));
  if (!t.trim.empty()) {
    const std::string& v = t.trim;
    if (v != "n" && v != "l" && v != "r" && v != "lr" && v != "rl") {
      throw usage_error("--trim must be one of: n l r lr rl");
    }
    o.inputs.trim = v == "n"   ? trim_mode::none
                    : v == "l" ? trim_mode::left
                    : v == "r" ? trim_mode::right
                               : trim_mode::both;
    o.inputs.trim_columns = false;  // --trim decides for --colsep's columns too
  }
  o.inputs.separator = o.null_separated ? '\0' : '\n';
  if (!t.delimiter.empty()) {
    std::string d = parse_delimiter(t.delimiter);
    o.inputs.separator = d.back();
    d.pop_back();
    o.inputs.delimiter_head = std::move(d);  // -d '\r\n': "\r", then '\n'
  }
}

// More of GNU parallel's spellings of the options above, left out of --help.
void add_hidden_spellings(CLI::App& app, run_cli_options& o, value_texts& t) {
  app.add_flag("--line-buffered,--linebuffered", o.line_buffer)->group("");
  app.add_flag("--dr", o.dry_run)->group("");
  app.add_flag("--nok,--no-k", t.no_keep_order)->group("");
  // GNU parallel's citation switches: cohort prints no notice, so they do
  // nothing; --group and --silent ask for what cohort does anyway.
  app.add_flag("--will-cite,--willcite,--no-notice,--nonotice,--gnu,--silent")->group("");
  app.add_flag("--group", t.group)->group("");
}

// GNU parallel (Perl's Getopt::Long): an option of one value given twice
// keeps the last one (`--timeout 1 --timeout 2` is 2), not an error.
// Options that collect values (-a, --env) keep them all.
void take_last_values(CLI::App& app) {
  for (CLI::Option* option : app.get_options()) {
    if (option->get_expected_max() == 1 && option->get_type_size_max() == 1) {
      option->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
    }
  }
}

// The values of the job options (-j, --timeout, --retries, --halt, --load,
// --memfree, --nice, --term-seq, --delay, --retry-delay); throws usage_error.
void read_job_values(run_cli_options& o, const value_texts& t) {
  if (!t.jobs.empty()) o.jobs = parse_jobs(t.jobs);
  if (!t.timeout.empty()) o.timeout = parse_timeout(t.timeout);
  if (!t.retries.empty()) {
    // Beyond INT_MAX attempts is "retry for ever" in practice.
    o.retries = static_cast<int>(
        std::min<std::int64_t>(parse_count(t.retries, "--retries", 0, std::nullopt), INT_MAX));
  }
  if (!t.halt.empty()) o.halt = parse_halt(t.halt);
  if (!t.load.empty()) o.load = parse_load(t.load);
  if (!t.memfree.empty()) o.memfree = parse_gnu_size(t.memfree, "--memfree");
  if (!t.nice.empty()) {
    // Any whole number, as GNU (the kernel's range then bounds it).
    o.nice = static_cast<int>(parse_count(t.nice, "--nice", INT_MIN, INT_MAX));
  }
  if (!t.term_seq.empty()) o.term_seq = parse_term_seq(t.term_seq);
  if (!t.delay.empty()) o.delay = parse_duration(t.delay, "--delay");
  if (!t.retry_delay.empty()) {
    o.retry_delay = parse_duration(t.retry_delay, "--retry-delay");
  }
}

// --joblog, --resume, --resume-failed, --retry-failed and --part together;
// throws usage_error.
void read_log_values(run_cli_options& o, const value_texts& t) {
  if (o.retry_failed && o.resume) {
    throw usage_error("--resume and --retry-failed cannot be combined; pick one");
  }
  if (o.retry_failed && o.joblog.empty()) {
    throw usage_error("--retry-failed needs --joblog FILE (the log of the earlier run)");
  }
  if (o.retry_failed) o.resume_failed = true;
  if (o.resume && o.resume_failed) {
    throw usage_error("--resume and --resume-failed cannot be combined; pick one");
  }
  if ((o.resume || o.resume_failed) && o.joblog.empty()) {
    throw usage_error("--resume needs --joblog FILE (the log of the earlier run)");
  }
  if (!t.part.empty()) {
    o.part = parse_part(t.part, t.parts, process_environment);
    o.joblog = joblog_of_part(o.joblog, *o.part);
  } else if (!t.parts.empty()) {
    throw usage_error("--parts goes with --part auto only");
  }
}

// Reads the values and checks that the options fit together; throws
// usage_error. `words` is what follows the options (the command).
void read_values(run_cli_options& o, value_texts& t, std::vector<std::string> words) {
  o.words = std::move(words);
  read_dash_l(o, t);
  if (t.no_keep_order) o.keep_order = false;  // GNU: wherever it is given
  if (o.joblog.size() > 1 && o.joblog.front() == '+') {
    o.joblog.erase(0, 1);  // GNU parallel: --joblog +FILE appends to FILE
    o.joblog_append = true;
  }
  // prefix_command() hands an unknown option over as the command's first
  // word; GNU parallel refuses it, and so do we (nothing is run).
  if (!o.words.empty() && o.words.front().size() > 1 && o.words.front()[0] == '-' &&
      o.words.front() != "--") {
    // A GNU parallel option we do not have says why, never "unknown option".
    if (auto why = unsupported_option_message(o.words.front())) throw usage_error(*why);
    throw usage_error(unknown_option_message(o.words.front(), "run"));
  }
  if (!o.words.empty() && o.words.front() == "--") o.words.erase(o.words.begin());
  read_job_values(o, t);
  read_input_shaping_values(o, t);
  if (t.tagstring) o.tagstring = unquote_printf(*t.tagstring);
  if (o.ungroup && t.group) throw usage_error("--group cannot be combined with --ungroup");
  if (o.ungroup && o.line_buffer) {
    throw usage_error("--ungroup cannot be combined with --line-buffer");
  }
  read_pipe_values(o, t);
  if (!o.results.empty()) check_results_name(o.results);
  read_log_values(o, t);
}

}  // namespace

parse_result parse_run_cli(int argc, char** argv) {
  run_cli_options o;
  value_texts t;
  CLI::App app(description, "cohort run");
  app.footer(footer);
  app.prefix_command();  // the first non-option word starts the command
  add_job_options(app, t);
  add_input_options(app, o, t);
  add_output_options(app, o, t);
  add_log_options(app, o, t);
  add_input_shaping_options(app, o, t);
  add_fill_options(app, o, t);
  add_replacement_options(app, o);
  add_command_output_options(app, o, t);
  add_pipe_options(app, o, t);
  add_hidden_spellings(app, o, t);
  take_last_values(app);
  set_up_cli(app, "run", "-V,--version");
  const std::optional<int> ended = parse_command_line(app, "run", argc, argv, exit_run_error,
                                                      [&] { read_values(o, t, app.remaining()); });
  if (ended) return {std::nullopt, *ended};
  return {std::move(o), 0};
}

}  // namespace cohort::app::run
