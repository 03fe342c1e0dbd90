// The downloader's side for PMTiles archives: each task fetches one byte
// range holding several tiles (pmtiles_ranges.hpp), cuts it into its tiles
// and stores each one that validates.

#include "cohort/common/error_text.hpp"
#include "cohort/tiles/tile_validation.hpp"
#include "cohort/tiles/tiles_engine.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <chrono>

namespace cohort::app::tiles {

namespace {

// Why an answer to a Range request is not the range asked for, or nullopt.
std::optional<std::string> range_problem(const http_response& r, const range_request& q) {
  if (r.status == 200) {
    return std::string("the server ignores range requests (HTTP 200 to a Range request)");
  }
  if (r.status != 206) return fmt::format("HTTP status {}", r.status);
  if (r.body.size() != q.length) {
    return fmt::format("range of {} bytes answered with {}", q.length, r.body.size());
  }
  return std::nullopt;
}

}  // namespace

// Plans batches until there are ranges at hand for every worker, or the
// archive has no more: a worker that finds none at hand ends. One worker
// plans at a time; the others take a range at hand, or wait for it and
// look again.
task<> tile_downloader::plan_ranges() {
  const std::size_t enough = options_.concurrency + 1;
  while (archive_->more && ranges_.size() < enough) {
    if (!planning_) {
      co_await plan_batch();
    } else if (!ranges_.empty()) {
      co_return;
    } else {
      const std::shared_ptr<event> planned = planned_;
      co_await planned->wait();
    }
  }
}

task<> tile_downloader::plan_batch() {
  planning_ = true;
  planned_ = std::make_shared<event>();
  // However it ends (a cancel included), the waiters wake and look again.
  struct done_guard {
    tile_downloader& d;
    ~done_guard() {
      d.planning_ = false;
      d.planned_->set();
    }
  } guard{*this};
  archive_batch batch;
  bool more = false;
  try {
    more = co_await archive_->more->next(*fetcher_, options_, batch);
  } catch (const std::exception& e) {
    // Without the index, no tile further on can be fetched.
    archive_->more.reset();
    stop_with(e.what());
    co_return;
  }
  if (!more) {
    archive_->more.reset();
    co_return;
  }
  record_absent(batch.absent);
  for (range_request& q : batch.requests) {
    ranges_planned_ += q.tiles.size();
    ranges_.push_back(std::move(q));
  }
}

task<> tile_downloader::fetch_range(tile_item& item) {
  const std::string_view host = item.gate();
  co_await limiter_.acquire(host);
  const range_request& q = *item.range_;
  http_request req = make_request(item.where, item.url_);
  req.if_none_match.clear();  // --refresh does not apply to an archive's bytes
  req.if_modified_since.clear();
  req.max_body_bytes = q.length;
  req.headers.push_back(fmt::format("Range: bytes={}-{}", q.offset, q.offset + q.length - 1));
  const http_response r = co_await fetcher_->fetch(std::move(req));
  bool taken = false;
  if (r.error == curl_errc::filesize_exceeded) {  // every range would fail the same way
    const std::string why = fmt::format(
        "{}: the server ignores range requests (it sends more than the {} bytes asked for)",
        item.url_, q.length);
    stop_with(why);
    throw tile_fetch_error(why);
  }
  if (r.error) {
    take_network_error(host, r);  // throws, or stops the run
  } else {
    taken = take_range(item, r);
  }
  if (!taken) co_await checkpoint();  // the run stopped: this range ends cancelled
}

// Stores the tiles of one complete answer, or throws a failed attempt (a
// permanent_error for a refusal); false when the store could not take a
// tile (the run is stopped).
bool tile_downloader::take_range(tile_item& item, const http_response& r) {
  any_response_ = true;
  const range_request& q = *item.range_;
  const std::optional<std::string> problem = range_problem(r, q);
  // The guard counts a right range as a good answer, a wrong one as a 200
  // that is not a tile.
  const int status = r.status == 206 || r.status == 200 ? 200 : r.status;
  if (auto why = guard_.note(item.url_, status, problem)) {
    stop_with(std::move(*why));
    throw tile_fetch_error(problem.value_or("the run stopped"));
  }
  if (r.status == 200) {  // every range would fail the same way
    stop_with(fmt::format("{}: {}", item.url_, *problem));
    throw tile_fetch_error(*problem);
  }
  throw_if_paused_or_refused(item, r);
  if (problem) throw tile_fetch_error(*problem);
  return store_range(q, r.body);
}

// Stores each tile of the range's bytes that is not stored yet (by an
// earlier attempt) and validates; throws the first tile's problem after
// storing the others, so that a retry fetches the range for it alone.
bool tile_downloader::store_range(const range_request& q, const std::string& body) {
  std::optional<std::string> bad;
  for (const tile_span& s : q.tiles) {
    if (store_->has(s.where) && !options_.refresh) continue;
    const std::string_view bytes =
        std::string_view(body).substr(static_cast<std::size_t>(s.offset - q.offset), s.length);
    if (auto why = tile_problem(200, {}, bytes, options_.max_tile_bytes)) {
      if (!bad) bad = fmt::format("tile {}/{}/{}: {}", s.where.z, s.where.x, s.where.y, *why);
      continue;
    }
    if (!write_store([&] { store_->put(s.where, bytes); })) return false;
    ++counts_.stored;
    counts_.bytes += bytes.size();
  }
  update_tile_progress();
  if (bad) throw tile_fetch_error(*bad);
  return true;
}

// The tiles of the set that the archive does not have are missing, as a
// 404 would say; those known missing before were skipped.
void tile_downloader::record_absent(const std::vector<tile>& absent) {
  for (const tile& t : absent) {
    if (store_->is_missing(t) || store_->has(t)) continue;
    if (!write_store([&] { store_->record_missing(t); })) break;
    ++counts_.missing;
  }
  update_tile_progress();
}

// A failed range puts each of its tiles that is not stored on the failed
// list, with the range's last error.
void tile_downloader::record_range_failure(const tile_item& item, const std::string& reason,
                                           const std::string& listed) {
  for (const tile_span& s : item.range_->tiles) {
    if (store_->has(s.where)) continue;
    ++counts_.failed;
    write_store([&] { store_->record_failed(s.where, listed); });
    if (failures_.size() < failures_kept) failures_.push_back({s.where, reason});
  }
  update_tile_progress();
}

void tile_downloader::update_tile_progress() {
  run_progress& p = tile_progress_;
  p.total = static_cast<std::size_t>(counts_.total) - counts_.skipped;
  p.done = counts_.stored + counts_.missing;
  p.failed = counts_.failed;
  p.started = p.done + p.failed;
  p.running = range_runner_->progress().running;
  p.retries = range_runner_->progress().retries;
  if (p.begin == time_point{}) p.begin = range_runner_->progress().begin;
}

run_summary tile_downloader::tile_summary() {
  run_summary s = archive_ ? range_runner_->summary() : tile_runner_->summary();
  if (!archive_) return s;
  // Every tile of the set not skipped is stored, missing (absent from the
  // archive), failed, or left for the next run (in a range not fetched, or
  // not planned yet).
  s.done = counts_.stored + counts_.missing;
  s.failed = counts_.failed;
  const std::uint64_t to_do = counts_.total - counts_.skipped;
  const std::uint64_t handled = counts_.stored + counts_.missing + counts_.failed;
  s.not_started = to_do > handled ? static_cast<std::size_t>(to_do - handled) : 0;
  s.cancelled = 0;
  return s;
}

}  // namespace cohort::app::tiles
