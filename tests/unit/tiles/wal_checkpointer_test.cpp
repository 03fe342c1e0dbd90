#include "cohort/tiles/wal_checkpointer.hpp"

#include <sqlite3.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "scratch_dir.hpp"

namespace {

namespace fs = std::filesystem;
using cohort::app::tiles::detail::wal_checkpointer;

constexpr int page = 16384;

struct temp_db {
  cohort::test::scratch_dir scratch{"cohort-wal-"};
  fs::path dir = scratch.path();
  fs::path file = dir / "t.db";
  sqlite3* db = nullptr;

  temp_db() {
    EXPECT_EQ(sqlite3_open(file.c_str(), &db), SQLITE_OK);
    exec("PRAGMA page_size = 16384");
    exec("PRAGMA journal_mode = WAL");
    exec("PRAGMA synchronous = NORMAL");
    exec("CREATE TABLE t (id INTEGER PRIMARY KEY, data BLOB)");
  }
  ~temp_db() { sqlite3_close(db); }
  void exec(const char* sql) {
    ASSERT_EQ(sqlite3_exec(db, sql, nullptr, nullptr, nullptr), SQLITE_OK) << sql;
  }

  // `batches` transactions of `rows` rows of one page of data each.
  void write(int batches, int rows, int first_id = 0) {
    sqlite3_stmt* s = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(db, "INSERT INTO t VALUES (?1, ?2)", -1, &s, nullptr), SQLITE_OK);
    const std::string blob(page, 'x');
    int id = first_id;
    for (int b = 0; b < batches; ++b) {
      exec("BEGIN IMMEDIATE");
      for (int r = 0; r < rows; ++r) {
        sqlite3_bind_int(s, 1, id++);
        sqlite3_bind_blob(s, 2, blob.data(), static_cast<int>(blob.size()), SQLITE_STATIC);
        ASSERT_EQ(sqlite3_step(s), SQLITE_DONE);
        sqlite3_reset(s);
      }
      exec("COMMIT");
    }
    sqlite3_finalize(s);
  }

  std::uintmax_t wal_bytes() const {
    std::error_code ec;
    const auto n = fs::file_size(dir / "t.db-wal", ec);
    return ec ? 0 : n;
  }
  std::int64_t rows() {
    sqlite3_stmt* s = nullptr;
    sqlite3_prepare_v2(db, "SELECT count(*) FROM t", -1, &s, nullptr);
    sqlite3_step(s);
    const auto n = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return n;
  }
};

// The log is copied back by the checkpointer's thread, and stays bounded by
// the limit even when the writer never pauses.
TEST(WalCheckpointer, CheckpointsOnItsThreadAndKeepsTheLogBounded) {
  temp_db t;
  {
    wal_checkpointer c(t.db, t.file.string(), /*pages=*/50, /*limit_pages=*/200);
    t.write(/*batches=*/60, /*rows=*/20);  // about 1,300 pages through the log
    // The thread runs when a commit leaves 50 pages or more: some of them
    // have been done by now, or are about to be.
    for (int i = 0; i < 500 && c.checkpoints() == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    EXPECT_GT(c.checkpoints(), 0u);
  }
  // The limit (200 pages) plus one batch (20 rows of two pages each: a
  // page of data does not fit in one page with its header) and framing.
  EXPECT_LE(t.wal_bytes(), std::uintmax_t{300} * (page + 24));
  EXPECT_EQ(t.rows(), 60 * 20);
  t.exec("PRAGMA integrity_check");
}

// Gone, it gives the writer SQLite's own checkpoints back: the log stops
// growing past SQLite's default (1000 pages) again.
TEST(WalCheckpointer, GivesTheWriterItsAutomaticCheckpointsBack) {
  temp_db t;
  { wal_checkpointer c(t.db, t.file.string(), 50, 200); }
  t.write(/*batches=*/100, /*rows=*/20);  // 2,000-odd pages
  EXPECT_LE(t.wal_bytes(), std::uintmax_t{1100} * (page + 24));
  EXPECT_EQ(t.rows(), 100 * 20);
}

// A file it cannot open: an error for the caller, who keeps SQLite's own.
TEST(WalCheckpointer, CannotOpenTheFileThrows) {
  temp_db t;
  EXPECT_THROW(wal_checkpointer(t.db, (t.dir / "no" / "such.db").string()), std::runtime_error);
  t.write(2, 2);
  EXPECT_EQ(t.rows(), 4);
}

}  // namespace
