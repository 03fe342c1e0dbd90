#include "cohort/run/inputs.hpp"

#include <cohort/cancel_scope.hpp>
#include <cohort/runtime/asio_loop.hpp>
#include <cohort/runtime/use_op.hpp>
#include <cohort/sync_wait.hpp>
#include <cohort/task_group.hpp>

#include <boost/asio/post.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "subprocess.hpp"

namespace {

using cohort::app::run::command_and_sources;
using cohort::app::run::input_error;
using cohort::app::run::input_generator;
using cohort::app::run::input_options;
using cohort::app::run::input_source;
using cohort::app::run::job_input;
using cohort::app::run::split_command_line;
using cohort::test::run::scratch_dir;

using rows = std::vector<std::vector<std::string>>;

rows all_jobs(input_generator& gen) {
  rows out;
  job_input job;
  while (gen.next(job)) {
    EXPECT_EQ(job.seq, out.size() + 1);
    out.push_back(job.args);
  }
  return out;
}

rows all_jobs(std::vector<input_source> sources, input_options options = {}) {
  input_generator gen(std::move(sources), options);
  return all_jobs(gen);
}

// A pipe whose read end the generator reads as "standard input".
struct pipe_fds {
  int read = -1;
  int write = -1;
  pipe_fds() {
    int fds[2];
    if (::pipe(fds) != 0) throw std::runtime_error("pipe");
    read = fds[0];
    write = fds[1];
  }
  void put(std::string_view s) const {
    ASSERT_EQ(::write(write, s.data(), s.size()), static_cast<ssize_t>(s.size()));
  }
  void close_write() {
    ::close(write);
    write = -1;
  }
  ~pipe_fds() {
    if (read >= 0) ::close(read);
    if (write >= 0) ::close(write);
  }
};

// ------------------------------------------------------------ split_command_line

TEST(SplitCommandLine, SeparatesCommandFromLiteralSources) {
  std::vector<std::string> words{"echo", "{}", ":::", "a", "b", ":::", "1"};
  auto s = split_command_line(words);
  EXPECT_EQ(s.command, (std::vector<std::string>{"echo", "{}"}));
  ASSERT_EQ(s.sources.size(), 2u);
  EXPECT_EQ(s.sources[0].what, input_source::kind::literals);
  EXPECT_EQ(s.sources[0].values, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(s.sources[1].values, (std::vector<std::string>{"1"}));
}

TEST(SplitCommandLine, EveryFileAfterFourColonsIsOneSource) {
  std::vector<std::string> words{"wc", "::::", "f1", "-", ":::", "x"};
  auto s = split_command_line(words);
  EXPECT_EQ(s.command, (std::vector<std::string>{"wc"}));
  ASSERT_EQ(s.sources.size(), 3u);
  EXPECT_EQ(s.sources[0].what, input_source::kind::file);
  EXPECT_EQ(s.sources[0].path, "f1");
  EXPECT_EQ(s.sources[1].path, "-");
  EXPECT_EQ(s.sources[2].values, (std::vector<std::string>{"x"}));
}

TEST(SplitCommandLine, ArgFilesComeFirstAndEmptySeparatorsAddNothing) {
  std::vector<std::string> words{"echo", ":::", "a", ":::", "::::"};
  std::vector<std::string> arg_files{"list"};
  auto s = split_command_line(words, arg_files);
  ASSERT_EQ(s.sources.size(), 2u);
  EXPECT_EQ(s.sources[0].path, "list");
  EXPECT_EQ(s.sources[1].values, (std::vector<std::string>{"a"}));
}

TEST(SplitCommandLine, NoCommandAndNoSources) {
  std::vector<std::string> only_sources{":::", "echo a"};
  auto s = split_command_line(only_sources);
  EXPECT_TRUE(s.command.empty());
  EXPECT_EQ(s.sources.size(), 1u);
  auto none = split_command_line(std::vector<std::string>{"gzip"});
  EXPECT_TRUE(none.sources.empty());
}

TEST(SplitCommandLine, ValuesAfterSeparatorStayLiteralEvenIfTheyLookLikeOptions) {
  std::vector<std::string> words{"echo", ":::", "-a", "--halt", ""};
  auto s = split_command_line(words);
  EXPECT_EQ(s.sources[0].values, (std::vector<std::string>{"-a", "--halt", ""}));
}

TEST(SplitCommandLine, PlusSeparatorsLinkToTheSourceBefore) {
  std::vector<std::string> words{"echo", ":::", "a", ":::+", "b", "::::+", "f", "g"};
  auto s = split_command_line(words);
  ASSERT_EQ(s.sources.size(), 4u);
  EXPECT_FALSE(s.sources[0].linked);
  EXPECT_TRUE(s.sources[1].linked);
  // Every file after ::::+ links to the one before it: GNU's
  // `echo ::: a b :::+ x y ::::+ s1 s2` is two jobs, a x 1 1 and b y 2 2.
  EXPECT_TRUE(s.sources[2].linked);
  EXPECT_TRUE(s.sources[3].linked);
}

TEST(SplitCommandLine, ArgSepAndArgFileSepReplaceTheColonsAndTakeAPlus) {
  // parallel --arg-sep ,, --arg-file-sep // echo ,, A ,,+ B // f ::: x
  std::vector<std::string> words{"echo", ",,", "A", ",,+", "B", "//", "f", ":::", "x"};
  auto s = split_command_line(words, {}, {.args = ",,", .files = "//"});
  EXPECT_EQ(s.command, (std::vector<std::string>{"echo"}));
  ASSERT_EQ(s.sources.size(), 5u);
  EXPECT_EQ(s.sources[0].values, (std::vector<std::string>{"A"}));
  EXPECT_TRUE(s.sources[1].linked);
  EXPECT_EQ(s.sources[2].path, "f");
  EXPECT_EQ(s.sources[3].path, ":::");  // no separator any more: one more file name
  // A word that only starts with the separator is a value.
  std::vector<std::string> more{"echo", ",,", ",,x", ",,++"};
  EXPECT_EQ(split_command_line(more, {}, {.args = ",,"}).sources[0].values,
            (std::vector<std::string>{",,x", ",,++"}));
}

TEST(SplitCommandLine, ALinkWithNothingBeforeItStartsTheFirstSource) {
  // GNU: parallel echo :::+ a b ::: x  ->  a x, b x
  std::vector<std::string> words{"echo", ":::+", "a", ":::", "x"};
  const auto s = split_command_line(words);
  ASSERT_EQ(s.sources.size(), 2u);
  EXPECT_FALSE(s.sources[0].linked);
  EXPECT_FALSE(s.sources[1].linked);
}

// ------------------------------------------------------------ combinations

TEST(InputGenerator, LastSourceVariesFastestLikeGnuParallel) {
  // parallel --dry-run echo ::: a b ::: 1 2  ->  a 1, a 2, b 1, b 2
  auto jobs = all_jobs({input_source::literals({"a", "b"}), input_source::literals({"1", "2"})});
  EXPECT_EQ(jobs, (rows{{"a", "1"}, {"a", "2"}, {"b", "1"}, {"b", "2"}}));
}

TEST(InputGenerator, ThreeSourcesGiveEveryCombinationInOrder) {
  auto jobs = all_jobs({input_source::literals({"a", "b"}), input_source::literals({"1", "2", "3"}),
                        input_source::literals({"x", "y"})});
  ASSERT_EQ(jobs.size(), 12u);
  EXPECT_EQ(jobs[0], (std::vector<std::string>{"a", "1", "x"}));
  EXPECT_EQ(jobs[1], (std::vector<std::string>{"a", "1", "y"}));
  EXPECT_EQ(jobs[2], (std::vector<std::string>{"a", "2", "x"}));
  EXPECT_EQ(jobs[6], (std::vector<std::string>{"b", "1", "x"}));
  EXPECT_EQ(jobs[11], (std::vector<std::string>{"b", "3", "y"}));
}

TEST(InputGenerator, FileSourcesCombineWithLiteralsAndAreReiterated) {
  scratch_dir dir;
  auto f = dir.write("f", "p\nq\n");
  auto jobs = all_jobs({input_source::literals({"a", "b"}), input_source::file(f)});
  EXPECT_EQ(jobs, (rows{{"a", "p"}, {"a", "q"}, {"b", "p"}, {"b", "q"}}));
  auto streamed_first = all_jobs({input_source::file(f), input_source::file(f)});
  EXPECT_EQ(streamed_first, (rows{{"p", "p"}, {"p", "q"}, {"q", "p"}, {"q", "q"}}));
}

TEST(InputGenerator, AnEmptySourceAmongOthersCountsAsOneEmptyValue) {
  // GNU parallel: `::: a b :::: empty` runs "a ''" and "b ''".
  scratch_dir dir;
  auto empty = dir.write("empty", "");
  EXPECT_EQ(all_jobs({input_source::literals({"a", "b"}), input_source::file(empty)}),
            (rows{{"a", ""}, {"b", ""}}));
  EXPECT_EQ(all_jobs({input_source::file(empty), input_source::literals({"a", "b"})}),
            (rows{{"", "a"}, {"", "b"}}));
  EXPECT_EQ(all_jobs({input_source::file(empty), input_source::file(empty),
                      input_source::literals({"a"})}),
            (rows{{"", "", "a"}}));
}

TEST(InputGenerator, NoJobsWhenEverySourceIsEmpty) {
  scratch_dir dir;
  auto empty = dir.write("empty", "");
  EXPECT_TRUE(all_jobs({input_source::file(empty)}).empty());
  EXPECT_TRUE(all_jobs({input_source::file(empty), input_source::file(empty)}).empty());
  EXPECT_TRUE(all_jobs({input_source::literals({})}).empty());
}

// ------------------------------------------------------------ reading values

TEST(InputGenerator, FileLinesKeepCarriageReturnsAndEmptyLines) {
  // GNU parallel keeps the "\r" of CRLF input and runs empty lines.
  scratch_dir dir;
  auto f = dir.write("f", "a\r\n\nb\n\n");
  EXPECT_EQ(all_jobs({input_source::file(f)}), (rows{{"a\r"}, {""}, {"b"}, {""}}));
}

TEST(InputGenerator, TrailingNewlineIsNotAnExtraValueButAMissingOneLosesNothing) {
  scratch_dir dir;
  EXPECT_EQ(all_jobs({input_source::file(dir.write("t", "a\nb\n"))}), (rows{{"a"}, {"b"}}));
  EXPECT_EQ(all_jobs({input_source::file(dir.write("n", "a\nb"))}), (rows{{"a"}, {"b"}}));
  EXPECT_EQ(all_jobs({input_source::file(dir.write("e", "\n"))}), (rows{{""}}));
}

TEST(InputGenerator, NullSeparatedInputKeepsNewlinesInsideValues) {
  scratch_dir dir;
  auto f = dir.write("z", std::string("a\nb\0\0c", 6));
  input_options opts;
  opts.separator = '\0';
  EXPECT_EQ(all_jobs({input_source::file(f)}, opts), (rows{{"a\nb"}, {""}, {"c"}}));
}

TEST(InputGenerator, LiteralValuesAreSplitAtTheSeparatorAsGnuParallel) {
  // GNU parallel writes a `:::`'s values to a file, one a record, and reads
  // them back: a value holding the separator is several values.
  EXPECT_EQ(all_jobs({input_source::literals({"a\nb", "", "c\n"})}),
            (rows{{"a"}, {"b"}, {""}, {"c"}, {""}}));
  EXPECT_EQ(all_jobs({input_source::literals({"x"}), input_source::literals({"1\n2"})}),
            (rows{{"x", "1"}, {"x", "2"}}));
  input_options nul;
  nul.separator = '\0';
  EXPECT_EQ(all_jobs({input_source::literals({"a\nb"})}, nul), (rows{{"a\nb"}}));
  input_generator gen({input_source::literals({"a\nb"})});
  EXPECT_EQ(gen.total_jobs(), 2u);
}

TEST(InputGenerator, ValuesLongerThanTheReadBufferArriveWhole) {
  scratch_dir dir;
  std::string big(200'000, 'x');
  big[100'000] = 'y';
  std::string text = "a\n" + big + "\n" + big;  // the last one unterminated
  auto f = dir.write("big", text);
  auto jobs = all_jobs({input_source::file(f)});
  ASSERT_EQ(jobs.size(), 3u);
  EXPECT_EQ(jobs[0][0], "a");
  EXPECT_EQ(jobs[1][0], big);
  EXPECT_EQ(jobs[2][0], big);
}

TEST(InputGenerator, ManyLinesAcrossBufferBoundaries) {
  scratch_dir dir;
  std::string text;
  for (int i = 1; i <= 50'000; ++i) text += std::to_string(i) + "\n";
  auto f = dir.write("many", text);
  input_generator gen({input_source::file(f)});
  EXPECT_EQ(gen.total_jobs(), 50'000u);
  job_input job;
  std::uint64_t n = 0;
  while (gen.next(job)) {
    ++n;
    ASSERT_EQ(job.args[0], std::to_string(n));
  }
  EXPECT_EQ(n, 50'000u);
}

TEST(InputGenerator, StdinIsTheDefaultSource) {
  scratch_dir dir;
  auto f = dir.write("in", "x\ny\n");
  int fd = ::open(f.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  input_options opts;
  opts.stdin_fd = fd;
  input_generator gen({}, opts);
  EXPECT_EQ(gen.source_count(), 1u);
  EXPECT_EQ(gen.total_jobs(), 2u);  // stdin is a regular file here: counted
  EXPECT_EQ(all_jobs(gen), (rows{{"x"}, {"y"}}));
  ::close(fd);
}

TEST(InputGenerator, StdinCanBeALaterSourceAndIsReadOnce) {
  pipe_fds p;
  p.put("s1\ns2\n");
  p.close_write();
  input_options opts;
  opts.stdin_fd = p.read;
  // GNU parallel: `:::: - ::: x :::: -` gives "s1 x ''" etc.: the second `-`
  // finds stdin at its end, so it is an empty source.
  auto jobs = all_jobs({input_source::literals({"a"}), input_source::standard_input(),
                        input_source::standard_input()},
                       opts);
  EXPECT_EQ(jobs, (rows{{"a", "s1", ""}, {"a", "s2", ""}}));
}

// ------------------------------------------------------------ waiting on the loop: next_async()

struct InputGeneratorOnLoop : ::testing::Test {
  boost::asio::io_context io;
  cohort::asio_loop loop{io};
  cohort::task<> turn() { co_await boost::asio::post(io, cohort::use_op); }
};

TEST_F(InputGeneratorOnLoop, NextAsyncWaitsForAPipeOnTheLoopAndCombinesLikeNext) {
  pipe_fds in;
  input_options opts;
  opts.stdin_fd = in.read;
  opts.separator = '\0';
  input_generator gen({input_source::standard_input(), input_source::literals({"1", "2"})}, opts);
  EXPECT_TRUE(gen.may_wait());
  rows got;
  loop.run([&]() -> cohort::task<> {
    co_await cohort::with_task_group([&](cohort::task_group& g) -> cohort::task<> {
      // (Arguments, not captures: the lambda is gone once spawn returns.)
      g.spawn([](input_generator& in_gen, rows& out) -> cohort::task<> {
        job_input job;
        while (co_await in_gen.next_async(job)) {
          EXPECT_EQ(job.seq, out.size() + 1);
          out.push_back(job.args);
        }
      }(gen, got));
      co_await turn();
      in.put("a\nb");  // part of a value: the generator keeps waiting
      co_await turn();
      co_await turn();
      EXPECT_TRUE(got.empty());
      in.put(std::string_view("c\0d", 3));
      co_await turn();
      co_await turn();
      EXPECT_EQ(got, (rows{{"a\nbc", "1"}, {"a\nbc", "2"}})) << "'d' has no separator yet";
      in.close_write();
    });
  }());
  EXPECT_EQ(got, (rows{{"a\nbc", "1"}, {"a\nbc", "2"}, {"d", "1"}, {"d", "2"}}));
  EXPECT_EQ(gen.total_jobs(), 4u);
}

TEST_F(InputGeneratorOnLoop, ACancelledWaitLosesNothing) {
  pipe_fds in;
  input_options opts;
  opts.stdin_fd = in.read;
  input_generator gen({input_source::standard_input()}, opts);
  const int flags = ::fcntl(in.read, F_GETFL);
  job_input job;
  in.put("x");
  const bool cancelled = loop.run([&]() -> cohort::task<bool> {
    cohort::cancel_scope scope;
    bool completed = false;
    co_await cohort::with_task_group([&](cohort::task_group& g) -> cohort::task<> {
      g.spawn([](cohort::cancel_scope& sc, input_generator& in_gen, job_input& j,
                 bool& done) -> cohort::task<> {
        done = (co_await sc.run(in_gen.next_async(j))).has_value();
      }(scope, gen, job, completed));
      co_await turn();
      co_await turn();
      scope.cancel();
    });
    co_return !completed;
  }());
  EXPECT_TRUE(cancelled);
  EXPECT_EQ(::fcntl(in.read, F_GETFL), flags) << "the input's flags are left alone";
  in.put("y\n");
  in.close_write();
  EXPECT_EQ(all_jobs(gen), (rows{{"xy"}}));
}

TEST(InputGenerator, AtEndOfAPipeTheLastValueNeedsNoSeparator) {
  pipe_fds in;
  input_options opts;
  opts.stdin_fd = in.read;
  input_generator gen({input_source::standard_input()}, opts);
  in.put("x\ny");
  in.close_write();
  EXPECT_EQ(all_jobs(gen), (rows{{"x"}, {"y"}}));
}

TEST(InputGenerator, NothingWaitsForFilesLiteralsAndDevNull) {
  scratch_dir dir;
  const auto path = dir.write("in.txt", "a\nb\n");
  input_generator file({input_source::file(path)});
  EXPECT_FALSE(file.may_wait());
  // A regular file needs no loop to wait on: next_async reads it directly.
  job_input job;
  ASSERT_TRUE(cohort::sync_wait(file.next_async(job)));
  EXPECT_EQ(job.args, (std::vector<std::string>{"a"}));
  input_generator lit({input_source::literals({"a"})});
  EXPECT_FALSE(lit.may_wait());
  input_generator null({input_source::file("/dev/null")});
  EXPECT_FALSE(null.may_wait()) << "its reads never wait";
  EXPECT_EQ(all_jobs(null).size(), 0u);
  pipe_fds p;
  input_options opts;
  opts.stdin_fd = p.read;
  EXPECT_TRUE(input_generator({}, opts).may_wait());
  p.close_write();
  EXPECT_FALSE(
      input_generator({input_source::literals({"a"}), input_source::standard_input()}, opts)
          .may_wait())
      << "only the first source is streamed; later ones are read whole up front";
}

// ------------------------------------------------------------ laziness and counts

TEST(InputGenerator, FirstSourceIsStreamedNotReadAhead) {
  pipe_fds p;
  input_options opts;
  opts.stdin_fd = p.read;
  input_generator gen({input_source::standard_input(), input_source::literals({"1", "2"})}, opts);
  EXPECT_EQ(gen.total_jobs(), std::nullopt);
  job_input job;
  p.put("a\n");  // the writer has not finished: a read-ahead would block here
  ASSERT_TRUE(gen.next(job));
  EXPECT_EQ(job.args, (std::vector<std::string>{"a", "1"}));
  ASSERT_TRUE(gen.next(job));
  EXPECT_EQ(job.args, (std::vector<std::string>{"a", "2"}));
  p.put("b");
  p.close_write();
  ASSERT_TRUE(gen.next(job));
  EXPECT_EQ(job.seq, 3u);
  EXPECT_EQ(job.args, (std::vector<std::string>{"b", "1"}));
  ASSERT_TRUE(gen.next(job));
  EXPECT_FALSE(gen.next(job));
  EXPECT_FALSE(gen.next(job));
  EXPECT_EQ(gen.total_jobs(), 4u);  // known once the input ended
  EXPECT_EQ(gen.produced(), 4u);
}

TEST(InputGenerator, TotalIsKnownUpFrontForLiteralsAndFiles) {
  scratch_dir dir;
  auto f = dir.write("f", "1\n2\n3");
  input_generator gen({input_source::file(f), input_source::literals({"a", "b"})});
  EXPECT_EQ(gen.total_jobs(), 6u);
  job_input job;
  ASSERT_TRUE(gen.next(job));
  EXPECT_EQ(gen.total_jobs(), 6u);  // counting did not disturb the stream
  std::vector<std::string> firsts{job.args[0]};
  while (gen.next(job)) firsts.push_back(job.args[0]);
  EXPECT_EQ(firsts, (std::vector<std::string>{"1", "1", "2", "2", "3", "3"}));

  input_generator lits(
      {input_source::literals({"a", "b", "c"}), input_source::literals({"1", "2"})});
  EXPECT_EQ(lits.total_jobs(), 6u);
  input_generator with_empty({input_source::literals({"a", "b"}), input_source::literals({})});
  EXPECT_EQ(with_empty.total_jobs(), 2u);
  EXPECT_EQ(all_jobs(with_empty).size(), 2u);
}

TEST(InputGenerator, ReusesTheCallersStrings) {
  input_generator gen({input_source::literals({"a", "b"}), input_source::literals({"1"})});
  job_input job;
  ASSERT_TRUE(gen.next(job));
  const auto* first = job.args.data();
  ASSERT_TRUE(gen.next(job));
  EXPECT_EQ(job.args.data(), first);
  EXPECT_EQ(job.args, (std::vector<std::string>{"b", "1"}));
}

// ------------------------------------------------------------ errors and warnings

TEST(InputGenerator, MissingFileIsAClearError) {
  try {
    input_generator gen({input_source::file("/nonexistent/cohort-list.txt")});
    FAIL() << "expected input_error";
  } catch (const input_error& e) {
    EXPECT_STREQ(
        e.what(),
        "cannot open input file '/nonexistent/cohort-list.txt': No such file or directory");
  }
}

TEST(InputGenerator, MissingLaterFileIsAnErrorAtConstruction) {
  EXPECT_THROW(
      input_generator({input_source::literals({"a"}), input_source::file("/nonexistent/x")}),
      input_error);
}

TEST(InputGenerator, DirectoryIsAClearError) {
  scratch_dir dir;
  try {
    input_generator gen({input_source::file(dir.path().string())});
    FAIL() << "expected input_error";
  } catch (const input_error& e) {
    EXPECT_NE(std::string(e.what()).find("Is a directory"), std::string::npos) << e.what();
  }
}

TEST(InputGenerator, WarnsLikeGnuWhenTheFirstThreeLinesEndInCarriageReturn) {
  scratch_dir dir;
  input_generator crlf({input_source::file(dir.write("c", "a\r\nb\r\nc\r\nd\n"))});
  EXPECT_EQ(all_jobs(crlf).size(), 4u);
  EXPECT_TRUE(crlf.crlf_suspected());
  input_generator mixed({input_source::file(dir.write("m", "a\r\nb\nc\r\n"))});
  EXPECT_EQ(all_jobs(mixed).size(), 3u);
  EXPECT_FALSE(mixed.crlf_suspected());
}

}  // namespace

namespace {

// ------------------------------------------------------------ input shaping
// (each expectation is GNU parallel 20221122's --dry-run for the same input)

using L = input_source;

TEST(InputShaping, LinkedSourceGoesSideBySideUpToTheShorter) {
  // parallel echo ::: a b c :::+ 1 2  ->  a 1, b 2
  auto linked = L::literals({"1", "2"});
  linked.linked = true;
  EXPECT_EQ(all_jobs({L::literals({"a", "b", "c"}), linked}), (rows{{"a", "1"}, {"b", "2"}}));
}

TEST(InputShaping, LinkedGroupCombinesWithOtherSources) {
  // parallel echo ::: a b ::: 1 2 3 :::+ x y z
  auto linked = L::literals({"x", "y", "z"});
  linked.linked = true;
  auto jobs = all_jobs({L::literals({"a", "b"}), L::literals({"1", "2", "3"}), linked});
  EXPECT_EQ(jobs, (rows{{"a", "1", "x"},
                        {"a", "2", "y"},
                        {"a", "3", "z"},
                        {"b", "1", "x"},
                        {"b", "2", "y"},
                        {"b", "3", "z"}}));
}

TEST(InputShaping, LinkAllWrapsTheShorterSources) {
  // parallel --link echo ::: a b ::: 1 2 3 4 ::: x
  auto jobs =
      all_jobs({L::literals({"a", "b"}), L::literals({"1", "2", "3", "4"}), L::literals({"x"})},
               {.link = true});
  EXPECT_EQ(jobs, (rows{{"a", "1", "x"}, {"b", "2", "x"}, {"a", "3", "x"}, {"b", "4", "x"}}));
}

TEST(InputShaping, AnEmptyLinkedSourceIsOneEmptyValue) {
  // parallel echo ::: a b ::::+ empty  ->  echo a ''
  auto linked = L::literals({});
  linked.linked = true;
  EXPECT_EQ(all_jobs({L::literals({"a", "b"}), linked}), (rows{{"a", ""}}));
  // (GNU parallel's --link fails on an empty source; here it stands for "")
  EXPECT_EQ(all_jobs({L::literals({"a", "b"}), L::literals({})}, {.link = true}),
            (rows{{"a", ""}, {"b", ""}}));
  EXPECT_EQ(all_jobs({L::literals({}), linked}, {.link = true}), rows{});
}

TEST(InputShaping, RecordsPerJobFlattenTheRecordsAndTheLastJobMayBeShort) {
  // parallel -N2 echo ::: a b c ::: 1 2  ->  a 1 a 2 / b 1 b 2 / c 1 c 2
  auto jobs = all_jobs({L::literals({"a", "b", "c"})}, {.records_per_job = 2});
  EXPECT_EQ(jobs, (rows{{"a", "b"}, {"c"}}));
  jobs = all_jobs({L::literals({"a", "b"}), L::literals({"1", "2"})}, {.records_per_job = 2});
  EXPECT_EQ(jobs, (rows{{"a", "1", "a", "2"}, {"b", "1", "b", "2"}}));
}

TEST(InputShaping, ZeroRecordsPerJobIsOneJobPerInputWithoutArguments) {
  auto jobs = all_jobs({L::literals({"a", "b", "c"})}, {.records_per_job = 0});
  EXPECT_EQ(jobs, (rows{{}, {}, {}}));
}

TEST(InputShaping, TotalCountsJobsNotRecords) {
  input_generator gen({L::literals({"a", "b", "c", "d", "e"})}, {.records_per_job = 2});
  EXPECT_EQ(gen.total_jobs(), 3u);
  EXPECT_EQ(all_jobs(gen).size(), 3u);
}

TEST(InputShaping, TrailingBlankContinuesTheValueWithLines) {
  // parallel -L 2 echo ::: 'a ' b c  ->  'a b' c
  auto jobs =
      all_jobs({L::literals({"a ", "b", "c"})}, {.continue_lines = true, .records_per_job = 2});
  EXPECT_EQ(jobs, (rows{{"a b", "c"}}));
}

TEST(InputShaping, EofStringEndsItsSourceInLiteralsAndFiles) {
  scratch_dir dir;
  auto f = dir.write("f", "a\nb\nEND\nc\n");
  EXPECT_EQ(all_jobs({L::literals({"x", "END", "y"})}, {.eof_string = "END"}), (rows{{"x"}}));
  EXPECT_EQ(all_jobs({L::file(f)}, {.eof_string = "END"}), (rows{{"a"}, {"b"}}));
  EXPECT_EQ(all_jobs({L::literals({"x"}), L::file(f)}, {.eof_string = "END"}),
            (rows{{"x", "a"}, {"x", "b"}}));
}

TEST(InputShaping, NoRunIfEmptySkipsBlankValuesOfEverySource) {
  // parallel -r echo ::: foo '' ole  and  -r with \t, \r and spaces on stdin
  using cohort::app::run::trim_mode;
  EXPECT_EQ(all_jobs({L::literals({"foo", "", "ole"})}, {.skip_blank = true}),
            (rows{{"foo"}, {"ole"}}));
  scratch_dir dir;
  auto f = dir.write("f", "1\n\n \t\r\n2\n  \n");
  EXPECT_EQ(all_jobs({L::file(f)}, {.skip_blank = true}), (rows{{"1"}, {"2"}}));
  // GNU: per source, so '' '' , '' b , a '' all go (no value left in a source: none).
  EXPECT_EQ(all_jobs({L::literals({"", "a"}), L::literals({"", "b"})}, {.skip_blank = true}),
            (rows{{"a", "b"}}));
  EXPECT_EQ(all_jobs({L::file(f)}, {.skip_blank = true}).size(), 2u);
  input_generator counted({L::file(f)}, {.skip_blank = true});
  EXPECT_EQ(counted.total_jobs(), std::nullopt);  // a scan would count the blank lines
  // After -L's joining: 'a ' + '' is 'a ', not blank (GNU: printf 'a \n\n \n' |
  // parallel -r -L2 echo [{}] gives [a  ]).
  EXPECT_EQ(all_jobs({L::literals({"a ", "", " "})}, {.skip_blank = true, .continue_lines = true}),
            (rows{{"a  "}}));
}

TEST(InputShaping, ADelimiterOfSeveralCharactersEndsValuesOnlyWhole) {
  // parallel -d '\r\n' echo {}a  <<< $'b\r\nc\nd\r\ne'  ->  ba, c\nda, ea
  scratch_dir dir;
  auto f = dir.write("f", "b\r\nc\nd\r\ne");
  const input_options crlf{.separator = '\n', .delimiter_head = "\r"};
  EXPECT_EQ(all_jobs({L::file(f)}, crlf), (rows{{"b"}, {"c\nd"}, {"e"}}));
  EXPECT_EQ(all_jobs({L::literals({"x\r\ny", "z"})}, crlf), (rows{{"x"}, {"y"}, {"z"}}));
  // A later source (read whole), an empty value, and a delimiter at the very end.
  auto g = dir.write("g", "1\r\n\r\n2\r\n");
  EXPECT_EQ(all_jobs({L::literals({"a"}), L::file(g)}, crlf),
            (rows{{"a", "1"}, {"a", ""}, {"a", "2"}}));
  input_generator counted({L::file(g)}, crlf);
  EXPECT_EQ(counted.total_jobs(), std::nullopt);  // not counted by '\n'
  // Overlapping: -d aa splits xaaay as Perl does: x, ay.
  auto h = dir.write("h", "xaaay");
  EXPECT_EQ(all_jobs({L::file(h)}, {.separator = 'a', .delimiter_head = "a"}),
            (rows{{"x"}, {"ay"}}));
}

TEST_F(InputGeneratorOnLoop, ADelimiterOfSeveralCharactersFromAPipe) {
  pipe_fds in;
  input_generator gen({L::standard_input()},
                      {.separator = '\n', .delimiter_head = "\r", .stdin_fd = in.read});
  rows got;
  loop.run([&]() -> cohort::task<> {
    co_await cohort::with_task_group([&](cohort::task_group& g) -> cohort::task<> {
      g.spawn([](input_generator& in_gen, rows& out) -> cohort::task<> {
        job_input job;
        while (co_await in_gen.next_async(job)) out.push_back(job.args);
      }(gen, got));
      co_await turn();
      in.put("b\r\nc\n");  // c\n: not the whole delimiter, the value goes on
      co_await turn();
      co_await turn();
      EXPECT_EQ(got, (rows{{"b"}}));
      in.put("d\r\ne");
      in.close_write();
    });
  }());
  EXPECT_EQ(got, (rows{{"b"}, {"c\nd"}, {"e"}}));
}

TEST(InputShaping, TrimTakesWhitespaceOffEveryArgumentAndColumn) {
  using cohort::app::run::trim_mode;
  const auto one = [](trim_mode how) { return all_jobs({L::literals({" \tA "})}, {.trim = how}); };
  EXPECT_EQ(one(trim_mode::none), (rows{{" \tA "}}));
  EXPECT_EQ(one(trim_mode::left), (rows{{"A "}}));
  EXPECT_EQ(one(trim_mode::right), (rows{{" \tA"}}));
  EXPECT_EQ(one(trim_mode::both), (rows{{"A"}}));
  // --colsep , --trim r: the columns lose only their trailing blanks.
  EXPECT_EQ(all_jobs({L::literals({" a , b "})},
                     {.trim = trim_mode::right, .colsep = ",", .trim_columns = false}),
            (rows{{" a", " b"}}));
}

TEST(InputShaping, ColsepSplitsEveryValueAndKeepsEmptyFields) {
  // parallel --colsep , echo {1}-{2}-{3} :::: f  ->  a-b-'' / ''-c-
  scratch_dir dir;
  auto f = dir.write("f", "a,b,\n,c\n");
  EXPECT_EQ(all_jobs({L::file(f)}, {.colsep = ","}), (rows{{"a", "b", ""}, {"", "c"}}));
  EXPECT_EQ(all_jobs({L::literals({"a,,b"})}, {.colsep = ",+"}), (rows{{"a", "b"}}));
  EXPECT_EQ(all_jobs({L::literals({"a,b"}), L::literals({"x,y"})}, {.colsep = ","}),
            (rows{{"a", "b", "x", "y"}}));
}

TEST(InputShaping, ColsepTrimsColumnsAndAnEmptyMatchSplitsCharacters) {
  // parallel --colsep , echo "[{1}][{2}]"  <<< " a , b "  ->  [a][b]   (--trim lr)
  EXPECT_EQ(all_jobs({L::literals({" a , b ", "\ta\t"})}, {.colsep = ","}),
            (rows{{"a", "b"}, {"a"}}));
  // parallel --colsep '|' (Perl: alternation of nothing) splits every character
  EXPECT_EQ(all_jobs({L::literals({"a|b"})}, {.colsep = "|"}), (rows{{"a", "|", "b"}}));
  EXPECT_EQ(all_jobs({L::literals({"abc"})}, {.colsep = ""}), (rows{{"a", "b", "c"}}));
}

TEST(InputShaping, AnInvalidColsepIsAClearError) {
  EXPECT_THROW(input_generator({L::literals({"a"})}, {.colsep = "("}), input_error);
}

TEST(InputShaping, HeaderNamesColumnsAndIsNoInput) {
  scratch_dir dir;
  auto f = dir.write("f", "h1\th2\nx\ty\n");
  input_generator gen({L::file(f)}, {.colsep = "\t", .header = true});
  EXPECT_EQ(gen.header_names(), (std::vector<std::string>{"h1", "h2"}));
  EXPECT_EQ(gen.total_jobs(), 1u);
  EXPECT_EQ(all_jobs(gen), (rows{{"x", "y"}}));
  input_generator lit({L::literals({"f", "1", "2"}), L::literals({"g", "3"})}, {.header = true});
  EXPECT_EQ(lit.header_names(), (std::vector<std::string>{"f", "g"}));
  EXPECT_EQ(all_jobs(lit), (rows{{"1", "3"}, {"2", "3"}}));
}

TEST(InputShaping, HeaderZeroNamesTheFileSourcesByTheirPaths) {
  // parallel --header 0 echo {f} ::: x :::: f  ->  {f} is {1}: echo x ...
  scratch_dir dir;
  auto f = dir.write("f", "a\nb\n");
  input_generator gen({L::literals({"x"}), L::file(f)}, {.header_paths = true});
  EXPECT_EQ(gen.header_names(), (std::vector<std::string>{f}));
  EXPECT_EQ(all_jobs(gen), (rows{{"x", "a"}, {"x", "b"}}));
}

// -X/-m with a toy length: each argument costs its size plus a blank.
cohort::app::run::command_line_fill toy_fill(std::size_t max, std::size_t slots) {
  cohort::app::run::command_line_fill f;
  f.arg_length = [](const std::string& a) { return a.size() + 1; };
  f.base_length = 4;  // "echo"
  f.max_length = max;
  f.slots = slots;
  return f;
}

TEST(InputShaping, FillTakesWhatFitsThenSpreadsTheLastOverTheSlots) {
  // parallel -j2 -m echo ::: a b c d e  ->  echo a b c / echo d e
  input_generator two({L::literals({"a", "b", "c", "d", "e"})});
  two.fill_command_lines(toy_fill(1000, 2));
  EXPECT_EQ(all_jobs(two), (rows{{"a", "b", "c"}, {"d", "e"}}));
  // A short line: 4 + 2 per argument < 11 is three arguments a job; the
  // last job (g) is spread over the slots alone.
  input_generator full({L::literals({"a", "b", "c", "d", "e", "f", "g"})});
  full.fill_command_lines(toy_fill(11, 3));
  EXPECT_EQ(all_jobs(full), (rows{{"a", "b", "c"}, {"d", "e", "f"}, {"g"}}));
  // --xargs: no spreading.
  auto no_spread = toy_fill(1000, 2);
  no_spread.spread = false;
  input_generator x({L::literals({"a", "b", "c"})});
  x.fill_command_lines(no_spread);
  EXPECT_EQ(all_jobs(x), (rows{{"a", "b", "c"}}));
}

TEST(InputShaping, FillSpreadsAJobThatReachedItsCapAtTheEndOfTheInput) {
  // parallel -X -j2 -N6 echo ::: a b c d e f  ->  a b c / d e f (GNU looks ahead)
  auto f = toy_fill(1000, 2);
  f.max_records = 6;
  input_generator gen({L::literals({"a", "b", "c", "d", "e", "f"})});
  gen.fill_command_lines(f);
  EXPECT_EQ(all_jobs(gen), (rows{{"a", "b", "c"}, {"d", "e", "f"}}));
}

TEST(InputShaping, FillRefusesAnArgumentLongerThanTheLine) {
  input_generator gen({L::literals({"a", "much too long"})});
  gen.fill_command_lines(toy_fill(10, 1));
  job_input job;
  ASSERT_TRUE(gen.next(job));  // "a"; the long one did not fit with it
  EXPECT_EQ(job.args, (std::vector<std::string>{"a"}));
  EXPECT_THROW(gen.next(job), input_error);  // nor alone
}

TEST(InputShaping, ShuffleKeepsEveryRecordAndNumbersJobsInOrder) {
  std::vector<std::string> values;
  for (int i = 0; i < 200; ++i) values.push_back(std::to_string(i));
  input_generator gen({L::literals(values)}, {.records_per_job = 3, .shuffle = true});
  auto jobs = all_jobs(gen);  // checks seq 1, 2, 3...
  ASSERT_EQ(jobs.size(), 67u);
  std::vector<std::string> seen;
  for (const auto& j : jobs) seen.insert(seen.end(), j.begin(), j.end());
  EXPECT_NE(seen, values);  // 1 in 200! to fail by chance
  std::sort(seen.begin(), seen.end());
  std::sort(values.begin(), values.end());
  EXPECT_EQ(seen, values);
}

TEST(InputShaping, RecordsPerJobStreamFromAPipeWithoutReadingAhead) {
  pipe_fds p;
  p.put("a\nb\nc\n");
  input_generator gen({L::standard_input()}, {.stdin_fd = p.read, .records_per_job = 2});
  job_input job;
  ASSERT_TRUE(gen.next(job));  // "d" is not written yet: only two values were needed
  EXPECT_EQ(job.args, (std::vector<std::string>{"a", "b"}));
  p.put("d\n");
  p.close_write();
  ASSERT_TRUE(gen.next(job));
  EXPECT_EQ(job.args, (std::vector<std::string>{"c", "d"}));
  EXPECT_FALSE(gen.next(job));
}

}  // namespace
