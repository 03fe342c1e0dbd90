// The PMTiles writer's finish() (pmtiles_writer.hpp): blob offsets in
// first-use order, the directories, the metadata, the header, and the
// archive written to OUT.tmp and renamed into place. Every pass streams the
// tiles table in tile-ID order.

#include <fcntl.h>
#include <unistd.h>

#include <boost/json.hpp>

#include <cerrno>
#include <cstring>
#include <limits>
#include <vector>

#include "cohort/tiles/pmtiles_writer_impl.hpp"
#include "cohort/tiles/tile_store.hpp"

namespace cohort::app::tiles {

namespace {

namespace json = boost::json;

constexpr std::size_t max_root_bytes = pmtiles_root_limit - pmtiles_header_size;

// The directory entries in tile-ID order, consecutive tiles with the same
// blob merged into runs.
class entry_stream {
 public:
  explicit entry_stream(sqlite_statement& s) : s_(s) {}

  bool next(pmtiles_entry& out) {
    if (!pending_ && !read()) return false;
    out = *pending_;
    pending_.reset();
    while (read()) {
      const pmtiles_entry& e = *pending_;
      if (e.tile_id != out.tile_id + out.run_length || e.offset != out.offset ||
          out.run_length == std::numeric_limits<std::uint32_t>::max()) {
        return true;
      }
      ++out.run_length;
      pending_.reset();
    }
    return true;
  }

 private:
  bool read() {
    if (done_ || !s_.step()) {
      done_ = true;
      return false;
    }
    pending_ = pmtiles_entry{static_cast<std::uint64_t>(s_.int_at(0)),
                             static_cast<std::uint64_t>(s_.int_at(1)),
                             static_cast<std::uint32_t>(s_.int_at(2)), 1};
    return true;
  }

  sqlite_statement& s_;
  std::optional<pmtiles_entry> pending_;
  bool done_ = false;
};

constexpr const char* entries_sql =
    "SELECT t.tile_id, o.offset, o.length FROM tiles t JOIN offsets o ON o.blob = t.blob "
    "ORDER BY t.tile_id";

std::string compressed_directory(const std::vector<pmtiles_entry>& entries) {
  return pmtiles_compress(encode_pmtiles_directory(entries), pmtiles_compression::gzip);
}

// Buffered writes to a file descriptor, every short write and EINTR handled.
class file_out {
 public:
  file_out(const std::filesystem::path& file, const std::string& shown) : shown_(shown) {
    fd_ = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0) fail("cannot create " + file.string());
  }
  ~file_out() {
    if (fd_ >= 0) ::close(fd_);
  }
  file_out(const file_out&) = delete;
  file_out& operator=(const file_out&) = delete;

  void write(std::string_view bytes) {
    if (buffer_.size() + bytes.size() > buffer_limit) flush();
    if (bytes.size() > buffer_limit) {
      write_all(bytes);
    } else {
      buffer_.append(bytes);
    }
  }

  void close(bool fsync) {
    flush();
    if (fsync && ::fsync(fd_) != 0) fail("fsync");
    const int fd = std::exchange(fd_, -1);
    if (::close(fd) != 0) fail("close");
  }

 private:
  static constexpr std::size_t buffer_limit = std::size_t{1} << 20;

  void flush() {
    write_all(buffer_);
    buffer_.clear();
  }

  void write_all(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = ::write(fd_, bytes.data(), bytes.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) fail("writing");
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
  }

  [[noreturn]] void fail(const std::string& doing) const {
    throw tile_store_error("output " + shown_ + ": " + doing + ": " + std::strerror(errno));
  }

  std::string shown_;
  int fd_ = -1;
  std::string buffer_;
};

void fsync_directory(const std::filesystem::path& dir, const std::string& shown) {
  const int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0 || ::fsync(fd) != 0) {
    const int e = errno;
    if (fd >= 0) ::close(fd);
    throw tile_store_error("output " + shown + ": fsync of its directory: " + std::strerror(e));
  }
  ::close(fd);
}

}  // namespace

void pmtiles_writer::impl::poll(std::uint64_t n) const {
  if (n % 1024 == 0 && options_.poll) options_.poll();
}

// Gives each distinct blob its offset in the tile data, in the order of
// first use by tile ID. Returns the tile data's length and blob count.
std::pair<std::uint64_t, std::uint64_t> pmtiles_writer::impl::assign_offsets() {
  sqlite_statement& tiles = statement(
      "SELECT t.blob, b.length FROM tiles t JOIN blobs b ON b.id = t.blob ORDER BY t.tile_id");
  sqlite_statement& known = statement("SELECT 1 FROM offsets WHERE blob = ?1");
  sqlite_statement& put =
      statement("INSERT INTO offsets (blob, offset, length) VALUES (?1, ?2, ?3)");
  std::uint64_t offset = 0;
  std::uint64_t contents = 0;
  for (std::uint64_t n = 0; tiles.step(); ++n) {
    poll(n);
    const std::int64_t blob = tiles.int_at(0);
    const std::int64_t length = tiles.int_at(1);
    known.bind(1, blob);
    const bool seen = known.step();
    known.reset();
    if (seen) continue;
    put.bind(1, blob).bind(2, static_cast<std::int64_t>(offset)).bind(3, length).run();
    offset += static_cast<std::uint64_t>(length);
    ++contents;
  }
  return {offset, contents};
}

// The root alone when the entries are few enough and fit; else leaves.
pmtiles_writer::impl::directories pmtiles_writer::impl::build_directories() {
  directories d;
  std::vector<pmtiles_entry> entries;
  {
    entry_stream in(statement(entries_sql));
    for (pmtiles_entry e; entries.size() <= options_.max_root_entries && in.next(e);) {
      entries.push_back(e);
    }
    if (entries.size() > options_.max_root_entries) statement(entries_sql).reset();
  }
  if (entries.size() <= options_.max_root_entries) {
    d.root = compressed_directory(entries);
    if (d.root.size() <= max_root_bytes) {
      d.entries = entries.size();
      for (const pmtiles_entry& e : entries) d.addressed += e.run_length;
      return d;
    }
  }
  entries = {};
  for (std::uint32_t n = std::max<std::uint32_t>(options_.leaf_entries, 1);; n *= 2) {
    if (try_leaves(n, d)) return d;
  }
}

// Leaves of `leaf_entries` entries each; false when the root does not fit.
bool pmtiles_writer::impl::try_leaves(std::uint32_t leaf_entries, directories& out) {
  db_->exec("DELETE FROM leaves", "building the archive");
  sqlite_statement& put = statement("INSERT INTO leaves (data) VALUES (?1)");
  directories d;
  std::vector<pmtiles_entry> root;
  std::vector<pmtiles_entry> leaf;
  auto flush_leaf = [&] {
    const std::string bytes = compressed_directory(leaf);
    put.bind_blob(1, bytes).run();
    root.push_back(
        {leaf.front().tile_id, d.leaf_bytes, static_cast<std::uint32_t>(bytes.size()), 0});
    d.leaf_bytes += bytes.size();
    ++d.leaves;
    leaf.clear();
  };
  entry_stream in(statement(entries_sql));
  for (pmtiles_entry e; in.next(e);) {
    poll(d.entries);
    ++d.entries;
    d.addressed += e.run_length;
    leaf.push_back(e);
    if (leaf.size() == leaf_entries) flush_leaf();
  }
  if (!leaf.empty()) flush_leaf();
  d.root = compressed_directory(root);
  if (d.root.size() > max_root_bytes) return false;
  out = std::move(d);
  return true;
}

std::string pmtiles_writer::impl::metadata_json() const {
  json::object meta;
  boost::system::error_code ec;
  if (!options_.json.empty()) {
    json::value extra = json::parse(options_.json, ec);
    if (!ec && extra.is_object()) meta = std::move(extra.get_object());
  }
  if (!options_.name.empty()) meta["name"] = options_.name;
  if (!options_.description.empty()) meta["description"] = options_.description;
  if (!options_.attribution.empty()) meta["attribution"] = options_.attribution;
  if (kind_ && kind_->first == pmtiles_tile_type::mvt && !meta.contains("vector_layers")) {
    meta["vector_layers"] = json::array();
  }
  if (options_.fingerprint) {
    json::object fp;
    for (const fingerprint_field& f : *options_.fingerprint) fp[f.name] = f.value;
    meta["cohort_fingerprint"] = std::move(fp);
  }
  return json::serialize(meta);
}

pmtiles_header pmtiles_writer::impl::make_header(const directories& d, std::uint64_t metadata_bytes,
                                                 std::uint64_t data_bytes,
                                                 std::uint64_t contents) const {
  pmtiles_header h;
  h.root_offset = pmtiles_header_size;
  h.root_length = d.root.size();
  h.metadata_offset = h.root_offset + h.root_length;
  h.metadata_length = metadata_bytes;
  h.leaf_offset = h.metadata_offset + h.metadata_length;
  h.leaf_length = d.leaf_bytes;
  // Without leaves, the leaf offset is the tile data's (readers expect it).
  h.tile_data_offset = h.leaf_offset + h.leaf_length;
  h.tile_data_length = data_bytes;
  h.addressed_tiles = d.addressed;
  h.tile_entries = d.entries;
  h.tile_contents = contents;
  h.clustered = true;
  h.internal_compression = pmtiles_compression::gzip;
  const auto kind =
      kind_.value_or(std::pair{pmtiles_tile_type::unknown, pmtiles_compression::unknown});
  h.tile_type = kind.first;
  h.tile_compression = kind.second;
  const bool any = min_zoom_ <= max_zoom_;
  h.min_zoom = static_cast<std::uint8_t>(any ? min_zoom_ : 0);
  h.max_zoom = static_cast<std::uint8_t>(any ? max_zoom_ : 0);
  const bbox b = options_.bounds.value_or(any ? extent_ : bbox{-180, -90, 180, 90});
  const bool crosses = b.crosses_antimeridian();
  h.min_lon_e7 = pmtiles_e7(crosses ? -180 : b.west);
  h.max_lon_e7 = pmtiles_e7(crosses ? 180 : b.east);
  h.min_lat_e7 = pmtiles_e7(b.south);
  h.max_lat_e7 = pmtiles_e7(b.north);
  h.center_zoom = h.min_zoom;
  h.center_lon_e7 = pmtiles_e7((pmtiles_degrees(h.min_lon_e7) + pmtiles_degrees(h.max_lon_e7)) / 2);
  h.center_lat_e7 = pmtiles_e7((b.south + b.north) / 2);
  return h;
}

void pmtiles_writer::impl::write_archive(const std::filesystem::path& file, const pmtiles_header& h,
                                         const directories& d, const std::string& metadata,
                                         bool fsync) {
  file_out out(file, shown_);
  out.write(encode_pmtiles_header(h));
  out.write(d.root);
  out.write(metadata);
  sqlite_statement& leaves = statement("SELECT data FROM leaves ORDER BY id");
  while (d.leaves > 0 && leaves.step()) out.write(leaves.text_at(0));
  sqlite_statement& tiles = statement(
      "SELECT t.blob, o.offset FROM tiles t JOIN offsets o ON o.blob = t.blob ORDER BY t.tile_id");
  sqlite_statement& blob = statement("SELECT data FROM blobs WHERE id = ?1");
  std::uint64_t written = 0;
  for (std::uint64_t n = 0; tiles.step(); ++n) {
    poll(n);
    if (static_cast<std::uint64_t>(tiles.int_at(1)) != written) continue;  // written before
    blob.bind(1, tiles.int_at(0));
    blob.step();
    const std::string_view bytes = blob.text_at(0);
    out.write(bytes);
    written += bytes.size();
    blob.reset();
  }
  out.close(fsync);
}

pmtiles_write_result pmtiles_writer::impl::finish(bool fsync) {
  commit();
  db_->exec("BEGIN", "building the archive");
  in_transaction_ = true;
  const auto [data_bytes, contents] = assign_offsets();
  const directories d = build_directories();
  const std::string metadata = pmtiles_compress(metadata_json(), pmtiles_compression::gzip);
  const pmtiles_header h = make_header(d, metadata.size(), data_bytes, contents);
  const std::filesystem::path tmp = detail::pmtiles_temp_path(path_);
  write_archive(tmp, h, d, metadata, fsync);
  std::error_code ec;
  std::filesystem::rename(tmp, path_, ec);
  if (ec)
    throw tile_store_error("output " + shown_ + ": cannot rename into place: " + ec.message());
  if (fsync) fsync_directory(path_.parent_path(), shown_);
  finished_ = true;
  statements_.clear();
  find_blob_.reset();
  put_blob_.reset();
  put_tile_.reset();
  db_->rollback();
  db_.reset();
  remove_pmtiles_temporaries(path_);
  return {h, d.leaves};
}

}  // namespace cohort::app::tiles
