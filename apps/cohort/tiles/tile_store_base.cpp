// store_base (tile_store_base.hpp): the lock, our bookkeeping tables and
// their in-memory copies, batching.

#include "cohort/tiles/tile_store_base.hpp"

#include <fcntl.h>
#include <sys/file.h>
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

// "" when `old` matches `now`, else the message naming what differs.
std::string fingerprint_difference(const meta_values& old, const tile_fingerprint& now,
                                   const std::string& shown) {
  std::vector<std::string> parts;
  const auto compare = [&parts](const std::optional<std::string>& was, const std::string& is,
                                const char* what) {
    if (was.value_or("") != is) {
      parts.push_back(std::string(what) + ": " + in_quotes(was.value_or("")) + "; now " +
                      in_quotes(is));
    }
  };
  compare(old.url_template, now.url_template, "from another URL template");
  compare(old.boxes, now.boxes_text(), "for other boxes");
  compare(old.zooms, now.zooms_text(), "for other zoom levels");
  if (parts.empty()) return {};
  std::string message = "output " + shown + " was made ";
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) message += "; and ";
    message += parts[i];
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
  statement& s = *get_validators_;
  s.bind_tile(t);
  if (!s.step()) return std::nullopt;
  tile_validators v{s.text_at(0), s.text_at(1)};
  s.reset();
  return v;
}

void store_base::record_failed(const tile& t, std::string_view reason) {
  check_usable();
  begin();
  put_failed_->bind_tile(t).bind_text(4, reason).run();
  failed_[t] = std::string(reason);
  changed(0);
}

void store_base::clear_failed(const tile& t) {
  check_usable();
  const auto it = failed_.find(t);
  if (it == failed_.end()) return;
  begin();
  delete_failed_->bind_tile(t).run();
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
  put_missing_->bind_tile(t).run();
  missing_.insert(t);
  if (failed_.contains(t)) {
    delete_failed_->bind_tile(t).run();
    failed_.erase(t);
  }
  changed(0);
}

bool store_base::maybe_flush(std::chrono::steady_clock::time_point now) {
  if (!last_flush_) {
    last_flush_ = now;
    return false;
  }
  if (now - *last_flush_ < options_.batch_interval) return false;
  last_flush_ = now;
  if (!in_transaction_) return false;
  check_usable();
  commit();
  return true;
}

void store_base::flush() {
  check_usable();
  commit();
}

store_base::store_base(const std::filesystem::path& path, const tile_store_options& options)
    : path_(path), shown_(path.string()), options_(options) {
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

void store_base::lock(const std::string& file) {
  lock_fd_ = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd_ < 0) {
    const int error = errno;
    struct stat st {};
    const char* doing = ::stat(file.c_str(), &st) == 0 ? "open" : "create";
    throw tile_store_error("output " + shown_ + ": cannot " + doing + " " + file + ": " +
                           std::strerror(error));
  }
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    const int error = errno;
    if (error == EWOULDBLOCK) {
      throw tile_store_error("output " + shown_ +
                             " is in use by another process (another cohort tiles?)");
    }
    throw tile_store_error("output " + shown_ + ": cannot lock: " + std::strerror(error));
  }
}

void store_base::open_database(const std::string& file, const char* page_size) {
  try {
    db_ = std::make_unique<database>(file, shown_);
    db_->exec("PRAGMA busy_timeout = 5000", "setting it up");
    if (page_size != nullptr) db_->exec(page_size, "setting it up");
    // WAL: readers see the last commit while we write, and a commit is one
    // append. NORMAL is consistent after a crash of the process or the OS;
    // FULL also keeps the last commits across a power loss.
    db_->exec("PRAGMA journal_mode = WAL", "switching to WAL mode");
    db_->exec(options_.fsync ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL",
              "setting it up");
  } catch (const tile_store_error&) {
    if (db_ != nullptr && !db_->cannot_open()) throw;
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
  statement s(*db_, "SELECT count(*) FROM sqlite_master", "reading its schema");
  s.step();
  const std::int64_t n = s.int_at(0);
  s.reset();
  return n;
}

bool store_base::has_table(const char* name) {
  statement s(*db_, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1",
              "reading its schema");
  s.bind_text(1, name);
  const bool found = s.step();
  s.reset();
  return found;
}

meta_values store_base::read_meta() {
  meta_values m;
  statement s(*db_, "SELECT name, value FROM cohort_meta", "reading its fingerprint");
  while (s.step()) {
    const std::string name = s.text_at(0);
    if (name == "url_template") m.url_template = s.text_at(1);
    if (name == "boxes") m.boxes = s.text_at(1);
    if (name == "zooms") m.zooms = s.text_at(1);
  }
  return m;
}

bool store_base::check_fingerprint(const tile_fingerprint& fingerprint) {
  const std::string difference = fingerprint_difference(read_meta(), fingerprint, shown_);
  if (difference.empty()) return false;
  if (!options_.force) throw fingerprint_mismatch_error(difference);
  return true;
}

void store_base::write_cohort_schema(const tile_fingerprint& fingerprint) {
  db_->exec(cohort_schema, "creating its tables");
  statement s(*db_, "INSERT OR REPLACE INTO cohort_meta (name, value) VALUES (?1, ?2)",
              "recording its fingerprint");
  const std::string boxes = fingerprint.boxes_text();
  const std::string zooms = fingerprint.zooms_text();
  const std::pair<const char*, std::string_view> rows[] = {
      {"store_version", store_version},
      {"url_template", fingerprint.url_template},
      {"boxes", boxes},
      {"zooms", zooms}};
  for (const auto& [name, value] : rows) s.bind_text(1, name).bind_text(2, value).run();
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
    statement s(*db_, "SELECT z, x, y, reason FROM cohort_failed", "reading the failed list");
    while (s.step()) {
      if (auto t = valid_tile(s.int_at(0), s.int_at(1), s.int_at(2))) failed_[*t] = s.text_at(3);
    }
  }
  {
    statement s(*db_, "SELECT z, x, y FROM cohort_missing", "reading the missing list");
    while (s.step()) {
      if (auto t = valid_tile(s.int_at(0), s.int_at(1), s.int_at(2))) missing_.insert(*t);
    }
  }
  {
    statement s(*db_, "SELECT 1 FROM cohort_validators LIMIT 1", "reading validators");
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
  if (db_->failed()) throw tile_store_error(db_->failure());
}

void store_base::begin() {
  if (in_transaction_) return;
  db_->exec("BEGIN IMMEDIATE", "starting a transaction");
  in_transaction_ = true;
}

void store_base::changed(std::size_t bytes) {
  ++changes_;
  bytes_ += bytes;
  if (changes_ >= options_.batch_changes || bytes_ >= options_.batch_bytes) commit();
}

void store_base::commit() {
  if (!in_transaction_) return;
  db_->exec("COMMIT", "committing");
  in_transaction_ = false;
  changes_ = 0;
  bytes_ = 0;
}

void store_base::note_stored(const tile& t, const tile_validators& v) {
  if (!v.empty()) {
    put_validators_->bind_tile(t).bind_text(4, v.etag).bind_text(5, v.last_modified).run();
    any_validators_ = true;
  } else if (any_validators_) {
    delete_validators_->bind_tile(t).run();
  }
  if (const auto it = failed_.find(t); it != failed_.end()) {
    delete_failed_->bind_tile(t).run();
    failed_.erase(it);
  }
  if (missing_.erase(t)) delete_missing_->bind_tile(t).run();
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
  if (lock_fd_ >= 0) {
    ::close(lock_fd_);
    lock_fd_ = -1;
  }
}

}  // namespace cohort::app::tiles::detail
