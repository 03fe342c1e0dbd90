#pragma once
/// \file
/// `cohort::http_client`: HTTP(S) GET requests as cancellable Cohort
/// operations, on libcurl's multi interface driven by the Asio loop.

#include <cohort/operation.hpp>
#include <cohort/scheduler.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <vector>

namespace cohort {

class asio_loop;

/// libcurl's result codes that callers commonly test for; the values are
/// libcurl's `CURLcode` values, so any other code can be compared through
/// `std::error_code::value()`. The category is `curl_category()`.
///
///     if (r.error == cohort::curl_errc::operation_timedout) retry_later();
enum class curl_errc : int {
  ok = 0,
  unsupported_protocol = 1,       ///< the URL's scheme is not http or https
  url_malformat = 3,              ///< the URL could not be parsed
  couldnt_resolve_host = 6,       ///< DNS lookup failed
  couldnt_connect = 7,            ///< connection refused or unreachable
  weird_server_reply = 8,         ///< not an HTTP response
  http2 = 16,                     ///< HTTP/2 framing error
  partial_file = 18,              ///< the body ended before Content-Length bytes
  write_error = 23,               ///< the response could not be stored
  operation_timedout = 28,        ///< connect, total or low-speed (stall) timeout
  ssl_connect_error = 35,         ///< the TLS handshake failed
  too_many_redirects = 47,        ///< more redirects than `max_redirects`
  got_nothing = 52,               ///< the server closed without a response
  send_error = 55,                ///< sending failed (connection reset)
  recv_error = 56,                ///< receiving failed (connection reset)
  peer_failed_verification = 60,  ///< the server's certificate or name did not verify
  filesize_exceeded = 63,         ///< the body is larger than `max_body_bytes`
  http2_stream = 92,              ///< an HTTP/2 stream was reset
};

/// The error category of libcurl's `CURLcode` values (name "curl"; messages
/// from `curl_easy_strerror`).
const std::error_category& curl_category() noexcept;

inline std::error_code make_error_code(curl_errc e) noexcept {
  return {static_cast<int>(e), curl_category()};
}

/// The user agent sent when a request does not set one: "cohort/VERSION".
std::string_view http_default_user_agent() noexcept;

/// One HTTP GET request.
///
/// Only `url` is required. Timeouts of zero mean "none". TLS certificates
/// are verified unless `verify_tls` is cleared. Only http and https URLs are
/// fetched (redirects included). The body is stored as received: send
/// `Accept-Encoding` yourself to get compressed bytes, they are not decoded.
///
/// It converts from a URL, and other fields are set on a named variable:
///
///     auto page = co_await client.get(url);
///     cohort::http_request req(url);
///     req.total_timeout = 30s;
///     auto tile = co_await client.get(std::move(req));
///
/// (It is deliberately not an aggregate: g++ 12 destroys an aggregate
/// temporary built inside a `co_await` expression twice, so
/// `co_await client.get({.url = u})` would corrupt the heap.)
struct http_request {
  http_request() = default;
  http_request(std::string u) : url(std::move(u)) {}  // NOLINT: implicit on purpose
  http_request(const char* u) : url(u) {}             // NOLINT: implicit on purpose

  std::string url{};
  /// Extra request headers, each "Name: value" (repeatable).
  std::vector<std::string> headers{};
  /// Empty: `http_default_user_agent()`.
  std::string user_agent{};
  /// Time to establish the connection (DNS, TCP, TLS), from when the
  /// request gets its turn (not while it waits for a free connection).
  duration connect_timeout = std::chrono::seconds(10);
  /// Time for the whole request, connecting and redirects included, from
  /// when the request gets its turn: a request queued behind the client's
  /// connection caps keeps all of it for when a connection is free for it.
  /// Connecting is bounded by the smaller of both timeouts.
  duration total_timeout = duration::zero();
  /// Stall detection: the transfer fails if it moves fewer than
  /// `low_speed_limit` bytes per second for `low_speed_time` (whole seconds,
  /// rounded up; libcurl's resolution). Zero time: no stall detection.
  std::uint32_t low_speed_limit = 1;
  duration low_speed_time = std::chrono::seconds(30);
  /// The transfer fails with `curl_errc::filesize_exceeded` as soon as the
  /// body is known to exceed this (from Content-Length, or while a chunked
  /// body arrives). Empty: no limit.
  std::optional<std::uint64_t> max_body_bytes{};
  /// Revalidation: the ETag of the stored copy (sent as If-None-Match,
  /// exactly as the server sent it, quotes included).
  std::string if_none_match{};
  /// Revalidation: the Last-Modified of the stored copy, as the server sent
  /// it (sent as If-Modified-Since).
  std::string if_modified_since{};
  /// Redirects followed; 0 to return the 3xx response itself.
  int max_redirects = 5;
  /// Verify the server's TLS certificate and name. Never clear this for
  /// anything but a test server.
  bool verify_tls = true;
};

/// What a GET produced.
///
/// `error` is set when the transfer failed at the network level (no
/// complete response: connection refused, reset, timeout, truncated body,
/// body too large, TLS failure); the other fields then hold whatever arrived.
/// An HTTP error status (404, 429, 503, ...) is not an `error`: it is a
/// complete response with that `status`.
struct http_response {
  /// The final response's status (after redirects); 0 if none arrived.
  int status = 0;
  /// The body bytes as received.
  std::string body{};
  std::string content_type{};
  /// The ETag header, exactly as sent (quotes included); empty if none.
  std::string etag{};
  std::string last_modified{};
  /// Retry-After in seconds from the response's arrival, from either form
  /// (delta-seconds or an HTTP-date); empty if absent or malformed.
  std::optional<std::chrono::seconds> retry_after{};
  /// From the start of the transfer to its end (or failure).
  duration total_time = duration::zero();
  /// A `curl_category()` code; empty if a complete response arrived.
  std::error_code error{};
  /// libcurl's detailed description of `error`; empty if none.
  std::string error_message{};

  /// A complete 2xx response.
  bool ok() const noexcept { return !error && status >= 200 && status < 300; }
  /// A complete 304 response: the stored copy is still valid.
  bool not_modified() const noexcept { return !error && status == 304; }
};

/// Thrown by `http_client::get` when the transfer failed at the network
/// level. `what()` names the URL and libcurl's description.
class http_error : public std::runtime_error {
 public:
  http_error(std::error_code code, const std::string& url, const std::string& message);
  /// The `curl_category()` code.
  std::error_code code() const noexcept { return code_; }
  const std::string& url() const noexcept { return url_; }

 private:
  std::error_code code_;
  std::string url_;
};

/// Parses a Retry-After header value, either delta-seconds ("120") or an
/// HTTP-date ("Wed, 21 Oct 2015 07:28:00 GMT"), into seconds after `now`.
/// A date in the past gives 0. Malformed values give an empty result.
///
///     auto wait = cohort::parse_retry_after("120", std::chrono::system_clock::now());
std::optional<std::chrono::seconds> parse_retry_after(std::string_view value,
                                                      std::chrono::system_clock::time_point now);

/// Settings of an `http_client` (for every request it makes).
struct http_client_options {
  /// Open connections in total (0: no limit). Requests beyond it wait.
  std::size_t max_total_connections = 64;
  /// Open connections per host (0: no limit). Requests beyond it wait for
  /// a connection to be free, then reuse it; their timeouts start then.
  std::size_t max_host_connections = 8;
  /// Connections kept open for reuse (libcurl's connection cache). 0 means
  /// libcurl's default, 4 x the requests in flight at that moment, which
  /// closes kept-alive connections whenever few requests are in flight.
  std::size_t max_idle_connections = 64;
  /// Use HTTP/2 when a TLS server offers it, and send concurrent requests
  /// to it over one connection (new https requests wait for the first
  /// connection's handshake to tell; plain http requests never wait so).
  bool http2 = true;
  /// Request handles kept for reuse once their request is done.
  std::size_t pooled_handles = 64;
};

/// Counts of what an `http_client` did so far.
struct http_client_stats {
  std::uint64_t started = 0;         ///< transfers handed to libcurl
  std::uint64_t completed = 0;       ///< ended with a complete response (any status)
  std::uint64_t failed = 0;          ///< ended with a network error
  std::uint64_t cancelled = 0;       ///< removed by a cancellation before the end
  std::uint64_t bytes_received = 0;  ///< body bytes, all requests
};

class http_client;

namespace detail {
struct http_transfer;

/// The operation behind `http_client::get` / `get_ec`.
class http_get_op {
 public:
  http_get_op(http_client& client, http_request request, bool throwing) noexcept;
  http_get_op(http_get_op&& o) noexcept;
  http_get_op& operator=(http_get_op&&) = delete;
  ~http_get_op();

  void start(completion& c);
  bool cancel() noexcept;
  bool must_resume() const noexcept { return true; }
  http_response result();
  const char* name() const noexcept { return "http get"; }

 private:
  http_client* client_;
  http_request request_;
  http_transfer* transfer_ = nullptr;
  bool throwing_;
};
}  // namespace detail

/// An HTTP client for one `asio_loop`: a libcurl multi handle whose sockets
/// and timer are watched by the loop, with keep-alive connection reuse,
/// HTTP/2 multiplexing when offered, connection caps and a pool of request
/// handles. Use it from the loop's thread only; it starts no thread.
///
/// Cancellation: a request whose scope is cancelled is removed from libcurl
/// at once (its connection is closed if the response was partly received)
/// and the task unwinds immediately. A request that finished in the same
/// instant delivers its response (G8). A request in an already-cancelled
/// scope never starts. The client must outlive every request it started.
///
/// libcurl is initialised (`curl_global_init`) once per process, by the first
/// client, in a thread-safe way; it is never cleaned up. A program that also
/// uses libcurl directly from other threads should initialise it first.
///
///     cohort::http_client client(rt.loop());
///     auto r = co_await client.get("https://tile.example/1/0/0.png");
///     if (r.ok()) store(r.body);
class http_client {
 public:
  explicit http_client(asio_loop& loop, http_client_options options = {});
  http_client(const http_client&) = delete;
  http_client& operator=(const http_client&) = delete;
  ~http_client();

  /// GETs `request.url` (a cancellable operation). Throws `http_error` on a
  /// network error; any complete response, whatever its status, is returned.
  [[nodiscard]] detail::http_get_op get(http_request request) noexcept {
    return {*this, std::move(request), true};
  }
  /// As `get`, but a network error is returned in `http_response::error`
  /// instead of thrown.
  [[nodiscard]] detail::http_get_op get_ec(http_request request) noexcept {
    return {*this, std::move(request), false};
  }

  /// What this client did so far.
  const http_client_stats& stats() const noexcept;
  /// Requests handed to libcurl and not finished yet (including those
  /// waiting for a free connection).
  std::size_t in_flight() const noexcept;

 private:
  friend class detail::http_get_op;
  friend struct detail::http_transfer;
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace cohort

template <>
struct std::is_error_code_enum<cohort::curl_errc> : std::true_type {};
