#include "cohort/tiles/tiles_engine.hpp"

#include "cohort/exit_codes.hpp"
#include "cohort/tiles/tiles_ending.hpp"
#include "cohort/tiles/tiles_report.hpp"

#include <fmt/core.h>
#include <gtest/gtest.h>

#include <csignal>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tiles_engine_fakes.hpp"
#include "virtual_loop.hpp"

// The downloader's side for PMTiles archives on virtual time: its tasks are
// byte ranges holding several tiles, fetched from a fake archive that
// answers Range requests as a script says.

namespace {

using namespace tiles_engine_testing;
using cohort::cancel_reason;
using cohort::app::exit_interrupted;
using cohort::app::exit_ok;
using cohort::app::tiles::archive_plan;
using cohort::app::tiles::coalesce_limits;
using cohort::app::tiles::make_report;
using cohort::app::tiles::plan_range_requests;
using cohort::app::tiles::range_request;
using cohort::app::tiles::tile_downloader;
using cohort::app::tiles::tile_set;
using cohort::app::tiles::tile_span;
using cohort::app::tiles::tiles_exit_code;
using cohort::app::tiles::tiles_report;
using cohort::test::virtual_loop;

// 9 tiles at zoom 12 (3 x 3).
constexpr const char* box = "13.30,52.45,13.50,52.56";
constexpr const char* archive_url = "http://h:8/area.pmtiles";

// Answers Range requests from `bytes`; script(offset of the range, attempt)
// may answer otherwise (an answer with status 206 and an empty body: the
// bytes asked for).
class range_fetcher final : public tile_fetcher {
 public:
  std::string bytes;
  std::function<answer(std::uint64_t offset, int attempt)> script = [](std::uint64_t, int) {
    answer a;
    a.status = 206;
    a.body.clear();
    return a;
  };
  struct seen {
    http_request request;
    time_point at;
  };
  std::vector<seen> requests;
  std::map<std::uint64_t, int> attempts;

  task<http_response> fetch(http_request request) override {
    unsigned long long first = 0;
    unsigned long long last = 0;
    for (const auto& h : request.headers) {
      (void)std::sscanf(h.c_str(), "Range: bytes=%llu-%llu", &first, &last);
    }
    const answer a = script(first, ++attempts[first]);
    const time_point at = (co_await cohort::this_scheduler()).now();
    requests.push_back({request, at});
    co_await cohort::sleep_for(a.delay);
    http_response r;
    if (a.error != curl_errc::ok) {
      r.error = make_error_code(a.error);
      co_return r;
    }
    r.status = a.status;
    r.retry_after = a.retry_after;
    r.body = a.status == 206 && a.body.empty() ? bytes.substr(first, last - first + 1) : a.body;
    co_return r;
  }
};

// A tile's own bytes: a PNG as far as validation looks, told apart by its tile.
std::string bytes_of(const tile& t) {
  return png_body + fmt::format("{}/{}/{}", t.z, t.x, t.y);
}

// One extraction: the set's tiles laid out in an archive, with a gap of
// foreign bytes after every third tile, and the last tile absent.
struct extraction {
  virtual_loop loop;
  tiles_options o = options_for(box, "12");
  memory_store store;
  range_fetcher fetcher;
  std::vector<tile> tiles;
  std::vector<tile_span> spans;
  coalesce_limits limits;
  std::unique_ptr<tile_downloader> d;

  extraction() {
    const tile_set set(o.boxes, o.zooms);
    for (auto e = set.enumerate(); auto t = e.next();) tiles.push_back(*t);
    fetcher.bytes = std::string(100, 'h');
    for (std::size_t i = 0; i + 1 < tiles.size(); ++i) {
      const std::string b = bytes_of(tiles[i]);
      spans.push_back({tiles[i], fetcher.bytes.size(), static_cast<std::uint32_t>(b.size())});
      fetcher.bytes += b;
      if (i % 3 == 2) fetcher.bytes += std::string(1000, 'x');  // not bridged
    }
  }
  archive_plan plan() const {
    std::vector<tile_span> wanted;
    for (const auto& s : spans) {
      if (!store.has(s.where)) wanted.push_back(s);
    }
    return archive_plan{archive_url, plan_range_requests(wanted, limits), {tiles.back()}};
  }
  void run() {
    d = std::make_unique<tile_downloader>(o, tile_set(o.boxes, o.zooms), store, plan());
    loop.run(d->run(fetcher));
  }
  tiles_report report() { return make_report(o, *d, store, 1.0); }
  std::uint64_t offset_of(std::size_t tile_index) const { return spans.at(tile_index).offset; }
};

void expect_adds_up(const tiles_report& r) {
  EXPECT_EQ(r.stored + (r.skipped - r.skipped_missing) + r.unchanged + r.missing + r.failed +
                r.not_started,
            r.total);
}

TEST(tile_downloader_ranges, fetches_each_range_once_and_stores_its_tiles_as_they_are) {
  extraction x;
  x.run();
  ASSERT_EQ(x.tiles.size(), 9u);
  ASSERT_EQ(x.fetcher.requests.size(), 3u);  // tiles 0-2, 3-5, 6-7
  const http_request& first = x.fetcher.requests[0].request;
  EXPECT_EQ(first.url, archive_url);
  const std::uint64_t end = x.offset_of(2) + x.spans[2].length;
  EXPECT_EQ(first.headers.back(), fmt::format("Range: bytes={}-{}", x.offset_of(0), end - 1));
  EXPECT_EQ(first.max_body_bytes, end - x.offset_of(0));
  for (std::size_t i = 0; i + 1 < x.tiles.size(); ++i) {
    EXPECT_EQ(x.store.tiles.at(x.tiles[i]), bytes_of(x.tiles[i]));
  }
  EXPECT_EQ(x.store.missing, (std::set<tile>{x.tiles.back()}));  // not in the archive
  EXPECT_EQ(x.d->counts().stored, 8u);
  const tiles_report r = x.report();
  expect_adds_up(r);
  EXPECT_EQ(r.missing, 1u);
  EXPECT_EQ(tiles_exit_code(r, 0, false), exit_ok);
}

TEST(tile_downloader_ranges, a_failed_range_is_retried_whole_and_its_good_tiles_stored_once) {
  extraction x;
  // The first answer for tiles 3-5 has tile 4 replaced by an HTML page.
  x.fetcher.script = [&](std::uint64_t offset, int attempt) {
    answer a;
    a.status = 206;
    a.body.clear();
    if (offset == x.offset_of(3) && attempt == 1) {
      a.body = x.fetcher.bytes.substr(offset, x.offset_of(5) + x.spans[5].length - offset);
      const std::size_t at = x.offset_of(4) - offset;
      a.body.replace(at, x.spans[4].length, std::string(x.spans[4].length, '<'));
    }
    return a;
  };
  x.run();
  EXPECT_EQ(x.fetcher.attempts.at(x.offset_of(3)), 2);
  EXPECT_EQ(x.store.tiles.at(x.tiles[4]), bytes_of(x.tiles[4]));
  // Tiles 3 and 5 were stored by the first attempt, not again by the second.
  EXPECT_EQ(x.d->counts().stored, 8u);
  EXPECT_TRUE(x.store.failed.empty());
  expect_adds_up(x.report());
}

TEST(tile_downloader_ranges, a_refused_range_lists_each_of_its_tiles_as_failed_not_retried) {
  extraction x;
  x.fetcher.script = [&](std::uint64_t offset, int) {
    answer a = answer::with_status(offset == x.offset_of(6) ? 403 : 206);
    a.body.clear();
    return a;
  };
  x.run();
  EXPECT_EQ(x.fetcher.attempts.at(x.offset_of(6)), 1);
  ASSERT_EQ(x.store.failed.size(), 2u);  // tiles 6 and 7
  EXPECT_EQ(x.store.failed.at(x.tiles[6]), "HTTP status 403 (not retried)");
  EXPECT_EQ(x.d->failures().size(), 2u);
  const tiles_report r = x.report();
  EXPECT_EQ(r.failed, 2u);
  EXPECT_EQ(r.stored, 6u);
  expect_adds_up(r);
}

TEST(tile_downloader_ranges, a_503_with_retry_after_pauses_the_archives_host) {
  extraction x;
  x.o.concurrency = 1;
  x.fetcher.script = [&](std::uint64_t offset, int attempt) {
    answer a = answer::with_status(206);
    a.body.clear();
    if (offset == x.offset_of(0) && attempt == 1) {
      a = answer::with_status(503);
      a.retry_after = std::chrono::seconds(7);
    }
    return a;
  };
  x.run();
  ASSERT_EQ(x.fetcher.requests.size(), 4u);
  EXPECT_GE(x.fetcher.requests[1].at - x.fetcher.requests[0].at, 7s);
  EXPECT_EQ(x.d->counts().stored, 8u);
}

TEST(tile_downloader_ranges, a_server_that_ignores_range_requests_stops_the_run) {
  extraction x;
  x.fetcher.script = [](std::uint64_t, int) { return answer::with_status(200); };
  x.run();
  ASSERT_TRUE(x.d->stop_error().has_value());
  EXPECT_NE(x.d->stop_error()->find("ignores range requests"), std::string::npos)
      << *x.d->stop_error();
  EXPECT_LE(x.fetcher.requests.size(), 4u);  // -j 4: the first wave, no retries
  EXPECT_TRUE(x.store.tiles.empty());
}

TEST(tile_downloader_ranges, a_whole_archive_sent_for_a_range_stops_the_run) {
  // curl stops a body larger than the range asked for (max_body_bytes).
  extraction x;
  x.fetcher.script = [](std::uint64_t, int) {
    return answer::failing(curl_errc::filesize_exceeded);
  };
  x.run();
  ASSERT_TRUE(x.d->stop_error().has_value());
  EXPECT_NE(x.d->stop_error()->find("ignores range requests"), std::string::npos)
      << *x.d->stop_error();
  EXPECT_LE(x.fetcher.requests.size(), 4u);
}

TEST(tile_downloader_ranges, a_short_range_is_a_failed_attempt) {
  extraction x;
  x.fetcher.script = [&](std::uint64_t offset, int attempt) {
    answer a = answer::with_status(206);
    a.body = offset == x.offset_of(3) && attempt == 1 ? std::string("\x89PNG", 4) : "";
    return a;
  };
  x.run();
  EXPECT_EQ(x.fetcher.attempts.at(x.offset_of(3)), 2);
  EXPECT_EQ(x.d->counts().stored, 8u);
}

TEST(tile_downloader_ranges, an_interrupt_keeps_finished_ranges_and_a_rerun_fetches_the_rest) {
  extraction x;
  x.o.concurrency = 1;
  x.fetcher.script = [](std::uint64_t, int) {
    answer a = answer::with_status(206);
    a.body.clear();
    a.delay = 100ms;
    return a;
  };
  x.loop.call_after(150ms, [&] { x.loop.cancel_root(cancel_reason::signal); });
  EXPECT_THROW(x.run(), cohort::cancelled_error);
  EXPECT_EQ(x.store.tiles.size(), 3u);  // the first range
  const tiles_report r = x.report();
  expect_adds_up(r);
  EXPECT_EQ(r.not_started, 5u);
  EXPECT_EQ(tiles_exit_code(r, SIGINT, false), exit_interrupted);

  // The next run plans only what is not stored.
  extraction again;
  again.store.tiles = x.store.tiles;
  again.store.missing = x.store.missing;
  again.run();
  ASSERT_EQ(again.fetcher.requests.size(), 2u);
  EXPECT_EQ(again.fetcher.requests[0].request.headers.back().rfind(
                fmt::format("Range: bytes={}-", again.offset_of(3)), 0),
            0u);
  EXPECT_EQ(again.d->counts().stored, 5u);
  EXPECT_EQ(again.d->counts().skipped, 4u);  // 3 stored, 1 known missing
  expect_adds_up(again.report());
}

// Hands out the ranges two per batch after reading a leaf (10 ms), and
// the absent tiles with the last.
struct two_ranges_per_batch final : cohort::app::tiles::archive_batches {
  std::vector<range_request> left;
  std::vector<tile> absent;
  std::size_t at = 0;
  task<bool> next(tile_fetcher&, const tiles_options&,
                  cohort::app::tiles::archive_batch& out) override {
    co_await cohort::sleep_for(std::chrono::milliseconds(10));
    if (at == left.size()) co_return false;
    for (int i = 0; i < 2 && at < left.size(); ++i) out.requests.push_back(left[at++]);
    if (at == left.size()) out.absent = absent;
    co_return true;
  }
};

TEST(tile_downloader_ranges, ranges_planned_batch_by_batch_keep_every_worker_busy) {
  extraction x;
  x.o.concurrency = 3;
  x.limits.max_request_bytes = 1;  // a request per tile
  archive_plan p = x.plan();
  auto more = std::make_unique<two_ranges_per_batch>();
  more->left = std::move(p.requests);
  more->absent = std::move(p.absent);
  p.requests.clear();
  p.absent.clear();
  p.more = std::move(more);
  x.fetcher.script = [](std::uint64_t, int) {
    answer a;
    a.status = 206;
    a.body.clear();
    a.delay = std::chrono::seconds(1);
    return a;
  };
  x.d =
      std::make_unique<tile_downloader>(x.o, tile_set(x.o.boxes, x.o.zooms), x.store, std::move(p));
  x.loop.run(x.d->run(x.fetcher));
  ASSERT_EQ(x.fetcher.requests.size(), 8u);
  // Three at a time throughout: 8 ranges of a second each, all started
  // within 2 s (plus the leaves' reading).
  EXPECT_LT(x.fetcher.requests[2].at - x.fetcher.requests[0].at, std::chrono::seconds(1));
  EXPECT_LT(x.fetcher.requests[5].at - x.fetcher.requests[0].at, std::chrono::seconds(2));
  EXPECT_LT(x.fetcher.requests[7].at - x.fetcher.requests[0].at, std::chrono::seconds(3));
  const tiles_report r = x.report();
  EXPECT_EQ(r.stored, 8u);
  EXPECT_EQ(r.missing, 1u);
  EXPECT_EQ(x.d->progress().done, 9u);  // in tiles: 8 stored, 1 missing
  expect_adds_up(r);
}

}  // namespace
