#include "cohort/run/run_cli.hpp"

#include "cohort/run/process_launcher.hpp"

#include <gtest/gtest.h>

#include "cohort/common/option_values.hpp"
#include "cohort/run/gnu_options.hpp"

#include <algorithm>
#include <chrono>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace {

using namespace std::chrono_literals;
using cohort::app::run::jobs_spec;
using cohort::app::run::parse_result;
using cohort::app::run::parse_run_cli;

// parse_run_cli on `cohort run WORDS...`; what it printed is in `out`/`err`.
struct parsed {
  parse_result result;
  std::string out, err;
};

parsed parse(std::vector<std::string> words) {
  words.insert(words.begin(), "run");
  std::vector<char*> argv;
  for (auto& w : words) argv.push_back(w.data());
  argv.push_back(nullptr);
  testing::internal::CaptureStdout();
  testing::internal::CaptureStderr();
  parsed p{parse_run_cli(static_cast<int>(words.size()), argv.data()), {}, {}};
  p.out = testing::internal::GetCapturedStdout();
  p.err = testing::internal::GetCapturedStderr();
  return p;
}

// The options of a command line that must parse.
cohort::app::run::run_cli_options options_of(std::vector<std::string> words) {
  parsed p = parse(words);
  EXPECT_TRUE(p.result.options.has_value()) << p.err;
  return p.result.options.value_or(cohort::app::run::run_cli_options{});
}

TEST(RunCli, GnuParallelsOtherSpellingsOfOurOptions) {
  for (const char* jobs : {"-j", "--jobs", "-P", "--max-procs", "--maxprocs"}) {
    EXPECT_EQ(options_of({jobs, "3", "echo"}).jobs, (jobs_spec{jobs_spec::kind::count, 3, 100}))
        << jobs;
  }
  for (const char* dry : {"--dry-run", "--dryrun", "--dr"}) {
    EXPECT_TRUE(options_of({dry, "echo"}).dry_run) << dry;
  }
  for (const char* lb :
       {"--line-buffer", "--line-buffered", "--linebuffer", "--linebuffered", "--lb"}) {
    EXPECT_TRUE(options_of({lb, "echo"}).line_buffer) << lb;
  }
  for (const char* seq : {"--term-seq", "--termseq"}) {
    const auto o = options_of({seq, "KILL", "echo"});
    ASSERT_EQ(o.term_seq.size(), 1u) << seq;
  }
  for (const char* log : {"--joblog", "--jl"}) {
    EXPECT_EQ(options_of({log, "f.log", "echo"}).joblog, "f.log") << log;
  }
  for (const char* halt : {"--halt", "--halt-on-error", "--haltonerror"}) {
    EXPECT_EQ(options_of({halt, "2", "echo"}).halt.mode, cohort::halt_policy::when::now) << halt;
  }
  for (const char* file : {"-a", "--arg-file", "--argfile"}) {
    EXPECT_EQ(options_of({file, "in.txt", "echo"}).arg_files, std::vector<std::string>{"in.txt"})
        << file;
  }
  for (const char* k : {"-k", "--keep-order", "--keeporder"}) {
    EXPECT_TRUE(options_of({k, "echo"}).keep_order) << k;
  }
  // GNU's --no-keep-order overrides an earlier -k (from a profile, say).
  for (const char* nok : {"--no-keep-order", "--nokeeporder", "--nok", "--no-k"}) {
    EXPECT_FALSE(options_of({"-k", nok, "echo"}).keep_order) << nok;
  }
  EXPECT_TRUE(options_of({"--resumefailed", "--joblog", "f", "echo"}).resume_failed);
  const parsed v = parse({"-V"});
  EXPECT_FALSE(v.result.options.has_value());
  EXPECT_EQ(v.result.exit_code, 0);
  EXPECT_NE(v.out.find("cohort run"), std::string::npos) << v.out;
}

TEST(RunCli, JoblogPlusFileAppendsToFile) {
  const auto plus = options_of({"--joblog", "+jobs.log", "echo"});
  EXPECT_EQ(plus.joblog, "jobs.log");
  EXPECT_TRUE(plus.joblog_append);
  const auto plain = options_of({"--joblog", "jobs.log", "echo"});
  EXPECT_EQ(plain.joblog, "jobs.log");
  EXPECT_FALSE(plain.joblog_append);
}

TEST(RunCli, KeepOrderGoesWithLineBuffer) {
  const auto o = options_of({"-k", "--line-buffer", "echo"});
  EXPECT_TRUE(o.keep_order);
  EXPECT_TRUE(o.line_buffer);
}

TEST(RunCli, DurationsTakeGnusNumberForms) {
  EXPECT_EQ(options_of({"--delay", ".2", "echo"}).delay, 200ms);
  EXPECT_EQ(options_of({"--delay", "2.", "echo"}).delay, 2s);
  EXPECT_EQ(options_of({"--delay", ".5s", "echo"}).delay, 500ms);
}

TEST(RunCli, ReplacementStringOptionsRenameThem) {
  auto o = options_of({"-I", "XX", "--er", "E", "--bnr", "B", "--dnr", "D", "--bner", "BE",
                       "--seqreplace", "S", "--slotreplace", "L", "--plus", "echo"});
  EXPECT_EQ(o.names,
            (cohort::app::run::replacement_names{"XX", "E", "B", "D", "BE", "S", "L", true}));
  EXPECT_EQ(o.words, (std::vector<std::string>{"echo"}));
  // GNU's deprecated -i/--replace: its value is optional (Getopt's "i:s").
  EXPECT_EQ(options_of({"-i", "repl", "echo", "repl"}).names.all, "repl");
  EXPECT_EQ(options_of({"--replace=XX", "echo"}).names.all, "XX");
  auto bare = options_of({"-i", "-k", "echo"});
  EXPECT_EQ(bare.names.all, "{}");
  EXPECT_TRUE(bare.keep_order);
  EXPECT_EQ(options_of({"-IXX", "echo"}).names.all, "XX");
}

TEST(RunCli, OutputOptionsOfGnuParallel) {
  auto o = options_of({"-v", "-t", "-q", "--tagstring", "a\\tb\\101{}", "echo"});
  EXPECT_TRUE(o.print_commands);
  EXPECT_TRUE(o.print_commands_to_stderr);
  EXPECT_TRUE(o.quote_command);
  EXPECT_EQ(o.tagstring, "a\tbA{}");  // GNU's \t and \NNN (octal)
  EXPECT_EQ(options_of({"--tag-string", "", "echo"}).tagstring, "");
  EXPECT_EQ(options_of({"--verbose", "echo"}).print_commands_to_stderr, true);
  EXPECT_TRUE(options_of({"-u", "echo"}).ungroup);
  EXPECT_TRUE(options_of({"--ungroup", "echo"}).ungroup);
  // As GNU: -u with --line-buffer or --group is a mistake.
  EXPECT_EQ(parse({"-u", "--lb", "echo"}).err,
            "cohort run: --ungroup cannot be combined with --line-buffer\n");
  EXPECT_EQ(parse({"--group", "-u", "echo"}).result.exit_code, 255);
}

TEST(RunCli, CitationOptionsAreAcceptedAndIgnored) {
  // Scripts written for GNU parallel pass these; cohort prints no notice.
  for (const char* word : {"--will-cite", "--gnu"}) {
    EXPECT_EQ(options_of({word, "echo", "x"}).words, (std::vector<std::string>{"echo", "x"}))
        << word;
  }
}

// Every option of GNU parallel 20221122's man page (parallel.1, section
// OPTIONS), extracted once with
//   man parallel | col -b | awk '/^OPTIONS/{f=1} /^EXAMPLES/{f=0} f' |
//     grep -oE '^ {7}-{1,2}[A-Za-z0-9_][A-Za-z0-9_-]*' | sort -u
// clang-format off
constexpr std::string_view gnu_options[] = {
    "--_parset", "--arg-file", "--arg-file-sep", "--arg-sep", "--bar", "--basefile",
    "--basenameextensionreplace", "--basenamereplace", "--bf", "--bg", "--bin", "--block",
    "--block-size", "--block-timeout", "--bner", "--bnr", "--bt", "--cat", "--cf", "--cleanup",
    "--color", "--color-failed", "--colsep", "--compress", "--compress-program",
    "--controlmaster", "--csv", "--ctag", "--ctagstring", "--decompress-program", "--delay",
    "--delimiter", "--dirnamereplace", "--dnr", "--dry-run", "--embed", "--env", "--eof", "--er",
    "--eta", "--exit", "--extensionreplace", "--fg", "--fifo", "--files", "--filter",
    "--filter-hosts", "--gnu", "--group", "--group-by", "--halt", "--halt-on-error", "--hashbang",
    "--header", "--help", "--hgrp", "--hostgroups", "--id", "--interactive", "--jl", "--joblog",
    "--jobs", "--keep-order", "--latest-line", "--lb", "--limit", "--line-buffer", "--link",
    "--ll", "--load", "--max-args", "--max-chars", "--max-line-length-allowed", "--max-lines",
    "--max-procs", "--max-replace-args", "--memfree", "--memsuspend", "--minversion", "--nice",
    "--no-keep-order", "--no-run-if-empty", "--nonall", "--noswap", "--null", "--number-of-cores",
    "--number-of-cpus", "--number-of-sockets", "--number-of-threads", "--onall", "--open-tty",
    "--output-as-files", "--outputasfiles", "--parens", "--pipe", "--pipe-part", "--plain",
    "--plus", "--process-slot-var", "--profile", "--progress", "--quote", "--recend",
    "--record-env", "--recstart", "--regexp", "--remove-rec-sep", "--removerecsep", "--replace",
    "--res", "--results", "--resume", "--resume-failed", "--retries", "--retry-failed",
    "--return", "--round", "--round-robin", "--rpl", "--rrs", "--rsync-opts", "--semaphore",
    "--semaphore-name", "--semaphore-timeout", "--seqreplace", "--session", "--shard",
    "--shebang", "--shebang-wrap", "--shell-completion", "--shell-quote", "--show-limits",
    "--shuf", "--silent", "--skip-first-line", "--slf", "--slotreplace", "--spreadstdin", "--sql",
    "--sql-and-worker", "--sql-master", "--sql-worker", "--ssh", "--ssh-delay", "--sshlogin",
    "--sshloginfile", "--st", "--tag", "--tagstring", "--tee", "--template", "--term-seq", "--tf",
    "--timeout", "--tmpdir", "--tmpl", "--tmux", "--tmuxpane", "--total", "--total-jobs",
    "--transfer", "--transferfile", "--trc", "--trim", "--tty", "--ungroup",
    "--use-cores-instead-of-threads", "--use-cpus-instead-of-cores",
    "--use-sockets-instead-of-threads", "--verbose", "--version", "--wait", "--wd", "--workdir",
    "--xapply", "--xargs", "-0", "-C", "-E", "-I", "-J", "-L", "-M", "-N", "-P", "-S", "-V", "-X",
    "-a", "-d", "-e", "-h", "-i", "-j", "-k", "-l", "-m", "-n", "-o", "-p", "-q", "-r", "-s",
    "-t", "-u", "-v", "-x",
};
// clang-format on

// Added by the other half of issue 16's work (input shaping): declared with
// our own options when that lands, so not in the table of refusals.
bool added_with_input_shaping(std::string_view option) {
  for (std::string_view o : {"--colsep", "-C", "-N", "--max-replace-args", "-n", "--max-args", "-X",
                             "-m", "-L", "--max-lines", "-l", "--link", "--xapply", "--header",
                             "-d", "--delimiter", "-E", "--shuf"}) {
    if (o == option) return true;
  }
  return false;
}

TEST(RunCli, NoDocumentedGnuParallelOptionIsAnUnknownOption) {
  int checked = 0;
  for (std::string_view option : gnu_options) {
    if (added_with_input_shaping(option)) continue;
    ++checked;
    // A value after it (for the options that take one), then a command.
    const parsed p = parse({std::string(option), "1", "echo"});
    EXPECT_EQ(p.err.find("unknown option"), std::string::npos) << p.err;
    if (p.err.find(" is not supported: ") != std::string::npos) {
      EXPECT_EQ(p.result.exit_code, 255) << option;
      // One line that names the option.
      EXPECT_EQ(p.err.find(std::string(option)), std::string("cohort run: ").size()) << p.err;
      EXPECT_EQ(p.err.find('\n'), p.err.size() - 1) << p.err;
    }
  }
  EXPECT_EQ(checked, 189);
}

TEST(RunCli, EveryRefusedSpellingIsRefusedWithItsReason) {
  // The table has no spelling CLI11 takes first (a dead row) nor one twice.
  std::set<std::string> seen;
  for (const auto& row : cohort::app::run::unsupported_gnu_options()) {
    std::string_view names = row.names;
    while (!names.empty()) {
      const std::string_view name = names.substr(0, names.find(' '));
      names.remove_prefix(std::min(names.size(), name.size() + 1));
      EXPECT_TRUE(seen.insert(std::string(name)).second) << name;
      const parsed p = parse({std::string(name), "1", "echo"});
      EXPECT_EQ(p.result.exit_code, 255) << name;
      EXPECT_NE(p.err.find(" is not supported: "), std::string::npos) << name << ": " << p.err;
      EXPECT_NE(p.err.find(row.why), std::string::npos) << p.err;
    }
  }
}

TEST(RunCli, InputOptionsRTrimArgSepAndEof) {
  using cohort::app::run::trim_mode;
  for (const char* r : {"-r", "--no-run-if-empty", "--norunifempty"}) {
    EXPECT_TRUE(options_of({r, "echo"}).inputs.skip_blank) << r;
  }
  EXPECT_FALSE(options_of({"echo"}).inputs.skip_blank);
  EXPECT_EQ(options_of({"--trim", "l", "echo"}).inputs.trim, trim_mode::left);
  EXPECT_EQ(options_of({"--trim", "r", "echo"}).inputs.trim, trim_mode::right);
  EXPECT_EQ(options_of({"--trim", "rl", "echo"}).inputs.trim, trim_mode::both);
  // --trim decides for --colsep's columns too (GNU: --colsep alone is --trim lr).
  EXPECT_TRUE(options_of({"--colsep", ",", "echo"}).inputs.trim_columns);
  const auto n = options_of({"--colsep", ",", "--trim", "n", "echo"});
  EXPECT_EQ(n.inputs.trim, trim_mode::none);
  EXPECT_FALSE(n.inputs.trim_columns);
  EXPECT_EQ(parse({"--trim", "x", "echo"}).err, "cohort run: --trim must be one of: n l r lr rl\n");
  const auto seps = options_of({"--arg-sep", ",,", "--argfilesep", "//", "echo"});
  EXPECT_EQ(seps.separators.args, ",,");
  EXPECT_EQ(seps.separators.files, "//");
  EXPECT_EQ(options_of({"echo"}).separators.files, "::::");
  // GNU's deprecated -e/--eof: an optional value; none (or '') is no EOF string.
  EXPECT_EQ(options_of({"-eEND", "echo"}).inputs.eof_string, "END");
  EXPECT_EQ(options_of({"--eof=END", "echo"}).inputs.eof_string, "END");
  EXPECT_EQ(options_of({"-e", "-k", "echo"}).inputs.eof_string, std::nullopt);
  EXPECT_EQ(options_of({"-e", "", "echo"}).inputs.eof_string, std::nullopt);
  EXPECT_EQ(options_of({"-E", "", "echo"}).inputs.eof_string, std::nullopt);
  EXPECT_EQ(options_of({"--tmpdir", "/var/tmp", "--compress", "echo"}).tmpdir, "/var/tmp");
  EXPECT_EQ(options_of({"--tempdir", "t", "echo"}).tmpdir, "t");
}

TEST(RunCli, ADelimiterOfSeveralCharactersIsItsLastCharacterAndWhatComesBefore) {
  const auto crlf = options_of({"-d", "\\r\\n", "echo"});
  EXPECT_EQ(crlf.inputs.separator, '\n');
  EXPECT_EQ(crlf.inputs.delimiter_head, "\r");
  const auto comma = options_of({"-d", ",", "echo"});
  EXPECT_EQ(comma.inputs.separator, ',');
  EXPECT_EQ(comma.inputs.delimiter_head, "");
}

TEST(RunCli, AnOptionGivenTwiceKeepsItsLastValueAsGnu) {
  EXPECT_EQ(options_of({"--timeout", "1", "--timeout", "2", "echo"}).timeout,
            options_of({"--timeout", "2", "echo"}).timeout);
  EXPECT_EQ(options_of({"-j", "1", "-j2", "echo"}).jobs,
            (jobs_spec{jobs_spec::kind::count, 2, 100}));
  EXPECT_EQ(options_of({"-I", "a", "-I", "b", "echo"}).names.all, "b");
  // Options that collect values keep them all.
  EXPECT_EQ(options_of({"-a", "x", "-a", "y", "echo"}).arg_files,
            (std::vector<std::string>{"x", "y"}));
}

TEST(RunCli, RetryFailedIsResumeFailedWithTheLogsCommandsAndNeedsAJoblog) {
  for (const char* opt : {"--retry-failed", "--retryfailed"}) {
    const auto o = options_of({opt, "--joblog", "log"});
    EXPECT_TRUE(o.retry_failed) << opt;
    EXPECT_TRUE(o.resume_failed) << opt;
  }
  EXPECT_EQ(parse({"--retry-failed"}).result.exit_code, 255);
  EXPECT_EQ(parse({"--retry-failed", "--resume", "--joblog", "log"}).result.exit_code, 255);
}

TEST(RunCli, DashLTakesANumberThatFollowsElseItIsDashL1) {
  const auto alone = options_of({"-l", "echo", "{}"});
  EXPECT_EQ(alone.inputs.records_per_job, 1u);
  EXPECT_TRUE(alone.inputs.continue_lines);
  EXPECT_EQ(alone.words, (std::vector<std::string>{"echo", "{}"}));
  const auto two = options_of({"-l", "2", "echo"});
  EXPECT_EQ(two.inputs.records_per_job, 2u);
  EXPECT_EQ(two.words, (std::vector<std::string>{"echo"}));
  EXPECT_EQ(options_of({"-l", "0", "echo"}).inputs.records_per_job, 1u);  // 0 is 1, as GNU
  const auto attached = options_of({"-l2", "echo"});
  EXPECT_EQ(attached.inputs.records_per_job, 2u);
  EXPECT_EQ(attached.words, (std::vector<std::string>{"echo"}));
}

TEST(RunCli, EnvAndProgressAreAcceptedAsGnuParallelsLocalRunTakesThem) {
  const auto env = options_of({"--env", "FOO", "--env", "BAR,BAZ", "echo"});
  EXPECT_EQ(env.env_vars, (std::vector<std::string>{"FOO", "BAR,BAZ"}));
  EXPECT_EQ(env.words, (std::vector<std::string>{"echo"}));
  EXPECT_TRUE(options_of({"--progress", "echo"}).eta);
}

TEST(RunCli, NiceTakesAnyWholeNumberAsGnuDoes) {
  EXPECT_EQ(options_of({"--nice", "17", "echo"}).nice, 17);
  EXPECT_EQ(options_of({"--nice=-3", "echo"}).nice, -3);
  EXPECT_EQ(options_of({"echo"}).nice, std::nullopt);
  EXPECT_EQ(parse({"--nice", "abc", "echo"}).result.exit_code, 255);
}

TEST(RunCli, NiceIsTheJobsNicenessItselfNotAnIncrementAndNeverLowersWithoutPrivilege) {
  using cohort::app::run::nice_increment;
  EXPECT_EQ(nice_increment(17, 0, false), 17);
  EXPECT_EQ(nice_increment(5, 3, false), 2);    // GNU: 5, not 3 + 5
  EXPECT_EQ(nice_increment(50, 0, false), 19);  // clamped, as the kernel does
  EXPECT_EQ(nice_increment(-3, 0, true), -3);
  EXPECT_EQ(nice_increment(-3, 0, false), 0);  // GNU's setpriority fails quietly
  EXPECT_EQ(nice_increment(-30, 5, true), -25);
  EXPECT_EQ(nice_increment(4, 4, false), 0);
}

TEST(RunCli, ResultsTakesANameInEachOfGnusSpellingsAndRefusesTheSingleFileForms) {
  for (const char* opt : {"--results", "--result", "--res"}) {
    EXPECT_EQ(options_of({opt, "out", "echo"}).results, "out") << opt;
  }
  EXPECT_EQ(options_of({"--results=my_{}/", "echo"}).results, "my_{}/");
  const parsed csv = parse({"--results", "out.csv", "echo"});
  EXPECT_EQ(csv.result.exit_code, 255);
  EXPECT_NE(csv.err.find("single-file results"), std::string::npos) << csv.err;
}

TEST(RunCli, RefusalsNameTheOptionAsWrittenAndSayWhatToUse) {
  EXPECT_EQ(parse({"--sshlogin", "server", "echo"}).err,
            "cohort run: --sshlogin is not supported: cohort run runs its jobs on this machine; "
            "to spread them over machines, run one cohort run per machine on its share of the "
            "inputs (a Slurm array or a Kubernetes Indexed Job)\n");
  // Another spelling names the option's first one; a value may be attached.
  EXPECT_EQ(
      parse({"-Sserver", "echo"}).err.rfind("cohort run: -S (--sshlogin) is not supported", 0), 0u);
  EXPECT_EQ(parse({"--compress-program=xz", "echo"})
                .err.rfind("cohort run: --compress-program is not supported", 0),
            0u);
  // GNU's retired options: refused with GNU's advice (GNU refuses them too).
  EXPECT_EQ(parse({"-g", "echo"}).err,
            "cohort run: -g is not supported: GNU parallel retired it (-g: use --group, -B: --bf, "
            "-T: --tty, -U: --er, -W: --wd, -Y: --shebang, -H: --halt)\n");
  // A word that is no GNU option is still unknown.
  EXPECT_NE(parse({"--frobnicate", "echo"}).err.find("unknown option '--frobnicate'"),
            std::string::npos);
}

TEST(RunCli, PerlExpressionsAreRefusedWithWhatToDoInstead) {
  const std::vector<std::string> command{"echo", "{= s/a/b/ =}"};
  try {
    cohort::app::run::refuse_perl_expressions(command);
    FAIL() << "expected usage_error";
  } catch (const cohort::app::usage_error& e) {
    EXPECT_NE(std::string(e.what()).find("{= perl expression =} is not supported"),
              std::string::npos)
        << e.what();
  }
  const std::vector<std::string> plain{"echo", "{}", "a=b", "{=}"};
  EXPECT_NO_THROW(cohort::app::run::refuse_perl_expressions(plain));
}

}  // namespace
