#include <cohort/io/http.hpp>

#include <cohort/runtime/asio_loop.hpp>

#include "io/ascii_case.hpp"

#include <curl/curl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <boost/asio/error.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <limits>
#include <memory>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#ifndef COHORT_VERSION_STRING
#define COHORT_VERSION_STRING "0"
#endif

namespace cohort {

static_assert(static_cast<int>(curl_errc::unsupported_protocol) == CURLE_UNSUPPORTED_PROTOCOL);
static_assert(static_cast<int>(curl_errc::url_malformat) == CURLE_URL_MALFORMAT);
static_assert(static_cast<int>(curl_errc::couldnt_resolve_host) == CURLE_COULDNT_RESOLVE_HOST);
static_assert(static_cast<int>(curl_errc::couldnt_connect) == CURLE_COULDNT_CONNECT);
static_assert(static_cast<int>(curl_errc::weird_server_reply) == CURLE_WEIRD_SERVER_REPLY);
static_assert(static_cast<int>(curl_errc::http2) == CURLE_HTTP2);
static_assert(static_cast<int>(curl_errc::partial_file) == CURLE_PARTIAL_FILE);
static_assert(static_cast<int>(curl_errc::write_error) == CURLE_WRITE_ERROR);
static_assert(static_cast<int>(curl_errc::operation_timedout) == CURLE_OPERATION_TIMEDOUT);
static_assert(static_cast<int>(curl_errc::ssl_connect_error) == CURLE_SSL_CONNECT_ERROR);
static_assert(static_cast<int>(curl_errc::too_many_redirects) == CURLE_TOO_MANY_REDIRECTS);
static_assert(static_cast<int>(curl_errc::got_nothing) == CURLE_GOT_NOTHING);
static_assert(static_cast<int>(curl_errc::send_error) == CURLE_SEND_ERROR);
static_assert(static_cast<int>(curl_errc::recv_error) == CURLE_RECV_ERROR);
static_assert(static_cast<int>(curl_errc::peer_failed_verification) ==
              CURLE_PEER_FAILED_VERIFICATION);
static_assert(static_cast<int>(curl_errc::filesize_exceeded) == CURLE_FILESIZE_EXCEEDED);
static_assert(static_cast<int>(curl_errc::http2_stream) == CURLE_HTTP2_STREAM);

namespace {

class curl_category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "curl"; }
  std::string message(int value) const override {
    return curl_easy_strerror(static_cast<CURLcode>(value));
  }
};

// curl_global_init is not thread-safe in every libcurl build; a function-local
// static makes the first call happen once, whichever thread gets here first.
void global_init() {
  static const CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);
  if (rc != CURLE_OK) {
    throw std::runtime_error(std::string("cohort: curl_global_init failed: ") +
                             curl_easy_strerror(rc));
  }
}

std::string_view trim(std::string_view s) noexcept {
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return s;
}

using io_detail::iequals;

bool is_https(std::string_view url) noexcept {
  return url.size() >= 8 && iequals(url.substr(0, 8), "https://");
}

// Milliseconds for libcurl, rounded up so a tiny positive timeout is not "none".
long to_ms(duration d) noexcept {
  const auto ms = std::chrono::ceil<std::chrono::milliseconds>(d).count();
  return static_cast<long>(std::min<long long>(ms, std::numeric_limits<long>::max()));
}

}  // namespace

const std::error_category& curl_category() noexcept {
  static const curl_category_impl category;
  return category;
}

std::string_view http_default_user_agent() noexcept {
  return "cohort/" COHORT_VERSION_STRING;
}

http_error::http_error(std::error_code code, const std::string& url, const std::string& message)
    : std::runtime_error("GET " + url + ": " + (message.empty() ? code.message() : message) +
                         " (curl error " + std::to_string(code.value()) + ")"),
      code_(code),
      url_(url) {}

std::optional<std::chrono::seconds> parse_retry_after(std::string_view value,
                                                      std::chrono::system_clock::time_point now) {
  value = trim(value);
  if (value.empty()) return std::nullopt;
  if (std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    std::int64_t seconds = 0;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
    if (ec == std::errc::result_out_of_range) seconds = std::numeric_limits<std::int64_t>::max();
    return std::chrono::seconds(seconds);
  }
  // An HTTP-date starts with a day name ("Wed, 21 Oct 2015 07:28:00 GMT",
  // or the obsolete RFC 850 and asctime forms); anything else (a signed or
  // fractional number, a word) is malformed. curl_getdate accepts all three.
  if (!std::isalpha(static_cast<unsigned char>(value.front()))) return std::nullopt;
  const std::string text(value);
  const time_t when = curl_getdate(text.c_str(), nullptr);
  if (when == -1) return std::nullopt;
  // In whole seconds: a date far in the future (year 30000) is beyond the
  // nanosecond system_clock, so never convert `when` to it.
  // ceil(when - now) for a whole-second `when` is when - floor(now).
  const std::int64_t now_s =
      std::chrono::floor<std::chrono::seconds>(now.time_since_epoch()).count();
  const auto w = static_cast<std::int64_t>(when);
  return std::chrono::seconds(w <= now_s ? 0 : w - now_s);
}

namespace detail {

/// One request's libcurl handle and what it has received so far. Pooled by
/// the client and reused across requests.
struct http_transfer {
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  http_client::impl* client = nullptr;
  completion* done = nullptr;
  http_response response;
  std::string retry_after;
  std::optional<std::uint64_t> max_body;
  std::uint64_t content_length = 0;
  bool too_large = false;
  bool active = false;  // added to the multi handle
  char error_buf[CURL_ERROR_SIZE] = {};
  // The whole-request timeout, kept by us rather than by libcurl (whose
  // clock would run while the request waits for a free connection): armed
  // when the request has its connection, set back by the time connecting
  // took (see on_connected).
  duration total_timeout = duration::zero();
  time_point budget_start{};
  bool budget_started = false;
  timer_entry deadline;
};

}  // namespace detail

struct http_client::impl {
  // A socket libcurl asked us to watch. Handlers hold it by shared_ptr, since
  // a wait completes (aborted) only after the socket was released; `owner`
  // is null from then on.
  struct socket_watch {
    socket_watch(boost::asio::io_context& io, curl_socket_t s) : sd(io), fd(s) {}
    boost::asio::posix::stream_descriptor sd;
    impl* owner = nullptr;
    curl_socket_t fd;
    int want = 0;  // CURL_POLL_IN / CURL_POLL_OUT bits
    bool waiting_read = false;
    bool waiting_write = false;
    // A connection socket libcurl opened and will close through our
    // callbacks: the watch stays when libcurl stops asking about it (an idle
    // kept-alive connection), so the socket's next request does not register
    // it with the reactor again, and goes when the socket is closed.
    bool kept = false;
  };

  impl(asio_loop& l, http_client_options o) : loop(l), options(o) {
    global_init();
    pool.reserve(options.pooled_handles);
    multi = curl_multi_init();
    if (multi == nullptr) throw std::runtime_error("cohort: curl_multi_init failed");
    timer.fire_ = &on_timer_fire;
    timer.context_ = this;
    curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, &on_socket);
    curl_multi_setopt(multi, CURLMOPT_SOCKETDATA, this);
    curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, &on_timer);
    curl_multi_setopt(multi, CURLMOPT_TIMERDATA, this);
    curl_multi_setopt(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS,
                      static_cast<long>(options.max_total_connections));
    curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS,
                      static_cast<long>(options.max_host_connections));
    if (options.max_idle_connections != 0) {
      curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS,
                        static_cast<long>(options.max_idle_connections));
    }
    curl_multi_setopt(multi, CURLMOPT_PIPELINING,
                      options.http2 ? CURLPIPE_MULTIPLEX : CURLPIPE_NOTHING);
  }

  ~impl() {
    // Every request has ended (the client outlives them); what remains is
    // idle connections, which curl_multi_cleanup closes after telling
    // on_socket to forget their sockets.
    curl_multi_cleanup(multi);
    for (auto& [fd, w] : sockets) release(*w);
    sockets.clear();
    loop.remove_timer(timer);
    for (auto& t : pool) destroy(t);
  }

  // --- request handles ------------------------------------------------------

  detail::http_transfer* acquire() {
    if (!pool.empty()) {
      detail::http_transfer* t = pool.back();
      pool.pop_back();
      return t;
    }
    auto t = std::make_unique<detail::http_transfer>();
    t->easy = curl_easy_init();
    if (t->easy == nullptr) throw std::runtime_error("cohort: curl_easy_init failed");
    t->client = this;
    t->deadline.fire_ = &on_deadline;
    t->deadline.context_ = t.get();
    // What every request of this handle shares, set once: a pooled handle is
    // not reset between requests (curl_easy_reset and setting all of this
    // again cost as much as our whole share of a small request); start()
    // sets everything a request may change.
    CURLcode rc = CURLE_OK;
    auto set = [&](CURLoption option, auto value) {
      if (rc == CURLE_OK) rc = curl_easy_setopt(t->easy, option, value);
    };
    set(CURLOPT_PRIVATE, static_cast<void*>(t.get()));
    set(CURLOPT_ERRORBUFFER, t->error_buf);
    set(CURLOPT_NOSIGNAL, 1L);
    set(CURLOPT_WRITEFUNCTION, &on_body);
    set(CURLOPT_WRITEDATA, static_cast<void*>(t.get()));
    set(CURLOPT_HEADERFUNCTION, &on_header);
    set(CURLOPT_HEADERDATA, static_cast<void*>(t.get()));
    set(CURLOPT_PREREQFUNCTION, &on_connected);
    set(CURLOPT_PREREQDATA, static_cast<void*>(t.get()));
    set(CURLOPT_OPENSOCKETFUNCTION, &on_open_socket);
    set(CURLOPT_OPENSOCKETDATA, static_cast<void*>(this));
    set(CURLOPT_CLOSESOCKETFUNCTION, &on_close_socket);
    set(CURLOPT_CLOSESOCKETDATA, static_cast<void*>(this));
    // A 64 KiB receive buffer (libcurl's default is 16 KiB): a typical tile
    // and its headers arrive in one recv instead of 1.5, and libcurl's poll
    // for more pending data after each recv goes with it (issue 17:
    // 1 system call a tile fewer). 1 MiB for 16 pooled handles.
    set(CURLOPT_BUFFERSIZE, 65536L);
    set(CURLOPT_PROTOCOLS_STR, "http,https");
    set(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    set(CURLOPT_HTTP_VERSION,
        static_cast<long>(options.http2 ? CURL_HTTP_VERSION_2TLS : CURL_HTTP_VERSION_1_1));
    if (rc != CURLE_OK) {
      curl_easy_cleanup(t->easy);
      throw std::runtime_error(std::string("cohort: setting up a request handle failed: ") +
                               curl_easy_strerror(rc));
    }
    return t.release();
  }

  void give_back(detail::http_transfer* t) noexcept {
    if (t->active) remove(*t);
    // The list is libcurl's until the next request sets its own (or none):
    // start() sets CURLOPT_HTTPHEADER every time, so it is never used freed.
    curl_slist_free_all(std::exchange(t->headers, nullptr));
    t->done = nullptr;
    t->response = http_response{};
    t->retry_after.clear();
    t->max_body.reset();
    t->content_length = 0;
    t->too_large = false;
    t->error_buf[0] = '\0';
    t->total_timeout = duration::zero();
    t->budget_started = false;
    if (pool.size() < options.pooled_handles) {
      pool.push_back(t);  // reserved below: never throws
    } else {
      destroy(t);
    }
  }

  static void destroy(detail::http_transfer* t) noexcept {
    curl_easy_cleanup(t->easy);
    delete t;
  }

  // --- starting, finishing, cancelling --------------------------------------

  void start(detail::http_transfer& t, const http_request& r) {
    CURL* e = t.easy;
    CURLcode rc = CURLE_OK;
    auto set = [&](CURLoption option, auto value) {
      if (rc == CURLE_OK) rc = curl_easy_setopt(e, option, value);
    };
    set(CURLOPT_URL, r.url.c_str());
    set(CURLOPT_USERAGENT,
        r.user_agent.empty() ? http_default_user_agent().data() : r.user_agent.c_str());
    // PIPEWAIT makes a request wait for the host's first connection to say
    // whether it multiplexes rather than open one of its own. Over TLS the
    // handshake (ALPN) says so at once; over plain http libcurl learns it
    // only from the first response's status line, so with PIPEWAIT every
    // request to a server that is slow to answer would queue behind the
    // first one (issue 13), and plain http never multiplexes here anyway.
    set(CURLOPT_PIPEWAIT, options.http2 && is_https(r.url) ? 1L : 0L);
    set(CURLOPT_SSL_VERIFYPEER, r.verify_tls ? 1L : 0L);
    set(CURLOPT_SSL_VERIFYHOST, r.verify_tls ? 2L : 0L);
    // The handle is reused without a reset: every option below is set for
    // every request, to libcurl's default where the request wants none.
    //
    // libcurl's own CURLOPT_TIMEOUT counts from curl_multi_add_handle, so a
    // request that waits for a free connection (max_host_connections) spends
    // its budget waiting, and then fails at once with an error naming
    // whatever step it was about to take ("Failed to resolve host ... after
    // 0 ms"). Its connect timeout restarts when the request gets its turn:
    // connecting is bounded by it (and by the total timeout), and the total
    // timeout is ours, armed in on_connected.
    duration connect = r.connect_timeout;
    if (r.total_timeout > duration::zero()) {
      if (connect <= duration::zero() || r.total_timeout < connect) connect = r.total_timeout;
      t.total_timeout = r.total_timeout;
    }
    set(CURLOPT_CONNECTTIMEOUT_MS, connect > duration::zero() ? to_ms(connect) : 0L);
    const bool stall = r.low_speed_time > duration::zero();
    set(CURLOPT_LOW_SPEED_LIMIT, stall ? static_cast<long>(r.low_speed_limit) : 0L);
    set(CURLOPT_LOW_SPEED_TIME,
        stall ? static_cast<long>(std::chrono::ceil<std::chrono::seconds>(r.low_speed_time).count())
              : 0L);
    t.max_body = r.max_body_bytes;
    set(CURLOPT_MAXFILESIZE_LARGE,
        static_cast<curl_off_t>(std::min<std::uint64_t>(r.max_body_bytes.value_or(0),
                                                        std::numeric_limits<curl_off_t>::max())));
    set(CURLOPT_FOLLOWLOCATION, r.max_redirects > 0 ? 1L : 0L);
    set(CURLOPT_MAXREDIRS, r.max_redirects > 0 ? static_cast<long>(r.max_redirects) : -1L);
    for (const std::string& h : r.headers) append_header(t, h.c_str());
    if (!r.if_none_match.empty()) append_header(t, ("If-None-Match: " + r.if_none_match).c_str());
    if (!r.if_modified_since.empty()) {
      append_header(t, ("If-Modified-Since: " + r.if_modified_since).c_str());
    }
    set(CURLOPT_HTTPHEADER, t.headers);

    if (rc != CURLE_OK) {
      fail_now(t, rc, "");
      return;
    }
    const CURLMcode mc = curl_multi_add_handle(multi, e);
    if (mc != CURLM_OK) {
      fail_now(t, CURLE_FAILED_INIT, curl_multi_strerror(mc));
      return;
    }
    t.active = true;
    ++in_flight;
    ++stats.started;
  }

  static void append_header(detail::http_transfer& t, const char* line) {
    curl_slist* l = curl_slist_append(t.headers, line);
    if (l == nullptr) throw std::bad_alloc();
    t.headers = l;
  }

  // The request could not even be handed to libcurl: it ends at once.
  void fail_now(detail::http_transfer& t, CURLcode rc, const char* message) {
    t.response.error = std::error_code(rc, curl_category());
    t.response.error_message = *message != '\0' ? message : curl_easy_strerror(rc);
    ++stats.failed;
    t.done->complete();
  }

  void remove(detail::http_transfer& t) noexcept {
    loop.remove_timer(t.deadline);
    curl_multi_remove_handle(multi, t.easy);
    t.active = false;
    --in_flight;
  }

  bool cancel(detail::http_transfer& t) noexcept {
    if (!t.active) return false;  // finished: its completion is already queued
    remove(t);
    ++stats.cancelled;
    return true;
  }

  void finish(detail::http_transfer& t, CURLcode rc) noexcept {
    http_response& r = t.response;
    long status = 0;
    curl_easy_getinfo(t.easy, CURLINFO_RESPONSE_CODE, &status);
    r.status = static_cast<int>(status);
    curl_off_t micros = 0;
    curl_easy_getinfo(t.easy, CURLINFO_TOTAL_TIME_T, &micros);
    r.total_time = std::chrono::duration_cast<duration>(std::chrono::microseconds(micros));
    // Our write callback refused a body over the limit: say why.
    if (t.too_large) rc = CURLE_FILESIZE_EXCEEDED;
    if (rc != CURLE_OK) {
      r.error = std::error_code(rc, curl_category());
      r.error_message =
          t.error_buf[0] != '\0' && !t.too_large ? t.error_buf : curl_easy_strerror(rc);
      ++stats.failed;
    } else {
      ++stats.completed;
    }
    if (!t.retry_after.empty()) {
      r.retry_after = parse_retry_after(t.retry_after, std::chrono::system_clock::now());
    }
    remove(t);
    t.done->complete();
  }

  // --- the whole-request timeout ------------------------------------------

  // libcurl has a connection for the request (new or reused) and is about to
  // send it: the request's budget started when it began connecting (libcurl's
  // connect times count from there, not from when it was queued).
  static int on_connected(void* user, char*, char*, int, int) noexcept {
    auto& t = *static_cast<detail::http_transfer*>(user);
    if (t.total_timeout <= duration::zero()) return CURL_PREREQFUNC_OK;  // no budget to keep
    if (t.budget_started) return CURL_PREREQFUNC_OK;                     // a redirect: same budget
    curl_off_t connect_us = 0;
    curl_off_t tls_us = 0;
    curl_easy_getinfo(t.easy, CURLINFO_CONNECT_TIME_T, &connect_us);
    curl_easy_getinfo(t.easy, CURLINFO_APPCONNECT_TIME_T, &tls_us);
    impl& self = *t.client;
    t.budget_started = true;
    t.budget_start = self.loop.now() - std::chrono::microseconds(std::max(connect_us, tls_us));
    t.deadline.deadline_ = t.budget_start + t.total_timeout;
    try {
      self.loop.add_timer(t.deadline);
    } catch (...) {
      return CURL_PREREQFUNC_ABORT;
    }
    return CURL_PREREQFUNC_OK;
  }

  static void on_deadline(detail::timer_entry* entry) noexcept {
    auto& t = *static_cast<detail::http_transfer*>(entry->context_);
    if (!t.active) return;
    const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(t.client->loop.now() -
                                                                            t.budget_start);
    std::snprintf(t.error_buf, sizeof t.error_buf,
                  "Operation timed out after %lld milliseconds with %zu bytes received",
                  static_cast<long long>(took.count()), t.response.body.size());
    t.client->finish(t, CURLE_OPERATION_TIMEDOUT);
  }

  // --- libcurl callbacks (never call user code, never throw through C) ------

  static std::size_t on_body(char* data, std::size_t size, std::size_t n, void* user) noexcept {
    auto& t = *static_cast<detail::http_transfer*>(user);
    const std::size_t bytes = size * n;
    std::string& body = t.response.body;
    if (t.max_body && body.size() + bytes > *t.max_body) {
      t.too_large = true;
      return 0;  // aborts the transfer (CURLE_WRITE_ERROR, reported as too large)
    }
    try {
      if (body.empty() && t.content_length > bytes) {
        // Trust Content-Length for one allocation, but not for a huge one.
        constexpr std::uint64_t max_reserve = 64 << 20;
        body.reserve(static_cast<std::size_t>(
            std::min({t.content_length, t.max_body.value_or(t.content_length), max_reserve})));
      }
      body.append(data, bytes);
    } catch (...) {
      return 0;
    }
    t.client->stats.bytes_received += bytes;
    return bytes;
  }

  static std::size_t on_header(char* data, std::size_t size, std::size_t n, void* user) noexcept {
    auto& t = *static_cast<detail::http_transfer*>(user);
    const std::size_t bytes = size * n;
    const std::string_view line(data, bytes);
    try {
      if (line.starts_with("HTTP/")) {
        // A new response (after a redirect or a 1xx): forget the last one's.
        t.response.content_type.clear();
        t.response.etag.clear();
        t.response.last_modified.clear();
        t.retry_after.clear();
        t.content_length = 0;
        return bytes;
      }
      const auto colon = line.find(':');
      if (colon == std::string_view::npos) return bytes;
      const std::string_view name = trim(line.substr(0, colon));
      const std::string_view value = trim(line.substr(colon + 1));
      if (iequals(name, "content-type")) {
        t.response.content_type = value;
      } else if (iequals(name, "etag")) {
        t.response.etag = value;
      } else if (iequals(name, "last-modified")) {
        t.response.last_modified = value;
      } else if (iequals(name, "retry-after")) {
        t.retry_after = value;
      } else if (iequals(name, "content-length")) {
        std::from_chars(value.data(), value.data() + value.size(), t.content_length);
      }
    } catch (...) {
      return 0;
    }
    return bytes;
  }

  static int on_socket(CURL*, curl_socket_t s, int what, void* user, void* socketp) noexcept {
    auto& self = *static_cast<impl*>(user);
    auto* w = static_cast<socket_watch*>(socketp);
    if (what == CURL_POLL_REMOVE) {
      // Only a watch we still have: one forgotten when its socket closed
      // is gone, whatever libcurl still holds.
      const auto it = self.sockets.find(s);
      if (w == nullptr || it == self.sockets.end() || it->second.get() != w) return 0;
      if (w->kept) {
        w->want = 0;  // a wait still pending ends without acting (on_ready)
      } else {
        self.forget(*w);
      }
      return 0;
    }
    try {
      std::shared_ptr<socket_watch> watch;
      if (w == nullptr) {
        if (const auto it = self.sockets.find(s); it != self.sockets.end()) {
          watch = it->second;  // kept from the socket's last request
        } else {
          watch = std::make_shared<socket_watch>(self.loop.io(), s);
          boost::system::error_code ec;
          watch->sd.assign(s, ec);
          if (ec) return -1;
          watch->owner = &self;
          watch->kept = self.opened.contains(s);
          self.sockets.emplace(s, watch);
        }
        curl_multi_assign(self.multi, s, watch.get());
      } else {
        watch = self.sockets.at(s);
      }
      watch->want = what & (CURL_POLL_IN | CURL_POLL_OUT);
      self.arm(watch);
    } catch (...) {
      return -1;
    }
    return 0;
  }

  // The socket libcurl would make itself (CURLOPT_OPENSOCKETFUNCTION's
  // default), noted as one libcurl closes through on_close_socket.
  static curl_socket_t on_open_socket(void* user, curlsocktype purpose,
                                      curl_sockaddr* address) noexcept {
    auto& self = *static_cast<impl*>(user);
    const curl_socket_t s = ::socket(address->family, address->socktype, address->protocol);
    if (s == CURL_SOCKET_BAD || purpose != CURLSOCKTYPE_IPCXN) return s;
    try {
      self.opened.insert(s);
    } catch (...) {
      // Not noted: watched as any other socket, forgotten when libcurl says so.
    }
    return s;
  }

  // libcurl closes a socket it opened through on_open_socket. It has already
  // said CURL_POLL_REMOVE if it watched it; a kept watch stops here, before
  // the descriptor can be reused.
  static int on_close_socket(void* user, curl_socket_t s) noexcept {
    auto& self = *static_cast<impl*>(user);
    self.opened.erase(s);
    if (const auto it = self.sockets.find(s); it != self.sockets.end()) {
      std::shared_ptr<socket_watch> keep = std::move(it->second);
      self.sockets.erase(it);
      release(*keep);
    }
    return ::close(s);
  }

  static int on_timer(CURLM*, long timeout_ms, void* user) noexcept {
    auto& self = *static_cast<impl*>(user);
    self.loop.remove_timer(self.timer);
    if (timeout_ms < 0) return 0;
    self.timer.deadline_ = self.loop.now() + std::chrono::milliseconds(timeout_ms);
    try {
      self.loop.add_timer(self.timer);
    } catch (...) {
      return -1;
    }
    return 0;
  }

  static void on_timer_fire(detail::timer_entry* entry) noexcept {
    static_cast<impl*>(entry->context_)->act(CURL_SOCKET_TIMEOUT, 0);
  }

  // --- socket watching ------------------------------------------------------

  // Starts a wait for each direction libcurl wants and none is pending for.
  void arm(const std::shared_ptr<socket_watch>& w) {
    using wait = boost::asio::posix::descriptor_base::wait_type;
    if ((w->want & CURL_POLL_IN) != 0 && !w->waiting_read) {
      w->waiting_read = true;
      w->sd.async_wait(wait::wait_read, [w](const boost::system::error_code& ec) {
        w->waiting_read = false;
        on_ready(w, CURL_POLL_IN, ec);
      });
    }
    if ((w->want & CURL_POLL_OUT) != 0 && !w->waiting_write) {
      w->waiting_write = true;
      w->sd.async_wait(wait::wait_write, [w](const boost::system::error_code& ec) {
        w->waiting_write = false;
        on_ready(w, CURL_POLL_OUT, ec);
      });
    }
  }

  static void on_ready(const std::shared_ptr<socket_watch>& w, int direction,
                       const boost::system::error_code& ec) {
    impl* self = w->owner;
    if (self == nullptr || ec == boost::asio::error::operation_aborted) return;
    if ((w->want & direction) == 0) return;  // libcurl no longer asks for it
    int flags = direction == CURL_POLL_IN ? CURL_CSELECT_IN : CURL_CSELECT_OUT;
    if (ec) flags |= CURL_CSELECT_ERR;
    self->act(w->fd, flags);
    if (w->owner != nullptr) self->arm(w);
  }

  void forget(socket_watch& w) noexcept {
    curl_multi_assign(multi, w.fd, nullptr);
    auto it = sockets.find(w.fd);
    std::shared_ptr<socket_watch> keep = std::move(it->second);
    sockets.erase(it);
    release(w);
  }

  // Stops watching; the socket stays open: it is libcurl's to close.
  static void release(socket_watch& w) noexcept {
    w.owner = nullptr;
    if (w.sd.is_open()) (void)w.sd.release();
  }

  // Lets libcurl act on a socket event or a timeout, then collects finished
  // transfers.
  void act(curl_socket_t s, int flags) noexcept {
    int running = 0;
    curl_multi_socket_action(multi, s, flags, &running);
    int left = 0;
    while (CURLMsg* m = curl_multi_info_read(multi, &left)) {
      if (m->msg != CURLMSG_DONE) continue;
      CURL* easy = m->easy_handle;
      const CURLcode rc = m->data.result;
      void* t = nullptr;
      curl_easy_getinfo(easy, CURLINFO_PRIVATE, &t);
      finish(*static_cast<detail::http_transfer*>(t), rc);
    }
  }

  asio_loop& loop;
  http_client_options options;
  CURLM* multi = nullptr;
  detail::timer_entry timer;
  std::unordered_map<curl_socket_t, std::shared_ptr<socket_watch>> sockets;
  // Connection sockets libcurl opened through on_open_socket and has not
  // closed yet.
  std::unordered_set<curl_socket_t> opened;
  std::vector<detail::http_transfer*> pool;
  http_client_stats stats;
  std::size_t in_flight = 0;
};

// --- http_client ------------------------------------------------------------

http_client::http_client(asio_loop& loop, http_client_options options)
    : impl_(std::make_unique<impl>(loop, options)) {}

http_client::~http_client() = default;

const http_client_stats& http_client::stats() const noexcept {
  return impl_->stats;
}

std::size_t http_client::in_flight() const noexcept {
  return impl_->in_flight;
}

// --- the operation ----------------------------------------------------------

namespace detail {

http_get_op::http_get_op(http_client& client, http_request request, bool throwing) noexcept
    : client_(&client), request_(std::move(request)), throwing_(throwing) {}

http_get_op::http_get_op(http_get_op&& o) noexcept
    : client_(o.client_),
      request_(std::move(o.request_)),
      transfer_(std::exchange(o.transfer_, nullptr)),
      throwing_(o.throwing_) {}

http_get_op::~http_get_op() {
  if (transfer_ != nullptr) client_->impl_->give_back(transfer_);
}

void http_get_op::start(completion& c) {
  transfer_ = client_->impl_->acquire();
  transfer_->done = &c;
  try {
    client_->impl_->start(*transfer_, request_);
  } catch (...) {
    client_->impl_->give_back(std::exchange(transfer_, nullptr));
    throw;
  }
}

bool http_get_op::cancel() noexcept {
  return transfer_ != nullptr && client_->impl_->cancel(*transfer_);
}

http_response http_get_op::result() {
  http_response r = std::move(transfer_->response);
  client_->impl_->give_back(std::exchange(transfer_, nullptr));
  if (throwing_ && r.error) throw http_error(r.error, request_.url, r.error_message);
  return r;
}

}  // namespace detail
}  // namespace cohort
