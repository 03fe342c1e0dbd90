// The SQLite journal as run_tasks' journal: resume, fingerprints, damaged
// files, graceful stops and kill -9 during a batch commit, end to end.
#include <cohort/runner/runner_journal.hpp>

#include <gtest/gtest.h>
#include <cohort/runner/journal.hpp>
#include <cohort/runner/run_tasks.hpp>
#include <cohort/sleep.hpp>

#include <sqlite3.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

#include "virtual_loop.hpp"

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using cohort::journal;
using cohort::journal_error;

namespace {

static_assert(std::is_base_of_v<cohort::runner_journal, journal>,
              "the SQLite journal is usable as run_tasks' journal");

const cohort::journal_fingerprint fetch_run{{"command", "fetch {}"}, {"inputs", "sha256:1"}};

std::string key_of(int i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "k%07d", i);
  return buf;
}

// What the items of a run do and did.
struct trace {
  std::function<cohort::task<>(int index, int attempt)> body;
  std::map<int, int> attempts;
  std::set<std::string> ran;  // keys whose run() was called
};

struct keyed_item {
  int index;
  trace* t;
  std::string key_;
  std::string_view key() const { return key_; }
  cohort::task<> run() {
    t->ran.insert(key_);
    return t->body(index, ++t->attempts[index]);
  }
};

struct keyed_source {
  int n;
  trace* t;
  int next_ = 0;
  std::optional<keyed_item> next() {
    if (next_ >= n) return std::nullopt;
    const int i = next_++;
    return keyed_item{i, t, key_of(i)};
  }
  std::size_t size() const { return static_cast<std::size_t>(n); }
};

cohort::task<> sleep_then(cohort::duration d, std::string fail_with = {}) {
  co_await cohort::sleep_for(d);
  if (!fail_with.empty()) throw std::runtime_error(fail_with);
}

std::set<std::string> keys_between(int first, int end) {
  std::set<std::string> keys;
  for (int i = first; i < end; ++i) keys.insert(key_of(i));
  return keys;
}

std::string read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_bytes(const fs::path& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << bytes;
}

/// The first column of the first row of `statement`, run with a plain
/// SQLite connection ("" if none).
std::string sql(const fs::path& db, const std::string& statement) {
  sqlite3* raw = nullptr;
  std::string result;
  if (sqlite3_open_v2(db.c_str(), &raw, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
    sqlite3_close(raw);
    throw std::runtime_error("sql: cannot open " + db.string());
  }
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v2(raw, statement.c_str(), -1, &s, nullptr) == SQLITE_OK &&
      sqlite3_step(s) == SQLITE_ROW && sqlite3_column_text(s, 0) != nullptr) {
    result = reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
  }
  sqlite3_finalize(s);
  sqlite3_close(raw);
  return result;
}

/// The error that opening `path` throws; fails the test if it opens.
journal_error open_error(const fs::path& path, const cohort::journal_fingerprint& fp,
                         cohort::journal_options options = {}) {
  try {
    journal j(path, fp, options);
  } catch (const journal_error& e) {
    return e;
  }
  ADD_FAILURE() << "journal " << path << " opened";
  return journal_error(journal_error::kind::io, "");
}

/// A fresh directory, removed with everything in it.
struct temp_dir {
  fs::path path;
  temp_dir() {
    std::string templ = (fs::temp_directory_path() / "cohort-runner-journal-XXXXXX").string();
    if (mkdtemp(templ.data()) == nullptr) throw std::runtime_error("mkdtemp");
    path = templ;
  }
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

class RunnerJournal : public ::testing::Test {
 protected:
  temp_dir dir_;
  fs::path path_ = dir_.path / "run.db";
};

// --- resume ------------------------------------------------------------------

TEST_F(RunnerJournal, ResumeSkipsDoneAndRerunsNotStartedAndCancelled) {
  cohort::test::virtual_loop loop;
  {
    // Items 0-29 take 1 ms, the rest 10 s: at 50 ms, 30 are done, 10 are
    // running (30-39) and 60 were never admitted.
    journal j(path_, fetch_run);
    trace t;
    t.body = [](int i, int) { return sleep_then(i < 30 ? 1ms : 10s); };
    cohort::runner_options o;
    o.journal = &j;
    cohort::task_runner r(keyed_source{100, &t}, 10, o);
    loop.call_after(50ms, [&] { loop.cancel_root(cohort::cancel_reason::signal); });
    EXPECT_THROW(loop.run(r.run()), cohort::cancelled_error);
    EXPECT_EQ(r.summary().done, 30u);
    EXPECT_EQ(r.summary().cancelled, 10u);
    EXPECT_EQ(r.summary().not_started, 60u);
    EXPECT_EQ(t.ran, keys_between(0, 40));
    EXPECT_EQ(j.done_count(), 30u);
    EXPECT_EQ(j.failed_count(), 0u);
    // Cancelled and never-started tasks leave no record: they stay pending.
    EXPECT_FALSE(j.find(key_of(35)));
    EXPECT_FALSE(j.find(key_of(80)));
    EXPECT_EQ(j.buffered(), 0u) << "the run committed its records before it returned";
  }
  journal j(path_, fetch_run);
  trace t;
  t.body = [](int, int) { return sleep_then(1ms); };
  cohort::runner_options o;
  o.journal = &j;
  cohort::task_runner r(keyed_source{100, &t}, 10, o);
  loop.run(r.run());
  EXPECT_EQ(r.summary().skipped, 30u);
  EXPECT_EQ(r.summary().done, 70u);
  EXPECT_EQ(t.ran, keys_between(30, 100)) << "exactly the cancelled and never-started ran";
  EXPECT_EQ(j.done_count(), 100u);
  const auto rec = j.find(key_of(99));
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec->state, cohort::journal_state::done);
  EXPECT_EQ(rec->attempts, 1);
}

TEST_F(RunnerJournal, FailedTasksKeepEveryErrorAndRerunOnlyOnRequest) {
  cohort::test::virtual_loop loop;
  journal j(path_, fetch_run);
  cohort::runner_options o;
  o.journal = &j;
  o.retry.max_attempts = 3;
  o.retry.initial = 1ms;
  {
    trace t;
    t.body = [](int i, int attempt) {
      return sleep_then(1ms, i == 3 || i == 7 ? key_of(i) + " attempt " + std::to_string(attempt)
                                              : std::string());
    };
    cohort::task_runner r(keyed_source{10, &t}, 4, o);
    loop.run(r.run());
    EXPECT_EQ(r.summary().done, 8u);
    EXPECT_EQ(r.summary().failed, 2u);
  }
  const auto rec = j.find(key_of(3));
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec->state, cohort::journal_state::failed);
  EXPECT_EQ(rec->attempts, 3);
  EXPECT_EQ(rec->errors, (std::vector<std::string>{"k0000003 attempt 1", "k0000003 attempt 2",
                                                   "k0000003 attempt 3"}));
  const auto done = j.find(key_of(4));
  ASSERT_TRUE(done);
  EXPECT_EQ(done->attempts, 1);
  {
    // Resumed without rerun_failed: done and failed keys are all skipped.
    trace t;
    t.body = [](int, int) { return sleep_then(1ms); };
    cohort::task_runner r(keyed_source{10, &t}, 4, o);
    loop.run(r.run());
    EXPECT_EQ(r.summary().skipped, 10u);
    EXPECT_TRUE(t.ran.empty());
  }
  {
    // With rerun_failed: exactly the failed keys run, and now succeed.
    trace t;
    t.body = [](int, int) { return sleep_then(1ms); };
    o.rerun_failed = true;
    cohort::task_runner r(keyed_source{10, &t}, 4, o);
    loop.run(r.run());
    EXPECT_EQ(r.summary().skipped, 8u);
    EXPECT_EQ(r.summary().done, 2u);
    EXPECT_EQ(t.ran, (std::set<std::string>{key_of(3), key_of(7)}));
  }
  EXPECT_TRUE(j.is_done(key_of(3)));
  EXPECT_EQ(j.failed_count(), 0u);
  j.close();
  EXPECT_EQ(journal(path_, fetch_run).done_count(), 10u);
}

void run_all(const fs::path& path, const cohort::journal_fingerprint& fp, int n,
             cohort::journal_options jo = {}) {
  cohort::test::virtual_loop loop;
  journal j(path, fp, jo);
  trace t;
  t.body = [](int, int) { return sleep_then(1ms); };
  cohort::runner_options o;
  o.journal = &j;
  cohort::task_runner r(keyed_source{n, &t}, 8, o);
  loop.run(r.run());
}

TEST_F(RunnerJournal, DifferentRunStopsNamingWhatDiffersUnlessForced) {
  run_all(path_, fetch_run, 20);
  const cohort::journal_fingerprint other{{"command", "fetch -v {}"}, {"inputs", "sha256:1"}};
  const auto e = open_error(path_, other);
  EXPECT_EQ(e.error_kind(), journal_error::kind::different_run);
  EXPECT_NE(std::string(e.what()).find("\"command\" was 'fetch {}', now 'fetch -v {}'"),
            std::string::npos)
      << e.what();
  EXPECT_EQ(journal(path_, fetch_run).done_count(), 20u) << "the refused open changed nothing";

  // Forced: the journal starts over for the new run, which runs everything.
  cohort::test::virtual_loop loop;
  journal j(path_, other, {.force = true});
  ASSERT_TRUE(j.reset_note());
  EXPECT_NE(j.reset_note()->find("dropping 20 done"), std::string::npos) << *j.reset_note();
  trace t;
  t.body = [](int, int) { return sleep_then(1ms); };
  cohort::runner_options o;
  o.journal = &j;
  cohort::task_runner r(keyed_source{20, &t}, 8, o);
  loop.run(r.run());
  EXPECT_EQ(r.summary().skipped, 0u);
  EXPECT_EQ(t.ran.size(), 20u);
}

TEST_F(RunnerJournal, DamagedJournalIsAClearErrorAndLeftUntouched) {
  run_all(path_, fetch_run, 5000);
  std::string bytes = read_bytes(path_);
  constexpr std::size_t page = 4096;
  ASSERT_GT(bytes.size(), 10 * page);
  const std::size_t middle = bytes.size() / page / 2 * page;
  std::mt19937 rng(3);
  for (std::size_t i = middle; i < middle + page; ++i) bytes[i] = static_cast<char>(rng());
  write_bytes(path_, bytes);
  for (const bool force : {false, true}) {
    const auto e = open_error(path_, fetch_run, {.force = force});
    EXPECT_EQ(e.error_kind(), journal_error::kind::corrupt);
    EXPECT_EQ(std::string(e.what()).rfind("journal '" + path_.string() + "' is corrupt (", 0), 0u)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("move it aside or delete it"), std::string::npos);
  }
  EXPECT_EQ(read_bytes(path_), bytes) << "a damaged journal is never modified";

  write_bytes(path_, std::string(10000, 'x'));
  EXPECT_EQ(open_error(path_, fetch_run).error_kind(), journal_error::kind::corrupt);
}

TEST_F(RunnerJournal, JournalOfANewerVersionIsAClearError) {
  run_all(path_, fetch_run, 10);
  sql(path_, "PRAGMA user_version = 2");
  const std::string before = read_bytes(path_);
  for (const bool force : {false, true}) {
    const auto e = open_error(path_, fetch_run, {.force = force});
    EXPECT_EQ(e.error_kind(), journal_error::kind::newer_version);
    EXPECT_NE(std::string(e.what()).find("has format version 2, but this Cohort reads versions "
                                         "up to 1"),
              std::string::npos)
        << e.what();
  }
  EXPECT_EQ(read_bytes(path_), before);
}

// --- graceful stops ------------------------------------------------------------

/// What a child process saw finish, as "d key" and "f key" lines.
struct finished_keys {
  std::set<std::string> done, failed;
};

finished_keys parse_finished(const std::string& text) {
  finished_keys f;
  std::istringstream in(text);
  std::string kind, key;
  while (in >> kind >> key) (kind == "d" ? f.done : f.failed).insert(key);
  return f;
}

/// Forks a child that opens a journal which commits nothing on its own (no
/// batch ever fills, the interval is an hour), runs `stop` on a run of 200
/// items and then `_exit`s at once, skipping every destructor: whatever the
/// journal holds afterwards was committed by the runner before `run()`
/// returned. Returns what the child saw finish.
finished_keys run_and_exit_in_child(
    const fs::path& path,
    const std::function<void(cohort::test::virtual_loop&, cohort::runner_options&, trace&)>&
        setup) {
  int fds[2];
  if (pipe(fds) != 0) throw std::runtime_error("pipe");
  const pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork");
  if (pid == 0) {
    ::close(fds[0]);
    std::string out;
    const auto report_and_exit = [&] {
      [[maybe_unused]] auto n = ::write(fds[1], out.data(), out.size());
      _exit(0);
    };
    try {
      journal j(path, fetch_run, {.batch_records = 1'000'000, .flush_interval = 1h});
      cohort::test::virtual_loop loop;
      trace t;
      cohort::runner_options o;
      o.journal = &j;
      o.on_event = [&](const cohort::task_event& e) {
        if (e.what == cohort::task_event::kind::done) out += "d " + std::string(e.key) + "\n";
        if (e.what == cohort::task_event::kind::failed) out += "f " + std::string(e.key) + "\n";
      };
      setup(loop, o, t);
      cohort::task_runner r(keyed_source{200, &t}, 10, o);
      try {
        loop.run(r.run());
      } catch (const cohort::cancelled_error&) {
      }
      if (j.buffered() != 0) out += "x buffered-after-run\n";
      report_and_exit();  // here, before the runner's and the journal's destructors
    } catch (const std::exception& e) {
      out += std::string("x ") + e.what() + "\n";
    }
    report_and_exit();
  }
  ::close(fds[1]);
  std::string text;
  char buf[4096];
  ssize_t n = 0;
  while ((n = ::read(fds[0], buf, sizeof buf)) > 0) text.append(buf, static_cast<std::size_t>(n));
  ::close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
  EXPECT_EQ(text.find("x "), std::string::npos) << text;
  return parse_finished(text);
}

void expect_journal_holds(const fs::path& path, const finished_keys& f) {
  journal j(path, fetch_run);
  EXPECT_EQ(j.done_count(), f.done.size());
  EXPECT_EQ(j.failed_count(), f.failed.size());
  for (const auto& k : f.done) EXPECT_TRUE(j.is_done(k)) << k;
  for (const auto& k : f.failed) EXPECT_TRUE(j.is_failed(k)) << k;
}

TEST_F(RunnerJournal, CancelledRunCommitsEveryFinishedTaskBeforeItReturns) {
  const auto f = run_and_exit_in_child(path_, [](auto& loop, auto&, trace& t) {
    t.body = [](int i, int) { return sleep_then(i < 45 ? 1ms : 10s, i == 5 ? "five" : ""); };
    loop.call_after(50ms, [&loop] { loop.cancel_root(cohort::cancel_reason::signal); });
  });
  EXPECT_EQ(f.done.size(), 44u);
  EXPECT_EQ(f.failed.size(), 1u);
  expect_journal_holds(path_, f);
}

TEST_F(RunnerJournal, HaltedRunCommitsEveryFinishedTaskBeforeItReturns) {
  for (const auto mode : {cohort::halt_policy::when::now, cohort::halt_policy::when::soon}) {
    const temp_dir d;
    const fs::path path = d.path / "run.db";
    const auto f = run_and_exit_in_child(path, [mode](auto&, auto& o, trace& t) {
      // Item 57 fails after 1 ms, while others run; they take 1 ms or 9 ms.
      t.body = [](int i, int) {
        return i == 57 ? sleep_then(1ms, "boom") : sleep_then(i % 2 == 0 ? 1ms : 9ms);
      };
      o.halt = {mode, cohort::halt_policy::on::fail, 1, 0};
    });
    EXPECT_EQ(f.failed, (std::set<std::string>{key_of(57)}));
    EXPECT_GT(f.done.size(), 20u);
    EXPECT_LT(f.done.size(), 70u);
    expect_journal_holds(path, f);
  }
}

TEST_F(RunnerJournal, DrainedRunCommitsEveryFinishedTaskBeforeItReturns) {
  cohort::event drain;
  const auto f = run_and_exit_in_child(path_, [&drain](auto& loop, auto& o, trace& t) {
    t.body = [](int, int) { return sleep_then(3ms); };
    o.drain = &drain;
    loop.call_after(10ms, [&drain] { drain.set(); });
  });
  EXPECT_EQ(f.done.size(), 40u);  // 10 at a time, admitted at 0, 3, 6 and 9 ms
  expect_journal_holds(path_, f);
}

// --- kill -9 during a batch commit ---------------------------------------------

// The test re-executes its own binary as the child, with this variable set
// to "<journal>\n<log>\n<fd>".
constexpr const char* kill_child_env = "COHORT_RUNNER_JOURNAL_KILL_CHILD";
constexpr int kill_items = 200'000;
constexpr std::size_t kill_batch = 1024;
constexpr std::size_t kill_concurrency = 64;

/// A runner_journal around the SQLite journal that commits every `batch`
/// records and tells the parent through `fd` when a commit begins ('b') and
/// when it has ended ('e'), so the parent can kill the child in the middle
/// of one.
struct signalling_journal final : cohort::runner_journal {
  signalling_journal(journal& inner, int pipe) : j(inner), fd(pipe) {}
  journal& j;
  int fd;
  bool is_done(std::string_view k) const noexcept override { return j.is_done(k); }
  bool is_failed(std::string_view k) const noexcept override { return j.is_failed(k); }
  void record_done(std::string_view k, int attempts) override {
    j.record_done(k, attempts);
    if (j.buffered() >= kill_batch) flush();
  }
  void record_failed(std::string_view k, int attempts, std::vector<std::string> errors) override {
    j.record_failed(k, attempts, std::move(errors));
    if (j.buffered() >= kill_batch) flush();
  }
  bool maybe_flush(time_point) override { return false; }
  void flush() override {
    if (j.buffered() == 0) return;
    [[maybe_unused]] auto b = ::write(fd, "b", 1);
    j.flush();
    [[maybe_unused]] auto e = ::write(fd, "e", 1);
  }
};

/// The child: resumes the run of `kill_items` items; each appends its key to
/// the log as the last thing it does.
[[noreturn]] void kill_child(const std::string& spec) {
  std::istringstream in(spec);
  std::string journal_path, log_path, fd_text;
  std::getline(in, journal_path);
  std::getline(in, log_path);
  std::getline(in, fd_text);
  const int fd = std::stoi(fd_text);
  try {
    journal j(journal_path, fetch_run, {.batch_records = 1u << 30});
    signalling_journal sj(j, fd);
    const int log = ::open(log_path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (log < 0) throw std::runtime_error("cannot open the log");
    struct item {
      std::string key_;
      int log;
      std::string_view key() const { return key_; }
      cohort::task<> run() {
        co_await cohort::checkpoint();
        const std::string line = key_ + "\n";
        if (::write(log, line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
          throw std::runtime_error("log write");
        }
      }
    };
    struct source {
      int log;
      int next_ = 0;
      std::optional<item> next() {
        if (next_ >= kill_items) return std::nullopt;
        return item{key_of(next_++), log};
      }
      std::size_t size() const { return kill_items; }
    };
    [[maybe_unused]] auto r = ::write(fd, "r", 1);
    cohort::test::virtual_loop loop;
    cohort::runner_options o;
    o.journal = &sj;
    cohort::task_runner runner(source{log}, kill_concurrency, o);
    loop.run(runner.run());
    j.close();
    _exit(runner.summary().done + runner.summary().skipped == kill_items ? 0 : 3);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "kill -9 child: %s\n", e.what());
    _exit(1);
  }
}

/// Starts the child; returns its pid and the read end of its pipe.
std::pair<pid_t, int> start_kill_child(const fs::path& journal_path, const fs::path& log_path) {
  int fds[2];
  if (pipe(fds) != 0) throw std::runtime_error("pipe");
  const std::string spec =
      journal_path.string() + "\n" + log_path.string() + "\n" + std::to_string(fds[1]);
  const std::string filter =
      std::string("--gtest_filter=") +
      ::testing::UnitTest::GetInstance()->current_test_info()->test_suite_name() + "." +
      ::testing::UnitTest::GetInstance()->current_test_info()->name();
  const pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork");
  if (pid == 0) {
    ::close(fds[0]);
    const int null = ::open("/dev/null", O_WRONLY);
    if (null >= 0) dup2(null, STDOUT_FILENO);
    setenv(kill_child_env, spec.c_str(), 1);
    const char* argv[] = {"cohort_unit_tests", filter.c_str(), nullptr};
    execv("/proc/self/exe", const_cast<char* const*>(argv));
    _exit(127);
  }
  ::close(fds[1]);
  return {pid, fds[0]};
}

/// Kills and reaps a child that a failed assertion left running.
struct reaper {
  pid_t pid;
  ~reaper() {
    if (waitpid(pid, nullptr, WNOHANG) == 0) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
  }
};

/// Reads the child's pipe byte by byte until the `n`-th byte `want`; returns
/// false at the end of the pipe.
bool read_until(int fd, char want, int n, std::string& seen) {
  char c = 0;
  while (n > 0 && ::read(fd, &c, 1) == 1) {
    seen += c;
    if (c == want) --n;
  }
  return n == 0;
}

/// The keys in `log` from byte `from` on, in order.
std::vector<std::string> log_keys(const fs::path& log, std::size_t from) {
  const std::string text = read_bytes(log);
  std::vector<std::string> keys;
  std::istringstream in(text.substr(std::min(from, text.size())));
  std::string k;
  while (std::getline(in, k)) keys.push_back(k);
  return keys;
}

std::set<std::string> committed_done(const fs::path& path) {
  // The journal's own view, after opening it as a resumed run would.
  journal j(path, fetch_run);
  std::set<std::string> done;
  for (int i = 0; i < kill_items; ++i) {
    if (j.is_done(key_of(i))) done.insert(key_of(i));
  }
  EXPECT_EQ(j.failed_count(), 0u);
  return done;
}

// A child resumes a run of 200k items through run_tasks with the SQLite
// journal, committing every 1024 records; the parent SIGKILLs it at random
// moments, mostly while a batch commits. After every kill the journal opens
// and passes an integrity check, the keys committed grow by whole batches,
// no key committed before the kill ran again, and at most the in-flight
// tasks (the uncommitted batch and the running tasks) ran without being
// committed. A last, uninterrupted run then finishes exactly the rest.
TEST(RunnerJournalKill, KillNineDuringABatchCommitLosesOnlyInFlightTasks) {
  if (const char* spec = std::getenv(kill_child_env)) kill_child(spec);

  const temp_dir dir;
  const fs::path path = dir.path / "run.db";
  const fs::path log = dir.path / "ran.log";
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  constexpr int kills = 6;  // each child is ~15x slower; the normal tree does 24
#else
  constexpr int kills = 24;
#endif
  std::mt19937 rng(std::random_device{}());
  std::uniform_int_distribution<int> commits_before_kill(1, 3);
  std::uniform_int_distribution<int> delay_us(0, 1500);
  std::set<std::string> committed;  // done keys in the journal before each child
  std::size_t log_offset = 0;
  int during_commit = 0;
  std::size_t most_lost = 0;
  for (int it = 0; it < kills; ++it) {
    SCOPED_TRACE("kill " + std::to_string(it));
    auto [pid, fd] = start_kill_child(path, log);
    const reaper reap{pid};
    std::string seen;
    ASSERT_TRUE(read_until(fd, 'r', 1, seen)) << "the child did not start";
    ASSERT_TRUE(read_until(fd, 'b', commits_before_kill(rng), seen))
        << "the child ended before its commits; saw '" << seen << "'";
    // Kill at a random moment after a commit began: a commit of 1024 records
    // takes about a millisecond, so most kills land inside one.
    const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(delay_us(rng));
    while (std::chrono::steady_clock::now() < until) {
    }
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    char rest[4096];
    ssize_t n = 0;
    while ((n = ::read(fd, rest, sizeof rest)) > 0) seen.append(rest, static_cast<std::size_t>(n));
    ::close(fd);
    ASSERT_TRUE(WIFSIGNALED(status)) << "the child ended on its own, status " << status;
    if (seen.back() == 'b') ++during_commit;

    ASSERT_EQ(sql(path, "PRAGMA integrity_check"), "ok");
    const std::set<std::string> now = committed_done(path);
    EXPECT_EQ((now.size() - committed.size()) % kill_batch, 0u)
        << now.size() << " keys: not whole batches";
    const std::vector<std::string> ran = log_keys(log, log_offset);
    log_offset = fs::file_size(log);
    const std::set<std::string> ran_set(ran.begin(), ran.end());
    EXPECT_EQ(ran_set.size(), ran.size()) << "a key ran twice in one run";
    std::size_t lost = 0;
    for (const auto& k : ran) {
      ASSERT_FALSE(committed.contains(k)) << k << " was done before, and ran again";
      if (!now.contains(k)) ++lost;
    }
    for (const auto& k : now) {
      ASSERT_TRUE(committed.contains(k) || ran_set.contains(k)) << k << " done without running";
    }
    EXPECT_LE(lost, kill_batch + kill_concurrency) << "more than the in-flight tasks were lost";
    most_lost = std::max(most_lost, lost);
    committed = now;
  }

  // The last run is not interrupted: it finishes exactly the rest.
  auto [pid, fd] = start_kill_child(path, log);
  std::string seen;
  char rest[4096];
  ssize_t n = 0;
  while ((n = ::read(fd, rest, sizeof rest)) > 0) seen.append(rest, static_cast<std::size_t>(n));
  ::close(fd);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
  const std::vector<std::string> ran = log_keys(log, log_offset);
  for (const auto& k : ran) ASSERT_FALSE(committed.contains(k)) << k << " ran again";
  EXPECT_EQ(committed.size() + ran.size(), static_cast<std::size_t>(kill_items));
  EXPECT_EQ(committed_done(path).size(), static_cast<std::size_t>(kill_items));

  std::printf("[ journal  ] %d kills, %d during a commit; at most %zu in-flight tasks re-ran\n",
              kills, during_commit, most_lost);
  EXPECT_GT(during_commit, 0) << "no kill landed inside a batch commit";
}

}  // namespace
