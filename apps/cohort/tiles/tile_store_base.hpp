#pragma once

// Internal to the tile stores (detail): store_base, the part the directory
// store and the MBTiles store share: the SQLite file of our bookkeeping
// tables (fingerprint, failed and missing lists, validators), held under its
// lock, the in-memory sets, batching. The file, its lock, its statements,
// the fingerprint comparison and the batching are the library's
// (cohort::sqlite_database, cohort::fingerprint_differences,
// cohort::commit_batch), as for the journal.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <cohort/runner/commit_batch.hpp>
#include <cohort/runner/fingerprint.hpp>
#include <cohort/runner/sqlite_database.hpp>

#include "cohort/tiles/tile_fingerprint.hpp"
#include "cohort/tiles/tile_key_set.hpp"
#include "cohort/tiles/tile_math.hpp"
#include "cohort/tiles/tile_store.hpp"

namespace cohort::app::tiles::detail {

// Binds `t` as ?1, ?2, ?3 (z, x, y).
inline sqlite_statement& bind_tile(sqlite_statement& s, const tile& t) {
  return s.bind(1, t.z).bind(2, t.x).bind(3, t.y);
}

// The message of an output not made by cohort tiles: "output SHOWN WHY; use
// --force to overwrite or choose another output".
std::string not_ours_message(const std::string& shown, std::string_view why);

class store_base : public tile_store {
 public:
  const std::filesystem::path& path() const override { return path_; }
  bool has(const tile& t) const override { return stored_.contains(t); }
  std::uint64_t stored_count() const override { return stored_.size(); }
  bool is_missing(const tile& t) const override { return missing_.contains(t); }
  std::uint64_t missing_count() const override { return missing_.size(); }
  std::string format() const override { return format_; }

  std::optional<tile_validators> validators(const tile& t) override;
  void record_failed(const tile& t, std::string_view reason) override;
  void clear_failed(const tile& t) override;
  std::vector<failed_tile> failed_tiles() const override;
  void record_missing(const tile& t) override;
  bool maybe_flush(std::chrono::steady_clock::time_point now) override;
  void flush() override;

 protected:
  store_base(const std::filesystem::path& path, const tile_store_options& options);
  ~store_base() override;

  // mkdir -p `dir`; an error names the part of the path that failed and its
  // errno: "output O: cannot create directory D: Operation not permitted",
  // "output O: F is not a directory" (or "output O is not a directory" when
  // F is the output itself).
  void make_directories(const std::string& dir) const;

  // Takes the output's lock (an flock on `file`, created if needed: readers
  // such as sqlite3 or GDAL do not take it; a second cohort does, and is
  // refused) and opens `file` in WAL mode. `page_size` applies to a new file
  // only.
  void open_database(const std::string& file, const char* page_size = nullptr);

  // Number of schema objects (tables, indexes, views, triggers).
  std::int64_t schema_objects();

  bool has_table(const char* name);

  // The fields of `given` as cohort_meta recorded them, "" for an absent one
  // (call only when the table exists).
  cohort::fingerprint read_meta(const cohort::fingerprint& given);

  // Throws fingerprint_mismatch_error unless force. Returns true when the
  // output must be emptied (force with a mismatch).
  bool check_fingerprint(const tile_fingerprint& fingerprint);

  // Creates our tables and records the fingerprint (inside a transaction).
  void write_cohort_schema(const tile_fingerprint& fingerprint);

  void prepare_statements();

  // Loads the failed and missing lists, and whether any validators exist.
  void load_lists();

  static std::optional<tile> valid_tile(std::int64_t z, std::int64_t x, std::int64_t y);

  void check_usable() const;

  void begin();

  // Counts one change of `bytes` tile bytes; commits when the batch is full.
  void changed(std::size_t bytes);

  void commit();

  // The bookkeeping of a stored tile: its validators, and it is neither
  // failed nor missing any more.
  void note_stored(const tile& t, const tile_validators& v);

  // Commits (unless the connection failed), closes the database and
  // releases the lock. `before_close` runs after the commit.
  template <class F>
  void close_with(F before_close) {
    if (closed_) return;
    closed_ = true;
    try {
      if (db_ && !db_failed_) {
        commit();
        before_close();
      }
    } catch (...) {
      release();
      throw;
    }
    release();
  }

  // Releases everything without committing (a transaction still open is
  // rolled back by SQLite), the lock last.
  void release() noexcept;

  // Store-specific statements, finalized before the database closes.
  virtual void release_statements() noexcept {}

  std::filesystem::path path_;
  std::string shown_;
  tile_store_options options_;
  std::string format_;

  std::unique_ptr<sqlite_database> db_;
  // A failure of the connection: the transaction's outcome is then unknown
  // and the store refuses further changes.
  bool db_failed_ = false;
  std::string failure_;
  sqlite_failure::stage failed_during_ = sqlite_failure::stage::running;
  int failed_code_ = 0;
  std::optional<sqlite_statement> put_failed_, delete_failed_, put_missing_, delete_missing_,
      put_validators_, delete_validators_, get_validators_;

  tile_key_set stored_;
  tile_key_set missing_;
  std::map<tile, std::string> failed_;
  bool any_validators_ = false;

  bool in_transaction_ = false;
  bool closed_ = false;
  commit_batch batch_;

 private:
  // Throws the tile_store_error of a failure of the database.
  [[noreturn]] void fail(const sqlite_failure& f);
};

}  // namespace cohort::app::tiles::detail
