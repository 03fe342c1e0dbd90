// The directory store: tiles as files OUT/z/x/y.ext, our bookkeeping in
// OUT/.cohort-tiles.db (see tile_store.hpp and docs/tile_stores.md).

#include "cohort/tiles/tile_store.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

#include "cohort/io/atomic_file.hpp"
#include "cohort/tiles/tile_formats.hpp"
#include "cohort/tiles/tile_store_base.hpp"

namespace cohort::app::tiles {

namespace {

using detail::append_number;
using detail::is_tile_extension;
using detail::not_ours_message;
using detail::sniff_format;
using detail::store_base;

// Parses a canonical decimal (no sign, no leading zero) below `limit`.
bool parse_index(std::string_view s, std::uint64_t limit, std::uint32_t& out) {
  if (s.empty() || s.size() > 10 || (s.size() > 1 && s[0] == '0')) return false;
  std::uint64_t v = 0;
  for (const char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  if (v >= limit) return false;
  out = static_cast<std::uint32_t>(v);
  return true;
}

// A directory stream closed on scope exit.
struct dir_closer {
  void operator()(DIR* d) const { ::closedir(d); }
};
using dir_ptr = std::unique_ptr<DIR, dir_closer>;

dir_ptr open_dir_at(int parent, const char* name) {
  const int fd = ::openat(parent, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return nullptr;
  DIR* d = ::fdopendir(fd);
  if (d == nullptr) ::close(fd);
  return dir_ptr(d);
}

// Whether the entry `e` of `parent` is of the type `d_type` (DT_DIR, DT_REG)
// and so `st_mode` type `file_type` (S_IFDIR, S_IFREG): asks the file system
// only when the directory does not say (DT_UNKNOWN). A link is not followed.
bool entry_is(DIR* parent, const dirent* e, unsigned char d_type, mode_t file_type) {
  if (e->d_type == d_type) return true;
  if (e->d_type != DT_UNKNOWN) return false;
  struct stat st {};
  return ::fstatat(::dirfd(parent), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
         (st.st_mode & S_IFMT) == file_type;
}

bool is_dir_entry(DIR* parent, const dirent* e) {
  return entry_is(parent, e, DT_DIR, S_IFDIR);
}

bool is_file_entry(DIR* parent, const dirent* e) {
  return entry_is(parent, e, DT_REG, S_IFREG);
}

bool is_our_db_file(std::string_view name) {
  return name.starts_with(directory_store_db_name) &&
         (name.size() == directory_store_db_name.size() ||
          name.substr(directory_store_db_name.size()) == "-wal" ||
          name.substr(directory_store_db_name.size()) == "-shm" ||
          name.substr(directory_store_db_name.size()) == "-journal");
}

class directory_store final : public store_base {
 public:
  directory_store(const std::filesystem::path& path, const tile_fingerprint& fingerprint,
                  const tile_store_options& options)
      : store_base(path, options) {
    root_ = shown_.empty() ? std::string(".") : shown_;
    while (root_.size() > 1 && root_.back() == '/') root_.pop_back();
    make_directories(root_);
    const std::string db_file = root_ + "/" + std::string(directory_store_db_name);
    open_database(db_file);

    bool reset = false;
    if (has_table("cohort_meta")) {
      reset = check_fingerprint(fingerprint);
    } else if (schema_objects() > 0 || has_foreign_entries()) {
      if (!options_.force) {
        throw fingerprint_mismatch_error(
            not_ours_message(shown_, "is not empty and was not made by cohort tiles (no " +
                                         std::string(directory_store_db_name) + ")"));
      }
      reset = true;
    }
    if (reset) {
      walk(true);
      for (const char* table :
           {"cohort_meta", "cohort_failed", "cohort_missing", "cohort_validators"}) {
        db_->exec(("DROP TABLE IF EXISTS " + std::string(table)).c_str(), "emptying it");
      }
    }
    db_->exec("BEGIN IMMEDIATE", "creating its tables");
    write_cohort_schema(fingerprint);
    db_->exec("COMMIT", "creating its tables");
    prepare_statements();
    load_lists();
    walk(false);
  }

  ~directory_store() override {
    try {
      close();
    } catch (...) {
      // Destructors do not throw; close() explicitly to see errors.
    }
  }

  void put(const tile& t, std::string_view bytes, const tile_validators& validators) override {
    check_usable();
    const std::string_view ext = format_.empty() ? sniff_format(bytes) : std::string_view(format_);
    file_.assign(root_);
    file_ += '/';
    append_number(file_, static_cast<std::uint64_t>(t.z));
    file_ += '/';
    append_number(file_, std::uint64_t{t.x});
    file_ += '/';
    append_number(file_, std::uint64_t{t.y});
    file_ += '.';
    file_ += ext;
    atomic_write(file_, bytes, {.fsync = options_.fsync, .create_parents = true});
    stored_.insert(t);
    if (validators.empty() && !any_validators_ && failed_.empty() && missing_.empty()) return;
    begin();
    note_stored(t, validators);
    changed(0);
  }

  void close() override {
    close_with([] {});
  }

 private:
  // True when the root holds anything but our database files.
  bool has_foreign_entries() const {
    dir_ptr d(::opendir(root_.c_str()));
    if (!d) return true;
    while (const dirent* e = ::readdir(d.get())) {
      const std::string_view name = e->d_name;
      if (name == "." || name == ".." || is_our_db_file(name)) continue;
      return true;
    }
    return false;
  }

  // Scans root/z/x/y.ext: loads the stored tiles (or, when `remove`, deletes
  // them and the directories left empty), and deletes the temporary files
  // a killed run left. Entries not named like tiles are left alone.
  void walk(bool remove) {
    dir_ptr root(::opendir(root_.c_str()));
    if (!root) {
      throw tile_store_error("output " + shown_ + ": cannot read: " + std::strerror(errno));
    }
    while (const dirent* ze = ::readdir(root.get())) {
      std::uint32_t z = 0;
      if (!parse_index(ze->d_name, max_zoom + 1, z) || !is_dir_entry(root.get(), ze)) continue;
      dir_ptr zd = open_dir_at(::dirfd(root.get()), ze->d_name);
      if (!zd) continue;
      const std::uint64_t n = std::uint64_t{1} << z;
      while (const dirent* xe = ::readdir(zd.get())) {
        std::uint32_t x = 0;
        if (!parse_index(xe->d_name, n, x) || !is_dir_entry(zd.get(), xe)) continue;
        dir_ptr xd = open_dir_at(::dirfd(zd.get()), xe->d_name);
        if (!xd) continue;
        scan_column(xd.get(), tile{static_cast<int>(z), x, 0}, n, remove);
        xd.reset();
        if (remove) ::unlinkat(::dirfd(zd.get()), xe->d_name, AT_REMOVEDIR);
      }
      zd.reset();
      if (remove) ::unlinkat(::dirfd(root.get()), ze->d_name, AT_REMOVEDIR);
    }
  }

  void scan_column(DIR* xd, tile t, std::uint64_t n, bool remove) {
    while (const dirent* ye = ::readdir(xd)) {
      const std::string_view name = ye->d_name;
      if (is_atomic_write_temporary(name)) {
        ::unlinkat(::dirfd(xd), ye->d_name, 0);
        continue;
      }
      const auto dot = name.find('.');
      if (dot == std::string_view::npos || !is_tile_extension(name.substr(dot + 1))) continue;
      if (!parse_index(name.substr(0, dot), n, t.y) || !is_file_entry(xd, ye)) continue;
      if (remove) {
        if (::unlinkat(::dirfd(xd), ye->d_name, 0) != 0 && errno != ENOENT) {
          throw tile_store_error("output " + shown_ +
                                 ": cannot remove a tile: " + std::strerror(errno));
        }
      } else {
        stored_.insert(t);
      }
    }
  }

  std::string root_;
  std::string file_;  // reused for each tile's path
};

}  // namespace

std::unique_ptr<tile_store> open_directory_store(const std::filesystem::path& path,
                                                 const tile_fingerprint& fingerprint,
                                                 const tile_store_options& options) {
  return std::make_unique<directory_store>(path, fingerprint, options);
}

}  // namespace cohort::app::tiles
