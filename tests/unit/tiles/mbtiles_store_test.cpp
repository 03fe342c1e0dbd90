// Tests of the MBTiles store alone, and its (disabled) throughput measurement.

#include "tile_store_test_support.hpp"

namespace {

using namespace tile_store_testing;

TEST(MBTilesStore, RowsAreStoredTmsFlipped) {
  scratch_dir dir;
  const fs::path out = dir.path() / "a.mbtiles";
  {
    auto store = open_mbtiles_store(out, berlin(), {.format = "png"});
    store->put(tile{3, 1, 2}, "\x89PNG one");
    store->put(tile{12, 2200, 1343}, "\x89PNG two");
    store->put(tile{0, 0, 0}, "\x89PNG three");
    store->close();
  }
  sqlite_reader db(out);
  EXPECT_EQ(db.rows("SELECT zoom_level, tile_column, tile_row, tile_data FROM tiles ORDER BY "
                    "zoom_level"),
            (std::vector<std::vector<std::string>>{{"0", "0", "0", "\x89PNG three"},
                                                   {"3", "1", "5", "\x89PNG one"},
                                                   {"12", "2200", "2752", "\x89PNG two"}}));
  // The unique index the spec requires.
  EXPECT_EQ(db.value("SELECT count(*) FROM pragma_index_list('tiles') WHERE \"unique\" = 1"), "1");
}

TEST(MBTilesStore, MetadataFollowsTheSpec) {
  scratch_dir dir;
  const fs::path out = dir.path() / "berlin.mbtiles";
  open_mbtiles_store(out, berlin(), {.format = ".png"})->close();
  sqlite_reader db(out);
  const auto rows = db.rows("SELECT name, value FROM metadata");
  std::map<std::string, std::string> meta;
  for (const auto& r : rows) meta[r[0]] = r[1];
  EXPECT_EQ(meta["name"], "berlin");
  EXPECT_EQ(meta["format"], "png");
  EXPECT_EQ(meta["bounds"], "13.08,52.33,13.76,52.68");
  EXPECT_EQ(meta["center"], "13.42,52.505,10");
  EXPECT_EQ(meta["minzoom"], "10");
  EXPECT_EQ(meta["maxzoom"], "12");
  EXPECT_EQ(meta.count("json"), 0u);
  EXPECT_EQ(db.value("PRAGMA application_id"), "1297105496");  // "MPBX"
  EXPECT_EQ(db.value("PRAGMA page_size"), "65536");
  // Closed cleanly: a single self-contained file again.
  EXPECT_EQ(db.value("PRAGMA journal_mode"), "delete");
  EXPECT_FALSE(fs::exists(dir.path() / "berlin.mbtiles-wal"));
}

TEST(MBTilesStore, MetadataForAntimeridianBoxesVectorTilesAndAGivenName) {
  scratch_dir dir;
  const fs::path out = dir.path() / "fiji.mbtiles";
  const tile_fingerprint fp{"https://v.example/{z}/{x}/{y}.pbf",
                            {bbox{177, -19, -178, -16}, bbox{170, -89, 171, -80}},
                            {4, 2}};
  open_mbtiles_store(out, fp, {.format = "mvt", .name = "Fiji"})->close();
  sqlite_reader db(out);
  EXPECT_EQ(db.value("SELECT value FROM metadata WHERE name = 'name'"), "Fiji");
  EXPECT_EQ(db.value("SELECT value FROM metadata WHERE name = 'format'"), "pbf");
  EXPECT_EQ(db.value("SELECT value FROM metadata WHERE name = 'json'"), R"({"vector_layers":[]})");
  EXPECT_EQ(db.value("SELECT value FROM metadata WHERE name = 'bounds'"),
            "-180,-85.0511287798,180,-16");
  EXPECT_EQ(db.value("SELECT value FROM metadata WHERE name = 'minzoom'"), "2");
  EXPECT_EQ(db.value("SELECT value FROM metadata WHERE name = 'maxzoom'"), "4");
}

TEST(MBTilesStore, GivenDescriptionAttributionAndLayersAreWritten) {
  scratch_dir dir;
  const fs::path out = dir.path() / "v.mbtiles";
  const std::string layers = R"({"vector_layers":[{"id":"roads","fields":{}}]})";
  open_mbtiles_store(out, berlin(),
                     {.format = "pbf",
                      .name = "Roads",
                      .description = "Roads of Berlin",
                      .attribution = "(c) Someone",
                      .json = layers})
      ->close();
  sqlite_reader db(out);
  EXPECT_EQ(db.value("SELECT value FROM metadata WHERE name = 'name'"), "Roads");
  EXPECT_EQ(db.value("SELECT value FROM metadata WHERE name = 'description'"), "Roads of Berlin");
  EXPECT_EQ(db.value("SELECT value FROM metadata WHERE name = 'attribution'"), "(c) Someone");
  EXPECT_EQ(db.value("SELECT value FROM metadata WHERE name = 'json'"), layers);
  EXPECT_EQ(db.value("SELECT value FROM metadata WHERE name = 'format'"), "pbf");
  // Without them: the default description and no attribution row.
  const fs::path plain = dir.path() / "p.mbtiles";
  open_mbtiles_store(plain, berlin(), {.format = "png"})->close();
  sqlite_reader db2(plain);
  EXPECT_EQ(db2.value("SELECT value FROM metadata WHERE name = 'description'"),
            "Downloaded by cohort tiles");
  EXPECT_EQ(db2.value("SELECT count(*) FROM metadata WHERE name = 'attribution'"), "0");
}

TEST(MBTilesStore, AResumeWithoutTheMetadataOptionsKeepsWhatWasGiven) {
  scratch_dir dir;
  const fs::path out = dir.path() / "v.mbtiles";
  const std::string layers = R"({"vector_layers":[{"id":"roads"}]})";
  open_mbtiles_store(out, berlin(),
                     {.format = "pbf",
                      .name = "Roads",
                      .description = "Roads of Berlin",
                      .attribution = "(c) Someone",
                      .json = layers})
      ->close();
  open_mbtiles_store(out, berlin(), {.format = "pbf"})->close();
  sqlite_reader db(out);
  EXPECT_EQ(db.value("SELECT value FROM metadata WHERE name = 'name'"), "Roads");
  EXPECT_EQ(db.value("SELECT value FROM metadata WHERE name = 'description'"), "Roads of Berlin");
  EXPECT_EQ(db.value("SELECT value FROM metadata WHERE name = 'attribution'"), "(c) Someone");
  EXPECT_EQ(db.value("SELECT value FROM metadata WHERE name = 'json'"), layers);
  // Given again, they replace it.
  open_mbtiles_store(out, berlin(), {.format = "pbf", .name = "New", .description = "d2"})->close();
  sqlite_reader db2(out);
  EXPECT_EQ(db2.value("SELECT value FROM metadata WHERE name = 'name'"), "New");
  EXPECT_EQ(db2.value("SELECT value FROM metadata WHERE name = 'description'"), "d2");
}

TEST(MBTilesStore, AFileWithSmallerPagesIsResumedWithItsOwn) {
  // Files written before pages grew to 64 KiB keep their 16 KiB pages.
  scratch_dir dir;
  const fs::path out = dir.path() / "old.mbtiles";
  open_mbtiles_store(out, berlin(), {.format = "png"})->close();
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(out.c_str(), &db), SQLITE_OK);
    EXPECT_EQ(sqlite3_exec(db, "PRAGMA page_size = 16384; VACUUM", nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(db);
  }
  {
    auto store = open_mbtiles_store(out, berlin(), {.format = "png"});
    store->put(tile{12, 2200, 1343}, "\x89PNG " + std::string(40000, 'x'));
    store->close();
  }
  sqlite_reader db(out);
  EXPECT_EQ(db.value("PRAGMA page_size"), "16384");
  EXPECT_EQ(db.value("SELECT length(tile_data) FROM tiles"), "40005");
}

TEST(MBTilesStore, FormatComesFromTheFirstTileWhenNotGiven) {
  scratch_dir dir;
  const fs::path out = dir.path() / "a.mbtiles";
  {
    auto store = open_mbtiles_store(out, berlin(), {});
    EXPECT_EQ(store->format(), "");
    store->put(tile{3, 1, 2}, std::string("\xff\xd8\xff\xe0jpeg", 8));
    EXPECT_EQ(store->format(), "jpg");
  }
  EXPECT_EQ(sqlite_reader(out).value("SELECT value FROM metadata WHERE name = 'format'"), "jpg");
  // The next run knows it from the file.
  EXPECT_EQ(open_mbtiles_store(out, berlin(), {})->format(), "jpg");
}

TEST(MBTilesStore, AFileThatIsNotSQLiteIsNeverTouched) {
  scratch_dir dir;
  const fs::path out = dir.path() / "report.mbtiles";
  cohort::atomic_write(out, std::string(5000, 'r'));
  for (const bool force : {false, true}) {
    try {
      open_mbtiles_store(out, berlin(), {.force = force});
      FAIL() << "expected tile_store_error";
    } catch (const fingerprint_mismatch_error&) {
      FAIL() << "not a fingerprint problem";
    } catch (const tile_store_error& e) {
      EXPECT_EQ(std::string(e.what()),
                "output " + out.string() +
                    " is not an MBTiles file (not an SQLite database); remove it or choose "
                    "another output");
    }
  }
  EXPECT_EQ(read_file(out), std::string(5000, 'r'));
}

TEST(MBTilesStore, AnMBTilesFileOfAnotherToolNeedsForce) {
  scratch_dir dir;
  const fs::path out = dir.path() / "other.mbtiles";
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(out.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db,
                           "CREATE TABLE map (zoom_level, tile_column, tile_row, tile_id);"
                           "CREATE TABLE images (tile_id, tile_data);"
                           "CREATE VIEW tiles AS SELECT zoom_level, tile_column, tile_row, "
                           "tile_data FROM map JOIN images USING (tile_id);"
                           "CREATE TABLE metadata (name, value);"
                           "INSERT INTO metadata VALUES ('name', 'theirs');",
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(db);
  }
  try {
    open_mbtiles_store(out, berlin(), {.format = "png"});
    FAIL() << "expected fingerprint_mismatch_error";
  } catch (const fingerprint_mismatch_error& e) {
    EXPECT_EQ(std::string(e.what()), "output " + out.string() +
                                         " was not made by cohort tiles (no cohort_meta table); "
                                         "use --force to overwrite or choose another output");
  }
  {
    auto store = open_mbtiles_store(out, berlin(), {.force = true, .format = "png"});
    store->put(tile{1, 1, 1}, "\x89PNG");
  }
  sqlite_reader db(out);
  EXPECT_EQ(db.value("SELECT count(*) FROM sqlite_master WHERE name IN ('map', 'images')"), "0");
  EXPECT_EQ(db.value("SELECT value FROM metadata WHERE name = 'name'"), "other");
  EXPECT_EQ(db.value("SELECT count(*) FROM tiles"), "1");
}

TEST(MBTilesStore, ReadersSeeCommittedTilesWhileTheStoreIsOpen) {
  scratch_dir dir;
  const fs::path out = dir.path() / "live.mbtiles";
  auto store = open_mbtiles_store(out, berlin(), {.format = "png", .batch_changes = 2});
  store->put(tile{5, 1, 1}, "\x89PNG a");
  EXPECT_EQ(sqlite_reader(out).value("SELECT count(*) FROM tiles"), "0");
  store->put(tile{5, 1, 2}, "\x89PNG b");
  EXPECT_EQ(sqlite_reader(out).value("SELECT count(*) FROM tiles"), "2");
}

TEST(MBTilesStore, LargeTilesCommitByBytes) {
  scratch_dir dir;
  const fs::path out = dir.path() / "big.mbtiles";
  auto store = open_mbtiles_store(out, berlin(),
                                  {.format = "png", .batch_changes = 1000, .batch_bytes = 100000});
  const std::string big(60000, 'b');
  store->put(tile{5, 1, 1}, big);
  EXPECT_EQ(sqlite_reader(out).value("SELECT count(*) FROM tiles"), "0");
  store->put(tile{5, 1, 2}, big);
  EXPECT_EQ(sqlite_reader(out).value("SELECT count(*) FROM tiles"), "2");
}

TEST(MBTilesStore, GdalinfoOpensTheFile) {
  std::string output;
  if (run_command("gdalinfo --version", output) != 0) {
    GTEST_SKIP() << "gdalinfo not installed (scripts/setup gdal-bin)";
  }
  scratch_dir dir;
  const fs::path out = dir.path() / "gdal.mbtiles";
  // Zoom 2 and 3 over a box around (0, 0): 2x2 tiles at zoom 2 (x, y in
  // 1..2), 4x4 at zoom 3 (x, y in 2..5), each of its own gray level.
  const tile_fingerprint fp{"https://t.example/{z}/{x}/{y}.png", {bbox{-80, -60, 80, 60}}, {2, 3}};
  const tile_set set(fp.boxes, fp.zooms);
  {
    auto store = open_mbtiles_store(out, fp, {.format = "png"});
    auto e = set.enumerate();
    while (const auto t = e.next()) {
      store->put(*t, gray_png(static_cast<std::uint8_t>(10 * t->z + 2 * t->x + t->y)));
    }
    store->close();
  }
  ASSERT_EQ(set.count(), 4u + 16u);
  ASSERT_EQ(run_command("gdalinfo -mm " + out.string(), output), 0) << output;
  EXPECT_NE(output.find("Driver: MBTiles/MBTiles"), std::string::npos) << output;
  // GDAL crops the zoom 3 raster (2048 pixels for 360 degrees) to `bounds`:
  // 160 / 360 * 2048 = 910 pixels wide; 60 degrees north and south are
  // Mercator y = +-8399737.89 m, at 19567.88 m per pixel 859 pixels high.
  EXPECT_NE(output.find("Size is 910, 859"), std::string::npos) << output;
  EXPECT_NE(output.find("Origin = (-8905559.26"), std::string::npos) << output;
  EXPECT_NE(output.find("ZOOM_LEVEL=3"), std::string::npos) << output;
  // Zoom 2 is the overview, at half the size.
  EXPECT_NE(output.find("Overviews: 455x429"), std::string::npos) << output;
  // GDAL decoded the pixels: band 1 (gray expanded to RGBA) spans the levels
  // of the zoom 3 tiles, 30 + 2x + y over x, y in 2..5.
  EXPECT_NE(output.find("Computed Min/Max=36.000,45.000"), std::string::npos) << output;
}

// ---------------------------------------------------------------------------
// Throughput (run by hand: --gtest_also_run_disabled_tests
// --gtest_filter='*Throughput*')
// ---------------------------------------------------------------------------

double thread_cpu_seconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

void measure_throughput(const fs::path& out) {
  constexpr int count = 20000;
  std::string bytes = "\x89PNG\r\n\x1a\n";
  bytes.resize(16 * 1024, 'p');
  auto store = open_tile_store(out, berlin(), {.format = "png"});
  const auto start = std::chrono::steady_clock::now();
  const double cpu_start = thread_cpu_seconds();
  for (int i = 0; i < count; ++i) {
    bytes[100] = static_cast<char>(i);
    const tile t{15, static_cast<std::uint32_t>(17000 + i / 200),
                 static_cast<std::uint32_t>(10000 + i % 200)};
    store->put(t, bytes, {"\"" + std::to_string(i) + "\"", ""});
    store->maybe_flush(std::chrono::steady_clock::now());
  }
  const double put_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  store->close();
  const double cpu = thread_cpu_seconds() - cpu_start;
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << out.filename() << ": " << count << " puts of 16 KiB in " << seconds
            << " s = " << count / seconds << " tiles/s (including close; " << count / put_seconds
            << " tiles/s before close); CPU " << cpu * 1e6 / count << " us per tile\n";
  const auto reopen_start = std::chrono::steady_clock::now();
  EXPECT_EQ(open_tile_store(out, berlin(), {.format = "png"})->stored_count(),
            static_cast<std::uint64_t>(count));
  std::cout
      << "  reopening (loading the stored set): "
      << std::chrono::duration<double>(std::chrono::steady_clock::now() - reopen_start).count()
      << " s\n";
}

TEST(TileStoreThroughput, DISABLED_TwentyThousandTilesOf16KiB) {
  scratch_dir dir;
  measure_throughput(dir.path() / "tiles");
  measure_throughput(dir.path() / "tiles.mbtiles");
}

}  // namespace
