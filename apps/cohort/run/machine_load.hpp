#pragma once
// `cohort run --load MAX` and `--memfree SIZE` (GNU parallel's): a new job
// starts only while the machine can take it.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace cohort::app::run {

/// What the machine has now, as --load and --memfree read it; nullopt: not
/// known.
struct machine_state {
  /// Processes running or waiting for the disk at this instant (GNU
  /// parallel's "load": not the 1-minute average, so that a burst of starts
  /// sees itself at once), this process's reading excluded.
  std::optional<double> load;
  /// Bytes of memory available to new processes (the kernel's MemAvailable).
  std::optional<std::uint64_t> mem_available;
};

/// Parses Linux's /proc/stat and /proc/meminfo into a machine_state: the
/// load is `procs_running + procs_blocked - 1` (the process reading is
/// running), the memory is `MemAvailable` (kB) or, on kernels without it,
/// GNU parallel's own sum `MemFree + Buffers + Cached + SwapCached`.
///
///   parse_machine_state("procs_running 3\nprocs_blocked 1\n", "MemAvailable: 2 kB\n")
///   // {.load = 3, .mem_available = 2048}
[[nodiscard]] machine_state parse_machine_state(std::string_view stat, std::string_view meminfo);

/// Reads the machine: the engine's seam (tests give a scripted one).
class machine_probe {
 public:
  virtual ~machine_probe() = default;
  [[nodiscard]] virtual machine_state read() = 0;
};

/// The real machine_probe: /proc/stat and /proc/meminfo.
class proc_machine_probe final : public machine_probe {
 public:
  machine_state read() override;
};

/// The limits --load and --memfree set.
struct machine_limits {
  std::optional<double> max_load;         ///< --load, resolved
  std::optional<std::uint64_t> min_free;  ///< --memfree, bytes
  [[nodiscard]] bool any() const noexcept { return max_load || min_free; }
};

/// Whether a new job may start (GNU parallel's rules): the load is below
/// max_load (an unknown load counts as too high) and at least min_free bytes
/// are available (an unknown amount counts as enough).
[[nodiscard]] bool machine_allows(const machine_limits& limits, const machine_state& now) noexcept;

/// `--memfree`: whether the youngest running job must be killed (and run
/// again later): less than half of min_free is available.
[[nodiscard]] bool memory_critical(const machine_limits& limits, const machine_state& now) noexcept;

/// `--load MAX` (GNU parallel's grammar): `N` or `N.M` (processes), `N%`
/// (of the CPU threads), `+N`/`-N` (CPU threads plus or minus N). Throws
/// usage_error.
struct load_spec {
  enum class kind { absolute, percent, plus, minus };
  kind what = kind::absolute;
  double value = 0;
  /// The limit on a machine with `cpu_threads` CPU threads; at least 0.01, as GNU.
  [[nodiscard]] double resolve(unsigned cpu_threads) const noexcept;
};
[[nodiscard]] load_spec parse_load(std::string_view text);

/// A size with GNU parallel's prefixes (its multiply_binary_prefix): `K` `M`
/// `G` `T` `P` `E` and `Ki` `Mi`... (any case) are powers of 1024, `k` `m`
/// `g` `t` `p` `e` powers of 1000: `1G` is 2^30, `1g` 10^9; decimals allowed
/// (`0.5G`). Throws usage_error naming `option`.
[[nodiscard]] std::uint64_t parse_gnu_size(std::string_view text, std::string_view option);

}  // namespace cohort::app::run
