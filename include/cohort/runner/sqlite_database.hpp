#pragma once
/// \file
/// `cohort::sqlite_database`: an SQLite file that is ours, held under an
/// exclusive lock, and its prepared statements, whose every failure reaches
/// the owner once, as one line with the errno behind an I/O error. The
/// journal and the tile stores of `cohort tiles` are built on it
/// (docs/journal.md, "One component for resumable state").

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>

struct sqlite3;
struct sqlite3_stmt;

namespace cohort {

/// One failed operation of an `sqlite_database`, as its failure handler sees it.
struct sqlite_failure {
  /// What the database was doing.
  enum class stage {
    locking,    ///< taking the `writer` lock (see `sqlite_lock`)
    opening,    ///< opening the connection
    preparing,  ///< compiling a statement: with fixed SQL, a sign the file is not ours
    running,    ///< executing or stepping
  };
  stage during;
  /// SQLite's extended result code (sqlite3.h). Taking the lock reports
  /// SQLITE_BUSY when another process holds it and SQLITE_CANTOPEN when the
  /// file cannot be opened or locked.
  int code;
  /// The errno behind the failure, 0 if SQLite or the system gave none.
  int system_errno;
  /// One line: SQLite's message, followed for an I/O error or a full disk by
  /// the errno's text ("disk I/O error: No space left on device"). While
  /// locking: "cannot create F: Permission denied", "cannot open F: ...",
  /// "cannot lock: ...", or "in use by another process".
  std::string message;
  /// What the owner was doing, as it told the call ("committing").
  std::string_view doing;

  /// The primary result code (SQLITE_IOERR for SQLITE_IOERR_WRITE).
  int primary_code() const noexcept { return code & 0xff; }
};

/// Turns a failure into the owner's error and throws it: each owner keeps its
/// own error type and wording. Should it return, the database throws
/// `std::runtime_error(failure.message)`.
using sqlite_failure_handler = std::function<void(const sqlite_failure&)>;

/// How an `sqlite_database` keeps other processes out of its file.
enum class sqlite_lock {
  /// SQLite's exclusive locking mode: the first read takes the file lock and
  /// the first write locks out every other connection until close; WAL mode
  /// then keeps its index in memory (no -shm file). Another process is
  /// refused with SQLITE_BUSY at its first read or write (stage `running`).
  exclusive,
  /// An flock on the file itself, taken before opening: another writer that
  /// asks the same is refused at once (stage `locking`), while readers
  /// (sqlite3, GDAL) go on reading what was committed.
  writer,
};

/// A connection to an SQLite file that is ours: opened read-write (created
/// if absent), with extended result codes, under `lock`.
///
/// Every failure, opening included, goes to the handler given at
/// construction, which throws the owner's error; the connection stays open
/// and usable for what the owner decides to do next (roll back, close).
/// Closing drops the lock after the connection, since closing any
/// descriptor of the file drops SQLite's own POSIX locks. Statements must be
/// destroyed before their database. Not thread-safe: one thread at a time.
///
///     cohort::sqlite_database db("out.db", cohort::sqlite_lock::writer,
///                                [](const cohort::sqlite_failure& f) { throw my_error(f.message);
///                                });
///     db.exec("CREATE TABLE IF NOT EXISTS t (v)", "creating its tables");
class sqlite_database {
 public:
  sqlite_database(const std::filesystem::path& file, sqlite_lock lock,
                  sqlite_failure_handler on_failure);
  ~sqlite_database();
  sqlite_database(const sqlite_database&) = delete;
  sqlite_database& operator=(const sqlite_database&) = delete;

  /// The raw connection, for what this class does not wrap.
  sqlite3* get() const noexcept { return db_; }
  const std::filesystem::path& path() const noexcept { return path_; }

  /// Runs `sql` (several statements allowed); a failure goes to the handler.
  void exec(const char* sql, std::string_view doing);
  /// Reports a failure of result `code` while `doing`, with the
  /// connection's message (and errno as the failed call left it). Never returns.
  [[noreturn]] void fail(int code, sqlite_failure::stage during, std::string_view doing) const;

  /// SQLite's quick integrity check: empty when the file is sound, else its
  /// first finding on one line ("Page 3: btreeInitPage() returns error code 11").
  std::string quick_check(std::string_view doing);

  /// Whether a transaction is open.
  bool in_transaction() const noexcept;
  /// Rolls back the open transaction, if any, ignoring errors: for an
  /// owner's cleanup after a failure.
  void rollback() noexcept;

 private:
  friend class sqlite_statement;
  [[noreturn]] void report(const sqlite_failure& f) const;
  void close() noexcept;

  std::filesystem::path path_;
  sqlite_failure_handler on_failure_;
  sqlite3* db_ = nullptr;
  int lock_fd_ = -1;
};

/// A prepared statement of an `sqlite_database` (persistent: prepared once,
/// stepped many times). Empty when default-constructed or moved from.
///
///     cohort::sqlite_statement s(db, "SELECT v FROM t WHERE k = ?1", "reading t");
///     s.bind_text(1, key);
///     while (s.step()) use(s.text_at(0));
class sqlite_statement {
 public:
  sqlite_statement() = default;
  /// Compiles `sql`; a failure goes to the database's handler (stage `preparing`).
  sqlite_statement(const sqlite_database& db, const char* sql, std::string_view doing);
  ~sqlite_statement();
  sqlite_statement(sqlite_statement&& other) noexcept;
  sqlite_statement& operator=(sqlite_statement&& other) noexcept;
  sqlite_statement(const sqlite_statement&) = delete;
  sqlite_statement& operator=(const sqlite_statement&) = delete;

  explicit operator bool() const noexcept { return stmt_ != nullptr; }
  sqlite3_stmt* get() const noexcept { return stmt_; }

  sqlite_statement& bind(int i, std::int64_t v);
  sqlite_statement& bind_null(int i);
  /// The bytes must stay alive until `step()` returns false or `reset()`.
  sqlite_statement& bind_text(int i, std::string_view s);
  /// As `bind_text`, for a BLOB.
  sqlite_statement& bind_blob(int i, std::string_view s);

  /// Steps once: true for a row; false when done, and then resets. A failure
  /// resets and goes to the handler (stage `running`).
  bool step();
  /// Runs a statement that returns no rows, to the end.
  void run();
  /// Back to the start, bindings kept (after a row, before stepping again).
  void reset() noexcept;

  std::int64_t int_at(int i) const noexcept;
  /// A column as text; valid until the next `step()` or `reset()`.
  std::string_view text_at(int i) const noexcept;
  bool is_null(int i) const noexcept;

 private:
  const sqlite_database* db_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
  std::string_view doing_;
};

}  // namespace cohort
