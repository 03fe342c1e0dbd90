// Fuzzes `cohort run`'s command line: any argument vector either parses to
// options or is refused with an exit code (255, or 0 for --help/--version);
// it never throws, crashes or leaves options that contradict each other.
//
// Input: the arguments after "run", separated by NUL bytes (at most 32).

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include <fcntl.h>
#include <unistd.h>

#include "cohort/exit_codes.hpp"
#include "cohort/run/run_cli.hpp"
#include "support/fuzz_argv.hpp"

namespace run = cohort::app::run;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // --help and the errors print; keep the fuzzer's own output readable.
  const int null = ::open("/dev/null", O_WRONLY);
  if (null >= 0) ::dup2(null, STDOUT_FILENO);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  cohort::fuzz::fuzz_args args("run", data, size);

  const auto r = run::parse_run_cli(args.argc(), args.argv());
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
