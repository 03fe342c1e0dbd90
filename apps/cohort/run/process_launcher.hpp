#pragma once
// The real command_launcher of `cohort run`: each job is a shell command in
// a process group of its own, supervised with the --term-seq.

#include "cohort/run/command_launcher.hpp"

#include <boost/asio/io_context.hpp>

namespace cohort {
class process_guardian;
}

namespace cohort::app::run {

/// --nice N as the increment that `nice -n` gives a job started by a process
/// at niceness `current`: GNU parallel sets the niceness N itself (absolute,
/// clamped to -20..19), and silently keeps the current one where lowering it
/// is not allowed (`may_lower` false: not root). 0: no `nice` at all.
///
///   nice_increment(17, 0, false) == 17; nice_increment(5, 3, true) == 2
[[nodiscard]] int nice_increment(int wanted, int current, bool may_lower) noexcept;

/// Runs each job as `/bin/sh -c COMMAND` (cohort::process), leader of its own
/// process group, and waits until the whole group is gone (cohort::supervise):
/// what the job left behind gets the termination sequence, and what any of
/// its processes wrote is in the result. A cancelled launch delivers the
/// sequence too, then unwinds with the result filled.
///
/// With launch_request::nice, as `nice -n N /bin/sh -c COMMAND`.
///
/// Constructing it makes this process adopt orphans (cohort::adopt_orphans):
/// a job's process whose parent exits becomes our child, so that the group
/// waits reap it when it dies; a zombie left to a PID 1 that does not reap
/// (some containers) would count as a live member of its job's group.
///
///     process_launcher launcher(rt.io(), &guardian);
///     co_await launcher.launch(request, result);
class process_launcher final : public command_launcher {
 public:
  /// `guardian` (may be null or inactive) is told each job's process group,
  /// so that a kill -9 of this process does not leave the jobs running; it
  /// must outlive the launches.
  process_launcher(boost::asio::io_context& io, process_guardian* guardian);
  task<> launch(const launch_request& request, launch_result& result) override;

 private:
  boost::asio::io_context* io_;
  process_guardian* guardian_;
};

}  // namespace cohort::app::run
