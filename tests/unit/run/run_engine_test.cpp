#include "cohort/run/run_engine.hpp"

#include <gtest/gtest.h>

#include "cohort/run/run_exit_code.hpp"
#include "cohort/run/run_report.hpp"

#include <fmt/format.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "fake_launcher.hpp"
#include "scratch_dir.hpp"
#include "virtual_loop.hpp"

namespace {

using namespace std::chrono_literals;
using namespace cohort::app::run;
using cohort::app::run::test::fake_launcher;
using cohort::app::run::test::scripted_job;

// A file the engine writes to, read back whole.
struct captured {
  std::FILE* f = std::tmpfile();
  ~captured() { std::fclose(f); }
  std::string text() const {
    std::fflush(f);
    std::string s;
    std::rewind(f);
    char buf[4096];
    std::size_t n = 0;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) s.append(buf, n);
    return s;
  }
};

// A file the engine wrote (--results), or "<missing>".
std::string file_text(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return "<missing>";
  std::string s;
  char buf[4096];
  std::size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) s.append(buf, n);
  std::fclose(f);
  return s;
}

std::vector<std::string> numbered(int n) {
  std::vector<std::string> v;
  for (int i = 1; i <= n; ++i) v.push_back(std::to_string(i));
  return v;
}

// One `cohort run job {} ::: VALUES...` on virtual time with a fake launcher,
// reported as run_main reports it.
struct engine_run {
  run_cli_options options;
  fake_launcher launcher;
  std::size_t slots = 1;
  std::string joblog;  // --joblog, when set
  std::optional<resume_mode> resume;
  std::optional<command_template> tag;      // --tagstring
  std::optional<command_template> workdir;  // --wd
  bool temporary_workdir = false;           // --wd ...
  std::string results;                      // --results, when set
  int nice = 0;                             // run_engine_parts::nice
  bool use_stdout_log = false;              // --joblog -
  machine_limits limits;
  machine_probe* machine = nullptr;
  captured out, err, messages;
  std::function<void(cohort::test::virtual_loop&)> before;  // e.g. a signal at a moment
  std::optional<run_engine> engine;
  bool interrupted = false;

  // Runs the jobs and returns the exit status.
  int run(std::vector<std::string> values) {
    run_engine_parts parts{
        .tmpl = command_template::from_words(std::vector<std::string>{"job", "{}"}),
        .inputs = input_generator({input_source::literals(std::move(values))}),
        .tag = tag,
        .workdir = workdir,
        .temporary_workdir = temporary_workdir,
        .slots = slots,
        .out = out.f,
        .err = err.f};
    run_ending how{.options = &options, .halt_given = options.halt, .messages = messages.f};
    if (options.halt.percent > 0) how.total_jobs = parts.inputs.total_jobs();
    options.halt = halt_for_runner(options.halt, how.total_jobs);
    if (resume) parts.resume.emplace(read_joblog(joblog), *resume);
    parts.nice = nice;
    if (use_stdout_log) parts.log.emplace(out.f);
    parts.limits = limits;
    parts.machine = machine;
    if (!results.empty()) parts.results.emplace(results, std::vector<std::string>{}, 0);
    if (!joblog.empty()) {
      parts.log.emplace(joblog,
                        resume ? joblog_writer::mode::append : joblog_writer::mode::truncate);
    }
    engine.emplace(options, std::move(parts));
    cohort::test::virtual_loop loop;
    if (before) before(loop);
    cohort::event drain;
    try {
      loop.run([&]() -> cohort::task<> { co_await engine->run(launcher, drain); }());
    } catch (const cohort::cancelled_error&) {
      interrupted = true;
      how.signal = SIGINT;
      how.code = 130;
    }
    engine->rethrow_failure();
    return report_run(*engine, how);
  }
  const cohort::run_summary& summary() { return engine->summary(); }
};

scripted_job fails(int code, cohort::duration runtime = 1s) {
  return scripted_job{.code = code, .runtime = runtime};
}

cohort::halt_policy halt(cohort::halt_policy::when w, cohort::halt_policy::on t, std::size_t count,
                         double percent = 0) {
  return cohort::halt_policy{w, t, count, percent};
}

TEST(RunEngine, AllSucceedExitsZero) {
  engine_run r;
  r.slots = 2;
  EXPECT_EQ(r.run({"a", "b", "c"}), 0);
  EXPECT_EQ(r.summary().done, 3u);
  EXPECT_EQ(r.launcher.peak, 2);
  ASSERT_EQ(r.launcher.launched.size(), 3u);
  EXPECT_EQ(r.launcher.launched[0], "1 1 job a");
  EXPECT_EQ(r.launcher.launched[1], "2 2 job b");
  EXPECT_EQ(r.launcher.launched[2], "3 1 job c");  // slot 1 was given back
  const std::vector<std::pair<std::string, std::string>> env_c{{"PARALLEL_SEQ", "3"},
                                                               {"PARALLEL_JOBSLOT", "1"}};
  EXPECT_EQ(r.launcher.env["job c"], env_c);
}

TEST(RunEngine, ResultsSavesEachJobsOutputInItsFilesAndPrintsNone) {
  cohort::test::scratch_dir d;
  engine_run r;
  r.results = d.file("res");
  r.options.keep_order = true;
  r.launcher.script["job a"] = {scripted_job{.out = "A\n", .err = "e\n"}};
  r.launcher.script["job b"] = {scripted_job{.code = 3, .out = "B\n"}};
  EXPECT_EQ(r.run({"a", "b"}), 1);
  EXPECT_EQ(r.out.text(), "");  // GNU parallel prints nothing with --results
  EXPECT_EQ(r.err.text(), "");
  EXPECT_EQ(file_text(r.results + "/1/a/stdout"), "A\n");
  EXPECT_EQ(file_text(r.results + "/1/a/stderr"), "e\n");
  EXPECT_EQ(file_text(r.results + "/1/a/seq"), "1");
  EXPECT_EQ(file_text(r.results + "/1/b/stdout"), "B\n");
  EXPECT_EQ(file_text(r.results + "/1/b/seq"), "2");
}

TEST(RunEngine, AJobsLogLineComesAfterItsOutputAsGnuParallels) {
  // --joblog - puts both on standard output: the line follows the output.
  engine_run s;
  s.launcher.script["job a"] = {scripted_job{.out = "A\n"}};
  s.use_stdout_log = true;
  EXPECT_EQ(s.run({"a"}), 0);
  const std::string out = s.out.text();
  const std::size_t output = out.find("A\n");
  const std::size_t line = out.find("\tjob a\n");
  ASSERT_NE(output, std::string::npos) << out;
  ASSERT_NE(line, std::string::npos) << out;
  EXPECT_LT(output, line) << out;
  EXPECT_EQ(out.rfind("Seq\t", 0), 0u) << out;
}

TEST(RunEngine, NiceReachesEveryLaunch) {
  engine_run r;
  r.nice = 7;
  EXPECT_EQ(r.run({"a", "b"}), 0);
  EXPECT_EQ(r.launcher.nice["job a"], 7);
  EXPECT_EQ(r.launcher.nice["job b"], 7);
}

// A machine whose load follows a script on virtual time.
struct scripted_machine final : machine_probe {
  cohort::test::virtual_loop* loop = nullptr;
  std::vector<std::pair<cohort::duration, double>> load;  // from that moment on
  std::vector<std::pair<cohort::duration, std::uint64_t>> memory;
  machine_state read() override {
    machine_state s{.load = 0.0, .mem_available = std::nullopt};
    const auto since = loop->now() - cohort::test::virtual_loop::epoch();
    for (const auto& [at, value] : load) {
      if (since >= at) s.load = value;
    }
    for (const auto& [at, value] : memory) {
      if (since >= at) s.mem_available = value;
    }
    return s;
  }
};

TEST(RunEngine, LoadHoldsEachJobUntilTheMachineIsBelowIt) {
  engine_run r;
  scripted_machine m;
  // Free, then busy from 0.5 s to 2.2 s: job a starts at once, b when the
  // machine is free again (polled every 500 ms).
  m.load = {{0s, 0.0}, {500ms, 5.0}, {2200ms, 1.0}};
  r.machine = &m;
  r.limits.max_load = 2.0;
  r.before = [&](cohort::test::virtual_loop& loop) { m.loop = &loop; };
  EXPECT_EQ(r.run({"a", "b"}), 0);
  ASSERT_EQ(r.launcher.launched.size(), 2u);
  EXPECT_EQ(r.launcher.start_times.at("job a"), 0s);
  EXPECT_EQ(r.launcher.start_times.at("job b"), 2500ms);
}

TEST(RunEngine, MemfreeKillsTheYoungestJobBelowHalfAndRunsItAgainLater) {
  // GNU parallel: below half of --memfree, the youngest job is killed and
  // put back; it runs again once SIZE is available.
  engine_run r;
  r.slots = 2;
  scripted_machine m;
  m.memory = {{0s, 5000}, {1500ms, 400}, {1900ms, 5000}};
  r.machine = &m;
  r.limits.min_free = 1000;
  cohort::test::scratch_dir d;
  r.joblog = d.file("log");
  r.before = [&](cohort::test::virtual_loop& loop) { m.loop = &loop; };
  r.launcher.script["job a"] = {fails(0, 2s)};
  r.launcher.script["job b"] = {fails(0, 2s)};
  EXPECT_EQ(r.run({"a", "b"}), 0);
  EXPECT_EQ(r.launcher.launched, (std::vector<std::string>{"1 1 job a", "2 2 job b", "2 2 job b"}));
  EXPECT_EQ(r.launcher.start_times.at("job b"), 2s);  // the next poll with memory enough
  EXPECT_NE(r.err.text().find("job 2 was killed"), std::string::npos) << r.err.text();
  EXPECT_EQ(r.summary().done, 2u);
  // The killed launch is not logged: one line a job.
  EXPECT_EQ(read_joblog(r.joblog).records.size(), 2u);
}

TEST(RunEngine, NFailedExitsN) {
  engine_run r;
  r.launcher.script["job b"] = {fails(1)};
  r.launcher.script["job d"] = {fails(7)};
  r.launcher.script["job e"] = {fails(2)};
  EXPECT_EQ(r.run({"a", "b", "c", "d", "e"}), 3);
  EXPECT_EQ(r.summary().done, 2u);
  EXPECT_EQ(r.summary().failed, 3u);
}

TEST(RunEngine, MoreThanAHundredFailedExits101) {
  engine_run r;
  r.slots = 50;
  std::vector<std::string> values = numbered(101);
  for (const auto& v : values) r.launcher.script["job " + v] = {fails(1)};
  EXPECT_EQ(r.run(values), 101);
  EXPECT_EQ(r.summary().failed, 101u);
}

TEST(RunEngine, AJobKilledBySignalFailsAndIsLoggedWithItsSignal) {
  cohort::test::scratch_dir dir;
  engine_run r;
  r.joblog = dir.file("log");
  r.launcher.script["job b"] = {scripted_job{.code = -1, .signal = SIGKILL}};
  EXPECT_EQ(r.run({"a", "b"}), 1);
  const auto log = read_joblog(r.joblog);
  ASSERT_EQ(log.records.size(), 2u);
  EXPECT_EQ(log.records[1].command, "job b");
  // GNU parallel: Exitval 0 and the signal (-1 is for a job it killed itself).
  EXPECT_EQ(log.records[1].exit_value, 0);
  EXPECT_EQ(log.records[1].signal, SIGKILL);
  // It failed: --resume-failed runs it again.
  engine_run again;
  again.joblog = r.joblog;
  again.resume = resume_mode::resume_failed;
  EXPECT_EQ(again.run({"a", "b"}), 0);
  EXPECT_EQ(again.launcher.launched, (std::vector<std::string>{"2 1 job b"}));
}

TEST(RunEngine, HaltNowFailOneExitsWithTheFailingJobsStatus) {
  cohort::test::scratch_dir dir;
  engine_run r;
  r.slots = 2;
  r.joblog = dir.file("log");
  r.options.halt = halt(cohort::halt_policy::when::now, cohort::halt_policy::on::fail, 1);
  r.launcher.script["job a"] = {fails(3, 1s)};
  r.launcher.script["job b"] = {scripted_job{.out = "b started\n", .runtime = 10s}};
  EXPECT_EQ(r.run({"a", "b", "c"}), 3);
  EXPECT_TRUE(r.summary().halted);
  EXPECT_EQ(r.summary().cancelled, 1u);    // b, killed
  EXPECT_EQ(r.summary().not_started, 1u);  // c
  // The failed job is logged; the one killed by the halt is not (--resume
  // runs it again), but what it printed is shown.
  const auto log = read_joblog(r.joblog);
  ASSERT_EQ(log.records.size(), 1u);
  EXPECT_EQ(log.records[0].command, "job a");
  EXPECT_EQ(log.records[0].exit_value, 3);
  EXPECT_EQ(r.out.text(), "b started\n");
  EXPECT_NE(r.messages.text().find("halted (0 done, 1 failed, 1 killed, 1 never started)"),
            std::string::npos);
}

TEST(RunEngine, HaltNowOnAJobKilledBySignalExits128PlusTheSignal) {
  engine_run r;
  r.options.halt = halt(cohort::halt_policy::when::now, cohort::halt_policy::on::fail, 1);
  r.launcher.script["job a"] = {scripted_job{.code = -1, .signal = SIGSEGV}};
  EXPECT_EQ(r.run({"a", "b"}), 128 + SIGSEGV);
}

TEST(RunEngine, HaltSoonLetsRunningJobsFinishAndStartsNoMore) {
  engine_run r;
  r.slots = 2;
  r.options.halt = halt(cohort::halt_policy::when::soon, cohort::halt_policy::on::fail, 2);
  r.launcher.script["job a"] = {fails(5, 1s)};
  r.launcher.script["job b"] = {fails(6, 2s)};
  r.launcher.script["job c"] = {scripted_job{.runtime = 5s}};  // starts at 1 s, finishes
  EXPECT_EQ(r.run({"a", "b", "c", "d", "e"}), 2);              // fail=2: the failed count
  EXPECT_TRUE(r.summary().halted);
  EXPECT_EQ(r.summary().done, 1u);
  EXPECT_EQ(r.summary().cancelled, 0u);
  EXPECT_EQ(r.summary().not_started, 2u);
}

TEST(RunEngine, HaltSoonExitsWithTheStatusAtTheHaltNotCountingLaterFailures) {
  // GNU parallel: the jobs that fail while the running ones finish do not
  // change the exit status decided when the halt came.
  engine_run r;
  r.slots = 3;
  r.options.halt = halt(cohort::halt_policy::when::soon, cohort::halt_policy::on::fail, 1);
  r.launcher.script["job a"] = {fails(5, 1s)};
  r.launcher.script["job b"] = {fails(6, 2s)};
  r.launcher.script["job c"] = {fails(7, 3s)};
  EXPECT_EQ(r.run({"a", "b", "c", "d"}), 5);
  EXPECT_EQ(r.summary().failed, 3u);
  engine_run two;
  two.slots = 4;
  two.options.halt = halt(cohort::halt_policy::when::soon, cohort::halt_policy::on::fail, 2);
  for (const char* v : {"a", "b", "c", "d"})
    two.launcher.script[std::string("job ") + v] = {fails(1)};
  EXPECT_EQ(two.run({"a", "b", "c", "d", "e"}), 2);  // 4 failed, 2 when it halted
  EXPECT_EQ(two.summary().failed, 4u);
}

TEST(RunEngine, HaltOnATimedOutJobExits255AsGnuParallel) {
  engine_run r;
  r.options.halt = halt(cohort::halt_policy::when::now, cohort::halt_policy::on::fail, 1);
  r.options.timeout = timeout_spec{timeout_spec::kind::fixed, std::chrono::seconds(2), 0};
  r.launcher.script["job a"] = {scripted_job{.runtime = 10s}};
  EXPECT_EQ(r.run({"a", "b"}), 255);  // its Exitval is -1
}

TEST(RunEngine, HaltOnAPercentageExitsWithThePercentageThatFailed) {
  engine_run r;
  r.options.halt = halt(cohort::halt_policy::when::soon, cohort::halt_policy::on::fail, 1, 20);
  const auto values = numbered(10);
  r.launcher.script["job 2"] = {fails(1)};
  r.launcher.script["job 4"] = {fails(1)};
  r.launcher.script["job 6"] = {fails(1)};
  // 20 % of 10 jobs: halted at the second failure; 2 of 10 failed.
  EXPECT_EQ(r.run(values), 20);
  EXPECT_TRUE(r.summary().halted);
  EXPECT_EQ(r.summary().failed, 2u);
}

TEST(RunEngine, HaltOnSuccessExitsZeroWhenItHalted) {
  engine_run r;
  r.options.halt = halt(cohort::halt_policy::when::now, cohort::halt_policy::on::success, 1);
  r.launcher.script["job a"] = {fails(4)};
  EXPECT_EQ(r.run({"a", "b", "c"}), 0);
  EXPECT_TRUE(r.summary().halted);
  EXPECT_EQ(r.summary().failed, 1u);
  EXPECT_EQ(r.summary().done, 1u);
}

TEST(RunEngine, HaltOnSuccessThatNeverHaltsExitsWithTheFailedCount) {
  engine_run r;
  r.options.halt = halt(cohort::halt_policy::when::now, cohort::halt_policy::on::success, 1);
  r.launcher.script["job a"] = {fails(4)};
  r.launcher.script["job b"] = {fails(4)};
  EXPECT_EQ(r.run({"a", "b"}), 2);
  EXPECT_FALSE(r.summary().halted);
}

TEST(RunEngine, FixedTimeoutKillsWarnsAndCountsAsFailed) {
  cohort::test::scratch_dir dir;
  engine_run r;
  r.joblog = dir.file("log");
  r.options.timeout = timeout_spec{timeout_spec::kind::fixed, std::chrono::seconds(2), 0};
  r.launcher.script["job b"] = {scripted_job{.runtime = 10s}};
  EXPECT_EQ(r.run({"a", "b", "c"}), 1);
  EXPECT_EQ(r.summary().failed, 1u);
  EXPECT_EQ(r.err.text(), "cohort run: warning: this job was killed because it timed out: job b\n");
  const auto log = read_joblog(r.joblog);
  ASSERT_EQ(log.records.size(), 3u);
  EXPECT_EQ(log.records[1].exit_value, -1);
  EXPECT_EQ(log.records[1].signal, SIGTERM);
  EXPECT_DOUBLE_EQ(log.records[1].runtime, 2.0);
}

TEST(RunEngine, PercentTimeoutIsOfTheMedianRuntimeOfTheJobsThatSucceeded) {
  engine_run r;
  r.options.timeout = timeout_spec{timeout_spec::kind::percent_of_median, {}, 200};
  // Jobs 1-3 take 1 s: the timeout becomes 2 s, too short for job 4.
  r.launcher.script["job 4"] = {scripted_job{.runtime = 3s}};
  r.launcher.script["job 5"] = {scripted_job{.runtime = 1500ms}};
  EXPECT_EQ(r.run(numbered(5)), 1);
  EXPECT_EQ(r.summary().failed, 1u);
  EXPECT_EQ(r.err.text(), "cohort run: warning: this job was killed because it timed out: job 4\n");
}

TEST(RunEngine, NoPercentTimeoutBeforeThreeJobsSucceeded) {
  engine_run r;
  r.options.timeout = timeout_spec{timeout_spec::kind::percent_of_median, {}, 100};
  r.launcher.script["job 3"] = {scripted_job{.runtime = 30s}};
  EXPECT_EQ(r.run(numbered(3)), 0);
}

TEST(RunEngine, RetriesRunAFailingJobAgainAndLogItsLastAttempt) {
  cohort::test::scratch_dir dir;
  engine_run r;
  r.joblog = dir.file("log");
  r.options.retries = 3;
  r.options.retry_delay = std::chrono::seconds(0);
  r.launcher.script["job a"] = {fails(1), fails(2), scripted_job{.out = "third\n"}};
  r.launcher.script["job b"] = {fails(9)};
  EXPECT_EQ(r.run({"a", "b"}), 1);
  EXPECT_EQ(r.launcher.launched.size(), 6u);  // a 3 times, b 3 times
  EXPECT_EQ(r.out.text(), "third\n");         // the earlier attempts' output is not shown
  const auto log = read_joblog(r.joblog);
  ASSERT_EQ(log.records.size(), 2u);
  EXPECT_EQ(log.records[0].exit_value, 0);
  EXPECT_EQ(log.records[1].exit_value, 9);
}

TEST(RunEngine, OutputIsGroupedAsJobsEndOrInInputOrderWithK) {
  for (bool keep_order : {false, true}) {
    engine_run r;
    r.slots = 3;
    r.options.keep_order = keep_order;
    r.launcher.script["job a"] = {scripted_job{.out = "a\n", .err = "a!\n", .runtime = 3s}};
    r.launcher.script["job b"] = {scripted_job{.out = "b\n", .runtime = 1s}};
    r.launcher.script["job c"] = {scripted_job{.out = "c\n", .runtime = 2s}};
    EXPECT_EQ(r.run({"a", "b", "c"}), 0);
    EXPECT_EQ(r.out.text(), keep_order ? "a\nb\nc\n" : "b\nc\na\n") << keep_order;
    EXPECT_EQ(r.err.text(), "a!\n");
  }
}

TEST(RunEngine, TagPutsTheArgumentsBeforeEachLine) {
  engine_run r;
  r.options.tag = true;
  r.launcher.script["job a"] = {scripted_job{.out = "one\ntwo", .err = "e\n"}};
  EXPECT_EQ(r.run({"a"}), 0);
  EXPECT_EQ(r.out.text(), "a\tone\na\ttwo");
  EXPECT_EQ(r.err.text(), "a\te\n");
}

TEST(RunEngine, WorkdirIsExpandedPerJobAndCreatedBeforeItStarts) {
  cohort::test::scratch_dir d;
  engine_run r;
  template_options o;
  o.is_tag = true;
  r.workdir = command_template::from_words(std::vector<std::string>{d.file("w/{}")}, o);
  EXPECT_EQ(r.run({"a", "b c"}), 0);
  EXPECT_EQ(r.launcher.cwd["job a"], d.file("w/a"));
  EXPECT_EQ(r.launcher.cwd["job 'b c'"], d.file("w/b c"));
  EXPECT_TRUE(r.launcher.cwd_existed["job a"]);
  EXPECT_TRUE(std::filesystem::is_directory(d.file("w/b c")));  // GNU leaves it
}

TEST(RunEngine, AWorkdirThatCannotBeEnteredFailsItsJob) {
  cohort::test::scratch_dir d;
  engine_run r;
  template_options o;
  o.is_tag = true;
  r.workdir = command_template::from_words(std::vector<std::string>{d.write("file", "x")}, o);
  EXPECT_EQ(r.run({"a"}), 1);
  EXPECT_TRUE(r.launcher.launched.empty());
  EXPECT_NE(r.err.text().find("--wd: cannot change into '" + d.file("file") + "'"),
            std::string::npos)
      << r.err.text();
}

TEST(RunEngine, TemporaryWorkdirIsNewForEachJobAndRemovedAfterIt) {
  cohort::test::scratch_dir d;
  ::setenv("TMPDIR", d.path().c_str(), 1);
  engine_run r;
  r.temporary_workdir = true;
  EXPECT_EQ(r.run({"a", "b"}), 0);
  ::unsetenv("TMPDIR");
  const std::string a = r.launcher.cwd["job a"];
  EXPECT_EQ(a.rfind(d.path().string() + "/cohort-wd-", 0), 0u) << a;
  EXPECT_NE(a, r.launcher.cwd["job b"]);
  EXPECT_TRUE(r.launcher.cwd_existed["job a"]);
  EXPECT_FALSE(std::filesystem::exists(a));
  EXPECT_TRUE(std::filesystem::is_empty(d.path()));
}

TEST(RunEngine, TagstringIsExpandedPerJobWithItsSeqAndSlotUnquoted) {
  engine_run r;
  r.slots = 2;
  template_options o;
  o.is_tag = true;
  r.tag = command_template::from_words(std::vector<std::string>{"{#}/{%} {}"}, o);
  r.options.tag = true;  // --tagstring wins over --tag
  r.launcher.script["job 'a b'"] = {scripted_job{.out = "one\n", .runtime = 1s}};
  r.launcher.script["job c"] = {scripted_job{.out = "two\n", .runtime = 2s}};
  EXPECT_EQ(r.run({"a b", "c"}), 0);
  EXPECT_EQ(r.out.text(), "1/1 a b\tone\n2/2 c\ttwo\n");
}

TEST(RunEngine, VerbosePrintsTheCommandBeforeItsOutputTaggedToo) {
  engine_run r;
  r.options.print_commands = true;  // -v
  r.options.tag = true;
  r.launcher.script["job a"] = {scripted_job{.out = "one\n"}};
  EXPECT_EQ(r.run({"a", "b"}), 0);
  EXPECT_EQ(r.out.text(), "a\tjob a\na\tone\nb\tjob b\n");
}

TEST(RunEngine, VerboseWithLineBufferPrintsTheCommandAsTheJobStarts) {
  engine_run r;
  r.options.print_commands = true;
  r.options.line_buffer = true;
  r.launcher.script["job a"] = {scripted_job{.out = "a1\n", .runtime = 3s, .out_at_end = "a2\n"}};
  EXPECT_EQ(r.run({"a"}), 0);
  EXPECT_EQ(r.out.text(), "job a\na1\na2\n");
}

TEST(RunEngine, DashTPrintsEachCommandOnStderrAsItStarts) {
  engine_run r;
  r.options.print_commands_to_stderr = true;  // -t/--verbose
  r.launcher.script["job a"] = {scripted_job{.out = "one\n", .err = "e\n"}};
  EXPECT_EQ(r.run({"a"}), 0);
  EXPECT_EQ(r.err.text(), "job a\ne\n");
  EXPECT_EQ(r.out.text(), "one\n");
}

TEST(RunEngine, UngroupPassesOutputStraightThroughWithoutTags) {
  engine_run r;
  r.options.ungroup = true;  // -u
  r.options.tag = true;      // ignored, as GNU
  r.options.print_commands = true;
  r.launcher.script["job a"] = {scripted_job{.out = "one\n", .err = "e\n"}};
  EXPECT_EQ(r.run({"a"}), 0);
  EXPECT_EQ(r.launcher.passed_through, "one\ne\n");
  EXPECT_EQ(r.out.text(), "job a\n");  // -v's command, printed as it started
  EXPECT_EQ(r.err.text(), "");
}

TEST(RunEngine, LineBufferPrintsCompleteLinesAsTheyComeAndTheRestAtTheEnd) {
  engine_run r;
  r.slots = 2;
  r.options.line_buffer = true;
  r.options.tag = true;
  r.launcher.script["job a"] = {scripted_job{.out = "a1\na2", .runtime = 3s}};
  r.launcher.script["job b"] = {scripted_job{.out = "b1\n", .runtime = 1s}};
  EXPECT_EQ(r.run({"a", "b"}), 0);
  // a's complete line at once, before b's; its last line when a ends.
  EXPECT_EQ(r.out.text(), "a\ta1\nb\tb1\na\ta2");
}

TEST(RunEngine, KeepOrderWithLineBufferPrintsTheOldestRunningJobsLinesAsTheyCome) {
  // GNU parallel -k --line-buffer: the lines of the oldest job still
  // running are printed as they come; a later job's wait until it is the
  // oldest, then its held lines come out at once.
  engine_run r;
  r.slots = 3;
  r.options.keep_order = true;
  r.options.line_buffer = true;
  for (auto [v, t] : {std::pair{"a", 3s}, {"b", 1s}, {"c", 5s}}) {
    r.launcher.script[std::string("job ") + v] = {scripted_job{
        .out = fmt::format("start {}\n", v), .runtime = t, .out_at_end = fmt::format("end {}", v)}};
  }
  std::string at_2s, at_4s;
  r.before = [&](cohort::test::virtual_loop& loop) {
    loop.call_after(2s, [&] { at_2s = r.out.text(); });
    loop.call_after(4s, [&] { at_4s = r.out.text(); });
  };
  EXPECT_EQ(r.run({"a", "b", "c"}), 0);
  EXPECT_EQ(at_2s, "start a\n");                              // b ended, but a is older
  EXPECT_EQ(at_4s, "start a\nend astart b\nend bstart c\n");  // c is the oldest now
  EXPECT_EQ(r.out.text(), "start a\nend astart b\nend bstart c\nend c");
}

TEST(RunEngine, ResumeSkipsTheLoggedJobsAndResumeFailedRunsTheFailedAgain) {
  cohort::test::scratch_dir dir;
  const std::string log = dir.file("log");
  {
    engine_run first;
    first.joblog = log;
    first.options.halt = halt(cohort::halt_policy::when::soon, cohort::halt_policy::on::fail, 1);
    first.launcher.script["job b"] = {fails(1)};
    EXPECT_EQ(first.run({"a", "b", "c", "d"}), 1);  // a done, b failed, c d never started
  }
  {
    engine_run resumed;
    resumed.joblog = log;
    resumed.resume = resume_mode::resume;
    resumed.options.keep_order = true;
    resumed.launcher.script["job c"] = {scripted_job{.out = "c\n"}};
    EXPECT_EQ(resumed.run({"a", "b", "c", "d"}), 0);
    EXPECT_EQ(resumed.launcher.launched, (std::vector<std::string>{"3 1 job c", "4 1 job d"}));
    EXPECT_EQ(resumed.engine->resumed_skips(), 2u);
    EXPECT_EQ(resumed.out.text(), "c\n");  // -k does not wait for the skipped jobs
  }
  {
    engine_run failed_again;
    failed_again.joblog = log;
    failed_again.resume = resume_mode::resume_failed;
    EXPECT_EQ(failed_again.run({"a", "b", "c", "d"}), 0);
    EXPECT_EQ(failed_again.launcher.launched, (std::vector<std::string>{"2 1 job b"}));
  }
  EXPECT_EQ(read_joblog(log).records.size(), 5u);  // a, b, then c, d, then b again
}

TEST(RunEngine, ResumeRefusesAChangedInput) {
  cohort::test::scratch_dir dir;
  engine_run first;
  first.joblog = dir.file("log");
  EXPECT_EQ(first.run({"a"}), 0);
  engine_run changed;
  changed.joblog = first.joblog;
  changed.resume = resume_mode::resume;
  EXPECT_THROW(changed.run({"x"}), input_changed_error);
  EXPECT_TRUE(changed.launcher.launched.empty());
}

TEST(RunEngine, ResumeFailedRunsTheFailedJobsWithAChangedCommandAndSaysSo) {
  cohort::test::scratch_dir dir;
  engine_run first;
  first.joblog = dir.file("log");
  first.launcher.script["job b"] = {fails(1)};
  EXPECT_EQ(first.run({"a", "b"}), 1);
  engine_run fixed;
  fixed.joblog = first.joblog;
  fixed.resume = resume_mode::resume_failed;
  fixed.options.resume_failed = true;
  EXPECT_EQ(fixed.run({"A", "B"}), 0);
  EXPECT_EQ(fixed.launcher.launched, (std::vector<std::string>{"2 1 job B"}));
  EXPECT_EQ(fixed.err.text(),
            "cohort run: warning: the command changed since the joblog was written (Seq 1 was "
            "'job a', now 'job A'); the failed jobs run with the new command\n");
}

TEST(RunEngine, CancelMidRunKillsTheRunningJobsLogsNoneOfThemAndCountsTheRest) {
  cohort::test::scratch_dir dir;
  engine_run r;
  r.slots = 2;
  r.joblog = dir.file("log");
  r.launcher.script["job 1"] = {scripted_job{.runtime = 1s}};
  for (const char* v : {"2", "3", "4", "5"}) {
    r.launcher.script[std::string("job ") + v] = {scripted_job{.out = "x\n", .runtime = 10s}};
  }
  r.before = [](cohort::test::virtual_loop& loop) {
    loop.call_after(5s, [&loop] { loop.cancel_root(cohort::cancel_reason::signal); });
  };
  EXPECT_EQ(r.run(numbered(5)), 130);
  EXPECT_TRUE(r.interrupted);
  EXPECT_EQ(r.summary().done, 1u);
  EXPECT_EQ(r.summary().cancelled, 2u);    // 2 and 3
  EXPECT_EQ(r.summary().not_started, 2u);  // 4 and 5
  EXPECT_EQ(r.launcher.running, 0);
  const auto log = read_joblog(r.joblog);
  ASSERT_EQ(log.records.size(), 1u);
  EXPECT_EQ(log.records[0].command, "job 1");
  EXPECT_EQ(r.out.text(), "x\nx\n");  // what the killed jobs printed is shown
  EXPECT_NE(r.messages.text().find("interrupted by SIGINT: 1 done, 0 failed, 2 killed, 2 never "
                                   "started; run it with --joblog FILE"),
            std::string::npos)
      << r.err.text();
}

TEST(RunEngine, DelaySpacesTheStartsOfJobs) {
  engine_run r;
  r.slots = 3;
  r.options.delay = std::chrono::seconds(2);
  // Each job runs 1 s and the next starts 2 s after it: never two at once.
  EXPECT_EQ(r.run({"a", "b", "c"}), 0);
  EXPECT_EQ(r.launcher.peak, 1);
}

}  // namespace
