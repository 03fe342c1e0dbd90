#include <cohort/runner/journal.hpp>

#include <gtest/gtest.h>

#include <sqlite3.h>

#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <random>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using cohort::journal;
using cohort::journal_error;
using cohort::journal_fingerprint;
using cohort::journal_meta;
using cohort::journal_options;
using cohort::journal_state;

namespace {

const journal_fingerprint echo_run{{"command", "echo {}"}, {"inputs", "sha256:abc"}};

std::string read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_bytes(const fs::path& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << bytes;
}

/// Runs one SQL statement on `db` with a separate, plain SQLite connection
/// and returns the first column of the first row ("" if none).
std::string sql(const fs::path& db, const std::string& statement) {
  sqlite3* raw = nullptr;
  if (sqlite3_open_v2(db.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) !=
      SQLITE_OK) {
    std::string msg = sqlite3_errmsg(raw);
    sqlite3_close(raw);
    throw std::runtime_error("sql: open: " + msg);
  }
  sqlite3_stmt* s = nullptr;
  std::string result;
  if (sqlite3_prepare_v2(raw, statement.c_str(), -1, &s, nullptr) != SQLITE_OK) {
    std::string msg = sqlite3_errmsg(raw);
    sqlite3_close(raw);
    throw std::runtime_error("sql: " + statement + ": " + msg);
  }
  int rc = sqlite3_step(s);
  if (rc == SQLITE_ROW && sqlite3_column_text(s, 0) != nullptr) {
    result = reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
  }
  sqlite3_finalize(s);
  sqlite3_close(raw);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
    throw std::runtime_error("sql: " + statement + ": " + sqlite3_errstr(rc));
  }
  return result;
}

/// The error that opening `path` throws; fails the test if it opens.
journal_error open_error(const fs::path& path, const journal_fingerprint& fp = echo_run,
                         journal_options options = {}) {
  try {
    journal j(path, fp, options);
  } catch (const journal_error& e) {
    return e;
  }
  ADD_FAILURE() << "journal " << path << " opened";
  return journal_error(journal_error::kind::io, "");
}

/// What a child process reports: its exit status and what it wrote to the pipe.
struct child_result {
  int status = -1;
  std::string output;
};

/// Runs `body` in a forked child, which reports through `out` and exits with
/// `body`'s return value. If `unprivileged`, the child first drops root
/// privileges (file permissions do not stop root).
child_result run_in_child(const std::function<int(std::string& out)>& body,
                          bool unprivileged = false) {
  int fds[2];
  if (pipe(fds) != 0) throw std::runtime_error("pipe");
  const pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork");
  if (pid == 0) {
    ::close(fds[0]);
    int code = 100;
    std::string out;
    try {
      if (unprivileged && geteuid() == 0) {
        const passwd* nobody = getpwnam("nobody");
        if (nobody == nullptr || setgid(nobody->pw_gid) != 0 || setuid(nobody->pw_uid) != 0) {
          out = "cannot drop privileges";
          code = 101;
        } else {
          code = body(out);
        }
      } else {
        code = body(out);
      }
    } catch (const std::exception& e) {
      out = std::string("unexpected exception: ") + e.what();
      code = 102;
    }
    [[maybe_unused]] auto n = ::write(fds[1], out.data(), out.size());
    _exit(code);
  }
  ::close(fds[1]);
  child_result r;
  char buf[4096];
  ssize_t n = 0;
  while ((n = ::read(fds[0], buf, sizeof buf)) > 0)
    r.output.append(buf, static_cast<std::size_t>(n));
  ::close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : 200 + WTERMSIG(status);
  return r;
}

class Journal : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string templ = (fs::temp_directory_path() / "cohort-journal-XXXXXX").string();
    ASSERT_NE(mkdtemp(templ.data()), nullptr);
    dir_ = templ;
    path_ = dir_ / "run.db";
  }
  void TearDown() override {
    fs::permissions(dir_, fs::perms::owner_all);
    fs::remove_all(dir_);
  }

  fs::path dir_;
  fs::path path_;
};

// --- outcomes ----------------------------------------------------------------

TEST_F(Journal, NewJournalIsEmpty) {
  journal j(path_, echo_run);
  EXPECT_EQ(j.done_count(), 0u);
  EXPECT_EQ(j.failed_count(), 0u);
  EXPECT_FALSE(j.is_done("a"));
  EXPECT_FALSE(j.reset_note());
  EXPECT_EQ(j.path(), path_);
  EXPECT_TRUE(fs::exists(path_));
}

TEST_F(Journal, DoneAndFailedSetsSurviveReopen) {
  {
    journal j(path_, echo_run);
    j.record_done("a");
    j.record_done("b", 2, {42, "out/b"});
    j.record_failed("c", 3, {"timeout"});
    EXPECT_TRUE(j.is_done("a"));
    EXPECT_TRUE(j.is_failed("c"));
  }
  journal j(path_, echo_run);
  EXPECT_EQ(j.done_count(), 2u);
  EXPECT_EQ(j.failed_count(), 1u);
  EXPECT_TRUE(j.is_done("a"));
  EXPECT_TRUE(j.is_done("b"));
  EXPECT_FALSE(j.is_done("c"));
  EXPECT_TRUE(j.is_failed("c"));
  EXPECT_FALSE(j.is_failed("a"));
  EXPECT_FALSE(j.is_done("d"));
  EXPECT_FALSE(j.is_failed("d"));
  EXPECT_EQ(j.failed_keys(), std::vector<std::string>{"c"});
}

TEST_F(Journal, FindReturnsTheFullOutcomeBufferedAndCommitted) {
  journal j(path_, echo_run);
  const auto before = std::chrono::system_clock::now();
  j.record_done("b", 2, {42, "out/b"});
  j.record_failed("c", 3, {"refused", "reset", "timeout"}, {7, std::nullopt});
  for (int pass = 0; pass < 2; ++pass) {
    SCOPED_TRACE(pass == 0 ? "buffered" : "committed");
    const auto b = j.find("b");
    ASSERT_TRUE(b);
    EXPECT_EQ(b->key, "b");
    EXPECT_EQ(b->state, journal_state::done);
    EXPECT_EQ(b->attempts, 2);
    EXPECT_TRUE(b->errors.empty());
    EXPECT_EQ(b->meta, (journal_meta{42, "out/b"}));
    EXPECT_GE(
        b->finished_at_ms,
        std::chrono::duration_cast<std::chrono::milliseconds>(before.time_since_epoch()).count());
    const auto c = j.find("c");
    ASSERT_TRUE(c);
    EXPECT_EQ(c->state, journal_state::failed);
    EXPECT_EQ(c->attempts, 3);
    EXPECT_EQ(c->errors, (std::vector<std::string>{"refused", "reset", "timeout"}));
    EXPECT_EQ(c->meta, (journal_meta{7, std::nullopt}));
    EXPECT_FALSE(j.find("d"));
    j.flush();
  }
  EXPECT_EQ(j.buffered(), 0u);
}

TEST_F(Journal, OnlyTheLastErrorIsNumberedAsTheLastAttempt) {
  {
    journal j(path_, echo_run);
    j.record_failed("k", 4, {"third", "fourth"});
  }
  EXPECT_EQ(sql(path_, "SELECT group_concat(attempt || ':' || error) FROM outcome_errors"),
            "3:third,4:fourth");
  EXPECT_EQ(sql(path_, "SELECT error FROM outcomes WHERE key = 'k'"), "fourth");
  journal j(path_, echo_run);
  EXPECT_EQ(j.find("k")->errors, (std::vector<std::string>{"third", "fourth"}));
}

TEST_F(Journal, ErrorsAndKeysKeepArbitraryBytes) {
  const std::string key("k\0\xff\n", 4);
  const std::string error("line 1\nline 2\0\x80", 15);
  {
    journal j(path_, echo_run);
    j.record_failed(key, 1, {error});
  }
  journal j(path_, echo_run);
  EXPECT_TRUE(j.is_failed(key));
  EXPECT_FALSE(j.is_failed("k"));
  EXPECT_EQ(j.find(key)->errors, std::vector<std::string>{error});
}

TEST_F(Journal, LatestOutcomeWins) {
  {
    journal j(path_, echo_run);
    j.record_done("a");
    j.flush();
    j.record_failed("a", 1, {"broke on re-run"});
    EXPECT_FALSE(j.is_done("a"));
    EXPECT_TRUE(j.is_failed("a"));
    EXPECT_EQ(j.done_count(), 0u);
  }
  journal j(path_, echo_run);
  EXPECT_FALSE(j.is_done("a"));
  EXPECT_TRUE(j.is_failed("a"));
  EXPECT_EQ(j.find("a")->errors, std::vector<std::string>{"broke on re-run"});
}

TEST_F(Journal, FailedThenDoneBecomesDoneAndDropsItsErrors) {
  {
    journal j(path_, echo_run);
    j.record_failed("a", 2, {"e1", "e2"});
    j.record_failed("b", 1, {"e"});
    j.flush();
    j.record_done("a", 3);
    // Failed and done again in one batch.
    j.record_failed("c", 1, {"e"});
    j.record_done("c");
    EXPECT_TRUE(j.is_done("a"));
    EXPECT_FALSE(j.is_failed("a"));
  }
  journal j(path_, echo_run);
  EXPECT_TRUE(j.is_done("a"));
  EXPECT_TRUE(j.is_done("c"));
  EXPECT_FALSE(j.is_failed("a"));
  EXPECT_EQ(j.failed_keys(), std::vector<std::string>{"b"});
  const auto a = j.find("a");
  EXPECT_EQ(a->state, journal_state::done);
  EXPECT_EQ(a->attempts, 3);
  EXPECT_TRUE(a->errors.empty());
  j.close();
  // One row per key; only b's error is left.
  EXPECT_EQ(sql(path_, "SELECT count(*) FROM outcomes"), "3");
  EXPECT_EQ(sql(path_, "SELECT group_concat(error) FROM outcome_errors"), "e");
  EXPECT_EQ(
      sql(path_, "SELECT key FROM outcomes JOIN outcome_errors USING (seq) WHERE attempt = 1"),
      "b");
}

TEST_F(Journal, RejectsImpossibleAttemptCounts) {
  journal j(path_, echo_run);
  EXPECT_THROW(j.record_done("a", 0), std::invalid_argument);
  EXPECT_THROW(j.record_failed("a", 1, {"e1", "e2"}), std::invalid_argument);
  EXPECT_FALSE(j.is_done("a"));
  EXPECT_FALSE(j.is_failed("a"));
  EXPECT_EQ(j.buffered(), 0u);
}

// --- batching ----------------------------------------------------------------

TEST_F(Journal, CommitsWhenABatchIsFull) {
  journal j(path_, echo_run, {.batch_records = 3});
  j.record_done("a");
  j.record_done("b");
  EXPECT_EQ(j.buffered(), 2u);
  j.record_done("c");
  EXPECT_EQ(j.buffered(), 0u);
  j.record_done("d");
  EXPECT_EQ(j.buffered(), 1u);
}

TEST_F(Journal, MaybeFlushCommitsOnceRecordsHaveWaitedTheInterval) {
  journal j(path_, echo_run, {.flush_interval = 100ms});
  const journal::time_point t0{};  // any clock origin: only differences count
  EXPECT_FALSE(j.maybe_flush(t0));
  j.record_done("a");
  EXPECT_FALSE(j.maybe_flush(t0 + 1s));  // first sight of the record starts its clock
  EXPECT_FALSE(j.maybe_flush(t0 + 1s + 99ms));
  EXPECT_EQ(j.buffered(), 1u);
  EXPECT_TRUE(j.maybe_flush(t0 + 1s + 100ms));
  EXPECT_EQ(j.buffered(), 0u);
  j.record_done("b");
  EXPECT_FALSE(j.maybe_flush(t0 + 2s));  // the clock restarts after a commit
  EXPECT_TRUE(j.maybe_flush(t0 + 3s));
}

TEST_F(Journal, DestructorCommitsBufferedRecords) {
  {
    journal j(path_, echo_run, {.batch_records = 1000});
    j.record_done("a");
    j.record_failed("b", 1, {"e"});
    EXPECT_EQ(j.buffered(), 2u);
  }
  journal j(path_, echo_run);
  EXPECT_TRUE(j.is_done("a"));
  EXPECT_TRUE(j.is_failed("b"));
}

TEST_F(Journal, MovedJournalKeepsItsRecords) {
  journal a(path_, echo_run);
  a.record_done("x");
  journal b(std::move(a));
  EXPECT_TRUE(b.is_done("x"));
  const fs::path other = dir_ / "other.db";
  journal c(other, echo_run);
  c.record_done("y");
  c = std::move(b);  // flushes and closes other.db
  EXPECT_TRUE(c.is_done("x"));
  journal reopened(other, echo_run);
  EXPECT_TRUE(reopened.is_done("y"));
}

// --- fingerprint -------------------------------------------------------------

TEST_F(Journal, DifferentRunIsRefusedNamingWhatDiffers) {
  { journal j(path_, echo_run); }
  const auto e = open_error(path_, {{"command", "ls {}"}, {"inputs", "sha256:abc"}});
  EXPECT_EQ(e.error_kind(), journal_error::kind::different_run);
  EXPECT_EQ(std::string(e.what()), "journal '" + path_.string() +
                                       "' belongs to a different run: \"command\" was 'echo {}', "
                                       "now 'ls {}' (use --force to start over)");
}

TEST_F(Journal, AddedRemovedAndSeveralDifferencesAreNamed) {
  { journal j(path_, echo_run); }
  EXPECT_NE(std::string(open_error(path_, {{"command", "echo {}"}}).what())
                .find("\"inputs\" was 'sha256:abc', now absent ("),
            std::string::npos);
  const std::string added =
      open_error(path_, {{"command", "echo {}"}, {"inputs", "sha256:abc"}, {"retries", "3"}})
          .what();
  EXPECT_NE(added.find("\"retries\" was absent, now '3' ("), std::string::npos) << added;
  const std::string several =
      open_error(path_, {{"command", "ls"}, {"inputs", "sha256:def"}, {"jobs", "4"}}).what();
  EXPECT_NE(several.find("\"command\" was 'echo {}', now 'ls' (and 2 more differences)"),
            std::string::npos)
      << several;
}

TEST_F(Journal, DifferenceMessageStaysOnOneLine) {
  { journal j(path_, {{"command", "echo {}"}}); }
  const std::string msg =
      open_error(path_, {{"command", "echo 'a\nb'\t" + std::string(200, 'x')}}).what();
  EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  EXPECT_NE(msg.find("now 'echo 'a\\nb'\\txxx"), std::string::npos) << msg;
  EXPECT_NE(msg.find("xxx...'"), std::string::npos) << msg;
}

TEST_F(Journal, LongValuesAreNotCutInsideAUtf8Character) {
  { journal j(path_, {{"city", "x"}}); }
  // 79 ASCII bytes, then a two-byte character across the 80-byte limit.
  const std::string value = std::string(79, 'a') + "\xc3\xa9tail";
  const std::string msg = open_error(path_, {{"city", value}}).what();
  EXPECT_NE(msg.find("now '" + std::string(79, 'a') + "...'"), std::string::npos) << msg;
  EXPECT_LT(msg.size(), 250u) << msg;
}

TEST_F(Journal, FingerprintOrderDoesNotMatter) {
  {
    journal j(path_, echo_run);
    j.record_done("a");
  }
  journal j(path_, {{"inputs", "sha256:abc"}, {"command", "echo {}"}});
  EXPECT_TRUE(j.is_done("a"));
}

TEST_F(Journal, FingerprintNamesMustBeUniqueAndNonEmpty) {
  EXPECT_THROW(journal(path_, {{"", "x"}}), std::invalid_argument);
  EXPECT_THROW(journal(path_, {{"a", "x"}, {"a", "y"}}), std::invalid_argument);
}

TEST_F(Journal, ForceStartsOverForADifferentRun) {
  {
    journal j(path_, echo_run);
    j.record_done("a");
    j.record_done("b");
    j.record_failed("c", 1, {"e"});
  }
  const journal_fingerprint ls_run{{"command", "ls {}"}, {"inputs", "sha256:abc"}};
  {
    journal j(path_, ls_run, {.force = true});
    EXPECT_EQ(j.done_count(), 0u);
    EXPECT_EQ(j.failed_count(), 0u);
    EXPECT_FALSE(j.is_done("a"));
    ASSERT_TRUE(j.reset_note());
    EXPECT_EQ(*j.reset_note(), "journal '" + path_.string() +
                                   "' belonged to a different run (\"command\" was 'echo {}', "
                                   "now 'ls {}'): started over, dropping 2 done and 1 failed "
                                   "outcomes");
    j.record_done("z");
  }
  EXPECT_EQ(sql(path_, "SELECT count(*) FROM outcome_errors"), "0");
  EXPECT_EQ(sql(path_, "SELECT value FROM meta WHERE name = 'reset_reason'"),
            "\"command\" was 'echo {}', now 'ls {}'");
  // The journal now belongs to the new run.
  journal j(path_, ls_run);
  EXPECT_TRUE(j.is_done("z"));
  EXPECT_FALSE(j.reset_note());
  j.close();
  EXPECT_EQ(open_error(path_, echo_run).error_kind(), journal_error::kind::different_run);
}

TEST_F(Journal, ForceResumesTheSameRun) {
  {
    journal j(path_, echo_run);
    j.record_done("a");
  }
  journal j(path_, echo_run, {.force = true});
  EXPECT_TRUE(j.is_done("a"));
  EXPECT_FALSE(j.reset_note());
}

// --- bad files ---------------------------------------------------------------

void expect_corrupt(const journal_error& e, const fs::path& path) {
  const std::string msg = e.what();
  EXPECT_EQ(e.error_kind(), journal_error::kind::corrupt) << msg;
  EXPECT_NE(msg.find("journal '" + path.string() + "' is corrupt ("), std::string::npos) << msg;
  EXPECT_NE(msg.find("move it aside or delete it to start over"), std::string::npos) << msg;
  EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
}

TEST_F(Journal, GarbageFileIsCorruptAndLeftUntouched) {
  std::string garbage;
  std::mt19937 rng(7);
  for (int i = 0; i < 10000; ++i) garbage += static_cast<char>(rng());
  write_bytes(path_, garbage);
  expect_corrupt(open_error(path_), path_);
  EXPECT_EQ(read_bytes(path_), garbage);
  EXPECT_THROW(journal(path_, echo_run, {.force = true}), journal_error);
  EXPECT_EQ(read_bytes(path_), garbage);
}

TEST_F(Journal, TextFileIsCorrupt) {
  write_bytes(path_, "1\tdone\ta\n2\tdone\tb\n");
  expect_corrupt(open_error(path_), path_);
}

TEST_F(Journal, TruncatedJournalIsCorrupt) {
  {
    journal j(path_, echo_run);
    for (int i = 0; i < 5000; ++i) j.record_done("task-" + std::to_string(i));
  }
  const auto size = fs::file_size(path_);
  ASSERT_GT(size, 40000u);
  fs::resize_file(path_, size / 2);
  const std::string before = read_bytes(path_);
  expect_corrupt(open_error(path_), path_);
  EXPECT_EQ(read_bytes(path_), before);
}

TEST_F(Journal, DamagedPageIsCorrupt) {
  {
    journal j(path_, echo_run);
    for (int i = 0; i < 5000; ++i) j.record_done("task-" + std::to_string(i));
  }
  std::string bytes = read_bytes(path_);
  const std::size_t page = 4096;
  ASSERT_GT(bytes.size(), 10 * page);
  // Overwrite a page in the middle of the file (a leaf of the outcomes table),
  // as a torn write or a bad sector would.
  const std::size_t middle = bytes.size() / page / 2 * page;
  std::mt19937 rng(11);
  for (std::size_t i = middle; i < middle + page; ++i) bytes[i] = static_cast<char>(rng());
  write_bytes(path_, bytes);
  expect_corrupt(open_error(path_), path_);
  expect_corrupt(open_error(path_, echo_run, {.force = true}), path_);
  EXPECT_EQ(read_bytes(path_), bytes);
}

TEST_F(Journal, EmptyFileBecomesAJournal) {
  write_bytes(path_, "");
  journal j(path_, echo_run);
  j.record_done("a");
  j.close();
  EXPECT_EQ(journal(path_, echo_run).done_count(), 1u);
}

TEST_F(Journal, NewerFormatIsRefusedNamingBothVersions) {
  { journal j(path_, echo_run); }
  sql(path_, "PRAGMA user_version = 7");
  const auto e = open_error(path_);
  EXPECT_EQ(e.error_kind(), journal_error::kind::newer_version);
  EXPECT_EQ(std::string(e.what()),
            "journal '" + path_.string() +
                "' has format version 7, but this Cohort reads versions up to 1: use a newer "
                "Cohort, or move it aside to start over");
  EXPECT_EQ(open_error(path_, echo_run, {.force = true}).error_kind(),
            journal_error::kind::newer_version);
}

TEST_F(Journal, ForeignDatabaseIsRefusedAndNotModified) {
  sql(path_, "CREATE TABLE photos (id INTEGER PRIMARY KEY, name TEXT)");
  sql(path_, "INSERT INTO photos (name) VALUES ('cat.jpg')");
  const std::string before = read_bytes(path_);
  const auto e = open_error(path_, echo_run, {.force = true});
  EXPECT_EQ(e.error_kind(), journal_error::kind::not_a_journal);
  EXPECT_EQ(std::string(e.what()), "file '" + path_.string() +
                                       "' is an SQLite database but not a Cohort journal: "
                                       "choose another journal path");
  EXPECT_EQ(read_bytes(path_), before);
  EXPECT_FALSE(fs::exists(path_.string() + "-wal"));
}

TEST_F(Journal, UnexpectedSchemaIsCorrupt) {
  { journal j(path_, echo_run); }
  sql(path_, "DROP TABLE outcome_errors");
  sql(path_, "CREATE TABLE outcome_errors (key TEXT)");
  expect_corrupt(open_error(path_), path_);
}

TEST_F(Journal, TriggersAreRefused) {
  { journal j(path_, echo_run); }
  sql(path_, "CREATE TRIGGER t AFTER INSERT ON outcomes BEGIN DELETE FROM outcomes; END");
  expect_corrupt(open_error(path_), path_);
}

TEST_F(Journal, UnknownStateIsCorrupt) {
  { journal j(path_, echo_run); }
  // A CHECK constraint guards the state column: bypass it as a damaged or
  // hand-edited file might.
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &raw), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(raw,
                         "PRAGMA ignore_check_constraints = 1;"
                         "INSERT INTO outcomes VALUES (NULL, 'k', 'maybe', 1, NULL, NULL, NULL, 0)",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(raw);
  // The integrity check verifies CHECK constraints, so it finds the row.
  const auto e = open_error(path_);
  expect_corrupt(e, path_);
  EXPECT_NE(std::string(e.what()).find("CHECK constraint failed in outcomes"), std::string::npos)
      << e.what();
}

TEST_F(Journal, SecondOpenIsRefusedAsInUse) {
  journal first(path_, echo_run);
  first.record_done("a");
  first.flush();
  const auto e = open_error(path_);
  EXPECT_EQ(e.error_kind(), journal_error::kind::in_use);
  EXPECT_NE(std::string(e.what()).find("is in use by another process"), std::string::npos);
  // From another process too (POSIX locks are per process).
  const auto child = run_in_child([&](std::string& out) {
    try {
      journal j(path_, echo_run);
    } catch (const journal_error& err) {
      out = err.what();
      return err.error_kind() == journal_error::kind::in_use ? 0 : 1;
    }
    return 2;
  });
  EXPECT_EQ(child.status, 0) << child.output;
  first.close();
  EXPECT_TRUE(journal(path_, echo_run).is_done("a"));
}

TEST_F(Journal, ReadOnlyDirectoryIsAClearError) {
  const fs::path ro = dir_ / "ro";
  fs::create_directory(ro);
  fs::permissions(ro, fs::perms::owner_read | fs::perms::owner_exec | fs::perms::group_read |
                          fs::perms::group_exec | fs::perms::others_read | fs::perms::others_exec);
  fs::permissions(dir_, fs::perms::all);
  const fs::path p = ro / "run.db";
  const auto child = run_in_child(
      [&](std::string& out) {
        try {
          journal j(p, echo_run);
        } catch (const journal_error& e) {
          out = e.what();
          return e.error_kind() == journal_error::kind::io ? 0 : 1;
        }
        return 2;
      },
      /*unprivileged=*/true);
  EXPECT_EQ(child.status, 0) << child.output;
  EXPECT_NE(child.output.find("journal '" + p.string() + "': cannot open it ("), std::string::npos)
      << child.output;
  EXPECT_NE(child.output.find("cannot create a file in directory '" + ro.string() +
                              "': Permission denied"),
            std::string::npos)
      << child.output;
}

TEST_F(Journal, ExistingJournalInReadOnlyDirectoryIsAClearError) {
  const fs::path ro = dir_ / "ro";
  fs::create_directory(ro);
  const fs::path p = ro / "run.db";
  {
    journal j(p, echo_run);
    j.record_done("a");
  }
  fs::permissions(p, fs::perms::all);
  fs::permissions(ro, fs::perms::owner_read | fs::perms::owner_exec | fs::perms::group_read |
                          fs::perms::group_exec | fs::perms::others_read | fs::perms::others_exec);
  fs::permissions(dir_, fs::perms::all);
  const auto child = run_in_child(
      [&](std::string& out) {
        try {
          journal j(p, echo_run);
        } catch (const journal_error& e) {
          out = e.what();
          return e.error_kind() == journal_error::kind::io ? 0 : 1;
        }
        return 2;
      },
      /*unprivileged=*/true);
  EXPECT_EQ(child.status, 0) << child.output;
  EXPECT_NE(child.output.find("journal '" + p.string() + "': cannot "), std::string::npos)
      << child.output;
  EXPECT_NE(child.output.find("is not writable"), std::string::npos) << child.output;
}

TEST_F(Journal, DirectoryPathIsAClearError) {
  const auto e = open_error(dir_);
  EXPECT_EQ(e.error_kind(), journal_error::kind::io);
  EXPECT_EQ(std::string(e.what()),
            "journal '" + dir_.string() + "': cannot open it (it is a directory)");
}

TEST_F(Journal, MissingDirectoryIsAClearError) {
  const fs::path p = dir_ / "no" / "run.db";
  const auto e = open_error(p);
  EXPECT_EQ(e.error_kind(), journal_error::kind::io);
  EXPECT_EQ(std::string(e.what()), "journal '" + p.string() + "': cannot open it (directory '" +
                                       (dir_ / "no").string() + "' does not exist)");
}

TEST_F(Journal, ReadOnlyFileIsAClearError) {
  {
    journal j(path_, echo_run);
    j.record_done("a");
  }
  fs::permissions(dir_, fs::perms::all);
  fs::permissions(path_, fs::perms::owner_read | fs::perms::group_read | fs::perms::others_read);
  const auto child = run_in_child(
      [&](std::string& out) {
        try {
          journal j(path_, echo_run);
        } catch (const journal_error& e) {
          out = e.what();
          return e.error_kind() == journal_error::kind::io ? 0 : 1;
        }
        return 2;
      },
      /*unprivileged=*/true);
  EXPECT_EQ(child.status, 0) << child.output;
  EXPECT_NE(child.output.find("journal '" + path_.string() + "': cannot "), std::string::npos)
      << child.output;
  EXPECT_NE(child.output.find("read-only"), std::string::npos) << child.output;
}

TEST_F(Journal, FullDiskIsAClearErrorAndKeepsCommittedBatches) {
  constexpr int batch = 50;
  const auto child = run_in_child([&](std::string& out) {
    // Files may not grow past 256 KiB: writes beyond fail as on a full disk.
    signal(SIGXFSZ, SIG_IGN);
    const rlimit limit{256 * 1024, 256 * 1024};
    if (setrlimit(RLIMIT_FSIZE, &limit) != 0) return 3;
    journal j(path_, echo_run, {.batch_records = batch});
    const std::string padding(200, 'p');
    for (int i = 0; i < 100000; ++i) {
      try {
        j.record_done("task-" + std::to_string(i), 1, {i, padding});
      } catch (const journal_error& e) {
        out = e.what();
        // The failed batch stays buffered; the journal stays usable.
        if (j.buffered() != batch) return 4;
        try {
          j.close();
        } catch (const journal_error&) {
          return e.error_kind() == journal_error::kind::io ? 0 : 5;
        }
        return 6;
      }
    }
    return 7;
  });
  ASSERT_EQ(child.status, 0) << child.output;
  EXPECT_NE(child.output.find("journal '" + path_.string() + "': cannot commit a batch ("),
            std::string::npos)
      << child.output;
  journal j(path_, echo_run);
  const std::size_t saved = j.done_count();
  EXPECT_GT(saved, 0u);
  EXPECT_EQ(saved % batch, 0u);
  for (std::size_t i = 0; i < saved; ++i) {
    ASSERT_TRUE(j.is_done("task-" + std::to_string(i))) << i;
  }
  EXPECT_FALSE(j.is_done("task-" + std::to_string(saved)));
  j.close();
  EXPECT_EQ(sql(path_, "PRAGMA integrity_check"), "ok");
}

// --- durability --------------------------------------------------------------

// The outcome the durability child records for its i-th key.
std::string key_of(std::size_t i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "k%08zu", i);
  return buf;
}
bool fails(std::size_t i) {
  return i % 5 == 3;
}

[[noreturn]] void record_until_killed(const fs::path& path, std::size_t batch, int ready_fd) {
  try {
    journal j(path, echo_run, {.batch_records = batch});
    [[maybe_unused]] auto n = ::write(ready_fd, "r", 1);
    // Resume: every key below the first missing one is already recorded.
    std::size_t i = j.done_count() + j.failed_count();
    for (;; ++i) {
      const std::string key = key_of(i);
      if (fails(i)) {
        j.record_failed(key, 2, {"first " + key, "second " + key},
                        {static_cast<std::int64_t>(i), std::nullopt});
      } else {
        j.record_done(key, 1, {static_cast<std::int64_t>(i), "text " + key});
      }
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "durability child: %s\n", e.what());
    _exit(1);
  }
}

void expect_outcome(const journal& j, std::size_t i) {
  const std::string key = key_of(i);
  const auto r = j.find(key);
  ASSERT_TRUE(r) << key;
  const auto value = static_cast<std::int64_t>(i);
  if (fails(i)) {
    EXPECT_EQ(r->state, journal_state::failed) << key;
    EXPECT_EQ(r->attempts, 2) << key;
    EXPECT_EQ(r->errors, (std::vector<std::string>{"first " + key, "second " + key}));
    EXPECT_EQ(r->meta, (journal_meta{value, std::nullopt})) << key;
  } else {
    EXPECT_EQ(r->state, journal_state::done) << key;
    EXPECT_EQ(r->attempts, 1) << key;
    EXPECT_TRUE(r->errors.empty()) << key;
    EXPECT_EQ(r->meta, (journal_meta{value, "text " + key})) << key;
  }
}

// A child records keys k0, k1, ... in batches, resuming from what is there;
// the parent SIGKILLs it at random moments. After every kill the journal
// opens, passes an integrity check and holds exactly the keys of whole
// committed batches, each with its complete outcome.
TEST_F(Journal, KillNineLeavesWholeBatchesOnly) {
  constexpr std::size_t batch = 64;
  constexpr int iterations = 20;
  constexpr int per_file = 5;  // kills per journal file, so files stay small
  std::mt19937 rng(std::random_device{}());
  std::uniform_int_distribution<int> delay_us(0, 30000);
  std::size_t max_seen = 0;
  std::size_t total_committed = 0;
  for (int it = 0; it < iterations; ++it) {
    SCOPED_TRACE("iteration " + std::to_string(it));
    const fs::path path = dir_ / ("durable-" + std::to_string(it / per_file) + ".db");
    const std::size_t before = [&] {
      if (!fs::exists(path)) return std::size_t{0};
      journal j(path, echo_run);
      return j.done_count() + j.failed_count();
    }();

    int ready[2];
    ASSERT_EQ(pipe(ready), 0);
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) record_until_killed(path, batch, ready[1]);
    ::close(ready[1]);
    // Mostly kill while it records, timed from when its journal is open (a
    // busy machine may take long to get there); sometimes while it opens.
    char byte = 0;
    if (it % 4 != 0) {
      EXPECT_EQ(::read(ready[0], &byte, 1), 1);
    }
    ::close(ready[0]);
    usleep(static_cast<useconds_t>(delay_us(rng)));
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status)) << "the child ended on its own, status " << status;

    {
      journal j(path, echo_run);
      const std::size_t n = j.done_count() + j.failed_count();
      max_seen = std::max(max_seen, n - before);
      total_committed += n - before;
      EXPECT_GE(n, before);
      EXPECT_EQ(n % batch, 0u) << n << " keys: not whole batches";
      for (std::size_t i = 0; i < n; ++i) {
        const std::string key = key_of(i);
        ASSERT_EQ(j.is_done(key), !fails(i)) << "hole at " << key;
        ASSERT_EQ(j.is_failed(key), fails(i)) << "hole at " << key;
      }
      EXPECT_FALSE(j.is_done(key_of(n)) || j.is_failed(key_of(n)));
      // Full outcomes of the batches written since the last check.
      for (std::size_t i = before; i < n; ++i) expect_outcome(j, i);
    }
    ASSERT_EQ(sql(path, "PRAGMA integrity_check"), "ok");
  }
  std::printf("[ journal  ] %d kills; up to %zu keys (%zu in all) committed between kills\n",
              iterations, max_seen, total_committed);
  // The test must have caught the child mid-stream at least once.
  EXPECT_GT(max_seen, 0u);
}

// --- scale -------------------------------------------------------------------

TEST_F(Journal, ReopensOneHundredThousandKeysQuickly) {
  constexpr std::size_t n = 100000;
  {
    journal j(path_, echo_run);
    for (std::size_t i = 0; i < n; ++i) {
      if (i % 100 == 0) {
        j.record_failed(key_of(i), 1, {"e"});
      } else {
        j.record_done(key_of(i));
      }
    }
  }
  const auto start = std::chrono::steady_clock::now();
  journal j(path_, echo_run);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(j.done_count(), n - n / 100);
  EXPECT_EQ(j.failed_count(), n / 100);
  EXPECT_TRUE(j.is_done(key_of(n - 1)));
  EXPECT_TRUE(j.is_failed(key_of(0)));
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count();
  std::printf("[ journal  ] reopening %zu keys took %lld ms\n", n, static_cast<long long>(ms));
  // Generous for sanitizer builds; an optimised build takes a few tens of ms.
  EXPECT_LT(ms, 2000);
}

}  // namespace
