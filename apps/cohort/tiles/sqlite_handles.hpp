#pragma once

// Internal to the tile stores (detail): RAII handles on an SQLite
// connection and a prepared statement, which report every failure as a
// tile_store_error naming the output.

#include <sqlite3.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>

#include "cohort/tiles/tile_math.hpp"
#include "cohort/tiles/tile_store.hpp"

namespace cohort::app::tiles::detail {

// SQLite's message for the last failure on `db`, with the errno behind a
// disk I/O error ("disk I/O error: No space left on device"). Not for a
// failure to open: SQLite's last attempt there is a read-only open, whose
// errno (ENOENT for a journal not yet made) hides the real cause.
inline std::string error_text(sqlite3* db) {
  std::string text = sqlite3_errmsg(db);
  if ((sqlite3_extended_errcode(db) & 0xff) == SQLITE_IOERR) {
    if (const int error = sqlite3_system_errno(db); error != 0) {
      text += ": ";
      text += std::strerror(error);
    }
  }
  return text;
}

// One connection. Any failure throws tile_store_error naming the output and
// marks the connection failed: the transaction's outcome is then unknown and
// the store refuses further changes.
class database {
 public:
  database(const std::string& file, std::string shown) : shown_(std::move(shown)) {
    const int rc =
        sqlite3_open_v2(file.c_str(), &db_,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK) {
      const std::string message = db_ != nullptr ? error_text(db_) : sqlite3_errstr(rc);
      sqlite3_close_v2(db_);
      db_ = nullptr;
      throw tile_store_error("output " + shown_ + ": cannot open: " + message);
    }
    sqlite3_extended_result_codes(db_, 1);
  }
  database(const database&) = delete;
  database& operator=(const database&) = delete;
  ~database() { sqlite3_close_v2(db_); }

  sqlite3* get() const { return db_; }
  bool failed() const { return failed_; }
  const std::string& failure() const { return failure_; }

  // The last failure was SQLite's "unable to open database file".
  bool cannot_open() const {
    return failed_ && (sqlite3_extended_errcode(db_) & 0xff) == SQLITE_CANTOPEN;
  }

  [[noreturn]] void fail(std::string_view doing) {
    failed_ = true;
    failure_ = "output " + shown_ + ": " + error_text(db_) + " (" + std::string(doing) + ")";
    throw tile_store_error(failure_);
  }

  void exec(const char* sql, std::string_view doing) {
    if (sqlite3_exec(db_, sql, nullptr, nullptr, nullptr) != SQLITE_OK) fail(doing);
  }

 private:
  sqlite3* db_ = nullptr;
  std::string shown_;
  bool failed_ = false;
  std::string failure_;
};

class statement {
 public:
  statement(database& db, const char* sql, std::string_view doing) : db_(&db), doing_(doing) {
    if (sqlite3_prepare_v3(db.get(), sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt_, nullptr) !=
        SQLITE_OK) {
      db.fail(doing);
    }
  }
  statement(const statement&) = delete;
  statement& operator=(const statement&) = delete;
  ~statement() { sqlite3_finalize(stmt_); }

  statement& bind(int i, std::int64_t v) {
    sqlite3_bind_int64(stmt_, i, v);
    return *this;
  }
  // The bytes must stay alive until step() returns false or reset().
  statement& bind_text(int i, std::string_view s) {
    sqlite3_bind_text(stmt_, i, s.data(), static_cast<int>(s.size()), SQLITE_STATIC);
    return *this;
  }
  statement& bind_blob(int i, std::string_view s) {
    sqlite3_bind_blob(stmt_, i, s.data(), static_cast<int>(s.size()), SQLITE_STATIC);
    return *this;
  }
  statement& bind_tile(const tile& t) { return bind(1, t.z).bind(2, t.x).bind(3, t.y); }

  // Returns true for a row, false when done (then resets).
  bool step() {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    sqlite3_reset(stmt_);
    if (rc != SQLITE_DONE) db_->fail(doing_);
    return false;
  }
  // Runs a statement that returns no rows.
  void run() {
    while (step()) {
    }
  }
  void reset() { sqlite3_reset(stmt_); }

  std::int64_t int_at(int i) const { return sqlite3_column_int64(stmt_, i); }
  std::string text_at(int i) const {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, i));
    return p == nullptr ? std::string()
                        : std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, i)));
  }

 private:
  database* db_;
  sqlite3_stmt* stmt_ = nullptr;
  std::string_view doing_;
};

}  // namespace cohort::app::tiles::detail
