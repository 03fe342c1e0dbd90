#include "cohort/common/shell_quote.hpp"

#include <gtest/gtest.h>

namespace {

using cohort::app::shell_quote;

TEST(ShellQuote, MatchesGnuParallel) {
  // Each expectation is what `parallel --dry-run echo {} ::: VALUE` printed.
  EXPECT_EQ(shell_quote("abc-_.+/XYZ09"), "abc-_.+/XYZ09");
  EXPECT_EQ(shell_quote(""), "''");
  EXPECT_EQ(shell_quote("a b"), "'a b'");
  EXPECT_EQ(shell_quote("it's"), "'it'\"'\"'s'");
  EXPECT_EQ(shell_quote("'x'"), "\"'\"'x'\"'\"");
  EXPECT_EQ(shell_quote("'"), "\"'\"");
  EXPECT_EQ(shell_quote("~"), "'~'");
  EXPECT_EQ(shell_quote("a=b"), "'a=b'");
  EXPECT_EQ(shell_quote("a,b"), "'a,b'");
  EXPECT_EQ(shell_quote("a:b"), "'a:b'");
  EXPECT_EQ(shell_quote("@x"), "'@x'");
  EXPECT_EQ(shell_quote("%x"), "'%x'");
  EXPECT_EQ(shell_quote("\xc3\xa9"), "'\xc3\xa9'");
  EXPECT_EQ(shell_quote("-x"), "-x");
  EXPECT_EQ(shell_quote("a\tb"), "'a\tb'");
}

}  // namespace
