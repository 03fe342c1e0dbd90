#pragma once
/// \file
/// Compile-time configuration of Cohort. Each macro has a default and may be
/// defined before the first Cohort include (or on the compiler command line).

/// COHORT_DEFAULT_CLEANUP_GRACE_MS: how long an async cleanup started by
/// `cohort::finally` may run, shielded from the outer cancellation, before its
/// own deadline cancels it. Cleanup that needs longer should pass its own
/// grace period. Default: 5000 ms.
#ifndef COHORT_DEFAULT_CLEANUP_GRACE_MS
#define COHORT_DEFAULT_CLEANUP_GRACE_MS 5000
#endif

/// COHORT_FRAME_CACHE: when 1 (the default), coroutine frame memory is
/// recycled through a small per-thread cache by size class (frames up to 2
/// KiB, at most 2 MiB of free blocks per class), which saves a malloc/free pair per task. It
/// is always off under AddressSanitizer so frame use-after-free stays
/// visible. Define to 0 to use plain operator new/delete.
#ifndef COHORT_FRAME_CACHE
#define COHORT_FRAME_CACHE 1
#endif

/// COHORT_TRACK_FRAMES: when 1 (the default), every task frame allocation
/// updates per-thread counters (`cohort::detail::frame_stats()`): the number
/// of frames allocated and freed and the size of the last one. Tests use them
/// to prove that no coroutine frame leaks; the cost is two thread-local
/// increments per task. Define to 0 to remove them.
#ifndef COHORT_TRACK_FRAMES
#define COHORT_TRACK_FRAMES 1
#endif
