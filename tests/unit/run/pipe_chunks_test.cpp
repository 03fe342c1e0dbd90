#include "cohort/run/pipe_chunks.hpp"

#include "cohort/common/option_values.hpp"

#include <cohort/runtime/asio_loop.hpp>

#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

// The chunks --pipe and --pipepart cut, checked against what GNU parallel
// 20221122 cuts for the same input and options (run by hand with
// `parallel --pipe ... 'cat; echo ---'`; the differential suite runs GNU
// itself on a few of them).

namespace {

using cohort::app::run::chunk_file;
using cohort::app::run::chunk_splitter;
using cohort::app::run::parse_block_size;
using cohort::app::run::part_positions;
using cohort::app::run::pipe_options;
using cohort::app::run::pipe_source;
using cohort::app::run::record_split;

// Feeds `input` to a splitter as GNU reads it (whole blocks, or to the end).
std::vector<std::string> chunks_of(std::string_view input, const pipe_options& o,
                                   std::vector<std::string>* warnings = nullptr) {
  chunk_splitter s(o, [&](std::string w) {
    if (warnings != nullptr) warnings->push_back(std::move(w));
  });
  std::vector<std::string> out;
  for (;;) {
    while (auto c = s.next()) out.emplace_back(*c);
    if (s.finished()) break;
    std::size_t need = s.want();
    bool eof = false;
    while (need > 0 && !eof) {
      const std::size_t n = std::min(need, input.size());
      std::memcpy(s.space(need), input.data(), n);
      s.commit(n);
      input.remove_prefix(n);
      eof = n == 0;
      need -= n;
    }
    s.end_round(eof);
  }
  return out;
}

pipe_options block(std::int64_t b) {
  pipe_options o;
  o.block = b;
  o.block_given = true;
  return o;
}

TEST(PipeChunks, CutsAfterTheLastRecordEndOfEachWholeBlock) {
  // seq 10 | parallel --pipe --block 4: 1\n2\n | 3\n4\n | ... | 9\n | 10\n
  EXPECT_EQ(chunks_of("1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n", block(4)),
            (std::vector<std::string>{"1\n2\n", "3\n4\n", "5\n6\n", "7\n8\n", "9\n", "10\n"}));
  EXPECT_EQ(chunks_of("a\nb\nc\n", block(2)), (std::vector<std::string>{"a\n", "b\n", "c\n"}));
  // The default block holds it all; a last record without its end counts.
  EXPECT_EQ(chunks_of("a\nb", pipe_options{}), (std::vector<std::string>{"a\nb"}));
  EXPECT_TRUE(chunks_of("", pipe_options{}).empty());
}

TEST(PipeChunks, ARecordLongerThanTheBlockIsOneChunkAndTheBlockGrows) {
  std::vector<std::string> warnings;
  // GNU: the block grows 3 -> 5 -> 8 -> 12, which then holds all of it.
  EXPECT_EQ(chunks_of("abcdefgh\nij\n", block(3), &warnings),
            (std::vector<std::string>{"abcdefgh\nij\n"}));
  EXPECT_EQ(chunks_of("abcdefgh\nij\nklmnopqrstuvwxyz\n", block(3)),
            (std::vector<std::string>{"abcdefgh\nij\n", "klmnopqrstuvwxyz\n"}));
  ASSERT_FALSE(warnings.empty());
  EXPECT_NE(warnings[0].find("longer than 3 bytes"), std::string::npos) << warnings[0];
}

TEST(PipeChunks, RecendEmptyCutsAnywhere) {
  pipe_options o = block(3);
  o.recend = "";
  EXPECT_EQ(chunks_of("abcdefgh", o), (std::vector<std::string>{"abc", "def", "gh"}));
}

TEST(PipeChunks, RecstartAndRecendMustMatchTogether) {
  pipe_options o = block(6);
  o.recstart = ">";
  EXPECT_EQ(chunks_of(">a\nx>b\n>c\n", o), (std::vector<std::string>{">a\nx", ">b\n", ">c\n"}));
  o.recend = "\\n";  // a printf escape
  EXPECT_EQ(chunks_of(">a\nx>b\n>c\n", o), (std::vector<std::string>{">a\nx>b\n", ">c\n"}));
}

TEST(PipeChunks, RegexpRecordEnds) {
  pipe_options o = block(5);
  o.regexp = true;
  o.recend = "[05]\n";
  std::string in;
  for (int i = 1; i <= 12; ++i) in += std::to_string(i) + "\n";
  // GNU: 1..5 | 6..10 | 11 12.
  EXPECT_EQ(chunks_of(in, o),
            (std::vector<std::string>{"1\n2\n3\n4\n5\n", "6\n7\n8\n9\n10\n", "11\n12\n"}));
  o.recend = "(";
  EXPECT_THROW(record_split{o}, cohort::app::usage_error);
  // --pipepart's search is Perl's /s and greedy: "9." matches "9\n", the
  // match that starts last even inside "99".
  o.part = true;
  o.recend = "9.";
  EXPECT_EQ(record_split{o}.last("98\n99\n100\n"), 6u);
  o.part = false;  // --pipe's '.' does not match a newline
  EXPECT_EQ(record_split{o}.last("98\n99\n100\n"), 5u);
}

TEST(PipeChunks, DashNCutsEveryNRecordsAndSkipsARecordEndAtTheStart) {
  pipe_options o;
  o.records = 2;
  EXPECT_EQ(chunks_of("a\nb\nc\nd\ne\n", o), (std::vector<std::string>{"a\nb\n", "c\nd\n", "e\n"}));
  // GNU's nindex looks from position 1: an empty first record joins the next.
  o.records = 1;
  EXPECT_EQ(chunks_of("a\n\nb\n", o), (std::vector<std::string>{"a\n", "\nb\n"}));
}

TEST(PipeChunks, BlockSizesWithGnusUnitPrefixes) {
  EXPECT_EQ(parse_block_size("1M"), 1048576);
  EXPECT_EQ(parse_block_size("1m"), 1000000);
  EXPECT_EQ(parse_block_size("10k"), 10000);
  EXPECT_EQ(parse_block_size("2K"), 2048);
  EXPECT_EQ(parse_block_size("1Ki"), 1024);
  EXPECT_EQ(parse_block_size("1.5k"), 1500);
  EXPECT_EQ(parse_block_size("-10"), -10);
  EXPECT_EQ(parse_block_size("3"), 3);
  for (const char* bad : {"", "0", "x", "1X", "1kk", "--1", "1..2"}) {
    EXPECT_THROW((void)parse_block_size(bad), cohort::app::usage_error) << bad;
  }
}

TEST(PipeChunks, PartPositionsSeekForwardToTheNextRecordStart) {
  std::string file;
  for (int i = 1; i <= 1000; ++i) file += std::to_string(i) + "\n";
  auto read_at = [&](std::uint64_t at, char* into, std::size_t n) -> std::size_t {
    if (at >= file.size()) return 0;
    const std::size_t got = std::min<std::size_t>(n, file.size() - at);
    std::memcpy(into, file.data() + at, got);
    return got;
  };
  const record_split lines{pipe_options{}};
  // parallel --pipepart --block 1k -a (seq 1000): chunks of 1004, 1004, 1004, 881 bytes.
  const auto pos = part_positions(file.size(), 1000, lines, read_at);
  EXPECT_EQ(pos, (std::vector<std::uint64_t>{0, 1004, 2008, 3012, 3893}));
  EXPECT_EQ(part_positions(0, 1000, lines, read_at), (std::vector<std::uint64_t>{0}));
}

TEST(PipeChunks, ChunkFilesAreRewoundForEachReader) {
  chunk_file c = chunk_file::of("hello\n");
  char buf[16];
  EXPECT_EQ(::read(c.fd(), buf, sizeof buf), 6);
  c.rewind();
  EXPECT_EQ(::read(c.fd(), buf, sizeof buf), 6);
  EXPECT_EQ(std::string_view(buf, 6), "hello\n");
  EXPECT_FALSE(c.is_range());
}

TEST(PipeChunks, APartChunkIsARangeOfTheFileNotACopy) {
  chunk_file c = chunk_file::of("hello\n");
  chunk_file r = chunk_file::range(c.fd(), 1, 3);
  ASSERT_TRUE(r.is_range());
  EXPECT_NE(r.fd(), c.fd());  // its own descriptor, for the job's lifetime
  EXPECT_EQ(r.offset(), 1u);
  EXPECT_EQ(r.length(), 3u);
  chunk_file moved = std::move(r);
  EXPECT_EQ(moved.offset(), 1u);
  EXPECT_EQ(moved.length(), 3u);
  EXPECT_EQ(r.fd(), -1);
}

TEST(PipeChunks, APipeSourceReadsAPipeAheadOfTheJobsOneChunkAtATime) {
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  ASSERT_EQ(::write(fds[1], "1\n2\n3\n", 6), 6);
  ::close(fds[1]);
  boost::asio::io_context io;
  cohort::asio_loop loop{io};
  pipe_source src(fds[0], block(2));
  EXPECT_TRUE(src.may_wait());
  EXPECT_FALSE(src.total());
  std::vector<std::string> got;
  loop.run([&]() -> cohort::task<> {
    chunk_file c;
    for (;;) {
      const bool more = co_await src.next_async(c);
      if (!more) break;
      char buf[16];
      const ssize_t n = ::read(c.fd(), buf, sizeof buf);
      got.emplace_back(buf, static_cast<std::size_t>(std::max<ssize_t>(n, 0)));
    }
  }());
  ::close(fds[0]);
  EXPECT_EQ(got, (std::vector<std::string>{"1\n", "2\n", "3\n"}));
}

}  // namespace
