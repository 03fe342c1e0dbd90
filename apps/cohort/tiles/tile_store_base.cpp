// store_base (tile_store_base.hpp): our bookkeeping tables and their
// in-memory copies, on the library's sqlite_database and commit_batch.

#include "cohort/tiles/tile_store_base.hpp"

#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "cohort/tiles/tile_formats.hpp"

namespace cohort::app::tiles::detail {

namespace {

// Our tables, in both outputs (MBTiles 1.3 allows extra tables). Rows are XYZ
// (y = 0 at the north), unlike MBTiles' own tiles table.
constexpr const char* cohort_schema = R"sql(
CREATE TABLE IF NOT EXISTS cohort_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS cohort_failed (z INTEGER NOT NULL, x INTEGER NOT NULL, y INTEGER NOT NULL,
  reason TEXT NOT NULL, PRIMARY KEY (z, x, y)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS cohort_missing (z INTEGER NOT NULL, x INTEGER NOT NULL, y INTEGER NOT NULL,
  PRIMARY KEY (z, x, y)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS cohort_validators (z INTEGER NOT NULL, x INTEGER NOT NULL,
  y INTEGER NOT NULL, etag TEXT NOT NULL, last_modified TEXT NOT NULL,
  PRIMARY KEY (z, x, y)) WITHOUT ROWID;
)sql";

// The version of our bookkeeping tables, in cohort_meta.
constexpr std::string_view store_version = "1";

std::string in_quotes(std::string_view s) {
  return "'" + std::string(s) + "'";
}

// How a message names a differing field of the fingerprint.
std::string_view difference_phrase(std::string_view field) {
  if (field == "url_template") return "from another URL template";
  if (field == "boxes") return "for other boxes";
  if (field == "part") return "as another --part (none: the whole download)";
  return "for other zoom levels";
}

// "" when `recorded` matches `given`, else the message naming what differs.
std::string mismatch_message(const cohort::fingerprint& recorded, const cohort::fingerprint& given,
                             const std::string& shown) {
  const std::vector<fingerprint_difference> diffs = fingerprint_differences(recorded, given);
  if (diffs.empty()) return {};
  std::string message = "output " + shown + " was made ";
  for (std::size_t i = 0; i < diffs.size(); ++i) {
    if (i > 0) message += "; and ";
    message += std::string(difference_phrase(diffs[i].name)) + ": " +
               in_quotes(diffs[i].recorded.value_or("")) + "; now " +
               in_quotes(diffs[i].given.value_or(""));
  }
  return message + "; use --force to overwrite or choose another output";
}

}  // namespace

std::string not_ours_message(const std::string& shown, std::string_view why) {
  return "output " + shown + " " + std::string(why) +
         "; use --force to overwrite or choose another output";
}

std::optional<tile_validators> store_base::validators(const tile& t) {
  check_usable();
  if (!any_validators_) return std::nullopt;
  sqlite_statement& s = *get_validators_;
  bind_tile(s, t);
  if (!s.step()) return std::nullopt;
  tile_validators v{std::string(s.text_at(0)), std::string(s.text_at(1))};
  s.reset();
  return v;
}

void store_base::record_failed(const tile& t, std::string_view reason) {
  check_usable();
  begin();
  bind_tile(*put_failed_, t).bind_text(4, reason).run();
  failed_[t] = std::string(reason);
  changed(0);
}

void store_base::clear_failed(const tile& t) {
  check_usable();
  const auto it = failed_.find(t);
  if (it == failed_.end()) return;
  begin();
  bind_tile(*delete_failed_, t).run();
  failed_.erase(it);
  changed(0);
}

std::vector<failed_tile> store_base::failed_tiles() const {
  std::vector<failed_tile> out;
  out.reserve(failed_.size());
  for (const auto& [t, reason] : failed_) out.push_back({t, reason});
  return out;
}

void store_base::record_missing(const tile& t) {
  check_usable();
  begin();
  bind_tile(*put_missing_, t).run();
  missing_.insert(t);
  if (failed_.contains(t)) {
    bind_tile(*delete_failed_, t).run();
    failed_.erase(t);
  }
  changed(0);
}

bool store_base::maybe_flush(std::chrono::steady_clock::time_point now) {
  if (!batch_.due(now)) return false;
  check_usable();
  commit();
  return true;
}

void store_base::flush() {
  check_usable();
  commit();
}

store_base::store_base(const std::filesystem::path& path, const tile_store_options& options)
    : path_(path),
      shown_(path.string()),
      options_(options),
      batch_({.changes = options.batch_changes,
              .bytes = options.batch_bytes,
              .interval = options.batch_interval,
              .interval_from = batch_limits::start::periodic}) {
  format_ = normalize_format(options.format, shown_);
}

store_base::~store_base() {
  release();
}

void store_base::make_directories(const std::string& dir) const {
  // One component at a time, so that the error names the one that failed
  // (std::filesystem::create_directories says only that something did).
  std::size_t end = 0;
  while (end != std::string::npos) {
    end = dir.find('/', end + 1);
    const std::string part = dir.substr(0, end);
    if (part.empty() || part.back() == '/') continue;  // "/" or "a//b"
    struct stat st {};
    int error = ::stat(part.c_str(), &st) == 0 ? 0 : errno;
    if (error == ENOENT) {
      error = ::mkdir(part.c_str(), 0777) == 0 ? 0 : errno;
      if (error == 0) continue;
      // Made meanwhile by someone else: look again.
      if (error == EEXIST) error = ::stat(part.c_str(), &st) == 0 ? 0 : errno;
      if (error != 0) {
        throw tile_store_error("output " + shown_ + ": cannot create directory " + part + ": " +
                               std::strerror(error));
      }
    } else if (error != 0) {
      throw tile_store_error("output " + shown_ + ": cannot access " + part + ": " +
                             std::strerror(error));
    }
    if (!S_ISDIR(st.st_mode)) {
      std::string_view output = shown_;
      while (output.size() > 1 && output.back() == '/') output.remove_suffix(1);
      throw tile_store_error(part == output
                                 ? "output " + shown_ + " is not a directory"
                                 : "output " + shown_ + ": " + part + " is not a directory");
    }
  }
}

void store_base::fail(const sqlite_failure& f) {
  failed_during_ = f.during;
  failed_code_ = f.code;
  switch (f.during) {
    case sqlite_failure::stage::locking:
      if (f.primary_code() == SQLITE_BUSY) {
        throw tile_store_error("output " + shown_ +
                               " is in use by another process (another cohort tiles?)");
      }
      throw tile_store_error("output " + shown_ + ": " + f.message);
    case sqlite_failure::stage::opening:
      throw tile_store_error("output " + shown_ + ": cannot open: " + f.message);
    default:
      db_failed_ = true;
      failure_ = "output " + shown_ + ": " + f.message + " (" + std::string(f.doing) + ")";
      throw tile_store_error(failure_);
  }
}

void store_base::open_database(const std::string& file, const char* page_size) {
  try {
    db_ = std::make_unique<sqlite_database>(file, sqlite_lock::writer,
                                            [this](const sqlite_failure& f) { fail(f); });
    db_->exec("PRAGMA busy_timeout = 5000", "setting it up");
    if (page_size != nullptr) db_->exec(page_size, "setting it up");
    // WAL: readers see the last commit while we write, and a commit is one
    // append. NORMAL is consistent after a crash of the process or the OS;
    // FULL also keeps the last commits across a power loss.
    db_->exec("PRAGMA journal_mode = WAL", "switching to WAL mode");
    db_->exec(options_.fsync ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL",
              "setting it up");
  } catch (const tile_store_error&) {
    const bool cannot_open = failed_during_ == sqlite_failure::stage::opening ||
                             (failed_during_ == sqlite_failure::stage::running &&
                              (failed_code_ & 0xff) == SQLITE_CANTOPEN);
    if (!cannot_open) throw;
    // "unable to open database file": most often SQLite could not create
    // its journal (FILE-wal, FILE-shm) beside the database. Say what the
    // directory refuses (an immutable directory, a read-only mount).
    const auto slash = file.rfind('/');
    const std::string dir = slash == std::string::npos ? "."
                            : slash == 0               ? "/"
                                                       : file.substr(0, slash);
    if (::access(dir.c_str(), W_OK | X_OK) != 0) {
      throw tile_store_error("output " + shown_ + ": cannot create files in " + dir + ": " +
                             std::strerror(errno));
    }
    throw;
  }
}

std::int64_t store_base::schema_objects() {
  sqlite_statement s(*db_, "SELECT count(*) FROM sqlite_master", "reading its schema");
  s.step();
  const std::int64_t n = s.int_at(0);
  s.reset();
  return n;
}

bool store_base::has_table(const char* name) {
  sqlite_statement s(*db_, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1",
                     "reading its schema");
  s.bind_text(1, name);
  const bool found = s.step();
  s.reset();
  return found;
}

cohort::fingerprint store_base::read_meta(const cohort::fingerprint& given) {
  cohort::fingerprint recorded = given;
  for (fingerprint_field& f : recorded) f.value.clear();
  sqlite_statement s(*db_, "SELECT name, value FROM cohort_meta", "reading its fingerprint");
  while (s.step()) {
    const std::string_view name = s.text_at(0);
    for (fingerprint_field& f : recorded) {
      if (f.name == name) f.value = s.text_at(1);
    }
  }
  return recorded;
}

bool store_base::check_fingerprint(const tile_fingerprint& fingerprint) {
  const cohort::fingerprint given = fingerprint.fields();
  const std::string difference = mismatch_message(read_meta(given), given, shown_);
  if (difference.empty()) return false;
  if (!options_.force) throw fingerprint_mismatch_error(difference);
  return true;
}

void store_base::write_cohort_schema(const tile_fingerprint& fingerprint) {
  db_->exec(cohort_schema, "creating its tables");
  sqlite_statement s(*db_, "INSERT OR REPLACE INTO cohort_meta (name, value) VALUES (?1, ?2)",
                     "recording its fingerprint");
  s.bind_text(1, "store_version").bind_text(2, store_version).run();
  for (const fingerprint_field& f : fingerprint.fields()) {
    s.bind_text(1, f.name).bind_text(2, f.value).run();
  }
}

void store_base::prepare_statements() {
  put_failed_.emplace(*db_,
                      "INSERT OR REPLACE INTO cohort_failed (z, x, y, reason) VALUES (?1, ?2, "
                      "?3, ?4)",
                      "recording a failed tile");
  delete_failed_.emplace(*db_, "DELETE FROM cohort_failed WHERE z = ?1 AND x = ?2 AND y = ?3",
                         "clearing a failed tile");
  put_missing_.emplace(*db_, "INSERT OR IGNORE INTO cohort_missing (z, x, y) VALUES (?1, ?2, ?3)",
                       "recording a missing tile");
  delete_missing_.emplace(*db_, "DELETE FROM cohort_missing WHERE z = ?1 AND x = ?2 AND y = ?3",
                          "clearing a missing tile");
  put_validators_.emplace(*db_,
                          "INSERT OR REPLACE INTO cohort_validators (z, x, y, etag, "
                          "last_modified) VALUES (?1, ?2, ?3, ?4, ?5)",
                          "recording validators");
  delete_validators_.emplace(*db_,
                             "DELETE FROM cohort_validators WHERE z = ?1 AND x = ?2 AND y = ?3",
                             "clearing validators");
  get_validators_.emplace(*db_,
                          "SELECT etag, last_modified FROM cohort_validators WHERE z = ?1 AND "
                          "x = ?2 AND y = ?3",
                          "reading validators");
}

void store_base::load_lists() {
  {
    sqlite_statement s(*db_, "SELECT z, x, y, reason FROM cohort_failed",
                       "reading the failed list");
    while (s.step()) {
      if (auto t = valid_tile(s.int_at(0), s.int_at(1), s.int_at(2))) failed_[*t] = s.text_at(3);
    }
  }
  {
    sqlite_statement s(*db_, "SELECT z, x, y FROM cohort_missing", "reading the missing list");
    while (s.step()) {
      if (auto t = valid_tile(s.int_at(0), s.int_at(1), s.int_at(2))) missing_.insert(*t);
    }
  }
  {
    sqlite_statement s(*db_, "SELECT 1 FROM cohort_validators LIMIT 1", "reading validators");
    any_validators_ = s.step();
    s.reset();
  }
}

std::optional<tile> store_base::valid_tile(std::int64_t z, std::int64_t x, std::int64_t y) {
  if (z < 0 || z > max_zoom) return std::nullopt;
  const std::int64_t n = std::int64_t{1} << z;
  if (x < 0 || x >= n || y < 0 || y >= n) return std::nullopt;
  return tile{static_cast<int>(z), static_cast<std::uint32_t>(x), static_cast<std::uint32_t>(y)};
}

void store_base::check_usable() const {
  if (closed_) throw tile_store_error("output " + shown_ + " is closed");
  if (db_failed_) throw tile_store_error(failure_);
}

void store_base::begin() {
  if (in_transaction_) return;
  db_->exec("BEGIN IMMEDIATE", "starting a transaction");
  in_transaction_ = true;
}

void store_base::changed(std::size_t bytes) {
  if (batch_.add(bytes)) commit();
}

void store_base::commit() {
  if (!in_transaction_) return;
  db_->exec("COMMIT", "committing");
  in_transaction_ = false;
  batch_.committed();
}

void store_base::note_stored(const tile& t, const tile_validators& v) {
  if (!v.empty()) {
    bind_tile(*put_validators_, t).bind_text(4, v.etag).bind_text(5, v.last_modified).run();
    any_validators_ = true;
  } else if (any_validators_) {
    bind_tile(*delete_validators_, t).run();
  }
  if (const auto it = failed_.find(t); it != failed_.end()) {
    bind_tile(*delete_failed_, t).run();
    failed_.erase(it);
  }
  if (missing_.erase(t)) bind_tile(*delete_missing_, t).run();
}

void store_base::release() noexcept {
  put_failed_.reset();
  delete_failed_.reset();
  put_missing_.reset();
  delete_missing_.reset();
  put_validators_.reset();
  delete_validators_.reset();
  get_validators_.reset();
  release_statements();
  db_.reset();
}

}  // namespace cohort::app::tiles::detail
