#include "cohort/tiles/tile_validation.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <cctype>

namespace cohort::app::tiles {

namespace {

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

std::string lower_media_type(std::string_view content_type) {
  const auto semicolon = content_type.find(';');
  std::string_view type = content_type.substr(0, semicolon);
  while (!type.empty() && std::isspace(static_cast<unsigned char>(type.front()))) {
    type.remove_prefix(1);
  }
  while (!type.empty() && std::isspace(static_cast<unsigned char>(type.back()))) {
    type.remove_suffix(1);
  }
  std::string out(type);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string first_bytes(std::string_view body) {
  std::string out;
  for (std::size_t i = 0; i < std::min<std::size_t>(body.size(), 4); ++i) {
    if (i != 0) out += ' ';
    out += fmt::format("{:02x}", static_cast<unsigned char>(body[i]));
  }
  return out;
}

}  // namespace

std::string_view sniff_tile_format(std::string_view body) {
  if (starts_with(body, "\x89PNG\r\n\x1a\n")) return "png";
  if (starts_with(body, "\xff\xd8\xff")) return "jpg";
  if (body.size() >= 12 && starts_with(body, "RIFF") && body.substr(8, 4) == "WEBP") {
    return "webp";
  }
  if (starts_with(body, "GIF87a") || starts_with(body, "GIF89a")) return "gif";
  if (starts_with(body, "\x1f\x8b")) return "gzip";
  if (!body.empty() && body.front() == '\x1a') return "pbf";
  return "";
}

bool is_tile_content_type(std::string_view content_type) {
  const std::string type = lower_media_type(content_type);
  if (type.empty()) return true;
  if (starts_with(type, "image/")) return true;
  return type == "application/x-protobuf" || type == "application/vnd.mapbox-vector-tile" ||
         type == "application/octet-stream" || type == "application/gzip" ||
         type == "application/x-gzip";
}

std::optional<std::string> tile_problem(int status, std::string_view content_type,
                                        std::string_view body, std::uint64_t max_bytes) {
  if (status != 200) return fmt::format("HTTP status {}", status);
  if (!is_tile_content_type(content_type)) {
    return fmt::format("content type {} is not a tile", lower_media_type(content_type));
  }
  if (body.empty()) return std::string("empty body");
  if (body.size() > max_bytes) {
    return fmt::format("{} bytes, more than --max-tile-bytes {}", body.size(), max_bytes);
  }
  if (sniff_tile_format(body).empty()) {
    return fmt::format("unknown tile format (first bytes {})", first_bytes(body));
  }
  return std::nullopt;
}

}  // namespace cohort::app::tiles
