#include "cohort/tiles/tiles_engine.hpp"

#include "cohort/tiles/tile_validation.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <charconv>
#include <chrono>

namespace cohort::app::tiles {

namespace {

// A server may ask for a long pause; more than this is not worth waiting
// for in one run (the tile fails and the next run tries again).
constexpr auto max_retry_after = std::chrono::minutes(10);

// Refused tiles kept with their reason for the report.
constexpr std::size_t refused_kept = 10;

// A client error that asking again will not change (403, 410...): 404 is
// "missing", and 408/429 are worth another try.
bool is_final_refusal(int status) {
  return status >= 400 && status < 500 && status != 404 && status != 408 && status != 429;
}

runner_options make_runner_options(const tiles_options& o, runner_journal& journal) {
  runner_options r;
  r.retry.max_attempts = o.retries + 1;
  r.retry.initial = std::chrono::duration_cast<duration>(o.retry_delay);
  r.retry.max_delay = std::max<duration>(r.retry.initial, std::chrono::seconds(30));
  r.retry.jitter = 0.5;
  r.journal = &journal;
  r.rerun_failed = true;
  return r;
}

// The counts known before the run: the tiles of the set, and those already
// there (stored, or known missing) that the run skips.
download_counts counts_before(const tiles_options& o, const tile_set& set,
                              const tile_store& store) {
  download_counts c;
  c.total = set.count();
  if (o.refresh || (store.stored_count() == 0 && store.missing_count() == 0)) return c;
  // One pass over the set's tiles: bitmap lookups, no allocation per tile.
  auto e = set.enumerate();
  while (auto t = e.next()) {
    if (store.has(*t)) {
      ++c.skipped;
    } else if (store.is_missing(*t)) {
      ++c.skipped;
      ++c.skipped_missing;
    }
  }
  return c;
}

}  // namespace

std::string tile_key(const tile& t) {
  return fmt::format("{}/{}/{}", t.z, t.x, t.y);
}

std::optional<tile> parse_tile_key(std::string_view key) {
  tile t;
  const char* p = key.data();
  const char* end = p + key.size();
  auto number = [&](auto& out, bool last) {
    auto [next, ec] = std::from_chars(p, end, out);
    if (ec != std::errc{} || next == p) return false;
    p = next;
    if (last) return p == end;
    if (p == end || *p != '/') return false;
    ++p;
    return true;
  };
  if (!number(t.z, false) || !number(t.x, false) || !number(t.y, true)) return std::nullopt;
  if (t.z < 0 || t.z > max_zoom || t.x >= tiles_per_axis(t.z) || t.y >= tiles_per_axis(t.z)) {
    return std::nullopt;
  }
  return t;
}

task<> tile_item::run() {
  // The item outlives its task (the runner awaits the task in the item's
  // worker), so the task can carry the label as its name.
  if (label_.empty()) label_ = fmt::format("tile {} from {}", key_, gate());
  return downloader->fetch(where, url_).named(label_.c_str());
}

tile_source::tile_source(tile_downloader& d) : d_(&d), tiles_(d.set_.enumerate()) {}

std::optional<tile_item> tile_source::next() {
  while (auto t = tiles_.next()) {
    if (d_->already_have(*t)) continue;  // counted up front in counts_.skipped
    tile_item item{d_, *t, tile_key(*t), {}, {}};
    d_->options_.url.expand_into(item.url_, *t);
    return item;
  }
  return std::nullopt;
}

std::size_t tile_source::size() const noexcept {
  return d_->remaining_;
}

void tile_downloader::store_journal::record_failed(std::string_view key, int attempts,
                                                   std::vector<std::string> errors) {
  // The failed list keeps the last attempt's error: the one to act on.
  if (auto t = parse_tile_key(key)) {
    const std::string_view last = errors.empty() ? std::string_view{} : errors.back();
    store_->record_failed(
        *t, fmt::format("{} (after {} attempt{})", last, attempts, attempts == 1 ? "" : "s"));
  }
}

tile_downloader::tile_downloader(const tiles_options& options, tile_set set, tile_store& store)
    : options_(options),
      set_(std::move(set)),
      store_(&store),
      counts_(counts_before(options_, set_, store)),
      remaining_(static_cast<std::size_t>(counts_.total) - counts_.skipped),
      limiter_(options.rate),
      guard_(options.max_failures_in_a_row),
      journal_(store),
      runner_(tile_source(*this), options.concurrency, make_runner_options(options_, journal_)) {}

tile_downloader::~tile_downloader() = default;

bool tile_downloader::already_have(const tile& t) const {
  return !options_.refresh && (store_->has(t) || store_->is_missing(t));
}

task<> tile_downloader::run(asio_loop& loop, event& drain) {
  http_client_options co;
  co.max_total_connections = options_.concurrency;
  co.max_host_connections = options_.concurrency;
  co.max_idle_connections = std::max<std::size_t>(options_.concurrency, 4);
  // The client lives in this frame: however run() ends (even unwound by a
  // cancel), it goes after the runner's requests and before the loop.
  http_client client(loop, co);
  cancel_scope stop;
  client_ = &client;
  stop_ = &stop;
  struct forget {
    tile_downloader& d;
    ~forget() {
      d.client_ = nullptr;
      d.stop_ = nullptr;
    }
  } forget_client{*this};
  runner_.set_drain(&drain);
  (void)co_await stop.run(runner_.run());
}

http_request tile_downloader::make_request(const tile& t, const std::string& url) {
  http_request req(url);
  req.headers = options_.headers;
  req.user_agent = options_.user_agent;
  req.connect_timeout = std::chrono::duration_cast<duration>(options_.connect_timeout);
  req.total_timeout = std::chrono::duration_cast<duration>(options_.request_timeout);
  req.low_speed_limit = 1;
  req.low_speed_time = std::chrono::duration_cast<duration>(options_.stall_timeout);
  req.max_body_bytes = options_.max_tile_bytes;
  if (options_.refresh) {
    if (auto v = store_->validators(t)) {
      req.if_none_match = v->etag;
      req.if_modified_since = v->last_modified;
    }
  }
  return req;
}

task<> tile_downloader::fetch(const tile& t, const std::string& url) {
  const std::string_view host = url_host(url);
  co_await limiter_.acquire(host);
  http_request req = make_request(t, url);
  http_response r = co_await client_->get_ec(std::move(req));
  if (r.error) {
    std::string message = r.error_message.empty() ? r.error.message() : r.error_message;
    // A server that cannot be reached at all (wrong host or port, down, a
    // certificate that does not verify) would fail every tile after all its
    // retries, for hours on a large area: stop once it is clear.
    const bool unreachable =
        r.error == curl_errc::couldnt_resolve_host || r.error == curl_errc::couldnt_connect ||
        r.error == curl_errc::ssl_connect_error || r.error == curl_errc::peer_failed_verification;
    if (unreachable && !any_response_ && ++unreachable_ >= 2 * options_.concurrency + 2) {
      stop_with(
          fmt::format("cannot reach {}: {} ({} attempts, no answer yet); check --url and "
                      "that the server is up",
                      host, message, unreachable_));
      co_return;
    }
    throw tile_fetch_error(message);
  }
  any_response_ = true;
  auto problem = tile_problem(r.status, r.content_type, r.body, options_.max_tile_bytes);
  if (auto why = guard_.note(url, r.status, problem)) {  // every answer fails the same way
    stop_with(std::move(*why));
    throw tile_fetch_error(problem.value_or("the run stopped"));
  }
  // 404: no such tile; 204: an empty tile (vector tile servers say so for
  // empty areas). Both are "missing": recorded, not retried.
  if (r.status == 404 || r.status == 204) {
    store_->record_missing(t);
    ++counts_.missing;
    co_return;
  }
  if (r.not_modified()) {
    ++counts_.unchanged;
    co_return;
  }
  if ((r.status == 429 || r.status == 503) && r.retry_after) {
    const auto wait = std::min<std::chrono::seconds>(*r.retry_after, max_retry_after);
    throw retry_after(std::string(host), std::chrono::duration_cast<duration>(wait),
                      fmt::format("HTTP {} (Retry-After {}s)", r.status, r.retry_after->count()));
  }
  if (is_final_refusal(r.status)) {
    const std::string reason = fmt::format("HTTP status {} (not retried)", r.status);
    store_->record_failed(t, reason);
    ++counts_.refused;
    if (counts_.refused_tiles.size() < refused_kept) counts_.refused_tiles.push_back({t, reason});
    co_return;
  }
  if (problem) {
    throw tile_fetch_error(*problem);
  }
  try {
    store_->put(t, r.body, tile_validators{r.etag, r.last_modified});
  } catch (const std::exception& e) {
    // Not the tile's fault: every other tile would fail the same way.
    stop_with(e.what());
    co_return;
  }
  ++counts_.stored;
  counts_.bytes += r.body.size();
}

void tile_downloader::stop_with(std::string why) {
  if (!stop_error_) stop_error_ = std::move(why);
  if (stop_ != nullptr) stop_->cancel();
}

}  // namespace cohort::app::tiles
