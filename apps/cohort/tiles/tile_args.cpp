#include "cohort/tiles/tile_args.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <optional>

#include <fmt/format.h>

namespace cohort::app::tiles {
namespace {

std::string shown(std::string_view text) {
  return shown_in_message(text);
}

std::string_view trim(std::string_view s) {
  const auto blank = [](char c) { return c == ' ' || c == '\t'; };
  while (!s.empty() && blank(s.front())) s.remove_prefix(1);
  while (!s.empty() && blank(s.back())) s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> split_commas(std::string_view text) {
  std::vector<std::string_view> items;
  for (;;) {
    const std::size_t comma = text.find(',');
    items.push_back(trim(text.substr(0, comma)));
    if (comma == std::string_view::npos) return items;
    text.remove_prefix(comma + 1);
  }
}

// Calls `each` with every item of the comma-separated list `text` given to
// `option`, trimmed, in order; throws usage_error (ending with `help`) when
// the list is empty, or on reaching an empty item.
template <class Each>
void for_each_item(std::string_view option, std::string_view text, std::string_view help,
                   Each&& each) {
  if (trim(text).empty()) throw usage_error(fmt::format("{} is empty; {}", option, help));
  const std::vector<std::string_view> items = split_commas(text);
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (items[i].empty()) {
      throw usage_error(
          fmt::format("{} '{}': item {} is empty; {}", option, shown(text), i + 1, help));
    }
    each(items[i]);
  }
}

// A whole decimal string parsed as a finite double, or nullopt.
std::optional<double> parse_number(std::string_view s) {
  if (s.empty()) return std::nullopt;
  double value = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc{} || end != s.data() + s.size() || !std::isfinite(value)) {
    return std::nullopt;
  }
  return value;
}

constexpr std::string_view bbox_example = "e.g. --bbox 13.08,52.33,13.76,52.68";

void check_longitude(std::string_view text, const char* name, std::string_view item, double v) {
  if (v >= -180 && v <= 180) return;
  throw usage_error(fmt::format("--bbox '{}': {} longitude {} is outside [-180, 180]", shown(text),
                                name, shown(item)));
}

void check_latitude(std::string_view text, const char* name, std::string_view item, double v,
                    bool swapped) {
  if (v >= -90 && v <= 90) return;
  throw usage_error(fmt::format(
      "--bbox '{}': {} latitude {} is outside [-90, 90]{}", shown(text), name, shown(item),
      swapped ? "; did you swap longitude and latitude? the order is W,S,E,N (lon,lat,lon,lat)"
              : ""));
}

constexpr std::string_view zoom_help =
    "use whole numbers 0..30, a range like 10-14 or a list like 8,10-12";

int parse_zoom_level(std::string_view text, std::string_view item) {
  const std::string_view s = trim(item);
  int value = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  const bool digits_only =
      !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (!digits_only) {
    throw usage_error(
        fmt::format("--zoom '{}': '{}' is not a zoom level; {}", shown(text), shown(s), zoom_help));
  }
  if (ec == std::errc::result_out_of_range || value > max_zoom) {
    throw usage_error(fmt::format("--zoom '{}': zoom {} is above the maximum of {}", shown(text),
                                  shown(s), max_zoom));
  }
  return value;
}

bool subdomain_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

std::string shown_char(char c) {
  const auto u = static_cast<unsigned char>(c);
  if (u < 0x20 || u >= 0x7f) return fmt::format("\\x{:02x}", u);
  return std::string(1, c);
}

}  // namespace

bbox parse_bbox(std::string_view text) {
  if (trim(text).empty()) {
    throw usage_error(fmt::format("--bbox is empty; give W,S,E,N in degrees, {}", bbox_example));
  }
  const std::vector<std::string_view> items = split_commas(text);
  if (items.size() != 4) {
    throw usage_error(fmt::format(
        "--bbox '{}': expected 4 comma-separated numbers W,S,E,N in degrees, got {}; {}",
        shown(text), items.size(), bbox_example));
  }
  static constexpr const char* names[4] = {"west", "south", "east", "north"};
  double v[4] = {};
  for (std::size_t i = 0; i < 4; ++i) {
    const std::optional<double> number = parse_number(items[i]);
    if (!number) {
      throw usage_error(fmt::format("--bbox '{}': {} '{}' is not a number; use decimal degrees, {}",
                                    shown(text), names[i], shown(items[i]), bbox_example));
    }
    v[i] = *number;
  }
  const bbox b{v[0], v[1], v[2], v[3]};
  const auto is_lat = [](double d) { return d >= -90 && d <= 90; };
  const auto is_lon = [](double d) { return d >= -180 && d <= 180; };
  // lat,lon,lat,lon instead of lon,lat,lon,lat (both "latitudes" beyond 90
  // but fine as longitudes, and vice versa): hint at the order.
  const bool swapped = is_lat(b.west) && is_lat(b.east) && is_lon(b.south) && is_lon(b.north) &&
                       !is_lat(b.south) && !is_lat(b.north);
  check_longitude(text, "west", items[0], b.west);
  check_latitude(text, "south", items[1], b.south, swapped);
  check_longitude(text, "east", items[2], b.east);
  check_latitude(text, "north", items[3], b.north, swapped);
  if (!(b.south < b.north)) {
    throw usage_error(
        fmt::format("--bbox '{}': south {} is not below north {}; the order is W,S,E,N (west, "
                    "south, east, north)",
                    shown(text), shown(items[1]), shown(items[3])));
  }
  if (b.west == b.east) {
    throw usage_error(fmt::format(
        "--bbox '{}': west and east are both {}, so the box has no width; give W < E (or W > E for "
        "a box that crosses the antimeridian)",
        shown(text), shown(items[0])));
  }
  if (b.west == 180 && b.east == -180) {
    throw usage_error(
        fmt::format("--bbox '{}': west 180 and east -180 are the same meridian, so the box has no "
                    "width; use -180,S,180,N for the whole world",
                    shown(text)));
  }
  if (b.south >= max_latitude || b.north <= -max_latitude) {
    throw usage_error(
        fmt::format("--bbox '{}': the box lies entirely {} of latitude {}85.0511, outside the Web "
                    "Mercator tile "
                    "grid, so no tile covers it",
                    shown(text), b.south >= max_latitude ? "north" : "south",
                    b.south >= max_latitude ? "" : "-"));
  }
  return b;
}

std::vector<int> parse_zooms(std::string_view text) {
  std::vector<int> zooms;
  for_each_item("--zoom", text, zoom_help, [&](std::string_view item) {
    const std::size_t dash = item.find('-');
    if (dash == std::string_view::npos) {
      zooms.push_back(parse_zoom_level(text, item));
      return;
    }
    const std::string_view first = trim(item.substr(0, dash));
    const std::string_view last = trim(item.substr(dash + 1));
    if (first.empty() || last.empty() || last.find('-') != std::string_view::npos) {
      throw usage_error(fmt::format("--zoom '{}': '{}' is not a zoom level or range; {}",
                                    shown(text), shown(item), zoom_help));
    }
    const int a = parse_zoom_level(text, first);
    const int b = parse_zoom_level(text, last);
    if (a > b) {
      throw usage_error(fmt::format("--zoom '{}': range {}-{} is reversed; write it as {}-{}",
                                    shown(text), a, b, b, a));
    }
    for (int z = a; z <= b; ++z) zooms.push_back(z);
  });
  std::sort(zooms.begin(), zooms.end());
  zooms.erase(std::unique(zooms.begin(), zooms.end()), zooms.end());
  return zooms;
}

std::vector<std::string> parse_subdomains(std::string_view text) {
  constexpr std::string_view help = "give a comma-separated list like a,b,c";
  std::vector<std::string> out;
  for_each_item("--subdomains", text, help, [&](std::string_view item) {
    const auto bad = std::find_if_not(item.begin(), item.end(), subdomain_char);
    if (bad != item.end()) {
      throw usage_error(fmt::format(
          "--subdomains '{}': '{}' contains '{}'; subdomains may contain only letters, digits, "
          "'-', '.', '_' and '~'",
          shown(text), shown(item), shown_char(*bad)));
    }
    out.emplace_back(item);
  });
  return out;
}

}  // namespace cohort::app::tiles
