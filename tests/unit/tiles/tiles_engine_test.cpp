#include "cohort/tiles/tiles_engine.hpp"

#include "cohort/tiles/tile_args.hpp"

#include <fmt/core.h>
#include <gtest/gtest.h>

#include <functional>
#include <set>
#include <string>
#include <vector>

// The downloader's admission side, on a fake store: which tiles become
// items, and how many. The fetching side is tested on virtual time with a
// scripted fetcher in tiles_engine_fetch_test.cpp, and end to end on the
// real binary (tests/integration/tiles_cli_test.py).

namespace {

using cohort::app::tiles::failed_tile;
using cohort::app::tiles::parse_bbox;
using cohort::app::tiles::parse_zooms;
using cohort::app::tiles::tile;
using cohort::app::tiles::tile_downloader;
using cohort::app::tiles::tile_set;
using cohort::app::tiles::tile_source;
using cohort::app::tiles::tile_store;
using cohort::app::tiles::tile_validators;
using cohort::app::tiles::tiles_options;
using cohort::app::tiles::url_template;

// A store whose stored and missing tiles are given by predicates.
class fake_store final : public tile_store {
 public:
  std::function<bool(const tile&)> stored = [](const tile&) { return false; };
  std::function<bool(const tile&)> missing = [](const tile&) { return false; };
  std::uint64_t stored_n = 0;
  std::uint64_t missing_n = 0;
  mutable std::uint64_t lookups = 0;

  const std::filesystem::path& path() const override { return path_; }
  bool has(const tile& t) const override {
    ++lookups;
    return stored(t);
  }
  std::uint64_t stored_count() const override { return stored_n; }
  void put(const tile&, std::string_view, const tile_validators&) override {}
  std::optional<tile_validators> validators(const tile&) override { return std::nullopt; }
  void record_failed(const tile& t, std::string_view why) override {
    failed_.push_back({t, std::string(why)});
  }
  void clear_failed(const tile&) override {}
  std::vector<failed_tile> failed_tiles() const override { return failed_; }
  void record_missing(const tile&) override {}
  bool is_missing(const tile& t) const override { return missing(t); }
  std::uint64_t missing_count() const override { return missing_n; }
  std::string format() const override { return "png"; }
  bool maybe_flush(std::chrono::steady_clock::time_point) override { return false; }
  void flush() override {}
  void close() override {}

 private:
  std::filesystem::path path_{"fake"};
  std::vector<failed_tile> failed_;
};

tiles_options options_for(const std::string& box, const std::string& zooms) {
  tiles_options o;
  o.boxes = {parse_bbox(box)};
  o.zooms = parse_zooms(zooms);
  o.url = url_template::parse("http://h:8/{z}/{x}/{y}.png");
  o.output = "fake";
  return o;
}

std::vector<tile> drain(tile_source& source) {
  std::vector<tile> out;
  while (auto item = source.next()) {
    EXPECT_EQ(item->url_,
              fmt::format("http://h:8/{}/{}/{}.png", item->where.z, item->where.x, item->where.y));
    EXPECT_EQ(item->gate(), "h:8");
    out.push_back(item->where);
  }
  return out;
}

TEST(tile_source, yields_every_tile_of_a_fresh_output_without_looking_anything_up_first) {
  const auto o = options_for("13.30,52.45,13.50,52.56", "10-13");
  fake_store store;
  tile_downloader d(o, tile_set(o.boxes, o.zooms), store);
  EXPECT_EQ(store.lookups, 0u);  // nothing stored: no counting pass
  tile_set set(o.boxes, o.zooms);
  EXPECT_EQ(d.progress().total, set.count());
  EXPECT_EQ(d.counts().skipped, 0u);
  tile_source source(d);
  std::vector<tile> expected;
  for (auto e = set.enumerate(); auto t = e.next();) expected.push_back(*t);
  EXPECT_EQ(drain(source), expected);
}

TEST(tile_source, skips_stored_and_missing_tiles_and_counts_them_up_front) {
  const auto o = options_for("13.30,52.45,13.50,52.56", "10-13");
  fake_store store;
  store.stored = [](const tile& t) { return t.z == 13 && t.x % 2 == 0; };
  store.missing = [](const tile& t) { return t.z == 10; };
  store.stored_n = 1;  // anything non-zero: the real count is taken over the set
  tile_set set(o.boxes, o.zooms);
  tile_downloader d(o, tile_set(o.boxes, o.zooms), store);
  std::vector<tile> expected;
  for (auto e = set.enumerate(); auto t = e.next();) {
    if (!store.stored(*t) && !store.missing(*t)) expected.push_back(*t);
  }
  ASSERT_FALSE(expected.empty());
  EXPECT_EQ(d.progress().total, expected.size());
  EXPECT_EQ(d.counts().skipped, set.count() - expected.size());
  tile_source source(d);
  EXPECT_EQ(source.size(), expected.size());
  EXPECT_EQ(drain(source), expected);
}

TEST(tile_source, refresh_yields_stored_tiles_too) {
  auto o = options_for("13.30,52.45,13.50,52.56", "12");
  o.refresh = true;
  fake_store store;
  store.stored = [](const tile&) { return true; };
  store.stored_n = 100;
  tile_downloader d(o, tile_set(o.boxes, o.zooms), store);
  tile_source source(d);
  EXPECT_EQ(drain(source).size(), tile_set(o.boxes, o.zooms).count());
  EXPECT_EQ(d.counts().skipped, 0u);
}

TEST(tile_source, a_mostly_stored_large_area_yields_only_the_rest) {
  // 1.4 million tiles (the world at zooms 0-10), all stored but the last
  // column of zoom 10: a resumed run reaches them without an item per
  // stored tile.
  const auto o = options_for("-180,-85,180,85", "0-10");
  fake_store store;
  store.stored = [](const tile& t) { return !(t.z == 10 && t.x == 1023); };
  store.stored_n = 1;
  const tile_set set(o.boxes, o.zooms);
  tile_downloader d(o, set, store);
  EXPECT_EQ(d.progress().total, set.count_at_zoom(10) / 1024);  // one column
  tile_source source(d);
  auto first = source.next();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->where, (tile{10, 1023, cohort::app::tiles::tile_y(85, 10)}));
}

}  // namespace
