#pragma once
// A per-thread cache of coroutine frame memory. Task frames are small and
// short-lived; recycling them by size class avoids a malloc/free pair per
// task. Disabled under AddressSanitizer (so use-after-free of frames is
// still caught) and with COHORT_FRAME_CACHE=0.

#include <cohort/config.hpp>

#include <cstddef>
#include <new>

#if defined(__SANITIZE_ADDRESS__)
#define COHORT_DETAIL_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define COHORT_DETAIL_ASAN 1
#endif
#endif

namespace cohort::detail {

#if COHORT_FRAME_CACHE && !defined(COHORT_DETAIL_ASAN)
inline constexpr bool frame_cache_enabled = true;
#else
inline constexpr bool frame_cache_enabled = false;
#endif

class frame_cache {
 public:
  static constexpr std::size_t granule = 64;
  static constexpr std::size_t classes = 32;  // frames up to 2 KiB
  // Each size class keeps at most this many bytes of free blocks (so a
  // thousand concurrent 1 KiB frames are all recycled). The cache only ever
  // holds blocks that were live at once before, so it never exceeds the
  // program's own peak of live frames.
  static constexpr std::size_t bytes_per_class = std::size_t{2} * 1024 * 1024;

  ~frame_cache() {
    for (auto& c : lists_) {
      while (c.head != nullptr) {
        node* n = c.head;
        c.head = n->next;
        ::operator delete(n);
      }
    }
  }

  void* allocate(std::size_t size) {
    const std::size_t k = (size + granule - 1) / granule;
    if (k < classes) {
      list& c = lists_[k];
      if (c.head != nullptr) {
        node* n = c.head;
        c.head = n->next;
        --c.count;
        return n;
      }
      return ::operator new(k* granule);
    }
    return ::operator new(size);
  }

  void deallocate(void* p, std::size_t size) noexcept {
    const std::size_t k = (size + granule - 1) / granule;
    if (k < classes && lists_[k].count * k * granule < bytes_per_class) {
      list& c = lists_[k];
      c.head = new (p) node{c.head};
      ++c.count;
      return;
    }
    ::operator delete(p);
  }

  static frame_cache& local() noexcept {
    thread_local frame_cache cache;
    return cache;
  }

 private:
  struct node {
    node* next;
  };
  struct list {
    node* head = nullptr;
    std::size_t count = 0;
  };
  list lists_[classes];
};

inline void* allocate_frame(std::size_t size) {
  if constexpr (frame_cache_enabled) return frame_cache::local().allocate(size);
  return ::operator new(size);
}

inline void deallocate_frame(void* p, std::size_t size) noexcept {
  if constexpr (frame_cache_enabled) {
    frame_cache::local().deallocate(p, size);
  } else {
#if defined(__cpp_sized_deallocation)
    ::operator delete(p, size);
#else
    (void)size;  // clang enables sized deallocation only with -fsized-deallocation
    ::operator delete(p);
#endif
  }
}

}  // namespace cohort::detail
