// file_range_fetcher (pmtiles_source.hpp): a local archive read as a
// server answers Range requests, so that a local source goes through the
// same engine, retries and validation as a remote one.

#include "cohort/tiles/pmtiles_source.hpp"

#include <cstdio>
#include <fstream>
#include <optional>

namespace cohort::app::tiles {

namespace {

struct byte_range {
  std::uint64_t first = 0;
  std::uint64_t last = 0;
};

// The one "Range: bytes=A-B" of the request's headers.
std::optional<byte_range> range_of(const http_request& r) {
  for (const std::string& h : r.headers) {
    unsigned long long a = 0;
    unsigned long long b = 0;
    if (std::sscanf(h.c_str(), "Range: bytes=%llu-%llu", &a, &b) == 2 && a <= b) {
      return byte_range{a, b};
    }
  }
  return std::nullopt;
}

http_response status_only(int status) {
  http_response r;
  r.status = status;
  return r;
}

}  // namespace

task<http_response> file_range_fetcher::fetch(http_request request) {
  constexpr std::string_view scheme = "file://";
  const std::string path =
      request.url.substr(request.url.rfind(scheme, 0) == 0 ? scheme.size() : 0);
  std::ifstream in(path, std::ios::binary);
  if (!in) co_return status_only(404);
  in.seekg(0, std::ios::end);
  const auto size = static_cast<std::uint64_t>(in.tellg());
  const auto range = range_of(request);
  const std::uint64_t first = range ? range->first : 0;
  if (first >= size) co_return status_only(416);
  const std::uint64_t last = range ? std::min(range->last, size - 1) : size - 1;
  http_response r = status_only(range ? 206 : 200);
  r.body.resize(static_cast<std::size_t>(last - first + 1));
  in.seekg(static_cast<std::streamoff>(first));
  in.read(r.body.data(), static_cast<std::streamsize>(r.body.size()));
  if (!in) co_return status_only(500);
  r.content_type = "application/octet-stream";
  co_return r;
}

}  // namespace cohort::app::tiles
