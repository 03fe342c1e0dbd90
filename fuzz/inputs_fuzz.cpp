// Fuzzes `cohort run`'s inputs: splitting the words at `:::`/`::::` and
// generating every combination from literals and an input file. Splitting
// either works or throws input_error; the generator numbers jobs from 1 with
// one argument per source, each argument a value of its source (a literal
// holding the separator being several values, as in GNU parallel), and its
// up-front total (when it gives one) is exactly the number of jobs produced.
//
// With the input-shaping options (--link, -L's continued lines, --header,
// --shuf, -N, --colsep, -E): still numbered from 1, its total still exact;
// without --colsep and continued lines, a job's arguments are whole records
// (one value of each source, in source order), at most -N of them.
//
// Input: a flags byte (bit 0: NUL-separated file, 1: --link, 2: continued
// lines, 3: --header, 4: --shuf, bits 5-7: 0 no -N, else -N0..-N6), the words separated by
// \x01 up to the first \x02 (a word starting with \x04 is the --colsep
// regex, with \x05 the -E string, with \x06 fills command lines as -X/-m
// with a toy length), then the contents of the one file every
// `::::` and `-a` source reads (paths from the input are never opened).

#include "support/split_records.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
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

  run::input_options options{.separator = nul ? '\0' : '\n', .stdin_fd = -1};
  options.link = (data[0] & 2) != 0;
  options.continue_lines = (data[0] & 4) != 0;
  options.header = (data[0] & 8) != 0;
  options.shuffle = (data[0] & 16) != 0;
  const int n_option = data[0] >> 5;  // 0: no -N, 1: -N0, else -N that
  options.records_per_job = n_option == 0 ? 1 : static_cast<std::uint64_t>(n_option - 1);

  std::optional<run::command_line_fill> fill;
  std::vector<std::string> words;
  std::vector<std::string> arg_files;
  for (auto& w : cohort::fuzz::split_records(words_text, '\x01')) {
    if (w.size() > 1 && w[0] == '\x03') {  // an `-a FILE`
      arg_files.push_back(w.substr(1));
    } else if (!w.empty() && w[0] == '\x04') {
      // Short: std::regex backtracks recursively, as any such engine.
      if (w.size() <= 5) options.colsep = w.substr(1);
    } else if (!w.empty() && w[0] == '\x05') {
      options.eof_string = w.substr(1);
    } else if (!w.empty() && w[0] == '\x06') {
      // -X/-m with a toy length: a line of 4 + 8 per byte of the word.
      fill = run::command_line_fill{};
      fill->arg_length = [](const std::string& a) { return a.size() + 1; };
      fill->base_length = 4;
      fill->max_length = 4 + 8 * w.size();
      fill->slots = 1 + w.size() % 4;
      fill->spread = w.size() % 2 == 0;
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

  const char sep = options.separator;
  set_content(file_text);
  const auto file_values = cohort::fuzz::split_records(file_text, sep);
  const std::string path = "/proc/self/fd/" + std::to_string(content_fd());
  std::vector<std::set<std::string>> allowed;
  for (auto& s : split.sources) {
    if (s.what == run::input_source::kind::file) {
      s.path = path;
      allowed.emplace_back(file_values.begin(), file_values.end());
    } else {
      // A `:::` value holding the separator is several values, as in GNU
      // parallel ("a\nb" is "a" and "b").
      allowed.emplace_back();
      for (const auto& v : s.values) {
        std::size_t at = 0;
        for (std::size_t end; (end = v.find(sep, at)) != std::string::npos; at = end + 1) {
          allowed.back().insert(v.substr(at, end - at));
        }
        allowed.back().insert(v.substr(at));
      }
    }
    allowed.back().insert(std::string{});  // an empty source counts as one empty value
  }
  if (split.sources.empty()) return 0;  // standard input: not fuzzed here

  if (options.shuffle) {
    // --shuf holds every record: keep that small.
    double records = 1;
    for (const auto& a : allowed) records *= static_cast<double>(a.size());
    if (records > 20000) return 0;
  }
  // Whole records of the sources' values (a header is one of them too).
  const bool whole_values = !options.colsep && !options.continue_lines;
  const std::size_t nsources = split.sources.size();
  const std::uint64_t max_records = std::max<std::uint64_t>(1, options.records_per_job);
  try {
    run::input_generator gen(split.sources, options);
    if (fill) gen.fill_command_lines(*fill);
    const auto total = gen.total_jobs();
    run::job_input job;
    std::uint64_t n = 0;
    while (n < 20000 && gen.next(job)) {
      ++n;
      if (job.seq != n) std::abort();
      if (options.records_per_job == 0 && !job.args.empty()) std::abort();
      if (!whole_values || options.records_per_job == 0) continue;
      if (job.args.empty() || job.args.size() % nsources != 0) std::abort();
      if (!fill && job.args.size() / nsources > max_records) std::abort();
      for (std::size_t i = 0; i < job.args.size(); ++i) {
        if (!allowed[i % nsources].contains(job.args[i])) std::abort();
      }
    }
    if (n < 20000 && total && *total != n) std::abort();
    if (gen.produced() != n) std::abort();
  } catch (const run::input_error&) {
  }
  return 0;
}
