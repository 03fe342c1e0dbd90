#include "cohort/common/progress_bar.hpp"

#include <cohort/sleep.hpp>
#include <cohort/task_group.hpp>

#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <map>
#include <string>

#include "virtual_loop.hpp"

// The progress bar draws into a memfd (force_tty makes it a "terminal"), on a
// fixed clock, with an injected environment; each test compares the exact
// bytes written.

using namespace std::chrono_literals;

namespace {

using cohort::duration;
using cohort::task;
using cohort::task_group;
using cohort::time_point;
using cohort::app::detect_terminal;
using cohort::app::progress_bar;
using cohort::app::progress_bar_options;
using cohort::app::terminal_columns;

const time_point t0 = cohort::test::virtual_loop::epoch();

// "[####    ]" with `filled` cells of `inner`, ASCII.
std::string ascii_bar(int filled, int inner) {
  return "[" + std::string(filled, '#') + std::string(inner - filled, ' ') + "]";
}

std::string frame(const std::string& line) {
  return "\r" + line + "\x1b[K";
}

const std::string erase = "\r\x1b[2K";

// Columns a line takes on screen: SGR sequences take none, a UTF-8 code point one.
int visible_width(const std::string& s) {
  int n = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\x1b') {
      while (i < s.size() && s[i] != 'm' && s[i] != 'K') ++i;
      continue;
    }
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) ++n;
  }
  return n;
}

std::size_t count(const std::string& haystack, const std::string& needle) {
  std::size_t n = 0;
  for (auto at = haystack.find(needle); at != std::string::npos;
       at = haystack.find(needle, at + needle.size())) {
    ++n;
  }
  return n;
}

class ProgressBar : public ::testing::Test {
 protected:
  ProgressBar() : fd_(::memfd_create("progress_bar_test", 0)) {
    counts_.total = 1000;
    counts_.begin = t0;
  }
  ~ProgressBar() override { ::close(fd_); }

  progress_bar_options options(bool force_tty = true) {
    progress_bar_options o;
    o.fd = fd_;
    o.force_tty = force_tty;
    o.unit = "jobs";
    o.env = [this](const char* name) -> const char* {
      auto it = env_.find(name);
      return it == env_.end() ? nullptr : it->second.c_str();
    };
    return o;
  }

  // Everything written to the memfd so far.
  std::string output() const {
    struct stat st {};
    if (::fstat(fd_, &st) != 0) return "<fstat failed>";
    std::string s(static_cast<std::size_t>(st.st_size), '\0');
    if (::pread(fd_, s.data(), s.size(), 0) != static_cast<ssize_t>(s.size())) return "<short>";
    return s;
  }

  int fd_;
  // A color terminal, ASCII locale, 81 columns (the memfd has no window
  // size, so $COLUMNS is what the bar finds): the lines below were laid out
  // for 80 columns before counts had thousands separators; the one column
  // more keeps each layout as it was with the comma of "1,000".
  std::map<std::string, std::string> env_{
      {"TERM", "xterm-256color"}, {"NO_COLOR", "1"}, {"LANG", "C"}, {"COLUMNS", "81"}};
  cohort::run_progress counts_;
};

// ------------------------------------------------------------ what a frame shows

TEST_F(ProgressBar, KnownTotalShowsBarCountRateEtaAndElapsed) {
  progress_bar bar(counts_, options());
  EXPECT_TRUE(bar.render(t0));
  counts_.done = 450;
  EXPECT_TRUE(bar.render(t0 + 10s));
  // 45/s; 550 left: 12.2 s, shown rounded up. The line stops 3 columns
  // short of the edge (room for an echoed "^C"); the bar gets the 29 columns
  // the text leaves of 77: 45% of 29 is 13 cells.
  EXPECT_EQ(output(),
            frame("  0% " + ascii_bar(0, 35) + " 0/1,000  --/s  ETA --  elapsed 0:00") +
                frame(" 45% " + ascii_bar(13, 29) + " 450/1,000  45.0/s  ETA 0:13  elapsed 0:10"));
  EXPECT_EQ(visible_width(bar.last_line()), 78);  // 81 - 3
}

TEST_F(ProgressBar, UnknownTotalShowsCounterAndRateWithoutBarOrEta) {
  counts_.total.reset();
  progress_bar bar(counts_, options());
  bar.render(t0);
  counts_.done = 450;
  bar.render(t0 + 10s);
  EXPECT_EQ(output(),
            frame("0 jobs  --/s  elapsed 0:00") + frame("450 jobs  45.0/s  elapsed 0:10"));
}

TEST_F(ProgressBar, FailuresSkippedExtrasAndBytesInColor) {
  env_.erase("NO_COLOR");
  env_["COLUMNS"] = "103";
  std::size_t missing = 0;
  std::uint64_t bytes = 0;
  progress_bar bar(counts_, options());
  bar.add_counter("missing", missing);
  bar.track_bytes(bytes);
  bar.render(t0);
  counts_.done = 400;
  counts_.failed = 3;
  counts_.skipped = 50;
  missing = 2;
  bytes = 12'000'000;
  bar.render(t0 + 10s);
  // Finished 453 of 1000 (45%); the rate counts done + failed (40.3/s), not
  // the skipped ones; 547 left at 40.3/s is 13.6 s.
  std::string expected =
      " 45% [\x1b[32m###\x1b[0m     ] 453/1,000  \x1b[31m3 failed\x1b[0m  "
      "50 skipped  2 missing  40.3/s  1.2 MB/s  ETA 0:14  elapsed 0:10";
  EXPECT_EQ(bar.last_line(), expected);
  EXPECT_EQ(visible_width(expected), 100);  // 103 - 3
}

TEST_F(ProgressBar, NoColorRemovesEveryEscapeButTheCursorControl) {
  std::size_t missing = 2;
  progress_bar bar(counts_, options());
  bar.add_counter("missing", missing);
  counts_.done = 400;
  counts_.failed = 3;
  bar.render(t0 + 10s);
  EXPECT_EQ(bar.last_line(), " 40% " + ascii_bar(3, 8) +
                                 " 403/1,000  3 failed  2 missing  40.3/s  ETA 0:15  elapsed 0:10");
  EXPECT_EQ(output(), frame(bar.last_line()));
}

TEST_F(ProgressBar, UnicodeLocaleDrawsBlocksWithEighths) {
  env_["LANG"] = "en_US.UTF-8";
  progress_bar bar(counts_, options());
  bar.render(t0);
  counts_.done = 460;
  bar.render(t0 + 10s);
  // 46% of 29 cells is 13.34: 13 full blocks and a 2/8 block.
  std::string blocks;
  for (int i = 0; i < 13; ++i) blocks += "█";
  EXPECT_EQ(bar.last_line(), " 46% [" + blocks + "▎" + std::string(15, ' ') +
                                 "] 460/1,000  46.0/s  ETA 0:12  elapsed 0:10");
  EXPECT_EQ(visible_width(bar.last_line()), 78);
}

TEST_F(ProgressBar, TheBarIsFullOnlyWhenEverythingFinished) {
  auto bar_of = [](const std::string& line) {
    auto open = line.find('[');
    return line.substr(open + 1, line.find(']') - open - 1);
  };
  counts_.done = 999;
  progress_bar bar(counts_, options());
  bar.render(t0 + 10s);
  EXPECT_EQ(bar.last_line().substr(0, 5), " 99% ");
  EXPECT_EQ(bar_of(bar.last_line()), std::string(28, '#') + " ") << "99.9% of 29 cells";
  EXPECT_NE(bar.last_line().find("ETA 0:01"), std::string::npos) << bar.last_line();
  counts_.done = 1000;
  bar.force_render(t0 + 11s);
  EXPECT_EQ(bar.last_line().substr(0, 5), "100% ");
  std::string full = bar_of(bar.last_line());
  EXPECT_EQ(full, std::string(full.size(), '#'));
  EXPECT_NE(bar.last_line().find("ETA 0:00"), std::string::npos) << bar.last_line();
}

// ------------------------------------------------------------ width

TEST_F(ProgressBar, TwentyColumnsKeepsPercentageAndCountOnly) {
  env_["COLUMNS"] = "20";
  progress_bar bar(counts_, options());
  counts_.done = 450;
  counts_.failed = 3;
  bar.render(t0 + 10s);
  EXPECT_EQ(output(), frame(" 45% 453/1,000"));
}

TEST_F(ProgressBar, NeverWiderThanTheTerminalMinusThree) {
  env_.erase("NO_COLOR");
  env_["LANG"] = "C.UTF-8";
  std::size_t missing = 123456;
  std::uint64_t bytes = 987'654'321'000;
  counts_.total = 123'456'789;
  counts_.done = 12'345'678;
  counts_.failed = 4321;
  counts_.skipped = 99'999;
  for (int columns = 1; columns <= 160; ++columns) {
    auto o = options();
    o.columns = columns;
    progress_bar bar(counts_, o);
    bar.add_counter("missing", missing);
    bar.track_bytes(bytes);
    bar.render(t0 + 3h);
    EXPECT_LE(visible_width(bar.last_line()), std::max(columns - 3, 0))
        << columns << ": " << bar.last_line();
    if (columns >= 7) {
      EXPECT_EQ(bar.last_line().substr(0, 4), " 10%") << columns;
    }
    if (columns >= 160) {
      EXPECT_NE(bar.last_line().find("elapsed 3:00:00"), std::string::npos) << bar.last_line();
    }
    bar.finish("");
  }
}

TEST_F(ProgressBar, WidthComesFromTheTerminalBeforeColumns) {
  int master = ::posix_openpt(O_RDWR | O_NOCTTY);
  ASSERT_GE(master, 0);
  ASSERT_EQ(::grantpt(master), 0);
  ASSERT_EQ(::unlockpt(master), 0);
  int slave = ::open(::ptsname(master), O_RDWR | O_NOCTTY);
  ASSERT_GE(slave, 0);
  winsize ws{};
  ws.ws_col = 33;
  ws.ws_row = 10;
  ASSERT_EQ(::ioctl(slave, TIOCSWINSZ, &ws), 0);
  env_["COLUMNS"] = "132";
  auto o = options(false);
  EXPECT_EQ(terminal_columns(slave, o.env), 33);
  EXPECT_TRUE(detect_terminal(slave, false, o.env).tty);
  ::close(slave);
  ::close(master);
}

// ------------------------------------------------------------ rate and ETA

TEST_F(ProgressBar, RateIsUnknownUntilTimePasses) {
  progress_bar bar(counts_, options());
  EXPECT_FALSE(bar.rate());
  bar.render(t0);
  EXPECT_FALSE(bar.rate());
  EXPECT_FALSE(bar.eta());
  bar.render(t0 + 5s);
  ASSERT_TRUE(bar.rate());
  EXPECT_EQ(*bar.rate(), 0.0);
  EXPECT_FALSE(bar.eta()) << "no ETA at a rate of zero";
}

TEST_F(ProgressBar, ConstantRateIsExactHoweverOftenItIsSampled) {
  progress_bar bar(counts_, options());
  duration t{};
  for (auto dt : {100ms, 300ms, 1700ms, 200ms, 4000ms, 500ms, 2500ms}) {
    t += dt;
    counts_.done = static_cast<std::size_t>(t / 100ms);  // 10/s
    bar.render(t0 + t);
    ASSERT_TRUE(bar.rate());
    EXPECT_NEAR(*bar.rate(), 10.0, 1e-9) << "at " << t.count() << " ns";
  }
}

TEST_F(ProgressBar, RateFollowsTheLastSecondsNotTheWholeRun) {
  // 10/s for 10 s, then nothing for 3 s, sampled every 100 ms with a 3 s
  // time constant. The moving average, corrected for its start, is
  // 10 (1 - e^-10/3) e^-1 / (1 - e^-13/3) = 3.59/s, where the whole-run
  // average would be 100 / 13 = 7.7/s.
  progress_bar bar(counts_, options());
  bar.render(t0);
  for (int tick = 1; tick <= 130; ++tick) {
    counts_.done = static_cast<std::size_t>(std::min(tick, 100));
    bar.render(t0 + tick * 100ms);
  }
  double expected = 10 * (1 - std::exp(-10.0 / 3)) * std::exp(-1.0) / (1 - std::exp(-13.0 / 3));
  ASSERT_TRUE(bar.rate());
  EXPECT_NEAR(*bar.rate(), expected, 1e-9);
  EXPECT_NEAR(expected, 3.594, 0.001);
  // ETA: 900 left at 3.594/s.
  ASSERT_TRUE(bar.eta());
  EXPECT_NEAR(std::chrono::duration<double>(*bar.eta()).count(), 900 / expected, 1e-6);
}

TEST_F(ProgressBar, EtaIsRemainingOverSmoothedRateAndCountsSkippedAsFinished) {
  progress_bar bar(counts_, options());
  counts_.skipped = 200;  // a resumed run: skipped at once, not part of the rate
  bar.render(t0);
  counts_.done = 190;
  counts_.failed = 10;
  bar.render(t0 + 10s);
  ASSERT_TRUE(bar.rate());
  EXPECT_DOUBLE_EQ(*bar.rate(), 20.0);
  ASSERT_TRUE(bar.eta());  // 1000 - 400 = 600 left at 20/s
  EXPECT_NEAR(std::chrono::duration<double>(*bar.eta()).count(), 30.0, 1e-6);
  EXPECT_NE(bar.last_line().find("ETA 0:30"), std::string::npos) << bar.last_line();
}

TEST_F(ProgressBar, WorkSkippedBeforeTheRunnerCountsInsideTheTotalLikeTheRunners) {
  // cohort tiles: 600 of 1000 tiles already stored never reach the runner,
  // whose total is the 400 left. They count as cohort run's resumed jobs do.
  counts_.total = 400;
  std::size_t already = 600;
  progress_bar bar(counts_, options());
  bar.count_skipped(already);
  bar.render(t0);
  counts_.done = 190;
  counts_.failed = 10;
  bar.render(t0 + 10s);
  EXPECT_EQ(bar.last_line().substr(0, 4), " 80%") << bar.last_line();
  EXPECT_NE(bar.last_line().find(" 800/1,000  10 failed  600 skipped  20.0/s  ETA 0:10"),
            std::string::npos)
      << bar.last_line();
  ASSERT_TRUE(bar.rate());
  EXPECT_DOUBLE_EQ(*bar.rate(), 20.0);  // the skipped ones are not part of the rate
  counts_.done = 390;
  EXPECT_EQ(bar.summary(t0 + 20s),
            "1,000/1,000 jobs: 390 done, 10 failed, 600 skipped in 0:20 (20.0/s)");
}

TEST_F(ProgressBar, ElapsedRunsFromTheRunnersBeginOnceSet) {
  counts_.begin = time_point{};  // the runner has not started yet
  progress_bar bar(counts_, options());
  bar.render(t0);
  counts_.begin = t0 + 2s;
  counts_.done = 30;
  bar.render(t0 + 5s);
  EXPECT_NE(bar.last_line().find("elapsed 0:03"), std::string::npos) << bar.last_line();
}

// ------------------------------------------------------------ throttling

TEST_F(ProgressBar, TwoRendersWithin100msDrawOneFrame) {
  progress_bar bar(counts_, options());
  EXPECT_TRUE(bar.render(t0));
  counts_.done = 1;
  EXPECT_FALSE(bar.render(t0 + 50ms));
  counts_.done = 2;
  EXPECT_FALSE(bar.render(t0 + 99ms));
  EXPECT_EQ(count(output(), "\r"), 1u);
  counts_.done = 3;
  EXPECT_TRUE(bar.render(t0 + 100ms));
  EXPECT_EQ(count(output(), "\r"), 2u);
  EXPECT_NE(bar.last_line().find(" 3/1,000 "), std::string::npos) << bar.last_line();
}

TEST_F(ProgressBar, AnUnchangedLineIsNotWrittenAgain) {
  progress_bar bar(counts_, options());
  EXPECT_TRUE(bar.render(t0 + 1s));
  EXPECT_FALSE(bar.render(t0 + 1200ms));
  EXPECT_EQ(count(output(), "\r"), 1u);
  bar.clear();
  EXPECT_EQ(count(output(), "\r"), 2u);
  EXPECT_TRUE(bar.render(t0 + 1400ms)) << "after clear, the same line is drawn again";
}

TEST_F(ProgressBar, ForceRenderDrawsAtOnce) {
  progress_bar bar(counts_, options());
  bar.render(t0);
  counts_.done = 7;
  bar.force_render(t0 + 1ms);
  EXPECT_EQ(count(output(), "\x1b[K"), 2u);
}

// ------------------------------------------------------------ closing cleanly

TEST_F(ProgressBar, FinishErasesTheLineAndWritesTheSummaryThenNothingMore) {
  progress_bar bar(counts_, options());
  counts_.done = 450;
  bar.render(t0 + 10s);
  std::string drawn = output();
  bar.finish("450 jobs finished");
  EXPECT_EQ(output(), drawn + "\r\x1b[2K450 jobs finished\n");
  counts_.done = 500;
  EXPECT_FALSE(bar.render(t0 + 20s));
  bar.force_render(t0 + 21s);
  bar.clear();
  bar.finish("again");
  EXPECT_EQ(output(), drawn + "\r\x1b[2K450 jobs finished\n");
}

TEST_F(ProgressBar, DestructorClosesTheLineWithTheLastSamplesSummary) {
  std::string drawn;
  {
    progress_bar bar(counts_, options());
    counts_.done = 450;
    bar.render(t0 + 10s);
    drawn = output();
    counts_.done = 451;  // not sampled: the destructor reads no counter
  }
  EXPECT_EQ(output(), drawn + erase + "450/1,000 jobs: 450 done in 0:10 (45.0/s)\n");
}

TEST_F(ProgressBar, DestructorOfAnUnusedBarWritesNothing) {
  { progress_bar bar(counts_, options()); }
  EXPECT_EQ(output(), "");
}

TEST_F(ProgressBar, NotATerminalWritesOnlyTheSummary) {
  progress_bar bar(counts_, options(/*force_tty=*/false));
  EXPECT_FALSE(bar.caps().tty);
  for (int i = 0; i <= 120; ++i) {
    counts_.done = static_cast<std::size_t>(i) * 8;
    bar.render(t0 + i * 100ms);
  }
  bar.force_render(t0 + 12s);
  bar.clear();
  EXPECT_EQ(output(), "");
  counts_.done = 985;
  counts_.failed = 3;
  counts_.skipped = 12;
  bar.finish(bar.summary(t0 + 12s));
  // 988 finished in 12 s: the summary gives the run's average, 82.3/s.
  EXPECT_EQ(output(), "1,000/1,000 jobs: 985 done, 3 failed, 12 skipped in 0:12 (82.3/s)\n");
}

TEST_F(ProgressBar, SummaryListsNonZeroCountsAndByteRate) {
  counts_.total.reset();
  std::size_t missing = 2;
  std::size_t retries = 0;
  std::uint64_t bytes = 12'000'000;
  progress_bar bar(counts_, options(false));
  bar.add_counter("missing", missing);
  bar.add_counter("retries", retries);
  bar.track_bytes(bytes);
  counts_.done = 440;
  counts_.failed = 10;
  counts_.cancelled = 5;
  EXPECT_EQ(bar.summary(t0 + 10s),
            "450 jobs: 440 done, 10 failed, 2 missing, 5 cancelled in 0:10 (45.0/s, 1.2 MB/s)");
}

TEST_F(ProgressBar, PrintAboveKeepsTheBar) {
  progress_bar bar(counts_, options());
  counts_.done = 450;
  bar.render(t0 + 10s);
  std::string drawn = output();
  bar.print_above("job 7 failed: exit 2");
  EXPECT_EQ(output(), drawn + erase + "job 7 failed: exit 2\n" + frame(bar.last_line()));
}

TEST_F(ProgressBar, PrintAboveWithoutABarIsAPlainLine) {
  progress_bar bar(counts_, options(false));
  bar.render(t0);
  bar.print_above("job 7 failed: exit 2");
  EXPECT_EQ(output(), "job 7 failed: exit 2\n");
}

TEST_F(ProgressBar, DumbTerminalWritesPlainLinesEveryFiveSeconds) {
  env_["TERM"] = "dumb";
  env_.erase("NO_COLOR");
  progress_bar bar(counts_, options());
  EXPECT_FALSE(bar.render(t0));
  counts_.done = 100;
  EXPECT_FALSE(bar.render(t0 + 1s));
  counts_.done = 450;
  EXPECT_TRUE(bar.render(t0 + 5s));
  counts_.done = 500;
  EXPECT_FALSE(bar.render(t0 + 9s));
  counts_.done = 900;
  EXPECT_TRUE(bar.render(t0 + 10s));
  bar.clear();
  bar.finish("done");
  std::string out = output();
  EXPECT_EQ(out.find('\r'), std::string::npos) << out;
  EXPECT_EQ(out.find('\x1b'), std::string::npos) << out;
  EXPECT_EQ(count(out, "\n"), 3u) << out;
  EXPECT_EQ(out.substr(0, 5), " 45% ");
  EXPECT_EQ(out.substr(out.size() - 5), "done\n");
}

// ------------------------------------------------------------ drive

TEST_F(ProgressBar, DriveRedrawsEvery100msAndErasesTheBarWhenCancelled) {
  cohort::test::virtual_loop loop;
  progress_bar bar(counts_, options());
  loop.run([&]() -> task<> {
    co_await cohort::with_task_group([&](task_group& g) -> task<> {
      g.spawn(bar.drive());
      for (int i = 0; i < 21; ++i) {  // until 1050 ms
        co_await cohort::sleep_for(50ms);
        ++counts_.done;
      }
      g.cancel();
    });
  }());
  std::string out = output();
  // Frames at 0, 100, ..., 1000 ms, each with a new count; then the guard.
  EXPECT_EQ(count(out, "\x1b[K"), 11u) << out;
  ASSERT_GE(out.size(), erase.size());
  EXPECT_EQ(out.substr(out.size() - erase.size()), erase);
  bar.finish(bar.summary(loop.now()));
  EXPECT_EQ(output(), out + "21/1,000 jobs: 21 done in 0:01 (20.0/s)\n");
}

// ------------------------------------------------------------ detection

TEST(DetectTerminal, TtyOnlyForATerminalOrWhenForced) {
  int fd = ::memfd_create("not_a_tty", 0);
  auto none = [](const char*) -> const char* { return nullptr; };
  EXPECT_FALSE(detect_terminal(fd, false, none).tty);
  EXPECT_TRUE(detect_terminal(fd, true, none).tty);
  ::close(fd);
}

// A batch job's log: plain status lines, though it is no terminal.
TEST(DetectTerminal, CohortProgressLinesWritesPlainLinesToAFile) {
  int fd = ::memfd_create("a_log", 0);
  auto lines = [](const char* name) -> const char* {
    return std::string_view(name) == "COHORT_PROGRESS" ? "lines" : nullptr;
  };
  const auto caps = detect_terminal(fd, false, lines);
  EXPECT_TRUE(caps.tty);
  EXPECT_FALSE(caps.cursor);
  EXPECT_FALSE(caps.color);
  ::close(fd);
}

TEST(DetectTerminal, NoColorMeansAnyNonEmptyValue) {
  std::map<std::string, std::string> env;
  auto lookup = [&](const char* name) -> const char* {
    auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  };
  EXPECT_TRUE(detect_terminal(2, true, lookup).color);
  env["NO_COLOR"] = "";
  EXPECT_TRUE(detect_terminal(2, true, lookup).color);
  env["NO_COLOR"] = "1";
  EXPECT_FALSE(detect_terminal(2, true, lookup).color);
  env["NO_COLOR"] = "false";
  EXPECT_FALSE(detect_terminal(2, true, lookup).color);
}

TEST(DetectTerminal, DumbTerminalHasNoCursorControlAndNoColor) {
  std::map<std::string, std::string> env{{"TERM", "dumb"}};
  auto lookup = [&](const char* name) -> const char* {
    auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  };
  auto caps = detect_terminal(2, true, lookup);
  EXPECT_FALSE(caps.cursor);
  EXPECT_FALSE(caps.color);
  env["TERM"] = "xterm";
  caps = detect_terminal(2, true, lookup);
  EXPECT_TRUE(caps.cursor);
  EXPECT_TRUE(caps.color);
}

TEST(DetectTerminal, UnicodeFromTheFirstSetLocaleVariable) {
  std::map<std::string, std::string> env;
  auto lookup = [&](const char* name) -> const char* {
    auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  };
  EXPECT_FALSE(detect_terminal(2, true, lookup).unicode);
  env["LANG"] = "de_DE.UTF-8";
  EXPECT_TRUE(detect_terminal(2, true, lookup).unicode);
  env["LC_ALL"] = "C";
  EXPECT_FALSE(detect_terminal(2, true, lookup).unicode) << "LC_ALL overrides LANG";
  env["LC_ALL"] = "";
  env["LC_CTYPE"] = "C.utf8";
  env["LANG"] = "C";
  EXPECT_TRUE(detect_terminal(2, true, lookup).unicode) << "LC_CTYPE overrides LANG";
}

TEST(TerminalColumns, FallsBackToColumnsThen80) {
  int fd = ::memfd_create("not_a_tty", 0);
  std::map<std::string, std::string> env;
  auto lookup = [&](const char* name) -> const char* {
    auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  };
  EXPECT_EQ(terminal_columns(fd, lookup), 80);
  env["COLUMNS"] = "132";
  EXPECT_EQ(terminal_columns(fd, lookup), 132);
  for (const char* bad : {"0", "-5", "abc", "12x", ""}) {
    env["COLUMNS"] = bad;
    EXPECT_EQ(terminal_columns(fd, lookup), 80) << bad;
  }
  ::close(fd);
}

}  // namespace
