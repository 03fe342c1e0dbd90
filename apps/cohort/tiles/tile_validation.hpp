#pragma once

/// \file
/// The checks a downloaded tile passes before `cohort tiles` stores it: a
/// 200 response, a tile content type, known magic bytes, a non-empty body
/// within the size bound. A tile that fails them is retried, then listed as
/// failed, and never stored.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace cohort::app::tiles {

/// The tile format named by a body's first bytes: "png", "jpg", "webp",
/// "gif", "gzip" (a gzip-compressed vector tile) or "pbf" (an uncompressed
/// Mapbox vector tile, whose first field is a layer: byte 0x1a); "" when the
/// bytes are none of these.
///
///   sniff_tile_format("\x89PNG\r\n\x1a\n...") == "png"
std::string_view sniff_tile_format(std::string_view body);

/// True for a Content-Type a tile server sends for tiles (parameters and
/// case ignored): any image/*, application/x-protobuf,
/// application/vnd.mapbox-vector-tile, application/octet-stream,
/// application/gzip, application/x-gzip; an absent (empty) one is accepted
/// too, the magic bytes decide. False for text/html, JSON and the like (an
/// error page or a captive portal).
bool is_tile_content_type(std::string_view content_type);

/// Why a response is not a storable tile, or nullopt when it is: status 200,
/// a tile content type, a non-empty body of at most `max_bytes` bytes, and
/// known magic bytes. The reason is one short line ("content type text/html
/// is not a tile", "unknown tile format (first bytes 3c 21 64 6f)").
///
///   if (auto why = tile_problem(r.status, r.content_type, r.body, max)) fail(*why);
std::optional<std::string> tile_problem(int status, std::string_view content_type,
                                        std::string_view body, std::uint64_t max_bytes);

}  // namespace cohort::app::tiles
