#include "cohort/tiles/tile_store.hpp"

#include <sched.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include <gtest/gtest.h>

#include "cohort/io/atomic_file.hpp"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using cohort::app::tiles::bbox;
using cohort::app::tiles::failed_tile;
using cohort::app::tiles::fingerprint_mismatch_error;
using cohort::app::tiles::open_directory_store;
using cohort::app::tiles::open_mbtiles_store;
using cohort::app::tiles::open_tile_store;
using cohort::app::tiles::tile;
using cohort::app::tiles::tile_fingerprint;
using cohort::app::tiles::tile_set;
using cohort::app::tiles::tile_store;
using cohort::app::tiles::tile_store_error;
using cohort::app::tiles::tile_store_options;
using cohort::app::tiles::tile_validators;

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

class scratch_dir {
 public:
  scratch_dir() {
    const char* base = std::getenv("TMPDIR");
    std::string pattern =
        std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/cohort-store-test-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  scratch_dir(const scratch_dir&) = delete;
  scratch_dir& operator=(const scratch_dir&) = delete;
  ~scratch_dir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Deterministic bytes of tile t: a PNG signature, then pseudo-random bytes,
// between 200 bytes and 40 KiB depending on the tile.
std::string tile_bytes(const tile& t) {
  std::seed_seq seed{t.z, static_cast<int>(t.x), static_cast<int>(t.y)};
  std::mt19937 rng(seed);
  std::string s = "\x89PNG\r\n\x1a\n";
  s.resize(200 + rng() % (40 * 1024));
  for (std::size_t i = 8; i < s.size(); ++i) s[i] = static_cast<char>(rng());
  return s;
}

// --- A minimal PNG encoder (8-bit grayscale, stored deflate blocks), so
// that GDAL can decode real tiles.

std::uint32_t crc32(const std::string& data, std::uint32_t crc = 0) {
  static const auto table = [] {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t n = 0; n < 256; ++n) {
      std::uint32_t c = n;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
      t[n] = c;
    }
    return t;
  }();
  crc = ~crc;
  for (const char ch : data) crc = table[(crc ^ static_cast<std::uint8_t>(ch)) & 0xff] ^ (crc >> 8);
  return ~crc;
}

void put_be32(std::string& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>((v >> shift) & 0xff);
}

void put_chunk(std::string& out, const char* type, const std::string& data) {
  put_be32(out, static_cast<std::uint32_t>(data.size()));
  const std::string typed = std::string(type, 4) + data;
  out += typed;
  put_be32(out, crc32(typed));
}

// A 256x256 tile of one gray `level`.
std::string gray_png(std::uint8_t level) {
  constexpr std::uint32_t size = 256;
  std::string raw;
  for (std::uint32_t row = 0; row < size; ++row) {
    raw += '\0';  // filter: none
    raw.append(size, static_cast<char>(level));
  }
  std::string z = "\x78\x01";  // zlib header, no compression
  for (std::size_t off = 0; off < raw.size();) {
    const std::size_t n = std::min<std::size_t>(65535, raw.size() - off);
    z += static_cast<char>(off + n == raw.size() ? 1 : 0);
    z += static_cast<char>(n & 0xff);
    z += static_cast<char>(n >> 8);
    z += static_cast<char>(~n & 0xff);
    z += static_cast<char>((~n >> 8) & 0xff);
    z.append(raw, off, n);
    off += n;
  }
  std::uint32_t a = 1, b = 0;
  for (const char ch : raw) {
    a = (a + static_cast<std::uint8_t>(ch)) % 65521;
    b = (b + a) % 65521;
  }
  put_be32(z, (b << 16) | a);
  std::string png = "\x89PNG\r\n\x1a\n";
  std::string ihdr;
  put_be32(ihdr, size);
  put_be32(ihdr, size);
  ihdr +=
      std::string("\x08\x00\x00\x00\x00", 5);  // depth 8, gray, deflate, no filter, no interlace
  put_chunk(png, "IHDR", ihdr);
  put_chunk(png, "IDAT", z);
  put_chunk(png, "IEND", "");
  return png;
}

// A read-only view of an SQLite file, as a third party sees it.
class sqlite_reader {
 public:
  explicit sqlite_reader(const fs::path& file) {
    if (sqlite3_open_v2(file.c_str(), &db_, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
      throw std::runtime_error("cannot open " + file.string());
    }
  }
  sqlite_reader(const sqlite_reader&) = delete;
  sqlite_reader& operator=(const sqlite_reader&) = delete;
  ~sqlite_reader() { sqlite3_close(db_); }

  // Every row of `sql`, each column as text (blobs as raw bytes).
  std::vector<std::vector<std::string>> rows(const std::string& sql) const {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
      throw std::runtime_error(sqlite3_errmsg(db_));
    }
    std::vector<std::vector<std::string>> out;
    int rc = 0;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
      std::vector<std::string> row;
      for (int i = 0; i < sqlite3_column_count(stmt); ++i) {
        const auto* p = static_cast<const char*>(sqlite3_column_blob(stmt, i));
        row.emplace_back(p == nullptr ? "" : std::string(p, sqlite3_column_bytes(stmt, i)));
      }
      out.push_back(std::move(row));
    }
    sqlite3_finalize(stmt);
    if (rc != SQLITE_DONE) throw std::runtime_error(sqlite3_errmsg(db_));
    return out;
  }
  std::string value(const std::string& sql) const {
    const auto r = rows(sql);
    return r.empty() ? std::string("<no row>") : r.front().front();
  }

 private:
  sqlite3* db_ = nullptr;
};

// Runs a shell command, returning its exit status and its output.
int run_command(const std::string& command, std::string& output) {
  const scratch_dir dir;
  const fs::path out = dir.path() / "out";
  const int status = std::system((command + " >" + out.string() + " 2>&1").c_str());
  output = read_file(out);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

tile_fingerprint berlin() {
  return {
      "https://tile.example.org/{z}/{x}/{y}.png", {bbox{13.08, 52.33, 13.76, 52.68}}, {10, 11, 12}};
}

// ---------------------------------------------------------------------------
// Both stores
// ---------------------------------------------------------------------------

enum class kind { directory, mbtiles };

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
  EXPECT_EQ(db.value("PRAGMA page_size"), "16384");
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
