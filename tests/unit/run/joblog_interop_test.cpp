// Interoperability of our joblog with GNU parallel's, both ways: we read
// what GNU parallel writes (and reproduce it byte for byte), and GNU
// parallel's --resume/--resume-failed accept what we write and run exactly
// the jobs we left out. These tests need GNU parallel (scripts/setup installs it).

#include "cohort/run/joblog.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "cohort/run/command_template.hpp"
#include "subprocess.hpp"

namespace {

using namespace std::chrono_literals;
using cohort::app::run::append_joblog_line;
using cohort::app::run::command_template;
using cohort::app::run::joblog_entry;
using cohort::app::run::joblog_header;
using cohort::app::run::joblog_writer;
using cohort::app::run::read_joblog;
using cohort::app::run::resume_filter;
using cohort::app::run::resume_mode;
using cohort::test::run::lines_of;
using cohort::test::run::read_file;
using cohort::test::run::run_process;
using cohort::test::run::scratch_dir;

class GnuParallelInterop : public ::testing::Test {
 protected:
  void SetUp() override {
    auto p = cohort::test::run::find_program("parallel");
    ASSERT_TRUE(p.has_value())
        << "GNU parallel is not installed; run scripts/setup (these tests check our joblog "
           "against it)";
    parallel_ = *p;
  }

  // Runs GNU parallel -j1 -k with extra options, a template and one ::: source.
  cohort::test::run::process_result parallel(const std::vector<std::string>& options,
                                             const std::string& tmpl,
                                             const std::vector<std::string>& inputs) {
    std::vector<std::string> argv{parallel_, "--will-cite", "-j1", "-k"};
    argv.insert(argv.end(), options.begin(), options.end());
    argv.push_back(tmpl);
    argv.emplace_back(":::");
    argv.insert(argv.end(), inputs.begin(), inputs.end());
    return run_process(argv, {}, {"PARALLEL_HOME=" + home_.path().string()});
  }

  std::string parallel_;
  scratch_dir home_;
  scratch_dir dir_;
};

const std::vector<std::string> inputs{"a b", "it's", "ok", "x;y", "fail", "\xc3\xa9", "$(id)", ""};

std::string command_for(const command_template& t, std::size_t seq) {
  return t.expand(std::vector<std::string>{inputs[seq - 1]}, seq, 1);
}

// The Seqs of the records GNU parallel appended to a log that had `before` records.
std::vector<std::uint64_t> appended_seqs(const std::string& path, std::size_t before) {
  auto log = read_joblog(path);
  std::vector<std::uint64_t> seqs;
  for (std::size_t i = before; i < log.records.size(); ++i) seqs.push_back(log.records[i].seq);
  return seqs;
}

TEST_F(GnuParallelInterop, WeParseGnuJoblogAndReproduceEveryLineByteForByte) {
  const std::string tmpl = "test {} != fail";
  auto log_path = dir_.file("gnu.log");
  auto r = parallel({"--joblog", log_path}, tmpl, inputs);
  EXPECT_EQ(r.exit_code, 1) << r.err;  // one job failed

  auto raw = lines_of(read_file(log_path));
  ASSERT_EQ(raw.size(), inputs.size() + 1);
  EXPECT_EQ(raw[0], joblog_header);

  auto log = read_joblog(log_path);
  EXPECT_TRUE(log.has_header);
  ASSERT_EQ(log.records.size(), inputs.size());
  auto t = command_template::compile(tmpl);
  for (const auto& rec : log.records) {
    SCOPED_TRACE("seq " + std::to_string(rec.seq));
    // Our quoting gives GNU's command string exactly (or --resume would refuse it).
    EXPECT_EQ(rec.command, command_for(t, rec.seq));
    EXPECT_EQ(rec.host, ":");
    EXPECT_EQ(rec.exit_value, inputs[rec.seq - 1] == "fail" ? 1 : 0);
    EXPECT_EQ(rec.signal, 0);

    joblog_entry e;
    e.seq = rec.seq;
    e.host = rec.host;
    e.start = std::chrono::system_clock::time_point(
        std::chrono::milliseconds(std::llround(rec.start_time * 1000)));
    e.runtime = std::chrono::milliseconds(std::llround(rec.runtime * 1000));
    e.send = rec.send;
    e.receive = rec.receive;
    e.exit_value = rec.exit_value;
    e.signal = rec.signal;
    e.command = rec.command;
    std::string ours;
    append_joblog_line(ours, e);
    EXPECT_EQ(ours, raw[rec.line - 1] + "\n");
  }
}

TEST_F(GnuParallelInterop, OurResumeDecisionsMatchGnuOnAGnuLog) {
  const std::string tmpl = "test {} != fail";
  auto log_path = dir_.file("gnu.log");
  (void)parallel({"--joblog", log_path}, tmpl, inputs);
  auto log = read_joblog(log_path);
  auto t = command_template::compile(tmpl);

  for (auto mode : {resume_mode::resume, resume_mode::resume_failed}) {
    const bool failed = mode == resume_mode::resume_failed;
    SCOPED_TRACE(failed ? "--resume-failed" : "--resume");
    resume_filter ours(log, mode);
    std::vector<std::uint64_t> we_run;
    for (std::size_t seq = 1; seq <= inputs.size(); ++seq) {
      if (!ours.skip(seq, command_for(t, seq))) we_run.push_back(seq);
    }
    EXPECT_NO_THROW(ours.check_total(inputs.size()));

    auto copy = dir_.file(failed ? "copy-rf.log" : "copy-r.log");
    std::filesystem::copy_file(log_path, copy);
    auto r = parallel({failed ? "--resume-failed" : "--resume", "--joblog", copy}, tmpl, inputs);
    EXPECT_EQ(appended_seqs(copy, log.records.size()), we_run) << r.err;
  }
}

TEST_F(GnuParallelInterop, GnuResumeRunsExactlyTheJobsOurLogLeftOut) {
  const std::string tmpl = "echo {}";
  auto t = command_template::compile(tmpl);
  auto log_path = dir_.file("ours.log");
  {
    joblog_writer log(log_path, joblog_writer::mode::truncate);
    auto write = [&](std::uint64_t seq, int exit_value, int signal) {
      joblog_entry e;
      e.seq = seq;
      e.start = std::chrono::system_clock::now();
      e.runtime = 12ms;
      e.exit_value = exit_value;
      e.signal = signal;
      e.command = command_for(t, seq);
      log.write(e);
    };
    write(1, 0, 0);
    write(3, 0, 0);
    write(4, 1, 0);    // failed
    write(6, 0, 9);    // killed
    write(7, -1, 15);  // timed out
  }
  const std::size_t ours = 5;

  auto resume_copy = dir_.file("resume.log");
  std::filesystem::copy_file(log_path, resume_copy);
  auto r = parallel({"--resume", "--joblog", resume_copy}, tmpl, inputs);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(appended_seqs(resume_copy, ours), (std::vector<std::uint64_t>{2, 5, 8}));
  EXPECT_EQ(r.out, inputs[1] + "\n" + inputs[4] + "\n" + inputs[7] + "\n");

  auto failed_copy = dir_.file("resume-failed.log");
  std::filesystem::copy_file(log_path, failed_copy);
  r = parallel({"--resume-failed", "--joblog", failed_copy}, tmpl, inputs);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(appended_seqs(failed_copy, ours), (std::vector<std::uint64_t>{2, 4, 5, 6, 7, 8}));

  // And our own filter agrees with GNU on our log.
  auto log = read_joblog(log_path);
  resume_filter resume(log, resume_mode::resume);
  resume_filter resume_failed(log, resume_mode::resume_failed);
  std::vector<std::uint64_t> run_r;
  std::vector<std::uint64_t> run_rf;
  for (std::size_t seq = 1; seq <= inputs.size(); ++seq) {
    if (!resume.skip(seq, command_for(t, seq))) run_r.push_back(seq);
    if (!resume_failed.skip(seq, command_for(t, seq))) run_rf.push_back(seq);
  }
  EXPECT_EQ(run_r, (std::vector<std::uint64_t>{2, 5, 8}));
  EXPECT_EQ(run_rf, (std::vector<std::uint64_t>{2, 4, 5, 6, 7, 8}));
}

TEST_F(GnuParallelInterop, WeCanAppendToAGnuLogAndGnuCanResumeFromTheResult) {
  const std::string tmpl = "echo {}";
  auto t = command_template::compile(tmpl);
  auto log_path = dir_.file("mixed.log");
  // GNU runs the first three inputs...
  std::vector<std::string> first3(inputs.begin(), inputs.begin() + 3);
  auto r = parallel({"--joblog", log_path}, tmpl, first3);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // ...we log job 5 as if we had resumed and run it...
  {
    joblog_writer log(log_path, joblog_writer::mode::append);
    joblog_entry e;
    e.seq = 5;
    e.start = std::chrono::system_clock::now();
    e.command = command_for(t, 5);
    log.write(e);
  }
  auto lines = lines_of(read_file(log_path));
  EXPECT_EQ(std::count(lines.begin(), lines.end(), std::string(joblog_header)), 1);
  // ...and GNU resumes the rest.
  r = parallel({"--resume", "--joblog", log_path}, tmpl, inputs);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(appended_seqs(log_path, 4), (std::vector<std::uint64_t>{4, 6, 7, 8}));
  std::set<std::uint64_t> all;
  for (const auto& rec : read_joblog(log_path).records) all.insert(rec.seq);
  EXPECT_EQ(all.size(), inputs.size());
}

}  // namespace
