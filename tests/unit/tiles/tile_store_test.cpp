// Tests both tile stores pass alike (parameterized on the store).

#include "tile_store_test_support.hpp"

namespace {

using namespace tile_store_testing;

class TileStoreTest : public ::testing::TestWithParam<kind> {
 protected:
  fs::path output() const {
    return dir_.path() / (GetParam() == kind::mbtiles ? "city.mbtiles" : "city");
  }
  std::unique_ptr<tile_store> open(const tile_fingerprint& fp = berlin(),
                                   tile_store_options options = {}) const {
    if (options.format.empty() && !raw_format_) options.format = "png";
    return open_tile_store(output(), fp, options);
  }

  scratch_dir dir_;
  bool raw_format_ = false;
};

INSTANTIATE_TEST_SUITE_P(Stores, TileStoreTest, ::testing::Values(kind::directory, kind::mbtiles),
                         [](const auto& info) {
                           return info.param == kind::mbtiles ? "MBTiles" : "Directory";
                         });

TEST_P(TileStoreTest, PutTilesAreStoredAndRememberedByTheNextRun) {
  const std::vector<tile> tiles{{10, 550, 335}, {11, 1100, 671}, {12, 2201, 1343}, {0, 0, 0}};
  {
    auto store = open();
    EXPECT_EQ(store->stored_count(), 0u);
    for (const tile& t : tiles) {
      EXPECT_FALSE(store->has(t));
      store->put(t, tile_bytes(t));
      EXPECT_TRUE(store->has(t));
    }
    EXPECT_FALSE(store->has(tile{10, 550, 336}));
    EXPECT_EQ(store->stored_count(), tiles.size());
    store->close();
  }
  auto store = open();
  EXPECT_EQ(store->stored_count(), tiles.size());
  for (const tile& t : tiles) EXPECT_TRUE(store->has(t));
  EXPECT_FALSE(store->has(tile{10, 550, 336}));
  EXPECT_FALSE(store->has(tile{11, 550, 335}));
}

TEST_P(TileStoreTest, ReplacingATileKeepsOneCopy) {
  const tile t{12, 2200, 1343};
  {
    auto store = open();
    store->put(t, tile_bytes(tile{1, 0, 0}));
    store->put(t, tile_bytes(t));
    EXPECT_EQ(store->stored_count(), 1u);
  }
  auto store = open();
  EXPECT_EQ(store->stored_count(), 1u);
  if (GetParam() == kind::mbtiles) {
    sqlite_reader db(output());
    EXPECT_EQ(db.value("SELECT count(*) FROM tiles"), "1");
    EXPECT_EQ(db.value("SELECT tile_data FROM tiles"), tile_bytes(t));
  } else {
    EXPECT_EQ(read_file(output() / "12" / "2200" / "1343.png"), tile_bytes(t));
  }
}

TEST_P(TileStoreTest, DestructorCommitsWhatWasPut) {
  {
    auto store = open(berlin(), {.batch_changes = 1000});
    store->put(tile{10, 1, 2}, tile_bytes(tile{10, 1, 2}));
    store->record_failed(tile{10, 1, 3}, "HTTP 500");
  }  // no close(): as when a cancelled task unwinds
  auto store = open();
  EXPECT_TRUE(store->has(tile{10, 1, 2}));
  EXPECT_EQ(store->failed_tiles().size(), 1u);
}

TEST_P(TileStoreTest, FailedListSurvivesAndIsClearedBySuccess) {
  const tile a{11, 1100, 671}, b{10, 550, 335}, c{12, 2201, 1343};
  {
    auto store = open();
    store->record_failed(a, "HTTP 503 after 5 attempts");
    store->record_failed(b, "connection reset");
    store->record_failed(c, "timeout");
    store->record_failed(c, "not a tile: text/html");  // updates the reason
    EXPECT_EQ(store->failed_tiles(), (std::vector<failed_tile>{{b, "connection reset"},
                                                               {a, "HTTP 503 after 5 attempts"},
                                                               {c, "not a tile: text/html"}}));
    EXPECT_FALSE(store->has(a));
  }
  {
    auto store = open();
    EXPECT_EQ(store->failed_tiles(), (std::vector<failed_tile>{{b, "connection reset"},
                                                               {a, "HTTP 503 after 5 attempts"},
                                                               {c, "not a tile: text/html"}}));
    store->put(a, tile_bytes(a));  // a retry succeeded
    store->clear_failed(b);
    store->clear_failed(tile{3, 1, 1});  // not on the list: nothing happens
    EXPECT_EQ(store->failed_tiles(), (std::vector<failed_tile>{{c, "not a tile: text/html"}}));
    store->close();
  }
  auto store = open();
  EXPECT_EQ(store->failed_tiles(), (std::vector<failed_tile>{{c, "not a tile: text/html"}}));
  EXPECT_TRUE(store->has(a));
}

TEST_P(TileStoreTest, MissingListSurvivesAndIsClearedBySuccess) {
  const tile a{12, 2200, 1340}, b{12, 2200, 1341};
  {
    auto store = open();
    store->record_failed(a, "HTTP 500");
    store->record_missing(a);  // a 404 on retry: missing, not failed
    store->record_missing(b);
    store->record_missing(b);
    EXPECT_TRUE(store->is_missing(a));
    EXPECT_EQ(store->missing_count(), 2u);
    EXPECT_TRUE(store->failed_tiles().empty());
  }
  {
    auto store = open();
    EXPECT_TRUE(store->is_missing(a));
    EXPECT_TRUE(store->is_missing(b));
    EXPECT_FALSE(store->is_missing(tile{12, 2200, 1342}));
    EXPECT_EQ(store->missing_count(), 2u);
    EXPECT_TRUE(store->failed_tiles().empty());
    store->put(b, tile_bytes(b));  // it exists after all
    EXPECT_FALSE(store->is_missing(b));
  }
  auto store = open();
  EXPECT_EQ(store->missing_count(), 1u);
  EXPECT_FALSE(store->is_missing(b));
  EXPECT_TRUE(store->has(b));
}

TEST_P(TileStoreTest, ValidatorsRoundTrip) {
  const tile a{10, 550, 335}, b{10, 550, 336}, c{10, 551, 335};
  {
    auto store = open();
    EXPECT_EQ(store->validators(a), std::nullopt);
    store->put(a, tile_bytes(a), {"\"abc\"", "Wed, 21 Oct 2015 07:28:00 GMT"});
    store->put(b, tile_bytes(b), {"W/\"1\"", ""});
    store->put(c, tile_bytes(c));
    EXPECT_EQ(store->validators(a), (tile_validators{"\"abc\"", "Wed, 21 Oct 2015 07:28:00 GMT"}));
    EXPECT_EQ(store->validators(b), (tile_validators{"W/\"1\"", ""}));
    EXPECT_EQ(store->validators(c), std::nullopt);
    store->close();
  }
  auto store = open();
  EXPECT_EQ(store->validators(a), (tile_validators{"\"abc\"", "Wed, 21 Oct 2015 07:28:00 GMT"}));
  EXPECT_EQ(store->validators(b), (tile_validators{"W/\"1\"", ""}));
  EXPECT_EQ(store->validators(c), std::nullopt);
  // A new version without validators drops the old ones.
  store->put(a, tile_bytes(a));
  EXPECT_EQ(store->validators(a), std::nullopt);
  store->put(b, tile_bytes(b), {"\"2\"", ""});
  EXPECT_EQ(store->validators(b), (tile_validators{"\"2\"", ""}));
}

TEST_P(TileStoreTest, AnotherUrlTemplateIsRefusedWithBothValues) {
  open()->put(tile{10, 550, 335}, tile_bytes(tile{10, 550, 335}));
  tile_fingerprint other = berlin();
  other.url_template = "https://other.example.org/{z}/{x}/{y}.png";
  try {
    open(other);
    FAIL() << "expected fingerprint_mismatch_error";
  } catch (const fingerprint_mismatch_error& e) {
    EXPECT_EQ(std::string(e.what()),
              "output " + output().string() +
                  " was made from another URL template: "
                  "'https://tile.example.org/{z}/{x}/{y}.png'; now "
                  "'https://other.example.org/{z}/{x}/{y}.png'; use --force to overwrite or "
                  "choose another output");
  }
  // Still intact and usable with the original fingerprint.
  EXPECT_TRUE(open()->has(tile{10, 550, 335}));
}

TEST_P(TileStoreTest, OtherBoxesAndZoomsAreRefusedNamingEach) {
  open()->close();
  tile_fingerprint zooms = berlin();
  zooms.zooms = {10, 11, 12, 13};
  try {
    open(zooms);
    FAIL() << "expected fingerprint_mismatch_error";
  } catch (const fingerprint_mismatch_error& e) {
    EXPECT_EQ(std::string(e.what()), "output " + output().string() +
                                         " was made for other zoom levels: '10-12'; now "
                                         "'10-13'; use --force to overwrite or choose another "
                                         "output");
  }
  tile_fingerprint both = berlin();
  both.boxes = {bbox{13, 52, 14, 53}};
  both.zooms = {9};
  try {
    open(both);
    FAIL() << "expected fingerprint_mismatch_error";
  } catch (const fingerprint_mismatch_error& e) {
    EXPECT_EQ(std::string(e.what()), "output " + output().string() +
                                         " was made for other boxes: '13.08,52.33,13.76,52.68'; "
                                         "now '13,52,14,53'; and for other zoom levels: '10-12'; "
                                         "now '9'; use --force to overwrite or choose another "
                                         "output");
  }
  // The same download given in another order is the same download.
  tile_fingerprint reordered = berlin();
  reordered.zooms = {12, 10, 11, 11};
  reordered.boxes.push_back(reordered.boxes.front());
  EXPECT_NO_THROW(open(reordered));
}

TEST_P(TileStoreTest, ForceStartsOverWithTheNewFingerprint) {
  const tile t{10, 550, 335};
  {
    auto store = open();
    store->put(t, tile_bytes(t), {"\"e\"", ""});
    store->record_failed(tile{10, 550, 336}, "HTTP 500");
    store->record_missing(tile{10, 550, 337});
  }
  tile_fingerprint other = berlin();
  other.url_template = "https://other.example.org/{z}/{x}/{y}.png";
  {
    auto store = open(other, {.force = true});
    EXPECT_EQ(store->stored_count(), 0u);
    EXPECT_FALSE(store->has(t));
    EXPECT_TRUE(store->failed_tiles().empty());
    EXPECT_EQ(store->missing_count(), 0u);
    EXPECT_EQ(store->validators(t), std::nullopt);
    store->put(tile{11, 1, 1}, tile_bytes(tile{11, 1, 1}));
  }
  // The new fingerprint is the recorded one now.
  EXPECT_THROW(open(berlin()), fingerprint_mismatch_error);
  auto store = open(other);
  EXPECT_EQ(store->stored_count(), 1u);
  EXPECT_TRUE(store->has(tile{11, 1, 1}));
  if (GetParam() == kind::directory) {
    EXPECT_FALSE(fs::exists(output() / "10"));
  }
}

TEST_P(TileStoreTest, ForceWithTheSameFingerprintKeepsEverything) {
  open()->put(tile{10, 550, 335}, tile_bytes(tile{10, 550, 335}));
  EXPECT_TRUE(open(berlin(), {.force = true})->has(tile{10, 550, 335}));
}

TEST_P(TileStoreTest, ASecondWriterIsRefusedWhileTheFirstHasItOpen) {
  auto first = open();
  try {
    open();
    FAIL() << "expected tile_store_error";
  } catch (const tile_store_error& e) {
    EXPECT_EQ(std::string(e.what()), "output " + output().string() +
                                         " is in use by another process (another cohort tiles?)");
  }
  first->close();
  EXPECT_NO_THROW(open());
}

TEST_P(TileStoreTest, ChangesAreCommittedInBatchesOfChanges) {
  const tile_store_options options{.batch_changes = 3, .batch_interval = std::chrono::hours(1)};
  auto store = open(berlin(), options);
  const auto committed_failures = [this] {
    const fs::path db = GetParam() == kind::mbtiles
                            ? output()
                            : output() / std::string(cohort::app::tiles::directory_store_db_name);
    return sqlite_reader(db).value("SELECT count(*) FROM cohort_failed");
  };
  store->record_failed(tile{10, 1, 1}, "a");
  store->record_failed(tile{10, 1, 2}, "b");
  EXPECT_EQ(committed_failures(), "0");
  store->record_failed(tile{10, 1, 3}, "c");
  EXPECT_EQ(committed_failures(), "3");
  store->record_failed(tile{10, 1, 4}, "d");
  store->flush();
  EXPECT_EQ(committed_failures(), "4");
}

TEST_P(TileStoreTest, MaybeFlushCommitsOnceTheIntervalHasPassed) {
  const tile_store_options options{.batch_changes = 1000, .batch_interval = 500ms};
  auto store = open(berlin(), options);
  const fs::path db = GetParam() == kind::mbtiles
                          ? output()
                          : output() / std::string(cohort::app::tiles::directory_store_db_name);
  const auto t0 = std::chrono::steady_clock::time_point{} + 1h;
  EXPECT_FALSE(store->maybe_flush(t0));  // starts the interval
  store->record_missing(tile{10, 1, 1});
  EXPECT_FALSE(store->maybe_flush(t0 + 499ms));
  EXPECT_EQ(sqlite_reader(db).value("SELECT count(*) FROM cohort_missing"), "0");
  EXPECT_TRUE(store->maybe_flush(t0 + 500ms));
  EXPECT_EQ(sqlite_reader(db).value("SELECT count(*) FROM cohort_missing"), "1");
  EXPECT_FALSE(store->maybe_flush(t0 + 2000ms));  // nothing to commit
}

TEST_P(TileStoreTest, MethodsThrowAfterClose) {
  auto store = open();
  store->close();
  store->close();  // idempotent
  EXPECT_THROW(store->put(tile{1, 0, 0}, "x"), tile_store_error);
  EXPECT_THROW(store->record_failed(tile{1, 0, 0}, "x"), tile_store_error);
}

TEST_P(TileStoreTest, UnknownFormatIsRefused) {
  try {
    open(berlin(), {.format = "../../etc"});
    FAIL() << "expected tile_store_error";
  } catch (const tile_store_error& e) {
    EXPECT_NE(std::string(e.what()).find("unknown tile format '../../etc'"), std::string::npos)
        << e.what();
  }
}

// Puts the tiles of `set` that `store` lacks, in enumeration order, and
// writes one byte to `progress_fd` after each.
void download(tile_store& store, const tile_set& set, int progress_fd) {
  auto e = set.enumerate();
  while (const auto t = e.next()) {
    if (store.has(*t)) continue;
    store.put(*t, tile_bytes(*t), {"\"" + std::to_string(t->x) + "\"", ""});
    if (progress_fd >= 0) {
      const char byte = 1;
      if (::write(progress_fd, &byte, 1) != 1) ::_exit(3);
    }
  }
}

// Every stored tile is complete and byte-exact; returns how many there are.
std::uint64_t verify_output(kind k, const fs::path& out, const tile_set& set) {
  std::uint64_t count = 0;
  if (k == kind::mbtiles) {
    sqlite_reader db(out);
    EXPECT_EQ(db.value("PRAGMA integrity_check"), "ok");
    for (const auto& row :
         db.rows("SELECT zoom_level, tile_column, tile_row, tile_data FROM tiles")) {
      const int z = std::stoi(row[0]);
      const tile t{z, static_cast<std::uint32_t>(std::stoul(row[1])),
                   (1u << z) - 1 - static_cast<std::uint32_t>(std::stoul(row[2]))};
      EXPECT_TRUE(set.contains(t));
      EXPECT_EQ(row[3], tile_bytes(t)) << z << "/" << t.x << "/" << t.y;
      ++count;
    }
  } else {
    for (const auto& e : fs::recursive_directory_iterator(out)) {
      if (!e.is_regular_file()) continue;
      const std::string name = e.path().filename().string();
      if (name.starts_with(".")) continue;  // our database, temporaries
      const tile t{
          std::stoi(e.path().parent_path().parent_path().filename().string()),
          static_cast<std::uint32_t>(std::stoul(e.path().parent_path().filename().string())),
          static_cast<std::uint32_t>(std::stoul(e.path().stem().string()))};
      EXPECT_TRUE(set.contains(t));
      EXPECT_EQ(read_file(e.path()), tile_bytes(t)) << e.path();
      ++count;
    }
  }
  return count;
}

TEST_P(TileStoreTest, KillNineAtRandomMomentsLeavesACompleteOutputThatResumes) {
  // A child downloads; it is SIGKILLed after a random number of puts (so at
  // a random point of a put, a commit or between them); the output must
  // open, hold only complete byte-exact tiles, and resume where it stopped.
  const tile_set set({bbox{13.08, 52.33, 13.76, 52.68}}, {9, 10, 11, 12, 13});
  const tile_store_options options{.format = "png", .batch_changes = 7};
  std::mt19937 rng(GetParam() == kind::mbtiles ? 11 : 12);
  std::uint64_t stored = 0;
  for (int iteration = 0; iteration < 10; ++iteration) {
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::close(fds[0]);
      try {
        auto store = open_tile_store(output(), berlin(), options);
        download(*store, set, fds[1]);
        store->close();
      } catch (...) {
        ::_exit(2);
      }
      ::_exit(0);
    }
    ::close(fds[1]);
    const int puts = static_cast<int>(rng() % 60) + 1;
    for (int i = 0; i < puts; ++i) {
      char byte;
      if (::read(fds[0], &byte, 1) != 1) break;  // finished or failed
    }
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    ::close(fds[0]);
    ASSERT_TRUE(WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) == 0)) << status;

    const std::uint64_t now_stored = verify_output(GetParam(), output(), set);
    EXPECT_GE(now_stored, stored);
    stored = now_stored;
    auto store = open_tile_store(output(), berlin(), options);
    EXPECT_EQ(store->stored_count(), now_stored);
  }
  // The last run completes the download.
  {
    auto store = open_tile_store(output(), berlin(), options);
    download(*store, set, -1);
    store->close();
  }
  EXPECT_EQ(verify_output(GetParam(), output(), set), set.count());
  auto store = open_tile_store(output(), berlin(), options);
  EXPECT_EQ(store->stored_count(), set.count());
  if (GetParam() == kind::directory) {
    // Reopening removed the temporaries the kills left.
    for (const auto& e : fs::recursive_directory_iterator(output())) {
      EXPECT_FALSE(cohort::is_atomic_write_temporary(e.path().filename().string())) << e.path();
    }
  }
}

// Mounts a tmpfs of `size` on `where` in a private mount namespace of the
// calling (child) process. False when not permitted.
bool mount_private_tmpfs(const fs::path& where, const char* options) {
  if (::unshare(CLONE_NEWNS) != 0) return false;
  if (::mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return false;
  return ::mount("tmpfs", where.c_str(), "tmpfs", 0, options) == 0;
}

TEST_P(TileStoreTest, AFullDiskIsAClearErrorAndLeavesACompleteOutput) {
  // A child fills a 1 MiB tmpfs (visible only to it) with tiles, then copies
  // what is left there to the scratch directory for the checks below.
  const fs::path mnt = dir_.path() / "small";
  const fs::path copy = dir_.path() / "copy";
  fs::create_directory(mnt);
  const bool mbtiles = GetParam() == kind::mbtiles;
  const fs::path out = mnt / (mbtiles ? "a.mbtiles" : "a");
  const tile_set set({bbox{13.08, 52.33, 13.76, 52.68}}, {12, 13});
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    int code = 0;
    try {
      if (!mount_private_tmpfs(mnt, "size=1m")) ::_exit(77);
      code = 10;  // no error seen
      auto store = open_tile_store(out, berlin(), {.format = "png", .batch_changes = 5});
      auto e = set.enumerate();
      while (const auto t = e.next()) {
        try {
          store->put(*t, tile_bytes(*t));
        } catch (const std::system_error& error) {
          const std::string what = error.what();
          code = error.code().value() == ENOSPC && what.find(out.string()) != std::string::npos
                     ? 0
                     : 11;
          break;
        } catch (const tile_store_error& error) {
          const std::string what = error.what();
          code = what.find("output " + out.string() + ": database or disk is full") == 0 ? 0 : 12;
          break;
        }
      }
      // Changes are refused until it is closed; closing does not throw twice.
      if (mbtiles && code == 0) {
        try {
          store->put(tile{1, 0, 0}, "\x89PNG");
          code = 13;
        } catch (const tile_store_error&) {
        }
      }
      try {
        store->close();
      } catch (const tile_store_error&) {
      }
      fs::copy(mnt, copy, fs::copy_options::recursive);
    } catch (...) {
      code = 20;
    }
    ::_exit(code);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status)) << status;
  if (WEXITSTATUS(status) == 77) GTEST_SKIP() << "cannot mount a tmpfs here (needs CAP_SYS_ADMIN)";
  ASSERT_EQ(WEXITSTATUS(status), 0);
  const fs::path copied = copy / out.filename();
  const std::uint64_t stored = verify_output(GetParam(), copied, set);
  EXPECT_GT(stored, 0u);
  EXPECT_LT(stored, set.count());
  if (!mbtiles) {
    for (const auto& e : fs::recursive_directory_iterator(copied)) {
      EXPECT_FALSE(cohort::is_atomic_write_temporary(e.path().filename().string())) << e.path();
    }
  }
  // It opens, and a run with space completes it.
  auto store = open_tile_store(copied, berlin(), {.format = "png"});
  EXPECT_EQ(store->stored_count(), stored);
  download(*store, set, -1);
  store->close();
  EXPECT_EQ(verify_output(GetParam(), copied, set), set.count());
}

// ---------------------------------------------------------------------------
// Directory store
// ---------------------------------------------------------------------------

}  // namespace
