#include <cohort/runner/sqlite_database.hpp>

#include <gtest/gtest.h>

#include <sqlite3.h>

#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>

#include "scratch_dir.hpp"

namespace {

using cohort::sqlite_database;
using cohort::sqlite_failure;
using cohort::sqlite_lock;
using cohort::sqlite_statement;

/// What a test's handler throws: the failure, kept whole.
struct reported : std::runtime_error {
  explicit reported(const sqlite_failure& f)
      : std::runtime_error(f.message), failure(f), doing(f.doing) {}
  sqlite_failure failure;
  std::string doing;  // the failure's view outlives no call
};

void rethrow(const sqlite_failure& f) {
  throw reported(f);
}

/// The failure reported while running `body`; fails the test if none is.
template <class F>
reported failure_of(F body) {
  try {
    body();
  } catch (const reported& r) {
    return r;
  }
  ADD_FAILURE() << "no failure reported";
  return reported(sqlite_failure{});
}

class SqliteDatabase : public ::testing::Test {
 protected:
  cohort::test::scratch_dir dir_{"cohort-sqlite-db-"};
  std::string file_ = dir_.file("state.db");
};

TEST_F(SqliteDatabase, ExecutesAndStepsStatements) {
  sqlite_database db(file_, sqlite_lock::writer, rethrow);
  db.exec("CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER, b BLOB)", "creating t");
  sqlite_statement put(db, "INSERT INTO t (k, v, b) VALUES (?1, ?2, ?3)", "writing t");
  put.bind_text(1, "a").bind(2, 42).bind_blob(3, std::string_view("\0x", 2)).run();
  put.bind_text(1, "b").bind_null(2).bind_null(3).run();

  sqlite_statement get(db, "SELECT k, v FROM t ORDER BY k", "reading t");
  ASSERT_TRUE(get.step());
  EXPECT_EQ(get.text_at(0), "a");
  EXPECT_EQ(get.int_at(1), 42);
  ASSERT_TRUE(get.step());
  EXPECT_TRUE(get.is_null(1));
  EXPECT_FALSE(get.step());
  EXPECT_TRUE(get.step()) << "a finished statement starts again";
}

TEST_F(SqliteDatabase, AWriterLockHeldElsewhereIsRefusedAtOnce) {
  sqlite_database first(file_, sqlite_lock::writer, rethrow);
  const reported r =
      failure_of([&] { sqlite_database second(file_, sqlite_lock::writer, rethrow); });
  EXPECT_EQ(r.failure.during, sqlite_failure::stage::locking);
  EXPECT_EQ(r.failure.primary_code(), SQLITE_BUSY);
  EXPECT_EQ(r.failure.message, "in use by another process");
  // The first one goes on.
  first.exec("CREATE TABLE t (v)", "creating t");
}

TEST_F(SqliteDatabase, TheWriterLockIsReleasedOnClose) {
  { sqlite_database first(file_, sqlite_lock::writer, rethrow); }
  EXPECT_NO_THROW(sqlite_database(file_, sqlite_lock::writer, rethrow));
}

TEST_F(SqliteDatabase, AnExclusiveFileIsRefusedToASecondConnectionAsBusy) {
  sqlite_database first(file_, sqlite_lock::exclusive, rethrow);
  first.exec("CREATE TABLE t (v)", "creating t");
  sqlite_database second(file_, sqlite_lock::exclusive, rethrow);
  const reported r = failure_of([&] { second.exec("SELECT count(*) FROM t", "reading t"); });
  EXPECT_EQ(r.failure.during, sqlite_failure::stage::running);
  EXPECT_EQ(r.failure.primary_code(), SQLITE_BUSY);
  EXPECT_EQ(r.doing, "reading t");
}

TEST_F(SqliteDatabase, ALockFileThatCannotBeCreatedNamesItAndTheErrno) {
  const std::string file = dir_.file("no/such/dir/state.db");
  const reported r = failure_of([&] { sqlite_database db(file, sqlite_lock::writer, rethrow); });
  EXPECT_EQ(r.failure.during, sqlite_failure::stage::locking);
  EXPECT_EQ(r.failure.system_errno, ENOENT);
  EXPECT_EQ(r.failure.message, "cannot create " + file + ": " + std::strerror(ENOENT));
}

TEST_F(SqliteDatabase, SqlThatDoesNotCompileIsReportedAsPreparing) {
  sqlite_database db(file_, sqlite_lock::writer, rethrow);
  const reported r =
      failure_of([&] { sqlite_statement s(db, "SELECT * FROM nowhere", "reading"); });
  EXPECT_EQ(r.failure.during, sqlite_failure::stage::preparing);
  EXPECT_EQ(r.failure.primary_code(), SQLITE_ERROR);
  EXPECT_EQ(r.failure.message, "no such table: nowhere");
}

TEST_F(SqliteDatabase, AFailedStepIsReportedOnceWithWhatTheOwnerWasDoing) {
  sqlite_database db(file_, sqlite_lock::writer, rethrow);
  db.exec("CREATE TABLE t (v INTEGER NOT NULL)", "creating t");
  sqlite_statement put(db, "INSERT INTO t (v) VALUES (?1)", "writing t");
  const reported r = failure_of([&] { put.bind_null(1).run(); });
  EXPECT_EQ(r.failure.during, sqlite_failure::stage::running);
  EXPECT_EQ(r.failure.primary_code(), SQLITE_CONSTRAINT);
  EXPECT_EQ(r.doing, "writing t");
  EXPECT_EQ(r.failure.message, "NOT NULL constraint failed: t.v");
  // The statement was reset: it runs again.
  EXPECT_NO_THROW(put.bind(1, 1).run());
}

TEST_F(SqliteDatabase, AHandlerThatReturnsStillEndsTheCall) {
  sqlite_database db(file_, sqlite_lock::writer, [](const sqlite_failure&) {});
  EXPECT_THROW(db.exec("NOT SQL", "running"), std::runtime_error);
}

TEST_F(SqliteDatabase, QuickCheckIsEmptyForASoundFile) {
  sqlite_database db(file_, sqlite_lock::exclusive, rethrow);
  db.exec("CREATE TABLE t (v)", "creating t");
  EXPECT_EQ(db.quick_check("checking it"), "");
}

TEST_F(SqliteDatabase, RollbackEndsTheOpenTransaction) {
  sqlite_database db(file_, sqlite_lock::writer, rethrow);
  db.exec("CREATE TABLE t (v)", "creating t");
  db.exec("BEGIN IMMEDIATE", "starting");
  db.exec("INSERT INTO t VALUES (1)", "writing t");
  EXPECT_TRUE(db.in_transaction());
  db.rollback();
  EXPECT_FALSE(db.in_transaction());
  sqlite_statement count(db, "SELECT count(*) FROM t", "reading t");
  ASSERT_TRUE(count.step());
  EXPECT_EQ(count.int_at(0), 0);
}

// A write past RLIMIT_FSIZE fails as on a full disk, with EFBIG: the message
// carries the errno's text. In a child (a death test), whose limit does not
// touch the other tests.
void write_past_the_file_size_limit(const std::string& file) {
  signal(SIGXFSZ, SIG_IGN);
  const rlimit limit{64 * 1024, 64 * 1024};
  if (setrlimit(RLIMIT_FSIZE, &limit) != 0) _exit(2);
  try {
    sqlite_database db(file, sqlite_lock::writer, rethrow);
    db.exec("CREATE TABLE t (v BLOB)", "creating t");
    sqlite_statement put(db, "INSERT INTO t (v) VALUES (zeroblob(4096))", "writing t");
    for (int i = 0; i < 1000; ++i) put.run();
  } catch (const reported& r) {
    std::fprintf(stderr, "[%s] errno %d\n", r.failure.message.c_str(), r.failure.system_errno);
    _exit(0);
  }
  _exit(1);
}

TEST_F(SqliteDatabase, AnIoFailureCarriesTheErrno) {
  const std::string expected =
      std::string(": ") + std::strerror(EFBIG) + "] errno " + std::to_string(EFBIG);
  EXPECT_EXIT(write_past_the_file_size_limit(file_), ::testing::ExitedWithCode(0), expected);
}

}  // namespace
