// libFuzzer target: opening an MBTiles file that is damaged, foreign or
// hostile, then using it.
//
// Two kinds of input:
// - "SQL:" then SQL run on a file the store created (with our schema and a
//   few tiles), to reach odd but well-formed contents: rows out of range,
//   NULLs and texts where numbers belong, a changed fingerprint, views
//   instead of tables, triggers. ATTACH and VACUUM are refused so that the
//   SQL cannot write outside the scratch directory.
// - anything else: the raw bytes of the file.
// Then the store opens the file (without and with force). Accepted
// outcomes: tile_store_error (including fingerprint_mismatch_error) with a
// one-line message; or an open store on which put() makes has() true and
// close() works (a trigger may make put() throw tile_store_error). Any other
// exception, a crash or a sanitizer report is a bug.

#include "cohort/tiles/tile_store.hpp"

#include <sqlite3.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

namespace {

using namespace cohort::app::tiles;
namespace fs = std::filesystem;

void check(bool ok) {
  if (!ok) std::abort();
}

const fs::path& scratch() {
  static const fs::path dir = [] {
    fs::path p = fs::temp_directory_path() / ("cohort-mbtiles-fuzz-" + std::to_string(::getpid()));
    fs::create_directories(p);
    return p;
  }();
  return dir;
}

const tile_fingerprint& fingerprint() {
  static const tile_fingerprint fp{
      "https://t.example/{z}/{x}/{y}.png", {bbox{13.08, 52.33, 13.76, 52.68}}, {10, 11}};
  return fp;
}

bool lowercase_contains(std::string_view text, std::string_view word) {
  std::string lower(text);
  for (char& c : lower) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  return lower.find(word) != std::string::npos;
}

void remove_files(const fs::path& file) {
  std::error_code ec;
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
    fs::remove(file.string() + suffix, ec);
  }
}

bool one_line(const std::exception& e) {
  return std::string_view(e.what()).find('\n') == std::string_view::npos;
}

// Opens `file` and exercises the store; every outcome but a tile_store_error
// or a working store aborts.
void open_and_use(const fs::path& file, bool force) {
  std::unique_ptr<tile_store> store;
  try {
    store = open_mbtiles_store(file, fingerprint(), {.force = force, .format = "png"});
  } catch (const tile_store_error& e) {
    check(one_line(e));
    return;
  }
  const tile t{11, 1100, 671};
  try {
    store->put(t, "\x89PNG fuzz", {"\"e\"", ""});
    check(store->has(t));
    check(store->stored_count() >= 1);
    (void)store->validators(t);
    store->record_failed(tile{10, 1, 1}, "x");
    store->record_missing(tile{10, 1, 2});
    (void)store->failed_tiles();
    store->close();
  } catch (const tile_store_error& e) {
    check(one_line(e));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const fs::path file = scratch() / "fuzz.mbtiles";
  remove_files(file);

  if (input.starts_with("SQL:")) {
    const std::string sql(input.substr(4));
    // No writing elsewhere, no endless views (a recursive view named tiles
    // would be read forever, as by any reader).
    if (lowercase_contains(sql, "attach") || lowercase_contains(sql, "vacuum") ||
        lowercase_contains(sql, "load_extension") || lowercase_contains(sql, "recursive") ||
        sql.find('\0') != std::string::npos) {
      return 0;
    }
    {
      auto store = open_mbtiles_store(file, fingerprint(), {.format = "png"});
      store->put(tile{10, 550, 335}, "\x89PNG a");
      store->record_failed(tile{10, 550, 336}, "HTTP 500");
      store->close();
    }
    sqlite3* db = nullptr;
    if (sqlite3_open_v2(file.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) == SQLITE_OK) {
      sqlite3_limit(db, SQLITE_LIMIT_LENGTH, 1 << 20);
      // Stop runaway statements (huge joins) after a few million VM steps.
      int budget = 1000;
      sqlite3_progress_handler(
          db, 10000, [](void* left) { return --*static_cast<int*>(left) < 0 ? 1 : 0; }, &budget);
      sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr);
    }
    sqlite3_close(db);
  } else {
    std::ofstream(file, std::ios::binary).write(input.data(), static_cast<std::streamsize>(size));
  }
  open_and_use(file, false);
  open_and_use(file, true);
  return 0;
}
