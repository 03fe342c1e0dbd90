#pragma once

/// \file
/// Parsing of the values of `cohort tiles --bbox`, `--zoom` and
/// `--subdomains`. Every error is a usage_error whose message is one line
/// that names the option, the offending text and what to write instead.

#include <string>
#include <string_view>
#include <vector>

#include "cohort/common/option_values.hpp"  // usage_error
#include "cohort/tiles/tile_math.hpp"

namespace cohort::app::tiles {

/// Parses a `--bbox` value "W,S,E,N" in degrees. Spaces around numbers are
/// allowed. W > E is a box crossing the antimeridian.
///
/// Throws usage_error when: there are not exactly 4 items; an item is not a
/// finite decimal number; a longitude is outside [-180, 180] or a latitude
/// outside [-90, 90]; S >= N; W == E (or W = 180 with E = -180: the same
/// meridian), which has no width; or the box lies entirely beyond Web
/// Mercator's ±85.0511° where no tile covers it.
///
///   bbox b = parse_bbox("13.08,52.33,13.76,52.68");   // Berlin
///   bbox fiji = parse_bbox("177,-19,-178,-16");       // crosses 180°
bbox parse_bbox(std::string_view text);

/// Parses a `--zoom` value: a level "12", a range "10-14", or a
/// comma-separated list of levels and ranges "8,10-12". Returns the levels
/// ascending without duplicates.
///
/// Throws usage_error for an empty value or item, a non-number, a level
/// above max_zoom (30), or a reversed range such as "14-10".
///
///   parse_zooms("12,10-11,12") == std::vector<int>{10, 11, 12}
std::vector<int> parse_zooms(std::string_view text);

/// Parses a `--subdomains` value "a,b,c" (spaces around items allowed) into
/// its items, in order. Items may contain letters, digits, '-', '.', '_' and
/// '~' (characters that need no escaping in a URL).
///
/// Throws usage_error for an empty value, an empty item, or an item with
/// any other character.
///
///   parse_subdomains("a,b,c") == std::vector<std::string>{"a", "b", "c"}
std::vector<std::string> parse_subdomains(std::string_view text);

}  // namespace cohort::app::tiles
