#include <cohort/runner/fingerprint.hpp>

#include <gtest/gtest.h>

namespace {

using cohort::fingerprint;
using cohort::fingerprint_difference;
using cohort::fingerprint_differences;

const fingerprint echo_run{{"command", "echo {}"}, {"inputs", "sha256:abc"}};

TEST(FingerprintDifferences, TheSameRunInAnyOrderHasNone) {
  EXPECT_TRUE(fingerprint_differences(echo_run, echo_run).empty());
  EXPECT_TRUE(fingerprint_differences(echo_run, {{"inputs", "sha256:abc"}, {"command", "echo {}"}})
                  .empty());
}

TEST(FingerprintDifferences, AChangedFieldIsNamedWithBothValues) {
  const auto diffs =
      fingerprint_differences(echo_run, {{"command", "cat {}"}, {"inputs", "sha256:abc"}});
  ASSERT_EQ(diffs.size(), 1u);
  EXPECT_EQ(diffs[0], (fingerprint_difference{"command", "echo {}", "cat {}"}));
}

TEST(FingerprintDifferences, NewFieldsComeInTheGivenOrderThenRemovedOnes) {
  const auto diffs = fingerprint_differences({{"gone", "1"}, {"command", "echo {}"}},
                                             {{"new", "2"}, {"command", "echo {}"}, {"also", "3"}});
  ASSERT_EQ(diffs.size(), 3u);
  EXPECT_EQ(diffs[0], (fingerprint_difference{"new", std::nullopt, "2"}));
  EXPECT_EQ(diffs[1], (fingerprint_difference{"also", std::nullopt, "3"}));
  EXPECT_EQ(diffs[2], (fingerprint_difference{"gone", "1", std::nullopt}));
}

}  // namespace
