#include "cohort/run/joblog.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "subprocess.hpp"

namespace {

using namespace std::chrono_literals;
using cohort::app::run::append_joblog_line;
using cohort::app::run::input_changed_error;
using cohort::app::run::joblog_contents;
using cohort::app::run::joblog_entry;
using cohort::app::run::joblog_error;
using cohort::app::run::joblog_header;
using cohort::app::run::joblog_writer;
using cohort::app::run::parse_joblog;
using cohort::app::run::read_joblog;
using cohort::app::run::resume_filter;
using cohort::app::run::resume_mode;
using cohort::app::run::retry_commands;
using cohort::test::run::read_file;
using cohort::test::run::scratch_dir;

const std::string header = std::string(joblog_header) + "\n";

joblog_entry entry(std::uint64_t seq, int exit_value, std::string command, int signal = 0) {
  joblog_entry e;
  e.seq = seq;
  e.start = std::chrono::system_clock::time_point(1795320211726ms);
  e.runtime = 33ms;
  e.receive = 2;
  e.exit_value = exit_value;
  e.signal = signal;
  e.command = std::move(command);
  return e;
}

std::string line_of(const joblog_entry& e) {
  std::string s;
  append_joblog_line(s, e);
  return s;
}

// ------------------------------------------------------------ format

TEST(JoblogFormat, HeaderIsGnuParallels) {
  EXPECT_EQ(joblog_header,
            "Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand");
}

TEST(JoblogFormat, LineIsGnuParallelsFormat) {
  // A line GNU parallel wrote: 2\t:\t1795320211.756\t     0.033\t0\t2\t0\t0\techo b
  EXPECT_EQ(line_of(entry(1, 0, "echo a")),
            "1\t:\t1795320211.726\t     0.033\t0\t2\t0\t0\techo a\n");
}

TEST(JoblogFormat, StartIsRoundedAndRuntimeTruncatedToTheMillisecond) {
  auto e = entry(7, 0, "x");
  e.start =
      std::chrono::system_clock::time_point(std::chrono::nanoseconds(1'700'000'000'999'600'000));
  e.runtime = std::chrono::nanoseconds(1'999'999);  // 1.999999 ms -> 0.001
  EXPECT_EQ(line_of(e), "7\t:\t1700000001.000\t     0.001\t0\t2\t0\t0\tx\n");
  e.start =
      std::chrono::system_clock::time_point(std::chrono::nanoseconds(1'700'000'000'000'400'000));
  e.runtime = 0ns;
  EXPECT_EQ(line_of(e), "7\t:\t1700000000.000\t     0.000\t0\t2\t0\t0\tx\n");
}

TEST(JoblogFormat, RuntimeIsRightAlignedInTenColumnsAndMayOverflowThem) {
  auto e = entry(1, 0, "x");
  e.runtime = 123456789ms;  // 123456.789 s: exactly 10 characters
  EXPECT_NE(line_of(e).find("\t123456.789\t"), std::string::npos);
  e.runtime = 1234567000ms;
  EXPECT_NE(line_of(e).find("\t1234567.000\t"), std::string::npos);
  e.runtime = 5s;
  EXPECT_NE(line_of(e).find("\t     5.000\t"), std::string::npos);
}

TEST(JoblogFormat, HugeSeqsRoundTrip) {
  // Found by fuzz-joblog: a Seq above 2^63 used to be written as a negative number.
  auto e = entry(18'446'744'073'709'551'615u, 0, "x");
  auto line = line_of(e);
  EXPECT_EQ(line.rfind("18446744073709551615\t", 0), 0u) << line;
  auto log = parse_joblog(line, "log");
  ASSERT_EQ(log.records.size(), 1u);
  EXPECT_EQ(log.records[0].seq, e.seq);
}

TEST(JoblogFormat, KilledAndTimedOutJobs) {
  // GNU parallel: killed by signal 9 -> Exitval 0, Signal 9; --timeout -> -1, 15.
  EXPECT_NE(line_of(entry(1, 0, "c", 9)).find("\t0\t9\tc\n"), std::string::npos);
  EXPECT_NE(line_of(entry(1, -1, "c", 15)).find("\t-1\t15\tc\n"), std::string::npos);
}

TEST(JoblogFormat, NewlinesInTheCommandBecomeNulBytes) {
  auto line = line_of(entry(1, 0, "printf 'a\nb'"));
  EXPECT_EQ(line.substr(line.rfind('\t') + 1), std::string("printf 'a\0b'\n", 13));
  EXPECT_EQ(std::count(line.begin(), line.end(), '\n'), 1);
}

// ------------------------------------------------------------ writer

TEST(JoblogWriter, NewLogHasHeaderAndOneLinePerJobImmediately) {
  scratch_dir dir;
  auto path = dir.file("log");
  joblog_writer log(path, joblog_writer::mode::truncate);
  EXPECT_EQ(read_file(path), header);
  log.write(entry(1, 0, "echo a"));
  // No buffering: the line is in the file before the writer goes away.
  EXPECT_EQ(read_file(path), header + line_of(entry(1, 0, "echo a")));
  log.write(entry(2, 1, "echo b"));
  EXPECT_EQ(read_file(path),
            header + line_of(entry(1, 0, "echo a")) + line_of(entry(2, 1, "echo b")));
}

TEST(JoblogWriter, TruncateModeReplacesAnOldLog) {
  scratch_dir dir;
  auto path = dir.write("log", "old stuff\n");
  joblog_writer log(path, joblog_writer::mode::truncate);
  EXPECT_EQ(read_file(path), header);
}

TEST(JoblogWriter, AppendModeKeepsTheLogAndWritesNoSecondHeader) {
  scratch_dir dir;
  auto first = line_of(entry(1, 0, "echo a"));
  auto path = dir.write("log", header + first);
  {
    joblog_writer log(path, joblog_writer::mode::append);
    log.write(entry(2, 0, "echo b"));
  }
  EXPECT_EQ(read_file(path), header + first + line_of(entry(2, 0, "echo b")));
}

TEST(JoblogWriter, AppendModeOnAMissingOrEmptyFileWritesTheHeader) {
  scratch_dir dir;
  { joblog_writer log(dir.file("new"), joblog_writer::mode::append); }
  EXPECT_EQ(read_file(dir.file("new")), header);
  auto empty = dir.write("empty", "");
  { joblog_writer log(empty, joblog_writer::mode::append); }
  EXPECT_EQ(read_file(empty), header);
}

TEST(JoblogWriter, AppendLinesModeAddsLinesAndNeverAHeader) {
  // GNU parallel's --joblog +FILE: lines only, even on a new file.
  scratch_dir dir;
  {
    joblog_writer log(dir.file("new"), joblog_writer::mode::append_lines);
    log.write(entry(1, 0, "echo a"));
  }
  EXPECT_EQ(read_file(dir.file("new")), line_of(entry(1, 0, "echo a")));
  {
    joblog_writer log(dir.file("new"), joblog_writer::mode::append_lines);
    log.write(entry(1, 0, "echo b"));
  }
  EXPECT_EQ(read_file(dir.file("new")),
            line_of(entry(1, 0, "echo a")) + line_of(entry(1, 0, "echo b")));
}

TEST(JoblogWriter, AppendModeDropsAnIncompleteLastLine) {
  scratch_dir dir;
  auto first = line_of(entry(1, 0, "echo a"));
  auto path = dir.write("log", header + first + "2\t:\t17953202");
  {
    joblog_writer log(path, joblog_writer::mode::append);
    log.write(entry(2, 0, "echo b"));
  }
  EXPECT_EQ(read_file(path), header + first + line_of(entry(2, 0, "echo b")));
}

TEST(JoblogWriter, AppendModeOnAFileWithNoCompleteLineStartsOver) {
  scratch_dir dir;
  auto path = dir.write("log", "Seq\tHo");
  { joblog_writer log(path, joblog_writer::mode::append); }
  EXPECT_EQ(read_file(path), header);
}

TEST(JoblogWriter, AppendModeFindsTheLastNewlineFarBack) {
  scratch_dir dir;
  auto first = line_of(entry(1, 0, "echo a"));
  std::string partial = "2\t:\t1\t1\t0\t0\t0\t0\techo " + std::string(10'000, 'x');
  auto path = dir.write("log", header + first + partial);
  { joblog_writer log(path, joblog_writer::mode::append); }
  EXPECT_EQ(read_file(path), header + first);
}

TEST(JoblogWriter, UnwritablePathIsAClearError) {
  try {
    joblog_writer log("/nonexistent-dir/log", joblog_writer::mode::truncate);
    FAIL() << "expected joblog_error";
  } catch (const joblog_error& e) {
    EXPECT_STREQ(e.what(), "cannot open joblog '/nonexistent-dir/log': No such file or directory");
  }
}

TEST(JoblogWriter, FullDiskIsAClearError) {
  // /dev/full has size 0, so opening it writes the header, which fails.
  try {
    joblog_writer log("/dev/full", joblog_writer::mode::append);
    FAIL() << "expected joblog_error";
  } catch (const joblog_error& e) {
    EXPECT_STREQ(e.what(), "cannot write to joblog '/dev/full': No space left on device");
  }
}

// ------------------------------------------------------------ reader

TEST(JoblogReader, ParsesWhatTheWriterWrites) {
  auto e = entry(3, -1, "printf 'a\tb\nc'", 15);
  e.send = 5;
  e.receive = 12345;
  e.host = "server1";
  auto log = parse_joblog(header + line_of(e), "log");
  EXPECT_TRUE(log.has_header);
  ASSERT_EQ(log.records.size(), 1u);
  const auto& r = log.records[0];
  EXPECT_EQ(r.seq, 3u);
  EXPECT_EQ(r.host, "server1");
  EXPECT_DOUBLE_EQ(r.start_time, 1795320211.726);
  EXPECT_DOUBLE_EQ(r.runtime, 0.033);
  EXPECT_EQ(r.send, 5);
  EXPECT_EQ(r.receive, 12345);
  EXPECT_EQ(r.exit_value, -1);
  EXPECT_EQ(r.signal, 15);
  EXPECT_EQ(r.command, "printf 'a\tb\nc'");  // tab kept, NUL back to newline
  EXPECT_EQ(r.line, 2u);
  EXPECT_FALSE(log.ignored_incomplete_line.has_value());
}

TEST(JoblogReader, HeaderIsOptionalAndEmptyLinesAreSkipped) {
  auto text = line_of(entry(1, 0, "a")) + "\n" + line_of(entry(2, 0, "b"));
  auto log = parse_joblog(text, "log");
  EXPECT_FALSE(log.has_header);
  ASSERT_EQ(log.records.size(), 2u);
  EXPECT_EQ(log.records[1].line, 3u);
  EXPECT_TRUE(parse_joblog("", "log").records.empty());
  EXPECT_TRUE(parse_joblog(header, "log").records.empty());
}

TEST(JoblogReader, IgnoresAnIncompleteLastLine) {
  auto complete = line_of(entry(1, 0, "echo a"));
  auto cut = line_of(entry(2, 0, "echo b"));
  cut.pop_back();  // no "\n": even a line that parses counts as cut short
  auto log = parse_joblog(header + complete + cut, "log");
  ASSERT_EQ(log.records.size(), 1u);
  EXPECT_EQ(log.ignored_incomplete_line, 3u);
  auto garbage = parse_joblog(header + complete + "2\t:\t17", "log");
  EXPECT_EQ(garbage.records.size(), 1u);
  EXPECT_EQ(garbage.ignored_incomplete_line, 3u);
}

std::string parse_error(const std::string& text) {
  try {
    (void)parse_joblog(text, "jobs.log");
  } catch (const joblog_error& e) {
    return e.what();
  }
  return "no error";
}

TEST(JoblogReader, MalformedLinesAreReportedWithTheirLineNumber) {
  auto good = line_of(entry(1, 0, "a"));
  EXPECT_EQ(parse_error(header + good + "hello world\n"),
            "jobs.log:3: malformed joblog line (expected 9 tab-separated fields (Seq Host "
            "Starttime JobRuntime Send Receive Exitval Signal Command), found 1): 'hello world'");
  EXPECT_EQ(parse_error(header + "x\t:\t1.0\t1.0\t0\t0\t0\t0\tc\n"),
            "jobs.log:2: malformed joblog line (Seq 'x' is not a positive integer): "
            "'x\\t:\\t1.0\\t1.0\\t0\\t0\\t0\\t0\\tc'");
  EXPECT_EQ(parse_error("0\t:\t1.0\t1.0\t0\t0\t0\t0\tc\n"),
            "jobs.log:1: malformed joblog line (Seq '0' is not a positive integer): "
            "'0\\t:\\t1.0\\t1.0\\t0\\t0\\t0\\t0\\tc'");
  EXPECT_NE(parse_error("1\t\t1.0\t1.0\t0\t0\t0\t0\tc\n")
                .find("jobs.log:1: malformed joblog line (Host is empty)"),
            std::string::npos);
  EXPECT_NE(parse_error("1\t:\tnow\t1.0\t0\t0\t0\t0\tc\n")
                .find("(Starttime 'now' is not a number of seconds)"),
            std::string::npos);
  EXPECT_NE(
      parse_error("1\t:\t1.0\t1.0\t0\t0\tok\t0\tc\n").find("(Exitval 'ok' is not an integer)"),
      std::string::npos);
  EXPECT_NE(parse_error("1\t:\t1.0\t1.0\t0\t0\t0\t\tc\n").find("(Signal '' is not an integer)"),
            std::string::npos);
  EXPECT_NE(parse_error("1\t:\t1.0\t1.0\t0\t0\t0\t0\n").find("found 8"), std::string::npos);
  EXPECT_NE(parse_error("1\t:\tinf\t1.0\t0\t0\t0\t0\tc\n").find("Starttime"), std::string::npos);
  // A CRLF header is not the header, and says so at line 1.
  EXPECT_NE(parse_error(std::string(joblog_header) + "\r\n").find("jobs.log:1:"),
            std::string::npos);
}

TEST(JoblogReader, ReadJoblogOfAMissingFileIsEmpty) {
  auto log = read_joblog("/nonexistent-dir/cohort.log");
  EXPECT_FALSE(log.file_exists);
  EXPECT_TRUE(log.records.empty());
}

TEST(JoblogReader, ReadJoblogNamesTheFileInErrors) {
  scratch_dir dir;
  auto path = dir.write("bad.log", header + "junk\n");
  try {
    (void)read_joblog(path);
    FAIL() << "expected joblog_error";
  } catch (const joblog_error& e) {
    EXPECT_EQ(std::string(e.what()).rfind(path + ":2: malformed joblog line", 0), 0u) << e.what();
  }
}

TEST(JoblogReader, RoundTripsThroughAFile) {
  scratch_dir dir;
  auto path = dir.file("log");
  {
    joblog_writer log(path, joblog_writer::mode::truncate);
    for (std::uint64_t s = 1; s <= 100; ++s)
      log.write(entry(s, static_cast<int>(s % 3), "cmd " + std::to_string(s)));
  }
  auto log = read_joblog(path);
  ASSERT_EQ(log.records.size(), 100u);
  for (std::uint64_t s = 1; s <= 100; ++s) {
    EXPECT_EQ(log.records[s - 1].seq, s);
    EXPECT_EQ(log.records[s - 1].exit_value, static_cast<int>(s % 3));
    EXPECT_EQ(log.records[s - 1].command, "cmd " + std::to_string(s));
  }
}

// ------------------------------------------------------------ resume

joblog_contents sample_log() {
  std::string text = header;
  text += line_of(entry(1, 0, "echo a"));
  text += line_of(entry(2, 1, "echo b"));
  text += line_of(entry(3, 0, "echo c", 9));    // killed by a signal
  text += line_of(entry(5, -1, "echo e", 15));  // timed out
  text += line_of(entry(6, 2, "echo f"));       // failed, then...
  text += line_of(entry(6, 0, "echo f"));       // ...succeeded on a --resume-failed run
  return parse_joblog(text, "log");
}

TEST(ResumeFilter, ResumeSkipsEverySeqInTheLog) {
  resume_filter r(sample_log(), resume_mode::resume);
  EXPECT_TRUE(r.skip(1, "echo a"));
  EXPECT_TRUE(r.skip(2, "echo b"));
  EXPECT_TRUE(r.skip(3, "echo c"));
  EXPECT_FALSE(r.skip(4, "echo d"));
  EXPECT_TRUE(r.skip(5, "echo e"));
  EXPECT_TRUE(r.skip(6, "echo f"));
  EXPECT_FALSE(r.skip(7, "echo g"));
  EXPECT_EQ(r.logged_jobs(), 5u);
  EXPECT_EQ(r.skipped_jobs(), 5u);
}

TEST(ResumeFilter, ResumeFailedRerunsNonZeroExitOrSignal) {
  resume_filter r(sample_log(), resume_mode::resume_failed);
  EXPECT_TRUE(r.skip(1, "echo a"));
  EXPECT_FALSE(r.skip(2, "echo b"));
  EXPECT_FALSE(r.skip(3, "echo c"));
  EXPECT_FALSE(r.skip(4, "echo d"));
  EXPECT_FALSE(r.skip(5, "echo e"));
  EXPECT_TRUE(r.skip(6, "echo f"));  // one successful line is enough
  EXPECT_EQ(r.skipped_jobs(), 2u);
}

TEST(ResumeFilter, AChangedCommandIsRefusedWithBothCommands) {
  resume_filter r(sample_log(), resume_mode::resume);
  try {
    (void)r.skip(2, "echo B");
    FAIL() << "expected input_changed_error";
  } catch (const input_changed_error& e) {
    EXPECT_STREQ(e.what(),
                 "the input changed since the joblog was written: Seq 2 was 'echo b', now 'echo "
                 "B'; use a new --joblog or drop --resume");
  }
}

TEST(ResumeFilter, ResumeFailedRunsTheFailedJobsWithAChangedCommandAndWarnsOnce) {
  // GNU parallel's habit: fix the command, then --resume-failed.
  resume_filter r(sample_log(), resume_mode::resume_failed);
  EXPECT_EQ(r.take_change_warning(), std::nullopt);
  EXPECT_TRUE(r.skip(1, "echo A"));   // succeeded: skipped, whatever its command now
  EXPECT_FALSE(r.skip(3, "echo C"));  // failed: runs, with the new command
  EXPECT_EQ(r.take_change_warning(),
            "warning: the command changed since the joblog was written (Seq 1 was 'echo a', "
            "now 'echo A'); the failed jobs run with the new command");
  EXPECT_FALSE(r.skip(2, "echo B\nx"));
  EXPECT_EQ(r.take_change_warning(), std::nullopt);  // said once
}

TEST(ResumeFilter, NoCommandMeansNoComparison) {
  resume_filter r(sample_log(), resume_mode::resume);
  EXPECT_TRUE(r.skip(2, std::nullopt));
  EXPECT_FALSE(r.skip(4, std::nullopt));
}

TEST(ResumeFilter, CheckTotalRefusesALogWithMoreJobsThanTheInput) {
  resume_filter r(sample_log(), resume_mode::resume);
  EXPECT_NO_THROW(r.check_total(6));
  EXPECT_NO_THROW(r.check_total(100));
  try {
    r.check_total(4);
    FAIL() << "expected input_changed_error";
  } catch (const input_changed_error& e) {
    EXPECT_STREQ(e.what(),
                 "the input changed since the joblog was written: the joblog has job 6 but the "
                 "input now gives 4 jobs; use a new --joblog or drop --resume");
  }
}

TEST(ResumeFilter, EmptyLogSkipsNothing) {
  resume_filter r(joblog_contents{}, resume_mode::resume_failed);
  EXPECT_FALSE(r.skip(1, "anything"));
  EXPECT_NO_THROW(r.check_total(0));
}

TEST(Joblog, RetryFailedTakesEachSeqsLastCommandAndAnEmptyOneForASeqNotLogged) {
  // GNU parallel's --retry-failed: the log's commands are the jobs; a Seq
  // with no line below the highest runs as an empty command.
  const auto log = parse_joblog(header +
                                    "4\t:\t1.0\t0.1\t0\t0\t2\t0\texit 2\n"
                                    "1\t:\t1.0\t0.1\t0\t0\t1\t0\texit 1\n"
                                    "2\t:\t1.0\t0.1\t0\t0\t0\t0\ttrue\n"
                                    "4\t:\t1.0\t0.1\t0\t0\t3\t0\texit 3\n",
                                "log");
  EXPECT_EQ(retry_commands(log), (std::vector<std::string>{"exit 1", "true", "", "exit 3"}));
  resume_filter f(log, resume_mode::resume_failed);
  EXPECT_FALSE(f.skip(1, "exit 1"));
  EXPECT_TRUE(f.skip(2, "true"));
  EXPECT_FALSE(f.skip(3, ""));
  EXPECT_FALSE(f.take_change_warning());  // the same commands: nothing to warn of
  EXPECT_TRUE(retry_commands(parse_joblog(header, "log")).empty());
}

TEST(Joblog, DashWritesTheLogToAStreamHeaderFirst) {
  // GNU parallel's --joblog -: the log on standard output.
  std::FILE* f = std::tmpfile();
  {
    joblog_writer log(f);
    log.write(entry(1, 0, "echo a"));
  }
  std::fflush(f);
  std::rewind(f);
  char buf[512] = {};
  const std::size_t n = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  const std::string text(buf, n);
  EXPECT_EQ(text.rfind(header, 0), 0u) << text;
  EXPECT_NE(text.find("\t0\t0\techo a\n"), std::string::npos) << text;
}

}  // namespace
