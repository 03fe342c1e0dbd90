#pragma once

/// \file
/// The `--url` tile URL template of `cohort tiles`, compiled once and expanded
/// per tile without regular expressions or reparsing.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "cohort/tiles/tile_math.hpp"

namespace cohort::app::tiles {

/// A parsed tile URL template such as
/// `https://{s}.tile.example.org/{z}/{x}/{y}.png`.
///
/// Placeholders:
///   {z}   zoom level             {x}  column
///   {y}   XYZ row (0 = north)    {-y} TMS row, 2^z - 1 - y (0 = south)
///   {s}   a subdomain, picked per tile as subdomains[(x + y) % n], so a
///         tile always maps to the same host (and its HTTP cache)
///   {q}   Bing quadkey, which encodes z, x and y on its own
///   {r}   the retina suffix: "@2x" with --retina, else nothing
///
/// Only http:// and https:// URLs are accepted (file:// is not a tile
/// server). Everything outside braces is copied as is.
///
/// Errors: parse() throws usage_error, one line naming the problem, for an
/// empty template, a scheme other than http(s), no host, a space or control
/// character, an unterminated '{' or stray '}', an unknown placeholder (the
/// message lists the known ones), a template that cannot give z, x and y
/// (z from {z} or {q}; x from {x} or {q}; y from {y}, {-y} or {q}), and {s}
/// with an empty subdomain list.
///
///   auto url = url_template::parse("https://{s}.tile.example.org/{z}/{x}/{y}.png",
///                                  parse_subdomains("a,b,c"));
///   url.expand({14, 8800, 5373}) == "https://b.tile.example.org/14/8800/5373.png"
class url_template {
 public:
  url_template() = default;

  /// Compiles `text`; `subdomains` are the values of {s} (may be empty when
  /// the template has no {s}).
  static url_template parse(std::string_view text, std::vector<std::string> subdomains = {},
                            std::string_view retina_suffix = {});

  /// Compiles several templates of one tile set (a TileJSON's `tiles`),
  /// used as alternates the way {s} picks a subdomain: tile (x, y) is fetched
  /// from texts[(x + y) % n]. Each is checked as parse() does. Throws
  /// usage_error for an empty list.
  static url_template parse_alternates(const std::vector<std::string>& texts,
                                       std::vector<std::string> subdomains = {},
                                       std::string_view retina_suffix = {});

  /// The URL of tile `t`. Precondition: t.x and t.y are below 2^t.z.
  std::string expand(const tile& t) const;

  /// Writes the URL of tile `t` into `out`, replacing its contents, so that a
  /// worker can reuse one buffer.
  void expand_into(std::string& out, const tile& t) const;

  /// The template as given (the first one of alternates).
  const std::string& text() const { return text_; }
  /// What a tile output records as the source (its fingerprint): the
  /// template as given, or the alternates joined by a space (no URL holds
  /// one), followed by " {r}=SUFFIX" when the templates use {r}. Equal to
  /// text() for a single template without {r}.
  std::string source_text() const;
  /// True when the template (or one of the alternates) contains {r}.
  bool uses_retina() const { return uses_retina_; }
  /// The number of alternate templates (1 for a single one).
  std::size_t alternate_count() const { return alternates_.empty() ? 1 : alternates_.size(); }
  const std::vector<std::string>& subdomains() const { return subdomains_; }
  /// True when the template contains {s}.
  bool uses_subdomains() const { return uses_subdomains_; }

  /// The tile file extension implied by the template's path, e.g. ".png",
  /// or "" when the path does not name a known tile format (the caller then
  /// falls back to tile_extension_for_content_type). See
  /// tile_extension_from_url.
  std::string_view extension() const { return extension_; }

 private:
  enum class part_kind : std::uint8_t { literal, z, x, y, tms_y, subdomain, quadkey, retina };
  struct part {
    part_kind kind = part_kind::literal;
    // For literals: the characters text_[offset, offset + length).
    std::uint32_t offset = 0;
    std::uint32_t length = 0;
  };

  // What `name` (between the braces) stands for; throws usage_error for an
  // unknown one, quoting the template `text`.
  static part_kind placeholder_kind(std::string_view text, std::string_view name);
  // The longest text a placeholder can expand to.
  std::size_t widest_expansion(part_kind kind) const;
  // Splits text_ into literals and placeholders (parts_, max_length_,
  // uses_retina_, uses_subdomains_); throws usage_error.
  void split_into_parts();
  // Throws usage_error unless the parts give z, x and y, and {s} has values.
  void check_tile_coordinates() const;

  std::string text_;
  std::vector<std::string> subdomains_;
  std::vector<part> parts_;
  bool uses_subdomains_ = false;
  bool uses_retina_ = false;
  std::string retina_suffix_;
  // Every template when there are several (each without alternates of its own).
  std::vector<url_template> alternates_;
  std::string_view extension_;
  // Upper bound of an expanded URL's length, reserved before expanding.
  std::size_t max_length_ = 0;
};

/// The tile file extension named by the last path segment of `url` (query
/// and fragment ignored), lowercased: ".png", ".jpg", ".jpeg", ".webp",
/// ".gif", ".pbf" or ".mvt"; "" for anything else.
///
///   tile_extension_from_url("https://t.example/{z}/{x}/{y}.PNG?key=1") == ".png"
std::string_view tile_extension_from_url(std::string_view url);

/// The tile file extension for an HTTP Content-Type (parameters ignored):
/// image/png ".png", image/jpeg ".jpg", image/webp ".webp", image/gif ".gif",
/// application/x-protobuf or application/vnd.mapbox-vector-tile ".pbf";
/// "" for anything else.
std::string_view tile_extension_for_content_type(std::string_view content_type);

}  // namespace cohort::app::tiles
