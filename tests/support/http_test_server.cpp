#include "http_test_server.hpp"

#include <cohort/runtime/use_op.hpp>

#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <vector>

namespace asio = boost::asio;
using asio::ip::tcp;

namespace cohort::test {

namespace {

struct request {
  std::string target;                                        // path and query
  std::string head;                                          // as received
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased

  std::string_view header(std::string_view name) const {
    for (const auto& [n, v] : headers) {
      if (n == name) return v;
    }
    return {};
  }
  std::string_view path() const { return std::string_view(target).substr(0, target.find('?')); }
  // The value of `name=` in the query, percent-decoded.
  std::string query(std::string_view name) const {
    const auto q = target.find('?');
    if (q == std::string::npos) return {};
    std::string_view rest = std::string_view(target).substr(q + 1);
    while (!rest.empty()) {
      const auto amp = rest.find('&');
      const std::string_view pair = rest.substr(0, amp);
      if (pair.starts_with(name) && pair.size() > name.size() && pair[name.size()] == '=') {
        std::string out;
        const std::string_view v = pair.substr(name.size() + 1);
        for (std::size_t i = 0; i < v.size(); ++i) {
          if (v[i] == '%' && i + 2 < v.size()) {
            int byte = 0;
            std::from_chars(v.data() + i + 1, v.data() + i + 3, byte, 16);
            out += static_cast<char>(byte);
            i += 2;
          } else {
            out += v[i] == '+' ? ' ' : v[i];
          }
        }
        return out;
      }
      if (amp == std::string_view::npos) break;
      rest.remove_prefix(amp + 1);
    }
    return {};
  }
};

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

request parse(std::string head) {
  request r;
  std::string_view rest(head);
  auto next_line = [&rest]() {
    const auto eol = rest.find("\r\n");
    std::string_view line = rest.substr(0, eol);
    rest.remove_prefix(eol == std::string_view::npos ? rest.size() : eol + 2);
    return line;
  };
  const std::string_view start = next_line();  // GET /path HTTP/1.1
  const auto sp1 = start.find(' ');
  const auto sp2 = start.find(' ', sp1 + 1);
  r.target = std::string(start.substr(sp1 + 1, sp2 - sp1 - 1));
  for (std::string_view line = next_line(); !line.empty(); line = next_line()) {
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string name(trim(line.substr(0, colon)));
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    r.headers.emplace_back(std::move(name), std::string(trim(line.substr(colon + 1))));
  }
  r.head = std::move(head);
  return r;
}

std::size_t number_after(std::string_view path, std::string_view prefix) {
  std::size_t n = 0;
  path.remove_prefix(prefix.size());
  std::from_chars(path.data(), path.data() + path.size(), n);
  return n;
}

const char* reason(int status) {
  switch (status) {
    case 200: return "OK";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 404: return "Not Found";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Status";
  }
}

std::string response(int status, std::string_view extra_headers, std::string_view body,
                     bool content_length = true) {
  std::string out = "HTTP/1.1 " + std::to_string(status) + " " + reason(status) + "\r\n";
  out += extra_headers;
  if (content_length) out += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  out += "\r\n";
  out += body;
  return out;
}

}  // namespace

http_test_server::http_test_server(asio::io_context& io) : acceptor_(io) {
  const tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), 0);
  acceptor_.open(ep.protocol());
  acceptor_.set_option(tcp::acceptor::reuse_address(true));
  acceptor_.bind(ep);
  acceptor_.listen(tcp::socket::max_listen_connections);
  port_ = acceptor_.local_endpoint().port();
}

std::string http_test_server::url(std::string_view path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + std::string(path);
}

std::string http_test_server::body(std::size_t n) {
  // body_byte(i) repeats every 251 bytes: copy one period at a time (the
  // benchmark's server would otherwise spend its time here).
  static const std::string period = [] {
    std::string p(251, '\0');
    for (std::size_t i = 0; i < p.size(); ++i) p[i] = body_byte(i);
    return p;
  }();
  std::string b;
  b.reserve(n);
  while (b.size() + period.size() <= n) b += period;
  b.append(period, 0, n - b.size());
  return b;
}

task<> http_test_server::serve() {
  co_await with_task_group([this](task_group& g) -> task<> {
    for (;;) {
      tcp::socket s = co_await acceptor_.async_accept(use_op);
      g.spawn(connection(std::move(s)));
    }
  });
}

task<> http_test_server::connection(tcp::socket socket) {
  ++connections_;
  ++open_;
  struct open_count {
    std::atomic<std::size_t>& n;
    ~open_count() { --n; }
  } guard{open_};

  std::string buffer;
  char chunk[16384];
  // Reads until the client closes (or errs); for a request that is never answered.
  auto drain = [&]() -> task<> {
    for (;;) {
      auto [ec, n] = co_await socket.async_read_some(asio::buffer(chunk), use_op_ec);
      if (ec) co_return;
    }
  };
  auto send = [&](std::string bytes) -> task<bool> {
    auto [ec, n] = co_await asio::async_write(socket, asio::buffer(bytes), use_op_ec);
    co_return !ec;
  };

  for (;;) {
    std::size_t end;
    while ((end = buffer.find("\r\n\r\n")) == std::string::npos) {
      auto [ec, n] = co_await socket.async_read_some(asio::buffer(chunk), use_op_ec);
      if (ec) co_return;
      buffer.append(chunk, n);
    }
    request r = parse(buffer.substr(0, end + 4));
    buffer.erase(0, end + 4);
    ++requests_;
    if (on_request) on_request(r.target);

    const std::string_view path = r.path();
    if (path.starts_with("/bytes/")) {
      const std::size_t n = number_after(path, "/bytes/");
      if (!co_await send(response(200, "Content-Type: application/octet-stream\r\n", body(n)))) {
        co_return;
      }
    } else if (path.starts_with("/chunked/")) {
      const std::string b = body(number_after(path, "/chunked/"));
      std::string out =
          response(200, "Content-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n",
                   "", false);
      for (std::size_t at = 0; at < b.size(); at += 4096) {
        const std::size_t len = std::min<std::size_t>(4096, b.size() - at);
        char size[32];
        auto [p, ec] = std::to_chars(size, size + sizeof size, len, 16);
        out.append(size, p);
        out += "\r\n";
        out.append(b, at, len);
        out += "\r\n";
      }
      out += "0\r\n\r\n";
      if (!co_await send(std::move(out))) co_return;
    } else if (path.starts_with("/status/")) {
      const int status = static_cast<int>(number_after(path, "/status/"));
      std::string headers;
      if (const std::string v = r.query("retry-after"); !v.empty()) {
        headers = "Retry-After: " + v + "\r\n";
      }
      if (!co_await send(response(status, headers, ""))) co_return;
    } else if (path.starts_with("/etag/")) {
      const std::string etag = "\"" + std::string(path.substr(6)) + "\"";
      const std::string headers = "ETag: " + etag +
                                  "\r\nLast-Modified: " + std::string(last_modified) +
                                  "\r\nContent-Type: image/png\r\n";
      const bool fresh =
          r.header("if-none-match") == etag ||
          (r.header("if-none-match").empty() && r.header("if-modified-since") == last_modified);
      const std::string out = fresh ? response(304, headers, "", false)
                                    : response(200, headers, "tile " + std::string(path.substr(6)));
      if (!co_await send(out)) co_return;
    } else if (path == "/echo") {
      if (!co_await send(response(200, "Content-Type: text/plain\r\n", r.head))) co_return;
    } else if (path.starts_with("/redirect/")) {
      const std::string location = "Location: /" + std::string(path.substr(10)) + "\r\n";
      if (!co_await send(response(302, location, ""))) co_return;
    } else if (path == "/stall") {
      co_await drain();
      co_return;
    } else if (path == "/close") {
      co_return;  // closes without a response
    } else if (path == "/reset") {
      boost::system::error_code ignored;
      socket.set_option(tcp::socket::linger(true, 0), ignored);
      socket.close(ignored);
      co_return;
    } else if (path.starts_with("/truncated/")) {
      const std::size_t n = number_after(path, "/truncated/");
      std::string out = response(200, "Content-Type: application/octet-stream\r\n", "", false);
      out.pop_back();
      out.pop_back();
      out += "Content-Length: " + std::to_string(n) + "\r\n\r\n" + body(n / 2);
      if (!co_await send(std::move(out))) co_return;
      boost::system::error_code ignored;
      socket.shutdown(tcp::socket::shutdown_send, ignored);
      co_await drain();
      co_return;
    } else {
      if (!co_await send(response(404, "Content-Type: text/plain\r\n", "not found\n"))) co_return;
    }
    if (r.header("connection") == "close") co_return;
  }
}

// --- on a thread of its own ---------------------------------------------------

http_test_server_thread::http_test_server_thread() : loop_(io_), server_(io_) {
  thread_ = std::thread([this] {
    loop_.run([](http_test_server& server, event& stop) -> task<> {
      co_await with_task_group([&](task_group& g) -> task<> {
        g.spawn(server.serve());
        co_await stop.wait();
        g.cancel();
      });
    }(server_, stop_));
  });
}

http_test_server_thread::~http_test_server_thread() {
  asio::post(io_, [this] { stop_.set(); });
  thread_.join();
}

}  // namespace cohort::test
