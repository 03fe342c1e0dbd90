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

// The tile IDs of the set, ascending.
std::vector<std::uint64_t> ids_of(const tile_set& set) {
  std::vector<std::uint64_t> ids;
  ids.reserve(static_cast<std::size_t>(set.count()));
  for (auto e = set.enumerate(); auto t = e.next();) ids.push_back(tile_id(*t));
  std::sort(ids.begin(), ids.end());
  return ids;
}

// Reading one archive's directories for a set of tile IDs.
struct index_reader {
  tile_fetcher& fetcher;
  const std::string& url;
  const tiles_options& o;
  archive_index& ix;

  task<std::vector<pmtiles_entry>> leaf(const pmtiles_entry& e) {
    const std::string bytes =
        co_await fetch_bytes(fetcher, url, o, ix.header.leaf_offset + e.offset, e.length, false);
    ix.index_bytes += bytes.size();
    ++ix.index_requests;
    co_return decode_pmtiles_directory(bytes, ix.header.internal_compression);
  }

  // Sorts `ids` into present and absent by `dir`, reading the leaves that
  // hold some of them.
  task<> resolve(const std::vector<pmtiles_entry>& dir, std::span<const std::uint64_t> ids,
                 int depth) {
    std::size_t i = 0;
    while (i < ids.size()) {
      const pmtiles_entry* e = find_pmtiles_entry(dir, ids[i]);
      if (e == nullptr) {
        ix.absent.push_back(tile_of_id(ids[i++]));
      } else if (e->run_length > 0) {
        take_run(*e, ids, i);
      } else {
        co_await take_leaf(dir, *e, ids, i, depth);
      }
    }
  }

  // The ids from i that the run `e` covers (or the next one, absent).
  void take_run(const pmtiles_entry& e, std::span<const std::uint64_t> ids, std::size_t& i) {
    if (ids[i] >= e.tile_id + e.run_length) {
      ix.absent.push_back(tile_of_id(ids[i++]));
      return;
    }
    for (; i < ids.size() && ids[i] < e.tile_id + e.run_length; ++i) {
      ix.present.push_back({tile_of_id(ids[i]), ix.header.tile_data_offset + e.offset, e.length});
    }
  }

  // The ids from i that the leaf `e` holds: those below the next entry's.
  task<> take_leaf(const std::vector<pmtiles_entry>& dir, const pmtiles_entry& e,
                   std::span<const std::uint64_t> ids, std::size_t& i, int depth) {
    if (depth >= max_directory_depth) {
      throw archive_error(fmt::format("{}: leaf directories nested too deep", url));
    }
    const auto next = static_cast<std::size_t>(&e - dir.data()) + 1;
    const std::uint64_t end = next < dir.size() ? dir[next].tile_id : UINT64_MAX;
    std::size_t j = i;
    while (j < ids.size() && ids[j] < end) ++j;
    const std::vector<pmtiles_entry> sub = co_await leaf(e);
    co_await resolve(sub, ids.subspan(i, j - i), depth + 1);
    i = j;
  }
};

task<archive_index> read_index(tile_fetcher& fetcher, const std::string& url, const tile_set& set,
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
  const auto root = decode_pmtiles_directory(
      std::string_view(first).substr(h.root_offset, h.root_length), h.internal_compression);
  const std::vector<std::uint64_t> ids = ids_of(set);
  index_reader reader{fetcher, url, o, ix};
  co_await reader.resolve(root, ids, 0);
  co_return ix;
}

}  // namespace

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

task<archive_index> read_archive_index(tile_fetcher& fetcher, std::string url, const tile_set& set,
                                       const tiles_options& o) {
  try {
    co_return co_await read_index(fetcher, url, set, o);
  } catch (const pmtiles_error& e) {
    throw archive_error(fmt::format("{}: {}", url, e.what()));
  }
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

archive_plan plan_archive(std::string url, archive_index&& ix, const tile_store& store,
                          bool refresh, const coalesce_limits& limits) {
  std::vector<tile_span> wanted;
  for (const tile_span& s : ix.present) {
    if (refresh || !store.has(s.where)) wanted.push_back(s);
  }
  std::vector<tile_span>().swap(ix.present);
  return archive_plan{std::move(url), plan_range_requests(std::move(wanted), limits),
                      std::move(ix.absent)};
}

}  // namespace cohort::app::tiles
