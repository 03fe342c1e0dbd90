#pragma once
/// \file
/// Atomic file replacement: `atomic_write` writes a whole file so that its
/// final name only ever holds the old content or the complete new content,
/// and `remove_stale_temporaries` cleans up after a process killed mid-write.

#include <cstddef>
#include <filesystem>
#include <span>
#include <string_view>

namespace cohort {

/// Options of atomic_write.
struct atomic_write_options {
  /// Make the write durable across a power loss or OS crash: fsync the file
  /// before the rename and its directory after it (and each directory that
  /// create_parents made). Costs milliseconds per file on most disks.
  /// Without it, the file is still atomic against a killed process: the
  /// final name never holds a partial file.
  bool fsync = false;
  /// Create the parent directory (and its missing ancestors, mode 0777
  /// minus umask) when it does not exist. Costs nothing when it exists: the
  /// directories are created only after creating the temporary file failed
  /// with ENOENT.
  bool create_parents = false;
};

/// Writes `bytes` to `path` atomically, replacing any file of that name.
///
/// The bytes go to a temporary file in the same directory, named
/// `.<name>.tmp.<pid>.<counter>` (created with O_EXCL, mode 0644 minus the
/// umask), with every short write and EINTR handled; then rename() puts it
/// under the final name in one step. A reader, or a process killed at any
/// moment (even by SIGKILL), sees either the previous file or the complete
/// new one, never a file of the wrong size. A killed process can leave its
/// temporary file behind; see remove_stale_temporaries.
///
/// Errors: throws std::system_error for any failure (ENOSPC, EACCES, EROFS,
/// EFBIG, EIO...), after removing the temporary file; the final name then
/// holds its previous content, if any. what() is one line naming the path
/// and the problem: "cannot write out/3/4/2.png: writing the temporary file:
/// No space left on device". One exception: if fsync is on and only the
/// directory's fsync after the rename fails, the complete new file is in
/// place but its durability is not known; that also throws.
///
/// Thread-safe: concurrent calls get distinct temporary names. Not a
/// coroutine: it blocks the calling thread for the duration of the system
/// calls.
///
///   cohort::atomic_write("out/14/8800/5373.png", png_bytes);
///   cohort::atomic_write("out/14/8800/5373.png", png_bytes, {.fsync = true});
void atomic_write(const std::filesystem::path& path, std::span<const std::byte> bytes,
                  const atomic_write_options& options = {});

/// atomic_write for bytes held in a string or string_view.
void atomic_write(const std::filesystem::path& path, std::string_view bytes,
                  const atomic_write_options& options = {});

/// True when `filename` (a name, not a path) has the form of atomic_write's
/// temporary files, `.<name>.tmp.<digits>.<digits>`.
///
///   is_atomic_write_temporary(".5373.png.tmp.4242.17") == true
bool is_atomic_write_temporary(std::string_view filename);

/// Removes the temporary files that atomic_write calls left in `dir` (not
/// its subdirectories) when their process was killed, and returns how many
/// it removed. Only names for which is_atomic_write_temporary is true are
/// touched.
///
/// Precondition: no atomic_write into `dir` is in progress, in this process
/// or another (the caller holds a lock on the output, as the tile stores do);
/// otherwise a live writer's temporary file would be removed and its
/// write would fail.
///
/// Errors: throws std::system_error naming `dir` when it cannot be read or
/// a file cannot be removed. A missing `dir` is not an error (returns 0).
std::size_t remove_stale_temporaries(const std::filesystem::path& dir);

}  // namespace cohort
