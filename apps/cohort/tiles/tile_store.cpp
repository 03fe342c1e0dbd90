// open_tile_store: the store an output path names (tile_store.hpp).

#include "cohort/tiles/tile_store.hpp"

#include <memory>
#include <string>

namespace cohort::app::tiles {

std::unique_ptr<tile_store> open_tile_store(const std::filesystem::path& path,
                                            const tile_fingerprint& fingerprint,
                                            const tile_store_options& options) {
  std::string ext = path.extension().string();
  for (char& c : ext) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  if (ext == ".mbtiles") return open_mbtiles_store(path, fingerprint, options);
  return open_directory_store(path, fingerprint, options);
}

}  // namespace cohort::app::tiles
