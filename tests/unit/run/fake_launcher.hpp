#pragma once
// A command_launcher for tests of `cohort run`'s engine: each command is
// scripted (exit code, signal, output, runtime on virtual time), attempt by
// attempt; a cancelled launch ends as if the termination sequence's first
// signal had killed the job.

#include "cohort/run/command_launcher.hpp"

#include <cohort/sleep.hpp>

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace cohort::app::run::test {

/// One attempt of a scripted command.
struct scripted_job {
  int code = 0;
  int signal = 0;
  std::string out{};  ///< written as the job starts
  std::string err{};
  duration runtime = std::chrono::seconds(1);
  std::string out_at_end{};  ///< written just before the job ends
};

class fake_launcher final : public command_launcher {
 public:
  /// Attempt by attempt; the last one repeats. A command not scripted
  /// succeeds after 1 s, printing nothing.
  std::map<std::string, std::vector<scripted_job>> script;
  /// Every launch, in order: "seq slot command".
  std::vector<std::string> launched;
  /// The environment of each launch, by command.
  std::map<std::string, std::vector<std::pair<std::string, std::string>>> env;
  /// When each command was last launched, on the loop's clock since its start.
  std::map<std::string, duration> start_times;
  /// The --nice increment of each launch, by command.
  std::map<std::string, int> nice;
  /// --wd: the working directory of each launch, by command, and whether it
  /// existed when the job started.
  std::map<std::string, std::string> cwd;
  std::map<std::string, bool> cwd_existed;
  int running = 0;
  int peak = 0;
  /// -u: what the jobs wrote straight to our standard output and error.
  std::string passed_through;

  task<> launch(const launch_request& r, launch_result& result) override {
    const std::string command(r.command);
    const scripted_job job = next_attempt(command);
    launched.push_back(std::to_string(r.seq) + " " + std::to_string(r.slot) + " " + command);
    env[command] = r.env;
    nice[command] = r.nice;
    cwd[command] = std::string(r.cwd);
    cwd_existed[command] = !r.cwd.empty() && std::filesystem::is_directory(r.cwd);
    scheduler& loop = co_await this_scheduler();
    if (!first_launch_) first_launch_ = loop.now();
    start_times[command] = loop.now() - *first_launch_;
    struct end_guard {  // fills `result` however the launch ends
      fake_launcher& f;
      launch_result& res;
      scheduler& loop;
      time_point begin;
      const term_sequence* seq;
      bool completed = false;
      ~end_guard() {
        --f.running;
        res.runtime = std::chrono::duration_cast<std::chrono::nanoseconds>(loop.now() - begin);
        if (completed) return;
        res.ended = true;  // killed by the sequence's first signal
        res.code = -1;
        res.signal = seq != nullptr && !seq->empty() ? seq->front().signal : 9;
      }
    } guard{*this, result, loop, loop.now(), r.term_seq};
    peak = std::max(peak, ++running);
    result.start = std::chrono::system_clock::time_point(std::chrono::seconds(1'700'000'000));
    std::string& out = r.pass_output_through ? passed_through : result.out;
    std::string& err = r.pass_output_through ? passed_through : result.err;
    write(job.out, r.on_stdout, out);
    write(job.err, r.on_stderr, err);
    co_await sleep_for(job.runtime);
    write(job.out_at_end, r.on_stdout, out);
    result.ended = true;
    result.code = job.code;
    result.signal = job.signal;
    guard.completed = true;
  }

 private:
  std::optional<time_point> first_launch_;
  scripted_job next_attempt(const std::string& command) {
    auto it = script.find(command);
    if (it == script.end() || it->second.empty()) return {};
    int& n = attempts_[command];
    const auto i = std::min<std::size_t>(static_cast<std::size_t>(n++), it->second.size() - 1);
    return it->second[i];
  }
  static void write(const std::string& text, const std::function<void(std::string_view)>& sink,
                    std::string& kept) {
    if (text.empty()) return;
    if (sink) {
      sink(text);
    } else {
      kept += text;
    }
  }
  std::map<std::string, int> attempts_;
};

}  // namespace cohort::app::run::test
