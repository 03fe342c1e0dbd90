#include "cohort/tiles/tiles_report.hpp"

#include <gtest/gtest.h>

#include <csignal>

namespace {

using cohort::app::tiles::json_quoted;
using cohort::app::tiles::summary_json;
using cohort::app::tiles::summary_line;
using cohort::app::tiles::tiles_exit_code;
using cohort::app::tiles::tiles_outcome;
using cohort::app::tiles::tiles_report;

tiles_report sample() {
  tiles_report r;
  r.total = 1000;
  r.stored = 985;
  r.skipped = 10;
  r.missing = 2;
  r.failed = 3;
  r.bytes = 2'000'000;
  r.handled = 990;
  r.elapsed_s = 2.0;
  r.output = "city.mbtiles";
  return r;
}

TEST(summary_line, lists_non_zero_counts_rates_and_output) {
  EXPECT_EQ(summary_line(sample()),
            "1,000 tiles: 985 stored, 10 skipped, 2 missing, 3 failed in 2.0 s (495.0 tiles/s, "
            "1.0 MB/s) into city.mbtiles");
  tiles_report empty;
  EXPECT_EQ(summary_line(empty), "0 tiles: 0 stored in 0.0 s (0.0 tiles/s, 0.0 MB/s)");
}

TEST(summary_line, counts_a_tile_known_missing_once_so_the_counts_add_up) {
  // A re-run over an output that has 6 tiles and knows 2 missing: all 8 are
  // skipped, 2 of them as missing. Today's line said "8 tiles: 0 stored,
  // 8 skipped, 2 missing".
  tiles_report r;
  r.total = 8;
  r.skipped = 8;
  r.skipped_missing = 2;
  r.missing = 2;
  EXPECT_EQ(summary_line(r),
            "8 tiles: 0 stored, 6 skipped, 2 missing in 0.0 s (0.0 tiles/s, 0.0 MB/s)");
  // --json keeps its meaning: skipped is everything already there.
  EXPECT_NE(summary_json(r).find("\"skipped\": 8,"), std::string::npos) << summary_json(r);
  EXPECT_NE(summary_json(r).find("\"missing\": 2,"), std::string::npos) << summary_json(r);
}

TEST(summary_json, has_every_key_in_one_line) {
  tiles_report r = sample();
  r.outcome = "failed";
  EXPECT_EQ(summary_json(r),
            "{\"total\": 1000, \"stored\": 985, \"skipped\": 10, \"unchanged\": 0, \"failed\": 3, "
            "\"missing\": 2, \"not_started\": 0, \"bytes\": 2000000, \"elapsed_s\": 2.000, "
            "\"tiles_per_s\": 495.0, \"outcome\": \"failed\", \"output\": \"city.mbtiles\", "
            "\"failed_tiles\": [], \"failed_tiles_total\": 0, \"failed_list\": null}\n");
}

TEST(summary_json, carries_the_failed_tiles_and_the_list_s_path) {
  tiles_report r = sample();
  r.failed_tiles = R"([{"z": 1, "x": 0, "y": 1, "url": "u", "error": "e"}])";
  r.failed_tiles_total = 3;
  r.failed_list = "failed \"list\".tsv";
  const std::string json = summary_json(r);
  EXPECT_NE(json.find(R"("failed_tiles": [{"z": 1, "x": 0, "y": 1, "url": "u", "error": "e"}], )"
                      R"("failed_tiles_total": 3, "failed_list": "failed \"list\".tsv"})"),
            std::string::npos)
      << json;
}

TEST(json_quoted, escapes_quotes_backslashes_and_controls) {
  EXPECT_EQ(json_quoted("a\"b\\c\nd\x01"), "\"a\\\"b\\\\c\\nd\\u0001\"");
  EXPECT_EQ(json_quoted("Zürich"), "\"Zürich\"");
}

TEST(tiles_exit_code, follows_the_issue) {
  tiles_report ok;
  EXPECT_EQ(tiles_exit_code(ok, 0, false), 0);
  ok.missing = 4;
  EXPECT_EQ(tiles_exit_code(ok, 0, false), 0);  // 404s are allowed...
  EXPECT_EQ(tiles_exit_code(ok, 0, true), 1);   // ...unless --strict
  EXPECT_EQ(tiles_outcome(ok, 0, true), "failed");
  tiles_report failed;
  failed.failed = 1;
  EXPECT_EQ(tiles_exit_code(failed, 0, false), 1);
  EXPECT_EQ(tiles_exit_code(failed, SIGINT, false), 130);
  EXPECT_EQ(tiles_exit_code(ok, SIGTERM, true), 143);
  EXPECT_EQ(tiles_outcome(failed, SIGINT, false), "interrupted");
  EXPECT_EQ(tiles_outcome(tiles_report{}, 0, false), "complete");
}

}  // namespace
