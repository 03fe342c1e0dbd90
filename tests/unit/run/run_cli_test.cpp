#include "cohort/run/run_cli.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
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

TEST(RunCli, CitationOptionsAreAcceptedAndIgnored) {
  // Scripts written for GNU parallel pass these; cohort prints no notice.
  for (const char* word : {"--will-cite", "--gnu"}) {
    EXPECT_EQ(options_of({word, "echo", "x"}).words, (std::vector<std::string>{"echo", "x"}))
        << word;
  }
}

}  // namespace
