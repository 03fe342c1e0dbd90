#pragma once
// A tiny HTTP/1.1 keep-alive server on 127.0.0.1 for the HTTP client's
// tests and benchmark, with fault injection. It runs as Cohort tasks on an
// asio_loop: in a test, on the same loop as the client (one thread, so a
// hook can act at an exact moment of the exchange); in a benchmark, on a
// thread of its own (`http_test_server_thread`).
//
// Routes (anything else is 404):
//   /bytes/N          200, N bytes of `body_byte(i)`, application/octet-stream
//   /chunked/N        200, the same N bytes, chunked (no Content-Length)
//   /status/C         status C, empty body; `?retry-after=V` adds a
//                     Retry-After header (V percent-decoded)
//   /etag/T           200 with ETag "T" and a fixed Last-Modified; 304 when
//                     If-None-Match or If-Modified-Since match them
//   /echo             200, the body is the request's head as received
//   /redirect/P       302 to /P
//   /stall            reads the request and never answers
//   /close            reads the request and closes the connection (FIN)
//   /reset            reads the request and resets the connection (RST)
//   /truncated/N      Content-Length N, sends N/2 bytes, closes
//
//     cohort::test::http_test_server server(io);
//     loop.run(cohort::test::serving(server, fetch(server.url("/bytes/10"))));

#include <cohort/event.hpp>
#include <cohort/runtime/asio_loop.hpp>
#include <cohort/task.hpp>
#include <cohort/task_group.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

namespace cohort::test {

class http_test_server {
 public:
  /// Listens on 127.0.0.1 on a free port (with a large backlog) at once;
  /// connections are accepted once `serve()` runs.
  explicit http_test_server(boost::asio::io_context& io);

  std::uint16_t port() const noexcept { return port_; }
  /// "http://127.0.0.1:PORT" + path.
  std::string url(std::string_view path) const;

  /// Accepts and serves connections until cancelled.
  task<> serve();

  /// Connections accepted so far.
  std::size_t connections() const noexcept { return connections_.load(); }
  /// Requests read so far (a complete request head each).
  std::size_t requests() const noexcept { return requests_.load(); }
  /// Connections currently open.
  std::size_t open_connections() const noexcept { return open_.load(); }

  /// Called on the server's loop with each request's target, before the
  /// answer is sent.
  std::function<void(std::string_view target)> on_request;

  /// Byte i of every /bytes/N and /chunked/N body.
  static char body_byte(std::size_t i) noexcept { return static_cast<char>((i * 131 + 7) % 251); }
  /// The whole body of /bytes/N.
  static std::string body(std::size_t n);
  /// The Last-Modified of /etag/T.
  static constexpr std::string_view last_modified = "Wed, 21 Oct 2015 07:28:00 GMT";

 private:
  task<> connection(boost::asio::ip::tcp::socket socket);

  boost::asio::ip::tcp::acceptor acceptor_;
  std::uint16_t port_ = 0;
  std::atomic<std::size_t> connections_{0};
  std::atomic<std::size_t> requests_{0};
  std::atomic<std::size_t> open_{0};
};

/// Runs `body` while `server` serves, then stops the server; returns the
/// body's value or rethrows its exception.
template <class T>
task<T> serving(http_test_server& server, task<T> body) {
  std::optional<std::conditional_t<std::is_void_v<T>, bool, T>> result;
  std::exception_ptr error;
  co_await with_task_group([&](task_group& g) -> task<> {
    g.spawn(server.serve());
    try {
      if constexpr (std::is_void_v<T>) {
        co_await std::move(body);
        result.emplace(true);
      } else {
        result.emplace(co_await std::move(body));
      }
    } catch (...) {
      error = std::current_exception();
    }
    g.cancel();
  });
  if (error) std::rethrow_exception(error);
  if constexpr (!std::is_void_v<T>) co_return std::move(*result);
}

/// An `http_test_server` on a thread and loop of its own (for benchmarks and
/// for driving external clients such as the curl tool). Stops and joins in
/// its destructor.
class http_test_server_thread {
 public:
  http_test_server_thread();
  http_test_server_thread(const http_test_server_thread&) = delete;
  http_test_server_thread& operator=(const http_test_server_thread&) = delete;
  ~http_test_server_thread();

  http_test_server& server() noexcept { return server_; }
  std::string url(std::string_view path) const { return server_.url(path); }

 private:
  boost::asio::io_context io_;
  asio_loop loop_;
  http_test_server server_;
  event stop_;
  std::thread thread_;
};

}  // namespace cohort::test
