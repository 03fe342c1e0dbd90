#include "cohort/tiles/download_plan.hpp"

#include "cohort/common/option_values.hpp"
#include "cohort/tiles/tile_args.hpp"
#include "cohort/tiles/tiles_cli.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <vector>

namespace {

using namespace cohort::app::tiles;
using cohort::app::format_count;

const bbox world = parse_bbox("-180,-90,180,90");
const bbox berlin = parse_bbox("13.088,52.338,13.761,52.675");

url_template png(const char* text = "http://tiles.example/{z}/{x}/{y}.png") {
  return url_template::parse(text, parse_subdomains("a,b,c"));
}

download_plan plan_of(std::uint64_t tiles, int zoom = 14) {
  download_plan p;
  p.zooms = {{zoom, tiles}};
  p.tiles = p.requests = tiles;
  return p;
}

TEST(DownloadPlan, CountsTheWorldAtZooms0To20Exactly) {
  const auto p = plan_download(tile_set({world}, parse_zooms("0-20")), png(), 4, 0);
  EXPECT_EQ(p.tiles, 1'466'015'503'701u);  // (4^21 - 1) / 3
  EXPECT_EQ(p.requests, p.tiles);
  ASSERT_EQ(p.zooms.size(), 21u);
  for (int z = 0; z <= 20; ++z) {
    EXPECT_EQ(p.zooms[z], (zoom_count{z, std::uint64_t{1} << (2 * z)}));
  }
}

TEST(DownloadPlan, CountsPerZoomOfSeveralBoxesOnce) {
  // The same box twice is counted once. Berlin is columns 549-551 and rows
  // 335-336 at zoom 10, and over three billion tiles at zoom 25.
  const auto p = plan_download(tile_set({berlin, berlin}, {10, 25}), png(), 4, 0);
  ASSERT_EQ(p.zooms.size(), 2u);
  EXPECT_EQ(p.zooms[0], (zoom_count{10, 6}));
  EXPECT_EQ(p.zooms[1].zoom, 25);
  EXPECT_EQ(p.zooms[1].count, tile_set({berlin}, {25}).count());
  EXPECT_GT(p.zooms[1].count, 3'000'000'000u);
  EXPECT_EQ(p.tiles, 6 + p.zooms[1].count);
}

TEST(DownloadPlan, WritesThousandsSeparators) {
  EXPECT_EQ(format_count(0), "0");
  EXPECT_EQ(format_count(999), "999");
  EXPECT_EQ(format_count(1000), "1,000");
  EXPECT_EQ(format_count(100'000), "100,000");
  EXPECT_EQ(format_count(1'000'000), "1,000,000");
  EXPECT_EQ(format_count(1'466'015'503'701), "1,466,015,503,701");
  EXPECT_EQ(format_count(UINT64_MAX), "18,446,744,073,709,551,615");
}

TEST(DownloadPlan, EstimatesBytesFromTheFormatItAssumes) {
  const auto p = plan_download(tile_set({world}, {2}), png(), 4, 0);
  EXPECT_EQ(p.format, "png");
  EXPECT_EQ(p.assumed_bytes_per_tile, assumed_tile_bytes("png"));
  EXPECT_EQ(p.estimated_bytes, 16 * assumed_tile_bytes("png"));
  EXPECT_EQ(plan_download(tile_set({world}, {2}), png("http://h/{z}/{x}/{y}"), 4, 0).format, "");
  EXPECT_LT(assumed_tile_bytes("webp"), assumed_tile_bytes("png"));
  EXPECT_GT(assumed_tile_bytes(""), 0);
}

TEST(DownloadPlan, EstimatesTimeAtTheConcurrencyOrTheRateWhicheverIsSlower) {
  const tile_set set({world}, {5});  // 1024 tiles
  const auto j4 = plan_download(set, png(), 4, 0);
  EXPECT_DOUBLE_EQ(j4.estimated_seconds, 1024 * assumed_seconds_per_request / 4);
  // 2 requests/s to one host: 512 s, slower than -j 4.
  EXPECT_DOUBLE_EQ(plan_download(set, png(), 4, 2).estimated_seconds, 512);
  // The rate is per host: {s} in the host spreads the tiles over 3 hosts.
  const auto three = plan_download(set, png("http://{s}.tiles.example/{z}/{x}/{y}.png"), 4, 2);
  EXPECT_EQ(three.hosts, 3u);
  EXPECT_DOUBLE_EQ(three.estimated_seconds, 1024 / 6.0);
  // A rate faster than -j allows does not speed it up.
  EXPECT_DOUBLE_EQ(plan_download(set, png(), 4, 1000).estimated_seconds, j4.estimated_seconds);
}

TEST(DownloadPlan, CountsHostsOnlyWhereSubdomainsNameThem) {
  EXPECT_EQ(host_count(png()), 1u);
  EXPECT_EQ(host_count(png("http://{s}.t.example/{z}/{x}/{y}.png")), 3u);
  EXPECT_EQ(host_count(png("http://t.example/{s}/{z}/{x}/{y}.png")), 1u);
  // A TileJSON's alternate templates: each host counts, with {s} in them too.
  EXPECT_EQ(host_count(url_template::parse_alternates(
                {"http://a.example/{z}/{x}/{y}.png", "http://b.example/{z}/{x}/{y}.png"})),
            2u);
  EXPECT_EQ(host_count(url_template::parse_alternates(
                {"http://{s}.a.example/{z}/{x}/{y}.png", "http://{s}.b.example/{z}/{x}/{y}.png"},
                {"x", "y", "z"})),
            6u);
}

TEST(DownloadPlan, AllowsExactlyMaxTilesAndRefusesOneMore) {
  const download_limits limits{1'000'000, false};
  EXPECT_TRUE(refusals(plan_of(1'000'000), limits).empty());
  EXPECT_EQ(refusals(plan_of(1'000'001), limits),
            std::vector<std::string>{
                "1,000,001 tiles is above --max-tiles 1,000,000; check --bbox and --zoom "
                "(--dry-run shows the count per zoom), or pass --max-tiles 0 to allow any number"});
  EXPECT_TRUE(refusals(plan_of(137), {137, false}).empty());
  EXPECT_EQ(refusals(plan_of(138), {137, false}).size(), 1u);
}

TEST(DownloadPlan, ParsesMaxTiles) {
  EXPECT_EQ(parse_max_tiles("0"), 0u);
  EXPECT_EQ(parse_max_tiles("5000000"), 5'000'000u);
  EXPECT_EQ(parse_max_tiles("5,000,000"), 5'000'000u);
  for (const char* bad : {"", "-1", "abc", "1e6", "18446744073709551616", " 5"}) {
    EXPECT_THROW(parse_max_tiles(bad), cohort::app::usage_error) << bad;
  }
}

// `cohort tiles --bbox ... ARGS --dry-run`'s options.
std::optional<tiles_options> parse(std::initializer_list<const char*> args) {
  std::vector<std::string> words{
      "tiles",    "--bbox", "1,1,2,2", "--zoom", "3", "--url", "http://h/{z}/{x}/{y}.png",
      "--dry-run"};
  words.insert(words.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& w : words) argv.push_back(w.data());
  return parse_tiles_cli(static_cast<int>(argv.size()), argv.data()).options;
}

TEST(DownloadPlan, CommandLineSetsTheLimits) {
  const auto defaults = parse({});
  ASSERT_TRUE(defaults);
  EXPECT_EQ(defaults->max_tiles, default_max_tiles);
  EXPECT_FALSE(defaults->allow_deep_zoom);
  const auto given = parse({"--max-tiles", "0", "--allow-deep-zoom"});
  ASSERT_TRUE(given);
  EXPECT_EQ(given->max_tiles, 0u);
  EXPECT_TRUE(given->allow_deep_zoom);
  EXPECT_EQ(parse({"--max-tiles", "2,500"})->max_tiles, 2500u);
  EXPECT_FALSE(parse({"--max-tiles", "-1"}));  // a usage error, exit 2
}

TEST(DownloadPlan, DefaultsToAMillionTiles) {
  EXPECT_EQ(download_limits{}.max_tiles, 1'000'000u);
  EXPECT_FALSE(download_limits{}.allow_deep_zoom);
}

TEST(DownloadPlan, MaxTiles0AllowsAnyNumber) {
  const auto p = plan_download(tile_set({world}, parse_zooms("0-20")), png(), 4, 0);
  EXPECT_EQ(refusals(p, {}).size(), 1u);
  EXPECT_TRUE(refusals(p, {0, false}).empty());
}

TEST(DownloadPlan, RefusesAZoomAbove22UnlessAllowed) {
  EXPECT_TRUE(refusals(plan_of(10, 22), {}).empty());
  const auto z23 = refusals(plan_of(10, 23), {});
  ASSERT_EQ(z23.size(), 1u);
  EXPECT_EQ(z23[0],
            "zoom 23 is above 22: its tiles are 4.8 m wide at the equator, deeper than tile "
            "servers serve (most stop between 18 and 22); check --zoom, or pass "
            "--allow-deep-zoom if you mean it");
  EXPECT_TRUE(refusals(plan_of(10, 23), {default_max_tiles, true}).empty());
  EXPECT_NE(refusals(plan_of(10, 30), {})[0].find("3.7 cm wide"), std::string::npos);
}

TEST(DownloadPlan, ACityAtZoom25HasBothReasons) {
  const auto p = plan_download(tile_set({berlin}, {25}), png(), 4, 0);
  const auto r = refusals(p, {});
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].rfind("zoom 25 is above 22", 0), 0u);
  EXPECT_EQ(r[1].rfind(format_count(p.tiles) + " tiles is above --max-tiles 1,000,000", 0), 0u);
  // --allow-deep-zoom alone is not enough; with --max-tiles 0 too it starts.
  EXPECT_EQ(refusals(p, {default_max_tiles, true}).size(), 1u);
  EXPECT_TRUE(refusals(p, {0, true}).empty());
}

TEST(DownloadPlan, DryRunTextSaysCountsEstimateAndAssumptions) {
  const auto p = plan_download(tile_set({world}, {0, 1, 5}), png(), 4, 0);
  EXPECT_EQ(dry_run_text(p, {}),
            "zoom  0: 1 tile\n"
            "zoom  1: 4 tiles\n"
            "zoom  5: 1,024 tiles\n"
            "total: 1,029 tiles\n"
            "requests: 1,029 (one per tile; retries add more, tiles already stored fewer)\n"
            "bytes: ~20.6 MB (assuming ~20.0 kB per png tile; not measured)\n"
            "time: ~26 s at -j 4 (assuming ~0.1 s per request)\n");
  const auto rated = plan_download(tile_set({world}, {5}),
                                   png("http://{s}.tiles.example/{z}/{x}/{y}.png"), 8, 0.5);
  const std::string text = dry_run_text(rated, {"why"});
  EXPECT_NE(text.find("time: ~11 min at -j 8 and --rate 0.5 per host over 3 hosts"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("\na run would refuse to start: why\n"), std::string::npos) << text;
}

TEST(DownloadPlan, DryRunTextSaysOneTile) {
  EXPECT_NE(dry_run_text(plan_of(1, 3), {}).find("zoom  3: 1 tile\ntotal: 1 tile\n"),
            std::string::npos);
}

TEST(DownloadPlan, DryRunJsonKeepsTotalAndZoomsFirst) {
  const auto p = plan_download(tile_set({world}, {0, 1}), png(), 4, 0);
  EXPECT_EQ(dry_run_json(p, {"a \"b\""}),
            "{\"total\": 5, \"zooms\": {\"0\": 1, \"1\": 4}, \"requests\": 5, \"format\": \"png\", "
            "\"assumed_bytes_per_tile\": 20000, \"estimated_bytes\": 100000, \"concurrency\": 4, "
            "\"rate\": 0, \"hosts\": 1, \"assumed_seconds_per_request\": 0.1, "
            "\"estimated_seconds\": 0.125, \"refusals\": [\"a \\\"b\\\"\"]}\n");
}

TEST(DownloadPlan, SaysBytesAndDurationsForPeople) {
  EXPECT_EQ(approx_bytes(850), "850 B");
  EXPECT_EQ(approx_bytes(20'000), "20.0 kB");
  EXPECT_EQ(approx_bytes(999'999), "1.0 MB");
  EXPECT_EQ(approx_bytes(1.5e9), "1.5 GB");
  EXPECT_EQ(approx_bytes(2.93e16), "29.3 PB");
  EXPECT_EQ(approx_bytes(4e21), "4000.0 EB");
  EXPECT_EQ(approx_duration(0.2), "under a second");

  EXPECT_EQ(approx_duration(12.4), "~12 s");
  EXPECT_EQ(approx_duration(240), "~4 min");
  EXPECT_EQ(approx_duration(9000), "~2.5 h");
  EXPECT_EQ(approx_duration(3.1 * 86'400), "~3.1 days");
  EXPECT_EQ(approx_duration(2 * 365.25 * 86'400), "~2.0 years");
  EXPECT_EQ(approx_duration(1162 * 365.25 * 86'400), "~1,162 years");
  EXPECT_EQ(approx_duration(1e30), "over 1,000,000,000,000,000 years");
}

}  // namespace
