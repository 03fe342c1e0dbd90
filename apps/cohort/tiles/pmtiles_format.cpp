#include "cohort/tiles/pmtiles_format.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include <fmt/format.h>

namespace cohort::app::tiles {

namespace {

constexpr std::string_view magic = "PMTiles";

void put_u64(std::string& out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

void put_i32(std::string& out, std::int32_t v) {
  const auto u = static_cast<std::uint32_t>(v);
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((u >> (8 * i)) & 0xff));
}

void put_u8(std::string& out, std::uint8_t v) {
  out.push_back(static_cast<char>(v));
}

// Little-endian reads at a fixed offset of a buffer known to be long enough.
std::uint64_t get_u64(std::string_view b, std::size_t at) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(b[at + i]);
  return v;
}

std::int32_t get_i32(std::string_view b, std::size_t at) {
  std::uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(b[at + i]);
  return static_cast<std::int32_t>(v);
}

std::uint8_t get_u8(std::string_view b, std::size_t at) {
  return static_cast<unsigned char>(b[at]);
}

void put_varint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

// Reads varints from a directory's bytes, throwing on the malformed ones.
class varint_reader {
 public:
  explicit varint_reader(std::string_view bytes) : bytes_(bytes) {}

  std::uint64_t next() {
    std::uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ == bytes_.size()) throw pmtiles_error("PMTiles directory is truncated");
      const auto byte = static_cast<unsigned char>(bytes_[pos_++]);
      if (shift == 63 && byte > 1) break;
      v |= std::uint64_t{byte & 0x7fU} << shift;
      if ((byte & 0x80U) == 0) return v;
    }
    throw pmtiles_error("PMTiles directory has a varint longer than 64 bits");
  }

  std::size_t left() const { return bytes_.size() - pos_; }

 private:
  std::string_view bytes_;
  std::size_t pos_ = 0;
};

std::uint32_t as_u32(std::uint64_t v, const char* what) {
  if (v > std::numeric_limits<std::uint32_t>::max()) {
    throw pmtiles_error(fmt::format("PMTiles directory has a {} of {} (above 2^32 - 1)", what, v));
  }
  return static_cast<std::uint32_t>(v);
}

}  // namespace

std::int32_t pmtiles_e7(double degrees) {
  return static_cast<std::int32_t>(std::lround(std::clamp(degrees, -180.0, 180.0) * 1e7));
}

std::string encode_pmtiles_header(const pmtiles_header& h) {
  std::string out(magic);
  put_u8(out, h.version);
  for (const std::uint64_t v :
       {h.root_offset, h.root_length, h.metadata_offset, h.metadata_length, h.leaf_offset,
        h.leaf_length, h.tile_data_offset, h.tile_data_length, h.addressed_tiles, h.tile_entries,
        h.tile_contents}) {
    put_u64(out, v);
  }
  put_u8(out, h.clustered ? 1 : 0);
  put_u8(out, static_cast<std::uint8_t>(h.internal_compression));
  put_u8(out, static_cast<std::uint8_t>(h.tile_compression));
  put_u8(out, static_cast<std::uint8_t>(h.tile_type));
  put_u8(out, h.min_zoom);
  put_u8(out, h.max_zoom);
  for (const std::int32_t v : {h.min_lon_e7, h.min_lat_e7, h.max_lon_e7, h.max_lat_e7}) {
    put_i32(out, v);
  }
  put_u8(out, h.center_zoom);
  put_i32(out, h.center_lon_e7);
  put_i32(out, h.center_lat_e7);
  return out;
}

pmtiles_header decode_pmtiles_header(std::string_view b) {
  if (!b.starts_with(magic.substr(0, std::min(b.size(), magic.size())))) {
    throw pmtiles_error("not a PMTiles archive (no \"PMTiles\" at its start)");
  }
  if (b.size() < pmtiles_header_size) {
    throw pmtiles_error(
        fmt::format("PMTiles header is truncated: {} of {} bytes", b.size(), pmtiles_header_size));
  }
  pmtiles_header h;
  h.version = get_u8(b, 7);
  if (h.version != 3) {
    throw pmtiles_error(
        fmt::format("PMTiles version {} is not supported (only version 3)", h.version));
  }
  std::uint64_t* const fields[] = {&h.root_offset,      &h.root_length,      &h.metadata_offset,
                                   &h.metadata_length,  &h.leaf_offset,      &h.leaf_length,
                                   &h.tile_data_offset, &h.tile_data_length, &h.addressed_tiles,
                                   &h.tile_entries,     &h.tile_contents};
  for (std::size_t i = 0; i < std::size(fields); ++i) *fields[i] = get_u64(b, 8 + 8 * i);
  h.clustered = get_u8(b, 96) == 1;
  h.internal_compression = static_cast<pmtiles_compression>(get_u8(b, 97));
  h.tile_compression = static_cast<pmtiles_compression>(get_u8(b, 98));
  h.tile_type = static_cast<pmtiles_tile_type>(get_u8(b, 99));
  h.min_zoom = get_u8(b, 100);
  h.max_zoom = get_u8(b, 101);
  h.min_lon_e7 = get_i32(b, 102);
  h.min_lat_e7 = get_i32(b, 106);
  h.max_lon_e7 = get_i32(b, 110);
  h.max_lat_e7 = get_i32(b, 114);
  h.center_zoom = get_u8(b, 118);
  h.center_lon_e7 = get_i32(b, 119);
  h.center_lat_e7 = get_i32(b, 123);
  return h;
}

std::string encode_pmtiles_directory(std::span<const pmtiles_entry> entries) {
  std::string out;
  out.reserve(entries.size() * 6 + 8);
  put_varint(out, entries.size());
  std::uint64_t last_id = 0;
  for (const pmtiles_entry& e : entries) {
    put_varint(out, e.tile_id - last_id);
    last_id = e.tile_id;
  }
  for (const pmtiles_entry& e : entries) put_varint(out, e.run_length);
  for (const pmtiles_entry& e : entries) put_varint(out, e.length);
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const bool contiguous =
        i > 0 && entries[i].offset == entries[i - 1].offset + entries[i - 1].length;
    put_varint(out, contiguous ? 0 : entries[i].offset + 1);
  }
  return out;
}

std::vector<pmtiles_entry> decode_pmtiles_directory(std::string_view bytes) {
  varint_reader in(bytes);
  const std::uint64_t n = in.next();
  // Each entry takes at least 4 bytes (four varints): a count beyond that is
  // a lie, and must not make us allocate.
  if (n > in.left() / 4) {
    throw pmtiles_error(
        fmt::format("PMTiles directory claims {} entries in {} bytes", n, bytes.size()));
  }
  std::vector<pmtiles_entry> dir(n);
  std::uint64_t id = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint64_t delta = in.next();
    if (i > 0 && delta == 0) throw pmtiles_error("PMTiles directory's tile IDs are not ascending");
    if (delta > std::numeric_limits<std::uint64_t>::max() - id) {
      throw pmtiles_error("PMTiles directory's tile IDs overflow 64 bits");
    }
    id += delta;
    dir[i].tile_id = id;
  }
  for (pmtiles_entry& e : dir) e.run_length = as_u32(in.next(), "run length");
  for (pmtiles_entry& e : dir) {
    e.length = as_u32(in.next(), "length");
    if (e.length == 0) throw pmtiles_error("PMTiles directory has an entry of length 0");
  }
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint64_t v = in.next();
    if (v != 0) {
      dir[i].offset = v - 1;
    } else if (i == 0) {
      throw pmtiles_error("PMTiles directory's first offset is coded as contiguous");
    } else {
      dir[i].offset = dir[i - 1].offset + dir[i - 1].length;
      if (dir[i].offset < dir[i - 1].offset) throw pmtiles_error("PMTiles offsets overflow");
    }
  }
  if (in.left() != 0) {
    throw pmtiles_error(fmt::format("PMTiles directory has {} bytes after its entries", in.left()));
  }
  return dir;
}

std::vector<pmtiles_entry> decode_pmtiles_directory(std::string_view bytes, pmtiles_compression c) {
  if (c == pmtiles_compression::none) return decode_pmtiles_directory(bytes);
  return decode_pmtiles_directory(pmtiles_decompress(bytes, c));
}

const pmtiles_entry* find_pmtiles_entry(std::span<const pmtiles_entry> dir, std::uint64_t tile_id) {
  // The last entry whose first tile ID is <= tile_id.
  const auto after =
      std::upper_bound(dir.begin(), dir.end(), tile_id,
                       [](std::uint64_t id, const pmtiles_entry& e) { return id < e.tile_id; });
  if (after == dir.begin()) return nullptr;
  const pmtiles_entry& e = *(after - 1);
  if (e.run_length == 0) return &e;
  if (tile_id - e.tile_id < e.run_length) return &e;
  return nullptr;
}

std::string_view to_string(pmtiles_compression c) {
  switch (c) {
    case pmtiles_compression::none: return "none";
    case pmtiles_compression::gzip: return "gzip";
    case pmtiles_compression::brotli: return "brotli";
    case pmtiles_compression::zstd: return "zstd";
    case pmtiles_compression::unknown: break;
  }
  return "unknown";
}

std::string_view to_string(pmtiles_tile_type t) {
  switch (t) {
    case pmtiles_tile_type::mvt: return "mvt";
    case pmtiles_tile_type::png: return "png";
    case pmtiles_tile_type::jpeg: return "jpeg";
    case pmtiles_tile_type::webp: return "webp";
    case pmtiles_tile_type::avif: return "avif";
    case pmtiles_tile_type::mlt: return "mlt";
    case pmtiles_tile_type::unknown: break;
  }
  return "unknown";
}

}  // namespace cohort::app::tiles
