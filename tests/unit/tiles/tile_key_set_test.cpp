#include "cohort/tiles/tile_key_set.hpp"

#include <algorithm>
#include <cstdint>
#include <random>
#include <set>
#include <vector>

#include <gtest/gtest.h>

namespace {

using cohort::app::tiles::tile;
using cohort::app::tiles::tile_key_set;

TEST(TileKeySet, AgreesWithStdSetOnDenseAndSparseTiles) {
  tile_key_set set;
  std::set<tile> reference;
  std::mt19937 rng(42);
  // A dense area, column by column as a download enumerates it, then sparse
  // tiles and erasures, at several zooms.
  for (std::uint32_t x = 1000; x < 1150; ++x) {
    for (std::uint32_t y = 2000; y < 2100; ++y) {
      const tile t{14, x, y};
      EXPECT_EQ(set.insert(t), reference.insert(t).second);
    }
  }
  for (int i = 0; i < 20000; ++i) {
    const int z = static_cast<int>(rng() % 21);
    const std::uint32_t n = 1u << z;
    const tile t{z, static_cast<std::uint32_t>(rng() % n), static_cast<std::uint32_t>(rng() % n)};
    switch (rng() % 4) {
      case 0: EXPECT_EQ(set.erase(t), reference.erase(t) == 1); break;
      default: EXPECT_EQ(set.insert(t), reference.insert(t).second); break;
    }
  }
  // Erase within the dense block too.
  for (std::uint32_t y = 2000; y < 2100; y += 3) {
    const tile t{14, 1100, y};
    EXPECT_EQ(set.erase(t), reference.erase(t) == 1);
  }
  EXPECT_EQ(set.size(), reference.size());
  const std::vector<tile> all = set.tiles();
  EXPECT_TRUE(std::equal(all.begin(), all.end(), reference.begin(), reference.end()));
  for (int i = 0; i < 20000; ++i) {
    const int z = static_cast<int>(rng() % 21);
    const std::uint32_t n = 1u << z;
    const tile t{z, static_cast<std::uint32_t>(rng() % n), static_cast<std::uint32_t>(rng() % n)};
    EXPECT_EQ(set.contains(t), reference.contains(t)) << t.z << "/" << t.x << "/" << t.y;
  }
  for (std::uint32_t x = 999; x <= 1150; ++x) {
    const tile t{14, x, 2050};
    EXPECT_EQ(set.contains(t), reference.contains(t)) << x;
  }
  EXPECT_FALSE(set.contains(tile{31, 0, 0}));
  EXPECT_FALSE(set.contains(tile{-1, 0, 0}));
}

TEST(TileKeySet, ADenseAreaCostsAboutOneBitPerTile) {
  // A million tiles of one zoom, in download order: 1000 columns of 1000.
  tile_key_set set;
  for (std::uint32_t x = 40000; x < 41000; ++x) {
    for (std::uint32_t y = 70000; y < 71000; ++y) set.insert(tile{17, x, y});
  }
  EXPECT_EQ(set.size(), 1'000'000u);
  // A sorted vector would take 8 MB, a hash set about 40 MB.
  EXPECT_LT(set.memory_bytes(), 250'000u) << set.memory_bytes();
  EXPECT_TRUE(set.contains(tile{17, 40000, 70000}));
  EXPECT_TRUE(set.contains(tile{17, 40999, 70999}));
  EXPECT_FALSE(set.contains(tile{17, 41000, 70000}));
  EXPECT_FALSE(set.contains(tile{17, 40500, 71000}));
  EXPECT_FALSE(set.contains(tile{16, 40500, 70500}));
}

TEST(TileKeySet, ScatteredTilesCostAtMostASortedKeyEach) {
  tile_key_set set;
  std::mt19937 rng(3);
  for (int i = 0; i < 200000; ++i) {
    set.insert(tile{20, static_cast<std::uint32_t>(rng() % (1u << 20)),
                    static_cast<std::uint32_t>(rng() % (1u << 20))});
  }
  // 8 bytes per key, the vector's growth slack, and the recent hash set.
  EXPECT_LT(set.memory_bytes(), 200000u * 8 * 2 + 600'000u) << set.memory_bytes();
}

}  // namespace
