// The internal compression of PMTiles archives (pmtiles_format.hpp):
// none, or gzip through zlib.

#include <zlib.h>

#include <algorithm>
#include <limits>
#include <memory>

#include <fmt/format.h>

#include "cohort/tiles/pmtiles_format.hpp"

namespace cohort::app::tiles {

namespace {

// 15 bits of window, +16: a gzip (RFC 1952) wrapper, not zlib's.
constexpr int gzip_window_bits = 15 + 16;
// zlib counts in uInt: feed it at most this much at a time.
constexpr std::size_t zlib_chunk = std::size_t{1} << 30;

void check_supported(pmtiles_compression c) {
  if (c == pmtiles_compression::none || c == pmtiles_compression::gzip) return;
  throw pmtiles_error(fmt::format("PMTiles compression {} is not supported", to_string(c)));
}

struct deflate_end {
  void operator()(z_stream* s) const { deflateEnd(s); }
};
struct inflate_end {
  void operator()(z_stream* s) const { inflateEnd(s); }
};

}  // namespace

std::string pmtiles_compress(std::string_view bytes, pmtiles_compression c) {
  check_supported(c);
  if (c == pmtiles_compression::none) return std::string(bytes);
  z_stream s{};
  if (deflateInit2(&s, Z_DEFAULT_COMPRESSION, Z_DEFLATED, gzip_window_bits, 8,
                   Z_DEFAULT_STRATEGY) != Z_OK) {
    throw pmtiles_error("gzip: cannot initialise zlib");
  }
  const std::unique_ptr<z_stream, deflate_end> guard(&s);
  std::string out(deflateBound(&s, static_cast<uLong>(std::min(bytes.size(), zlib_chunk))), '\0');
  std::size_t in_pos = 0;
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    const std::size_t in_n = std::min(bytes.size() - in_pos, zlib_chunk);
    s.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data() + in_pos));
    s.avail_in = static_cast<uInt>(in_n);
    const bool last = in_pos + in_n == bytes.size();
    if (s.total_out == out.size()) out.resize(out.size() * 2 + 64);
    s.next_out = reinterpret_cast<Bytef*>(out.data() + s.total_out);
    s.avail_out = static_cast<uInt>(std::min(out.size() - s.total_out, zlib_chunk));
    rc = deflate(&s, last ? Z_FINISH : Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) {
      throw pmtiles_error("gzip: compression failed");
    }
    in_pos += in_n - s.avail_in;
  }
  out.resize(s.total_out);
  return out;
}

std::string pmtiles_decompress(std::string_view bytes, pmtiles_compression c,
                               std::size_t max_size) {
  check_supported(c);
  if (c == pmtiles_compression::none) return std::string(bytes);
  if (bytes.size() > zlib_chunk) throw pmtiles_error("gzip: compressed data too large");
  z_stream s{};
  if (inflateInit2(&s, gzip_window_bits) != Z_OK)
    throw pmtiles_error("gzip: cannot initialise zlib");
  const std::unique_ptr<z_stream, inflate_end> guard(&s);
  s.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
  s.avail_in = static_cast<uInt>(bytes.size());
  std::string out(std::min<std::size_t>(max_size, std::max<std::size_t>(bytes.size() * 4, 256)),
                  '\0');
  for (;;) {
    if (s.total_out == out.size()) {
      if (out.size() >= max_size) {
        throw pmtiles_error(fmt::format("gzip: data inflates beyond {} bytes", max_size));
      }
      out.resize(std::min(out.size() * 2, max_size));
    }
    s.next_out = reinterpret_cast<Bytef*>(out.data() + s.total_out);
    s.avail_out = static_cast<uInt>(std::min(out.size() - s.total_out, zlib_chunk));
    const int rc = inflate(&s, Z_NO_FLUSH);
    if (rc == Z_STREAM_END) break;
    if (rc == Z_BUF_ERROR && s.avail_in == 0) throw pmtiles_error("gzip: data is truncated");
    if (rc != Z_OK && rc != Z_BUF_ERROR) throw pmtiles_error("gzip: data is corrupt");
  }
  if (s.avail_in != 0) throw pmtiles_error("gzip: bytes after the end of the data");
  out.resize(s.total_out);
  return out;
}

}  // namespace cohort::app::tiles
