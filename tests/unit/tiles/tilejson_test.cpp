// TileJSON input: parsing, errors, the TMS flip, and its merging into the
// options under what the command line said.

#include "cohort/tiles/tilejson.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "cohort/common/option_values.hpp"
#include "cohort/tiles/tiles_cli.hpp"

namespace {

using cohort::app::usage_error;
using namespace cohort::app::tiles;

std::string error_of(const std::string& text) {
  try {
    parse_tilejson(text, "src.json");
  } catch (const usage_error& e) {
    return e.what();
  }
  return "no error";
}

TEST(TileJson, ReadsTheMembersWeUse) {
  const tilejson tj = parse_tilejson(R"({
    "tilejson": "3.0.0", "name": "Roads", "description": "d", "attribution": "(c) X",
    "tiles": ["https://a.example/{z}/{x}/{y}.pbf", "https://b.example/{z}/{x}/{y}.pbf"],
    "minzoom": 2, "maxzoom": 5, "bounds": [13.08, 52.33, 13.76, 52.68], "format": "pbf",
    "vector_layers": [{"id": "roads", "fields": {"kind": "String"}}]})",
                                     "src.json");
  EXPECT_EQ(tj.tiles.size(), 2u);
  EXPECT_EQ(tj.minzoom, 2);
  EXPECT_EQ(tj.maxzoom, 5);
  ASSERT_TRUE(tj.bounds);
  EXPECT_EQ(*tj.bounds, (bbox{13.08, 52.33, 13.76, 52.68}));
  EXPECT_FALSE(tj.tms);
  EXPECT_EQ(tj.name, "Roads");
  EXPECT_EQ(tj.description, "d");
  EXPECT_EQ(tj.attribution, "(c) X");
  EXPECT_EQ(tj.format, "pbf");
  EXPECT_EQ(tj.vector_layers_json,
            R"({"vector_layers":[{"id":"roads","fields":{"kind":"String"}}]})");
}

TEST(TileJson, TmsSchemeFlipsTheRow) {
  const tilejson tj = parse_tilejson(
      R"({"scheme": "tms", "tiles": ["https://t.example/{z}/{x}/{y}.png", "https://u/{z}/{x}/{-y}"]})",
      "s");
  EXPECT_TRUE(tj.tms);
  EXPECT_EQ(tj.tiles, (std::vector<std::string>{"https://t.example/{z}/{x}/{-y}.png",
                                                "https://u/{z}/{x}/{y}"}));
  // xyz (the default) leaves them alone.
  EXPECT_EQ(parse_tilejson(R"({"scheme":"xyz","tiles":["https://t/{z}/{x}/{y}"]})", "s").tiles,
            (std::vector<std::string>{"https://t/{z}/{x}/{y}"}));
}

TEST(TileJson, BadDocumentsAreOneLineErrors) {
  EXPECT_EQ(error_of("{"), "--tilejson src.json: not JSON (incomplete JSON)");
  EXPECT_EQ(error_of("[1]"), "--tilejson src.json: not a TileJSON object");
  EXPECT_EQ(error_of("{}"), "--tilejson src.json: has no 'tiles' list of URL templates");
  EXPECT_EQ(error_of(R"({"tiles": []})"),
            "--tilejson src.json: has no 'tiles' list of URL templates");
  EXPECT_EQ(error_of(R"({"tiles": [1]})"),
            "--tilejson src.json: 'tiles' holds something else than URL templates");
  const std::string t = R"("tiles": ["https://t/{z}/{x}/{y}"])";
  EXPECT_EQ(error_of("{" + t + R"(, "minzoom": 31})"),
            "--tilejson src.json: 'minzoom' is not a zoom level from 0 to 30");
  EXPECT_EQ(error_of("{" + t + R"(, "maxzoom": 2.5})"),
            "--tilejson src.json: 'maxzoom' is not a zoom level from 0 to 30");
  EXPECT_EQ(error_of("{" + t + R"(, "minzoom": 5, "maxzoom": 3})"),
            "--tilejson src.json: 'minzoom' 5 is above 'maxzoom' 3");
  EXPECT_EQ(error_of("{" + t + R"(, "bounds": [1, 2, 3]})"),
            "--tilejson src.json: 'bounds' is not [west, south, east, north]");
  EXPECT_NE(error_of("{" + t + R"(, "bounds": [1, 5, 3, 2]})").find("--tilejson src.json: "),
            std::string::npos);
  EXPECT_EQ(error_of("{" + t + R"(, "scheme": "wms"})"),
            "--tilejson src.json: 'scheme' is 'wms'; known: xyz, tms");
  EXPECT_EQ(error_of("{" + t + R"(, "name": 3})"), "--tilejson src.json: 'name' is not a string");
  EXPECT_EQ(error_of("{" + t + R"(, "vector_layers": {}})"),
            "--tilejson src.json: 'vector_layers' is not a list");
}

TEST(TileJson, UrlOrFile) {
  EXPECT_TRUE(is_tilejson_url("https://t.example/tiles.json"));
  EXPECT_TRUE(is_tilejson_url("HTTP://t.example/tiles.json"));
  EXPECT_FALSE(is_tilejson_url("tiles.json"));
  EXPECT_THROW(read_tilejson_file("/nonexistent/tiles.json"), usage_error);
}

// Merging: an explicit option > the TileJSON > the defaults.
tilejson sample() {
  tilejson tj;
  tj.tiles = {"https://a.example/{z}/{x}/{y}.pbf", "https://b.example/{z}/{x}/{y}.pbf"};
  tj.minzoom = 1;
  tj.maxzoom = 3;
  tj.bounds = bbox{1, 1, 2, 2};
  tj.name = "TJ name";
  tj.attribution = "TJ attribution";
  tj.format = "pbf";
  tj.vector_layers_json = R"({"vector_layers":[]})";
  return tj;
}

TEST(TileJson, FillsWhatTheCommandLineLeftOpen) {
  tiles_options o;
  o.tilejson = "tj.json";
  apply_tilejson(o, sample());
  EXPECT_EQ(o.url.alternate_count(), 2u);
  EXPECT_EQ(o.zooms, (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(o.boxes, (std::vector<bbox>{bbox{1, 1, 2, 2}}));
  EXPECT_EQ(o.name, "TJ name");
  EXPECT_EQ(o.attribution, "TJ attribution");
  EXPECT_EQ(o.description, "");  // the store's default then
  EXPECT_EQ(o.format, "pbf");
  EXPECT_EQ(o.json_metadata, R"({"vector_layers":[]})");
}

TEST(TileJson, ExplicitOptionsWin) {
  tiles_options o;
  o.tilejson = "tj.json";
  o.url = url_template::parse("https://mine.example/{z}/{x}/{y}.png");
  o.zooms = {7};
  o.boxes = {bbox{3, 3, 4, 4}};
  o.name = "mine";
  o.attribution = "my credit";
  apply_tilejson(o, sample());
  EXPECT_EQ(o.url.text(), "https://mine.example/{z}/{x}/{y}.png");
  EXPECT_EQ(o.zooms, (std::vector<int>{7}));
  EXPECT_EQ(o.boxes, (std::vector<bbox>{bbox{3, 3, 4, 4}}));
  EXPECT_EQ(o.name, "mine");
  EXPECT_EQ(o.attribution, "my credit");
}

TEST(TileJson, DefaultsWhenTheDocumentIsSilent) {
  tiles_options o;
  o.tilejson = "tj.json";
  tilejson tj;
  tj.tiles = {"https://t.example/{z}/{x}/{y}{r}.png"};
  tj.maxzoom = 1;
  o.retina = true;
  apply_tilejson(o, tj);
  EXPECT_EQ(o.zooms, (std::vector<int>{0, 1}));  // minzoom defaults to 0
  ASSERT_EQ(o.boxes.size(), 1u);
  EXPECT_EQ(o.boxes[0], (bbox{-180, -max_latitude, 180, max_latitude}));  // the world
  EXPECT_EQ(o.url.expand({1, 1, 0}), "https://t.example/1/1/0@2x.png");
  // Without maxzoom nor --zoom, the zooms are unknown: said, not guessed.
  tiles_options p;
  p.tilejson = "tj.json";
  tj.maxzoom.reset();
  try {
    apply_tilejson(p, tj);
    FAIL() << "no error";
  } catch (const usage_error& e) {
    EXPECT_STREQ(e.what(), "--tilejson tj.json: has no 'maxzoom'; give the zooms with --zoom");
  }
}

TEST(TileJson, RetinaNeedsRInTheTemplates) {
  tiles_options o;
  o.tilejson = "tj.json";
  o.retina = true;
  tilejson tj = sample();
  EXPECT_THROW(apply_tilejson(o, tj), usage_error);
  tj.tiles = {"https://a.example/{z}/{x}/{y}.pbf", "https://b.example/{z}/{x}/{y}{r}.pbf"};
  tiles_options p;
  p.tilejson = "tj.json";
  p.retina = true;
  apply_tilejson(p, tj);
  EXPECT_EQ(p.url.expand({1, 0, 1}), "https://b.example/1/0/1@2x.pbf");
}

TEST(TileJson, TheCommandLineReadsAFile) {
  const auto file = std::filesystem::temp_directory_path() /
                    ("cohort_tilejson_test_" + std::to_string(::getpid()) + ".json");
  std::ofstream(file) << R"({"tiles":["https://t.example/{z}/{x}/{y}.png"],"minzoom":3,
                            "maxzoom":4,"bounds":[1,1,2,2],"attribution":"A"})";
  std::vector<std::string> words{"tiles",  "--tilejson", file.string(), "-o", "o.mbtiles",
                                 "--zoom", "4"};
  std::vector<char*> argv;
  for (auto& w : words) argv.push_back(w.data());
  const auto r = parse_tiles_cli(static_cast<int>(argv.size()), argv.data());
  std::filesystem::remove(file);
  ASSERT_TRUE(r.options);
  EXPECT_TRUE(r.options->tilejson_applied);
  EXPECT_EQ(r.options->zooms, (std::vector<int>{4}));
  EXPECT_EQ(r.options->attribution, "A");
  EXPECT_EQ(r.options->url.text(), "https://t.example/{z}/{x}/{y}.png");
}

}  // namespace
