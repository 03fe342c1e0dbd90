// The PMTiles writer (pmtiles_writer.hpp): tiles into a temporary SQLite
// database, deduplicated; finish() lays out the archive from it
// (pmtiles_layout.cpp).

#include "cohort/tiles/pmtiles_writer.hpp"

#include <sqlite3.h>

#include <cmath>
#include <functional>
#include <limits>

#include "cohort/tiles/pmtiles_writer_impl.hpp"
#include "cohort/tiles/tile_id.hpp"
#include "cohort/tiles/tile_store.hpp"
#include "cohort/tiles/tile_validation.hpp"

namespace cohort::app::tiles {

namespace {

constexpr const char* writer_schema = R"sql(
PRAGMA journal_mode = OFF;
PRAGMA synchronous = OFF;
PRAGMA cache_size = -8192;
PRAGMA temp_store = FILE;
CREATE TABLE blobs (id INTEGER PRIMARY KEY, hash INTEGER NOT NULL, length INTEGER NOT NULL,
  data BLOB NOT NULL);
CREATE INDEX blobs_hash ON blobs (hash);
CREATE TABLE tiles (tile_id INTEGER PRIMARY KEY, blob INTEGER NOT NULL);
CREATE TABLE offsets (blob INTEGER PRIMARY KEY, offset INTEGER NOT NULL, length INTEGER NOT NULL);
CREATE TABLE leaves (id INTEGER PRIMARY KEY, data BLOB NOT NULL);
)sql";

// Changes per transaction while adding.
constexpr int changes_per_commit = 10000;

// The type and compression a tile's first bytes say.
std::pair<pmtiles_tile_type, pmtiles_compression> kind_of(std::string_view bytes) {
  const std::string_view f = sniff_tile_format(bytes);
  if (f == "png") return {pmtiles_tile_type::png, pmtiles_compression::none};
  if (f == "jpg") return {pmtiles_tile_type::jpeg, pmtiles_compression::none};
  if (f == "webp") return {pmtiles_tile_type::webp, pmtiles_compression::none};
  if (f == "gzip") return {pmtiles_tile_type::mvt, pmtiles_compression::gzip};
  if (f == "pbf") return {pmtiles_tile_type::mvt, pmtiles_compression::none};
  return {pmtiles_tile_type::unknown, pmtiles_compression::unknown};
}

double tile_lon(std::uint32_t x, int z) {
  return x * 360.0 / tiles_per_axis(z) - 180.0;
}

double tile_lat(std::uint32_t y, int z) {
  const double n = M_PI * (1.0 - 2.0 * y / tiles_per_axis(z));
  return std::atan(std::sinh(n)) * 180.0 / M_PI;
}

}  // namespace

std::filesystem::path detail::pmtiles_temp_path(const std::filesystem::path& path) {
  std::filesystem::path p = path;
  p += ".tmp";
  return p;
}

std::filesystem::path detail::pmtiles_db_path(const std::filesystem::path& path) {
  std::filesystem::path p = path;
  p += ".tmp.db";
  return p;
}

void remove_pmtiles_temporaries(const std::filesystem::path& path) {
  std::error_code ec;
  std::filesystem::remove(detail::pmtiles_temp_path(path), ec);
  std::filesystem::remove(detail::pmtiles_db_path(path), ec);
  std::filesystem::path journal = detail::pmtiles_db_path(path);
  journal += "-journal";
  std::filesystem::remove(journal, ec);
}

pmtiles_writer::impl::impl(const std::filesystem::path& path, pmtiles_write_options options)
    : path_(path), shown_(path.string()), options_(std::move(options)) {
  remove_pmtiles_temporaries(path_);
  db_ = std::make_unique<sqlite_database>(
      detail::pmtiles_db_path(path_), sqlite_lock::exclusive, [this](const sqlite_failure& f) {
        throw tile_store_error("output " + shown_ + ": " + std::string(f.doing) + ": " + f.message);
      });
  db_->exec(writer_schema, "creating its temporary database");
  find_blob_.emplace(*db_, "SELECT id, data FROM blobs WHERE hash = ?1", "finding a tile");
  put_blob_.emplace(*db_, "INSERT INTO blobs (hash, length, data) VALUES (?1, ?2, ?3)",
                    "storing a tile");
  put_tile_.emplace(*db_, "INSERT OR REPLACE INTO tiles (tile_id, blob) VALUES (?1, ?2)",
                    "storing a tile");
}

pmtiles_writer::impl::~impl() {
  statements_.clear();
  find_blob_.reset();
  put_blob_.reset();
  put_tile_.reset();
  if (db_) db_->rollback();
  db_.reset();
  if (!finished_) remove_pmtiles_temporaries(path_);
}

void pmtiles_writer::impl::add(const tile& t, std::string_view bytes) {
  if (!in_transaction_) {
    db_->exec("BEGIN", "storing tiles");
    in_transaction_ = true;
  }
  const auto hash = static_cast<std::int64_t>(std::hash<std::string_view>{}(bytes));
  std::optional<std::int64_t> blob;
  find_blob_->bind(1, hash);
  while (find_blob_->step()) {
    if (!blob && find_blob_->text_at(1) == bytes) blob = find_blob_->int_at(0);
  }
  if (!blob) {
    put_blob_->bind(1, hash).bind(2, static_cast<std::int64_t>(bytes.size()));
    put_blob_->bind_blob(3, bytes).run();
    blob = sqlite3_last_insert_rowid(db_->get());
  }
  put_tile_->bind(1, static_cast<std::int64_t>(tile_id(t))).bind(2, *blob).run();
  note_tile(t, bytes);
  if (++changes_ >= changes_per_commit) commit();
}

void pmtiles_writer::impl::note_tile(const tile& t, std::string_view bytes) {
  const auto kind = kind_of(bytes);
  if (!kind_) {
    kind_ = kind;
  } else if (*kind_ != kind) {
    kind_ = {pmtiles_tile_type::unknown, pmtiles_compression::unknown};
  }
  min_zoom_ = std::min(min_zoom_, t.z);
  max_zoom_ = std::max(max_zoom_, t.z);
  extent_.west = std::min(extent_.west, tile_lon(t.x, t.z));
  extent_.east = std::max(extent_.east, tile_lon(t.x + 1, t.z));
  extent_.north = std::max(extent_.north, tile_lat(t.y, t.z));
  extent_.south = std::min(extent_.south, tile_lat(t.y + 1, t.z));
}

void pmtiles_writer::impl::commit() {
  if (in_transaction_) db_->exec("COMMIT", "storing tiles");
  in_transaction_ = false;
  changes_ = 0;
}

std::uint64_t pmtiles_writer::impl::size() {
  sqlite_statement s(*db_, "SELECT count(*) FROM tiles", "counting tiles");
  s.step();
  const auto n = static_cast<std::uint64_t>(s.int_at(0));
  s.reset();
  return n;
}

sqlite_statement& pmtiles_writer::impl::statement(const char* sql) {
  for (auto& [text, s] : statements_) {
    if (std::string_view(text) == sql) return s;
  }
  return statements_.emplace_back(sql, sqlite_statement(*db_, sql, "building the archive")).second;
}

pmtiles_writer::pmtiles_writer(const std::filesystem::path& path, pmtiles_write_options options)
    : impl_(std::make_unique<impl>(path, std::move(options))) {}

pmtiles_writer::~pmtiles_writer() = default;

void pmtiles_writer::add(const tile& t, std::string_view bytes) {
  impl_->add(t, bytes);
}

std::uint64_t pmtiles_writer::size() const {
  return impl_->size();
}

pmtiles_write_result pmtiles_writer::finish(bool fsync) {
  return impl_->finish(fsync);
}

}  // namespace cohort::app::tiles
