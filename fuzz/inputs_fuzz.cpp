// Fuzzes `cohort run`'s inputs: splitting the words at `:::`/`::::` and
// generating every combination from literals and an input file. Splitting
// either works or throws input_error; the generator numbers jobs from 1 with
// one argument per source, each argument a value of its source, and its
// up-front total (when it gives one) is exactly the number of jobs produced.
//
// Input: a flags byte (bit 0: NUL-separated file), the words separated by
// \x01 up to the first \x02, then the contents of the one file every `::::`
// and `-a` source reads (paths from the input are never opened).

#include "support/split_records.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <sys/mman.h>
#include <unistd.h>

#include "cohort/run/inputs.hpp"

namespace run = cohort::app::run;

namespace {

// One file for the process, rewritten per input.
int content_fd() {
  static const int fd = ::memfd_create("inputs_fuzz", 0);
  if (fd < 0) std::abort();
  return fd;
}

void set_content(std::string_view bytes) {
  const int fd = content_fd();
  if (::ftruncate(fd, 0) != 0) std::abort();
  if (::pwrite(fd, bytes.data(), bytes.size(), 0) != static_cast<ssize_t>(bytes.size())) {
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const bool nul = (data[0] & 1) != 0;
  const std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  const auto cut = rest.find('\x02');
  const std::string_view words_text = rest.substr(0, cut);
  const std::string_view file_text =
      cut == std::string_view::npos ? std::string_view{} : rest.substr(cut + 1);

  std::vector<std::string> words;
  std::vector<std::string> arg_files;
  for (auto& w : cohort::fuzz::split_records(words_text, '\x01')) {
    if (w.size() > 1 && w[0] == '\x03') {  // an `-a FILE`
      arg_files.push_back(w.substr(1));
    } else {
      words.push_back(std::move(w));
    }
  }
  if (words.size() > 64) return 0;

  run::command_and_sources split;
  try {
    split = run::split_command_line(words, arg_files);
  } catch (const run::input_error&) {
    return 0;
  }

  const char sep = nul ? '\0' : '\n';
  set_content(file_text);
  const auto file_values = cohort::fuzz::split_records(file_text, sep);
  const std::string path = "/proc/self/fd/" + std::to_string(content_fd());
  std::vector<std::set<std::string>> allowed;
  for (auto& s : split.sources) {
    if (s.what == run::input_source::kind::file) {
      s.path = path;
      allowed.emplace_back(file_values.begin(), file_values.end());
    } else {
      allowed.emplace_back(s.values.begin(), s.values.end());
    }
    allowed.back().insert(std::string{});  // an empty source counts as one empty value
  }
  if (split.sources.empty()) return 0;  // standard input: not fuzzed here

  try {
    run::input_generator gen(split.sources, {.separator = sep, .stdin_fd = -1});
    const auto total = gen.total_jobs();
    run::job_input job;
    std::uint64_t n = 0;
    while (n < 20000 && gen.next(job)) {
      ++n;
      if (job.seq != n) std::abort();
      if (job.args.size() != split.sources.size()) std::abort();
      for (std::size_t i = 0; i < job.args.size(); ++i) {
        if (!allowed[i].contains(job.args[i])) std::abort();
      }
    }
    if (n < 20000 && total && *total != n) std::abort();
    if (gen.produced() != n) std::abort();
  } catch (const run::input_error&) {
  }
  return 0;
}
