#include <cohort/runner/journal.hpp>

#include <cohort/runner/commit_batch.hpp>
#include <cohort/runner/sqlite_database.hpp>

#include <sqlite3.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <unordered_set>
#include <utility>

#include <unistd.h>

namespace cohort {
namespace {

// "COHJ": marks the SQLite file as a Cohort journal (PRAGMA application_id).
constexpr int application_id = 0x434f484a;

// The schema of format version 1. The open check compares the stored table
// definitions with these strings, so they must never change for version 1.
constexpr const char* create_meta =
    "CREATE TABLE meta (name TEXT PRIMARY KEY NOT NULL, value TEXT) WITHOUT ROWID";
constexpr const char* create_fingerprint =
    "CREATE TABLE fingerprint (position INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, "
    "value TEXT NOT NULL)";
// Outcomes are appended in recording order (seq) and the row a key had
// before is deleted in the same transaction. There is no index on key: keys
// come in random order and would cost a page write per record (measured 25
// times slower). The key -> seq index lives in memory.
constexpr const char* create_outcomes =
    "CREATE TABLE outcomes (seq INTEGER PRIMARY KEY, key TEXT NOT NULL, "
    "state TEXT NOT NULL CHECK (state IN ('done', 'failed')), attempts INTEGER NOT NULL, "
    "error TEXT, value INTEGER, text TEXT, finished_at INTEGER NOT NULL)";
constexpr const char* create_outcome_errors =
    "CREATE TABLE outcome_errors (seq INTEGER NOT NULL, attempt INTEGER NOT NULL, "
    "error TEXT NOT NULL, PRIMARY KEY (seq, attempt)) WITHOUT ROWID";

struct table_def {
  const char* name;
  const char* sql;
};
constexpr table_def tables[] = {{"meta", create_meta},
                                {"fingerprint", create_fingerprint},
                                {"outcomes", create_outcomes},
                                {"outcome_errors", create_outcome_errors}};

/// The journal's in-memory index: every key it knows, with its latest state
/// and the row that holds it. Built for millions of keys: the keys sit back
/// to back in one buffer, entries in one vector, and an open-addressing table
/// of 8-byte slots maps a key's hash to its entry, so there is no allocation
/// per key and a lookup touches about three cache lines. A key costs about
/// 45 bytes plus its length. (With std::unordered_map, recording a million
/// outcomes took 1.6 times the CPU, most of it in cache misses.)
class key_index {
 public:
  using id = std::uint32_t;
  struct entry {
    std::int64_t seq;  // its committed row in outcomes, 0 if none yet
    std::uint64_t key_offset;
    std::uint32_t key_size;
    journal_state state;  // the latest outcome, committed or buffered
  };

  static constexpr id npos = ~id{0};

  id find(std::string_view key) const noexcept {
    if (slots_.empty()) return npos;
    const std::uint32_t tag = tag_of(key);
    for (std::size_t i = tag & mask_;; i = (i + 1) & mask_) {
      const std::uint64_t slot = slots_[i];
      if (slot == 0) return npos;
      if (static_cast<std::uint32_t>(slot >> 32) == tag) {
        const id candidate = static_cast<id>(slot) - 1;
        if (key_of(candidate) == key) return candidate;
      }
    }
  }

  /// Adds `key`, which must be absent.
  id insert(std::string_view key, journal_state state, std::int64_t seq) {
    if (entries_.size() >= npos - 1) throw std::length_error("journal: too many keys");
    if ((entries_.size() + 1) * 10 > slots_.size() * 7) grow();
    const id n = static_cast<id>(entries_.size());
    entries_.push_back({seq, keys_.size(), static_cast<std::uint32_t>(key.size()), state});
    keys_.append(key);
    place(tag_of(key), n);
    return n;
  }

  entry& operator[](id i) noexcept { return entries_[i]; }
  const entry& operator[](id i) const noexcept { return entries_[i]; }
  std::string_view key_of(id i) const noexcept {
    const entry& e = entries_[i];
    return std::string_view(keys_).substr(e.key_offset, e.key_size);
  }
  std::size_t size() const noexcept { return entries_.size(); }

 private:
  static std::uint32_t tag_of(std::string_view key) noexcept {
    const std::uint64_t h = std::hash<std::string_view>{}(key);
    return static_cast<std::uint32_t>(h ^ (h >> 32));
  }

  void place(std::uint32_t tag, id n) noexcept {
    std::size_t i = tag & mask_;
    while (slots_[i] != 0) i = (i + 1) & mask_;
    slots_[i] = (std::uint64_t{tag} << 32) | (std::uint64_t{n} + 1);
  }

  // A slot keeps the tag that chose its home, so growing needs neither the
  // keys nor their hashes again.
  void grow() {
    std::vector<std::uint64_t> old(std::max<std::size_t>(64, slots_.size() * 2), 0);
    old.swap(slots_);
    mask_ = slots_.size() - 1;
    for (const std::uint64_t slot : old) {
      if (slot != 0) place(static_cast<std::uint32_t>(slot >> 32), static_cast<id>(slot) - 1);
    }
  }

  std::string keys_;
  std::vector<entry> entries_;
  std::vector<std::uint64_t> slots_;  // 0: empty; else tag << 32 | (id + 1)
  std::size_t mask_ = 0;
};

/// `s` in single quotes for a one-line message: control characters escaped,
/// long values cut.
std::string single_quoted(std::string_view s) {
  std::size_t shown = std::min<std::size_t>(s.size(), 80);
  // Do not cut a UTF-8 sequence in two.
  while (shown < s.size() && shown > 0 && (static_cast<unsigned char>(s[shown]) & 0xc0) == 0x80) {
    --shown;
  }
  std::string out = "'";
  for (std::size_t i = 0; i < shown; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  if (shown < s.size()) out += "...";
  out += "'";
  return out;
}

std::int64_t unix_ms_now() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

const char* state_name(journal_state s) {
  return s == journal_state::done ? "done" : "failed";
}

/// A record waiting for its batch to commit.
struct pending_record {
  key_index::id task;
  journal_state state;
  int attempts;
  std::vector<std::string> errors;
  journal_meta meta;
  std::int64_t finished_at_ms;
};

}  // namespace

struct journal::impl {
  std::filesystem::path path;
  std::string name;  // the path, quoted, for messages
  journal_options options;
  std::optional<sqlite_database> db;  // declared before the statements, so it is closed after them
  sqlite_statement insert_outcome;
  sqlite_statement delete_outcome;
  sqlite_statement delete_errors;
  sqlite_statement insert_error;
  sqlite_statement select_outcome;
  sqlite_statement select_errors;
  key_index keys;
  std::size_t done_count = 0;
  std::size_t failed_count = 0;
  std::vector<pending_record> pending;
  commit_batch batch;
  std::optional<std::string> reset_note;

  impl(std::filesystem::path p, journal_options o)
      : path(std::move(p)),
        name(single_quoted(path.string())),
        options(o),
        batch({.changes = o.batch_records, .interval = o.flush_interval}) {
    pending.reserve(std::min<std::size_t>(batch.limits().changes, 4096));
  }

  // --- errors --------------------------------------------------------------

  /// Throws the `journal_error` for a failure of the database.
  [[noreturn]] void fail(const sqlite_failure& f) const {
    const int rc = f.primary_code();
    // Our SQL is fixed, so a statement that does not compile means the
    // file's schema is not the one we wrote.
    if (f.during == sqlite_failure::stage::preparing && rc == SQLITE_ERROR) fail_corrupt(f.message);
    switch (rc) {
      case SQLITE_CORRUPT:
      case SQLITE_NOTADB:
        throw journal_error(journal_error::kind::corrupt,
                            "journal " + name + " is corrupt (" + f.message +
                                "): move it aside or delete it to start over");
      case SQLITE_BUSY:
      case SQLITE_LOCKED:
        throw journal_error(journal_error::kind::in_use,
                            "journal " + name +
                                " is in use by another process: wait for that run to end, or "
                                "use another journal");
      default: break;
    }
    std::string detail = f.message;
    if (rc == SQLITE_CANTOPEN || rc == SQLITE_READONLY) {
      // SQLite's errno is often that of a later probe (ENOENT of a -journal
      // file): find the real reason ourselves.
      if (std::string why = why_cannot_open(); !why.empty()) detail = std::move(why);
    }
    throw journal_error(journal_error::kind::io, "journal " + name + ": cannot " +
                                                     std::string(f.doing) + " (" + detail + ")");
  }

  /// Why the file cannot be opened or created, as far as the file system
  /// tells; empty if it does not say.
  std::string why_cannot_open() const {
    std::error_code ec;
    const std::filesystem::path dir = path.has_parent_path() ? path.parent_path() : ".";
    const auto status = std::filesystem::status(path, ec);
    if (std::filesystem::is_directory(status)) return "it is a directory";
    if (!std::filesystem::exists(status)) {
      if (!std::filesystem::is_directory(dir, ec)) {
        return "directory " + single_quoted(dir.string()) + " does not exist";
      }
      if (::access(dir.c_str(), W_OK | X_OK) != 0) {
        return "cannot create a file in directory " + single_quoted(dir.string()) + ": " +
               std::strerror(errno);
      }
      return {};
    }
    if (::access(path.c_str(), R_OK | W_OK) != 0) return std::strerror(errno);
    if (::access(dir.c_str(), W_OK | X_OK) != 0) {
      return "directory " + single_quoted(dir.string()) +
             " is not writable, and the journal keeps its write-ahead log beside it: " +
             std::strerror(errno);
    }
    return {};
  }

  [[noreturn]] void fail_corrupt(std::string_view problem) const {
    throw journal_error(journal_error::kind::corrupt,
                        "journal " + name + " is corrupt (" + std::string(problem) +
                            "): move it aside or delete it to start over");
  }

  // --- statements ----------------------------------------------------------

  void exec(const char* sql, std::string_view doing) { db->exec(sql, doing); }

  sqlite_statement prepare(const char* sql, std::string_view doing) {
    return sqlite_statement(*db, sql, doing);
  }

  /// Runs a one-row query.
  sqlite_statement query_row(const char* sql, std::string_view doing) {
    sqlite_statement s = prepare(sql, doing);
    if (!s.step()) fail_corrupt(std::string("no result from ") + sql);
    return s;
  }

  // --- open ----------------------------------------------------------------

  void open(const journal_fingerprint& fp) {
    // Exclusive locking: the first read takes the file lock and keeps it until
    // close, so a second run on the same journal fails at once; and WAL mode
    // then keeps its index in memory (no -shm file).
    db.emplace(path, sqlite_lock::exclusive, [this](const sqlite_failure& f) { fail(f); });
    // The file may come from anywhere: refuse schema tricks (triggers or
    // views calling functions) and writes that could corrupt it.
    sqlite3_db_config(db->get(), SQLITE_DBCONFIG_DEFENSIVE, 1, nullptr);
    sqlite3_db_config(db->get(), SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, nullptr);
    sqlite3_db_config(db->get(), SQLITE_DBCONFIG_ENABLE_TRIGGER, 0, nullptr);
    if (sqlite3_db_readonly(db->get(), "main") == 1) {
      throw journal_error(journal_error::kind::io,
                          "journal " + name + ": cannot write it (the file is read-only)");
    }

    // Read-only checks first: a file that is not ours must not be touched,
    // not even switched to WAL mode.
    const auto app_id = query_row("PRAGMA application_id", "read it").int_at(0);
    const auto version = query_row("PRAGMA user_version", "read it").int_at(0);
    const auto objects = query_row("SELECT count(*) FROM sqlite_schema", "read it").int_at(0);
    const bool fresh = app_id == 0 && version == 0 && objects == 0;
    if (!fresh) check_identity(app_id, version);

    if (query_row("PRAGMA journal_mode=WAL", "switch it to WAL mode").text_at(0) != "wal") {
      throw journal_error(journal_error::kind::io,
                          "journal " + name + ": cannot switch it to WAL mode");
    }
    // In WAL mode NORMAL syncs at checkpoints only: a committed batch survives
    // a crash of the process; a power loss may roll back the latest batches
    // but never corrupts the file (docs/journal.md).
    exec("PRAGMA synchronous=NORMAL", "configure it");

    exec("BEGIN IMMEDIATE", "lock it");
    try {
      if (fresh) {
        create(fp);
      } else {
        check_integrity();
        check_schema();
        adopt(fp);
        load_keys();
      }
      exec("COMMIT", "open it");
    } catch (...) {
      db->rollback();
      throw;
    }

    insert_outcome = prepare(
        "INSERT INTO outcomes (key, state, attempts, error, value, text, finished_at) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        "prepare writes");
    delete_outcome = prepare("DELETE FROM outcomes WHERE seq = ?1", "prepare writes");
    delete_errors = prepare("DELETE FROM outcome_errors WHERE seq = ?1", "prepare writes");
    insert_error = prepare("INSERT INTO outcome_errors (seq, attempt, error) VALUES (?1, ?2, ?3)",
                           "prepare writes");
  }

  void check_identity(std::int64_t app_id, std::int64_t version) {
    if (app_id != application_id) {
      throw journal_error(journal_error::kind::not_a_journal,
                          "file " + name +
                              " is an SQLite database but not a Cohort journal: choose another "
                              "journal path");
    }
    if (version > format_version) {
      throw journal_error(journal_error::kind::newer_version,
                          "journal " + name + " has format version " + std::to_string(version) +
                              ", but this Cohort reads versions up to " +
                              std::to_string(format_version) +
                              ": use a newer Cohort, or move it aside to start over");
    }
    if (version < 1) fail_corrupt("format version " + std::to_string(version));
  }

  void check_integrity() {
    if (std::string problem = db->quick_check("check it"); !problem.empty()) fail_corrupt(problem);
  }

  void check_schema() {
    sqlite_statement s = prepare(
        "SELECT type, name, sql FROM sqlite_schema WHERE type IN ('table', 'trigger', 'view')",
        "read its schema");
    std::size_t found = 0;
    while (s.step()) {
      const std::string_view type = s.text_at(0);
      const std::string_view table = s.text_at(1);
      const std::string_view sql = s.text_at(2);
      if (type != "table")
        fail_corrupt("unexpected " + std::string(type) + " " + single_quoted(table));
      const auto* def = std::find_if(std::begin(tables), std::end(tables),
                                     [&](const table_def& t) { return table == t.name; });
      if (def == std::end(tables)) continue;  // tolerated: an extra table added by hand
      if (sql != def->sql)
        fail_corrupt("table " + single_quoted(table) + " has an unexpected schema");
      ++found;
    }
    if (found != std::size(tables)) fail_corrupt("tables are missing");
  }

  void create(const journal_fingerprint& fp) {
    exec(("PRAGMA application_id=" + std::to_string(application_id)).c_str(), "create it");
    exec(("PRAGMA user_version=" + std::to_string(format_version)).c_str(), "create it");
    for (const auto& t : tables) exec(t.sql, "create it");
    write_fingerprint(fp);
    set_meta("created_at_ms", std::to_string(unix_ms_now()));
  }

  void set_meta(std::string_view key, std::string_view value) {
    prepare("INSERT OR REPLACE INTO meta (name, value) VALUES (?1, ?2)", "write it")
        .bind_text(1, key)
        .bind_text(2, value)
        .run();
  }

  void write_fingerprint(const journal_fingerprint& fp) {
    sqlite_statement s =
        prepare("INSERT INTO fingerprint (position, name, value) VALUES (?1, ?2, ?3)", "write it");
    for (std::size_t i = 0; i < fp.size(); ++i) {
      s.bind(1, static_cast<std::int64_t>(i)).bind_text(2, fp[i].name).bind_text(3, fp[i].value);
      s.run();
    }
  }

  journal_fingerprint read_fingerprint() {
    sqlite_statement s =
        prepare("SELECT name, value FROM fingerprint ORDER BY position", "read its fingerprint");
    journal_fingerprint fp;
    while (s.step()) fp.push_back({std::string(s.text_at(0)), std::string(s.text_at(1))});
    return fp;
  }

  /// Compares the stored fingerprint with the new one; on a difference,
  /// throws or (with force) starts the journal over for the new run.
  void adopt(const journal_fingerprint& fp) {
    const journal_fingerprint old = read_fingerprint();
    const std::string diff = describe_difference(old, fp);
    if (diff.empty()) return;
    if (!options.force) {
      throw journal_error(journal_error::kind::different_run,
                          "journal " + name + " belongs to a different run: " + diff +
                              " (use --force to start over)");
    }
    std::int64_t dropped_done = 0;
    std::int64_t dropped_failed = 0;
    {
      sqlite_statement s =
          prepare("SELECT state, count(*) FROM outcomes GROUP BY state", "read its outcomes");
      while (s.step()) (s.text_at(0) == "done" ? dropped_done : dropped_failed) += s.int_at(1);
    }
    exec("DELETE FROM outcome_errors", "reset it");
    exec("DELETE FROM outcomes", "reset it");
    exec("DELETE FROM fingerprint", "reset it");
    write_fingerprint(fp);
    reset_note = "journal " + name + " belonged to a different run (" + diff +
                 "): started over, dropping " + std::to_string(dropped_done) + " done and " +
                 std::to_string(dropped_failed) + " failed outcomes";
    set_meta("reset_at_ms", std::to_string(unix_ms_now()));
    set_meta("reset_reason", diff);
  }

  static std::string describe_difference(const journal_fingerprint& old,
                                         const journal_fingerprint& now) {
    const std::vector<fingerprint_difference> diffs = fingerprint_differences(old, now);
    if (diffs.empty()) return {};
    const fingerprint_difference& d = diffs.front();
    std::string out = '"' + d.name + "\" was " +
                      (d.recorded ? single_quoted(*d.recorded) : "absent") + ", now " +
                      (d.given ? single_quoted(*d.given) : "absent");
    if (diffs.size() > 1) {
      out += " (and " + std::to_string(diffs.size() - 1) + " more difference" +
             (diffs.size() > 2 ? "s" : "") + ")";
    }
    return out;
  }

  void load_keys() {
    sqlite_statement s = prepare("SELECT seq, key, state FROM outcomes ORDER BY seq", "read it");
    std::vector<std::int64_t> superseded;
    while (s.step()) {
      if (s.is_null(1)) fail_corrupt("an outcome without a key");
      const std::int64_t seq = s.int_at(0);
      const std::string_view key = s.text_at(1);
      const std::string_view state_text = s.text_at(2);
      journal_state state;
      if (state_text == "done") {
        state = journal_state::done;
      } else if (state_text == "failed") {
        state = journal_state::failed;
      } else {
        fail_corrupt("task " + single_quoted(key) + " has an unknown state " +
                     single_quoted(state_text));
      }
      if (const auto id = keys.find(key); id == key_index::npos) {
        keys.insert(key, state, seq);
      } else {
        // Only a hand-edited file has two rows for a key: the later wins.
        auto& e = keys[id];
        superseded.push_back(e.seq);
        count(e.state, -1);
        e.state = state;
        e.seq = seq;
      }
      count(state, +1);
    }
    for (const auto seq : superseded) delete_row(seq);
  }

  void count(journal_state s, int delta) {
    (s == journal_state::done ? done_count : failed_count) += static_cast<std::size_t>(delta);
  }

  // --- writes --------------------------------------------------------------

  void record(std::string_view key, journal_state state, int attempts,
              std::vector<std::string> errors, journal_meta meta) {
    auto id = keys.find(key);
    if (id == key_index::npos) {
      id = keys.insert(key, state, 0);
    } else {
      count(keys[id].state, -1);
      keys[id].state = state;
    }
    count(state, +1);
    pending.push_back({id, state, attempts, std::move(errors), std::move(meta), unix_ms_now()});
    if (batch.add()) flush();
  }

  void flush() {
    if (pending.empty()) return;
    // The seqs this batch assigns, to restore if it does not commit.
    std::vector<std::pair<key_index::id, std::int64_t>> undo;
    undo.reserve(pending.size());
    exec("BEGIN", "commit a batch");
    try {
      for (const auto& r : pending) {
        auto& e = keys[r.task];
        undo.emplace_back(r.task, e.seq);
        if (e.seq != 0) delete_row(e.seq);
        e.seq = write(r);
      }
      exec("COMMIT", "commit a batch");
    } catch (...) {
      db->rollback();
      std::for_each(undo.rbegin(), undo.rend(),
                    [this](const auto& u) { keys[u.first].seq = u.second; });
      throw;
    }
    pending.clear();
    batch.committed();
  }

  void delete_row(std::int64_t seq) {
    delete_outcome.bind(1, seq).run();
    delete_errors.bind(1, seq).run();
  }

  /// Appends `r`; returns its seq.
  std::int64_t write(const pending_record& r) {
    sqlite_statement& s = insert_outcome;
    s.bind_text(1, keys.key_of(r.task)).bind_text(2, state_name(r.state)).bind(3, r.attempts);
    if (r.errors.empty()) {
      s.bind_null(4);
    } else {
      s.bind_text(4, r.errors.back());
    }
    if (r.meta.value) {
      s.bind(5, *r.meta.value);
    } else {
      s.bind_null(5);
    }
    if (r.meta.text) {
      s.bind_text(6, *r.meta.text);
    } else {
      s.bind_null(6);
    }
    s.bind(7, r.finished_at_ms).run();
    const std::int64_t seq = sqlite3_last_insert_rowid(db->get());
    // Attempts are numbered so that the last error is attempt `attempts`.
    const int first_attempt = r.attempts - static_cast<int>(r.errors.size()) + 1;
    for (std::size_t i = 0; i < r.errors.size(); ++i) {
      insert_error.bind(1, seq)
          .bind(2, first_attempt + static_cast<int>(i))
          .bind_text(3, r.errors[i])
          .run();
    }
    return seq;
  }

  // --- reads ---------------------------------------------------------------

  std::optional<journal_record> find(std::string_view key) {
    const auto id = keys.find(key);
    if (id == key_index::npos) return std::nullopt;
    const auto p = std::find_if(pending.rbegin(), pending.rend(),
                                [id](const auto& r) { return r.task == id; });
    if (p != pending.rend()) {
      return journal_record{std::string(key), p->state, p->attempts,
                            p->errors,        p->meta,  p->finished_at_ms};
    }
    const std::int64_t seq = keys[id].seq;
    if (!select_outcome) {
      select_outcome = prepare(
          "SELECT state, attempts, value, text, finished_at, error FROM outcomes WHERE seq = ?1",
          "read an outcome");
      select_errors = prepare("SELECT error FROM outcome_errors WHERE seq = ?1 ORDER BY attempt",
                              "read an outcome");
    }
    struct reset_on_exit {
      sqlite_statement& s;
      ~reset_on_exit() { s.reset(); }
    };
    sqlite_statement& s = select_outcome;
    s.bind(1, seq);
    const reset_on_exit reset_outcome{s};
    if (!s.step()) fail_corrupt("the outcome of " + single_quoted(key) + " vanished");

    journal_record r;
    r.key = std::string(key);
    r.state = s.text_at(0) == "done" ? journal_state::done : journal_state::failed;
    r.attempts = static_cast<int>(s.int_at(1));
    if (!s.is_null(2)) r.meta.value = s.int_at(2);
    if (!s.is_null(3)) r.meta.text = std::string(s.text_at(3));
    r.finished_at_ms = s.int_at(4);
    const bool has_last_error = !s.is_null(5);

    sqlite_statement& e = select_errors;
    e.bind(1, seq);
    const reset_on_exit reset_errors{e};
    while (e.step()) r.errors.emplace_back(e.text_at(0));
    if (r.errors.empty() && has_last_error) r.errors.emplace_back(s.text_at(5));
    return r;
  }
};

// --- journal -----------------------------------------------------------------

journal::journal(std::filesystem::path path, const journal_fingerprint& fingerprint,
                 journal_options options) {
  std::unordered_set<std::string_view> names;
  for (const auto& f : fingerprint) {
    if (f.name.empty()) throw std::invalid_argument("journal fingerprint: a field has no name");
    if (!names.emplace(f.name).second) {
      throw std::invalid_argument("journal fingerprint: field \"" + f.name + "\" appears twice");
    }
  }
  auto i = std::make_unique<impl>(std::move(path), options);
  i->open(fingerprint);
  impl_ = std::move(i);
}

journal::~journal() {
  if (!impl_) return;
  try {
    impl_->flush();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cohort: %zu journal records were not saved: %s\n", impl_->pending.size(),
                 e.what());
  }
}

journal::journal(journal&&) noexcept = default;

journal& journal::operator=(journal&& other) noexcept {
  if (this != &other) {
    journal dying(std::move(*this));  // flushes and closes our current file
    impl_ = std::move(other.impl_);
  }
  return *this;
}

void journal::record_done(std::string_view key, int attempts, journal_meta meta) {
  if (attempts < 1) throw std::invalid_argument("journal: attempts must be at least 1");
  impl_->record(key, journal_state::done, attempts, {}, std::move(meta));
}

void journal::record_failed(std::string_view key, int attempts, std::vector<std::string> errors,
                            journal_meta meta) {
  if (attempts < 1) throw std::invalid_argument("journal: attempts must be at least 1");
  if (errors.size() > static_cast<std::size_t>(attempts)) {
    throw std::invalid_argument("journal: more errors than attempts");
  }
  impl_->record(key, journal_state::failed, attempts, std::move(errors), std::move(meta));
}

bool journal::is_done(std::string_view key) const noexcept {
  const auto id = impl_->keys.find(key);
  return id != key_index::npos && impl_->keys[id].state == journal_state::done;
}

bool journal::is_failed(std::string_view key) const noexcept {
  const auto id = impl_->keys.find(key);
  return id != key_index::npos && impl_->keys[id].state == journal_state::failed;
}

std::size_t journal::done_count() const noexcept {
  return impl_->done_count;
}

std::size_t journal::failed_count() const noexcept {
  return impl_->failed_count;
}

std::vector<std::string> journal::failed_keys() const {
  std::vector<std::string> failed;
  failed.reserve(impl_->failed_count);
  const key_index& keys = impl_->keys;
  for (key_index::id i = 0; i < keys.size(); ++i) {
    if (keys[i].state == journal_state::failed) failed.emplace_back(keys.key_of(i));
  }
  std::sort(failed.begin(), failed.end());
  return failed;
}

std::optional<journal_record> journal::find(std::string_view key) const {
  return impl_->find(key);
}

bool journal::maybe_flush(time_point now) {
  impl& i = *impl_;
  if (!i.batch.due(now)) return false;
  i.flush();
  return true;
}

void journal::flush() {
  impl_->flush();
}

void journal::close() {
  if (!impl_) return;
  const std::unique_ptr<impl> closing = std::move(impl_);
  closing->flush();
}

std::size_t journal::buffered() const noexcept {
  return impl_->pending.size();
}

const std::filesystem::path& journal::path() const noexcept {
  return impl_->path;
}

const std::optional<std::string>& journal::reset_note() const noexcept {
  return impl_->reset_note;
}

}  // namespace cohort
