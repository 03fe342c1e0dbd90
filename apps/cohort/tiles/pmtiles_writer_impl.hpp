#pragma once

// Internal to the PMTiles writer (pmtiles_writer.cpp, pmtiles_layout.cpp):
// the writer's state.

#include <climits>
#include <filesystem>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include <cohort/runner/sqlite_database.hpp>

#include "cohort/tiles/pmtiles_writer.hpp"

namespace cohort::app::tiles {

namespace detail {
std::filesystem::path pmtiles_temp_path(const std::filesystem::path& path);
std::filesystem::path pmtiles_db_path(const std::filesystem::path& path);
}  // namespace detail

class pmtiles_writer::impl {
 public:
  impl(const std::filesystem::path& path, pmtiles_write_options options);
  ~impl();

  void add(const tile& t, std::string_view bytes);
  std::uint64_t size();
  pmtiles_write_result finish(bool fsync);

 private:
  // The directories as built: the compressed root, and the leaves (in the
  // leaves table) with their total size.
  struct directories {
    std::string root;
    std::uint64_t leaf_bytes = 0;
    std::uint64_t leaves = 0;
    std::uint64_t entries = 0;
    std::uint64_t addressed = 0;
  };

  void note_tile(const tile& t, std::string_view bytes);
  void commit();
  // A statement prepared once per writer (finish's queries).
  sqlite_statement& statement(const char* sql);

  // pmtiles_layout.cpp
  void poll(std::uint64_t n) const;
  std::pair<std::uint64_t, std::uint64_t> assign_offsets();
  directories build_directories();
  bool try_leaves(std::uint32_t leaf_entries, directories& out);
  std::string metadata_json() const;
  pmtiles_header make_header(const directories& d, std::uint64_t metadata_bytes,
                             std::uint64_t data_bytes, std::uint64_t contents) const;
  void write_archive(const std::filesystem::path& file, const pmtiles_header& h,
                     const directories& d, const std::string& metadata, bool fsync);

  std::filesystem::path path_;
  std::string shown_;
  pmtiles_write_options options_;
  std::unique_ptr<sqlite_database> db_;
  std::optional<sqlite_statement> find_blob_, put_blob_, put_tile_;
  std::list<std::pair<const char*, sqlite_statement>> statements_;
  bool in_transaction_ = false;
  int changes_ = 0;
  bool finished_ = false;

  std::optional<std::pair<pmtiles_tile_type, pmtiles_compression>> kind_;
  int min_zoom_ = INT_MAX;
  int max_zoom_ = INT_MIN;
  bbox extent_{180, 90, -180, -90};
};

}  // namespace cohort::app::tiles
