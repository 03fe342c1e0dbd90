#pragma once
// What process.cpp and process_guardian.cpp both need to spawn a child with
// posix_spawn: owners of the spawn attributes and file actions, and one way
// to throw an errno. Private to src/io.

#include <spawn.h>

#include <string>
#include <system_error>

namespace cohort::io_detail {

[[noreturn]] inline void throw_errno(int error, const std::string& what) {
  throw std::system_error(error, std::generic_category(), what);
}

/// Owns a posix_spawn_file_actions_t.
struct spawn_file_actions {
  posix_spawn_file_actions_t fa;
  spawn_file_actions() { ::posix_spawn_file_actions_init(&fa); }
  ~spawn_file_actions() { ::posix_spawn_file_actions_destroy(&fa); }
  spawn_file_actions(const spawn_file_actions&) = delete;
  spawn_file_actions& operator=(const spawn_file_actions&) = delete;
};

/// Owns a posix_spawnattr_t.
struct spawn_attributes {
  posix_spawnattr_t attr;
  spawn_attributes() { ::posix_spawnattr_init(&attr); }
  ~spawn_attributes() { ::posix_spawnattr_destroy(&attr); }
  spawn_attributes(const spawn_attributes&) = delete;
  spawn_attributes& operator=(const spawn_attributes&) = delete;
};

}  // namespace cohort::io_detail
