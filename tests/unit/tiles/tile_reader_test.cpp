#include "cohort/tiles/tile_reader.hpp"

#include <map>
#include <string>
#include <vector>

#include "cohort/tiles/pmtiles_format.hpp"
#include "cohort/tiles/tile_id.hpp"
#include "tile_store_test_support.hpp"

namespace {

using namespace tile_store_testing;
using cohort::app::tiles::first_tile_id;
using cohort::app::tiles::open_tile_reader;
using cohort::app::tiles::read_tile;
using cohort::app::tiles::tile_filter;
using cohort::app::tiles::tile_id;
using cohort::app::tiles::tile_of_id;
using cohort::app::tiles::tile_output_kind;
using cohort::app::tiles::tile_reader;
namespace pm = cohort::app::tiles;

std::map<tile, std::string> read_all(tile_reader& in) {
  std::map<tile, std::string> out;
  for (read_tile t; in.next(t);) {
    EXPECT_TRUE(out.emplace(t.where, t.bytes).second) << "tile read twice";
  }
  read_tile t;
  EXPECT_FALSE(in.next(t));  // and stays at the end
  return out;
}

// Some tiles of berlin() at zooms 10 to 12, each with its own PNG bytes.
std::map<tile, std::string> berlin_tiles() {
  std::map<tile, std::string> tiles;
  int i = 0;
  for (auto e = tile_set(berlin().boxes, berlin().zooms).enumerate(); auto t = e.next(); ++i) {
    if (i % 3 == 0) tiles[*t] = gray_png(static_cast<std::uint8_t>(i)) + tile_bytes(*t);
  }
  return tiles;
}

void reads_back_a_store(const fs::path& out, tile_output_kind kind) {
  const auto tiles = berlin_tiles();
  {
    auto store = open_tile_store(out, berlin(), {.format = "png", .attribution = "© us"});
    for (const auto& [t, bytes] : tiles) store->put(t, bytes);
    store->close();
  }
  auto in = open_tile_reader(out);
  EXPECT_EQ(in->info().kind, kind);
  EXPECT_EQ(in->info().format, "png");
  ASSERT_TRUE(in->info().fingerprint);
  EXPECT_TRUE(cohort::fingerprint_differences(*in->info().fingerprint, berlin().fields()).empty());
  EXPECT_EQ(in->info().min_zoom, 10);
  EXPECT_EQ(in->info().max_zoom, 12);
  EXPECT_EQ(read_all(*in), tiles);

  std::map<tile, std::string> z11;
  for (const auto& [t, bytes] : tiles) {
    if (t.z == 11) z11[t] = bytes;
  }
  EXPECT_EQ(read_all(*open_tile_reader(out, {.zooms = {11}})), z11);
  const bbox corner{13.08, 52.33, 13.3, 52.45};
  std::map<tile, std::string> in_corner;
  for (const auto& [t, bytes] : tiles) {
    if (t.z == 12 && tile_set({corner}, {12}).contains(t)) in_corner[t] = bytes;
  }
  ASSERT_FALSE(in_corner.empty());
  EXPECT_EQ(read_all(*open_tile_reader(out, {.tiles = tile_set({corner}, {12})})), in_corner);
}

TEST(TileReader, ReadsBackADirectoryStore) {
  scratch_dir dir;
  reads_back_a_store(dir.path() / "berlin", tile_output_kind::directory);
  auto in = open_tile_reader(dir.path() / "berlin");
  EXPECT_EQ(in->info().name, "berlin");
}

TEST(TileReader, ReadsBackAnMBTilesStore) {
  scratch_dir dir;
  reads_back_a_store(dir.path() / "berlin.mbtiles", tile_output_kind::mbtiles);
  auto in = open_tile_reader(dir.path() / "berlin.mbtiles");
  EXPECT_EQ(in->info().name, "berlin");
  EXPECT_EQ(in->info().attribution, "© us");
  ASSERT_TRUE(in->info().bounds);
  EXPECT_EQ(*in->info().bounds, (bbox{13.08, 52.33, 13.76, 52.68}));
  EXPECT_EQ(in->info().tile_count, berlin_tiles().size());
}

// A PMTiles archive built by hand from the format module: a root directory
// with two tiles, a run of three and a leaf holding the zoom-3 tiles, one of
// which shares a blob with a zoom-1 tile.
struct hand_made_archive {
  std::map<tile, std::string> tiles;
  std::string bytes;
};

hand_made_archive hand_made_pmtiles() {
  const std::string a = "\x89PNG a", b = "\x89PNG bb", c = "\x89PNG ccc";
  using entry = pm::pmtiles_entry;
  const std::vector<entry> leaf = {{first_tile_id(3) + 7, 0, 6, 1},
                                   {first_tile_id(3) + 9, 6 + 7, 8, 2}};
  const std::vector<entry> root_without_leaf = {{0, 0, 6, 1}, {1, 6, 7, 3}};
  const std::string leaf_bytes =
      pm::pmtiles_compress(pm::encode_pmtiles_directory(leaf), pm::pmtiles_compression::gzip);
  std::vector<entry> root = root_without_leaf;
  root.push_back({first_tile_id(3), 0, static_cast<std::uint32_t>(leaf_bytes.size()), 0});
  const std::string root_bytes =
      pm::pmtiles_compress(pm::encode_pmtiles_directory(root), pm::pmtiles_compression::gzip);
  const std::string metadata = pm::pmtiles_compress(
      R"({"name":"hand","attribution":"A","vector_layers":[{"id":"w"}],)"
      R"("cohort_fingerprint":{"url_template":"u","boxes":"b","zooms":"0-3"}})",
      pm::pmtiles_compression::gzip);
  const std::string data = a + b + c;
  pm::pmtiles_header h;
  h.root_offset = 127;
  h.root_length = root_bytes.size();
  h.metadata_offset = h.root_offset + h.root_length;
  h.metadata_length = metadata.size();
  h.leaf_offset = h.metadata_offset + h.metadata_length;
  h.leaf_length = leaf_bytes.size();
  h.tile_data_offset = h.leaf_offset + h.leaf_length;
  h.tile_data_length = data.size();
  h.tile_type = pm::pmtiles_tile_type::png;
  h.tile_compression = pm::pmtiles_compression::none;
  h.max_zoom = 3;
  h.addressed_tiles = 7;
  hand_made_archive out;
  out.bytes = pm::encode_pmtiles_header(h) + root_bytes + metadata + leaf_bytes + data;
  out.tiles = {{tile_of_id(0), a},
               {tile_of_id(1), b},
               {tile_of_id(2), b},
               {tile_of_id(3), b},
               {tile_of_id(first_tile_id(3) + 7), a},
               {tile_of_id(first_tile_id(3) + 9), c},
               {tile_of_id(first_tile_id(3) + 10), c}};
  return out;
}

void write_file(const fs::path& p, const std::string& bytes) {
  std::ofstream(p, std::ios::binary) << bytes;
}

TEST(TileReader, ReadsAPmtilesArchiveWithRunsLeavesAndSharedBlobs) {
  scratch_dir dir;
  const hand_made_archive archive = hand_made_pmtiles();
  const fs::path file = dir.path() / "named-anything";
  write_file(file, archive.bytes);
  auto in = open_tile_reader(file);
  EXPECT_EQ(in->info().kind, tile_output_kind::pmtiles);
  EXPECT_EQ(in->info().format, "png");
  EXPECT_EQ(in->info().name, "hand");
  EXPECT_EQ(in->info().attribution, "A");
  EXPECT_EQ(in->info().json, R"({"vector_layers":[{"id":"w"}]})");
  EXPECT_EQ(in->info().tile_count, 7U);
  EXPECT_EQ(in->info().fingerprint,
            (cohort::fingerprint{{"url_template", "u"}, {"boxes", "b"}, {"zooms", "0-3"}}));
  // In tile-ID order.
  std::vector<std::uint64_t> ids;
  std::map<tile, std::string> got;
  for (read_tile t; in->next(t);) {
    ids.push_back(tile_id(t.where));
    got[t.where] = t.bytes;
  }
  EXPECT_TRUE(std::is_sorted(ids.begin(), ids.end()));
  EXPECT_EQ(got, archive.tiles);

  std::map<tile, std::string> z1;
  for (const auto& [t, bytes] : archive.tiles) {
    if (t.z == 1) z1[t] = bytes;
  }
  EXPECT_EQ(read_all(*open_tile_reader(file, {.zooms = {1}})), z1);
}

std::string open_error(const fs::path& p) {
  try {
    auto in = open_tile_reader(p);
    for (read_tile t; in->next(t);) {
    }
  } catch (const tile_store_error& e) {
    return e.what();
  }
  return "no error";
}

TEST(TileReader, ErrorsNameTheInputAndWhatIsWrong) {
  scratch_dir dir;
  const std::string d = dir.path().string();
  EXPECT_EQ(open_error(dir.path() / "absent.pmtiles"),
            "input " + d + "/absent.pmtiles: cannot open: No such file or directory");
  write_file(dir.path() / "text", "hello");
  EXPECT_EQ(open_error(dir.path() / "text"),
            "input " + d + "/text: not a tile directory, MBTiles file or PMTiles archive");
  const std::string archive = hand_made_pmtiles().bytes;
  write_file(dir.path() / "short.pmtiles", archive.substr(0, 100));
  EXPECT_EQ(open_error(dir.path() / "short.pmtiles"),
            "input " + d + "/short.pmtiles: PMTiles header is truncated: 100 of 127 bytes");
  write_file(dir.path() / "cut.pmtiles", archive.substr(0, archive.size() - 3));
  EXPECT_EQ(open_error(dir.path() / "cut.pmtiles"),
            "input " + d + "/cut.pmtiles: PMTiles a tile (8 bytes at " +
                std::to_string(archive.size() - 8) + ") lies beyond the end of the file");
}

}  // namespace
