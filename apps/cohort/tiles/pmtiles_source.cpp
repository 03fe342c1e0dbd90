#include "cohort/tiles/pmtiles_source.hpp"

#include "cohort/tiles/tile_id.hpp"

#include <cohort/sleep.hpp>

#include <fmt/core.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <span>

namespace cohort::app::tiles {

namespace {

constexpr std::string_view file_scheme = "file://";

// Leaf directories nest at most this deep (the reference writer uses one
// level; the reference reader gives up after three).
constexpr int max_directory_depth = 4;

bool starts_with_nocase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() &&
         std::equal(prefix.begin(), prefix.end(), s.begin(), [](char a, char b) {
           return std::tolower(static_cast<unsigned char>(a)) ==
                  std::tolower(static_cast<unsigned char>(b));
         });
}

bool has_scheme(std::string_view url) {
  const auto colon = url.find("://");
  return colon != std::string_view::npos && colon > 0 &&
         url.substr(0, colon).find('/') == std::string_view::npos;
}

// One fetch of bytes [offset, offset + length) with the run's request
// options; nullopt with `why` set when this attempt failed.
struct attempt_result {
  std::optional<std::string> bytes;
  std::string why;
  std::optional<std::chrono::seconds> retry_after;
  bool final = false;  // asking again will not change it
};

attempt_result fetch_attempt_result(const http_response& r, std::uint64_t offset,
                                    std::uint64_t length, bool to_end_ok, bool is_file) {
  attempt_result a;
  if (r.error == curl_errc::filesize_exceeded) {
    // A server without range requests sends the whole archive: never wait
    // for a planet's worth of bytes.
    a.why = fmt::format(
        "the server ignores range requests (it sends more than the {} bytes asked for)", length);
    a.final = true;
    return a;
  }
  if (r.error) {
    a.why = r.error_message.empty() ? r.error.message() : r.error_message;
    return a;
  }
  a.retry_after = r.retry_after;
  std::string body = r.body;
  if (r.status == 200 && offset == 0) {
    body.resize(std::min<std::size_t>(body.size(), length));  // the whole file, no Range support
  } else if (r.status != 206) {
    a.why = r.status == 404 && is_file ? std::string("no such file")
                                       : fmt::format("HTTP status {}", r.status);
    a.final = r.status >= 400 && r.status < 500 && r.status != 408 && r.status != 429;
    return a;
  }
  if (body.size() != length && !(to_end_ok && body.size() < length)) {
    a.why = fmt::format("asked for {} bytes at {}, got {}", length, offset, body.size());
    return a;
  }
  a.bytes = std::move(body);
  return a;
}

task<std::string> fetch_bytes(tile_fetcher& f, const std::string& url, const tiles_options& o,
                              std::uint64_t offset, std::uint64_t length, bool to_end_ok) {
  auto delay = std::chrono::duration_cast<duration>(o.retry_delay);
  for (int attempt = 0;; ++attempt) {
    http_request req(url);
    req.headers = o.headers;
    req.headers.push_back(fmt::format("Range: bytes={}-{}", offset, offset + length - 1));
    req.user_agent = o.user_agent;
    req.connect_timeout = std::chrono::duration_cast<duration>(o.connect_timeout);
    req.total_timeout = std::chrono::duration_cast<duration>(o.request_timeout);
    req.low_speed_time = std::chrono::duration_cast<duration>(o.stall_timeout);
    req.max_body_bytes = length;
    const http_response r = co_await f.fetch(std::move(req));
    attempt_result a =
        fetch_attempt_result(r, offset, length, to_end_ok, url.rfind(file_scheme, 0) == 0);
    if (a.bytes) co_return std::move(*a.bytes);
    if (a.final || attempt >= o.retries) {
      throw archive_error(
          fmt::format("{}: cannot read bytes {}-{}: {}", url, offset, offset + length - 1, a.why));
    }
    const duration wait = a.retry_after
                              ? std::chrono::duration_cast<duration>(std::min<std::chrono::seconds>(
                                    *a.retry_after, std::chrono::minutes(10)))
                              : delay;
    co_await sleep_for(wait);
    delay = std::min<duration>(delay * 2, std::chrono::seconds(30));
  }
}

task<archive_index> read_root(tile_fetcher& fetcher, const std::string& url,
                              const tiles_options& o) {
  archive_index ix;
  const std::string first = co_await fetch_bytes(fetcher, url, o, 0, pmtiles_root_limit, true);
  ix.index_bytes = first.size();
  ix.index_requests = 1;
  ix.header = decode_pmtiles_header(first);
  const pmtiles_header& h = ix.header;
  if (h.tile_compression == pmtiles_compression::brotli ||
      h.tile_compression == pmtiles_compression::zstd) {
    // Tiles are stored as they are; these would not validate, nor be read
    // by what reads the output.
    throw archive_error(fmt::format("{}: its tiles are {}-compressed, which is not supported", url,
                                    to_string(h.tile_compression)));
  }
  if (h.root_offset + h.root_length > first.size()) {
    throw archive_error(fmt::format("{}: the root directory is not in the first 16 KiB", url));
  }
  ix.root = decode_pmtiles_directory(std::string_view(first).substr(h.root_offset, h.root_length),
                                     h.internal_compression);
  co_return ix;
}

}  // namespace

archive_cursor::archive_cursor(std::string url, const archive_index& ix, const tile_set& set)
    : url_(std::move(url)), header_(ix.header), runs_(set) {
  frames_.push_back({ix.root, UINT64_MAX});
}

// The next tiles of the set in ID order, at most `cap`, sorted into
// present and absent, reading the leaf directories that hold them.
task<bool> archive_cursor::next(tile_fetcher& f, const tiles_options& o, std::size_t cap,
                                std::vector<tile_span>& present, std::vector<tile>& absent) {
  try {
    co_return co_await take(f, o, cap, present, absent);
  } catch (const pmtiles_error& e) {
    throw archive_error(fmt::format("{}: {}", url_, e.what()));
  }
}

task<bool> archive_cursor::take(tile_fetcher& f, const tiles_options& o, std::size_t cap,
                                std::vector<tile_span>& present, std::vector<tile>& absent) {
  std::size_t taken = 0;
  while (taken < cap) {
    if (run_.begin == run_.end) {
      const std::optional<tile_id_range> r = runs_.next();
      if (!r) co_return taken > 0;
      run_ = *r;
    }
    const std::uint64_t id = run_.begin;
    while (frames_.back().end <= id) frames_.pop_back();  // the root's end is never reached
    const std::vector<pmtiles_entry>& dir = frames_.back().entries;
    const std::uint64_t dir_end = frames_.back().end;
    // The last entry at or before id.
    const auto after =
        std::upper_bound(dir.begin(), dir.end(), id,
                         [](std::uint64_t v, const pmtiles_entry& e) { return v < e.tile_id; });
    const std::uint64_t next_start = after == dir.end() ? dir_end : after->tile_id;
    const auto n_up_to = [&](std::uint64_t end) {
      return std::min<std::uint64_t>({run_.end, end, id + (cap - taken)}) - id;
    };
    if (after == dir.begin()) {  // before the directory's first entry: absent
      const std::uint64_t n = n_up_to(next_start);
      for (std::uint64_t i = 0; i < n; ++i) absent.push_back(tile_of_id(id + i));
      run_.begin += n;
      taken += n;
      continue;
    }
    const pmtiles_entry& e = *(after - 1);
    if (e.run_length > 0) {
      const std::uint64_t covered = e.tile_id + e.run_length;
      if (id < covered) {
        const std::uint64_t n = n_up_to(covered);
        for (std::uint64_t i = 0; i < n; ++i) {
          present.push_back({tile_of_id(id + i), header_.tile_data_offset + e.offset, e.length});
        }
        run_.begin += n;
        taken += n;
      } else {
        const std::uint64_t n = n_up_to(next_start);
        for (std::uint64_t i = 0; i < n; ++i) absent.push_back(tile_of_id(id + i));
        run_.begin += n;
        taken += n;
      }
      continue;
    }
    // A leaf directory: it holds the IDs up to the next entry's.
    if (frames_.size() >= max_directory_depth + 1) {
      throw archive_error(fmt::format("{}: leaf directories nested too deep", url_));
    }
    const std::string bytes =
        co_await fetch_bytes(f, url_, o, header_.leaf_offset + e.offset, e.length, false);
    index_bytes_ += bytes.size();
    ++index_requests_;
    frames_.push_back({decode_pmtiles_directory(bytes, header_.internal_compression), next_start});
  }
  co_return true;
}

bool is_pmtiles_source(std::string_view url) {
  const auto end = url.find_first_of("?#");
  const std::string_view path = url.substr(0, end);
  if (path.size() >= 8 && starts_with_nocase(path.substr(path.size() - 8), ".pmtiles")) return true;
  // A template ({z}...) is one, whatever its scheme: url_template says what
  // is wrong with it.
  if (url.find('{') != std::string_view::npos) return false;
  return starts_with_nocase(url, file_scheme) || !has_scheme(url);
}

std::string pmtiles_source_url(std::string_view url) {
  if (has_scheme(url)) return std::string(url);
  return std::string(file_scheme) + std::filesystem::absolute(std::string(url)).string();
}

task<archive_index> read_archive_root(tile_fetcher& fetcher, std::string url,
                                      const tiles_options& o) {
  try {
    co_return co_await read_root(fetcher, url, o);
  } catch (const pmtiles_error& e) {
    throw archive_error(fmt::format("{}: {}", url, e.what()));
  }
}

task<archive_index> read_archive_index(tile_fetcher& fetcher, std::string url, const tile_set& set,
                                       const tiles_options& o) {
  archive_index ix = co_await read_archive_root(fetcher, url, o);
  archive_cursor cursor(url, ix, set);
  while (co_await cursor.next(fetcher, o, std::size_t{1} << 16, ix.present, ix.absent)) {
  }
  ix.index_bytes += cursor.index_bytes();
  ix.index_requests += cursor.index_requests();
  ix.complete = true;
  co_return ix;
}

std::string pmtiles_format_name(const pmtiles_header& h) {
  switch (h.tile_type) {
    case pmtiles_tile_type::mvt: return "pbf";
    case pmtiles_tile_type::png: return "png";
    case pmtiles_tile_type::jpeg: return "jpg";
    case pmtiles_tile_type::webp: return "webp";
    default: return "";
  }
}

namespace {

// The batches of a download from an archive (plan_archive).
class cursor_batches final : public archive_batches {
 public:
  cursor_batches(std::string url, const archive_index& ix, const tile_set& set,
                 const tile_store& store, bool refresh, const coalesce_limits& limits,
                 std::size_t batch)
      : set_(set),
        cursor_(std::move(url), ix, set_),
        store_(store),
        refresh_(refresh),
        limits_(limits),
        batch_(batch) {}

  task<bool> next(tile_fetcher& f, const tiles_options& o, archive_batch& out) override {
    std::vector<tile_span> present;
    if (!co_await cursor_.next(f, o, batch_, present, out.absent)) co_return false;
    out.requests = plan(std::move(present), store_, refresh_, limits_);
    co_return true;
  }

  static std::vector<range_request> plan(std::vector<tile_span> present, const tile_store& store,
                                         bool refresh, const coalesce_limits& limits) {
    std::erase_if(present, [&](const tile_span& s) { return !refresh && store.has(s.where); });
    return plan_range_requests(std::move(present), limits);
  }

 private:
  tile_set set_;
  archive_cursor cursor_;
  const tile_store& store_;
  bool refresh_;
  coalesce_limits limits_;
  std::size_t batch_;
};

}  // namespace

archive_plan plan_archive(std::string url, archive_index&& ix, const tile_set& set,
                          const tile_store& store, bool refresh, const coalesce_limits& limits,
                          std::size_t batch) {
  archive_plan plan{url, cursor_batches::plan(std::move(ix.present), store, refresh, limits),
                    std::move(ix.absent), nullptr};
  if (ix.complete) return plan;
  plan.more =
      std::make_unique<cursor_batches>(std::move(url), ix, set, store, refresh, limits, batch);
  return plan;
}

}  // namespace cohort::app::tiles
