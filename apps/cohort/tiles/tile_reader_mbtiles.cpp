// Reading an MBTiles file (tile_reader.hpp): read-only, one SQLite
// statement stepping through the tiles table, the metadata table for the
// info and our cohort_meta table, if any, for the fingerprint.

#include <sqlite3.h>

#include <charconv>
#include <memory>
#include <string>

#include "cohort/tiles/tile_formats.hpp"
#include "cohort/tiles/tile_reader.hpp"

namespace cohort::app::tiles::detail {

namespace {

struct db_close {
  void operator()(sqlite3* db) const { sqlite3_close(db); }
};
struct stmt_finalize {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using stmt_ptr = std::unique_ptr<sqlite3_stmt, stmt_finalize>;

std::string_view column_text(sqlite3_stmt* s, int i) {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s, i));
  return p ? std::string_view(p, static_cast<std::size_t>(sqlite3_column_bytes(s, i)))
           : std::string_view();
}

std::optional<int> parse_int(std::string_view s) {
  int v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

// "W,S,E,N" as MBTiles writes its bounds.
std::optional<bbox> parse_bounds(std::string_view s) {
  double v[4];
  for (int i = 0; i < 4; ++i) {
    const std::size_t comma = i < 3 ? s.find(',') : s.size();
    if (comma == std::string_view::npos) return std::nullopt;
    const std::string part(s.substr(0, comma));
    char* end = nullptr;
    v[i] = std::strtod(part.c_str(), &end);
    if (part.empty() || end != part.c_str() + part.size()) return std::nullopt;
    s.remove_prefix(std::min(comma + 1, s.size()));
  }
  return bbox{v[0], v[1], v[2], v[3]};
}

// The extension for MBTiles' `format` value.
std::string format_extension(std::string_view f) {
  if (f == "jpeg") return "jpg";
  if (f == "image/gif") return "gif";
  if (f == "png" || f == "jpg" || f == "webp" || f == "pbf" || f == "gif") return std::string(f);
  return f.empty() ? "" : "bin";
}

class mbtiles_reader : public tile_reader {
 public:
  mbtiles_reader(const std::filesystem::path& path, tile_filter filter)
      : prefix_(input_prefix(path)), filter_(std::move(filter)) {
    sqlite3* db = nullptr;
    const int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
    db_.reset(db);
    if (rc != SQLITE_OK) fail("cannot open");
    info_.kind = tile_output_kind::mbtiles;
    read_metadata();
    read_fingerprint();
    count_tiles();
    tiles_ = prepare(tiles_sql().c_str());
  }

  bool next(read_tile& out) override {
    while (tiles_) {
      const int rc = sqlite3_step(tiles_.get());
      if (rc == SQLITE_DONE) {
        tiles_.reset();
        return false;
      }
      if (rc != SQLITE_ROW) fail("reading its tiles");
      const std::int64_t z = sqlite3_column_int64(tiles_.get(), 0);
      const std::int64_t x = sqlite3_column_int64(tiles_.get(), 1);
      const std::int64_t row = sqlite3_column_int64(tiles_.get(), 2);
      if (z < 0 || z > max_zoom || x < 0 || row < 0 || x >> z != 0 || row >> z != 0) continue;
      const tile t{static_cast<int>(z), static_cast<std::uint32_t>(x),
                   tms_y(static_cast<std::uint32_t>(row), static_cast<int>(z))};
      if (!filter_.accepts(t)) continue;
      const void* blob = sqlite3_column_blob(tiles_.get(), 3);
      const int n = sqlite3_column_bytes(tiles_.get(), 3);
      if (n <= 0) continue;  // an empty tile is no tile
      out.where = t;
      out.bytes.assign(static_cast<const char*>(blob), static_cast<std::size_t>(n));
      return true;
    }
    return false;
  }

 private:
  [[noreturn]] void fail(std::string_view doing) const {
    throw tile_store_error(prefix_ + std::string(doing) + ": " +
                           (db_ ? sqlite3_errmsg(db_.get()) : "out of memory"));
  }

  stmt_ptr prepare(const char* sql, bool optional = false) const {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db_.get(), sql, -1, &s, nullptr) != SQLITE_OK) {
      sqlite3_finalize(s);
      if (optional) return nullptr;
      fail("not an MBTiles file");
    }
    return stmt_ptr(s);
  }

  std::string tiles_sql() const {
    std::string sql = "SELECT zoom_level, tile_column, tile_row, tile_data FROM tiles";
    if (!filter_.zooms.empty()) {
      sql += " WHERE zoom_level IN (";
      for (std::size_t i = 0; i < filter_.zooms.size(); ++i) {
        sql += (i ? "," : "") + std::to_string(filter_.zooms[i]);
      }
      sql += ")";
    }
    return sql + " ORDER BY zoom_level, tile_column, tile_row";
  }

  void read_metadata() {
    const stmt_ptr s = prepare("SELECT name, value FROM metadata");
    while (sqlite3_step(s.get()) == SQLITE_ROW) {
      const std::string_view name = column_text(s.get(), 0);
      const std::string_view value = column_text(s.get(), 1);
      if (name == "format") info_.format = format_extension(value);
      if (name == "name") info_.name = value;
      if (name == "description") info_.description = value;
      if (name == "attribution") info_.attribution = value;
      if (name == "json") info_.json = value;
      if (name == "bounds") info_.bounds = parse_bounds(value);
      if (name == "minzoom") info_.min_zoom = parse_int(value);
      if (name == "maxzoom") info_.max_zoom = parse_int(value);
    }
  }

  void read_fingerprint() {
    const stmt_ptr s = prepare("SELECT name, value FROM cohort_meta", true);
    if (!s) return;
    cohort::fingerprint f;
    while (sqlite3_step(s.get()) == SQLITE_ROW) {
      const std::string_view name = column_text(s.get(), 0);
      if (name == "url_template" || name == "boxes" || name == "zooms") {
        f.push_back({std::string(name), std::string(column_text(s.get(), 1))});
      }
    }
    if (!f.empty()) info_.fingerprint = std::move(f);
  }

  void count_tiles() {
    const stmt_ptr s = prepare("SELECT count(*) FROM tiles");
    if (sqlite3_step(s.get()) != SQLITE_ROW) fail("counting its tiles");
    info_.tile_count = static_cast<std::uint64_t>(sqlite3_column_int64(s.get(), 0));
  }

  std::string prefix_;
  tile_filter filter_;
  std::unique_ptr<sqlite3, db_close> db_;
  stmt_ptr tiles_;
};

}  // namespace

std::unique_ptr<tile_reader> open_mbtiles_reader(const std::filesystem::path& path,
                                                 tile_filter filter) {
  return std::make_unique<mbtiles_reader>(path, std::move(filter));
}

}  // namespace cohort::app::tiles::detail
