#pragma once

// Internal to the tile stores (detail): the tile formats an output knows
// (extensions, a format sniffed from a tile's first bytes, --format as
// given), and the decimal text used in tile file names and metadata.

#include <cstdint>
#include <string>
#include <string_view>

namespace cohort::app::tiles::detail {

// Appends the shortest round-trip decimal text of `v`.
void append_number(std::string& out, double v);
void append_number(std::string& out, std::uint64_t v);

// True for the extensions the directory store writes and recognises when
// scanning (png, jpg, jpeg, webp, gif, pbf, mvt, bin).
bool is_tile_extension(std::string_view ext);

// The format named by a tile's first bytes; "bin" when unknown.
std::string_view sniff_format(std::string_view bytes);

// options.format ("png", ".PNG"...) to the extension used in file names; ""
// when `given` is empty. Throws tile_store_error naming output `shown` for
// an unknown format.
std::string normalize_format(std::string_view given, const std::string& shown);

}  // namespace cohort::app::tiles::detail
