#include "cohort/tiles/failure_guard.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <string>

namespace {

using cohort::app::tiles::failure_guard;

const std::optional<std::string> is_tile;  // a 200 that passed tile_problem
const std::optional<std::string> html = std::string("content type text/html is not a tile");

std::string url(int i, const std::string& host = "tiles.example:8080") {
  return "http://" + host + "/14/" + std::to_string(i) + "/7.png";
}

// Notes `count` answers of `status` from `host`; returns the number of the
// answer (1-based) that said to stop, or 0 when none did.
int answers(failure_guard& g, int count, int status,
            const std::optional<std::string>& problem = std::nullopt,
            const std::string& host = "tiles.example:8080") {
  for (int i = 1; i <= count; ++i) {
    if (g.note(url(i, host), status, problem)) return i;
  }
  return 0;
}

TEST(failure_guard, the_first_50_answers_all_503_stop_at_the_50th) {
  failure_guard g(100);
  EXPECT_EQ(answers(g, 49, 503), 0);
  const auto why = g.note(url(50), 503, std::nullopt);
  ASSERT_TRUE(why);
  EXPECT_NE(why->find("the first 50 answers from tiles.example:8080 all failed with HTTP 503"),
            std::string::npos)
      << *why;
  EXPECT_NE(why->find("(e.g. http://tiles.example:8080/14/1/7.png)"), std::string::npos) << *why;
  EXPECT_NE(why->find("--max-failures-in-a-row"), std::string::npos) << *why;
  EXPECT_NE(why->find("same command"), std::string::npos) << *why;
}

TEST(failure_guard, html_with_status_200_is_a_failure_named_by_its_problem) {
  failure_guard g(100);
  EXPECT_EQ(answers(g, 50, 200, html), 50);
  failure_guard h(100);
  const auto why = (answers(h, 49, 200, html), h.note(url(50), 200, html));
  ASSERT_TRUE(why);
  EXPECT_NE(why->find("HTTP 200, not a tile: content type text/html is not a tile"),
            std::string::npos)
      << *why;
}

TEST(failure_guard, failures_of_mixed_kinds_never_stop) {
  failure_guard g(100);
  for (int i = 0; i < 1000; ++i) {
    EXPECT_FALSE(g.note(url(i), i % 2 == 0 ? 503 : 500, std::nullopt)) << i;
    EXPECT_FALSE(g.note(url(i), 200, html)) << i;
  }
}

TEST(failure_guard, a_change_of_kind_starts_the_count_again) {
  failure_guard g(100);
  EXPECT_EQ(answers(g, 49, 503), 0);
  EXPECT_EQ(answers(g, 49, 500), 0);
  EXPECT_EQ(answers(g, 49, 200, html), 0);
  EXPECT_EQ(answers(g, 50, 503), 50);
}

TEST(failure_guard, after_a_tile_it_takes_100_in_a_row) {
  failure_guard g(100);
  EXPECT_FALSE(g.note(url(0), 200, is_tile));
  EXPECT_EQ(answers(g, 100, 503), 100);
  failure_guard h(100);
  EXPECT_EQ(answers(h, 30, 503), 0);  // fewer than 50 before the first tile
  EXPECT_FALSE(h.note(url(0), 200, is_tile));
  const auto why = (answers(h, 99, 503), h.note(url(100), 503, std::nullopt));
  ASSERT_TRUE(why);
  EXPECT_NE(why->find("the last 100 answers from tiles.example:8080 all failed with HTTP 503"),
            std::string::npos)
      << *why;
}

TEST(failure_guard, 99_failures_then_a_success_do_not_stop_and_start_the_count_again) {
  failure_guard g(100);
  EXPECT_FALSE(g.note(url(0), 200, is_tile));
  EXPECT_EQ(answers(g, 99, 503), 0);
  EXPECT_FALSE(g.note(url(0), 200, is_tile));
  EXPECT_EQ(answers(g, 99, 503), 0);
  EXPECT_EQ(answers(g, 1, 503), 1);
}

TEST(failure_guard, missing_empty_and_unchanged_tiles_are_good_answers) {
  for (int status : {404, 204, 304}) {
    failure_guard g(100);
    EXPECT_EQ(answers(g, 1000, status), 0) << status;
    // They count as served: 503s after them need the full 100.
    EXPECT_EQ(answers(g, 100, 503), 100) << status;
  }
  EXPECT_FALSE(failure_guard::is_failure(404, std::nullopt));
  EXPECT_FALSE(failure_guard::is_failure(200, std::nullopt));
  EXPECT_TRUE(failure_guard::is_failure(200, html));
  EXPECT_TRUE(failure_guard::is_failure(403, std::nullopt));
  EXPECT_TRUE(failure_guard::is_failure(429, std::nullopt));
}

TEST(failure_guard, hosts_are_counted_apart) {
  failure_guard g(100);
  for (int i = 0; i < 49; ++i) {
    EXPECT_FALSE(g.note(url(i, "a.tiles.example"), 503, std::nullopt));
    EXPECT_FALSE(g.note(url(i, "b.tiles.example"), 503, std::nullopt));
  }
  EXPECT_FALSE(g.note(url(0, "b.tiles.example"), 200, is_tile));
  EXPECT_TRUE(g.note(url(49, "a.tiles.example"), 503, std::nullopt));
  EXPECT_FALSE(g.note(url(49, "b.tiles.example"), 503, std::nullopt));
}

TEST(failure_guard, the_limit_is_the_option_and_0_never_stops) {
  failure_guard ten(10);
  EXPECT_EQ(answers(ten, 100, 503), 5);
  failure_guard one(1);
  EXPECT_EQ(answers(one, 5, 503), 1);
  failure_guard huge(SIZE_MAX);  // half of it, rounded up, does not wrap to 0
  EXPECT_EQ(answers(huge, 1000, 503), 0);
  failure_guard never(0);
  EXPECT_EQ(answers(never, 100000, 503), 0);
  EXPECT_FALSE(never.note(url(0), 200, is_tile));
  EXPECT_EQ(answers(never, 100000, 503), 0);
}

}  // namespace
