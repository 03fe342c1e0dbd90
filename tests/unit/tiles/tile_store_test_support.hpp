#pragma once

// Helpers shared by the tile store tests (tile_store_test.cpp,
// directory_store_test.cpp, mbtiles_store_test.cpp): a scratch directory,
// deterministic tile bytes and PNGs, a read-only SQLite reader, the Berlin
// fingerprint, and `kind` for the tests run on both stores.

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
#include "cohort/tiles/tile_store.hpp"
#include "scratch_dir.hpp"

namespace tile_store_testing {

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

using cohort::test::scratch_dir;

inline std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Deterministic bytes of tile t: a PNG signature, then pseudo-random bytes,
// between 200 bytes and 40 KiB depending on the tile.
inline std::string tile_bytes(const tile& t) {
  std::seed_seq seed{t.z, static_cast<int>(t.x), static_cast<int>(t.y)};
  std::mt19937 rng(seed);
  std::string s = "\x89PNG\r\n\x1a\n";
  s.resize(200 + rng() % (40 * 1024));
  for (std::size_t i = 8; i < s.size(); ++i) s[i] = static_cast<char>(rng());
  return s;
}

// --- A minimal PNG encoder (8-bit grayscale, stored deflate blocks), so
// that GDAL can decode real tiles.

inline std::uint32_t crc32(const std::string& data, std::uint32_t crc = 0) {
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

inline void put_be32(std::string& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>((v >> shift) & 0xff);
}

inline void put_chunk(std::string& out, const char* type, const std::string& data) {
  put_be32(out, static_cast<std::uint32_t>(data.size()));
  const std::string typed = std::string(type, 4) + data;
  out += typed;
  put_be32(out, crc32(typed));
}

// A 256x256 tile of one gray `level`.
inline std::string gray_png(std::uint8_t level) {
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
inline int run_command(const std::string& command, std::string& output) {
  const scratch_dir dir;
  const fs::path out = dir.path() / "out";
  const int status = std::system((command + " >" + out.string() + " 2>&1").c_str());
  output = read_file(out);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

inline tile_fingerprint berlin() {
  return {
      "https://tile.example.org/{z}/{x}/{y}.png", {bbox{13.08, 52.33, 13.76, 52.68}}, {10, 11, 12}};
}

// ---------------------------------------------------------------------------
// Both stores
// ---------------------------------------------------------------------------
enum class kind { directory, mbtiles };

}  // namespace tile_store_testing
