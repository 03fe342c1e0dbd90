// Reading a tile output back (tile_reader.hpp): the kind of a path, the
// filter, and the dispatch to the three readers.

#include "cohort/tiles/tile_reader.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>

#include "cohort/common/option_values.hpp"  // shown_in_message

namespace cohort::app::tiles {

namespace {

bool has_extension(const std::filesystem::path& path, std::string_view ext) {
  const std::string e = path.extension().string();
  return e.size() == ext.size() && std::equal(e.begin(), e.end(), ext.begin(), [](char a, char b) {
           return std::tolower(static_cast<unsigned char>(a)) == b;
         });
}

}  // namespace

std::string_view to_string(tile_output_kind k) {
  switch (k) {
    case tile_output_kind::mbtiles: return "mbtiles";
    case tile_output_kind::pmtiles: return "pmtiles";
    case tile_output_kind::directory: break;
  }
  return "directory";
}

tile_output_kind output_kind_of(const std::filesystem::path& path) {
  if (has_extension(path, ".mbtiles")) return tile_output_kind::mbtiles;
  if (has_extension(path, ".pmtiles")) return tile_output_kind::pmtiles;
  return tile_output_kind::directory;
}

bool tile_filter::accepts(const tile& t) const {
  if (!zooms.empty() && std::find(zooms.begin(), zooms.end(), t.z) == zooms.end()) return false;
  return !tiles || tiles->contains(t);
}

std::string detail::input_prefix(const std::filesystem::path& path) {
  return "input " + shown_in_message(path.string()) + ": ";
}

std::unique_ptr<tile_reader> open_tile_reader(const std::filesystem::path& path,
                                              tile_filter filter) {
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (ec || !std::filesystem::exists(status)) {
    throw tile_store_error(detail::input_prefix(path) +
                           "cannot open: " + (ec ? ec.message() : std::strerror(ENOENT)));
  }
  if (std::filesystem::is_directory(status)) {
    return detail::open_directory_reader(path, std::move(filter));
  }
  std::ifstream in(path, std::ios::binary);
  char magic[16] = {};
  in.read(magic, sizeof magic);
  if (!in && in.gcount() == 0 && !in.eof()) {
    throw tile_store_error(detail::input_prefix(path) + "cannot read: " + std::strerror(errno));
  }
  const std::string_view head(magic, static_cast<std::size_t>(in.gcount()));
  if (head.starts_with("PMTiles")) return detail::open_pmtiles_reader(path, std::move(filter));
  if (head == std::string_view("SQLite format 3\0", 16)) {
    return detail::open_mbtiles_reader(path, std::move(filter));
  }
  throw tile_store_error(detail::input_prefix(path) +
                         "not a tile directory, MBTiles file or PMTiles archive");
}

}  // namespace cohort::app::tiles
