// The tile formats and decimal text of the tile stores (tile_formats.hpp).

#include "cohort/tiles/tile_formats.hpp"

#include "cohort/tiles/tile_validation.hpp"

#include <algorithm>
#include <charconv>
#include <iterator>

#include "cohort/tiles/tile_store.hpp"

namespace cohort::app::tiles::detail {

void append_number(std::string& out, double v) {
  char buf[32];
  const auto result = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, result.ptr);
}

void append_number(std::string& out, std::uint64_t v) {
  char buf[24];
  const auto result = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, result.ptr);
}

namespace {

// The extensions the directory store writes and recognises when scanning.
constexpr std::string_view tile_extensions[] = {"png", "jpg", "jpeg", "webp",
                                                "gif", "pbf", "mvt",  "bin"};

}  // namespace

bool is_tile_extension(std::string_view ext) {
  return std::find(std::begin(tile_extensions), std::end(tile_extensions), ext) !=
         std::end(tile_extensions);
}

// The file extension for a tile's first bytes (tile_validation's magic
// bytes): a gzip-compressed tile is a vector tile, .pbf; "bin" when unknown.
std::string_view sniff_format(std::string_view bytes) {
  const std::string_view format = sniff_tile_format(bytes);
  if (format.empty()) return "bin";
  if (format == "gzip") return "pbf";
  return format;
}

// options.format ("png", ".PNG"...) to the extension used in file names.
std::string normalize_format(std::string_view given, const std::string& shown) {
  std::string_view format = given;
  if (format.starts_with('.')) format.remove_prefix(1);
  std::string ext;
  for (const char c : format) {
    ext += static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  }
  if (ext.empty()) return ext;
  if (!is_tile_extension(ext)) {
    throw tile_store_error("output " + shown + ": unknown tile format '" + std::string(given) +
                           "' (known: png, jpg, jpeg, webp, gif, pbf, mvt)");
  }
  return ext;
}

}  // namespace cohort::app::tiles::detail
