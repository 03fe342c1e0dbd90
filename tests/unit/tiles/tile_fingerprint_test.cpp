#include "cohort/tiles/tile_fingerprint.hpp"

#include <gtest/gtest.h>

namespace {

using cohort::app::tiles::bbox;
using cohort::app::tiles::tile_fingerprint;

TEST(TileFingerprint, CanonicalTextIgnoresOrderAndRepeats) {
  tile_fingerprint f{
      "u",
      {bbox{13.08, 52.33, 13.76, 52.68}, bbox{-1.5, 2, 3, 4}, bbox{13.08, 52.33, 13.76, 52.68}},
      {14, 8, 10, 11, 12, 10}};
  EXPECT_EQ(f.boxes_text(), "-1.5,2,3,4 13.08,52.33,13.76,52.68");
  EXPECT_EQ(f.zooms_text(), "8,10-12,14");
  EXPECT_EQ((tile_fingerprint{"u", {}, {0}}).zooms_text(), "0");
}

}  // namespace
