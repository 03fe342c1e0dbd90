#pragma once

// Internal to the MBTiles store (detail): checkpoints the write-ahead log on
// a thread of its own, so the event loop never waits for the fsyncs of a
// checkpoint (about a third of the wall time of a large download when the
// writing connection checkpoints itself).

#include <sqlite3.h>

#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <string>
#include <thread>

namespace cohort::app::tiles::detail {

class wal_checkpointer {
 public:
  // Takes over checkpointing of `writer`, a WAL-mode connection to `file`:
  // turns off its automatic checkpoints and, after every commit that leaves
  // at least `pages` pages in the log, has a second connection copy the log
  // back into the database (a passive checkpoint, which never blocks the
  // writer). At `limit_pages` the writer waits for the thread's checkpoint
  // in progress, if any, and copies the rest itself, so that the log
  // restarts from its beginning (see on_commit). Throws std::runtime_error if the second
  // connection cannot be opened; the caller then keeps SQLite's own
  // checkpoints.
  wal_checkpointer(sqlite3* writer, const std::string& file, int pages = 1000,
                   int limit_pages = 4096);
  wal_checkpointer(const wal_checkpointer&) = delete;
  wal_checkpointer& operator=(const wal_checkpointer&) = delete;

  // Stops the thread (after the checkpoint in progress) and gives the
  // writer its automatic checkpoints back.
  ~wal_checkpointer();

  // Checkpoints by the thread so far that copied pages (for tests).
  std::size_t checkpoints() const;

 private:
  static int on_commit(void* self, sqlite3* db, const char* schema, int pages);
  void loop();

  sqlite3* writer_;
  sqlite3* reader_ = nullptr;
  int pages_;
  int limit_pages_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;  // the thread: work, or stop
  std::condition_variable idle_;  // the writer: the thread's checkpoint is over
  bool wanted_ = false;
  bool running_ = false;
  bool stop_ = false;
  std::size_t done_ = 0;
  std::thread thread_;
};

}  // namespace cohort::app::tiles::detail
