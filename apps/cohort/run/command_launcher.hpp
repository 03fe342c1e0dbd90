#pragma once
// The seam between `cohort run`'s engine and the processes it starts: the
// engine asks a command_launcher to run one job and reads back how it ended.
// The real one (process_launcher) spawns a process group; tests inject a
// fake scripted per job, on virtual time (as ninja's FakeCommandRunner).

#include <cohort/io/term_sequence.hpp>
#include <cohort/task.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cohort::app::run {

/// One job to launch: what to run and how its output travels.
struct launch_request {
  std::uint64_t seq = 0;  ///< {#}, PARALLEL_SEQ
  std::size_t slot = 1;   ///< {%}, PARALLEL_JOBSLOT
  std::string_view command;
  /// Variables set for the job on top of the environment (PARALLEL_SEQ, ...).
  std::vector<std::pair<std::string, std::string>> env;
  /// --line-buffer: when set, each chunk of output is handed here as it
  /// arrives instead of being kept in the result.
  std::function<void(std::string_view)> on_stdout;
  std::function<void(std::string_view)> on_stderr;
  /// -u: the job writes to our own standard output and error (nothing is
  /// captured; on_stdout and on_stderr are not called).
  bool pass_output_through = false;
  /// How to stop the job's processes when the launch is cancelled and what
  /// the job left behind when it exited (--term-seq).
  const term_sequence* term_seq = nullptr;
  /// --pipe/--pipepart: the job's standard input, a seekable file read from
  /// its start at each attempt; -1: /dev/null. The launcher does not close it.
  int stdin_fd = -1;
  /// --pipepart: with a length, the job reads only [stdin_offset,
  /// stdin_offset + length) of stdin_fd, the whole range at each attempt
  /// (through a pipe the launcher fills; the file offset is not used).
  std::uint64_t stdin_offset = 0;
  std::optional<std::uint64_t> stdin_length;
  /// --nice: run the job `nice -n` this much nicer (0: as this process).
  int nice = 0;
  /// --wd: the job's working directory (it exists); empty: cohort's.
  std::string_view cwd;
};

/// How one launch ended. Filled however the launch ends, also when it is
/// cancelled (a --timeout, a halt, a signal): then `status` is how the
/// job's leader died of the termination sequence, and the output is what
/// the job wrote until then.
struct launch_result {
  bool ended = false;    ///< the job's leader ended (false if it never started)
  int code = -1;         ///< its exit code, -1 if killed by a signal
  int signal = 0;        ///< the signal that ended it, 0 if none
  std::string out, err;  ///< captured output (not what went to on_stdout/on_stderr)
  std::chrono::system_clock::time_point start{};
  std::chrono::nanoseconds runtime{};
  bool success() const noexcept { return ended && signal == 0 && code == 0; }
};

/// Runs jobs for the engine.
class command_launcher {
 public:
  virtual ~command_launcher() = default;
  /// Runs `request` to its end, writing into `result` (which the caller keeps
  /// alive until the task ends). A task: cancelling it stops the job (its
  /// whole process group, with the termination sequence) and still fills
  /// `result`. Throws if the job cannot be started (the job then fails).
  [[nodiscard]] virtual task<> launch(const launch_request& request, launch_result& result) = 0;
};

}  // namespace cohort::app::run
