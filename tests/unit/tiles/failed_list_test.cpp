#include "cohort/tiles/failed_list.hpp"

#include <gtest/gtest.h>

#include <unistd.h>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace {

using namespace cohort::app::tiles;

TEST(tsv_escaped, escapes_backslash_tab_newline_and_return_only) {
  EXPECT_EQ(tsv_escaped("plain text: ok"), "plain text: ok");
  EXPECT_EQ(tsv_escaped("a\tb"), "a\\tb");
  EXPECT_EQ(tsv_escaped("line 1\nline 2\r\n"), "line 1\\nline 2\\r\\n");
  EXPECT_EQ(tsv_escaped("C:\\tiles\\n"), "C:\\\\tiles\\\\n");  // not read back as a newline
  EXPECT_EQ(tsv_escaped("Zürich"), "Zürich");
  EXPECT_EQ(tsv_escaped(""), "");
}

TEST(failed_list_line, escapes_the_url_and_the_error) {
  const failed_tile f{{3, 1, 2}, "body:\n<html>\t</html> (after 1 attempt)"};
  EXPECT_EQ(failed_list_line(f, "https://a.host/3/1/2.png?k=a\tb"),
            "3\t1\t2\thttps://a.host/3/1/2.png?k=a\\tb\tbody:\\n<html>\\t</html> (after 1 "
            "attempt)\n");
}

TEST(failed_list_text, is_a_header_then_one_line_per_tile_with_the_url_it_is_fetched_from) {
  const auto url = url_template::parse("https://{s}.host/{z}/{x}/{y}.png", {"a", "b", "c"});
  const std::vector<failed_tile> failed{
      {{3, 1, 2}, "HTTP status 403 (not retried)"},
      {{14, 8800, 5373}, "HTTP status 503 (after 6 attempts)"},
  };
  EXPECT_EQ(failed_list_text(failed, url),
            "z\tx\ty\turl\terror\n"
            "3\t1\t2\t" +
                url.expand({3, 1, 2}) + "\tHTTP status 403 (not retried)\n" + "14\t8800\t5373\t" +
                url.expand({14, 8800, 5373}) + "\tHTTP status 503 (after 6 attempts)\n");
  EXPECT_EQ(url.expand({14, 8800, 5373}), "https://b.host/14/8800/5373.png");
  EXPECT_EQ(failed_list_text({}, url), "z\tx\ty\turl\terror\n");
}

TEST(failed_tiles_json, lists_at_most_the_limit_with_quoted_fields) {
  const auto url = url_template::parse("http://h/{z}/{x}/{y}.png");
  const std::vector<failed_tile> failed{{{1, 0, 1}, "say \"no\""}, {{1, 1, 1}, "x"}};
  EXPECT_EQ(failed_tiles_json(failed, url, 1),
            "[{\"z\": 1, \"x\": 0, \"y\": 1, \"url\": \"http://h/1/0/1.png\", \"error\": \"say "
            "\\\"no\\\"\"}]");
  EXPECT_EQ(failed_tiles_json(failed, url, 0), "[]");
  EXPECT_EQ(failed_tiles_json({}, url, 10), "[]");
}

TEST(write_failed_list, replaces_the_file_whole) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("cohort-failed-list-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto path = (dir / "failed.tsv").string();
  write_failed_list(path, "old\nlonger content\n");
  write_failed_list(path, "z\tx\ty\turl\terror\n");
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_EQ(text.str(), "z\tx\ty\turl\terror\n");
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir), {}), 1);  // no temporaries
  std::filesystem::remove_all(dir);
  EXPECT_THROW(write_failed_list((dir / "no" / "such" / "dir.tsv").string(), "x"),
               std::system_error);
}

}  // namespace
