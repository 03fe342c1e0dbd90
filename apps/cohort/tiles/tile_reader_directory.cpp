// Reading a tile directory DIR/z/x/y.ext (tile_reader.hpp): three nested
// directory streams, so memory stays constant whatever the tile count; the
// fingerprint from our bookkeeping database, read-only.

#include <sqlite3.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <system_error>

#include "cohort/tiles/tile_formats.hpp"
#include "cohort/tiles/tile_reader.hpp"

namespace cohort::app::tiles::detail {

namespace {

namespace fs = std::filesystem;

// A canonical decimal (no sign, no leading zero) below `limit`.
std::optional<std::uint32_t> parse_index(std::string_view s, std::uint64_t limit) {
  if (s.empty() || s.size() > 10 || (s.size() > 1 && s[0] == '0')) return std::nullopt;
  std::uint64_t v = 0;
  for (const char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  if (v >= limit) return std::nullopt;
  return static_cast<std::uint32_t>(v);
}

// The cohort_meta fields of the directory's bookkeeping database, if any.
std::optional<cohort::fingerprint> read_directory_fingerprint(const fs::path& root) {
  const fs::path db_file = root / std::string(directory_store_db_name);
  std::error_code ec;
  if (!fs::is_regular_file(db_file, ec)) return std::nullopt;
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(db_file.c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
  const std::unique_ptr<sqlite3, int (*)(sqlite3*)> guard(db, sqlite3_close);
  sqlite3_stmt* s = nullptr;
  if (rc != SQLITE_OK ||
      sqlite3_prepare_v2(db, "SELECT name, value FROM cohort_meta", -1, &s, nullptr) != SQLITE_OK) {
    sqlite3_finalize(s);
    return std::nullopt;
  }
  cohort::fingerprint f;
  while (sqlite3_step(s) == SQLITE_ROW) {
    const std::string name = reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
    const char* value = reinterpret_cast<const char*>(sqlite3_column_text(s, 1));
    if (name == "url_template" || name == "boxes" || name == "zooms") {
      f.push_back({name, value ? value : ""});
    }
  }
  sqlite3_finalize(s);
  if (f.empty()) return std::nullopt;
  return f;
}

// The walk over root/z/x/y.ext, one directory stream per level.
class directory_walk {
 public:
  directory_walk(const fs::path& root, const tile_filter& filter) : filter_(filter) {
    z_it_ = fs::directory_iterator(root, ec_);
  }

  // The next tile file passing the filter: its tile and path.
  bool next(tile& t, fs::path& file) {
    for (;;) {
      if (y_it_ != fs::directory_iterator()) {
        const fs::directory_entry e = *y_it_;
        y_it_.increment(ec_);
        if (ec_) y_it_ = {};
        if (tile_file(e, t)) {
          file = e.path();
          return true;
        }
      } else if (x_it_ != fs::directory_iterator()) {
        enter_column();
      } else if (z_it_ != fs::directory_iterator()) {
        enter_zoom();
      } else {
        return false;
      }
    }
  }

 private:
  void enter_zoom() {
    const fs::directory_entry e = *z_it_;
    z_it_.increment(ec_);
    if (ec_) z_it_ = {};
    const auto z = parse_index(e.path().filename().string(), max_zoom + 1);
    if (!z || !e.is_directory(ec_) || e.is_symlink(ec_)) return;
    if (!filter_.zooms.empty() && std::find(filter_.zooms.begin(), filter_.zooms.end(),
                                            static_cast<int>(*z)) == filter_.zooms.end()) {
      return;
    }
    z_ = static_cast<int>(*z);
    x_it_ = fs::directory_iterator(e.path(), ec_);
  }

  void enter_column() {
    const fs::directory_entry e = *x_it_;
    x_it_.increment(ec_);
    if (ec_) x_it_ = {};
    const auto x = parse_index(e.path().filename().string(), std::uint64_t{1} << z_);
    if (!x || !e.is_directory(ec_) || e.is_symlink(ec_)) return;
    x_ = *x;
    y_it_ = fs::directory_iterator(e.path(), ec_);
  }

  bool tile_file(const fs::directory_entry& e, tile& t) {
    const std::string name = e.path().filename().string();
    const auto dot = name.find('.');
    if (dot == std::string::npos || !is_tile_extension(std::string_view(name).substr(dot + 1))) {
      return false;
    }
    const auto y = parse_index(std::string_view(name).substr(0, dot), std::uint64_t{1} << z_);
    if (!y || !e.is_regular_file(ec_) || e.is_symlink(ec_)) return false;
    t = tile{z_, x_, *y};
    return filter_.accepts(t);
  }

  const tile_filter& filter_;
  std::error_code ec_;
  fs::directory_iterator z_it_, x_it_, y_it_;
  int z_ = 0;
  std::uint32_t x_ = 0;
};

class directory_reader : public tile_reader {
 public:
  directory_reader(const fs::path& path, tile_filter filter)
      : path_(path), prefix_(input_prefix(path)), filter_(std::move(filter)), walk_(path, filter_) {
    info_.kind = tile_output_kind::directory;
    info_.name =
        path.filename().empty() ? path.parent_path().filename().string() : path.filename().string();
    info_.fingerprint = read_directory_fingerprint(path);
    read_zooms_and_format();
  }

  bool next(read_tile& out) override {
    fs::path file;
    if (!walk_.next(out.where, file)) return false;
    std::ifstream in(file, std::ios::binary);
    out.bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    if (in.bad() || !in.is_open()) {
      throw tile_store_error(prefix_ + "cannot read " + file.string());
    }
    return true;
  }

 private:
  // Zooms from the names of the root's entries; the format from the first
  // tile file's extension (a separate, short walk).
  void read_zooms_and_format() {
    std::error_code ec;
    for (fs::directory_iterator it(path_, ec), end; !ec && it != end; it.increment(ec)) {
      const auto z = parse_index(it->path().filename().string(), max_zoom + 1);
      if (!z || !it->is_directory(ec)) continue;
      const int zi = static_cast<int>(*z);
      info_.min_zoom = std::min(info_.min_zoom.value_or(zi), zi);
      info_.max_zoom = std::max(info_.max_zoom.value_or(zi), zi);
    }
    if (ec) throw tile_store_error(prefix_ + "cannot read: " + ec.message());
    const tile_filter all;
    directory_walk first(path_, all);
    tile t;
    fs::path file;
    if (first.next(t, file)) {
      std::string ext = file.extension().string().substr(1);
      info_.format = ext == "jpeg" ? "jpg" : ext == "mvt" ? "pbf" : ext;
    }
  }

  fs::path path_;
  std::string prefix_;
  tile_filter filter_;
  directory_walk walk_;
};

}  // namespace

std::unique_ptr<tile_reader> open_directory_reader(const std::filesystem::path& path,
                                                   tile_filter filter) {
  return std::make_unique<directory_reader>(path, std::move(filter));
}

}  // namespace cohort::app::tiles::detail
