// Fuzzes `cohort run`'s command line: any argument vector either parses to
// options or is refused with an exit code (255, or 0 for --help/--version);
// it never throws, crashes or leaves options that contradict each other.
//
// Input: the arguments after "run", separated by NUL bytes (at most 32).

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

#include "cohort/exit_codes.hpp"
#include "cohort/run/run_cli.hpp"

namespace run = cohort::app::run;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // --help and the errors print; keep the fuzzer's own output readable.
  const int null = ::open("/dev/null", O_WRONLY);
  if (null >= 0) ::dup2(null, STDOUT_FILENO);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::vector<std::string> words{"run"};
  std::string current;
  for (std::size_t i = 0; i < size && words.size() < 33; ++i) {
    if (data[i] == 0) {
      words.push_back(std::move(current));
      current.clear();
    } else {
      current.push_back(static_cast<char>(data[i]));
    }
  }
  if (!current.empty() && words.size() < 33) words.push_back(std::move(current));
  std::vector<char*> argv;
  for (auto& w : words) argv.push_back(w.data());
  argv.push_back(nullptr);

  const auto r = run::parse_run_cli(static_cast<int>(words.size()), argv.data());
  if (!r.options) {
    if (r.exit_code != 0 && r.exit_code != cohort::app::exit_run_error) std::abort();
    return 0;
  }
  const auto& o = *r.options;
  if (r.exit_code != 0) std::abort();
  if (o.resume && o.resume_failed) std::abort();
  if ((o.resume || o.resume_failed) && o.joblog.empty()) std::abort();
  if (o.retries < 0) std::abort();
  if (o.delay.count() < 0) std::abort();
  return 0;
}
