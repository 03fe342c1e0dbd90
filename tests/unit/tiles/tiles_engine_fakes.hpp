#pragma once

// The downloader's outside world, faked for its tests on virtual time: a
// tile_fetcher that answers each request as a script says after a virtual
// delay (and honours cancellation), and a tile_store in memory whose writes
// can be made to fail.

#include "cohort/tiles/tile_args.hpp"
#include "cohort/tiles/tile_fetcher.hpp"
#include "cohort/tiles/tile_store.hpp"
#include "cohort/tiles/tiles_cli.hpp"

#include <cohort/sleep.hpp>
#include <cohort/task.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace cohort::app::tiles {
// For readable test failures.
inline void PrintTo(const failed_tile& f, std::ostream* os) {
  *os << f.where.z << '/' << f.where.x << '/' << f.where.y << ": " << f.reason;
}
}  // namespace cohort::app::tiles

namespace tiles_engine_testing {

using namespace std::chrono_literals;
using cohort::curl_errc;
using cohort::duration;
using cohort::http_request;
using cohort::http_response;
using cohort::task;
using cohort::time_point;
using cohort::app::tiles::failed_tile;
using cohort::app::tiles::tile;
using cohort::app::tiles::tile_fetcher;
using cohort::app::tiles::tile_store;
using cohort::app::tiles::tile_validators;
using cohort::app::tiles::tiles_options;

// A PNG as far as tile validation looks.
inline const std::string png_body = std::string("\x89PNG\r\n\x1a\n", 8) + "pixels";

// One scripted answer: a complete response (status, headers, body), or a
// curl-class error, after `delay` on the loop's clock.
struct answer {
  int status = 200;
  std::string body = png_body;
  std::string content_type = "image/png";
  std::optional<std::chrono::seconds> retry_after{};
  std::string etag{};
  std::string last_modified{};
  curl_errc error = curl_errc::ok;
  duration delay = 10ms;

  static answer with_status(int s) {
    answer a;
    a.status = s;
    a.body = s == 200 ? png_body : "";
    return a;
  }
  static answer failing(curl_errc e) {
    answer a;
    a.status = 0;
    a.body.clear();
    a.error = e;
    return a;
  }
};

// Answers each request with script(url, n) for its n-th request (1, 2...).
class fake_fetcher final : public tile_fetcher {
 public:
  struct request_seen {
    http_request request;
    time_point at;
    int attempt = 0;
  };

  std::function<answer(std::string_view url, int attempt)> script = [](std::string_view, int) {
    return answer{};
  };
  std::vector<request_seen> requests;
  std::size_t completed = 0;
  std::size_t cancelled = 0;  // requests whose wait was cancelled

  task<http_response> fetch(http_request request) override {
    const int attempt = ++attempts_[request.url];
    const answer a = script(request.url, attempt);
    // (Not inside the braces below: g++ 12 mishandles an aggregate built
    // around a co_await.)
    const time_point at = (co_await cohort::this_scheduler()).now();
    requests.push_back({request, at, attempt});
    struct count_cancel {
      fake_fetcher& f;
      bool done = false;
      ~count_cancel() {
        if (!done) ++f.cancelled;
      }
    } guard{*this};
    co_await cohort::sleep_for(a.delay);
    guard.done = true;
    ++completed;
    co_return response_of(a);
  }

  int attempts_of(const std::string& url) const {
    auto it = attempts_.find(url);
    return it == attempts_.end() ? 0 : it->second;
  }

 private:
  static http_response response_of(const answer& a) {
    http_response r;
    r.error = a.error == curl_errc::ok ? std::error_code{} : make_error_code(a.error);
    if (r.error) return r;
    r.status = a.status;
    r.body = a.body;
    r.content_type = a.content_type;
    r.retry_after = a.retry_after;
    r.etag = a.etag;
    r.last_modified = a.last_modified;
    return r;
  }

  std::map<std::string, int, std::less<>> attempts_;
};

// A tile_store in memory; `fail_put` and `fail_commit`, when set, make
// put() and maybe_flush() throw them.
class memory_store final : public tile_store {
 public:
  std::map<tile, std::string> tiles;
  std::map<tile, tile_validators> validators_of;
  std::map<tile, std::string> failed;
  std::set<tile> missing;
  std::optional<std::string> fail_put;
  std::optional<std::string> fail_commit;
  std::size_t flushes = 0;
  std::size_t maybe_flushes = 0;

  const std::filesystem::path& path() const override { return path_; }
  bool has(const tile& t) const override { return tiles.count(t) != 0; }
  std::uint64_t stored_count() const override { return tiles.size(); }
  void put(const tile& t, std::string_view bytes, const tile_validators& v) override {
    if (fail_put) throw cohort::app::tiles::tile_store_error(*fail_put);
    tiles[t] = std::string(bytes);
    validators_of[t] = v;
    failed.erase(t);
    missing.erase(t);
  }
  std::optional<tile_validators> validators(const tile& t) override {
    auto it = validators_of.find(t);
    if (it == validators_of.end() || it->second.empty()) return std::nullopt;
    return it->second;
  }
  void record_failed(const tile& t, std::string_view why) override { failed[t] = std::string(why); }
  void clear_failed(const tile& t) override { failed.erase(t); }
  std::vector<failed_tile> failed_tiles() const override {
    std::vector<failed_tile> out;
    for (const auto& [t, why] : failed) out.push_back({t, why});
    return out;
  }
  void record_missing(const tile& t) override { missing.insert(t); }
  bool is_missing(const tile& t) const override { return missing.count(t) != 0; }
  std::uint64_t missing_count() const override { return missing.size(); }
  std::string format() const override { return "png"; }
  bool maybe_flush(std::chrono::steady_clock::time_point) override {
    if (fail_commit) throw cohort::app::tiles::tile_store_error(*fail_commit);
    ++maybe_flushes;
    return false;
  }
  void flush() override { ++flushes; }
  void close() override {}

 private:
  std::filesystem::path path_{"memory"};
};

inline tiles_options options_for(const std::string& box, const std::string& zooms) {
  tiles_options o;
  o.boxes = {cohort::app::tiles::parse_bbox(box)};
  o.zooms = cohort::app::tiles::parse_zooms(zooms);
  o.url = cohort::app::tiles::url_template::parse("http://h:8/{z}/{x}/{y}.png");
  o.output = "memory";
  return o;
}

}  // namespace tiles_engine_testing
