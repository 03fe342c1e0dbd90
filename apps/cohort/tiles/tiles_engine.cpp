#include "cohort/tiles/tiles_engine.hpp"

#include "cohort/common/error_text.hpp"
#include "cohort/tiles/tile_validation.hpp"

#include <cohort/sleep.hpp>
#include <cohort/task.hpp>

#include <fmt/core.h>

#include <algorithm>
#include <chrono>

namespace cohort::app::tiles {

namespace {

// A server may ask for a long pause; more than this is not worth waiting
// for in one run (the tile fails and the next run tries again).
constexpr auto max_retry_after = std::chrono::minutes(10);

// A client error that asking again will not change (403, 410...): 408 and
// 429 are worth another try. (A tile's 404 is "missing", taken before this.)
bool is_final_refusal(int status) {
  return status >= 400 && status < 500 && status != 408 && status != 429;
}

// A network error that says the server cannot be reached at all (wrong host
// or port, down, a certificate that does not verify), as opposed to one
// request going wrong.
bool is_unreachable(const std::error_code& e) {
  return e == curl_errc::couldnt_resolve_host || e == curl_errc::couldnt_connect ||
         e == curl_errc::ssl_connect_error || e == curl_errc::peer_failed_verification;
}

runner_options make_runner_options(const tiles_options& o) {
  runner_options r;
  r.retry.max_attempts = o.retries + 1;
  r.retry.initial = std::chrono::duration_cast<duration>(o.retry_delay);
  r.retry.max_delay = std::max<duration>(r.retry.initial, std::chrono::seconds(30));
  r.retry.jitter = 0.5;
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

task<> tile_item::run() {
  // The item outlives its task (the runner awaits the task in the item's
  // worker), so the task can carry the label as its name.
  if (label_.empty() && range_ != nullptr) {
    label_ = fmt::format("bytes {}-{} ({} tiles) from {}", range_->offset,
                         range_->offset + range_->length - 1, range_->tiles.size(), gate());
  } else if (label_.empty()) {
    label_ = fmt::format("tile {}/{}/{} from {}", where.z, where.x, where.y, gate());
  }
  if (range_ != nullptr) return downloader->fetch_range(*this).named(label_.c_str());
  return downloader->fetch(*this).named(label_.c_str());
}

void tile_item::ended(const item_result& r) {
  downloader->ended(*this, r);
}

tile_source::tile_source(tile_downloader& d) : d_(&d), tiles_(d.set_.enumerate()) {}

std::optional<tile_item> tile_source::next() {
  while (auto t = tiles_.next()) {
    if (d_->already_have(*t)) continue;  // counted up front in counts_.skipped
    tile_item item{d_, *t, {}, {}};
    d_->options_.url.expand_into(item.url_, *t);
    return item;
  }
  return std::nullopt;
}

std::size_t tile_source::size() const noexcept {
  return d_->remaining_;
}

std::optional<tile_item> range_source::next() {
  if (d_->ranges_.empty()) return std::nullopt;
  auto q = std::make_shared<const range_request>(std::move(d_->ranges_.front()));
  d_->ranges_.pop_front();
  const tile first = q->tiles.front().where;
  return tile_item{d_, first, d_->archive_->url, {}, false, std::move(q)};
}

task<> range_source::wait_ready() {
  return d_->plan_ranges();
}

tile_downloader::tile_downloader(const tiles_options& options, tile_set set, tile_store& store)
    : tile_downloader(options, std::move(set), store, std::optional<archive_plan>()) {}

tile_downloader::tile_downloader(const tiles_options& options, tile_set set, tile_store& store,
                                 archive_plan plan)
    : tile_downloader(options, std::move(set), store,
                      std::optional<archive_plan>(std::move(plan))) {}

tile_downloader::tile_downloader(const tiles_options& options, tile_set set, tile_store& store,
                                 std::optional<archive_plan> plan)
    : options_(options),
      set_(std::move(set)),
      store_(&store),
      counts_(counts_before(options_, set_, store)),
      remaining_(plan ? 0 : static_cast<std::size_t>(counts_.total) - counts_.skipped),
      limiter_(options.rate),
      guard_(options.max_failures_in_a_row),
      archive_(std::move(plan)) {
  if (archive_) {
    range_runner_.emplace(range_source(*this), options.concurrency, make_runner_options(options_));
  } else {
    tile_runner_.emplace(tile_source(*this), options.concurrency, make_runner_options(options_));
  }
}

tile_downloader::~tile_downloader() = default;

bool tile_downloader::already_have(const tile& t) const {
  return !options_.refresh && (store_->has(t) || store_->is_missing(t));
}

task<> tile_downloader::run(tile_fetcher& fetcher, event* drain) {
  cancel_scope stop;
  fetcher_ = &fetcher;
  stop_ = &stop;
  sched_ = &co_await this_scheduler();
  // However run() ends (even unwound by a cancel): what the finished tiles
  // changed is committed, and the fetcher is not used any more.
  struct at_end {
    tile_downloader& d;
    ~at_end() {
      d.flush_quietly();
      d.fetcher_ = nullptr;
      d.stop_ = nullptr;
    }
  } end{*this};
  if (drain != nullptr && archive_) range_runner_->set_drain(drain);
  if (drain != nullptr && !archive_) tile_runner_->set_drain(drain);
  if (archive_) {
    update_tile_progress();
    for (range_request& q : archive_->requests) {
      ranges_planned_ += q.tiles.size();
      ranges_.push_back(std::move(q));
    }
    std::vector<range_request>().swap(archive_->requests);
    record_absent(archive_->absent);
    std::vector<tile>().swap(archive_->absent);
  }
  // Two statements, not a conditional: g++ 12 destroys a task made in a
  // conditional operator inside co_await twice.
  if (archive_) {
    (void)co_await stop.run(range_runner_->run());
  } else {
    (void)co_await stop.run(tile_runner_->run());
  }
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

task<> tile_downloader::fetch(tile_item& item) {
  const std::string_view host = item.gate();
  // Without --rate there is nothing to wait for: no coroutine frame per tile.
  if (limiter_.limited()) co_await limiter_.acquire(host);
  const http_response r = co_await fetcher_->fetch(make_request(item.where, item.url_));
  bool taken = false;
  if (r.error) {
    take_network_error(host, r);  // throws, or stops the run
  } else {
    taken = take_answer(item, r);
  }
  // Not taken: this tile stopped the run (stop_with() cancelled it), so it
  // ends here as cancelled, not as done: the next run asks for it again.
  if (!taken) co_await checkpoint();
}

void tile_downloader::take_network_error(std::string_view host, const http_response& r) {
  std::string message = r.error_message.empty() ? r.error.message() : r.error_message;
  // A server that cannot be reached at all would fail every tile after all
  // its retries, for hours on a large area: stop once it is clear.
  if (is_unreachable(r.error) && !any_response_ && ++unreachable_ >= 2 * options_.concurrency + 2) {
    stop_with(
        fmt::format("cannot reach {}: {} ({} attempts, no answer yet); check --url and "
                    "that the server is up",
                    host, message, unreachable_));
    return;
  }
  throw tile_fetch_error(message);
}

// Stores or records one complete response, or throws: a failed attempt
// (retried by the runner, unless it is a permanent_error). False when the
// store could not take it (the run is stopped).
void tile_downloader::throw_if_paused_or_refused(tile_item& item, const http_response& r) {
  if ((r.status == 429 || r.status == 503) && r.retry_after) {
    const auto wait = std::min<std::chrono::seconds>(*r.retry_after, max_retry_after);
    throw retry_after(std::string(item.gate()), std::chrono::duration_cast<duration>(wait),
                      fmt::format("HTTP {} (Retry-After {}s)", r.status, r.retry_after->count()));
  }
  if (is_final_refusal(r.status)) {
    item.refused_ = true;
    throw permanent_error(fmt::format("HTTP status {} (not retried)", r.status));
  }
}

bool tile_downloader::take_answer(tile_item& item, const http_response& r) {
  const tile& t = item.where;
  const std::string& url = item.url_;
  any_response_ = true;
  auto problem = tile_problem(r.status, r.content_type, r.body, options_.max_tile_bytes);
  if (auto why = guard_.note(url, r.status, problem)) {  // every answer fails the same way
    stop_with(std::move(*why));
    throw tile_fetch_error(problem.value_or("the run stopped"));
  }
  // 404: no such tile; 204: an empty tile (vector tile servers say so for
  // empty areas). Both are "missing": recorded, not retried.
  if (r.status == 404 || r.status == 204) {
    if (!write_store([&] { store_->record_missing(t); })) return false;
    ++counts_.missing;
    return true;
  }
  if (r.not_modified()) {
    ++counts_.unchanged;
    return true;
  }
  throw_if_paused_or_refused(item, r);
  if (problem) throw tile_fetch_error(*problem);
  if (!write_store([&] { store_->put(t, r.body, tile_validators{r.etag, r.last_modified}); })) {
    return false;
  }
  ++counts_.stored;
  counts_.bytes += r.body.size();
  return true;
}

void tile_downloader::ended(const tile_item& item, const item_result& r) {
  // A tile cancelled while running changed nothing: it is fetched again by
  // the next run. (Called while the run unwinds: it must not throw.) A
  // range cancelled keeps the tiles it stored; the others are fetched again.
  if (r.outcome == task_outcome::cancelled) return;
  if (r.outcome == task_outcome::failed) record_failure(item, r);
  write_store([&] { store_->maybe_flush(sched_->now()); });
}

// The failed list keeps the last attempt's error, the one to act on, with
// the number of attempts; a refusal says "not retried" instead.
void tile_downloader::record_failure(const tile_item& item, const item_result& r) {
  std::string reason = r.errors.empty() ? std::string("failed") : error_text(r.errors.back());
  std::string listed = reason;
  if (!item.refused_) {
    const std::string attempts =
        fmt::format("{} attempt{}", r.attempts, r.attempts == 1 ? "" : "s");
    listed = fmt::format("{} (after {})", reason, attempts);
    reason = fmt::format("{} ({})", reason, attempts);
  }
  if (item.range_ != nullptr) {
    record_range_failure(item, reason, listed);
    return;
  }
  ++counts_.failed;
  write_store([&] { store_->record_failed(item.where, listed); });
  if (failures_.size() < failures_kept) failures_.push_back({item.where, std::move(reason)});
}

void tile_downloader::flush_quietly() noexcept {
  try {
    store_->flush();
  } catch (...) {
    // close() says the output's error, once, after the run.
  }
}

void tile_downloader::stop_with(std::string why) {
  if (!stop_error_) stop_error_ = std::move(why);
  if (stop_ != nullptr) stop_->cancel();
}

}  // namespace cohort::app::tiles
