#include <cohort/runner/sqlite_database.hpp>

#include <sqlite3.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <utility>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

namespace cohort {
namespace {

/// `s` on one line: SQLite's integrity reports span several.
std::string one_line(std::string_view s) {
  constexpr std::string_view banner = "*** in database main ***";
  if (s.starts_with(banner)) s.remove_prefix(banner.size());
  std::string out;
  for (const char c : s) {
    if (c == '\n' || c == '\r') {
      if (!out.empty() && out.back() != ' ' && out.back() != ';') out += ';';
      if (!out.empty() && out.back() != ' ') out += ' ';
    } else {
      out += c;
    }
  }
  while (!out.empty() && (out.back() == ' ' || out.back() == ';')) out.pop_back();
  return out;
}

/// The failure of result `code` on `db` (null: the connection could not be
/// made); `errno_after` is errno just after the failed call, which was made
/// with errno 0.
sqlite_failure failure_of(sqlite3* db, int code, sqlite_failure::stage during,
                          std::string_view doing, int errno_after) {
  sqlite_failure f{during, code, 0,
                   one_line(db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(code)), doing};
  // Only an I/O error or a full disk has a meaningful errno: after a failure
  // to open, it is that of SQLite's last probe (ENOENT of a -journal file),
  // which would hide the real cause.
  const int primary = code & 0xff;
  if (db != nullptr && (primary == SQLITE_IOERR || primary == SQLITE_FULL)) {
    f.system_errno = sqlite3_system_errno(db);
    // SQLite 3.40 leaves it 0 after a failed write (measured: EFBIG past
    // RLIMIT_FSIZE); errno itself still holds the cause.
    if (f.system_errno == 0 && primary == SQLITE_IOERR) f.system_errno = errno_after;
    if (f.system_errno != 0) {
      f.message += ": ";
      f.message += std::strerror(f.system_errno);
    }
  }
  return f;
}

/// Takes an flock on `file` (created if needed) and returns its descriptor,
/// or fills `f` and returns -1.
int take_writer_lock(const std::filesystem::path& file, sqlite_failure& f) {
  const int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    f.system_errno = errno;
    struct stat st {};
    const char* doing = ::stat(file.c_str(), &st) == 0 ? "open" : "create";
    f.code = SQLITE_CANTOPEN;
    f.message =
        std::string("cannot ") + doing + " " + file.string() + ": " + std::strerror(f.system_errno);
    return -1;
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    f.system_errno = errno;
    ::close(fd);
    if (f.system_errno == EWOULDBLOCK) {
      f.code = SQLITE_BUSY;
      f.message = "in use by another process";
    } else {
      f.code = SQLITE_CANTOPEN;
      f.message = std::string("cannot lock: ") + std::strerror(f.system_errno);
    }
    return -1;
  }
  return fd;
}

}  // namespace

// --- sqlite_database ---------------------------------------------------------

sqlite_database::sqlite_database(const std::filesystem::path& file, sqlite_lock lock,
                                 sqlite_failure_handler on_failure)
    : path_(file), on_failure_(std::move(on_failure)) {
  if (lock == sqlite_lock::writer) {
    sqlite_failure f{sqlite_failure::stage::locking, SQLITE_OK, 0, {}, "open it"};
    lock_fd_ = take_writer_lock(file, f);
    if (lock_fd_ < 0) report(f);
  }
  errno = 0;
  const int rc =
      sqlite3_open_v2(file.c_str(), &db_,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    const sqlite_failure f = failure_of(db_, rc, sqlite_failure::stage::opening, "open it", errno);
    close();
    report(f);
  }
  sqlite3_extended_result_codes(db_, 1);
  if (lock == sqlite_lock::exclusive) {
    try {
      exec("PRAGMA locking_mode=EXCLUSIVE", "open it");
    } catch (...) {
      close();
      throw;
    }
  }
}

sqlite_database::~sqlite_database() {
  close();
}

void sqlite_database::close() noexcept {
  // The connection first: closing any descriptor of the file drops SQLite's
  // POSIX locks on it, so ours waits for SQLite's connection to be gone.
  sqlite3_close_v2(db_);
  db_ = nullptr;
  if (lock_fd_ >= 0) ::close(lock_fd_);
  lock_fd_ = -1;
}

void sqlite_database::exec(const char* sql, std::string_view doing) {
  errno = 0;
  const int rc = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) fail(rc, sqlite_failure::stage::running, doing);
}

void sqlite_database::fail(int code, sqlite_failure::stage during, std::string_view doing) const {
  report(failure_of(db_, code, during, doing, errno));
}

void sqlite_database::report(const sqlite_failure& f) const {
  if (on_failure_) on_failure_(f);
  throw std::runtime_error(f.message);
}

std::string sqlite_database::quick_check(std::string_view doing) {
  sqlite_statement s(*this, "PRAGMA quick_check", doing);
  if (!s.step()) return "integrity check returned nothing";
  const std::string_view first = s.text_at(0);
  return first == "ok" ? std::string() : one_line(first);
}

bool sqlite_database::in_transaction() const noexcept {
  return db_ != nullptr && sqlite3_get_autocommit(db_) == 0;
}

void sqlite_database::rollback() noexcept {
  if (in_transaction()) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
}

// --- sqlite_statement --------------------------------------------------------

sqlite_statement::sqlite_statement(const sqlite_database& db, const char* sql,
                                   std::string_view doing)
    : db_(&db), doing_(doing) {
  errno = 0;
  const int rc = sqlite3_prepare_v3(db.get(), sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt_, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(stmt_);
    stmt_ = nullptr;
    db.fail(rc, sqlite_failure::stage::preparing, doing);
  }
}

sqlite_statement::~sqlite_statement() {
  sqlite3_finalize(stmt_);
}

sqlite_statement::sqlite_statement(sqlite_statement&& other) noexcept
    : db_(other.db_), stmt_(std::exchange(other.stmt_, nullptr)), doing_(other.doing_) {}

sqlite_statement& sqlite_statement::operator=(sqlite_statement&& other) noexcept {
  if (this != &other) {
    sqlite3_finalize(stmt_);
    db_ = other.db_;
    stmt_ = std::exchange(other.stmt_, nullptr);
    doing_ = other.doing_;
  }
  return *this;
}

sqlite_statement& sqlite_statement::bind(int i, std::int64_t v) {
  sqlite3_bind_int64(stmt_, i, v);
  return *this;
}

sqlite_statement& sqlite_statement::bind_null(int i) {
  sqlite3_bind_null(stmt_, i);
  return *this;
}

sqlite_statement& sqlite_statement::bind_text(int i, std::string_view s) {
  sqlite3_bind_text(stmt_, i, s.data(), static_cast<int>(s.size()), SQLITE_STATIC);
  return *this;
}

sqlite_statement& sqlite_statement::bind_blob(int i, std::string_view s) {
  sqlite3_bind_blob(stmt_, i, s.data(), static_cast<int>(s.size()), SQLITE_STATIC);
  return *this;
}

bool sqlite_statement::step() {
  errno = 0;
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) {
    sqlite3_reset(stmt_);
    return false;
  }
  // The message first: resetting may replace it.
  const sqlite_failure f =
      failure_of(db_->get(), rc, sqlite_failure::stage::running, doing_, errno);
  sqlite3_reset(stmt_);
  db_->report(f);
}

void sqlite_statement::run() {
  while (step()) {
  }
}

void sqlite_statement::reset() noexcept {
  sqlite3_reset(stmt_);
}

std::int64_t sqlite_statement::int_at(int i) const noexcept {
  return sqlite3_column_int64(stmt_, i);
}

std::string_view sqlite_statement::text_at(int i) const noexcept {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, i));
  if (p == nullptr) return {};
  return {p, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, i))};
}

bool sqlite_statement::is_null(int i) const noexcept {
  return sqlite3_column_type(stmt_, i) == SQLITE_NULL;
}

}  // namespace cohort
