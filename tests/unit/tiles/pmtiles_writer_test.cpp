#include "cohort/tiles/pmtiles_writer.hpp"

#include <map>
#include <string>
#include <vector>

#include "cohort/tiles/tile_id.hpp"
#include "cohort/tiles/tile_reader.hpp"
#include "tile_store_test_support.hpp"

namespace {

using namespace tile_store_testing;
using namespace cohort::app::tiles;

std::map<tile, std::string> read_back(const fs::path& file) {
  std::map<tile, std::string> out;
  auto in = open_tile_reader(file);
  for (read_tile t; in->next(t);) out[t.where] = t.bytes;
  return out;
}

pmtiles_header header_of(const fs::path& file) {
  return decode_pmtiles_header(read_file(file).substr(0, pmtiles_header_size));
}

// Every root and leaf entry of the archive, leaves expanded, in order.
std::vector<pmtiles_entry> tile_entries(const fs::path& file) {
  const std::string bytes = read_file(file);
  const pmtiles_header h = decode_pmtiles_header(bytes);
  std::vector<pmtiles_entry> out;
  for (const pmtiles_entry& e : decode_pmtiles_directory(bytes.substr(h.root_offset, h.root_length),
                                                         h.internal_compression)) {
    if (e.run_length > 0) {
      out.push_back(e);
      continue;
    }
    for (const pmtiles_entry& l : decode_pmtiles_directory(
             bytes.substr(h.leaf_offset + e.offset, e.length), h.internal_compression)) {
      EXPECT_GT(l.run_length, 0U);  // one level of leaves
      out.push_back(l);
    }
  }
  return out;
}

// Small tiles whose first bytes say PNG.
constexpr std::string_view png_magic = "\x89PNG\r\n\x1a\n";

// Tiles of zooms 0 to `max_z`, every `dup`-th one sharing the same bytes.
std::map<tile, std::string> world_tiles(int max_z, int dup) {
  std::map<tile, std::string> tiles;
  int i = 0;
  for (auto e = tile_set({bbox{-180, -85, 180, 85}},
                         [&] {
                           std::vector<int> z;
                           for (int k = 0; k <= max_z; ++k) z.push_back(k);
                           return z;
                         }())
                    .enumerate();
       auto t = e.next(); ++i) {
    tiles[*t] =
        std::string(png_magic) + (i % dup == 0 ? std::string("shared")
                                               : std::to_string(t->z) + "/" + std::to_string(t->x) +
                                                     "/" + std::to_string(t->y));
  }
  return tiles;
}

void check_clustered(const std::vector<pmtiles_entry>& entries, const pmtiles_header& h) {
  std::uint64_t next = 0;
  std::uint64_t addressed = 0;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    if (i > 0) {
      EXPECT_LT(entries[i - 1].tile_id, entries[i].tile_id);
    }
    // Clustered: each blob is new (at the end so far) or an earlier one.
    EXPECT_LE(entries[i].offset, next);
    if (entries[i].offset == next) next += entries[i].length;
    addressed += entries[i].run_length;
  }
  EXPECT_EQ(next, h.tile_data_length);
  EXPECT_EQ(addressed, h.addressed_tiles);
  EXPECT_EQ(entries.size(), h.tile_entries);
}

TEST(PmtilesWriter, SmallArchiveHasOnlyARootAndReadsBack) {
  scratch_dir dir;
  const fs::path file = dir.path() / "w.pmtiles";
  const auto tiles = world_tiles(4, 5);
  pmtiles_writer w(file, {.name = "world", .attribution = "A", .fingerprint = berlin().fields()});
  for (auto it = tiles.rbegin(); it != tiles.rend(); ++it) w.add(it->first, it->second);
  EXPECT_EQ(w.size(), tiles.size());
  const pmtiles_write_result r = w.finish();
  EXPECT_EQ(r.leaves, 0U);
  const pmtiles_header h = header_of(file);
  EXPECT_EQ(h, r.header);
  EXPECT_EQ(h.leaf_length, 0U);
  EXPECT_EQ(h.leaf_offset, h.tile_data_offset);
  EXPECT_LE(h.root_offset + h.root_length, pmtiles_root_limit);
  EXPECT_TRUE(h.clustered);
  EXPECT_EQ(h.tile_type, pmtiles_tile_type::png);
  EXPECT_EQ(h.tile_compression, pmtiles_compression::none);
  EXPECT_EQ(h.min_zoom, 0);
  EXPECT_EQ(h.max_zoom, 4);
  EXPECT_EQ(h.addressed_tiles, tiles.size());
  // One blob per distinct bytes: the shared one and the 4 in 5 others.
  std::set<std::string> distinct;
  for (const auto& [t, b] : tiles) distinct.insert(b);
  EXPECT_EQ(h.tile_contents, distinct.size());
  check_clustered(tile_entries(file), h);
  EXPECT_EQ(read_back(file), tiles);
  auto in = open_tile_reader(file);
  EXPECT_EQ(in->info().name, "world");
  EXPECT_EQ(in->info().attribution, "A");
  EXPECT_EQ(in->info().fingerprint, berlin().fields());
  EXPECT_FALSE(fs::exists(dir.path() / "w.pmtiles.tmp"));
  EXPECT_FALSE(fs::exists(dir.path() / "w.pmtiles.tmp.db"));
}

TEST(PmtilesWriter, ManyTilesGetLeavesAndRunsOfEqualNeighbours) {
  scratch_dir dir;
  const fs::path file = dir.path() / "leaves.pmtiles";
  auto tiles = world_tiles(6, 3);
  // An ocean: a run of equal tiles in tile-ID order.
  for (std::uint64_t id = first_tile_id(6) + 100; id < first_tile_id(6) + 400; ++id) {
    tiles[tile_of_id(id)] = "\x1f\x8b ocean";
  }
  for (auto& [t, b] : tiles) {
    if (b.starts_with("\x89PNG")) b = "\x1f\x8b" + b;  // all vector tiles now
  }
  pmtiles_writer w(file, {.leaf_entries = 64, .max_root_entries = 100});
  for (const auto& [t, b] : tiles) w.add(t, b);
  const pmtiles_write_result r = w.finish(false);
  EXPECT_GT(r.leaves, 10U);
  const pmtiles_header h = header_of(file);
  EXPECT_GT(h.leaf_length, 0U);
  EXPECT_EQ(h.tile_data_offset, h.leaf_offset + h.leaf_length);
  EXPECT_EQ(h.tile_type, pmtiles_tile_type::mvt);
  EXPECT_EQ(h.tile_compression, pmtiles_compression::gzip);
  const auto entries = tile_entries(file);
  check_clustered(entries, h);
  EXPECT_LT(h.tile_entries, tiles.size() - 250);  // the ocean is a few runs
  EXPECT_EQ(read_back(file), tiles);
  EXPECT_EQ(open_tile_reader(file)->info().json, R"({"vector_layers":[]})");
}

TEST(PmtilesWriter, ASingleTileAndTheLastBytesOfATileAddedTwice) {
  scratch_dir dir;
  const fs::path file = dir.path() / "one.pmtiles";
  pmtiles_writer w(file, {.bounds = bbox{170, -20, -170, -10}});
  w.add({3, 7, 4}, "\xff\xd8\xff old");
  w.add({3, 7, 4}, "\xff\xd8\xff new");
  w.finish();
  EXPECT_EQ(read_back(file), (std::map<tile, std::string>{{{3, 7, 4}, "\xff\xd8\xff new"}}));
  const pmtiles_header h = header_of(file);
  EXPECT_EQ(h.tile_contents, 1U);
  EXPECT_EQ(h.addressed_tiles, 1U);
  EXPECT_EQ(h.tile_type, pmtiles_tile_type::jpeg);
  EXPECT_EQ(h.min_zoom, 3);
  // Across the antimeridian: the whole width, as MBTiles' bounds.
  EXPECT_EQ(h.min_lon_e7, pmtiles_e7(-180));
  EXPECT_EQ(h.max_lon_e7, pmtiles_e7(180));
  EXPECT_EQ(h.min_lat_e7, pmtiles_e7(-20));
}

TEST(PmtilesWriter, AnAbandonedWriterLeavesNothing) {
  scratch_dir dir;
  const fs::path file = dir.path() / "gone.pmtiles";
  {
    pmtiles_writer w(file, {});
    w.add({0, 0, 0}, gray_png(1));
  }
  EXPECT_TRUE(fs::is_empty(dir.path()));
  // A killed writer's temporaries are removed by the next one.
  std::ofstream(dir.path() / "gone.pmtiles.tmp") << "partial";
  std::ofstream(dir.path() / "gone.pmtiles.tmp.db") << "partial";
  pmtiles_writer w(file, {});
  EXPECT_FALSE(fs::exists(dir.path() / "gone.pmtiles.tmp"));
  w.add({0, 0, 0}, gray_png(1));
  w.finish(false);
  EXPECT_EQ(read_back(file).size(), 1U);
}

}  // namespace
