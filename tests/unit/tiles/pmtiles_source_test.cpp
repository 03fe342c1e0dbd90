#include "cohort/tiles/pmtiles_source.hpp"

#include "cohort/tiles/tile_id.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "scratch_dir.hpp"
#include "tiles_engine_fakes.hpp"
#include "virtual_loop.hpp"

// Reading a PMTiles archive's index for a tile set, from archives written
// with the shared codec (pmtiles_format.hpp), served by a fake that answers
// Range requests and counts them, and by the local file fetcher.

namespace {

using namespace tiles_engine_testing;
using cohort::app::tiles::archive_cursor;
using cohort::app::tiles::archive_error;
using cohort::app::tiles::archive_index;
using cohort::app::tiles::encode_pmtiles_directory;
using cohort::app::tiles::encode_pmtiles_header;
using cohort::app::tiles::file_range_fetcher;
using cohort::app::tiles::is_pmtiles_source;
using cohort::app::tiles::pmtiles_compress;
using cohort::app::tiles::pmtiles_compression;
using cohort::app::tiles::pmtiles_entry;
using cohort::app::tiles::pmtiles_header;
using cohort::app::tiles::pmtiles_source_url;
using cohort::app::tiles::pmtiles_tile_type;
using cohort::app::tiles::read_archive_index;
using cohort::app::tiles::tile_id;
using cohort::app::tiles::tile_of_id;
using cohort::app::tiles::tile_set;
using cohort::app::tiles::tile_span;
using cohort::test::virtual_loop;

// An archive of every tile of zooms 0..6 (each tile's blob 10 + id % 7
// bytes; tiles with id % 5 == 0 share one blob), with leaf directories of
// `leaf` entries when leaf > 0.
struct archive {
  std::string bytes;
  std::vector<pmtiles_entry> entries;  // tile entries, offsets relative to the tile data
  pmtiles_header h;
  std::size_t leaves = 0;

  explicit archive(std::size_t leaf) {
    std::string data(12, 's');  // the shared blob first
    for (std::uint64_t id = 0; id < cohort::app::tiles::first_tile_id(7); ++id) {
      if (id % 5 == 0) {
        entries.push_back({id, 0, 12, 1});
      } else {
        entries.push_back({id, data.size(), static_cast<std::uint32_t>(10 + id % 7), 1});
        data += std::string(10 + id % 7, static_cast<char>('a' + id % 26));
      }
    }
    std::string root;
    std::string leaf_bytes;
    if (leaf == 0) {
      root = pmtiles_compress(encode_pmtiles_directory(entries), pmtiles_compression::gzip);
    } else {
      std::vector<pmtiles_entry> pointers;
      for (std::size_t i = 0; i < entries.size(); i += leaf) {
        const std::vector<pmtiles_entry> chunk(
            entries.begin() + static_cast<std::ptrdiff_t>(i),
            entries.begin() + static_cast<std::ptrdiff_t>(std::min(entries.size(), i + leaf)));
        const std::string d =
            pmtiles_compress(encode_pmtiles_directory(chunk), pmtiles_compression::gzip);
        pointers.push_back(
            {chunk.front().tile_id, leaf_bytes.size(), static_cast<std::uint32_t>(d.size()), 0});
        leaf_bytes += d;
      }
      leaves = pointers.size();
      root = pmtiles_compress(encode_pmtiles_directory(pointers), pmtiles_compression::gzip);
    }
    h.root_offset = 127;
    h.root_length = root.size();
    h.leaf_offset = 127 + root.size();
    h.leaf_length = leaf_bytes.size();
    h.tile_data_offset = h.leaf_offset + leaf_bytes.size();
    h.tile_data_length = data.size();
    h.tile_type = pmtiles_tile_type::png;
    h.tile_compression = pmtiles_compression::none;
    h.max_zoom = 6;
    bytes = encode_pmtiles_header(h) + root + leaf_bytes + data;
  }
};

// Answers Range requests from `bytes`, or with `status` when set.
class bytes_fetcher final : public tile_fetcher {
 public:
  std::string bytes;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> ranges;
  std::function<int(int request)> status = [](int) { return 206; };
  std::vector<std::optional<std::uint64_t>> limits;  // max_body_bytes of each request

  task<http_response> fetch(http_request request) override {
    unsigned long long a = 0;
    unsigned long long b = 0;
    for (const auto& h : request.headers) {
      (void)std::sscanf(h.c_str(), "Range: bytes=%llu-%llu", &a, &b);
    }
    ranges.emplace_back(a, b);
    limits.push_back(request.max_body_bytes);
    co_await cohort::sleep_for(10ms);
    http_response r;
    r.status = status(static_cast<int>(ranges.size()));
    if (r.status == 0) {  // a server that sends the whole archive: curl stops it
      r.error = make_error_code(curl_errc::filesize_exceeded);
      co_return r;
    }
    if (r.status == 206) r.body = bytes.substr(a, std::min<std::uint64_t>(b + 1, bytes.size()) - a);
    co_return r;
  }
};

// Options with short retries (the index is read with --retries and
// --retry-delay, as tiles are).
tiles_options options_of(const char* box, const char* zooms) {
  tiles_options o = options_for(box, zooms);
  o.retry_delay = std::chrono::milliseconds(100);
  o.retries = 2;
  return o;
}

TEST(read_archive_index, reads_the_root_in_one_request_and_only_the_leaves_it_needs) {
  const archive a(64);
  bytes_fetcher f;
  f.bytes = a.bytes;
  const tiles_options o = options_of("13.30,52.45,13.50,52.56", "5-6");
  const tile_set set(o.boxes, o.zooms);
  virtual_loop loop;
  const archive_index ix = loop.run(read_archive_index(f, "http://h/a.pmtiles", set, o));
  ASSERT_GE(f.ranges.size(), 2u);
  EXPECT_EQ(f.ranges[0], (std::pair<std::uint64_t, std::uint64_t>{0, 16383}));
  EXPECT_LT(f.ranges.size(), 1 + a.leaves);  // not every leaf
  EXPECT_EQ(ix.index_requests, f.ranges.size());
  EXPECT_EQ(ix.present.size(), set.count());
  EXPECT_TRUE(ix.absent.empty());
  for (const tile_span& s : ix.present) {
    const pmtiles_entry& e = a.entries.at(tile_id(s.where));
    EXPECT_EQ(s.offset, a.h.tile_data_offset + e.offset);
    EXPECT_EQ(s.length, e.length);
  }
}

TEST(archive_cursor, small_batches_give_the_whole_index_reading_each_leaf_once) {
  const archive a(64);
  const tiles_options o = options_of("13.30,52.45,13.50,52.56", "4-7");
  const tile_set set(o.boxes, o.zooms);
  virtual_loop loop;
  bytes_fetcher whole;
  whole.bytes = a.bytes;
  const archive_index all = loop.run(read_archive_index(whole, "http://h/a.pmtiles", set, o));
  bytes_fetcher f;
  f.bytes = a.bytes;
  const archive_index root =
      loop.run(cohort::app::tiles::read_archive_root(f, "http://h/a.pmtiles", o));
  archive_cursor c("http://h/a.pmtiles", root, set);
  std::vector<tile_span> present;
  std::vector<cohort::app::tiles::tile> absent;
  std::size_t batches = 0;
  for (;;) {
    const std::size_t before = present.size() + absent.size();
    if (!loop.run(c.next(f, o, 3, present, absent))) break;
    EXPECT_LE(present.size() + absent.size() - before, 3u);
    ++batches;
  }
  EXPECT_EQ(present, all.present);
  EXPECT_EQ(absent, all.absent);
  EXPECT_EQ(present.size() + absent.size(), set.count());
  EXPECT_FALSE(absent.empty());  // zoom 7 is beyond the archive
  EXPECT_GE(batches, set.count() / 3);
  EXPECT_EQ(f.ranges, whole.ranges);  // the same leaves, each once
}

TEST(read_archive_index, tiles_beyond_the_archives_zooms_are_absent) {
  const archive a(0);  // no leaves: the root holds everything
  bytes_fetcher f;
  f.bytes = a.bytes;
  const tiles_options o = options_of("13.30,52.45,13.50,52.56", "6-7");
  const tile_set set(o.boxes, o.zooms);
  virtual_loop loop;
  const archive_index ix = loop.run(read_archive_index(f, "http://h/a.pmtiles", set, o));
  EXPECT_EQ(f.ranges.size(), 1u);
  EXPECT_EQ(ix.present.size() + ix.absent.size(), set.count());
  for (const tile& t : ix.absent) EXPECT_EQ(t.z, 7);
  for (const tile_span& s : ix.present) EXPECT_EQ(s.where.z, 6);
  EXPECT_FALSE(ix.present.empty());
}

TEST(read_archive_index, retries_a_503_and_gives_up_at_once_on_a_404) {
  const archive a(0);
  const tiles_options o = options_of("13.30,52.45,13.50,52.56", "6");
  const tile_set set(o.boxes, o.zooms);
  {
    bytes_fetcher f;
    f.bytes = a.bytes;
    f.status = [](int n) { return n == 1 ? 503 : 206; };
    virtual_loop loop;
    EXPECT_FALSE(loop.run(read_archive_index(f, "http://h/a.pmtiles", set, o)).present.empty());
    EXPECT_EQ(f.ranges.size(), 2u);
  }
  bytes_fetcher f;
  f.status = [](int) { return 404; };
  virtual_loop loop;
  try {
    (void)loop.run(read_archive_index(f, "http://h/a.pmtiles", set, o));
    FAIL() << "no error";
  } catch (const archive_error& e) {
    EXPECT_STREQ(e.what(), "http://h/a.pmtiles: cannot read bytes 0-16383: HTTP status 404");
  }
  EXPECT_EQ(f.ranges.size(), 1u);
}

TEST(read_archive_index, never_takes_more_than_it_asked_for) {
  const archive a(0);
  const tiles_options o = options_of("13.30,52.45,13.50,52.56", "6");
  bytes_fetcher f;
  f.bytes = a.bytes;
  f.status = [](int) { return 0; };
  virtual_loop loop;
  try {
    (void)loop.run(read_archive_index(f, "http://h/a.pmtiles", tile_set(o.boxes, o.zooms), o));
    FAIL() << "no error";
  } catch (const archive_error& e) {
    EXPECT_NE(std::string(e.what()).find("ignores range requests"), std::string::npos) << e.what();
  }
  EXPECT_EQ(f.ranges.size(), 1u);  // not retried
  EXPECT_EQ(f.limits.at(0), std::optional<std::uint64_t>(16384));
}

TEST(read_archive_index, a_file_that_is_not_an_archive_is_an_error_naming_it) {
  cohort::test::scratch_dir dir;
  const std::string path = dir.write("x.pmtiles", "<html>not an archive</html>");
  file_range_fetcher f;
  const tiles_options o = options_of("13.30,52.45,13.50,52.56", "6");
  virtual_loop loop;
  const std::string url = pmtiles_source_url(path);
  EXPECT_EQ(url, "file://" + path);
  try {
    (void)loop.run(read_archive_index(f, url, tile_set(o.boxes, o.zooms), o));
    FAIL() << "no error";
  } catch (const archive_error& e) {
    EXPECT_NE(std::string(e.what()).find(url), std::string::npos) << e.what();
  }
}

TEST(read_archive_index, a_local_file_that_does_not_exist_is_said_so) {
  cohort::test::scratch_dir dir;
  file_range_fetcher f;
  const tiles_options o = options_of("13.30,52.45,13.50,52.56", "6");
  virtual_loop loop;
  const std::string url = pmtiles_source_url(dir.file("none.pmtiles"));
  try {
    (void)loop.run(read_archive_index(f, url, tile_set(o.boxes, o.zooms), o));
    FAIL() << "no error";
  } catch (const archive_error& e) {
    EXPECT_EQ(std::string(e.what()), url + ": cannot read bytes 0-16383: no such file");
  }
}

TEST(file_range_fetcher, answers_ranges_as_a_server_would) {
  cohort::test::scratch_dir dir;
  const std::string url = "file://" + dir.write("a.bin", "0123456789");
  file_range_fetcher f;
  virtual_loop loop;
  auto get = [&](std::string range) {
    http_request r(url);
    if (!range.empty()) r.headers.push_back("Range: bytes=" + range);
    return loop.run(f.fetch(r));
  };
  EXPECT_EQ(get("2-4").status, 206);
  EXPECT_EQ(get("2-4").body, "234");
  EXPECT_EQ(get("8-100").body, "89");  // clipped at the end, as a server does
  EXPECT_EQ(get("10-12").status, 416);
  EXPECT_EQ(get("").body, "0123456789");
  EXPECT_EQ(loop.run(f.fetch(http_request("file://" + dir.file("none")))).status, 404);
}

TEST(is_pmtiles_source, tells_an_archive_from_a_url_template) {
  EXPECT_TRUE(is_pmtiles_source("https://h/planet.pmtiles"));
  EXPECT_TRUE(is_pmtiles_source("https://h/planet.PMTiles?key=1"));
  EXPECT_TRUE(is_pmtiles_source("file:///data/x"));
  EXPECT_TRUE(is_pmtiles_source("data/city.pmtiles"));
  EXPECT_FALSE(is_pmtiles_source("https://h/{z}/{x}/{y}.png"));
  // Templates get url_template's errors, not "no such file".
  EXPECT_FALSE(is_pmtiles_source("tiles/{z}/{x}/{y}.png"));
  EXPECT_FALSE(is_pmtiles_source("file:///tiles/{z}/{x}/{y}.png"));
  EXPECT_EQ(pmtiles_source_url("https://h/a.pmtiles"), "https://h/a.pmtiles");
}

}  // namespace
