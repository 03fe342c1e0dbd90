#include "cohort/tiles/wal_checkpointer.hpp"

#include <stdexcept>

namespace cohort::app::tiles::detail {

wal_checkpointer::wal_checkpointer(sqlite3* writer, const std::string& file, int pages,
                                   int limit_pages)
    : writer_(writer), pages_(pages), limit_pages_(limit_pages) {
  const int rc =
      sqlite3_open_v2(file.c_str(), &reader_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    const std::string message = reader_ != nullptr ? sqlite3_errmsg(reader_) : sqlite3_errstr(rc);
    sqlite3_close_v2(reader_);
    throw std::runtime_error("cannot open a second connection: " + message);
  }
  // A connection checkpoints only once it has seen the file in WAL mode,
  // which takes one read; until then a checkpoint does nothing, and says OK.
  if (sqlite3_exec(reader_, "SELECT count(*) FROM sqlite_master", nullptr, nullptr, nullptr) !=
      SQLITE_OK) {
    const std::string message = sqlite3_errmsg(reader_);
    sqlite3_close_v2(reader_);
    throw std::runtime_error("cannot read with a second connection: " + message);
  }
  // A checkpoint that meets the writer's lock gives up at once and is tried
  // again after the next commit.
  sqlite3_busy_timeout(reader_, 0);
  thread_ = std::thread([this] { loop(); });
  // Replaces the writer's automatic checkpoint, which is itself a WAL hook.
  sqlite3_wal_hook(writer_, &wal_checkpointer::on_commit, this);
}

wal_checkpointer::~wal_checkpointer() {
  sqlite3_wal_autocheckpoint(writer_, 1000);  // SQLite's default hook again
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_one();
  thread_.join();
  sqlite3_close_v2(reader_);
}

std::size_t wal_checkpointer::checkpoints() const {
  std::lock_guard lock(mutex_);
  return done_;
}

int wal_checkpointer::on_commit(void* self, sqlite3* db, const char* schema, int pages) {
  auto* me = static_cast<wal_checkpointer*>(self);
  if (pages >= me->limit_pages_) {
    // The log restarts from its beginning only when a transaction begins
    // with every page copied back, which the thread, working while the
    // writer writes, hardly ever sees. So at the limit the writer waits for
    // the thread's checkpoint in progress, if any, and copies the rest
    // itself: the log restarts with the next transaction. (An error here is
    // not the commit's: the log just stays long, as with SQLite's hook.)
    std::unique_lock lock(me->mutex_);
    me->idle_.wait(lock, [me] { return !me->running_; });
    me->wanted_ = false;
    sqlite3_wal_checkpoint_v2(db, schema, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    return SQLITE_OK;
  }
  if (pages >= me->pages_) {
    {
      std::lock_guard lock(me->mutex_);
      me->wanted_ = true;
    }
    me->wake_.notify_one();
  }
  return SQLITE_OK;
}

void wal_checkpointer::loop() {
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait(lock, [this] { return wanted_ || stop_; });
    if (stop_) return;
    wanted_ = false;
    running_ = true;
    lock.unlock();
    int log = 0, copied = 0;
    const int rc =
        sqlite3_wal_checkpoint_v2(reader_, nullptr, SQLITE_CHECKPOINT_PASSIVE, &log, &copied);
    lock.lock();
    running_ = false;
    if (rc == SQLITE_OK && copied > 0) ++done_;
    idle_.notify_all();
  }
}

}  // namespace cohort::app::tiles::detail
