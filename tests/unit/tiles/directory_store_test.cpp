// Tests of the directory store alone, and of choosing a store by name.

#include "tile_store_test_support.hpp"

namespace {

using namespace tile_store_testing;

TEST(DirectoryStore, WritesZxyFilesWithTheExactBytes) {
  scratch_dir dir;
  const fs::path out = dir.path() / "tiles";
  {
    auto store = open_directory_store(out, berlin(), {.format = ".PNG"});
    store->put(tile{12, 2200, 1343}, tile_bytes(tile{12, 2200, 1343}));
    store->put(tile{0, 0, 0}, "\x89PNG\r\n\x1a\nzero");
    store->close();
  }
  EXPECT_EQ(read_file(out / "12" / "2200" / "1343.png"), tile_bytes(tile{12, 2200, 1343}));
  EXPECT_EQ(read_file(out / "0" / "0" / "0.png"), "\x89PNG\r\n\x1a\nzero");
  std::set<std::string> top;
  for (const auto& e : fs::directory_iterator(out)) top.insert(e.path().filename().string());
  // The database's WAL files are gone after close.
  EXPECT_EQ(top, (std::set<std::string>{"0", "12", ".cohort-tiles.db"}));
}

TEST(DirectoryStore, FormatComesFromTheBytesWhenNotGiven) {
  scratch_dir dir;
  auto store = open_directory_store(dir.path() / "t", berlin(), {});
  store->put(tile{3, 1, 1}, std::string("\xff\xd8\xff\xe0jpeg", 8));
  store->put(tile{3, 1, 2}, std::string("RIFF\0\0\0\0WEBPVP8 ", 16));
  store->put(tile{3, 1, 3}, std::string("\x1f\x8b\x08\0gz", 6));
  store->put(tile{3, 1, 4}, "GIF89a...");
  EXPECT_TRUE(fs::exists(dir.path() / "t" / "3" / "1" / "1.jpg"));
  EXPECT_TRUE(fs::exists(dir.path() / "t" / "3" / "1" / "2.webp"));
  EXPECT_TRUE(fs::exists(dir.path() / "t" / "3" / "1" / "3.pbf"));
  EXPECT_TRUE(fs::exists(dir.path() / "t" / "3" / "1" / "4.gif"));
}

TEST(DirectoryStore, OpeningScansTheTreeAndCleansTemporaries) {
  // The scan is the truth: a tile file present counts as stored even if our
  // database never heard of it (written just before a kill -9), a tile file
  // deleted by hand is fetched again, and other files are left alone.
  scratch_dir dir;
  const fs::path out = dir.path() / "t";
  {
    auto store = open_directory_store(out, berlin(), {.format = "png"});
    store->put(tile{10, 550, 335}, tile_bytes(tile{10, 550, 335}));
    store->put(tile{10, 550, 336}, tile_bytes(tile{10, 550, 336}));
  }
  cohort::atomic_write(out / "10" / "551" / "335.png", std::string_view("\x89PNG"),
                       {.create_parents = true});
  fs::remove(out / "10" / "550" / "336.png");
  cohort::atomic_write(out / "10" / "550" / ".337.png.tmp.123.4", std::string_view("partial"));
  cohort::atomic_write(out / "10" / "550" / "notes.txt", std::string_view("mine"));
  cohort::atomic_write(out / "10" / "550" / "0338.png", std::string_view("not canonical"));
  cohort::atomic_write(out / "10" / "1024" / "1.png", std::string_view("x beyond 2^10"),
                       {.create_parents = true});
  cohort::atomic_write(out / "31" / "0" / "0.png", std::string_view("zoom 31"),
                       {.create_parents = true});

  auto store = open_directory_store(out, berlin(), {.format = "png"});
  EXPECT_TRUE(store->has(tile{10, 550, 335}));
  EXPECT_TRUE(store->has(tile{10, 551, 335}));
  EXPECT_FALSE(store->has(tile{10, 550, 336}));
  EXPECT_FALSE(store->has(tile{10, 550, 337}));
  EXPECT_FALSE(store->has(tile{10, 550, 338}));
  EXPECT_EQ(store->stored_count(), 2u);
  EXPECT_FALSE(fs::exists(out / "10" / "550" / ".337.png.tmp.123.4"));
  EXPECT_EQ(read_file(out / "10" / "550" / "notes.txt"), "mine");
}

TEST(DirectoryStore, ANonEmptyDirectoryOfSomeoneElseNeedsForce) {
  scratch_dir dir;
  const fs::path out = dir.path() / "home";
  cohort::atomic_write(out / "thesis.tex", std::string_view("precious"), {.create_parents = true});
  cohort::atomic_write(out / "5" / "3" / "4.png", std::string_view("other tool"),
                       {.create_parents = true});
  try {
    open_directory_store(out, berlin(), {.format = "png"});
    FAIL() << "expected fingerprint_mismatch_error";
  } catch (const fingerprint_mismatch_error& e) {
    EXPECT_EQ(std::string(e.what()), "output " + out.string() +
                                         " is not empty and was not made by cohort tiles (no "
                                         ".cohort-tiles.db); use --force to overwrite or choose "
                                         "another output");
  }
  {
    auto store = open_directory_store(out, berlin(), {.force = true, .format = "png"});
    EXPECT_EQ(store->stored_count(), 0u);
  }
  // Force removed the tile files, nothing else.
  EXPECT_FALSE(fs::exists(out / "5"));
  EXPECT_EQ(read_file(out / "thesis.tex"), "precious");
}

TEST(DirectoryStore, AFileInTheWayIsAClearError) {
  scratch_dir dir;
  cohort::atomic_write(dir.path() / "f", std::string_view("x"));
  try {
    open_directory_store(dir.path() / "f", berlin(), {});
    FAIL() << "expected tile_store_error";
  } catch (const tile_store_error& e) {
    EXPECT_NE(std::string(e.what()).find("is not a directory"), std::string::npos) << e.what();
  }
}

TEST(DirectoryStore, AFileInTheWayOfItsParentsIsNamed) {
  scratch_dir dir;
  const fs::path f = dir.path() / "f";
  cohort::atomic_write(f, std::string_view("x"));
  const fs::path out = f / "sub" / "out";
  try {
    open_directory_store(out, berlin(), {});
    FAIL() << "expected tile_store_error";
  } catch (const tile_store_error& e) {
    // Not "output f/sub/out is not a directory: Not a directory".
    EXPECT_EQ(std::string(e.what()),
              "output " + out.string() + ": " + f.string() + " is not a directory");
  }
}

TEST(MBTilesStore, AFileInTheWayOfItsDirectoryIsNamed) {
  scratch_dir dir;
  const fs::path f = dir.path() / "f";
  cohort::atomic_write(f, std::string_view("x"));
  const fs::path out = f / "city.mbtiles";
  try {
    open_mbtiles_store(out, berlin(), {});
    FAIL() << "expected tile_store_error";
  } catch (const tile_store_error& e) {
    // Not "cannot create f/city.mbtiles: Not a directory".
    EXPECT_EQ(std::string(e.what()),
              "output " + out.string() + ": " + f.string() + " is not a directory");
  }
}

TEST(DirectoryStore, ItsParentsAreCreated) {
  scratch_dir dir;
  const fs::path out = dir.path() / "a" / "b" / "out";
  open_directory_store(out, berlin(), {})->close();
  EXPECT_TRUE(fs::is_directory(out));
}

// ---------------------------------------------------------------------------
// MBTiles store
// ---------------------------------------------------------------------------

TEST(OpenTileStore, ChoosesMBTilesByTheExtension) {
  scratch_dir dir;
  open_tile_store(dir.path() / "a.MBTiles", berlin(), {.format = "png"})->close();
  EXPECT_TRUE(fs::is_regular_file(dir.path() / "a.MBTiles"));
  EXPECT_EQ(sqlite_reader(dir.path() / "a.MBTiles").value("SELECT count(*) FROM tiles"), "0");
  open_tile_store(dir.path() / "a.mbtiles.d", berlin(), {.format = "png"})->close();
  EXPECT_TRUE(fs::is_directory(dir.path() / "a.mbtiles.d"));
}

}  // namespace
