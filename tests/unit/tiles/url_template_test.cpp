#include "cohort/tiles/url_template.hpp"

#include <functional>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cohort/tiles/tile_args.hpp"

namespace {

using cohort::app::usage_error;
using cohort::app::tiles::tile;
using cohort::app::tiles::tile_extension_for_content_type;
using cohort::app::tiles::tile_extension_from_url;
using cohort::app::tiles::url_template;

const std::vector<std::string> abc = {"a", "b", "c"};

testing::AssertionResult contains(const std::string& text, const std::string& part) {
  if (text.find(part) != std::string::npos) return testing::AssertionSuccess();
  return testing::AssertionFailure() << "\"" << text << "\" does not contain \"" << part << "\"";
}

// The message of the usage_error that parsing `text` throws, or "no error".
std::string error_of(const std::string& text, std::vector<std::string> subdomains = abc) {
  try {
    url_template::parse(text, std::move(subdomains));
  } catch (const usage_error& e) {
    const std::string message = e.what();
    EXPECT_EQ(message.find('\n'), std::string::npos) << "not one line: " << message;
    return message;
  }
  return "no error";
}

TEST(UrlTemplate, ExpandsZoomColumnAndRow) {
  const auto url = url_template::parse("https://tile.example.org/{z}/{x}/{y}.png");
  EXPECT_EQ(url.expand({14, 8800, 5373}), "https://tile.example.org/14/8800/5373.png");
  EXPECT_EQ(url.expand({0, 0, 0}), "https://tile.example.org/0/0/0.png");
  EXPECT_EQ(url.expand({30, (1u << 30) - 1, 1u << 29}),
            "https://tile.example.org/30/1073741823/536870912.png");
  EXPECT_EQ(url.text(), "https://tile.example.org/{z}/{x}/{y}.png");
  EXPECT_FALSE(url.uses_subdomains());
}

TEST(UrlTemplate, PlaceholdersMayRepeatAndSitAnywhere) {
  const auto url = url_template::parse("http://h/{z}{x}{y}/{z}-{x}?x={x}&y={y}#{z}");
  EXPECT_EQ(url.expand({3, 1, 2}), "http://h/312/3-1?x=1&y=2#3");
}

TEST(UrlTemplate, ExpandsTheTmsRow) {
  const auto url = url_template::parse("https://t.example/{z}/{x}/{-y}.png");
  EXPECT_EQ(url.expand({3, 1, 0}), "https://t.example/3/1/7.png");
  EXPECT_EQ(url.expand({3, 1, 7}), "https://t.example/3/1/0.png");
  EXPECT_EQ(url.expand({14, 8800, 5373}), "https://t.example/14/8800/11010.png");
}

TEST(UrlTemplate, ExpandsTheQuadkeyWhichAloneGivesZoomXAndY) {
  const auto url = url_template::parse("http://ecn.t0.tiles.virtualearth.net/tiles/a{q}.jpeg?g=1");
  EXPECT_EQ(url.expand({3, 3, 5}), "http://ecn.t0.tiles.virtualearth.net/tiles/a213.jpeg?g=1");
  EXPECT_EQ(url.expand({0, 0, 0}), "http://ecn.t0.tiles.virtualearth.net/tiles/a.jpeg?g=1");
}

TEST(UrlTemplate, PicksTheSubdomainDeterministicallyPerTile) {
  const auto url = url_template::parse("https://{s}.tile.example.org/{z}/{x}/{y}.png", abc);
  EXPECT_TRUE(url.uses_subdomains());
  EXPECT_EQ(url.expand({14, 8800, 5373}), "https://b.tile.example.org/14/8800/5373.png");
  EXPECT_EQ(url.expand({1, 0, 0}), "https://a.tile.example.org/1/0/0.png");
  EXPECT_EQ(url.expand({1, 1, 0}), "https://b.tile.example.org/1/1/0.png");
  EXPECT_EQ(url.expand({2, 1, 1}), "https://c.tile.example.org/2/1/1.png");
  // The same tile always gets the same host; every host gets used.
  std::map<std::string, int> per_host;
  for (std::uint32_t x = 0; x < 16; ++x) {
    for (std::uint32_t y = 0; y < 16; ++y) {
      const std::string first = url.expand({4, x, y});
      EXPECT_EQ(url.expand({4, x, y}), first);
      ++per_host[first.substr(8, 1)];
    }
  }
  EXPECT_EQ(per_host.size(), 3u);
  // No overflow of x + y at zoom 30.
  const std::uint32_t last = (1u << 30) - 1;
  EXPECT_EQ(url.expand({30, last, last}).substr(0, 10),
            std::string("https://") + abc[(std::uint64_t{last} * 2) % 3] + ".");
}

TEST(UrlTemplate, RetinaSuffixOnlyWithRetina) {
  const char* text = "https://t.example/{z}/{x}/{y}{r}.png";
  EXPECT_EQ(url_template::parse(text).expand({3, 1, 2}), "https://t.example/3/1/2.png");
  const auto retina = url_template::parse(text, {}, "@2x");
  EXPECT_EQ(retina.expand({3, 1, 2}), "https://t.example/3/1/2@2x.png");
  EXPECT_EQ(retina.extension(), ".png");
  // The output records whether the tiles are retina ones.
  EXPECT_EQ(url_template::parse(text).source_text(), std::string(text) + " {r}=");
  EXPECT_EQ(retina.source_text(), std::string(text) + " {r}=@2x");
  EXPECT_EQ(url_template::parse("https://t.example/{z}/{x}/{y}.png").source_text(),
            "https://t.example/{z}/{x}/{y}.png");
}

TEST(UrlTemplate, AlternatesRotateLikeSubdomains) {
  const auto url = url_template::parse_alternates(
      {"https://a.example/{z}/{x}/{y}.pbf", "https://b.example/{z}/{x}/{y}.pbf"});
  EXPECT_EQ(url.alternate_count(), 2u);
  EXPECT_EQ(url.expand({5, 2, 2}), "https://a.example/5/2/2.pbf");
  EXPECT_EQ(url.expand({5, 2, 3}), "https://b.example/5/2/3.pbf");
  EXPECT_EQ(url.extension(), ".pbf");
  EXPECT_EQ(url.source_text(),
            "https://a.example/{z}/{x}/{y}.pbf https://b.example/{z}/{x}/{y}.pbf");
  // A single one is a plain template; each is checked.
  EXPECT_EQ(url_template::parse_alternates({"https://a.example/{z}/{x}/{y}"}).alternate_count(),
            1u);
  EXPECT_THROW(url_template::parse_alternates({"https://a.example/{z}/{x}/{y}", "ftp://b/{z}"}),
               usage_error);
  EXPECT_THROW(url_template::parse_alternates({}), usage_error);
}

TEST(UrlTemplate, ExpandIntoReusesTheBuffer) {
  const auto url = url_template::parse("https://{s}.t.example/{z}/{x}/{y}.png", {"mt0", "mt1"});
  std::string buffer = "left over from before";
  url.expand_into(buffer, {2, 1, 3});
  EXPECT_EQ(buffer, "https://mt0.t.example/2/1/3.png");
  url.expand_into(buffer, {2, 1, 2});
  EXPECT_EQ(buffer, "https://mt1.t.example/2/1/2.png");
}

TEST(UrlTemplate, SchemeIsCaseInsensitive) {
  EXPECT_EQ(url_template::parse("HTTPS://t.example/{z}/{x}/{y}").expand({1, 0, 1}),
            "HTTPS://t.example/1/0/1");
}

TEST(UrlTemplate, EmptyTemplate) {
  EXPECT_EQ(error_of(""),
            "--url is empty; give a tile URL template, e.g. "
            "https://tile.example.org/{z}/{x}/{y}.png");
}

TEST(UrlTemplate, OnlyHttpAndHttps) {
  EXPECT_EQ(error_of("file:///tiles/{z}/{x}/{y}.png"),
            "--url 'file:///tiles/{z}/{x}/{y}.png': must start with http:// or https://; e.g. "
            "https://tile.example.org/{z}/{x}/{y}.png");
  EXPECT_TRUE(contains(error_of("ftp://h/{z}/{x}/{y}"), "must start with http:// or https://"));
  EXPECT_TRUE(contains(error_of("tile.example.org/{z}/{x}/{y}"), "must start with http://"));
  EXPECT_TRUE(contains(error_of("https:/h/{z}/{x}/{y}"), "must start with http://"));
}

TEST(UrlTemplate, NoHost) {
  EXPECT_EQ(error_of("https:///{z}/{x}/{y}.png"),
            "--url 'https:///{z}/{x}/{y}.png': has no host after 'https://'; e.g. "
            "https://tile.example.org/{z}/{x}/{y}.png");
  EXPECT_TRUE(contains(error_of("http://"), "has no host after 'http://'"));
}

TEST(UrlTemplate, SpacesAndControlCharacters) {
  EXPECT_EQ(error_of("https://t.example/{z}/{x}/{y} .png"),
            "--url 'https://t.example/{z}/{x}/{y} .png': contains a space or control character "
            "at position 30; percent-encode it (a space is %20)");
  EXPECT_TRUE(contains(error_of("https://t.example/{z}/{x}/{y}\t"), "at position 30"));
}

TEST(UrlTemplate, UnknownPlaceholderIsNamedAndTheKnownOnesListed) {
  EXPECT_EQ(error_of("https://t.example/{z}/{x}/{y}{t}.png"),
            "--url 'https://t.example/{z}/{x}/{y}{t}.png': unknown placeholder {t}; known "
            "placeholders: {z} {x} {y} {-y} {s} {q} {r}");
  EXPECT_TRUE(contains(error_of("https://t.example/{}/{x}/{y}"), "unknown placeholder {}"));
  EXPECT_TRUE(contains(error_of("https://t.example/{Z}/{x}/{y}"), "unknown placeholder {Z}"));
}

TEST(UrlTemplate, UnknownPlaceholdersFromOtherToolsGetAHint) {
  EXPECT_TRUE(
      contains(error_of("https://{a-c}.t.example/{z}/{x}/{y}"),
               "unknown placeholder {a-c}; known placeholders: {z} {x} {y} {-y} {s} {q} {r}; "
               "to rotate hosts write {s} and list them with --subdomains a,b,c"));
  EXPECT_TRUE(contains(error_of("https://{switch:a,b}.t.example/{z}/{x}/{y}"),
                       "write {s} and list them with --subdomains"));
  EXPECT_TRUE(
      contains(error_of("https://t.example/{zoom}/{x}/{y}"),
               "unknown placeholder {zoom}; known placeholders: {z} {x} {y} {-y} {s} {q} {r}; "
               "for the zoom level write {z}"));
  EXPECT_TRUE(contains(error_of("https://t.example/{quadkey}"), "for the Bing quadkey write {q}"));
}

TEST(UrlTemplate, UnbalancedBraces) {
  EXPECT_EQ(error_of("https://t.example/{z}/{x}/{y"),
            "--url 'https://t.example/{z}/{x}/{y': '{' at position 27 is not closed by '}'; "
            "placeholders look like {z}");
  EXPECT_EQ(error_of("https://t.example/{z}/x}/{y}"),
            "--url 'https://t.example/{z}/x}/{y}': '}' at position 24 has no matching '{'; "
            "placeholders look like {z}");
}

TEST(UrlTemplate, MissingZoomXOrY) {
  EXPECT_EQ(error_of("https://t.example/{x}/{y}.png"),
            "--url 'https://t.example/{x}/{y}.png': has no {z} placeholder; a tile URL needs the "
            "zoom, x and y, e.g. https://tile.example.org/{z}/{x}/{y}.png");
  EXPECT_EQ(error_of("https://t.example/{z}/{y}.png"),
            "--url 'https://t.example/{z}/{y}.png': has no {x} (or {q}) placeholder; a tile URL "
            "needs the zoom, x and y, e.g. https://tile.example.org/{z}/{x}/{y}.png");
  EXPECT_EQ(error_of("https://t.example/{z}/{x}.png"),
            "--url 'https://t.example/{z}/{x}.png': has no {y} or {-y} (or {q}) placeholder; a "
            "tile URL needs the zoom, x and y, e.g. https://tile.example.org/{z}/{x}/{y}.png");
  EXPECT_TRUE(contains(error_of("https://t.example/tiles.png"), "has no {z} placeholder"));
  EXPECT_EQ(error_of("https://t.example/{z}/{x}/{-y}.png"), "no error");
}

TEST(UrlTemplate, SubdomainPlaceholderNeedsSubdomains) {
  EXPECT_EQ(error_of("https://{s}.t.example/{z}/{x}/{y}.png", {}),
            "--url 'https://{s}.t.example/{z}/{x}/{y}.png': uses {s} but the subdomain list is "
            "empty; give e.g. --subdomains a,b,c");
  EXPECT_EQ(error_of("https://t.example/{z}/{x}/{y}.png", {}), "no error");
}

TEST(UrlTemplate, ExtensionComesFromThePath) {
  EXPECT_EQ(url_template::parse("https://t.example/{z}/{x}/{y}.png").extension(), ".png");
  EXPECT_EQ(url_template::parse("https://t.example/{z}/{x}/{y}@2x.PNG?key=abc.jpg").extension(),
            ".png");
  EXPECT_EQ(url_template::parse("https://t.example/{z}/{x}/{y}").extension(), "");
  EXPECT_EQ(tile_extension_from_url("https://t.example/1/2/3.jpg"), ".jpg");
  EXPECT_EQ(tile_extension_from_url("https://t.example/1/2/3.jpeg"), ".jpeg");
  EXPECT_EQ(tile_extension_from_url("https://t.example/1/2/3.webp"), ".webp");
  EXPECT_EQ(tile_extension_from_url("https://t.example/1/2/3.gif"), ".gif");
  EXPECT_EQ(tile_extension_from_url("https://t.example/1/2/3.pbf"), ".pbf");
  EXPECT_EQ(tile_extension_from_url("https://t.example/1/2/3.mvt#x"), ".mvt");
  EXPECT_EQ(tile_extension_from_url("https://t.example/1/2/3.html"), "");
  EXPECT_EQ(tile_extension_from_url("https://t.example/tiles.png/1/2/3"), "");
  EXPECT_EQ(tile_extension_from_url("https://tile.png"), "");  // a host, not a path
  EXPECT_EQ(tile_extension_from_url("https://t.example/a/3?f=.png"), "");
}

TEST(UrlTemplate, ExtensionFallsBackToTheContentType) {
  EXPECT_EQ(tile_extension_for_content_type("image/png"), ".png");
  EXPECT_EQ(tile_extension_for_content_type("image/jpeg"), ".jpg");
  EXPECT_EQ(tile_extension_for_content_type("IMAGE/JPEG; charset=binary"), ".jpg");
  EXPECT_EQ(tile_extension_for_content_type("image/webp"), ".webp");
  EXPECT_EQ(tile_extension_for_content_type("image/gif"), ".gif");
  EXPECT_EQ(tile_extension_for_content_type("application/x-protobuf"), ".pbf");
  EXPECT_EQ(tile_extension_for_content_type(" application/vnd.mapbox-vector-tile "), ".pbf");
  EXPECT_EQ(tile_extension_for_content_type("text/html; charset=utf-8"), "");
  EXPECT_EQ(tile_extension_for_content_type(""), "");
}

TEST(UrlTemplate, CopiesAreIndependent) {
  std::string text = "https://t.example/{z}/{x}/{y}.png";
  url_template copy;
  {
    const auto original = url_template::parse(text);
    copy = original;
  }
  text.assign(text.size(), '#');
  EXPECT_EQ(copy.expand({1, 1, 1}), "https://t.example/1/1/1.png");
  EXPECT_EQ(copy.extension(), ".png");
}

}  // namespace
