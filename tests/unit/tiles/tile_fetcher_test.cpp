#include "cohort/tiles/tile_fetcher.hpp"

#include <cohort/cancel_scope.hpp>
#include <cohort/runtime/asio_loop.hpp>
#include <cohort/task_group.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include "http_test_server.hpp"

// The fetcher of `cohort tiles --threads N`: the connections split among
// loops, requests spread over them and answered, a cancelled request
// abandoned on the loop that runs it, and a teardown right after a cancel.
// The test server runs on the main loop (the test's thread), the clients
// on it and on the fetcher's threads: real loopback traffic, no sleep.

namespace {

using namespace std::chrono_literals;
using cohort::http_request;
using cohort::http_response;
using cohort::task;
using cohort::app::tiles::split_connections;
using cohort::app::tiles::threaded_tile_fetcher;
using cohort::test::http_test_server;
using sizes = std::vector<std::size_t>;

struct ThreadedTileFetcher : ::testing::Test {
  boost::asio::io_context io;
  cohort::asio_loop loop{io};
  http_test_server server{io};

  template <class T>
  T run(task<T> t) {
    return loop.run(cohort::test::serving(server, std::move(t)));
  }
};

// `workers` tasks fetch /bytes/N for N = 100, 153, ... (`count` in all),
// counting the bodies that came back whole.
task<> fetch_many(threaded_tile_fetcher& f, http_test_server& s, int workers, int count,
                  int& whole) {
  int next = 0;
  co_await cohort::with_task_group([&](cohort::task_group& g) -> task<> {
    for (int w = 0; w < workers; ++w) {
      g.spawn([](threaded_tile_fetcher& f, http_test_server& s, int& next, int count,
                 int& whole) -> task<> {
        while (next < count) {
          const std::size_t n = 100 + 53 * static_cast<std::size_t>(next++);
          const http_response r =
              co_await f.fetch(http_request(s.url("/bytes/" + std::to_string(n))));
          if (!r.error && r.status == 200 && r.body == http_test_server::body(n)) ++whole;
        }
      }(f, s, next, count, whole));
    }
    co_return;
  });
}

// `count` fetches of /stall at once; `ended` counts those that return.
task<> stall_all(threaded_tile_fetcher& f, http_test_server& s, int count, int& ended) {
  co_await cohort::with_task_group([&](cohort::task_group& g) -> task<> {
    for (int i = 0; i < count; ++i) {
      g.spawn([](threaded_tile_fetcher& f, std::string url, int& ended) -> task<> {
        (void)co_await f.fetch(http_request(std::move(url)));
        ++ended;
      }(f, s.url("/stall"), ended));
    }
    co_return;
  });
}

TEST(SplitConnections, AddUpToTheConnectionsEachLoopAtLeastOne) {
  for (std::size_t j = 2; j <= 64; ++j) {
    for (std::size_t loops = 2; loops <= j; ++loops) {
      for (const double w : {0.0, 0.25, 0.5, 1.0}) {
        if (w == 0 && loops - 1 > j) continue;
        const sizes s = split_connections(j, loops, w);
        ASSERT_EQ(s.size(), loops);
        EXPECT_EQ(std::accumulate(s.begin(), s.end(), std::size_t{0}), j) << j << " " << loops;
        EXPECT_EQ(s[0] == 0, w == 0) << j << " " << loops << " " << w;
        const auto [lo, hi] = std::minmax_element(s.begin() + 1, s.end());
        EXPECT_GE(*lo, 1u);
        EXPECT_LE(*hi - *lo, 1u) << "the threads' shares are even";
      }
    }
  }
}

TEST(SplitConnections, TheMainLoopTakesItsWeight) {
  EXPECT_EQ(split_connections(16, 2, 1.0), (sizes{8, 8}));
  EXPECT_EQ(split_connections(16, 3, 0.5), (sizes{3, 7, 6}));
  EXPECT_EQ(split_connections(16, 2, 0.0), (sizes{0, 16}));
  EXPECT_EQ(split_connections(4, 4, 1.0), (sizes{1, 1, 1, 1}));
  EXPECT_EQ(split_connections(4, 3, 0.1), (sizes{1, 2, 1}));  // at least 1
  EXPECT_THROW(split_connections(2, 3, 1.0), std::invalid_argument);
}

TEST_F(ThreadedTileFetcher, OneLoopIsTheSingleLoopFetcherWithNoThread) {
  using cohort::app::tiles::http_tile_fetcher;
  using cohort::app::tiles::make_http_fetcher;
  EXPECT_NE(dynamic_cast<http_tile_fetcher*>(make_http_fetcher(loop, 16, 1).get()), nullptr);
  EXPECT_NE(dynamic_cast<http_tile_fetcher*>(make_http_fetcher(loop, 1, 4).get()), nullptr);
  const auto two = make_http_fetcher(loop, 16, 2);
  ASSERT_NE(dynamic_cast<threaded_tile_fetcher*>(two.get()), nullptr);
  EXPECT_EQ(dynamic_cast<threaded_tile_fetcher&>(*two).loads().size(), 2u);
  const auto capped = make_http_fetcher(loop, 3, 8);  // never more loops than connections
  EXPECT_EQ(dynamic_cast<threaded_tile_fetcher&>(*capped).loads().size(), 3u);
}

TEST_F(ThreadedTileFetcher, SharesAddUpToTheConnections) {
  for (const std::size_t loops : {2, 3, 5}) {
    threaded_tile_fetcher f(loop, 13, loops);
    const auto loads = f.loads();
    ASSERT_EQ(loads.size(), loops);
    std::size_t sum = 0;
    for (const auto& l : loads) {
      EXPECT_GE(l.share, 1u);
      sum += l.share;
    }
    EXPECT_EQ(sum, 13u);
  }
  // The main loop takes half a thread's share by default.
  threaded_tile_fetcher f(loop, 16, 2);
  EXPECT_EQ(f.loads()[0].share, 5u);
  EXPECT_EQ(f.loads()[1].share, 11u);
}

TEST_F(ThreadedTileFetcher, EveryLoopFetchesAndEveryBodyComesBackWhole) {
  threaded_tile_fetcher f(loop, 6, 3);
  int whole = 0;
  run(fetch_many(f, server, 6, 90, whole));
  EXPECT_EQ(whole, 90);
  EXPECT_EQ(server.requests(), 90u);
  std::size_t fetches = 0;
  const auto loads = f.loads();
  for (std::size_t i = 0; i < loads.size(); ++i) {
    EXPECT_EQ(loads[i].in_flight, 0u);
    EXPECT_GT(loads[i].fetches, 0u) << "lane " << i;
    EXPECT_EQ(f.client_stats(i).completed, loads[i].fetches) << "lane " << i;
    fetches += loads[i].fetches;
  }
  EXPECT_EQ(fetches, 90u);
  // Each client keeps at most its share of connections open.
  EXPECT_LE(server.connections(), 6u);
}

TEST_F(ThreadedTileFetcher, ACancelledFetchEndsAndItsRequestIsAbandonedOnItsLoop) {
  threaded_tile_fetcher f(loop, 2, 2, 0.0);  // every fetch on the thread
  cohort::cancel_scope scope;
  // Cancel exactly when the server has the request (and will never answer).
  server.on_request = [&scope](std::string_view target) {
    if (target == "/stall") scope.cancel();
  };
  bool after = false;
  const auto start = std::chrono::steady_clock::now();
  const http_response second =
      run([](threaded_tile_fetcher& f, http_test_server& s, cohort::cancel_scope& scope,
             bool& after) -> task<http_response> {
        (void)co_await scope.run(
            [](threaded_tile_fetcher& f, http_test_server& s, bool& after) -> task<> {
              (void)co_await f.fetch(http_request(s.url("/stall")));  // only the cancel ends it
              after = true;
            }(f, s, after));
        co_return co_await f.fetch(http_request(s.url("/bytes/10")));
      }(f, server, scope, after));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  EXPECT_TRUE(scope.cancelled_caught());
  EXPECT_FALSE(after);
  EXPECT_EQ(f.client_stats(1).cancelled, 1u);  // removed from libcurl on the thread
  EXPECT_EQ(f.client_stats(1).completed, 1u);
  EXPECT_EQ(f.loads()[1].in_flight, 0u);
  EXPECT_EQ(f.loads()[1].fetches, 2u);
  EXPECT_EQ(second.body, http_test_server::body(10));  // the client stays usable
  // The half-used connection was closed, not reused.
  EXPECT_EQ(server.connections(), 2u);
}

TEST_F(ThreadedTileFetcher, DestroyedAtOnceAfterItsFetchesInFlightAreCancelled) {
  // Eight requests stalled on three loops; once the server holds all of
  // them they are cancelled, and the fetcher is destroyed in the same task
  // at once: the threads' clients go on their threads, with their
  // connections half used, then the threads.
  auto f = std::make_unique<threaded_tile_fetcher>(loop, 8, 3);
  cohort::cancel_scope scope;
  server.on_request = [&](std::string_view) {
    if (server.requests() == 8) scope.cancel();
  };
  int ended = 0;
  const auto start = std::chrono::steady_clock::now();
  run([](std::unique_ptr<threaded_tile_fetcher>& f, http_test_server& s,
         cohort::cancel_scope& scope, int& ended) -> task<> {
    (void)co_await scope.run(stall_all(*f, s, 8, ended));
    for (const auto& l : f->loads()) EXPECT_EQ(l.in_flight, 0u);
    f.reset();
  }(f, server, scope, ended));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  EXPECT_TRUE(scope.cancelled_caught());
  EXPECT_EQ(ended, 0);
  EXPECT_EQ(f, nullptr);
}

TEST_F(ThreadedTileFetcher, DestroyedWithIdleConnectionsOnItsThreads) {
  int whole = 0;
  {
    threaded_tile_fetcher f(loop, 4, 4);
    run(fetch_many(f, server, 4, 12, whole));
  }
  EXPECT_EQ(whole, 12);
  // The loop and the server are still fine for another one.
  threaded_tile_fetcher f(loop, 2, 2);
  run(fetch_many(f, server, 2, 4, whole));
  EXPECT_EQ(whole, 16);
}

}  // namespace
