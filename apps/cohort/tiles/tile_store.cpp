#include "cohort/tiles/tile_store.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <map>
#include <system_error>
#include <utility>

#include "cohort/io/atomic_file.hpp"

namespace cohort::app::tiles {

// ---------------------------------------------------------------------------
// tile_key_set
// ---------------------------------------------------------------------------

namespace {

constexpr std::uint64_t pack_xy(std::uint32_t x, std::uint32_t y) {
  return (std::uint64_t{x} << 32) | y;
}
constexpr std::uint32_t key_x(std::uint64_t key) {
  return static_cast<std::uint32_t>(key >> 32);
}
constexpr std::uint32_t key_y(std::uint64_t key) {
  return static_cast<std::uint32_t>(key);
}

// Sorted keys are merged with the recent ones when the recent ones exceed
// this many, or 1/16 of the sorted ones: amortised, each key is moved about
// 16 times, and the hash set (~40 bytes per key) stays small.
constexpr std::size_t min_recent_before_merge = 4096;
// A zoom switches to a bitmap when its bounding rectangle has at most this
// many cells per tile: the bitmap then costs at most 4 bytes per tile,
// half of a sorted key.
constexpr std::uint64_t max_cells_per_tile = 32;
// Below this many tiles outside the bitmap, sorted keys are cheap anyway.
constexpr std::size_t min_tiles_for_bitmap = 1024;

}  // namespace

bool tile_key_set::zoom_part::in_bitmap(std::uint32_t x, std::uint32_t y) const {
  return width > 0 && x >= x0 && x - x0 < width && y >= y0 && y - y0 < height;
}

std::uint64_t tile_key_set::zoom_part::bit_index(std::uint32_t x, std::uint32_t y) const {
  return std::uint64_t{x - x0} * height + (y - y0);
}

void tile_key_set::zoom_part::merge_recent() {
  if (recent.empty()) return;
  const std::size_t middle = sorted.size();
  sorted.insert(sorted.end(), recent.begin(), recent.end());
  std::sort(sorted.begin() + static_cast<std::ptrdiff_t>(middle), sorted.end());
  std::inplace_merge(sorted.begin(), sorted.begin() + static_cast<std::ptrdiff_t>(middle),
                     sorted.end());
  recent.clear();
}

void tile_key_set::zoom_part::maybe_make_dense(int z) {
  if (sorted.size() < min_tiles_for_bitmap) return;
  // Bounding rectangle of every tile of this zoom (recent is empty here).
  std::uint32_t min_x = key_x(sorted.front());
  std::uint32_t max_x = key_x(sorted.back());
  std::uint32_t min_y = UINT32_MAX;
  std::uint32_t max_y = 0;
  for (const std::uint64_t key : sorted) {
    min_y = std::min(min_y, key_y(key));
    max_y = std::max(max_y, key_y(key));
  }
  const bool had_bitmap = width > 0;
  if (had_bitmap) {
    min_x = std::min(min_x, x0);
    max_x = std::max(max_x, x0 + width - 1);
    min_y = std::min(min_y, y0);
    max_y = std::max(max_y, y0 + height - 1);
  }
  const auto area = [](std::uint64_t x_lo, std::uint64_t x_hi, std::uint64_t y_lo,
                       std::uint64_t y_hi) { return (x_hi - x_lo + 1) * (y_hi - y_lo + 1); };
  if (area(min_x, max_x, min_y, max_y) > max_cells_per_tile * count) return;

  // A bitmap that grows (a download goes column by column) gets slack in the
  // directions it grew, so that it is rebuilt O(log n) times, not every merge.
  const std::uint64_t last = (std::uint64_t{1} << z) - 1;
  std::uint64_t lo_x = min_x, hi_x = max_x, lo_y = min_y, hi_y = max_y;
  if (had_bitmap) {
    const std::uint64_t grow_x = width / 2 + 1;
    const std::uint64_t grow_y = height / 2 + 1;
    if (min_x < x0) lo_x = lo_x > grow_x ? lo_x - grow_x : 0;
    if (max_x > x0 + width - 1) hi_x = std::min(hi_x + grow_x, last);
    if (min_y < y0) lo_y = lo_y > grow_y ? lo_y - grow_y : 0;
    if (max_y > y0 + height - 1) hi_y = std::min(hi_y + grow_y, last);
    if (area(lo_x, hi_x, lo_y, hi_y) > max_cells_per_tile * count) {
      lo_x = min_x, hi_x = max_x, lo_y = min_y, hi_y = max_y;
    }
  }

  zoom_part next;
  next.x0 = static_cast<std::uint32_t>(lo_x);
  next.y0 = static_cast<std::uint32_t>(lo_y);
  next.width = static_cast<std::uint32_t>(hi_x - lo_x + 1);
  next.height = static_cast<std::uint32_t>(hi_y - lo_y + 1);
  next.bits.assign((area(lo_x, hi_x, lo_y, hi_y) + 63) / 64, 0);
  const auto set = [&next](std::uint32_t x, std::uint32_t y) {
    const std::uint64_t i = next.bit_index(x, y);
    next.bits[i / 64] |= std::uint64_t{1} << (i % 64);
  };
  for (std::size_t w = 0; w < bits.size(); ++w) {
    for (std::uint64_t word = bits[w]; word != 0; word &= word - 1) {
      const std::uint64_t i = w * 64 + static_cast<std::uint64_t>(__builtin_ctzll(word));
      set(x0 + static_cast<std::uint32_t>(i / height), y0 + static_cast<std::uint32_t>(i % height));
    }
  }
  for (const std::uint64_t key : sorted) set(key_x(key), key_y(key));
  next.count = count;
  *this = std::move(next);
}

bool tile_key_set::contains(const tile& t) const {
  if (t.z < 0 || t.z > max_zoom) return false;
  const zoom_part& p = zooms_[static_cast<std::size_t>(t.z)];
  if (p.count == 0) return false;
  if (p.in_bitmap(t.x, t.y)) {
    const std::uint64_t i = p.bit_index(t.x, t.y);
    return (p.bits[i / 64] >> (i % 64)) & 1;
  }
  const std::uint64_t key = pack_xy(t.x, t.y);
  return std::binary_search(p.sorted.begin(), p.sorted.end(), key) || p.recent.contains(key);
}

bool tile_key_set::insert(const tile& t) {
  zoom_part& p = zooms_[static_cast<std::size_t>(t.z)];
  if (p.in_bitmap(t.x, t.y)) {
    const std::uint64_t i = p.bit_index(t.x, t.y);
    const std::uint64_t mask = std::uint64_t{1} << (i % 64);
    if (p.bits[i / 64] & mask) return false;
    p.bits[i / 64] |= mask;
  } else {
    const std::uint64_t key = pack_xy(t.x, t.y);
    if (std::binary_search(p.sorted.begin(), p.sorted.end(), key)) return false;
    if (!p.recent.insert(key).second) return false;
  }
  ++p.count;
  ++size_;
  if (p.recent.size() > std::max(min_recent_before_merge, p.sorted.size() / 16)) {
    p.merge_recent();
    p.maybe_make_dense(t.z);
  }
  return true;
}

bool tile_key_set::erase(const tile& t) {
  if (t.z < 0 || t.z > max_zoom) return false;
  zoom_part& p = zooms_[static_cast<std::size_t>(t.z)];
  if (p.count == 0) return false;
  if (p.in_bitmap(t.x, t.y)) {
    const std::uint64_t i = p.bit_index(t.x, t.y);
    const std::uint64_t mask = std::uint64_t{1} << (i % 64);
    if (!(p.bits[i / 64] & mask)) return false;
    p.bits[i / 64] &= ~mask;
  } else {
    const std::uint64_t key = pack_xy(t.x, t.y);
    const auto it = std::lower_bound(p.sorted.begin(), p.sorted.end(), key);
    if (it != p.sorted.end() && *it == key) {
      p.sorted.erase(it);
    } else if (p.recent.erase(key) == 0) {
      return false;
    }
  }
  --p.count;
  --size_;
  return true;
}

void tile_key_set::clear() {
  for (zoom_part& p : zooms_) p = zoom_part{};
  size_ = 0;
}

std::size_t tile_key_set::memory_bytes() const {
  std::size_t bytes = 0;
  for (const zoom_part& p : zooms_) {
    bytes +=
        p.bits.capacity() * sizeof(std::uint64_t) + p.sorted.capacity() * sizeof(std::uint64_t);
    // A node (next pointer, key, cached hash) plus its bucket pointer.
    bytes += p.recent.bucket_count() * sizeof(void*) + p.recent.size() * 32;
  }
  return bytes;
}

std::vector<tile> tile_key_set::tiles() const {
  std::vector<tile> out;
  out.reserve(size_);
  for (int z = 0; z <= max_zoom; ++z) {
    const zoom_part& p = zooms_[static_cast<std::size_t>(z)];
    if (p.count == 0) continue;
    std::vector<std::uint64_t> keys(p.sorted);
    keys.insert(keys.end(), p.recent.begin(), p.recent.end());
    for (std::size_t w = 0; w < p.bits.size(); ++w) {
      for (std::uint64_t word = p.bits[w]; word != 0; word &= word - 1) {
        const std::uint64_t i = w * 64 + static_cast<std::uint64_t>(__builtin_ctzll(word));
        keys.push_back(pack_xy(p.x0 + static_cast<std::uint32_t>(i / p.height),
                               p.y0 + static_cast<std::uint32_t>(i % p.height)));
      }
    }
    std::sort(keys.begin(), keys.end());
    for (const std::uint64_t key : keys) out.push_back(tile{z, key_x(key), key_y(key)});
  }
  return out;
}

// ---------------------------------------------------------------------------
// tile_fingerprint
// ---------------------------------------------------------------------------

namespace {

void append_number(std::string& out, double v) {
  char buf[32];
  const auto result = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, result.ptr);
}

void append_number(std::string& out, std::uint64_t v) {
  char buf[24];
  const auto result = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, result.ptr);
}

}  // namespace

std::string tile_fingerprint::boxes_text() const {
  std::vector<std::string> items;
  for (const bbox& b : boxes) {
    std::string s;
    append_number(s, b.west);
    s += ',';
    append_number(s, b.south);
    s += ',';
    append_number(s, b.east);
    s += ',';
    append_number(s, b.north);
    items.push_back(std::move(s));
  }
  std::sort(items.begin(), items.end());
  items.erase(std::unique(items.begin(), items.end()), items.end());
  std::string out;
  for (const std::string& s : items) {
    if (!out.empty()) out += ' ';
    out += s;
  }
  return out;
}

std::string tile_fingerprint::zooms_text() const {
  std::vector<int> z(zooms);
  std::sort(z.begin(), z.end());
  z.erase(std::unique(z.begin(), z.end()), z.end());
  std::string out;
  for (std::size_t i = 0; i < z.size();) {
    std::size_t j = i;
    while (j + 1 < z.size() && z[j + 1] == z[j] + 1) ++j;
    if (!out.empty()) out += ',';
    out += std::to_string(z[i]);
    if (j > i) out += '-' + std::to_string(z[j]);
    i = j + 1;
  }
  return out;
}

// ---------------------------------------------------------------------------
// Formats
// ---------------------------------------------------------------------------

namespace {

// The extensions the directory store writes and recognises when scanning.
constexpr std::string_view tile_extensions[] = {"png", "jpg", "jpeg", "webp",
                                                "gif", "pbf", "mvt",  "bin"};

bool is_tile_extension(std::string_view ext) {
  return std::find(std::begin(tile_extensions), std::end(tile_extensions), ext) !=
         std::end(tile_extensions);
}

// The format named by a tile's first bytes; "bin" when unknown.
std::string_view sniff_format(std::string_view bytes) {
  const auto starts = [&bytes](std::string_view magic) { return bytes.starts_with(magic); };
  if (starts("\x89PNG\r\n\x1a\n")) return "png";
  if (starts("\xff\xd8\xff")) return "jpg";
  if (starts("GIF87a") || starts("GIF89a")) return "gif";
  if (bytes.size() >= 12 && starts("RIFF") && bytes.substr(8, 4) == "WEBP") return "webp";
  if (starts("\x1f\x8b")) return "pbf";  // gzip-compressed vector tile
  // An uncompressed vector tile starts with field 3 (layers), length-delimited.
  if (starts("\x1a")) return "pbf";
  return "bin";
}

// options.format ("png", ".PNG"...) to the extension used in file names.
std::string normalize_format(std::string_view given, const std::string& shown) {
  std::string_view format = given;
  if (format.starts_with('.')) format.remove_prefix(1);
  std::string ext;
  for (const char c : format) {
    ext += static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  }
  if (ext.empty()) return ext;
  if (!is_tile_extension(ext)) {
    throw tile_store_error("output " + shown + ": unknown tile format '" + std::string(given) +
                           "' (known: png, jpg, jpeg, webp, gif, pbf, mvt)");
  }
  return ext;
}

// The MBTiles 1.3 `format` value for an extension: pbf, jpg, png, webp, or
// an IETF media type for the others.
std::string mbtiles_format(std::string_view ext) {
  if (ext == "jpeg") return "jpg";
  if (ext == "mvt") return "pbf";
  if (ext == "gif") return "image/gif";
  if (ext == "bin") return "application/octet-stream";
  return std::string(ext);
}

// Parses a canonical decimal (no sign, no leading zero) below `limit`.
bool parse_index(std::string_view s, std::uint64_t limit, std::uint32_t& out) {
  if (s.empty() || s.size() > 10 || (s.size() > 1 && s[0] == '0')) return false;
  std::uint64_t v = 0;
  for (const char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  if (v >= limit) return false;
  out = static_cast<std::uint32_t>(v);
  return true;
}

// ---------------------------------------------------------------------------
// SQLite
// ---------------------------------------------------------------------------

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
      const std::string message = db_ != nullptr ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
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

  [[noreturn]] void fail(std::string_view doing) {
    failed_ = true;
    failure_ = "output " + shown_ + ": " + sqlite3_errmsg(db_) + " (" + std::string(doing) + ")";
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

constexpr const char* mbtiles_schema = R"sql(
CREATE TABLE IF NOT EXISTS metadata (name TEXT, value TEXT);
CREATE UNIQUE INDEX IF NOT EXISTS metadata_name ON metadata (name);
CREATE TABLE IF NOT EXISTS tiles (zoom_level INTEGER, tile_column INTEGER, tile_row INTEGER,
  tile_data BLOB);
CREATE UNIQUE INDEX IF NOT EXISTS tile_index ON tiles (zoom_level, tile_column, tile_row);
)sql";

// The version of our bookkeeping tables, in cohort_meta.
constexpr std::string_view store_version = "1";

// MBTiles 1.3: "The file MAY have the application_id 0x4d504258" ("MPBX").
constexpr const char* mbtiles_application_id = "PRAGMA application_id = 1297105496";

struct meta_values {
  std::optional<std::string> url_template, boxes, zooms;
};

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

std::string not_ours_message(const std::string& shown, std::string_view why) {
  return "output " + shown + " " + std::string(why) +
         "; use --force to overwrite or choose another output";
}

// ---------------------------------------------------------------------------
// The part both stores share: the lock, the SQLite connection with our
// bookkeeping tables, the in-memory sets, batching.
// ---------------------------------------------------------------------------

class store_base : public tile_store {
 public:
  const std::filesystem::path& path() const override { return path_; }
  bool has(const tile& t) const override { return stored_.contains(t); }
  std::uint64_t stored_count() const override { return stored_.size(); }
  bool is_missing(const tile& t) const override { return missing_.contains(t); }
  std::uint64_t missing_count() const override { return missing_.size(); }
  std::string format() const override { return format_; }

  std::optional<tile_validators> validators(const tile& t) override {
    check_usable();
    if (!any_validators_) return std::nullopt;
    statement& s = *get_validators_;
    s.bind_tile(t);
    if (!s.step()) return std::nullopt;
    tile_validators v{s.text_at(0), s.text_at(1)};
    s.reset();
    return v;
  }

  void record_failed(const tile& t, std::string_view reason) override {
    check_usable();
    begin();
    put_failed_->bind_tile(t).bind_text(4, reason).run();
    failed_[t] = std::string(reason);
    changed(0);
  }

  void clear_failed(const tile& t) override {
    check_usable();
    const auto it = failed_.find(t);
    if (it == failed_.end()) return;
    begin();
    delete_failed_->bind_tile(t).run();
    failed_.erase(it);
    changed(0);
  }

  std::vector<failed_tile> failed_tiles() const override {
    std::vector<failed_tile> out;
    out.reserve(failed_.size());
    for (const auto& [t, reason] : failed_) out.push_back({t, reason});
    return out;
  }

  void record_missing(const tile& t) override {
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

  bool maybe_flush(std::chrono::steady_clock::time_point now) override {
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

  void flush() override {
    check_usable();
    commit();
  }

 protected:
  store_base(const std::filesystem::path& path, const tile_store_options& options)
      : path_(path), shown_(path.string()), options_(options) {
    format_ = normalize_format(options.format, shown_);
  }

  ~store_base() override { release(); }

  // Takes the output's lock: an flock on `file`, created if needed. Readers
  // (sqlite3, GDAL) do not take it; a second cohort does, and is refused.
  void lock(const std::string& file) {
    lock_fd_ = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (lock_fd_ < 0) {
      throw tile_store_error("output " + shown_ + ": cannot create " + file + ": " +
                             std::strerror(errno));
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

  // `page_size` applies to a new file only.
  void open_database(const std::string& file, const char* page_size = nullptr) {
    db_ = std::make_unique<database>(file, shown_);
    db_->exec("PRAGMA busy_timeout = 5000", "setting it up");
    if (page_size != nullptr) db_->exec(page_size, "setting it up");
    // WAL: readers see the last commit while we write, and a commit is one
    // append. NORMAL is consistent after a crash of the process or the OS;
    // FULL also keeps the last commits across a power loss.
    db_->exec("PRAGMA journal_mode = WAL", "switching to WAL mode");
    db_->exec(options_.fsync ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL",
              "setting it up");
  }

  // Number of schema objects (tables, indexes, views, triggers).
  std::int64_t schema_objects() {
    statement s(*db_, "SELECT count(*) FROM sqlite_master", "reading its schema");
    s.step();
    const std::int64_t n = s.int_at(0);
    s.reset();
    return n;
  }

  bool has_table(const char* name) {
    statement s(*db_, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1",
                "reading its schema");
    s.bind_text(1, name);
    const bool found = s.step();
    s.reset();
    return found;
  }

  // The fingerprint recorded in cohort_meta (call only when the table exists).
  meta_values read_meta() {
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

  // Throws fingerprint_mismatch_error unless force. Returns true when the
  // output must be emptied (force with a mismatch).
  bool check_fingerprint(const tile_fingerprint& fingerprint) {
    const std::string difference = fingerprint_difference(read_meta(), fingerprint, shown_);
    if (difference.empty()) return false;
    if (!options_.force) throw fingerprint_mismatch_error(difference);
    return true;
  }

  // Creates our tables and records the fingerprint (inside a transaction).
  void write_cohort_schema(const tile_fingerprint& fingerprint) {
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

  void prepare_statements() {
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

  // Loads the failed and missing lists, and whether any validators exist.
  void load_lists() {
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

  static std::optional<tile> valid_tile(std::int64_t z, std::int64_t x, std::int64_t y) {
    if (z < 0 || z > max_zoom) return std::nullopt;
    const std::int64_t n = std::int64_t{1} << z;
    if (x < 0 || x >= n || y < 0 || y >= n) return std::nullopt;
    return tile{static_cast<int>(z), static_cast<std::uint32_t>(x), static_cast<std::uint32_t>(y)};
  }

  void check_usable() const {
    if (closed_) throw tile_store_error("output " + shown_ + " is closed");
    if (db_->failed()) throw tile_store_error(db_->failure());
  }

  void begin() {
    if (in_transaction_) return;
    db_->exec("BEGIN IMMEDIATE", "starting a transaction");
    in_transaction_ = true;
  }

  // Counts one change of `bytes` tile bytes; commits when the batch is full.
  void changed(std::size_t bytes) {
    ++changes_;
    bytes_ += bytes;
    if (changes_ >= options_.batch_changes || bytes_ >= options_.batch_bytes) commit();
  }

  void commit() {
    if (!in_transaction_) return;
    db_->exec("COMMIT", "committing");
    in_transaction_ = false;
    changes_ = 0;
    bytes_ = 0;
  }

  // The bookkeeping of a stored tile: its validators, and it is neither
  // failed nor missing any more.
  void note_stored(const tile& t, const tile_validators& v) {
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

  // Commits (unless the connection failed), closes the database and
  // releases the lock. `before_close` runs after the commit.
  template <class F>
  void close_with(F before_close) {
    if (closed_) return;
    closed_ = true;
    try {
      if (db_ && !db_->failed()) {
        commit();
        before_close();
      }
    } catch (...) {
      release();
      throw;
    }
    release();
  }

  // Releases everything without committing (a transaction still open is
  // rolled back by SQLite). The lock goes last: closing any descriptor of
  // the database file drops SQLite's POSIX locks, so ours waits for SQLite's
  // connection to be gone.
  void release() noexcept {
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

  // Store-specific statements, finalized before the database closes.
  virtual void release_statements() noexcept {}

  std::filesystem::path path_;
  std::string shown_;
  tile_store_options options_;
  std::string format_;

  int lock_fd_ = -1;
  std::unique_ptr<database> db_;
  std::optional<statement> put_failed_, delete_failed_, put_missing_, delete_missing_,
      put_validators_, delete_validators_, get_validators_;

  tile_key_set stored_;
  tile_key_set missing_;
  std::map<tile, std::string> failed_;
  bool any_validators_ = false;

  bool in_transaction_ = false;
  bool closed_ = false;
  std::size_t changes_ = 0;
  std::size_t bytes_ = 0;
  std::optional<std::chrono::steady_clock::time_point> last_flush_;
};

// ---------------------------------------------------------------------------
// Directory store
// ---------------------------------------------------------------------------

// A directory stream closed on scope exit.
struct dir_closer {
  void operator()(DIR* d) const { ::closedir(d); }
};
using dir_ptr = std::unique_ptr<DIR, dir_closer>;

dir_ptr open_dir_at(int parent, const char* name) {
  const int fd = ::openat(parent, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return nullptr;
  DIR* d = ::fdopendir(fd);
  if (d == nullptr) ::close(fd);
  return dir_ptr(d);
}

bool is_dir_entry(DIR* parent, const dirent* e) {
  if (e->d_type == DT_DIR) return true;
  if (e->d_type != DT_UNKNOWN) return false;
  struct stat st {};
  return ::fstatat(::dirfd(parent), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
         S_ISDIR(st.st_mode);
}

bool is_file_entry(DIR* parent, const dirent* e) {
  if (e->d_type == DT_REG) return true;
  if (e->d_type != DT_UNKNOWN) return false;
  struct stat st {};
  return ::fstatat(::dirfd(parent), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
         S_ISREG(st.st_mode);
}

bool is_our_db_file(std::string_view name) {
  return name.starts_with(directory_store_db_name) &&
         (name.size() == directory_store_db_name.size() ||
          name.substr(directory_store_db_name.size()) == "-wal" ||
          name.substr(directory_store_db_name.size()) == "-shm" ||
          name.substr(directory_store_db_name.size()) == "-journal");
}

class directory_store final : public store_base {
 public:
  directory_store(const std::filesystem::path& path, const tile_fingerprint& fingerprint,
                  const tile_store_options& options)
      : store_base(path, options) {
    root_ = shown_.empty() ? std::string(".") : shown_;
    while (root_.size() > 1 && root_.back() == '/') root_.pop_back();
    std::error_code ec;
    std::filesystem::create_directories(root_, ec);
    if (!std::filesystem::is_directory(root_)) {
      throw tile_store_error("output " + shown_ + " is not a directory" +
                             (ec ? ": " + ec.message() : std::string()));
    }
    const std::string db_file = root_ + "/" + std::string(directory_store_db_name);
    lock(db_file);
    open_database(db_file);

    bool reset = false;
    if (has_table("cohort_meta")) {
      reset = check_fingerprint(fingerprint);
    } else if (schema_objects() > 0 || has_foreign_entries()) {
      if (!options_.force) {
        throw fingerprint_mismatch_error(
            not_ours_message(shown_, "is not empty and was not made by cohort tiles (no " +
                                         std::string(directory_store_db_name) + ")"));
      }
      reset = true;
    }
    if (reset) {
      walk(true);
      for (const char* table :
           {"cohort_meta", "cohort_failed", "cohort_missing", "cohort_validators"}) {
        db_->exec(("DROP TABLE IF EXISTS " + std::string(table)).c_str(), "emptying it");
      }
    }
    db_->exec("BEGIN IMMEDIATE", "creating its tables");
    write_cohort_schema(fingerprint);
    db_->exec("COMMIT", "creating its tables");
    prepare_statements();
    load_lists();
    walk(false);
  }

  ~directory_store() override {
    try {
      close();
    } catch (...) {
      // Destructors do not throw; close() explicitly to see errors.
    }
  }

  void put(const tile& t, std::string_view bytes, const tile_validators& validators) override {
    check_usable();
    const std::string_view ext = format_.empty() ? sniff_format(bytes) : std::string_view(format_);
    file_.assign(root_);
    file_ += '/';
    append_number(file_, static_cast<std::uint64_t>(t.z));
    file_ += '/';
    append_number(file_, std::uint64_t{t.x});
    file_ += '/';
    append_number(file_, std::uint64_t{t.y});
    file_ += '.';
    file_ += ext;
    atomic_write(file_, bytes, {.fsync = options_.fsync, .create_parents = true});
    stored_.insert(t);
    if (validators.empty() && !any_validators_ && failed_.empty() && missing_.empty()) return;
    begin();
    note_stored(t, validators);
    changed(0);
  }

  void close() override {
    close_with([] {});
  }

 private:
  // True when the root holds anything but our database files.
  bool has_foreign_entries() const {
    dir_ptr d(::opendir(root_.c_str()));
    if (!d) return true;
    while (const dirent* e = ::readdir(d.get())) {
      const std::string_view name = e->d_name;
      if (name == "." || name == ".." || is_our_db_file(name)) continue;
      return true;
    }
    return false;
  }

  // Scans root/z/x/y.ext: loads the stored tiles (or, when `remove`, deletes
  // them and the directories left empty), and deletes the temporary files
  // a killed run left. Entries not named like tiles are left alone.
  void walk(bool remove) {
    dir_ptr root(::opendir(root_.c_str()));
    if (!root) {
      throw tile_store_error("output " + shown_ + ": cannot read: " + std::strerror(errno));
    }
    while (const dirent* ze = ::readdir(root.get())) {
      std::uint32_t z = 0;
      if (!parse_index(ze->d_name, max_zoom + 1, z) || !is_dir_entry(root.get(), ze)) continue;
      dir_ptr zd = open_dir_at(::dirfd(root.get()), ze->d_name);
      if (!zd) continue;
      const std::uint64_t n = std::uint64_t{1} << z;
      while (const dirent* xe = ::readdir(zd.get())) {
        std::uint32_t x = 0;
        if (!parse_index(xe->d_name, n, x) || !is_dir_entry(zd.get(), xe)) continue;
        dir_ptr xd = open_dir_at(::dirfd(zd.get()), xe->d_name);
        if (!xd) continue;
        scan_column(xd.get(), tile{static_cast<int>(z), x, 0}, n, remove);
        xd.reset();
        if (remove) ::unlinkat(::dirfd(zd.get()), xe->d_name, AT_REMOVEDIR);
      }
      zd.reset();
      if (remove) ::unlinkat(::dirfd(root.get()), ze->d_name, AT_REMOVEDIR);
    }
  }

  void scan_column(DIR* xd, tile t, std::uint64_t n, bool remove) {
    while (const dirent* ye = ::readdir(xd)) {
      const std::string_view name = ye->d_name;
      if (is_atomic_write_temporary(name)) {
        ::unlinkat(::dirfd(xd), ye->d_name, 0);
        continue;
      }
      const auto dot = name.find('.');
      if (dot == std::string_view::npos || !is_tile_extension(name.substr(dot + 1))) continue;
      if (!parse_index(name.substr(0, dot), n, t.y) || !is_file_entry(xd, ye)) continue;
      if (remove) {
        if (::unlinkat(::dirfd(xd), ye->d_name, 0) != 0 && errno != ENOENT) {
          throw tile_store_error("output " + shown_ +
                                 ": cannot remove a tile: " + std::strerror(errno));
        }
      } else {
        stored_.insert(t);
      }
    }
  }

  std::string root_;
  std::string file_;  // reused for each tile's path
};

// ---------------------------------------------------------------------------
// MBTiles store
// ---------------------------------------------------------------------------

// MBTiles 1.3 `bounds` and `center` for the fingerprint's boxes.
struct map_extent {
  double west = -180, south = -max_latitude, east = 180, north = max_latitude;
};

map_extent extent_of(const std::vector<bbox>& boxes) {
  if (boxes.empty()) return {};
  map_extent e{180, 90, -180, -90};
  bool crosses = false;
  for (const bbox& b : boxes) {
    crosses = crosses || b.crosses_antimeridian();
    e.west = std::min(e.west, b.west);
    e.east = std::max(e.east, b.east);
    e.south = std::min(e.south, b.south);
    e.north = std::max(e.north, b.north);
  }
  if (crosses) {
    e.west = -180;
    e.east = 180;
  }
  e.south = std::max(e.south, -max_latitude);
  e.north = std::min(e.north, max_latitude);
  return e;
}

bool is_sqlite_file_or_empty(const std::string& file, std::string& problem) {
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return true;
    problem = std::strerror(errno);
    return false;
  }
  char header[16] = {};
  const ssize_t n = ::read(fd, header, sizeof header);
  const int error = errno;
  ::close(fd);
  if (n < 0) {
    problem = std::strerror(error);
    return false;
  }
  if (n == 0) return true;
  if (n == 16 && std::memcmp(header, "SQLite format 3", 16) == 0) return true;
  problem = "not an SQLite database";
  return false;
}

class mbtiles_store final : public store_base {
 public:
  mbtiles_store(const std::filesystem::path& path, const tile_fingerprint& fingerprint,
                const tile_store_options& options)
      : store_base(path, options) {
    const std::string file = shown_;
    if (path.has_parent_path()) {
      std::error_code ec;
      std::filesystem::create_directories(path.parent_path(), ec);
    }
    if (std::string problem; !is_sqlite_file_or_empty(file, problem)) {
      throw tile_store_error("output " + shown_ + " is not an MBTiles file (" + problem +
                             "); remove it or choose another output");
    }
    lock(file);
    // 16 KiB pages rather than 4 KiB: a typical tile takes one or two pages
    // instead of four or five, which halves the I/O calls per tile.
    open_database(file, "PRAGMA page_size = 16384");

    bool reset = false;
    if (has_table("cohort_meta")) {
      reset = check_fingerprint(fingerprint);
    } else if (schema_objects() > 0) {
      if (!options_.force) {
        throw fingerprint_mismatch_error(
            not_ours_message(shown_, "was not made by cohort tiles (no cohort_meta table)"));
      }
      reset = true;
    }
    if (reset) drop_everything();

    db_->exec("BEGIN IMMEDIATE", "creating its tables");
    db_->exec(mbtiles_application_id, "creating its tables");
    db_->exec(mbtiles_schema, "creating its tables");
    write_cohort_schema(fingerprint);
    put_metadata_.emplace(*db_, "INSERT OR REPLACE INTO metadata (name, value) VALUES (?1, ?2)",
                          "writing metadata");
    if (format_.empty()) format_ = stored_format();
    write_metadata(fingerprint);
    db_->exec("COMMIT", "creating its tables");

    put_tile_.emplace(*db_,
                      "INSERT OR REPLACE INTO tiles (zoom_level, tile_column, tile_row, "
                      "tile_data) VALUES (?1, ?2, ?3, ?4)",
                      "writing a tile");
    prepare_statements();
    load_lists();
    load_tiles();
  }

  ~mbtiles_store() override {
    try {
      close();
    } catch (...) {
      // Destructors do not throw; close() explicitly to see errors.
    }
  }

  void put(const tile& t, std::string_view bytes, const tile_validators& validators) override {
    check_usable();
    begin();
    if (format_.empty()) {
      format_ = sniff_format(bytes);
      write_format();
    }
    put_tile_->bind(1, t.z).bind(2, t.x).bind(3, tms_y(t.y, t.z)).bind_blob(4, bytes).run();
    note_stored(t, validators);
    stored_.insert(t);
    changed(bytes.size());
  }

  void close() override {
    close_with([this] {
      // Back to a single self-contained file for other readers (a WAL-mode
      // file needs a writable directory to be read). Not possible while a
      // reader has it open; then it simply stays in WAL mode.
      put_tile_.reset();
      put_metadata_.reset();
      sqlite3_busy_timeout(db_->get(), 100);
      sqlite3_exec(db_->get(), "PRAGMA journal_mode = DELETE", nullptr, nullptr, nullptr);
    });
  }

 private:
  void release_statements() noexcept override {
    put_tile_.reset();
    put_metadata_.reset();
  }

  // Drops every table, view and trigger, then compacts the file (force).
  void drop_everything() {
    std::vector<std::pair<std::string, std::string>> objects;
    {
      statement s(*db_,
                  "SELECT type, name FROM sqlite_master WHERE type IN ('view', 'trigger', "
                  "'table') AND name NOT LIKE 'sqlite_%' ORDER BY type = 'table'",
                  "reading its schema");
      while (s.step()) objects.emplace_back(s.text_at(0), s.text_at(1));
    }
    db_->exec("BEGIN IMMEDIATE", "emptying it");
    for (const auto& [type, name] : objects) {
      std::string sql = "DROP " + type + " IF EXISTS \"";
      for (const char c : name) sql += c == '"' ? std::string("\"\"") : std::string(1, c);
      sql += '"';
      db_->exec(sql.c_str(), "emptying it");
    }
    db_->exec("COMMIT", "emptying it");
    db_->exec("VACUUM", "emptying it");
  }

  // The extension matching the `format` metadata of an existing file.
  std::string stored_format() {
    statement s(*db_, "SELECT value FROM metadata WHERE name = 'format'", "reading metadata");
    std::string value = s.step() ? s.text_at(0) : std::string();
    s.reset();
    if (value == "image/gif") return "gif";
    return value == "png" || value == "jpg" || value == "webp" || value == "pbf" ? value : "";
  }

  void put_meta(std::string_view name, std::string_view value) {
    put_metadata_->bind_text(1, name).bind_text(2, value).run();
  }

  void write_format() {
    if (format_.empty()) return;
    const std::string value = mbtiles_format(format_);
    put_meta("format", value);
    // Required for vector tiles; listing the layers would mean decoding the
    // tiles, so the list is empty.
    if (value == "pbf") put_meta("json", R"({"vector_layers":[]})");
  }

  void write_metadata(const tile_fingerprint& fingerprint) {
    std::string name = options_.name;
    if (name.empty()) name = path_.stem().string();
    put_meta("name", name);
    write_format();
    const map_extent e = extent_of(fingerprint.boxes);
    std::string bounds;
    for (const double v : {e.west, e.south, e.east, e.north}) {
      if (!bounds.empty()) bounds += ',';
      append_number(bounds, v);
    }
    put_meta("bounds", bounds);
    if (!fingerprint.zooms.empty()) {
      const auto [lo, hi] = std::minmax_element(fingerprint.zooms.begin(), fingerprint.zooms.end());
      put_meta("minzoom", std::to_string(*lo));
      put_meta("maxzoom", std::to_string(*hi));
      // Rounded to 1e-6 degrees (11 cm), so that 52.505 does not print as
      // 52.504999999999995.
      const auto rounded = [](double v) { return std::round(v * 1e6) / 1e6; };
      std::string center;
      append_number(center, rounded((e.west + e.east) / 2));
      center += ',';
      append_number(center, rounded((e.south + e.north) / 2));
      center += ',' + std::to_string(*lo);
      put_meta("center", center);
    }
    put_meta("description", "Downloaded by cohort tiles");
  }

  void load_tiles() {
    statement s(*db_, "SELECT zoom_level, tile_column, tile_row FROM tiles", "reading its tiles");
    while (s.step()) {
      const std::int64_t z = s.int_at(0);
      if (z < 0 || z > max_zoom) continue;
      const std::int64_t row = s.int_at(2);
      const std::int64_t n = std::int64_t{1} << z;
      if (row < 0 || row >= n) continue;
      if (auto t = valid_tile(z, s.int_at(1), n - 1 - row)) stored_.insert(*t);
    }
  }

  std::optional<statement> put_tile_, put_metadata_;
};

}  // namespace

std::unique_ptr<tile_store> open_directory_store(const std::filesystem::path& path,
                                                 const tile_fingerprint& fingerprint,
                                                 const tile_store_options& options) {
  return std::make_unique<directory_store>(path, fingerprint, options);
}

std::unique_ptr<tile_store> open_mbtiles_store(const std::filesystem::path& path,
                                               const tile_fingerprint& fingerprint,
                                               const tile_store_options& options) {
  return std::make_unique<mbtiles_store>(path, fingerprint, options);
}

std::unique_ptr<tile_store> open_tile_store(const std::filesystem::path& path,
                                            const tile_fingerprint& fingerprint,
                                            const tile_store_options& options) {
  std::string ext = path.extension().string();
  for (char& c : ext) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  if (ext == ".mbtiles") return open_mbtiles_store(path, fingerprint, options);
  return open_directory_store(path, fingerprint, options);
}

}  // namespace cohort::app::tiles
