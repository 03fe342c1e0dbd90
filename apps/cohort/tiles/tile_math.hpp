#pragma once

/// \file
/// Web Mercator tile arithmetic for `cohort tiles`: points to XYZ ("slippy
/// map") tiles, bounding boxes to tile ranges, the exact tile count of several
/// boxes over several zoom levels, and a lazy enumeration of those tiles.
///
/// Conventions (the same as OpenStreetMap, Google and Bing):
/// - At zoom z the world is 2^z × 2^z tiles; x grows eastwards from -180°,
///   y grows southwards from +85.0511287798° (row 0 is the northernmost).
/// - Latitudes are clamped to ±max_latitude before projecting.
/// - Border rule: a box covers a tile when the box's interior overlaps the
///   tile's interior. So a box edge lying exactly on a tile border does not
///   pull in the tile on the other side: the box 0,0,90,10 covers only column
///   2 at zoom 2, not column 3. A single point on a border (tile_at) belongs
///   to the tile east / south of it.
/// - A box with west > east crosses the antimeridian: it covers [west, 180]
///   and [-180, east].

#include <compare>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace cohort::app::tiles {

/// Highest zoom level accepted (2^30 tiles per axis still fits in 32 bits).
inline constexpr int max_zoom = 30;

/// Web Mercator's latitude limit, atan(sinh(pi)) in degrees.
inline constexpr double max_latitude = 85.0511287798;

/// One XYZ tile. Ordered by zoom, then x, then y: the enumeration order.
struct tile {
  int z = 0;
  std::uint32_t x = 0;
  std::uint32_t y = 0;

  // clang-tidy 14 sees a literal 0 in the comparison a defaulted <=>
  // synthesizes; there is none in the source.
  // NOLINTNEXTLINE(modernize-use-nullptr)
  friend auto operator<=>(const tile&, const tile&) = default;
};

/// A bounding box in degrees: west and east in [-180, 180], south < north in
/// [-90, 90]. west > east means the box crosses the antimeridian.
/// parse_bbox (tile_args.hpp) produces only valid boxes.
struct bbox {
  double west = 0;
  double south = 0;
  double east = 0;
  double north = 0;

  /// True when the box spans the antimeridian (west > east).
  bool crosses_antimeridian() const { return west > east; }

  friend bool operator==(const bbox&, const bbox&) = default;
};

/// A rectangle of tiles at one zoom, half-open: x in [x_begin, x_end),
/// y in [y_begin, y_end). Never empty when returned by box_rects.
struct tile_rect {
  std::uint32_t x_begin = 0;
  std::uint32_t x_end = 0;
  std::uint32_t y_begin = 0;
  std::uint32_t y_end = 0;

  /// Number of tiles in the rectangle.
  std::uint64_t size() const {
    return std::uint64_t{x_end - x_begin} * std::uint64_t{y_end - y_begin};
  }
  bool contains(std::uint32_t x, std::uint32_t y) const {
    return x >= x_begin && x < x_end && y >= y_begin && y < y_end;
  }

  friend bool operator==(const tile_rect&, const tile_rect&) = default;
};

/// Tiles per axis at zoom z: 2^z.
inline std::uint32_t tiles_per_axis(int z) {
  return std::uint32_t{1} << z;
}

/// Column of the tile containing longitude `lon` (degrees) at zoom z.
/// A longitude on a border belongs to the column east of it; 180 gives the
/// last column.
std::uint32_t tile_x(double lon, int z);

/// Row of the tile containing latitude `lat` (degrees, clamped to
/// ±max_latitude) at zoom z. A latitude on a border belongs to the row south
/// of it; -max_latitude gives the last row.
std::uint32_t tile_y(double lat, int z);

/// The tile containing the point (lon, lat) at zoom z.
/// Example: tile_at(0, 0, 1) == tile{1, 1, 1}.
inline tile tile_at(double lon, double lat, int z) {
  return tile{z, tile_x(lon, z), tile_y(lat, z)};
}

/// The TMS row of XYZ row y at zoom z (2^z - 1 - y); its own inverse.
/// MBTiles stores rows this way; the URL placeholder {-y} expands to it.
inline std::uint32_t tms_y(std::uint32_t y, int z) {
  return tiles_per_axis(z) - 1 - y;
}

/// Appends the Bing Maps quadkey of `t` (z digits, each 0..3) to `out`.
/// Zoom 0 appends nothing.
void append_quadkey(std::string& out, const tile& t);

/// The Bing Maps quadkey of `t`. Example: quadkey({3, 3, 5}) == "213".
std::string quadkey(const tile& t);

/// The tile rectangles covered by `box` at zoom z: one, or two when the box
/// crosses the antimeridian (the two may overlap at low zooms; tile_set
/// counts such tiles once). Precondition: `box` is valid (see bbox).
std::vector<tile_rect> box_rects(const bbox& box, int z);

/// Tile count at one zoom level, for `--dry-run`.
struct zoom_count {
  int zoom = 0;
  std::uint64_t count = 0;

  friend bool operator==(const zoom_count&, const zoom_count&) = default;
};

/// A range of PMTiles tile IDs (tile_id.hpp), half-open: [begin, end).
/// `--part` keeps the tiles of a set whose ID lies in its part's range.
struct tile_id_range {
  std::uint64_t begin = 0;
  std::uint64_t end = UINT64_MAX;  ///< UINT64_MAX: no upper bound

  bool contains(std::uint64_t id) const { return id >= begin && id < end; }
  /// True for the range of every ID (the default).
  bool whole() const { return begin == 0 && end == UINT64_MAX; }

  friend bool operator==(const tile_id_range&, const tile_id_range&) = default;
};

class tile_enumerator;
class tile_area;

namespace detail {
/// Rows [begin, end) of one column slab; see tile_enumerator.
struct y_span {
  std::uint32_t begin = 0;
  std::uint32_t end = 0;
};
/// The number of distinct tiles in the union of `rects` (one zoom).
std::uint64_t union_size(const std::vector<tile_rect>& rects);
}  // namespace detail

/// The set of tiles covered by any of several boxes, at several zoom levels.
/// A tile covered by two boxes is one tile: counts and enumeration see it
/// once. Computed per zoom as a union of rectangles (a sweep over column
/// slabs), so it costs O(boxes²) per zoom, never O(tiles).
///
/// Errors: throws std::invalid_argument for a zoom outside 0..max_zoom or an
/// invalid box (parse_bbox rejects those with a usage_error first).
///
///   tile_set set({parse_bbox("13.08,52.33,13.76,52.68")}, parse_zooms("10-14"));
///   std::uint64_t total = set.count();
///   for (auto e = set.enumerate(); auto t = e.next();) fetch(*t);
class tile_set {
 public:
  tile_set() = default;
  /// Zooms may be in any order and repeat; they are sorted and deduplicated.
  tile_set(std::vector<bbox> boxes, std::vector<int> zooms);
  /// The tiles of an area (tile_area.hpp) instead of boxes; boxes() is empty.
  static tile_set of_area(std::shared_ptr<const tile_area> area, std::vector<int> zooms);

  const std::vector<bbox>& boxes() const { return boxes_; }
  /// The area, or null for a set of boxes.
  const std::shared_ptr<const tile_area>& area() const { return area_; }
  /// The zoom levels, ascending, without duplicates (those of ids() only).
  const std::vector<int>& zooms() const { return zooms_; }
  /// The tile IDs the set keeps (whole unless made by within()).
  const tile_id_range& ids() const { return ids_; }

  /// The same set cut to the tiles whose tile ID (tile_id.hpp) lies in
  /// `ids`: one part of a `--part` download (tile_parts.hpp). Counts stay
  /// exact without enumeration; enumerate() yields the kept tiles only, in
  /// the same order. Zooms without any ID in `ids` are dropped.
  tile_set within(tile_id_range ids) const;

  /// Exact number of distinct tiles over all zooms.
  std::uint64_t count() const;
  /// Exact number of distinct tiles at zoom z (0 when z is not in zooms()).
  std::uint64_t count_at_zoom(int z) const;
  /// Tile count per zoom, in ascending zoom order.
  std::vector<zoom_count> counts_per_zoom() const;

  /// True when `t` is in the set.
  bool contains(const tile& t) const;

  /// A lazy enumeration of every tile once, ordered by zoom, then x, then y
  /// (column by column, matching the z/x/y.ext directory layout). Costs
  /// O(boxes) memory whatever the tile count. The enumerator copies what it
  /// needs and does not refer to this set afterwards.
  tile_enumerator enumerate() const;

 private:
  std::vector<bbox> boxes_;
  std::shared_ptr<const tile_area> area_;
  std::vector<int> zooms_;
  tile_id_range ids_;
};

/// The lazy enumeration returned by tile_set::enumerate(). Each call to
/// next() yields the following tile, then std::nullopt forever once all
/// tiles have been produced.
///
///   auto e = set.enumerate();
///   while (std::optional<tile> t = e.next()) use(*t);
class tile_enumerator {
 public:
  tile_enumerator() = default;

  /// The next tile in (z, x, y) order, or std::nullopt at the end.
  std::optional<tile> next();

 private:
  friend class tile_set;

  tile_enumerator(std::vector<bbox> boxes, std::shared_ptr<const tile_area> area,
                  std::vector<int> zooms, tile_id_range ids);
  // The next tile of the boxes or area, whatever its ID.
  std::optional<tile> next_any();
  // Moves to the first tile of the next non-empty zoom; false at the end.
  bool start_zoom();
  // Moves to the next column slab of the current zoom; false when none left.
  bool start_slab();
  // Area mode: moves to the first column from (column_, x_) with rows.
  bool start_column();

  std::vector<bbox> boxes_;
  std::shared_ptr<const tile_area> area_;
  std::vector<int> zooms_;
  tile_id_range ids_;
  std::size_t zoom_index_ = 0;
  bool done_ = true;
  // State within the current zoom: its rectangles, the sorted distinct x
  // borders of those rectangles (consecutive borders bound a column slab),
  // and the merged y spans covering the current slab.
  std::vector<tile_rect> rects_;
  std::vector<std::uint32_t> borders_;
  std::size_t slab_ = 0;
  std::vector<detail::y_span> spans_;
  std::size_t span_ = 0;
  std::uint32_t x_ = 0;
  std::uint32_t y_ = 0;
  // Area mode: the candidate columns of the zoom (tile_area), one slab per
  // column, whose rows are spans_.
  std::vector<detail::y_span> columns_;
  std::size_t column_ = 0;
};

}  // namespace cohort::app::tiles
