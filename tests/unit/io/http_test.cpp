#include <cohort/io/http.hpp>

#include <cohort/cancel_scope.hpp>
#include <cohort/runtime/asio_loop.hpp>
#include <cohort/sleep.hpp>
#include <cohort/task_group.hpp>

#include "http_test_server.hpp"
#include "lifetime.hpp"

#include <gtest/gtest.h>
#include <boost/asio/ip/tcp.hpp>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

using namespace std::chrono_literals;
namespace asio = boost::asio;
using cohort::curl_errc;
using cohort::http_client;
using cohort::http_request;
using cohort::http_response;
using cohort::task;
using cohort::test::http_test_server;

namespace {

task<http_response> fetch(http_client& client, http_request request) {
  co_return co_await client.get(std::move(request));
}

task<http_response> fetch_ec(http_client& client, http_request request) {
  co_return co_await client.get_ec(std::move(request));
}

// "Wed, 21 Oct 2015 07:28:00 GMT" for `t`.
std::string http_date(std::chrono::system_clock::time_point t) {
  const std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return buf;
}

std::string percent_encode(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (std::isalnum(static_cast<unsigned char>(c))) {
      out += c;
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", static_cast<unsigned char>(c));
      out += buf;
    }
  }
  return out;
}

// A port on 127.0.0.1 that nothing listens on.
std::uint16_t closed_port(asio::io_context& io) {
  asio::ip::tcp::acceptor a(io, {asio::ip::make_address("127.0.0.1"), 0});
  return a.local_endpoint().port();
}

struct Http : ::testing::Test {
  asio::io_context io;
  cohort::asio_loop loop{io};
  http_test_server server{io};

  // Runs `t` on the loop while the server serves.
  template <class T>
  T run(task<T> t) {
    return loop.run(cohort::test::serving(server, std::move(t)));
  }
  http_request at(std::string_view path) { return http_request(server.url(path)); }
};

// --- responses --------------------------------------------------------------

TEST_F(Http, GetReturnsTheExactBodyAndHeaders) {
  http_client client(loop);
  const http_response r = run(fetch(client, at("/bytes/300000")));
  EXPECT_FALSE(r.error) << r.error_message;
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(r.ok());
  ASSERT_EQ(r.body.size(), 300000u);
  EXPECT_EQ(r.body, http_test_server::body(300000));
  EXPECT_EQ(r.content_type, "application/octet-stream");
  EXPECT_GT(r.total_time, cohort::duration::zero());
  EXPECT_EQ(client.stats().completed, 1u);
  EXPECT_EQ(client.stats().bytes_received, 300000u);
  EXPECT_EQ(client.in_flight(), 0u);
}

TEST_F(Http, EmptyBody) {
  http_client client(loop);
  const http_response r = run(fetch(client, at("/bytes/0")));
  EXPECT_TRUE(r.ok());
  EXPECT_TRUE(r.body.empty());
}

TEST_F(Http, NotFoundIsAResponseNotAnError) {
  http_client client(loop);
  const http_response r = run(fetch(client, at("/nothing/here")));  // the throwing flavour
  EXPECT_FALSE(r.error);
  EXPECT_EQ(r.status, 404);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.body, "not found\n");
  EXPECT_EQ(client.stats().completed, 1u);
  EXPECT_EQ(client.stats().failed, 0u);
}

TEST_F(Http, TooManyRequestsCarriesRetryAfterSeconds) {
  http_client client(loop);
  const http_response r = run(fetch(client, at("/status/429?retry-after=120")));
  EXPECT_FALSE(r.error);
  EXPECT_EQ(r.status, 429);
  ASSERT_TRUE(r.retry_after.has_value());
  EXPECT_EQ(*r.retry_after, 120s);
}

TEST_F(Http, RetryAfterAsAnHttpDateIsSecondsFromNow) {
  http_client client(loop);
  const std::string date = http_date(std::chrono::system_clock::now() + 1h);
  const http_response r = run(fetch(client, at("/status/503?retry-after=" + percent_encode(date))));
  EXPECT_EQ(r.status, 503);
  ASSERT_TRUE(r.retry_after.has_value());
  EXPECT_GE(*r.retry_after, 3590s);
  EXPECT_LE(*r.retry_after, 3600s);
}

TEST_F(Http, NoRetryAfterHeaderMeansEmpty) {
  http_client client(loop);
  const http_response r = run(fetch(client, at("/status/503")));
  EXPECT_EQ(r.status, 503);
  EXPECT_FALSE(r.retry_after.has_value());
}

TEST_F(Http, RequestHeadersAndDefaultUserAgentAreSent) {
  http_client client(loop);
  http_request req = at("/echo");
  req.headers = {"X-One: 1", "X-Two: two"};
  const http_response r = run(fetch(client, req));
  EXPECT_NE(r.body.find("X-One: 1\r\n"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("X-Two: two\r\n"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("User-Agent: " + std::string(cohort::http_default_user_agent()) + "\r\n"),
            std::string::npos)
      << r.body;
  EXPECT_TRUE(cohort::http_default_user_agent().starts_with("cohort/"));
}

TEST_F(Http, CustomUserAgent) {
  http_client client(loop);
  http_request req = at("/echo");
  req.user_agent = "tiles-test/1.0 (ops@example.org)";
  const http_response r = run(fetch(client, req));
  EXPECT_NE(r.body.find("User-Agent: tiles-test/1.0 (ops@example.org)\r\n"), std::string::npos)
      << r.body;
}

TEST_F(Http, RedirectsAreFollowedUnlessDisabled) {
  http_client client(loop);
  const http_response followed = run(fetch(client, at("/redirect/bytes/10")));
  EXPECT_EQ(followed.status, 200);
  EXPECT_EQ(followed.body, http_test_server::body(10));

  http_request req = at("/redirect/bytes/10");
  req.max_redirects = 0;
  const http_response not_followed = run(fetch(client, req));
  EXPECT_EQ(not_followed.status, 302);
}

TEST_F(Http, OnlyHttpAndHttpsAreFetched) {
  http_client client(loop);
  const http_response r = run(fetch_ec(client, "file:///etc/passwd"));
  EXPECT_EQ(r.error, curl_errc::unsupported_protocol);
  EXPECT_TRUE(r.body.empty());
}

// --- revalidation -----------------------------------------------------------

TEST_F(Http, ETagRevalidationGetsNotModified) {
  http_client client(loop);
  struct results {
    http_response first, by_etag, by_date, stale;
  };
  const results r = run([](http_client& c, std::string url) -> task<results> {
    results out;
    out.first = co_await c.get(url);
    http_request by_etag(url);
    by_etag.if_none_match = out.first.etag;
    out.by_etag = co_await c.get(std::move(by_etag));
    http_request by_date(url);
    by_date.if_modified_since = out.first.last_modified;
    out.by_date = co_await c.get(std::move(by_date));
    http_request stale(url);
    stale.if_none_match = "\"other\"";
    out.stale = co_await c.get(std::move(stale));
    co_return out;
  }(client, server.url("/etag/abc")));
  EXPECT_EQ(r.first.status, 200);
  EXPECT_EQ(r.first.etag, "\"abc\"");
  EXPECT_EQ(r.first.last_modified, http_test_server::last_modified);
  EXPECT_EQ(r.first.body, "tile abc");

  EXPECT_TRUE(r.by_etag.not_modified());
  EXPECT_TRUE(r.by_etag.body.empty());
  EXPECT_EQ(r.by_etag.etag, "\"abc\"");
  EXPECT_TRUE(r.by_date.not_modified());
  EXPECT_EQ(r.stale.status, 200);
  EXPECT_EQ(r.stale.body, "tile abc");
}

// --- network errors ---------------------------------------------------------

TEST_F(Http, ConnectionRefusedIsAnError) {
  http_client client(loop);
  const std::string url = "http://127.0.0.1:" + std::to_string(closed_port(io)) + "/x";
  const http_response r = run(fetch_ec(client, url));
  EXPECT_EQ(r.error, curl_errc::couldnt_connect);
  EXPECT_FALSE(r.error_message.empty());
  EXPECT_EQ(r.status, 0);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(client.stats().failed, 1u);
}

TEST_F(Http, ThrowingFlavourThrowsHttpErrorNamingTheUrl) {
  http_client client(loop);
  const std::string url = "http://127.0.0.1:" + std::to_string(closed_port(io)) + "/refused";
  try {
    (void)run(fetch(client, url));
    FAIL() << "no exception";
  } catch (const cohort::http_error& e) {
    EXPECT_EQ(e.code(), curl_errc::couldnt_connect);
    EXPECT_EQ(e.url(), url);
    EXPECT_NE(std::string(e.what()).find(url), std::string::npos) << e.what();
    EXPECT_EQ(e.code().category().name(), std::string("curl"));
  }
}

TEST_F(Http, StalledServerHitsTheTotalTimeout) {
  http_client client(loop);
  http_request req = at("/stall");
  req.total_timeout = 200ms;
  const auto start = cohort::clock::now();
  const http_response r = run(fetch_ec(client, req));
  const auto took = cohort::clock::now() - start;
  EXPECT_EQ(r.error, curl_errc::operation_timedout) << r.error_message;
  EXPECT_GE(took, 200ms);
  EXPECT_LT(took, 5s);
}

// Issue 13: the server stalls every request. Four requests and four
// connections: all four reach the server at once (not one, the others
// parked until its answer) and each ends by its own whole-request timeout.
TEST_F(Http, StalledRequestsRunAtOnceUpToTheConnectionLimit) {
  http_client client(loop, {.max_host_connections = 4});
  std::size_t most_open = 0;
  server.on_request = [&](std::string_view) {
    most_open = std::max(most_open, server.open_connections());
  };
  std::vector<http_response> results(4);
  const auto start = cohort::clock::now();
  run([](http_client& c, http_test_server& s, std::vector<http_response>& results) -> task<> {
    co_await cohort::with_task_group([&](cohort::task_group& g) -> task<> {
      for (http_response& out : results) {
        g.spawn([](http_client& c, http_request req, http_response& out) -> task<> {
          req.total_timeout = 500ms;
          out = co_await c.get_ec(std::move(req));
        }(c, http_request(s.url("/stall")), out));
      }
      co_return;
    });
  }(client, server, results));
  const auto took = cohort::clock::now() - start;
  EXPECT_EQ(server.requests(), 4u);
  EXPECT_EQ(most_open, 4u);
  for (const http_response& r : results) {
    EXPECT_EQ(r.error, curl_errc::operation_timedout) << r.error_message;
    EXPECT_NE(r.error_message.find("timed out after 5"), std::string::npos) << r.error_message;
  }
  EXPECT_GE(took, 500ms);
  EXPECT_LT(took, 1500ms);  // one round of 500 ms, not four
}

// Issue 13: a request that waits for a free connection (beyond
// max_host_connections) keeps its whole timeout for when it gets one; the
// wait does not eat it, and its error names the timeout that happened (not
// "Failed to resolve host ... after 0 ms", libcurl's words for a budget
// spent while queued).
TEST_F(Http, WaitingForAFreeConnectionDoesNotEatTheTimeout) {
  http_client client(loop, {.max_host_connections = 1});
  std::vector<http_response> results(3);
  std::vector<cohort::duration> ended(3);
  const auto start = cohort::clock::now();
  run([](http_client& c, http_test_server& s, std::vector<http_response>& results,
         std::vector<cohort::duration>& ended, cohort::time_point start) -> task<> {
    co_await cohort::with_task_group([&](cohort::task_group& g) -> task<> {
      for (std::size_t i = 0; i < results.size(); ++i) {
        g.spawn([](http_client& c, http_request req, http_response& out, cohort::duration& at,
                   cohort::time_point start) -> task<> {
          req.total_timeout = 300ms;
          out = co_await c.get_ec(std::move(req));
          at = cohort::clock::now() - start;
        }(c, http_request(s.url("/stall")), results[i], ended[i], start));
      }
      co_return;
    });
  }(client, server, results, ended, start));
  // One at a time, each given its 300 ms on the server.
  EXPECT_EQ(server.requests(), 3u);
  EXPECT_EQ(server.connections(), 3u);
  std::sort(ended.begin(), ended.end());
  for (std::size_t i = 0; i < results.size(); ++i) {
    EXPECT_EQ(results[i].error, curl_errc::operation_timedout) << results[i].error_message;
    EXPECT_EQ(results[i].error_message.find("resolve"), std::string::npos)
        << results[i].error_message;
    EXPECT_NE(results[i].error_message.find("timed out after 3"), std::string::npos)
        << results[i].error_message;
    EXPECT_GE(ended[i], (i + 1) * 300ms) << i;
  }
}

// The total timeout is the client's own timer since issue 13: it covers the
// whole redirect chain, not each hop.
TEST_F(Http, TotalTimeoutSpansRedirects) {
  http_client client(loop);
  http_request req = at("/redirect/redirect/stall");
  req.total_timeout = 300ms;
  const auto start = cohort::clock::now();
  const http_response r = run(fetch_ec(client, req));
  const auto took = cohort::clock::now() - start;
  EXPECT_EQ(r.error, curl_errc::operation_timedout) << r.error_message;
  EXPECT_NE(r.error_message.find("timed out after 3"), std::string::npos) << r.error_message;
  EXPECT_EQ(server.requests(), 3u);
  EXPECT_GE(took, 300ms);
  EXPECT_LT(took, 2s);
}

TEST_F(Http, StalledServerHitsTheLowSpeedLimit) {
  http_client client(loop);
  http_request req = at("/stall");
  req.low_speed_limit = 1;
  req.low_speed_time = 1s;
  const auto start = cohort::clock::now();
  const http_response r = run(fetch_ec(client, req));
  const auto took = cohort::clock::now() - start;
  EXPECT_EQ(r.error, curl_errc::operation_timedout) << r.error_message;
  EXPECT_GE(took, 1s);
  EXPECT_LT(took, 10s);
}

TEST_F(Http, TruncatedBodyIsAPartialFileError) {
  http_client client(loop);
  const http_response r = run(fetch_ec(client, at("/truncated/10000")));
  EXPECT_EQ(r.error, curl_errc::partial_file) << r.error_message;
  EXPECT_EQ(r.status, 200);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.body, http_test_server::body(5000));  // what arrived
}

TEST_F(Http, ResetConnectionIsAnError) {
  http_client client(loop);
  const http_response r = run(fetch_ec(client, at("/reset")));
  EXPECT_EQ(r.error, curl_errc::recv_error) << r.error.value() << " " << r.error_message;
  EXPECT_FALSE(r.ok());
}

TEST_F(Http, ClosedWithoutAResponseIsGotNothing) {
  http_client client(loop);
  const http_response r = run(fetch_ec(client, at("/close")));
  EXPECT_EQ(r.error, curl_errc::got_nothing) << r.error.value() << " " << r.error_message;
  EXPECT_EQ(r.status, 0);
}

TEST_F(Http, BodyOverTheLimitByContentLengthIsRefused) {
  http_client client(loop);
  http_request req = at("/bytes/2000");
  req.max_body_bytes = 1000;
  const http_response r = run(fetch_ec(client, req));
  EXPECT_EQ(r.error, curl_errc::filesize_exceeded) << r.error_message;
  EXPECT_TRUE(r.body.empty());
}

TEST_F(Http, ChunkedBodyOverTheLimitIsAbortedWhileItArrives) {
  http_client client(loop);
  http_request req = at("/chunked/50000");
  req.max_body_bytes = 20000;
  const http_response r = run(fetch_ec(client, req));
  EXPECT_EQ(r.error, curl_errc::filesize_exceeded) << r.error_message;
  EXPECT_LE(r.body.size(), 20000u);
}

TEST_F(Http, BodyExactlyAtTheLimitIsAccepted) {
  http_client client(loop);
  http_request fixed = at("/bytes/1000");
  fixed.max_body_bytes = 1000;
  http_request chunked = at("/chunked/9000");
  chunked.max_body_bytes = 9000;
  const auto [a, b] = run([](http_client& c, http_request x,
                             http_request y) -> task<std::pair<http_response, http_response>> {
    auto first = co_await c.get(std::move(x));
    auto second = co_await c.get(std::move(y));
    co_return std::pair{std::move(first), std::move(second)};
  }(client, fixed, chunked));
  EXPECT_TRUE(a.ok()) << a.error_message;
  EXPECT_EQ(a.body, http_test_server::body(1000));
  EXPECT_TRUE(b.ok()) << b.error_message;
  EXPECT_EQ(b.body, http_test_server::body(9000));
}

// A request handle goes back to the pool and serves the next request
// without curl_easy_reset: nothing a request set may reach the next one.
TEST_F(Http, APooledHandleCarriesNothingFromTheRequestBefore) {
  http_client client(loop, {.max_total_connections = 1,
                            .max_host_connections = 1,
                            .max_idle_connections = 1,
                            .pooled_handles = 1});
  http_request loaded = at("/echo");
  loaded.headers = {"X-One: 1"};
  loaded.user_agent = "loaded/1.0";
  loaded.if_none_match = "\"v1\"";
  loaded.if_modified_since = "Wed, 21 Oct 2015 07:28:00 GMT";
  loaded.total_timeout = 5s;
  loaded.low_speed_time = 5s;
  http_request limited = at("/bytes/2000");
  limited.max_body_bytes = 1000;
  http_request no_redirects = at("/redirect/bytes/10");
  no_redirects.max_redirects = 0;
  const std::vector<http_response> r =
      run([](http_client& c, std::vector<http_request> reqs) -> task<std::vector<http_response>> {
        std::vector<http_response> out;
        for (http_request& q : reqs) out.push_back(co_await c.get_ec(std::move(q)));
        co_return out;
      }(client, {loaded, at("/echo"), limited, at("/bytes/2000"), no_redirects,
                 at("/redirect/bytes/10")}));
  ASSERT_EQ(r.size(), 6u);
  EXPECT_NE(r[0].body.find("X-One: 1\r\n"), std::string::npos) << r[0].body;
  EXPECT_NE(r[0].body.find("If-None-Match: \"v1\"\r\n"), std::string::npos) << r[0].body;
  // The plain request after it: no header, validator or user agent of the first.
  EXPECT_TRUE(r[1].ok()) << r[1].error_message;
  EXPECT_EQ(r[1].body.find("X-One"), std::string::npos) << r[1].body;
  EXPECT_EQ(r[1].body.find("If-None-Match"), std::string::npos) << r[1].body;
  EXPECT_EQ(r[1].body.find("If-Modified-Since"), std::string::npos) << r[1].body;
  EXPECT_NE(
      r[1].body.find("User-Agent: " + std::string(cohort::http_default_user_agent()) + "\r\n"),
      std::string::npos)
      << r[1].body;
  // A body limit, then none.
  EXPECT_EQ(r[2].error, curl_errc::filesize_exceeded) << r[2].error_message;
  EXPECT_TRUE(r[3].ok()) << r[3].error_message;
  EXPECT_EQ(r[3].body, http_test_server::body(2000));
  // Redirects off, then on again (the default).
  EXPECT_EQ(r[4].status, 302);
  EXPECT_EQ(r[5].status, 200);
  EXPECT_EQ(r[5].body, http_test_server::body(10));
  EXPECT_EQ(client.stats().failed, 1u);
}

// --- connections --------------------------------------------------------------

TEST_F(Http, SequentialRequestsReuseOneConnection) {
  http_client client(loop);
  const int ok = run([](http_client& c, http_test_server& s) -> task<int> {
    int n = 0;
    for (int i = 0; i < 10; ++i) {
      auto r = co_await c.get(s.url("/bytes/" + std::to_string(100 + i)));
      if (r.body == http_test_server::body(100 + i)) ++n;
    }
    co_return n;
  }(client, server));
  EXPECT_EQ(ok, 10);
  EXPECT_EQ(server.connections(), 1u);
  EXPECT_EQ(server.requests(), 10u);
}

// A kept-alive connection's socket stays watched between its requests; when
// libcurl closes it, the watch goes with it, so a new connection that gets
// the same descriptor number is watched afresh (a stale watch would never
// see it ready: each request after a closed connection would wait for
// libcurl's one-second timer).
TEST_F(Http, ConnectionsClosedBetweenRequestsAreReplacedByWatchedOnes) {
  http_client client(
      loop, {.max_total_connections = 1, .max_host_connections = 1, .max_idle_connections = 1});
  std::vector<http_request> reqs;
  for (const char* path : {"/bytes/10", "/close", "/bytes/11", "/reset", "/bytes/12",
                           "/truncated/100", "/bytes/13", "/bytes/14"}) {
    http_request r = at(path);
    // Watched, each takes a few milliseconds; on a stale watch, libcurl
    // would see the socket only when its own timer (1 s) makes it look.
    r.total_timeout = 750ms;
    reqs.push_back(std::move(r));
  }
  const std::vector<http_response> r =
      run([](http_client& c, std::vector<http_request> all) -> task<std::vector<http_response>> {
        std::vector<http_response> out;
        for (http_request& q : all) out.push_back(co_await c.get_ec(std::move(q)));
        co_return out;
      }(client, reqs));
  ASSERT_EQ(r.size(), 8u);
  for (const std::size_t i : {0u, 2u, 4u, 6u, 7u}) {
    EXPECT_TRUE(r[i].ok()) << i << ": " << r[i].error_message;
    EXPECT_EQ(r[i].body, http_test_server::body(10 + (i == 7 ? 4 : i / 2))) << i;
  }
  EXPECT_EQ(r[1].error, curl_errc::got_nothing) << r[1].error_message;
  EXPECT_TRUE(r[3].error) << r[3].status;
  EXPECT_EQ(r[5].error, curl_errc::partial_file) << r[5].error_message;
  // A new connection after each closed one (libcurl also retries a request
  // that a reused connection closed on, on a new one).
  EXPECT_GE(server.connections(), 4u);
}

TEST_F(Http, SixtyFourConcurrentRequestsShareAtMostEightConnections) {
  http_client client(loop, {.max_host_connections = 8});
  std::vector<http_response> results(64);
  std::size_t in_flight_at_once = 0;
  run([](http_client& c, http_test_server& s, std::vector<http_response>& results,
         std::size_t& at_once) -> task<> {
    co_await cohort::with_task_group([&](cohort::task_group& g) -> task<> {
      for (std::size_t i = 0; i < results.size(); ++i) {
        g.spawn([](http_client& c, std::string url, http_response& out) -> task<> {
          out = co_await c.get(std::move(url));
        }(c, s.url("/bytes/" + std::to_string(1000 + 37 * i)), results[i]));
      }
      co_await cohort::checkpoint();  // every child has started its request
      at_once = c.in_flight();
    });
  }(client, server, results, in_flight_at_once));
  EXPECT_EQ(in_flight_at_once, 64u);
  for (std::size_t i = 0; i < results.size(); ++i) {
    EXPECT_TRUE(results[i].ok()) << i << ": " << results[i].error_message;
    EXPECT_EQ(results[i].body, http_test_server::body(1000 + 37 * i)) << i;
  }
  EXPECT_EQ(server.requests(), 64u);
  // All 64 started at once: libcurl opened the 8 allowed and reused them.
  EXPECT_EQ(server.connections(), 8u);
  EXPECT_EQ(client.stats().completed, 64u);
}

TEST(HttpThreadedServer, ManyRequestsFromWorkersAgainstAServerOnItsOwnThread) {
  // The benchmark's setup, small: the server on a thread and loop of its own.
  cohort::test::http_test_server_thread server;
  asio::io_context io;
  cohort::asio_loop loop(io);
  http_client client(loop, {.max_host_connections = 16});
  int ok = 0;
  loop.run([](http_client& c, cohort::test::http_test_server_thread& s, int& ok) -> task<> {
    int next = 0;
    co_await cohort::with_task_group([&](cohort::task_group& g) -> task<> {
      for (int w = 0; w < 32; ++w) {
        g.spawn([](http_client& c, cohort::test::http_test_server_thread& s, int& next,
                   int& ok) -> task<> {
          while (next < 300) {
            const std::size_t n = 100 + 53 * static_cast<std::size_t>(next++);
            const http_response r = co_await c.get(s.url("/bytes/" + std::to_string(n)));
            if (r.ok() && r.body == http_test_server::body(n)) ++ok;
          }
        }(c, s, next, ok));
      }
      co_return;
    });
  }(client, server, ok));
  EXPECT_EQ(ok, 300);
  EXPECT_EQ(server.server().requests(), 300u);
  // Exactly the cap: kept alive and reused, never closed for a new one.
  EXPECT_EQ(server.server().connections(), 16u);
}

TEST_F(Http, TotalConnectionCapHolds) {
  http_client client(loop, {.max_total_connections = 2, .max_host_connections = 0});
  int ok = 0;
  run([](http_client& c, http_test_server& s, int& ok) -> task<> {
    co_await cohort::with_task_group([&](cohort::task_group& g) -> task<> {
      for (int i = 0; i < 12; ++i) {
        g.spawn([](http_client& c, std::string url, int& ok) -> task<> {
          if ((co_await c.get(std::move(url))).ok()) ++ok;
        }(c, s.url("/bytes/5000"), ok));
      }
      co_return;
    });
  }(client, server, ok));
  EXPECT_EQ(ok, 12);
  EXPECT_LE(server.connections(), 2u);
}

// --- cancellation -------------------------------------------------------------

TEST_F(Http, CancelWhileTheServerStallsUnwindsAtOnceAndTheClientStaysUsable) {
  http_client client(loop);
  cohort::cancel_scope scope;
  // Cancel exactly when the server has the request (and will never answer).
  server.on_request = [&scope](std::string_view target) {
    if (target == "/stall") scope.cancel();
  };
  cohort::test::lifetimes life;
  cohort::test::frame_leak_check frames;
  bool after = false;
  const auto start = cohort::clock::now();
  const http_response second =
      run([](http_client& c, http_test_server& s, cohort::cancel_scope& scope,
             cohort::test::lifetimes& life, bool& after) -> task<http_response> {
        (void)co_await scope.run([](http_client& c, http_test_server& s,
                                    cohort::test::lifetimes& life, bool& after) -> task<> {
          auto token = life.make();
          co_await c.get(s.url("/stall"));  // no timeout: only the cancel ends it
          after = true;
        }(c, s, life, after));
        co_return co_await c.get(s.url("/bytes/10"));
      }(client, server, scope, life, after));
  EXPECT_LT(cohort::clock::now() - start, 5s);
  EXPECT_TRUE(scope.cancelled_caught());
  EXPECT_FALSE(after);
  EXPECT_EQ(life.alive(), 0);
  EXPECT_EQ(frames.leaked(), 0);
  EXPECT_EQ(client.stats().cancelled, 1u);
  EXPECT_EQ(client.in_flight(), 0u);
  EXPECT_EQ(second.body, http_test_server::body(10));
  // The half-used connection was closed, not reused.
  EXPECT_EQ(server.connections(), 2u);
}

TEST_F(Http, CancelWhileWaitingForAFreeConnection) {
  // One connection per host: the second request waits inside libcurl for it
  // and is cancelled there; the first still completes.
  http_client client(loop, {.max_host_connections = 1});
  cohort::cancel_scope scope;
  http_response first;
  bool second_done = false;
  run([](http_client& c, http_test_server& s, cohort::cancel_scope& scope, http_response& first,
         bool& second_done) -> task<> {
    co_await cohort::with_task_group([&](cohort::task_group& g) -> task<> {
      g.spawn([](http_client& c, std::string url, http_response& out) -> task<> {
        out = co_await c.get(std::move(url));
      }(c, s.url("/bytes/100000"), first));
      g.spawn(
          [](http_client& c, std::string url, cohort::cancel_scope& scope, bool& done) -> task<> {
            (void)co_await scope.run([](http_client& c, std::string url, bool& done) -> task<> {
              (void)co_await c.get(std::move(url));
              done = true;
            }(c, std::move(url), done));
          }(c, s.url("/bytes/10"), scope, second_done));
      co_await cohort::checkpoint();
      scope.cancel();
    });
  }(client, server, scope, first, second_done));
  EXPECT_TRUE(first.ok());
  EXPECT_EQ(first.body, http_test_server::body(100000));
  EXPECT_FALSE(second_done);
  EXPECT_TRUE(scope.cancelled_caught());
  EXPECT_EQ(client.stats().cancelled, 1u);
  EXPECT_EQ(server.requests(), 1u);
}

TEST_F(Http, RequestInAnAlreadyCancelledScopeNeverStarts) {
  http_client client(loop);
  cohort::cancel_scope scope;
  scope.cancel();
  bool after = false;
  run([](http_client& c, http_test_server& s, cohort::cancel_scope& scope, bool& after) -> task<> {
    (void)co_await scope.run([](http_client& c, http_test_server& s, bool& after) -> task<> {
      co_await c.get(s.url("/bytes/10"));
      after = true;
    }(c, s, after));
    // Let any connection attempt reach the server before checking.
    (void)co_await c.get(s.url("/bytes/1"));
  }(client, server, scope, after));
  EXPECT_FALSE(after);
  EXPECT_TRUE(scope.cancelled_caught());
  EXPECT_EQ(client.stats().started, 1u);  // only the second request
  EXPECT_EQ(server.requests(), 1u);
}

TEST_F(Http, G8_ResponseCompletedInTheSameInstantAsTheCancelIsDelivered) {
  // A watcher spins on checkpoint() (so its runnable is always queued ahead
  // of anything an I/O handler queues) and cancels the scope as soon as the
  // transfer has finished: the request's completion is then already queued,
  // behind the watcher. The response must be delivered; the next wait unwinds.
  http_client client(loop);
  cohort::cancel_scope scope;
  std::optional<http_response> got;
  bool reached_end = false;
  run([](http_client& c, http_test_server& s, cohort::cancel_scope& scope,
         std::optional<http_response>& got, bool& end) -> task<> {
    (void)co_await scope.run([](http_client& c, http_test_server& s, cohort::cancel_scope& scope,
                                std::optional<http_response>& got, bool& end) -> task<> {
      co_await cohort::with_task_group([&](cohort::task_group& g) -> task<> {
        g.spawn([](http_client& c, cohort::cancel_scope& scope) -> task<> {
          while (c.stats().completed == 0) co_await cohort::checkpoint();
          scope.cancel();
        }(c, scope));
        got = co_await c.get(s.url("/bytes/1000"));
        co_await cohort::sleep_for(1h);
        end = true;
      });
    }(c, s, scope, got, end));
  }(client, server, scope, got, reached_end));
  ASSERT_TRUE(got.has_value());
  EXPECT_TRUE(got->ok());
  EXPECT_EQ(got->body, http_test_server::body(1000));
  EXPECT_FALSE(reached_end);
  EXPECT_TRUE(scope.cancelled_caught());
  EXPECT_EQ(client.stats().cancelled, 0u);
}

TEST_F(Http, ClientDestroyedWithIdleConnectionsLeavesTheLoopClean) {
  {
    http_client client(loop);
    const http_response r = run(fetch(client, at("/bytes/10")));
    EXPECT_TRUE(r.ok());
  }
  // A fresh client on the same loop works (sockets of the old one released).
  http_client client(loop);
  const http_response r = run(fetch(client, at("/bytes/20")));
  EXPECT_EQ(r.body, http_test_server::body(20));
}

// --- the request type ------------------------------------------------------------

TEST(HttpRequest, IsNotAnAggregateAndConvertsFromAUrl) {
  // An aggregate would invite `co_await client.get({.url = u})`, which g++ 12
  // miscompiles (tests/unit/gcc_temporaries_test.cpp).
  static_assert(!std::is_aggregate_v<http_request>);
  const http_request a = std::string("http://a.example/");
  const http_request b = "http://b.example/";
  EXPECT_EQ(a.url, "http://a.example/");
  EXPECT_EQ(b.url, "http://b.example/");
  EXPECT_TRUE(b.verify_tls);
}

// --- Retry-After parsing ------------------------------------------------------

TEST(ParseRetryAfter, DeltaSeconds) {
  const auto now = std::chrono::system_clock::now();
  EXPECT_EQ(cohort::parse_retry_after("0", now), 0s);
  EXPECT_EQ(cohort::parse_retry_after("120", now), 120s);
  EXPECT_EQ(cohort::parse_retry_after("  42 \r\n", now), 42s);
  EXPECT_GT(cohort::parse_retry_after("99999999999999999999999", now), std::chrono::hours(1000));
}

TEST(ParseRetryAfter, HttpDateInEveryForm) {
  // 2015-10-21 07:28:00 UTC
  const auto when = std::chrono::system_clock::from_time_t(1445412480);
  EXPECT_EQ(cohort::parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", when - 30s), 30s);
  EXPECT_EQ(cohort::parse_retry_after("Wednesday, 21-Oct-15 07:28:00 GMT", when - 30s), 30s);
  EXPECT_EQ(cohort::parse_retry_after("Wed Oct 21 07:28:00 2015", when - 30s), 30s);
  // Rounded up: never earlier than the server asked.
  EXPECT_EQ(cohort::parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", when - 1500ms), 2s);
}

TEST(ParseRetryAfter, DateInThePastIsZero) {
  const auto when = std::chrono::system_clock::from_time_t(1445412480);
  EXPECT_EQ(cohort::parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", when + 1h), 0s);
}

TEST(ParseRetryAfter, MalformedIsEmpty) {
  const auto now = std::chrono::system_clock::now();
  for (const char* bad : {"", "   ", "-5", "+5", "1.5", "soon", "12 seconds", "Someday"}) {
    EXPECT_FALSE(cohort::parse_retry_after(bad, now).has_value()) << bad;
  }
}

TEST(CurlErrc, ComparesWithTheCurlCategory) {
  const std::error_code ec = curl_errc::operation_timedout;
  EXPECT_EQ(ec.category(), cohort::curl_category());
  EXPECT_EQ(ec.value(), 28);
  EXPECT_FALSE(ec.message().empty());
  EXPECT_NE(ec, curl_errc::couldnt_connect);
}

}  // namespace
