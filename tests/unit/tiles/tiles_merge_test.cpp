#include "cohort/tiles/tiles_merge.hpp"

#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cohort/common/option_values.hpp"
#include "cohort/tiles/tile_fingerprint.hpp"

namespace {

using cohort::app::usage_error;
using cohort::app::tiles::check_merge_parts;
using cohort::app::tiles::first_difference;
using cohort::app::tiles::merge_input;
using cohort::app::tiles::merge_repeat;
using cohort::app::tiles::read_tile;
using cohort::app::tiles::tile;
using cohort::app::tiles::tile_fingerprint;
using cohort::app::tiles::tile_output_kind;
using cohort::app::tiles::tile_reader;

// Tiles in the order given, as a reader of `kind` would yield them.
class listed_reader final : public tile_reader {
 public:
  listed_reader(tile_output_kind kind, std::vector<read_tile> tiles) : tiles_(std::move(tiles)) {
    info_.kind = kind;
  }
  bool next(read_tile& out) override {
    if (at_ == tiles_.size()) return false;
    out = tiles_[at_++];
    return true;
  }

 private:
  std::vector<read_tile> tiles_;
  std::size_t at_ = 0;
};

std::optional<std::string> difference(tile_output_kind ka, std::vector<read_tile> a,
                                      tile_output_kind kb, std::vector<read_tile> b) {
  listed_reader ra(ka, std::move(a));
  listed_reader rb(kb, std::move(b));
  return first_difference(ra, rb);
}

merge_input part(std::string shown, std::string k_of_n, std::string zooms = "10-13") {
  tile_fingerprint fp{"https://t/{z}/{x}/{y}.png", {{13.3, 52.45, 13.5, 52.56}}, {}};
  fp.part = std::move(k_of_n);
  cohort::fingerprint fields = fp.fields();
  for (auto& f : fields) {
    if (f.name == "zooms") f.value = zooms;
  }
  return {std::move(shown), fields};
}

std::string error_of(const std::vector<merge_input>& inputs) {
  try {
    (void)check_merge_parts(inputs);
  } catch (const usage_error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(TilesMerge, AllPartsOnceGiveTheWholeDownload) {
  const cohort::fingerprint whole =
      check_merge_parts({part("b", "1/3"), part("a", "0/3"), part("c", "2/3")});
  const tile_fingerprint fp = tile_fingerprint::from_fields(whole);
  EXPECT_EQ(fp.part, "");
  EXPECT_EQ(fp.zooms_text(), "10-13");
  EXPECT_EQ(fp.boxes_text(), "13.3,52.45,13.5,52.56");
  EXPECT_EQ(fp.url_template, "https://t/{z}/{x}/{y}.png");
  // A whole download is its own only part.
  EXPECT_NO_THROW(check_merge_parts({part("all", "")}));
}

TEST(TilesMerge, MissingRepeatedOrForeignPartsAreRefusedByName) {
  EXPECT_EQ(error_of({part("a", "0/4"), part("b", "1/4"), part("d", "3/4")}),
            "part 2/4 is missing (given: 0/4, 1/4, 3/4)");
  EXPECT_EQ(error_of({part("a", "0/4"), part("d", "3/4")}),
            "parts 1/4, 2/4 are missing (given: 0/4, 3/4)");
  EXPECT_EQ(error_of({part("a", "0/2"), part("b", "0/2")}),
            "inputs a and b are both part 0/2; give each part once");
  EXPECT_EQ(error_of({part("a", "0/2"), part("b", "1/4")}),
            "inputs a (0/2) and b (1/4) cut the download into different numbers of parts");
  EXPECT_EQ(error_of({part("a", "0/2"), part("b", "1/2", "10-14")}),
            "inputs a and b are parts of different downloads: zooms '10-13' and '10-14'");
  EXPECT_EQ(error_of({part("a", "0/2"), {"b", std::nullopt}}),
            "input b was not made by cohort tiles (no fingerprint)");
}

TEST(TilesMerge, APartGivenTwiceIsAnOverlapToCheckWhenAsked) {
  std::vector<merge_repeat> repeats;
  const auto inputs = {part("a", "0/2"), part("b", "1/2"), part("a2", "0/2"), part("b2", "1/2")};
  EXPECT_NO_THROW(check_merge_parts(inputs, &repeats));
  EXPECT_EQ(repeats, (std::vector<merge_repeat>{{2, 0}, {3, 1}}));
  // Not asked: refused as before.
  EXPECT_EQ(error_of({part("a", "0/2"), part("b", "1/2"), part("a2", "0/2")}),
            "inputs a and a2 are both part 0/2; give each part once");
}

TEST(TilesMerge, OverlappingPartsAreIdenticalOrTheFirstDifferingTileIsNamed) {
  const auto pm = tile_output_kind::pmtiles;
  const auto mb = tile_output_kind::mbtiles;
  const auto dir = tile_output_kind::directory;
  // In tile-ID order and MBTiles order alike: one tile per zoom.
  const std::vector<read_tile> tiles = {{{10, 0, 0}, "a"}, {{11, 1, 0}, "b"}, {{12, 1, 1}, "c"}};
  EXPECT_EQ(difference(pm, tiles, pm, tiles), std::nullopt);
  std::vector<read_tile> changed = tiles;
  changed[1].bytes = "B";
  EXPECT_EQ(difference(pm, tiles, pm, changed), "tile 11/1/0 differs");
  std::vector<read_tile> fewer = tiles;
  fewer.erase(fewer.begin() + 1);
  EXPECT_EQ(difference(pm, tiles, pm, fewer), "tile 11/1/0 is in one only");
  EXPECT_EQ(difference(pm, fewer, pm, tiles), "tile 11/1/0 is in one only");
  std::vector<read_tile> more = tiles;
  more.push_back({{13, 0, 0}, "d"});
  EXPECT_EQ(difference(mb, tiles, mb, more), "tile 13/0/0 is in one only");
  // Orders that are not canonical: compared whatever the order.
  const std::vector<read_tile> shuffled = {tiles[2], tiles[0], tiles[1]};
  EXPECT_EQ(difference(dir, tiles, dir, shuffled), std::nullopt);
  EXPECT_EQ(difference(pm, tiles, dir, shuffled), std::nullopt);
  EXPECT_EQ(difference(dir, tiles, mb, changed), "they hold different tiles");
  // The same bytes under two tiles swapped is a difference.
  std::vector<read_tile> swapped = tiles;
  std::swap(swapped[0].bytes, swapped[1].bytes);
  EXPECT_EQ(difference(dir, tiles, dir, swapped), "they hold different tiles");
}

}  // namespace
