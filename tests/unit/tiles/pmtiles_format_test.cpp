#include "cohort/tiles/pmtiles_format.hpp"

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace {

using namespace cohort::app::tiles;

pmtiles_header distinct_header() {
  pmtiles_header h;
  h.root_offset = 127;
  h.root_length = 0x0102030405060708ULL;
  h.metadata_offset = 3;
  h.metadata_length = 4;
  h.leaf_offset = 5;
  h.leaf_length = 6;
  h.tile_data_offset = 7;
  h.tile_data_length = 8;
  h.addressed_tiles = 9;
  h.tile_entries = 10;
  h.tile_contents = 11;
  h.clustered = true;
  h.internal_compression = pmtiles_compression::gzip;
  h.tile_compression = pmtiles_compression::none;
  h.tile_type = pmtiles_tile_type::webp;
  h.min_zoom = 2;
  h.max_zoom = 14;
  h.min_lon_e7 = pmtiles_e7(-180);
  h.min_lat_e7 = pmtiles_e7(-85.0511287);
  h.max_lon_e7 = pmtiles_e7(179.9999999);
  h.max_lat_e7 = pmtiles_e7(85.0511287);
  h.center_zoom = 9;
  h.center_lon_e7 = pmtiles_e7(13.4);
  h.center_lat_e7 = pmtiles_e7(-52.5);
  return h;
}

TEST(PmtilesHeader, EncodesEveryFieldAtTheSpecsOffsetAndDecodesItBack) {
  const pmtiles_header h = distinct_header();
  const std::string b = encode_pmtiles_header(h);
  ASSERT_EQ(b.size(), pmtiles_header_size);
  EXPECT_EQ(b.substr(0, 7), "PMTiles");
  EXPECT_EQ(b[7], 3);
  EXPECT_EQ(b[8], 127);  // root offset, little-endian
  EXPECT_EQ(b[16], 0x08);
  EXPECT_EQ(b[23], 0x01);
  EXPECT_EQ(b[88], 11);  // tile contents
  EXPECT_EQ(b[96], 1);   // clustered
  EXPECT_EQ(b[97], 2);   // gzip
  EXPECT_EQ(b[98], 1);   // none
  EXPECT_EQ(b[99], 4);   // webp
  EXPECT_EQ(b[100], 2);
  EXPECT_EQ(b[101], 14);
  EXPECT_EQ(b[118], 9);
  // -180 * 10^7 = -1800000000 = 0x94b62e00 little-endian at 102.
  EXPECT_EQ(static_cast<unsigned char>(b[102]), 0x00);
  EXPECT_EQ(static_cast<unsigned char>(b[103]), 0x2e);
  EXPECT_EQ(static_cast<unsigned char>(b[104]), 0xb6);
  EXPECT_EQ(static_cast<unsigned char>(b[105]), 0x94);
  EXPECT_EQ(decode_pmtiles_header(b), h);
  EXPECT_DOUBLE_EQ(pmtiles_degrees(h.center_lat_e7), -52.5);
  EXPECT_EQ(pmtiles_e7(200), pmtiles_e7(180));
}

TEST(PmtilesHeader, DecodeSaysWhatIsWrong) {
  const std::string good = encode_pmtiles_header(distinct_header());
  auto message = [](std::string_view b) {
    try {
      decode_pmtiles_header(b);
    } catch (const pmtiles_error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(message(good.substr(0, 126)), "PMTiles header is truncated: 126 of 127 bytes");
  EXPECT_EQ(message(""), "PMTiles header is truncated: 0 of 127 bytes");
  EXPECT_EQ(message("SQLite format 3"), "not a PMTiles archive (no \"PMTiles\" at its start)");
  std::string v2 = good;
  v2[7] = 2;
  EXPECT_EQ(message(v2), "PMTiles version 2 is not supported (only version 3)");
  EXPECT_EQ(decode_pmtiles_header(good + "more"), distinct_header());
}

TEST(PmtilesDirectory, EncodesAsTheSpecSays) {
  const std::vector<pmtiles_entry> dir = {
      {.tile_id = 5, .offset = 0, .length = 42, .run_length = 1},
      {.tile_id = 42, .offset = 42, .length = 10, .run_length = 3},     // contiguous: 0
      {.tile_id = 69, .offset = 1337, .length = 300, .run_length = 0},  // a leaf
  };
  const std::string b = encode_pmtiles_directory(dir);
  // 3 | 5 37 27 | 1 3 0 | 42 10 300 (varint ac 02) | 1 0 1338 (varint ba 0a)
  const std::string expected = {3, 5, 37, 27, 1, 3, 0, 42, 10, '\xac', 2, 1, 0, '\xba', 10};
  EXPECT_EQ(b, expected);
  EXPECT_EQ(decode_pmtiles_directory(b), dir);
  EXPECT_EQ(decode_pmtiles_directory(pmtiles_compress(b, pmtiles_compression::gzip),
                                     pmtiles_compression::gzip),
            dir);
  EXPECT_TRUE(decode_pmtiles_directory(encode_pmtiles_directory({})).empty());
}

TEST(PmtilesDirectory, RoundTripsLargeRandomDirectories) {
  std::mt19937_64 rng(14);
  std::vector<pmtiles_entry> dir;
  std::uint64_t id = 0;
  std::uint64_t offset = 0;
  for (int i = 0; i < 20000; ++i) {
    id += 1 + rng() % 1000;
    const auto length = static_cast<std::uint32_t>(1 + rng() % 100000);
    // Mostly contiguous, sometimes a deduplicated earlier blob.
    const std::uint64_t at = (rng() % 8 == 0 && offset > 0) ? rng() % offset : offset;
    dir.push_back({id, at, length, static_cast<std::uint32_t>(rng() % 4)});
    offset = std::max(offset, at + length);
  }
  dir.back().tile_id = (std::uint64_t{1} << 62) + 5;
  EXPECT_EQ(decode_pmtiles_directory(encode_pmtiles_directory(dir)), dir);
}

std::string directory_error(const std::string& bytes) {
  try {
    decode_pmtiles_directory(bytes);
  } catch (const pmtiles_error& e) {
    return e.what();
  }
  return "no error";
}

TEST(PmtilesDirectory, DecodeRejectsMalformedBytes) {
  EXPECT_EQ(directory_error(""), "PMTiles directory is truncated");
  EXPECT_EQ(directory_error({1, 5, 1, '\xac', 2}), "PMTiles directory is truncated");
  EXPECT_EQ(directory_error({'\xff', '\xff', '\xff', '\xff', 1, 2, 3, 4}),
            "PMTiles directory claims 536870911 entries in 8 bytes");
  EXPECT_EQ(directory_error({1, 5, 1, 0, 1}), "PMTiles directory has an entry of length 0");
  EXPECT_EQ(directory_error({1, 5, 1, 42, 0}),
            "PMTiles directory's first offset is coded as contiguous");
  EXPECT_EQ(directory_error({2, 5, 0, 1, 1, 4, 4, 1, 0}),
            "PMTiles directory's tile IDs are not ascending");
  EXPECT_EQ(directory_error({1, 5, 1, 42, 1, 9}),
            "PMTiles directory has 1 bytes after its entries");
  std::string long_varint(11, '\x80');
  long_varint += std::string{1, 5, 1, 42};
  EXPECT_EQ(directory_error(long_varint), "PMTiles directory has a varint longer than 64 bits");
  // Lengths and run lengths are 32-bit in every reader.
  EXPECT_EQ(directory_error({1, 5, 1, '\x80', '\x80', '\x80', '\x80', 16, 1}),
            "PMTiles directory has a length of 4294967296 (above 2^32 - 1)");
}

TEST(PmtilesCompression, GzipRoundTripsAndRejectsBadData) {
  std::string text;
  for (int i = 0; i < 100000; ++i) text += std::to_string(i % 97);
  const std::string z = pmtiles_compress(text, pmtiles_compression::gzip);
  EXPECT_LT(z.size(), text.size() / 4);
  EXPECT_EQ(z.substr(0, 2), "\x1f\x8b");  // a gzip member, not a zlib stream
  EXPECT_EQ(pmtiles_decompress(z, pmtiles_compression::gzip), text);
  EXPECT_EQ(pmtiles_decompress(pmtiles_compress("", pmtiles_compression::gzip),
                               pmtiles_compression::gzip),
            "");
  EXPECT_EQ(pmtiles_compress("abc", pmtiles_compression::none), "abc");
  EXPECT_THROW(pmtiles_decompress(z.substr(0, z.size() / 2), pmtiles_compression::gzip),
               pmtiles_error);
  EXPECT_THROW(pmtiles_decompress(z + "x", pmtiles_compression::gzip), pmtiles_error);
  EXPECT_THROW(pmtiles_decompress("not gzip", pmtiles_compression::gzip), pmtiles_error);
  EXPECT_THROW(pmtiles_decompress(z, pmtiles_compression::gzip, 1000), pmtiles_error);
  try {
    pmtiles_decompress(z, pmtiles_compression::brotli);
    ADD_FAILURE();
  } catch (const pmtiles_error& e) {
    EXPECT_STREQ(e.what(), "PMTiles compression brotli is not supported");
  }
}

TEST(PmtilesFindEntry, FollowsRunsAndLeavesAsTheSpecsReaders) {
  const std::vector<pmtiles_entry> dir = {
      {.tile_id = 5, .offset = 0, .length = 1, .run_length = 1},
      {.tile_id = 10, .offset = 1, .length = 1, .run_length = 3},
      {.tile_id = 20, .offset = 0, .length = 9, .run_length = 0},
  };
  EXPECT_EQ(find_pmtiles_entry(dir, 4), nullptr);
  EXPECT_EQ(find_pmtiles_entry(dir, 5), &dir[0]);
  EXPECT_EQ(find_pmtiles_entry(dir, 6), nullptr);
  EXPECT_EQ(find_pmtiles_entry(dir, 10), &dir[1]);
  EXPECT_EQ(find_pmtiles_entry(dir, 12), &dir[1]);
  EXPECT_EQ(find_pmtiles_entry(dir, 13), nullptr);
  EXPECT_EQ(find_pmtiles_entry(dir, 20), &dir[2]);
  EXPECT_EQ(find_pmtiles_entry(dir, 1000000), &dir[2]);  // look in the leaf
  EXPECT_EQ(find_pmtiles_entry({}, 0), nullptr);
}

}  // namespace
