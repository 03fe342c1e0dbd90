// Writing a whole tile output at once (tile_sink.hpp): the stores for a
// directory or an MBTiles file, pmtiles_writer for an archive.

#include "cohort/tiles/tile_sink.hpp"

#include <algorithm>
#include <system_error>

#include "cohort/tiles/pmtiles_writer.hpp"
#include "cohort/tiles/tile_store.hpp"

namespace cohort::app::tiles {

namespace {

namespace fs = std::filesystem;

void remove_quietly(const fs::path& p) {
  std::error_code ec;
  fs::remove_all(p, ec);
}

// Removes an MBTiles file or tile directory and SQLite's side files.
void remove_store(const fs::path& p) {
  remove_quietly(p);
  for (const char* suffix : {"-wal", "-shm", "-journal"}) {
    fs::path side = p;
    side += suffix;
    remove_quietly(side);
  }
}

// The fingerprint a converted store records: the source's URL template when
// cohort made it, its bounds and its zooms.
tile_fingerprint converted_fingerprint(const tile_source_info& info, const fs::path& target) {
  tile_fingerprint fp;
  fp.url_template = "converted to " + target.filename().string();
  if (info.fingerprint) {
    for (const auto& f : *info.fingerprint) {
      if (f.name == "url_template") fp.url_template = f.value;
    }
  }
  if (info.bounds && info.bounds->south < info.bounds->north) fp.boxes = {*info.bounds};
  if (info.min_zoom && info.max_zoom) {
    for (int z = *info.min_zoom; z <= std::min(*info.max_zoom, max_zoom); ++z)
      fp.zooms.push_back(z);
  }
  return fp;
}

class store_sink : public tile_sink {
 public:
  store_sink(const fs::path& target, const tile_sink_options& o)
      : target_(target), temp_(sink_temporary(target)) {
    remove_store(temp_);
    tile_store_options so;
    so.format = o.info.format == "bin" ? "" : o.info.format;
    so.name = o.info.name.empty() ? target.stem().string() : o.info.name;
    so.description = o.info.description;
    so.attribution = o.info.attribution;
    so.json = o.info.json;
    so.fsync = o.fsync;  // the store's own durability (per tile), as downloads' --fsync
    store_ = output_kind_of(target) == tile_output_kind::mbtiles
                 ? open_mbtiles_store(temp_, converted_fingerprint(o.info, target), so)
                 : open_directory_store(temp_, converted_fingerprint(o.info, target), so);
  }

  ~store_sink() override {
    if (!store_) return;
    try {
      store_->close();
    } catch (...) {
    }
    store_.reset();
    remove_store(temp_);
  }

  void put(const tile& t, std::string_view bytes) override { store_->put(t, bytes); }

  void finish() override {
    store_->close();
    store_.reset();
    std::error_code ec;
    if (fs::is_directory(target_, ec)) fs::remove_all(target_, ec);
    fs::rename(temp_, target_, ec);
    if (ec) {
      throw tile_store_error("output " + target_.string() +
                             ": cannot rename into place: " + ec.message());
    }
  }

 private:
  fs::path target_;
  fs::path temp_;
  std::unique_ptr<tile_store> store_;
};

class pmtiles_sink : public tile_sink {
 public:
  pmtiles_sink(const fs::path& target, const tile_sink_options& o)
      : writer_(target, writer_options(target, o)) {}

  void put(const tile& t, std::string_view bytes) override { writer_.add(t, bytes); }
  // One file: always fsynced, before and after the rename.
  void finish() override { writer_.finish(true); }

 private:
  static pmtiles_write_options writer_options(const fs::path& target, const tile_sink_options& o) {
    pmtiles_write_options w;
    w.name = o.info.name.empty() ? target.stem().string() : o.info.name;
    w.description = o.info.description;
    w.attribution = o.info.attribution;
    w.json = o.info.json;
    w.bounds = o.info.bounds;
    w.fingerprint = o.info.fingerprint;
    w.poll = o.poll;
    return w;
  }

  pmtiles_writer writer_;
};

}  // namespace

fs::path sink_temporary(const fs::path& target) {
  fs::path p = target;
  if (!p.has_filename()) p = p.parent_path();
  p += ".tmp";
  return p;
}

std::unique_ptr<tile_sink> open_tile_sink(const fs::path& target,
                                          const tile_sink_options& options) {
  if (output_kind_of(target) == tile_output_kind::pmtiles) {
    return std::make_unique<pmtiles_sink>(target, options);
  }
  return std::make_unique<store_sink>(target, options);
}

}  // namespace cohort::app::tiles
