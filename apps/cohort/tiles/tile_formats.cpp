// The tile formats and decimal text of the tile stores (tile_formats.hpp).

#include "cohort/tiles/tile_formats.hpp"

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

// The format named by a tile's first bytes; "bin" when unknown.
std::string_view sniff_format(std::string_view bytes) {
  const auto starts = [&bytes](std::string_view magic) { return bytes.starts_with(magic); };
  if (starts("\x89PNG\r\n\x1a\n")) return "png";
  if (starts("\xff\xd8\xff")) return "jpg";
  if (starts("GIF87a") || starts("GIF89a")) return "gif";
  if (bytes.size() >= 12 && starts("RIFF") && bytes.substr(8, 4) == "WEBP") return "webp";
  if (starts("\x1f\x8b")) return "pbf";  // gzip-compressed vector tile
  // An uncompressed vector tile starts with field 3 (layers), length-delimited.
  if (starts("\x1a")) return "pbf";
  return "bin";
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
