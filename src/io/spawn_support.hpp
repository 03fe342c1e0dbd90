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

/// Owns one of posix_spawn's objects: made by `Init`, released by `Destroy`.
template <class T, int (*Init)(T*), int (*Destroy)(T*)>
class spawn_object {
 public:
  spawn_object() { Init(&value_); }
  ~spawn_object() { Destroy(&value_); }
  spawn_object(const spawn_object&) = delete;
  spawn_object& operator=(const spawn_object&) = delete;

  T* get() noexcept { return &value_; }

 private:
  T value_;
};

using spawn_file_actions = spawn_object<posix_spawn_file_actions_t, ::posix_spawn_file_actions_init,
                                        ::posix_spawn_file_actions_destroy>;
using spawn_attributes =
    spawn_object<posix_spawnattr_t, ::posix_spawnattr_init, ::posix_spawnattr_destroy>;

}  // namespace cohort::io_detail
