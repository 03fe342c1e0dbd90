#include <cohort/runner/commit_batch.hpp>

#include <gtest/gtest.h>

#include <chrono>

namespace {

using namespace std::chrono_literals;
using cohort::batch_limits;
using cohort::commit_batch;

// Any clock origin: only differences count (a fake clock, never the wall's).
const commit_batch::time_point t0 = commit_batch::time_point{} + 1h;

TEST(CommitBatch, IsFullAtTheCountOfChanges) {
  commit_batch batch({.changes = 3});
  EXPECT_FALSE(batch.add());
  EXPECT_FALSE(batch.add());
  EXPECT_TRUE(batch.add());
  batch.committed();
  EXPECT_TRUE(batch.empty());
  EXPECT_FALSE(batch.add());
}

TEST(CommitBatch, IsFullAtTheCountOfBytes) {
  commit_batch batch({.changes = 1000, .bytes = 100});
  EXPECT_FALSE(batch.add(60));
  EXPECT_TRUE(batch.add(40));
}

TEST(CommitBatch, StaysFullUntilCommitted) {
  commit_batch batch({.changes = 2});
  batch.add();
  EXPECT_TRUE(batch.add());
  EXPECT_TRUE(batch.add()) << "a failed commit leaves the batch full";
  EXPECT_EQ(batch.changes(), 3u);
}

TEST(CommitBatch, ZeroChangesCountsAsOne) {
  commit_batch batch({.changes = 0});
  EXPECT_TRUE(batch.add());
}

TEST(CommitBatch, FromFirstSightTheIntervalStartsWhenAChangeIsFirstSeen) {
  commit_batch batch({.interval = 100ms});
  EXPECT_FALSE(batch.due(t0)) << "nothing to commit";
  batch.add();
  EXPECT_FALSE(batch.due(t0 + 1s)) << "first sight starts the clock";
  EXPECT_FALSE(batch.due(t0 + 1s + 99ms));
  EXPECT_TRUE(batch.due(t0 + 1s + 100ms));
  batch.committed();
  EXPECT_FALSE(batch.due(t0 + 5s)) << "an idle batch is never due";
  batch.add();
  EXPECT_FALSE(batch.due(t0 + 6s)) << "the clock restarts after a commit";
  EXPECT_TRUE(batch.due(t0 + 7s));
}

TEST(CommitBatch, PeriodicTicksFromTheFirstCallWhetherOrNotAnythingChanged) {
  commit_batch batch({.interval = 500ms, .interval_from = batch_limits::start::periodic});
  EXPECT_FALSE(batch.due(t0)) << "starts the interval";
  batch.add();
  EXPECT_FALSE(batch.due(t0 + 499ms));
  EXPECT_TRUE(batch.due(t0 + 500ms));
  batch.committed();
  EXPECT_FALSE(batch.due(t0 + 2s)) << "nothing to commit, but a tick passed";
  batch.add();
  EXPECT_FALSE(batch.due(t0 + 2s + 499ms));
  EXPECT_TRUE(batch.due(t0 + 2s + 500ms));
}

TEST(CommitBatch, APeriodicTickIsNotMovedByACommitWhenFull) {
  commit_batch batch(
      {.changes = 1, .interval = 500ms, .interval_from = batch_limits::start::periodic});
  EXPECT_FALSE(batch.due(t0));
  EXPECT_TRUE(batch.add());
  batch.committed();
  batch.add();  // still one change, as if the commit had failed
  EXPECT_TRUE(batch.due(t0 + 500ms));
}

}  // namespace
