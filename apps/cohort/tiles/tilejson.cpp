// TileJSON input (tilejson.hpp).

#include "cohort/tiles/tilejson.hpp"

#include <fmt/core.h>
#include <boost/json.hpp>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iostream>

#include "cohort/common/option_values.hpp"  // usage_error, shown_in_message
#include "cohort/tiles/tile_args.hpp"
#include "cohort/tiles/tile_formats.hpp"

namespace cohort::app::tiles {

namespace {

namespace json = boost::json;

// A TileJSON document larger than this is not one (a real one is a few kB).

[[noreturn]] void fail(std::string_view source, std::string_view why) {
  throw usage_error(fmt::format("--tilejson {}: {}", shown_in_message(source), why));
}

std::string text_member(const json::object& o, std::string_view key, std::string_view source) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || v->is_null()) return {};
  if (!v->is_string()) fail(source, fmt::format("'{}' is not a string", key));
  return std::string(v->get_string());
}

std::optional<double> number_member(const json::value* v) {
  if (v == nullptr) return std::nullopt;
  if (v->is_int64()) return static_cast<double>(v->get_int64());
  if (v->is_uint64()) return static_cast<double>(v->get_uint64());
  if (v->is_double()) return v->get_double();
  return std::nullopt;
}

std::optional<int> zoom_member(const json::object& o, std::string_view key,
                               std::string_view source) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || v->is_null()) return std::nullopt;
  const std::optional<double> z = number_member(v);
  if (!z || *z != std::floor(*z) || *z < 0 || *z > max_zoom) {
    fail(source, fmt::format("'{}' is not a zoom level from 0 to {}", key, max_zoom));
  }
  return static_cast<int>(*z);
}

std::optional<bbox> bounds_member(const json::object& o, std::string_view source) {
  const json::value* v = o.if_contains("bounds");
  if (v == nullptr || v->is_null()) return std::nullopt;
  const json::array* a = v->if_array();
  if (a == nullptr || a->size() != 4) fail(source, "'bounds' is not [west, south, east, north]");
  std::string text;
  for (const json::value& item : *a) {
    const std::optional<double> d = number_member(&item);
    if (!d) fail(source, "'bounds' is not [west, south, east, north] in numbers");
    if (!text.empty()) text += ',';
    detail::append_number(text, *d);
  }
  try {
    return parse_bbox(text);
  } catch (const usage_error& e) {
    // parse_bbox's reason, said of the TileJSON's bounds instead of --bbox.
    std::string why = e.what();
    if (why.starts_with("--bbox")) why.replace(0, 6, "'bounds'");
    fail(source, why);
  }
}

// {y} of a TMS template counts from the south: that is our {-y}.
std::string xyz_template(std::string_view tms_template) {
  std::string out;
  for (std::size_t i = 0; i < tms_template.size();) {
    if (tms_template.substr(i, 3) == "{y}") {
      out += "{-y}";
      i += 3;
    } else if (tms_template.substr(i, 4) == "{-y}") {
      out += "{y}";
      i += 4;
    } else {
      out += tms_template[i++];
    }
  }
  return out;
}

}  // namespace

tilejson parse_tilejson(std::string_view text, std::string_view source) {
  boost::system::error_code ec;
  json::value doc = json::parse(text, ec);
  if (ec) fail(source, fmt::format("not JSON ({})", ec.message()));
  const json::object* o = doc.if_object();
  if (o == nullptr) fail(source, "not a TileJSON object");

  tilejson tj;
  const json::value* tiles = o->if_contains("tiles");
  const json::array* list = tiles != nullptr ? tiles->if_array() : nullptr;
  if (list == nullptr || list->empty()) {
    fail(source, "has no 'tiles' list of URL templates");
  }
  const std::string scheme = text_member(*o, "scheme", source);
  if (!scheme.empty() && scheme != "xyz" && scheme != "tms") {
    fail(source, fmt::format("'scheme' is '{}'; known: xyz, tms", shown_in_message(scheme)));
  }
  tj.tms = scheme == "tms";
  for (const json::value& t : *list) {
    if (!t.is_string()) fail(source, "'tiles' holds something else than URL templates");
    const std::string_view url = t.get_string();
    tj.tiles.push_back(tj.tms ? xyz_template(url) : std::string(url));
  }
  tj.minzoom = zoom_member(*o, "minzoom", source);
  tj.maxzoom = zoom_member(*o, "maxzoom", source);
  if (tj.minzoom && tj.maxzoom && *tj.minzoom > *tj.maxzoom) {
    fail(source, fmt::format("'minzoom' {} is above 'maxzoom' {}", *tj.minzoom, *tj.maxzoom));
  }
  tj.bounds = bounds_member(*o, source);
  tj.name = text_member(*o, "name", source);
  tj.description = text_member(*o, "description", source);
  tj.attribution = text_member(*o, "attribution", source);
  tj.format = text_member(*o, "format", source);
  if (const json::value* layers = o->if_contains("vector_layers");
      layers != nullptr && !layers->is_null()) {
    if (!layers->is_array()) fail(source, "'vector_layers' is not a list");
    json::object row;
    row["vector_layers"] = *layers;
    tj.vector_layers_json = json::serialize(row);
  }
  return tj;
}

bool is_tilejson_url(std::string_view source) {
  const auto lower_starts = [&](std::string_view prefix) {
    if (source.size() < prefix.size()) return false;
    std::size_t i = 0;
    for (const char p : prefix) {
      const char c = source[i++];
      if ((c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c) != p) return false;
    }
    return true;
  };
  return lower_starts("http://") || lower_starts("https://");
}

tilejson read_tilejson_file(const std::string& path) {
  std::ifstream file;
  std::istream* in = &std::cin;
  if (path != "-") {
    file.open(path, std::ios::binary);
    if (!file) fail(path, fmt::format("cannot read it: {}", std::strerror(errno)));
    in = &file;
  }
  // At most one byte more than the limit: /dev/zero is not read forever.
  std::string text(max_tilejson_bytes + 1, '\0');
  in->read(text.data(), static_cast<std::streamsize>(text.size()));
  if (in->bad()) fail(path, "cannot read it");
  text.resize(static_cast<std::size_t>(in->gcount()));
  if (text.size() > max_tilejson_bytes) fail(path, "more than 16 MB: not a TileJSON document");
  return parse_tilejson(text, path);
}

}  // namespace cohort::app::tiles
