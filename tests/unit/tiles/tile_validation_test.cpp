#include "cohort/tiles/tile_validation.hpp"

#include <gtest/gtest.h>

#include <string>

namespace {

using cohort::app::tiles::is_tile_content_type;
using cohort::app::tiles::sniff_tile_format;
using cohort::app::tiles::tile_problem;

const std::string png = std::string("\x89PNG\r\n\x1a\n", 8) + "rest of a png";
const std::string jpeg = "\xff\xd8\xff\xe0 jfif";
const std::string webp("RIFF\x10\x00\x00\x00WEBPVP8L", 16);
const std::string gif = "GIF89a....;";
const std::string gzip = "\x1f\x8b\x08\x00";
const std::string mvt = "\x1a\x05layer";

TEST(sniff_tile_format, names_every_known_format) {
  EXPECT_EQ(sniff_tile_format(png), "png");
  EXPECT_EQ(sniff_tile_format(jpeg), "jpg");
  EXPECT_EQ(sniff_tile_format(webp), "webp");
  EXPECT_EQ(sniff_tile_format(gif), "gif");
  EXPECT_EQ(sniff_tile_format("GIF87a;"), "gif");
  EXPECT_EQ(sniff_tile_format(gzip), "gzip");
  EXPECT_EQ(sniff_tile_format(mvt), "pbf");
}

TEST(sniff_tile_format, rejects_html_truncated_magic_and_riff_that_is_not_webp) {
  EXPECT_EQ(sniff_tile_format("<!doctype html>"), "");
  EXPECT_EQ(sniff_tile_format(""), "");
  EXPECT_EQ(sniff_tile_format(png.substr(0, 5)), "");
  EXPECT_EQ(sniff_tile_format(std::string("RIFF\x10\x00\x00\x00WAVEfmt ", 16)), "");
  EXPECT_EQ(sniff_tile_format("GIF90a"), "");
}

TEST(is_tile_content_type, accepts_images_and_vector_tiles_with_parameters_and_case) {
  EXPECT_TRUE(is_tile_content_type("image/png"));
  EXPECT_TRUE(is_tile_content_type("Image/JPEG; charset=binary"));
  EXPECT_TRUE(is_tile_content_type("application/x-protobuf"));
  EXPECT_TRUE(is_tile_content_type("application/vnd.mapbox-vector-tile"));
  EXPECT_TRUE(is_tile_content_type("application/octet-stream"));
  EXPECT_TRUE(is_tile_content_type(""));
}

TEST(is_tile_content_type, rejects_pages) {
  EXPECT_FALSE(is_tile_content_type("text/html; charset=utf-8"));
  EXPECT_FALSE(is_tile_content_type("application/json"));
  EXPECT_FALSE(is_tile_content_type("text/plain"));
}

TEST(tile_problem, accepts_a_valid_tile) {
  EXPECT_EQ(tile_problem(200, "image/png", png, 1000), std::nullopt);
  EXPECT_EQ(tile_problem(200, "application/x-protobuf", gzip, 1000), std::nullopt);
}

TEST(tile_problem, names_each_reason) {
  EXPECT_EQ(tile_problem(500, "image/png", png, 1000), "HTTP status 500");
  EXPECT_EQ(tile_problem(200, "text/html; charset=utf-8", png, 1000),
            "content type text/html is not a tile");
  EXPECT_EQ(tile_problem(200, "image/png", "", 1000), "empty body");
  EXPECT_EQ(tile_problem(200, "image/png", png, 10), "21 bytes, more than --max-tile-bytes 10");
  EXPECT_EQ(tile_problem(200, "image/png", "<html>", 1000),
            "unknown tile format (first bytes 3c 68 74 6d)");
}

TEST(tile_problem, size_bound_is_inclusive) {
  EXPECT_EQ(tile_problem(200, "image/png", png, png.size()), std::nullopt);
  EXPECT_NE(tile_problem(200, "image/png", png, png.size() - 1), std::nullopt);
}

}  // namespace
