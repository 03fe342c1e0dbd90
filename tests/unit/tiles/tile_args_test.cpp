#include "cohort/tiles/tile_args.hpp"

#include <functional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace {

using cohort::app::usage_error;
using cohort::app::tiles::bbox;
using cohort::app::tiles::parse_bbox;
using cohort::app::tiles::parse_subdomains;
using cohort::app::tiles::parse_zooms;

testing::AssertionResult contains(const std::string& text, const std::string& part) {
  if (text.find(part) != std::string::npos) return testing::AssertionSuccess();
  return testing::AssertionFailure() << "\"" << text << "\" does not contain \"" << part << "\"";
}

// The message of the usage_error that `parse` throws, or "no error".
std::string error_of(const std::function<void()>& parse) {
  try {
    parse();
  } catch (const usage_error& e) {
    const std::string message = e.what();
    EXPECT_EQ(message.find('\n'), std::string::npos) << "not one line: " << message;
    return message;
  }
  return "no error";
}

std::string bbox_error(const std::string& text) {
  return error_of([&] { parse_bbox(text); });
}
std::string zoom_error(const std::string& text) {
  return error_of([&] { parse_zooms(text); });
}
std::string subdomain_error(const std::string& text) {
  return error_of([&] { parse_subdomains(text); });
}

TEST(TileArgs, UsageErrorIsARuntimeError) {
  const usage_error e("bad");
  const std::runtime_error& base = e;
  EXPECT_STREQ(base.what(), "bad");
}

TEST(TileArgs, ParsesABox) {
  EXPECT_EQ(parse_bbox("13.08,52.33,13.76,52.68"), (bbox{13.08, 52.33, 13.76, 52.68}));
  EXPECT_EQ(parse_bbox(" -180 , -90,180, 90 "), (bbox{-180, -90, 180, 90}));
  EXPECT_EQ(parse_bbox("1e1,0,2e1,1"), (bbox{10, 0, 20, 1}));
}

TEST(TileArgs, ParsesABoxCrossingTheAntimeridian) {
  const bbox b = parse_bbox("177,-19,-178,-16");
  EXPECT_TRUE(b.crosses_antimeridian());
  EXPECT_EQ(b, (bbox{177, -19, -178, -16}));
}

TEST(TileArgs, BoxWithTheWrongNumberOfItems) {
  EXPECT_TRUE(contains(bbox_error("1,2,3"),
                       "--bbox '1,2,3': expected 4 comma-separated numbers W,S,E,N in degrees, "
                       "got 3; e.g. --bbox 13.08,52.33,13.76,52.68"));
  EXPECT_TRUE(contains(bbox_error("1,2,3,4,5"), "got 5"));
  EXPECT_TRUE(contains(bbox_error("1 2 3 4"), "got 1"));
}

TEST(TileArgs, EmptyBox) {
  EXPECT_EQ(bbox_error(""),
            "--bbox is empty; give W,S,E,N in degrees, e.g. --bbox 13.08,52.33,13.76,52.68");
  EXPECT_TRUE(contains(bbox_error("  "), "--bbox is empty"));
}

TEST(TileArgs, BoxItemThatIsNotANumber) {
  EXPECT_EQ(bbox_error("1,x,3,4"),
            "--bbox '1,x,3,4': south 'x' is not a number; use decimal degrees, e.g. --bbox "
            "13.08,52.33,13.76,52.68");
  EXPECT_TRUE(contains(bbox_error("1,2,,4"), "east '' is not a number"));
  EXPECT_TRUE(contains(bbox_error("1,2,3,4deg"), "north '4deg' is not a number"));
  EXPECT_TRUE(contains(bbox_error("nan,2,3,4"), "west 'nan' is not a number"));
  EXPECT_TRUE(contains(bbox_error("1,2,inf,4"), "east 'inf' is not a number"));
  EXPECT_TRUE(contains(bbox_error("1,2,3,1e999"), "north '1e999' is not a number"));
}

TEST(TileArgs, BoxCoordinatesOutOfRange) {
  EXPECT_EQ(bbox_error("-181,0,10,10"),
            "--bbox '-181,0,10,10': west longitude -181 is outside [-180, 180]");
  EXPECT_EQ(bbox_error("0,0,180.5,10"),
            "--bbox '0,0,180.5,10': east longitude 180.5 is outside [-180, 180]");
  EXPECT_EQ(bbox_error("0,-91,10,10"),
            "--bbox '0,-91,10,10': south latitude -91 is outside [-90, 90]");
  EXPECT_EQ(bbox_error("0,0,10,95"), "--bbox '0,0,10,95': north latitude 95 is outside [-90, 90]");
}

TEST(TileArgs, BoxWithLatitudeAndLongitudeSwappedGetsAHint) {
  // Tokyo written lat,lon,lat,lon.
  EXPECT_TRUE(contains(bbox_error("35.5,139.5,35.9,139.9"),
                       "south latitude 139.5 is outside [-90, 90]; did you swap longitude and "
                       "latitude? the order is W,S,E,N (lon,lat,lon,lat)"));
  // Only one latitude out of range: no guess about the order.
  EXPECT_EQ(bbox_error("-10,-100,10,-80"),
            "--bbox '-10,-100,10,-80': south latitude -100 is outside [-90, 90]");
}

TEST(TileArgs, BoxWithSouthNotBelowNorth) {
  EXPECT_EQ(bbox_error("0,10,1,5"),
            "--bbox '0,10,1,5': south 10 is not below north 5; the order is W,S,E,N (west, south, "
            "east, north)");
  EXPECT_TRUE(contains(bbox_error("0,5,1,5"), "south 5 is not below north 5"));
}

TEST(TileArgs, BoxWithoutWidth) {
  EXPECT_EQ(bbox_error("13.4,0,13.4,1"),
            "--bbox '13.4,0,13.4,1': west and east are both 13.4, so the box has no width; give "
            "W < E (or W > E for a box that crosses the antimeridian)");
  EXPECT_EQ(bbox_error("180,0,-180,1"),
            "--bbox '180,0,-180,1': west 180 and east -180 are the same meridian, so the box has "
            "no width; use -180,S,180,N for the whole world");
}

TEST(TileArgs, BoxOutsideWebMercator) {
  EXPECT_EQ(bbox_error("0,86,1,89"),
            "--bbox '0,86,1,89': the box lies entirely north of latitude 85.0511, outside the Web "
            "Mercator tile grid, so no tile covers it");
  EXPECT_TRUE(
      contains(bbox_error("0,-90,1,-86"), "the box lies entirely south of latitude -85.0511"));
  // Partly inside is fine: the part beyond the limit is clamped away.
  EXPECT_NO_THROW(parse_bbox("0,80,1,90"));
}

TEST(TileArgs, ErrorMessagesStayOnOneLineAndShort) {
  const std::string message = bbox_error(std::string("1,\n2,3") + std::string(200, 'x'));
  EXPECT_TRUE(contains(message, "'1,?2,3xxx"));
  EXPECT_TRUE(contains(message, "...': expected 4"));
  EXPECT_LT(message.size(), 250u);
}

TEST(TileArgs, ParsesZoomLevelsRangesAndLists) {
  EXPECT_EQ(parse_zooms("12"), (std::vector<int>{12}));
  EXPECT_EQ(parse_zooms("0"), (std::vector<int>{0}));
  EXPECT_EQ(parse_zooms("30"), (std::vector<int>{30}));
  EXPECT_EQ(parse_zooms("10-14"), (std::vector<int>{10, 11, 12, 13, 14}));
  EXPECT_EQ(parse_zooms("5-5"), (std::vector<int>{5}));
  EXPECT_EQ(parse_zooms("8,10,12"), (std::vector<int>{8, 10, 12}));
  EXPECT_EQ(parse_zooms("12, 10-11 ,12,3"), (std::vector<int>{3, 10, 11, 12}));
  EXPECT_EQ(parse_zooms("4,2,4,2"), (std::vector<int>{2, 4}));
}

TEST(TileArgs, ZoomErrors) {
  EXPECT_EQ(zoom_error(""),
            "--zoom is empty; use whole numbers 0..30, a range like 10-14 or a list like 8,10-12");
  EXPECT_EQ(zoom_error("31"), "--zoom '31': zoom 31 is above the maximum of 30");
  EXPECT_TRUE(
      contains(zoom_error("10-99999999999999"), "zoom 99999999999999 is above the maximum of 30"));
  EXPECT_EQ(zoom_error("abc"),
            "--zoom 'abc': 'abc' is not a zoom level; use whole numbers 0..30, a range like 10-14 "
            "or a list like 8,10-12");
  EXPECT_TRUE(contains(zoom_error("1.5"), "'1.5' is not a zoom level"));
  EXPECT_TRUE(contains(zoom_error("+3"), "'+3' is not a zoom level"));
  EXPECT_EQ(zoom_error("14-10"), "--zoom '14-10': range 14-10 is reversed; write it as 10-14");
  EXPECT_EQ(zoom_error("8,,10"),
            "--zoom '8,,10': item 2 is empty; use whole numbers 0..30, a range like 10-14 or a "
            "list like 8,10-12");
  EXPECT_TRUE(contains(zoom_error("8,"), "item 2 is empty"));
  EXPECT_TRUE(contains(zoom_error("-3"), "'-3' is not a zoom level or range"));
  EXPECT_TRUE(contains(zoom_error("3-"), "'3-' is not a zoom level or range"));
  EXPECT_TRUE(contains(zoom_error("1-2-3"), "'1-2-3' is not a zoom level or range"));
}

TEST(TileArgs, ParsesSubdomains) {
  EXPECT_EQ(parse_subdomains("a,b,c"), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(parse_subdomains("mt0, mt1"), (std::vector<std::string>{"mt0", "mt1"}));
  EXPECT_EQ(parse_subdomains("tile-1.eu"), (std::vector<std::string>{"tile-1.eu"}));
}

TEST(TileArgs, SubdomainErrors) {
  EXPECT_EQ(subdomain_error(""), "--subdomains is empty; give a comma-separated list like a,b,c");
  EXPECT_EQ(subdomain_error("a,,c"),
            "--subdomains 'a,,c': item 2 is empty; give a comma-separated list like a,b,c");
  EXPECT_TRUE(contains(subdomain_error("a,b,"), "item 3 is empty"));
  EXPECT_EQ(subdomain_error("a,b/c"),
            "--subdomains 'a,b/c': 'b/c' contains '/'; subdomains may contain only letters, "
            "digits, '-', '.', '_' and '~'");
  EXPECT_TRUE(contains(subdomain_error("a b"), "'a b' contains ' '"));
  EXPECT_TRUE(contains(subdomain_error("a\x01"), "contains '\\x01'"));
}

}  // namespace
