// Reading a PMTiles v3 archive (tile_reader.hpp): the header, the metadata,
// then a depth-first walk of the root and leaf directories in tile-ID order
// holding one directory per level, reading each tile blob once per run.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/json.hpp>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "cohort/tiles/pmtiles_format.hpp"
#include "cohort/tiles/tile_id.hpp"
#include "cohort/tiles/tile_reader.hpp"

namespace cohort::app::tiles::detail {

namespace {

namespace json = boost::json;

// Beyond this, metadata is not metadata (the protomaps basemaps' is ~10 KiB).
constexpr std::uint64_t max_metadata_bytes = std::uint64_t{64} << 20;
// The spec discourages a second level of leaves; we follow up to three.
constexpr std::size_t max_directory_depth = 4;

std::string format_of(pmtiles_tile_type t) {
  switch (t) {
    case pmtiles_tile_type::mvt: return "pbf";
    case pmtiles_tile_type::png: return "png";
    case pmtiles_tile_type::jpeg: return "jpg";
    case pmtiles_tile_type::webp: return "webp";
    default: return "bin";
  }
}

std::string string_member(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

struct fd_closer {
  int fd = -1;
  ~fd_closer() {
    if (fd >= 0) ::close(fd);
  }
};

class pmtiles_reader : public tile_reader {
 public:
  pmtiles_reader(const std::filesystem::path& path, tile_filter filter)
      : prefix_(input_prefix(path)), filter_(std::move(filter)) {
    file_.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    struct stat st {};
    if (file_.fd < 0 || ::fstat(file_.fd, &st) != 0) {
      throw tile_store_error(prefix_ + "cannot open: " + std::strerror(errno));
    }
    size_ = static_cast<std::uint64_t>(st.st_size);
    try {
      header_ = decode_pmtiles_header(read(0, std::min<std::uint64_t>(size_, 127), "header"));
      fill_info();
      read_metadata();
      stack_.push_back({directory(header_.root_offset, header_.root_length, "root directory"), 0,
                        first_tile_id(max_zoom + 1)});
    } catch (const pmtiles_error& e) {
      throw tile_store_error(prefix_ + e.what());
    }
  }

  bool next(read_tile& out) override {
    try {
      return advance(out);
    } catch (const pmtiles_error& e) {
      throw tile_store_error(prefix_ + e.what());
    }
  }

 private:
  struct frame {
    std::vector<pmtiles_entry> entries;
    std::size_t next = 0;
    std::uint64_t end_id = 0;  // the first ID after this directory's range
  };

  bool advance(read_tile& out) {
    for (;;) {
      if (run_left_ > 0) {
        const tile t = tile_of_id(run_id_);
        ++run_id_;
        --run_left_;
        if (!filter_.accepts(t)) continue;
        if (!run_read_) {
          run_bytes_ = read(header_.tile_data_offset + run_.offset, run_.length, "a tile");
          run_read_ = true;
        }
        out.where = t;
        out.bytes = run_bytes_;
        return true;
      }
      if (stack_.empty()) return false;
      frame& f = stack_.back();
      if (f.next == f.entries.size()) {
        stack_.pop_back();
        continue;
      }
      const pmtiles_entry e = f.entries[f.next++];
      const std::uint64_t end = f.next < f.entries.size() ? f.entries[f.next].tile_id : f.end_id;
      if (e.run_length == 0) {
        enter_leaf(e, end);
      } else {
        start_run(e);
      }
    }
  }

  void enter_leaf(const pmtiles_entry& e, std::uint64_t end) {
    if (!wanted(e.tile_id, end)) return;
    if (stack_.size() >= max_directory_depth) {
      throw pmtiles_error("PMTiles leaf directories nest deeper than 3 levels");
    }
    if (e.offset > size_ - std::min(size_, header_.leaf_offset)) {
      throw pmtiles_error("PMTiles leaf directory lies beyond the end of the file");
    }
    stack_.push_back(
        {directory(header_.leaf_offset + e.offset, e.length, "leaf directory"), 0, end});
  }

  void start_run(const pmtiles_entry& e) {
    const std::uint64_t last = e.tile_id + e.run_length - 1;
    if (last < e.tile_id || last >= first_tile_id(max_zoom + 1)) {
      throw pmtiles_error(fmt::format("PMTiles tile ID {} is beyond zoom {}", last, max_zoom));
    }
    if (!wanted(e.tile_id, last + 1)) return;
    if (e.offset > size_ - std::min(size_, header_.tile_data_offset)) {
      throw pmtiles_error("PMTiles tile lies beyond the end of the file");
    }
    run_ = e;
    run_id_ = e.tile_id;
    run_left_ = e.run_length;
    run_read_ = false;
  }

  // Whether IDs [lo, hi) can hold a tile of a wanted zoom.
  bool wanted(std::uint64_t lo, std::uint64_t hi) const {
    const std::vector<int>& zooms = !filter_.zooms.empty()
                                        ? filter_.zooms
                                        : (filter_.tiles ? filter_.tiles->zooms() : filter_.zooms);
    if (zooms.empty()) return true;
    for (const int z : zooms) {
      if (lo < first_tile_id(z + 1) && first_tile_id(z) < hi) return true;
    }
    return false;
  }

  // `length` bytes at `offset`, checked against the file's size.
  std::string read(std::uint64_t offset, std::uint64_t length, const char* what) const {
    if (offset > size_ || length > size_ - offset) {
      throw pmtiles_error(fmt::format("PMTiles {} ({} bytes at {}) lies beyond the end of the file",
                                      what, length, offset));
    }
    std::string out(length, '\0');
    std::size_t done = 0;
    while (done < length) {
      const ssize_t n =
          ::pread(file_.fd, out.data() + done, length - done, static_cast<off_t>(offset + done));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        throw tile_store_error(prefix_ +
                               "cannot read: " + (n < 0 ? std::strerror(errno) : "file shrank"));
      }
      done += static_cast<std::size_t>(n);
    }
    return out;
  }

  std::vector<pmtiles_entry> directory(std::uint64_t offset, std::uint64_t length,
                                       const char* what) const {
    return decode_pmtiles_directory(read(offset, length, what), header_.internal_compression);
  }

  void fill_info() {
    info_.kind = tile_output_kind::pmtiles;
    info_.format = format_of(header_.tile_type);
    info_.tile_compression = to_string(header_.tile_compression);
    info_.min_zoom = header_.min_zoom;
    info_.max_zoom = header_.max_zoom;
    info_.bounds = bbox{pmtiles_degrees(header_.min_lon_e7), pmtiles_degrees(header_.min_lat_e7),
                        pmtiles_degrees(header_.max_lon_e7), pmtiles_degrees(header_.max_lat_e7)};
    if (header_.addressed_tiles > 0) info_.tile_count = header_.addressed_tiles;
  }

  void read_metadata() {
    if (header_.metadata_length == 0) return;
    if (header_.metadata_length > max_metadata_bytes) {
      throw pmtiles_error("PMTiles metadata is larger than 64 MiB");
    }
    const std::string text =
        pmtiles_decompress(read(header_.metadata_offset, header_.metadata_length, "metadata"),
                           header_.internal_compression, max_metadata_bytes);
    boost::system::error_code ec;
    const json::value doc = json::parse(text, ec);
    const json::object* o = ec ? nullptr : doc.if_object();
    if (o == nullptr) throw pmtiles_error("PMTiles metadata is not a JSON object");
    info_.name = string_member(*o, "name");
    info_.description = string_member(*o, "description");
    info_.attribution = string_member(*o, "attribution");
    if (const json::value* layers = o->if_contains("vector_layers")) {
      info_.json = R"({"vector_layers":)" + json::serialize(*layers) + "}";
    }
    const json::value* fp = o->if_contains(pmtiles_fingerprint_key);
    if (fp != nullptr && fp->is_object()) {
      cohort::fingerprint f;
      for (const auto& [key, value] : fp->get_object()) {
        if (value.is_string()) f.push_back({std::string(key), std::string(value.get_string())});
      }
      if (!f.empty()) info_.fingerprint = std::move(f);
    }
  }

  std::string prefix_;
  tile_filter filter_;
  fd_closer file_;
  std::uint64_t size_ = 0;
  pmtiles_header header_;
  std::vector<frame> stack_;
  pmtiles_entry run_;
  std::uint64_t run_id_ = 0;
  std::uint64_t run_left_ = 0;
  bool run_read_ = false;
  std::string run_bytes_;
};

}  // namespace

std::unique_ptr<tile_reader> open_pmtiles_reader(const std::filesystem::path& path,
                                                 tile_filter filter) {
  return std::make_unique<pmtiles_reader>(path, std::move(filter));
}

}  // namespace cohort::app::tiles::detail
