#include "cohort/tiles/url_template.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <initializer_list>
#include <limits>
#include <utility>

#include <fmt/format.h>

#include "cohort/tiles/tile_args.hpp"

namespace cohort::app::tiles {
namespace {

constexpr std::string_view known_placeholders = "{z} {x} {y} {-y} {s} {q} {r}";
constexpr std::string_view url_example = "e.g. https://tile.example.org/{z}/{x}/{y}.png";

std::string shown(std::string_view text) {
  return shown_in_message(text);
}

char lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

bool starts_with_nocase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    if (lower(s[i]) != prefix[i]) return false;
  }
  return true;
}

bool equals_nocase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && starts_with_nocase(a, b);
}

// A hint for placeholders from other tools' template syntaxes.
std::string_view placeholder_hint(std::string_view name) {
  if (name == "zoom") return "; for the zoom level write {z}";
  if (name == "quadkey") return "; for the Bing quadkey write {q}";
  if (name.find(',') != std::string_view::npos || name.find('-') != std::string_view::npos ||
      name.starts_with("switch:")) {
    return "; to rotate hosts write {s} and list them with --subdomains a,b,c";
  }
  return "";
}

void append_number(std::string& out, std::uint32_t value) {
  std::array<char, 16> buffer;
  const auto result = std::to_chars(buffer.data(), buffer.data() + buffer.size(), value);
  out.append(buffer.data(), result.ptr);
}

// Throws usage_error unless `text` is an http(s) URL with a host and no
// space or control character (placeholders are not looked at yet).
void check_url_text(std::string_view text) {
  if (text.empty()) {
    throw usage_error(fmt::format("--url is empty; give a tile URL template, {}", url_example));
  }
  if (text.size() > std::numeric_limits<std::uint32_t>::max()) {
    throw usage_error("--url is too long");
  }
  std::size_t host = 0;
  if (starts_with_nocase(text, "https://")) {
    host = 8;
  } else if (starts_with_nocase(text, "http://")) {
    host = 7;
  } else {
    throw usage_error(fmt::format("--url '{}': must start with http:// or https://; {}",
                                  shown(text), url_example));
  }
  if (host == text.size() || text[host] == '/' || text[host] == '?' || text[host] == '#') {
    throw usage_error(fmt::format("--url '{}': has no host after '{}'; {}", shown(text),
                                  shown(text.substr(0, host)), url_example));
  }
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto u = static_cast<unsigned char>(text[i]);
    if (u <= 0x20 || u == 0x7f) {
      throw usage_error(fmt::format(
          "--url '{}': contains a space or control character at position {}; percent-encode it "
          "(a space is %20)",
          shown(text), i + 1));
    }
  }
}

}  // namespace

url_template url_template::parse(std::string_view text, std::vector<std::string> subdomains,
                                 std::string_view retina_suffix) {
  check_url_text(text);
  url_template result;
  result.text_ = std::string(text);
  result.subdomains_ = std::move(subdomains);
  result.retina_suffix_ = std::string(retina_suffix);
  result.split_into_parts();
  result.check_tile_coordinates();
  result.extension_ = tile_extension_from_url(result.text_);
  return result;
}

url_template::part_kind url_template::placeholder_kind(std::string_view text,
                                                       std::string_view name) {
  static constexpr std::pair<std::string_view, part_kind> known[] = {
      {"z", part_kind::z},        {"x", part_kind::x},       {"y", part_kind::y},
      {"-y", part_kind::tms_y},   {"q", part_kind::quadkey}, {"r", part_kind::retina},
      {"s", part_kind::subdomain}};
  for (const auto& [known_name, kind] : known) {
    if (name == known_name) return kind;
  }
  throw usage_error(fmt::format("--url '{}': unknown placeholder {{{}}}; known placeholders: {}{}",
                                shown(text), shown(name), known_placeholders,
                                placeholder_hint(name)));
}

std::size_t url_template::widest_expansion(part_kind kind) const {
  switch (kind) {
    case part_kind::quadkey: return max_zoom;  // one digit a zoom level
    case part_kind::retina: return retina_suffix_.size();
    case part_kind::subdomain: {
      std::size_t width = 0;
      for (const std::string& s : subdomains_) width = std::max(width, s.size());
      return width;
    }
    default: return 10;  // the digits of 2^30
  }
}

void url_template::split_into_parts() {
  const std::string_view text = text_;
  std::size_t literal_start = 0;
  const auto flush_literal = [&](std::size_t end) {
    if (end > literal_start) {
      parts_.push_back({part_kind::literal, static_cast<std::uint32_t>(literal_start),
                        static_cast<std::uint32_t>(end - literal_start)});
      max_length_ += end - literal_start;
    }
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '}') {
      throw usage_error(fmt::format(
          "--url '{}': '}}' at position {} has no matching '{{'; placeholders look like {{z}}",
          shown(text), i + 1));
    }
    if (text[i] != '{') continue;
    const std::size_t close = text.find('}', i + 1);
    if (close == std::string_view::npos) {
      throw usage_error(fmt::format(
          "--url '{}': '{{' at position {} is not closed by '}}'; placeholders look like {{z}}",
          shown(text), i + 1));
    }
    const part_kind kind = placeholder_kind(text, text.substr(i + 1, close - i - 1));
    flush_literal(i);
    parts_.push_back({kind, 0, 0});
    max_length_ += widest_expansion(kind);
    uses_retina_ = uses_retina_ || kind == part_kind::retina;
    uses_subdomains_ = uses_subdomains_ || kind == part_kind::subdomain;
    i = close;
    literal_start = close + 1;
  }
  flush_literal(text.size());
}

void url_template::check_tile_coordinates() const {
  const auto has = [&](std::initializer_list<part_kind> kinds) {
    return std::any_of(parts_.begin(), parts_.end(), [&](const part& p) {
      return std::find(kinds.begin(), kinds.end(), p.kind) != kinds.end();
    });
  };
  const std::string_view text = text_;
  if (!has({part_kind::z, part_kind::quadkey})) {
    throw usage_error(
        fmt::format("--url '{}': has no {{z}} placeholder; a tile URL needs the zoom, x and y, {}",
                    shown(text), url_example));
  }
  if (!has({part_kind::x, part_kind::quadkey})) {
    throw usage_error(fmt::format(
        "--url '{}': has no {{x}} (or {{q}}) placeholder; a tile URL needs the zoom, x and y, {}",
        shown(text), url_example));
  }
  if (!has({part_kind::y, part_kind::tms_y, part_kind::quadkey})) {
    throw usage_error(fmt::format(
        "--url '{}': has no {{y}} or {{-y}} (or {{q}}) placeholder; a tile URL needs the zoom, x "
        "and y, {}",
        shown(text), url_example));
  }
  if (uses_subdomains_ && subdomains_.empty()) {
    throw usage_error(fmt::format(
        "--url '{}': uses {{s}} but the subdomain list is empty; give e.g. --subdomains a,b,c",
        shown(text)));
  }
}

url_template url_template::parse_alternates(const std::vector<std::string>& texts,
                                            std::vector<std::string> subdomains,
                                            std::string_view retina_suffix) {
  if (texts.empty()) throw usage_error("no tile URL template given");
  if (texts.size() == 1) return parse(texts.front(), std::move(subdomains), retina_suffix);
  std::vector<url_template> all;
  all.reserve(texts.size());
  for (const std::string& text : texts) all.push_back(parse(text, subdomains, retina_suffix));
  url_template result = all.front();
  for (const url_template& a : all) result.uses_retina_ = result.uses_retina_ || a.uses_retina_;
  result.alternates_ = std::move(all);
  return result;
}

std::string url_template::source_text() const {
  std::string out;
  if (alternates_.empty()) {
    out = text_;
  } else {
    for (const url_template& a : alternates_) {
      if (!out.empty()) out += ' ';
      out += a.text_;
    }
  }
  if (uses_retina_) out += " {r}=" + retina_suffix_;
  return out;
}

void url_template::expand_into(std::string& out, const tile& t) const {
  if (!alternates_.empty()) {
    alternates_[(std::uint64_t{t.x} + t.y) % alternates_.size()].expand_into(out, t);
    return;
  }
  out.clear();
  out.reserve(max_length_);
  for (const part& p : parts_) {
    switch (p.kind) {
      case part_kind::literal: out.append(text_, p.offset, p.length); break;
      case part_kind::z: append_number(out, static_cast<std::uint32_t>(t.z)); break;
      case part_kind::x: append_number(out, t.x); break;
      case part_kind::y: append_number(out, t.y); break;
      case part_kind::tms_y: append_number(out, tms_y(t.y, t.z)); break;
      case part_kind::quadkey: append_quadkey(out, t); break;
      case part_kind::retina: out += retina_suffix_; break;
      case part_kind::subdomain:
        out += subdomains_[(std::uint64_t{t.x} + t.y) % subdomains_.size()];
        break;
    }
  }
}

std::string url_template::expand(const tile& t) const {
  std::string out;
  expand_into(out, t);
  return out;
}

std::string_view tile_extension_from_url(std::string_view url) {
  const std::size_t query = url.find_first_of("?#");
  std::string_view path = url.substr(0, query);
  const std::size_t scheme = path.find("://");
  if (scheme != std::string_view::npos) path.remove_prefix(scheme + 3);
  const std::size_t slash = path.rfind('/');
  if (slash == std::string_view::npos) return "";  // a bare host, no path
  const std::string_view segment = path.substr(slash + 1);
  const std::size_t dot = segment.rfind('.');
  if (dot == std::string_view::npos) return "";
  const std::string_view ext = segment.substr(dot);
  static constexpr std::array<std::string_view, 7> known = {".png", ".jpg", ".jpeg", ".webp",
                                                            ".gif", ".pbf", ".mvt"};
  for (std::string_view k : known) {
    if (equals_nocase(ext, k)) return k;
  }
  return "";
}

std::string_view tile_extension_for_content_type(std::string_view content_type) {
  std::string_view type = content_type.substr(0, content_type.find(';'));
  while (!type.empty() && (type.front() == ' ' || type.front() == '\t')) type.remove_prefix(1);
  while (!type.empty() && (type.back() == ' ' || type.back() == '\t')) type.remove_suffix(1);
  struct mapping {
    std::string_view type;
    std::string_view ext;
  };
  static constexpr std::array<mapping, 7> known = {{
      {"image/png", ".png"},
      {"image/jpeg", ".jpg"},
      {"image/jpg", ".jpg"},
      {"image/webp", ".webp"},
      {"image/gif", ".gif"},
      {"application/x-protobuf", ".pbf"},
      {"application/vnd.mapbox-vector-tile", ".pbf"},
  }};
  for (const mapping& m : known) {
    if (equals_nocase(type, m.type)) return m.ext;
  }
  return "";
}

}  // namespace cohort::app::tiles
