#include "cohort/tiles/tiles_engine.hpp"

#include "cohort/exit_codes.hpp"
#include "cohort/tiles/tiles_ending.hpp"
#include "cohort/tiles/tiles_report.hpp"

#include <cohort/sync_wait.hpp>

#include <fmt/core.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <csignal>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "scratch_dir.hpp"
#include "tiles_engine_fakes.hpp"
#include "virtual_loop.hpp"

// The downloader's fetching side on virtual time, with a scripted fetcher:
// every HTTP status and network-error branch, how each tile's outcome
// reaches the store and the report, and the exit status of each ending.

namespace {

using namespace tiles_engine_testing;
using cohort::cancel_reason;
using cohort::run_outcome;
using cohort::app::exit_failed;
using cohort::app::exit_interrupted;
using cohort::app::exit_ok;
using cohort::app::exit_terminated;
using cohort::app::tiles::end_download;
using cohort::app::tiles::make_report;
using cohort::app::tiles::tile_downloader;
using cohort::app::tiles::tile_set;
using cohort::app::tiles::tiles_exit_code;
using cohort::app::tiles::tiles_outcome;
using cohort::app::tiles::tiles_report;
using cohort::test::virtual_loop;

// 9 tiles at zoom 12 (3 x 3).
constexpr const char* box = "13.30,52.45,13.50,52.56";

std::string url_of(const tile& t) {
  return fmt::format("http://h:8/{}/{}/{}.png", t.z, t.x, t.y);
}

// One download: options, a store and a fetcher to set up, then run().
struct download {
  virtual_loop loop;  // first: it outlives everything that runs on it
  tiles_options o;
  memory_store store;
  fake_fetcher fetcher;
  std::vector<tile> tiles;  // the set's tiles, in the order they are fetched
  std::unique_ptr<tile_downloader> d;

  explicit download(tiles_options options) : o(std::move(options)) {
    const tile_set set(o.boxes, o.zooms);
    for (auto e = set.enumerate(); auto t = e.next();) tiles.push_back(*t);
  }
  explicit download(const char* zooms = "12") : download(options_for(box, zooms)) {}

  // Answers `t`'s requests with `a` (every other tile as before: 200 unless
  // said otherwise).
  void answer_for(const tile& t, std::function<answer(int attempt)> a) {
    auto rest = fetcher.script;
    fetcher.script = [url = url_of(t), a = std::move(a), rest](std::string_view u, int attempt) {
      return u == url ? a(attempt) : rest(u, attempt);
    };
  }
  void run() {
    d = std::make_unique<tile_downloader>(o, tile_set(o.boxes, o.zooms), store);
    loop.run(d->run(fetcher));
  }
  tiles_report report() { return make_report(o, *d, store, 1.0); }
  int attempts(const tile& t) const { return fetcher.attempts_of(url_of(t)); }
  duration since_start(std::size_t request) const {
    return fetcher.requests.at(request).at - virtual_loop::epoch();
  }
};

// Each tile is counted once: the summary's numbers add up to the total.
void expect_adds_up(const tiles_report& r) {
  EXPECT_EQ(r.stored + (r.skipped - r.skipped_missing) + r.unchanged + r.missing + r.failed +
                r.not_started,
            r.total);
}

TEST(tile_downloader_fetch, stores_every_tile_of_a_200_and_counts_its_bytes) {
  download t;
  t.o.headers = {"X-Key: 1"};
  t.o.max_tile_bytes = 1000;
  t.run();
  const std::size_t n = t.tiles.size();
  ASSERT_EQ(n, 9u);
  EXPECT_EQ(t.store.tiles.size(), n);
  EXPECT_EQ(t.store.tiles.at(t.tiles[0]), png_body);
  EXPECT_EQ(t.d->counts().stored, n);
  EXPECT_EQ(t.d->counts().bytes, n * png_body.size());
  EXPECT_EQ(t.d->summary().done, n);
  EXPECT_EQ(t.fetcher.requests.size(), n);
  const http_request& req = t.fetcher.requests[0].request;
  EXPECT_EQ(req.url, url_of(t.tiles[0]));
  EXPECT_EQ(req.headers, t.o.headers);
  EXPECT_EQ(req.max_body_bytes, 1000u);
  EXPECT_TRUE(req.if_none_match.empty());
  EXPECT_EQ(t.store.maybe_flushes, n);  // after each outcome
  EXPECT_GE(t.store.flushes, 1u);       // and once as the run ends
  const tiles_report r = t.report();
  expect_adds_up(r);
  EXPECT_EQ(r.handled, n);
  EXPECT_EQ(tiles_outcome(r, 0, false), "complete");
  EXPECT_EQ(tiles_exit_code(r, 0, false), exit_ok);
}

TEST(tile_downloader_fetch, a_404_or_a_204_is_missing_recorded_once_not_retried) {
  download t;
  t.answer_for(t.tiles[0], [](int) { return answer::with_status(404); });
  t.answer_for(t.tiles[1], [](int) { return answer::with_status(204); });
  t.run();
  EXPECT_EQ(t.attempts(t.tiles[0]), 1);
  EXPECT_EQ(t.attempts(t.tiles[1]), 1);
  EXPECT_EQ(t.store.missing, (std::set<tile>{t.tiles[0], t.tiles[1]}));
  EXPECT_EQ(t.d->counts().missing, 2u);
  EXPECT_EQ(t.d->counts().stored, t.tiles.size() - 2);
  EXPECT_EQ(t.d->summary().failed, 0u);
  const tiles_report r = t.report();
  expect_adds_up(r);
  EXPECT_EQ(tiles_exit_code(r, 0, false), exit_ok);
  EXPECT_EQ(tiles_outcome(r, 0, true), "failed");  // --strict
  EXPECT_EQ(tiles_exit_code(r, 0, true), exit_failed);
}

TEST(tile_downloader_fetch, refresh_sends_the_validators_and_a_304_is_unchanged) {
  download t;
  t.o.refresh = true;
  for (const tile& x : t.tiles)
    t.store.put(x, png_body, {"\"v1\"", "Mon, 01 Jan 2024 00:00:00 GMT"});
  t.fetcher.script = [](std::string_view, int) { return answer::with_status(304); };
  t.answer_for(t.tiles[0], [](int) {
    answer a;
    a.etag = "\"v2\"";
    return a;
  });
  t.run();
  EXPECT_EQ(t.fetcher.requests.size(), t.tiles.size());
  for (const auto& seen : t.fetcher.requests) {
    EXPECT_EQ(seen.request.if_none_match, "\"v1\"");
    EXPECT_EQ(seen.request.if_modified_since, "Mon, 01 Jan 2024 00:00:00 GMT");
  }
  EXPECT_EQ(t.d->counts().unchanged, t.tiles.size() - 1);
  EXPECT_EQ(t.d->counts().stored, 1u);
  EXPECT_EQ(t.store.validators_of.at(t.tiles[0]).etag, "\"v2\"");
  const tiles_report r = t.report();
  expect_adds_up(r);
  EXPECT_EQ(tiles_exit_code(r, 0, false), exit_ok);
}

class tile_downloader_retry_after : public testing::TestWithParam<int> {};

TEST_P(tile_downloader_retry_after, pauses_every_tile_of_the_host_then_retries) {
  // Two at a time. Tile 0 is told to come back in 5 s at 10 ms; tile 1 was
  // already asked for and is answered at 20 ms; every request after those
  // two waits for the pause, whichever tile it is for.
  download t;
  t.o.concurrency = 2;
  t.answer_for(t.tiles[0], [status = GetParam()](int attempt) {
    if (attempt > 1) return answer{};
    answer a = answer::with_status(status);
    a.retry_after = std::chrono::seconds(5);
    return a;
  });
  t.answer_for(t.tiles[1], [](int) {
    answer a;
    a.delay = 20ms;
    return a;
  });
  t.run();
  EXPECT_EQ(t.attempts(t.tiles[0]), 2);
  EXPECT_EQ(t.d->summary().done, t.tiles.size());
  EXPECT_EQ(t.d->summary().failed, 0u);
  EXPECT_EQ(t.d->progress().retries, 1u);
  ASSERT_EQ(t.fetcher.requests.size(), t.tiles.size() + 1);
  EXPECT_EQ(t.since_start(0), 0ms);
  EXPECT_EQ(t.since_start(1), 0ms);
  for (std::size_t i = 2; i < t.fetcher.requests.size(); ++i) {
    EXPECT_GE(t.since_start(i), 5s + 10ms) << "request " << i;
  }
  expect_adds_up(t.report());
}

INSTANTIATE_TEST_SUITE_P(status, tile_downloader_retry_after, testing::Values(429, 503));

class tile_downloader_refusal : public testing::TestWithParam<int> {};

TEST_P(tile_downloader_refusal, fails_at_once_is_counted_failed_and_listed) {
  download t;
  t.o.retries = 5;
  t.answer_for(t.tiles[3], [status = GetParam()](int) { return answer::with_status(status); });
  t.run();
  const std::string why = fmt::format("HTTP status {} (not retried)", GetParam());
  EXPECT_EQ(t.attempts(t.tiles[3]), 1);
  EXPECT_EQ(t.d->summary().failed, 1u);
  EXPECT_EQ(t.d->summary().done, t.tiles.size() - 1);
  EXPECT_EQ(t.store.failed, (std::map<tile, std::string>{{t.tiles[3], why}}));
  EXPECT_EQ(t.d->failures(), (std::vector<failed_tile>{{t.tiles[3], why}}));
  const tiles_report r = t.report();
  expect_adds_up(r);
  EXPECT_EQ(r.failed, 1u);
  EXPECT_EQ(r.handled, t.tiles.size());
  EXPECT_EQ(tiles_outcome(r, 0, false), "failed");
  EXPECT_EQ(tiles_exit_code(r, 0, false), exit_failed);
}

INSTANTIATE_TEST_SUITE_P(status, tile_downloader_refusal, testing::Values(403, 410));

TEST(tile_downloader_fetch, every_failed_tile_is_listed_and_the_first_ones_kept_for_the_report) {
  download t("11-12");
  t.fetcher.script = [](std::string_view, int) { return answer::with_status(403); };
  t.run();
  const std::size_t n = t.tiles.size();
  ASSERT_GT(n, tile_downloader::failures_kept);
  EXPECT_EQ(t.d->summary().failed, n);
  EXPECT_EQ(t.store.failed.size(), n);
  EXPECT_EQ(t.d->failures().size(), tile_downloader::failures_kept);
  EXPECT_EQ(t.fetcher.requests.size(), n);
  expect_adds_up(t.report());
}

TEST(tile_downloader_fetch, server_errors_and_timeouts_are_retried_up_to_retries_then_failed) {
  download t;
  t.o.retries = 2;
  t.o.retry_delay = std::chrono::milliseconds(100);
  t.answer_for(t.tiles[0], [](int) { return answer::with_status(500); });
  t.answer_for(t.tiles[1], [](int) { return answer::failing(curl_errc::operation_timedout); });
  t.answer_for(t.tiles[2],
               [](int attempt) { return attempt == 1 ? answer::with_status(502) : answer{}; });
  t.run();
  EXPECT_EQ(t.attempts(t.tiles[0]), 3);
  EXPECT_EQ(t.attempts(t.tiles[1]), 3);
  EXPECT_EQ(t.attempts(t.tiles[2]), 2);
  EXPECT_TRUE(t.store.has(t.tiles[2]));
  EXPECT_EQ(t.d->summary().failed, 2u);
  const std::string timeout = make_error_code(curl_errc::operation_timedout).message();
  EXPECT_EQ(t.store.failed,
            (std::map<tile, std::string>{{t.tiles[0], "HTTP status 500 (after 3 attempts)"},
                                         {t.tiles[1], timeout + " (after 3 attempts)"}}));
  // (Kept in the order they failed, which the retries' jitter decides.)
  auto failures = t.d->failures();
  std::sort(failures.begin(), failures.end(),
            [](const failed_tile& a, const failed_tile& b) { return a.where < b.where; });
  EXPECT_EQ(failures, (std::vector<failed_tile>{{t.tiles[0], "HTTP status 500 (3 attempts)"},
                                                {t.tiles[1], timeout + " (3 attempts)"}}));
  const tiles_report r = t.report();
  expect_adds_up(r);
  EXPECT_EQ(tiles_exit_code(r, 0, false), exit_failed);
}

// end_download's exit status for a run that ended without a signal.
int exit_status_of(download& t) {
  return end_download(t.o, *t.d, t.store, run_outcome{0, 0}, 1.0, nullptr, "cohort tiles ...");
}

TEST(tile_downloader_fetch, an_unreachable_server_stops_the_run_with_its_message) {
  download t;
  t.o.concurrency = 2;
  t.fetcher.script = [](std::string_view, int) {
    return answer::failing(curl_errc::couldnt_connect);
  };
  t.run();
  ASSERT_TRUE(t.d->stop_error());
  EXPECT_NE(t.d->stop_error()->find("cannot reach h:8: "), std::string::npos) << *t.d->stop_error();
  EXPECT_NE(t.d->stop_error()->find("check --url"), std::string::npos) << *t.d->stop_error();
  // The sixth failure stops it (the other tile may have had a request on
  // the way, cancelled); then no more.
  EXPECT_GE(t.fetcher.requests.size(), 2 * t.o.concurrency + 2);
  EXPECT_LE(t.fetcher.requests.size(), 2 * t.o.concurrency + 3);
  // The tile that stopped the run is not done: it was not fetched.
  EXPECT_EQ(t.d->summary().done, 0u);
  EXPECT_EQ(t.d->summary().failed, 0u);
  EXPECT_EQ(t.d->summary().cancelled, 2u);
  EXPECT_TRUE(t.store.tiles.empty());
  const tiles_report r = t.report();
  expect_adds_up(r);
  EXPECT_EQ(r.not_started, t.tiles.size());
  EXPECT_EQ(exit_status_of(t), exit_failed);
}

TEST(tile_downloader_fetch, a_server_whose_answers_all_fail_the_same_way_is_stopped) {
  download t("11-12");
  t.o.concurrency = 1;
  t.o.max_failures_in_a_row = 10;  // the first 5 answers, before any tile
  t.fetcher.script = [](std::string_view, int) { return answer::with_status(503); };
  t.run();
  ASSERT_TRUE(t.d->stop_error());
  EXPECT_NE(t.d->stop_error()->find("HTTP 503"), std::string::npos) << *t.d->stop_error();
  EXPECT_EQ(t.fetcher.requests.size(), 5u);
  EXPECT_TRUE(t.store.tiles.empty());
  expect_adds_up(t.report());
  EXPECT_EQ(exit_status_of(t), exit_failed);
}

TEST(tile_downloader_fetch, a_store_that_cannot_write_stops_the_run_at_once) {
  download t;
  t.o.concurrency = 2;
  t.store.fail_put = "cannot write memory/12/2199/1342.png: No space left on device";
  t.run();
  EXPECT_EQ(t.d->stop_error(), t.store.fail_put);
  EXPECT_EQ(t.fetcher.requests.size(), 2u);  // the two first; the other one was cancelled
  EXPECT_EQ(t.fetcher.cancelled, 0u);        // (both answered in the same instant)
  EXPECT_EQ(t.d->summary().done, 0u);
  EXPECT_TRUE(t.store.tiles.empty());
  EXPECT_TRUE(t.store.failed.empty());  // nothing is the tiles' fault
  const tiles_report r = t.report();
  expect_adds_up(r);
  EXPECT_EQ(r.not_started, t.tiles.size());
  EXPECT_EQ(exit_status_of(t), exit_failed);
}

TEST(tile_downloader_fetch, a_store_that_cannot_commit_its_batch_stops_the_run_with_its_message) {
  download t;
  t.o.concurrency = 1;
  t.store.fail_commit = "output memory: database or disk is full";
  t.run();
  EXPECT_EQ(t.d->stop_error(), t.store.fail_commit);
  EXPECT_EQ(t.fetcher.requests.size(), 1u);  // nothing started after it
  EXPECT_EQ(t.d->summary().done, 1u);        // the tile itself was put
  expect_adds_up(t.report());
  EXPECT_EQ(exit_status_of(t), exit_failed);
}

TEST(tile_downloader_fetch, a_directory_store_that_cannot_make_its_directory_stops_the_run) {
  cohort::test::scratch_dir dir("tiles-engine-");
  download t;
  auto store = cohort::app::tiles::open_directory_store(
      dir.path() / "out", {t.o.url.source_text(), t.o.boxes, t.o.zooms}, {.format = "png"});
  std::ofstream(dir.path() / "out" / "12") << "not a directory\n";  // where directory 12/ goes
  t.d = std::make_unique<tile_downloader>(t.o, tile_set(t.o.boxes, t.o.zooms), *store);
  t.loop.run(t.d->run(t.fetcher));
  ASSERT_TRUE(t.d->stop_error());
  EXPECT_NE(t.d->stop_error()->find("12"), std::string::npos) << *t.d->stop_error();
  EXPECT_LE(t.fetcher.requests.size(), t.o.concurrency);
  EXPECT_EQ(store->stored_count(), 0u);
  EXPECT_EQ(t.d->summary().done, 0u);
}

TEST(tile_downloader_fetch, oversized_tiles_and_other_content_types_fail_after_their_retries) {
  download t;
  t.o.retries = 1;
  t.o.max_tile_bytes = 100;
  t.answer_for(t.tiles[0], [](int) {
    answer a;
    a.body = png_body + std::string(200, 'x');
    return a;
  });
  t.answer_for(t.tiles[1], [](int) {
    answer a;
    a.content_type = "text/html; charset=utf-8";
    a.body = "<!doctype html>";
    return a;
  });
  t.run();
  EXPECT_EQ(t.fetcher.requests[0].request.max_body_bytes, 100u);
  EXPECT_EQ(t.attempts(t.tiles[0]), 2);
  EXPECT_EQ(t.attempts(t.tiles[1]), 2);
  const std::string big = fmt::format("{} bytes, more than --max-tile-bytes 100 (after 2 attempts)",
                                      png_body.size() + 200);
  EXPECT_EQ(t.store.failed,
            (std::map<tile, std::string>{
                {t.tiles[0], big},
                {t.tiles[1], "content type text/html is not a tile (after 2 attempts)"}}));
  EXPECT_EQ(t.d->counts().stored, t.tiles.size() - 2);
  const tiles_report r = t.report();
  expect_adds_up(r);
  EXPECT_EQ(tiles_exit_code(r, 0, false), exit_failed);
}

TEST(tile_downloader_fetch,
     a_cancel_mid_run_cancels_running_tiles_and_counts_the_rest_not_started) {
  // Two at a time, 100 ms each; the cancel comes at 250 ms: tiles 0-3 are
  // stored, 4 and 5 are running, 6-8 never started.
  download t;
  t.o.concurrency = 2;
  t.fetcher.script = [](std::string_view, int) {
    answer a;
    a.delay = 100ms;
    return a;
  };
  t.loop.call_after(250ms, [&] { t.loop.cancel_root(cancel_reason::signal); });
  EXPECT_THROW(t.run(), cohort::cancelled_error);
  EXPECT_EQ(t.store.tiles.size(), 4u);
  EXPECT_EQ(t.fetcher.completed, 4u);
  EXPECT_EQ(t.fetcher.cancelled, 2u);
  EXPECT_GE(t.store.flushes, 1u);  // what the finished tiles changed is committed
  const auto& s = t.d->summary();
  EXPECT_EQ(s.done, 4u);
  EXPECT_EQ(s.cancelled, 2u);
  EXPECT_EQ(s.not_started, 3u);
  EXPECT_TRUE(t.store.failed.empty());
  const tiles_report r = t.report();
  expect_adds_up(r);
  EXPECT_EQ(r.not_started, 5u);
  EXPECT_EQ(tiles_outcome(r, SIGINT, false), "interrupted");
  EXPECT_EQ(tiles_exit_code(r, SIGINT, false), exit_interrupted);
  EXPECT_EQ(tiles_exit_code(r, SIGTERM, false), exit_terminated);
}

}  // namespace
