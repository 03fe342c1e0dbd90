#include "cohort/tiles/tiles_merge.hpp"

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cohort/common/option_values.hpp"
#include "cohort/tiles/tile_fingerprint.hpp"

namespace {

using cohort::app::usage_error;
using cohort::app::tiles::check_merge_parts;
using cohort::app::tiles::merge_input;
using cohort::app::tiles::tile_fingerprint;

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

}  // namespace
