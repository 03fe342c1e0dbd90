// The MBTiles store: an MBTiles 1.3 file with our bookkeeping tables beside
// its own (see tile_store.hpp and docs/tile_stores.md).

#include "cohort/tiles/tile_store.hpp"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cohort/tiles/tile_formats.hpp"
#include "cohort/tiles/tile_store_base.hpp"
#include "cohort/tiles/wal_checkpointer.hpp"

namespace cohort::app::tiles {

namespace {

using detail::append_number;
using detail::not_ours_message;
using detail::sniff_format;
using detail::store_base;

constexpr const char* mbtiles_schema = R"sql(
CREATE TABLE IF NOT EXISTS metadata (name TEXT, value TEXT);
CREATE UNIQUE INDEX IF NOT EXISTS metadata_name ON metadata (name);
CREATE TABLE IF NOT EXISTS tiles (zoom_level INTEGER, tile_column INTEGER, tile_row INTEGER,
  tile_data BLOB);
CREATE UNIQUE INDEX IF NOT EXISTS tile_index ON tiles (zoom_level, tile_column, tile_row);
)sql";

// 64 KiB pages, SQLite's largest, rather than its 4 KiB: a tile of 16 KiB
// shares a page with others instead of taking four or five pages of its
// own, and each page costs four system calls whatever its size (the log
// frame's header and page, the checkpoint's read of it and its write into
// the file): 5.9 calls per tile of 16 KiB with 16 KiB pages, 1.4 with 64 KiB.
constexpr int page_bytes = 65536;

// MBTiles 1.3: "The file MAY have the application_id 0x4d504258" ("MPBX").
// The log is checkpointed on another thread once it holds this many bytes
// of pages (16 MiB), and by the writer itself should it reach the limit
// (64 MiB) all the same. In bytes: a file made with smaller pages is resumed
// with its own.
constexpr std::int64_t checkpoint_bytes = std::int64_t{16} << 20;
constexpr std::int64_t checkpoint_limit_bytes = std::int64_t{64} << 20;

constexpr const char* mbtiles_application_id = "PRAGMA application_id = 1297105496";

// The MBTiles 1.3 `format` value for an extension: pbf, jpg, png, webp, or
// an IETF media type for the others.
std::string mbtiles_format(std::string_view ext) {
  if (ext == "jpeg") return "jpg";
  if (ext == "mvt") return "pbf";
  if (ext == "gif") return "image/gif";
  if (ext == "bin") return "application/octet-stream";
  return std::string(ext);
}

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

// True for a file that is absent, empty or an SQLite database. A file that
// cannot be read throws: its errno is the cause, not its contents.
bool is_sqlite_file_or_empty(const std::string& file, std::string& problem) {
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return true;
    throw tile_store_error("output " + file + ": cannot read it: " + std::strerror(errno));
  }
  char header[16] = {};
  const ssize_t n = ::read(fd, header, sizeof header);
  const int error = errno;
  ::close(fd);
  if (n < 0 && error == EISDIR) {
    problem = "a directory";
    return false;
  }
  if (n < 0) throw tile_store_error("output " + file + ": cannot read it: " + std::strerror(error));
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
    if (path.has_parent_path()) make_directories(path.parent_path().string());
    if (std::string problem; !is_sqlite_file_or_empty(file, problem)) {
      throw tile_store_error("output " + shown_ + " is not an MBTiles file (" + problem +
                             "); remove it or choose another output");
    }
    open_database(file, ("PRAGMA page_size = " + std::to_string(page_bytes)).c_str());

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
    try {
      const std::int64_t page = page_size();
      checkpointer_.emplace(db_->get(), file, static_cast<int>(checkpoint_bytes / page),
                            static_cast<int>(checkpoint_limit_bytes / page));
    } catch (const std::exception&) {
      // SQLite's own checkpoints then, on the loop's thread: slower, as safe.
    }
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
      checkpointer_.reset();
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
    checkpointer_.reset();
    put_tile_.reset();
    put_metadata_.reset();
  }

  // Drops every table, view and trigger, then compacts the file (force).
  void drop_everything() {
    std::vector<std::pair<std::string, std::string>> objects;
    {
      sqlite_statement s(*db_,
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

  // The file's page size: page_bytes for a new file, its own for an old one.
  std::int64_t page_size() {
    sqlite_statement s(*db_, "PRAGMA page_size", "reading its page size");
    const std::int64_t bytes = s.step() ? s.int_at(0) : 0;
    s.reset();
    return bytes > 0 ? bytes : page_bytes;
  }

  // The extension matching the `format` metadata of an existing file.
  std::string stored_format() {
    sqlite_statement s(*db_, "SELECT value FROM metadata WHERE name = 'format'",
                       "reading metadata");
    std::string value = s.step() ? std::string(s.text_at(0)) : std::string();
    s.reset();
    if (value == "image/gif") return "gif";
    return value == "png" || value == "jpg" || value == "webp" || value == "pbf" ? value : "";
  }

  void put_meta(std::string_view name, std::string_view value) {
    put_metadata_->bind_text(1, name).bind_text(2, value).run();
  }

  // The metadata row `name` of the file, if it has one.
  std::optional<std::string> stored_meta(const char* name) {
    sqlite_statement s(*db_, "SELECT value FROM metadata WHERE name = ?1", "reading metadata");
    s.bind_text(1, name);
    std::optional<std::string> value;
    if (s.step()) value = s.text_at(0);
    s.reset();
    return value;
  }

  // A metadata row given by an option; without it, a resumed file keeps
  // what an earlier run was given, and a new one gets `fallback` (none when
  // empty).
  void put_given_meta(const char* name, const std::string& given, const std::string& fallback) {
    if (!given.empty()) {
      put_meta(name, given);
    } else if (!fallback.empty() && !stored_meta(name)) {
      put_meta(name, fallback);
    }
  }

  void write_format() {
    if (format_.empty()) return;
    const std::string value = mbtiles_format(format_);
    put_meta("format", value);
    // Required for vector tiles: the layers the source describes (a
    // TileJSON's vector_layers), else an empty list (listing them ourselves
    // would mean decoding the tiles).
    if (!options_.json.empty()) {
      put_meta("json", options_.json);
    } else if (value == "pbf" && !stored_meta("json")) {
      put_meta("json", R"({"vector_layers":[]})");
    }
  }

  void write_metadata(const tile_fingerprint& fingerprint) {
    put_given_meta("name", options_.name, path_.stem().string());
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
    put_given_meta("description", options_.description, "Downloaded by cohort tiles");
    put_given_meta("attribution", options_.attribution, "");
  }

  void load_tiles() {
    sqlite_statement s(*db_, "SELECT zoom_level, tile_column, tile_row FROM tiles",
                       "reading its tiles");
    while (s.step()) {
      const std::int64_t z = s.int_at(0);
      if (z < 0 || z > max_zoom) continue;
      const std::int64_t row = s.int_at(2);
      const std::int64_t n = std::int64_t{1} << z;
      if (row < 0 || row >= n) continue;
      if (auto t = valid_tile(z, s.int_at(1), n - 1 - row)) stored_.insert(*t);
    }
  }

  std::optional<sqlite_statement> put_tile_, put_metadata_;
  std::optional<detail::wal_checkpointer> checkpointer_;
};

}  // namespace

std::unique_ptr<tile_store> open_mbtiles_store(const std::filesystem::path& path,
                                               const tile_fingerprint& fingerprint,
                                               const tile_store_options& options) {
  return std::make_unique<mbtiles_store>(path, fingerprint, options);
}

}  // namespace cohort::app::tiles
