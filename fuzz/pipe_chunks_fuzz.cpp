// Fuzzes the chunks of `cohort run --pipe` and --pipepart (chunk_splitter,
// part_positions): whatever the input, the block and the record separators,
// the chunks put back together are the input, none is empty, and every cut
// between two chunks is a record boundary: the chunk before ends with the
// record end and the chunk after starts with the record start. --pipepart's
// boundaries start at 0, end at the size and grow strictly.
//
// Input: a block byte (1..64), a records byte (0..3: -N, 0 none), a byte
// with the lengths of --recstart (bits 0-1, 0..3; 3: not given) and --recend
// (bits 2-3, 0..3; 3: not given, i.e. "\n" unless --recstart is given), the
// separators' bytes, then the bytes of the input (at most 20,000).

#include "cohort/run/pipe_chunks.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace {

using cohort::app::run::chunk_splitter;
using cohort::app::run::pipe_options;

void check(bool ok) {
  if (!ok) std::abort();
}

std::vector<std::string> split(std::string_view input, const pipe_options& o) {
  chunk_splitter s(o);
  std::vector<std::string> out;
  for (;;) {
    while (auto c = s.next()) out.emplace_back(*c);
    if (s.finished()) break;
    std::size_t need = s.want();
    bool eof = false;
    while (need > 0 && !eof) {
      // Pieces of at most 7 bytes: reads that stop anywhere.
      const std::size_t n = std::min({need, input.size(), std::size_t{7}});
      std::memcpy(s.space(need), input.data(), n);
      s.commit(n);
      input.remove_prefix(n);
      eof = n == 0;
      need -= n;
    }
    s.end_round(eof);
  }
  return out;
}

// The separators as the splitter sees them (GNU's defaults).
void boundary_strings(const pipe_options& o, std::string& end, std::string& start) {
  start = o.recstart.value_or("");
  end = o.recend.value_or(o.recstart ? "" : "\n");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 3) return 0;
  pipe_options o;
  o.block = 1 + data[0] % 64;
  o.records = data[1] % 4;
  const std::size_t start_len = data[2] & 3, end_len = (data[2] >> 2) & 3;
  std::string_view rest(reinterpret_cast<const char*>(data + 3), size - 3);
  // Separators without backslashes: their escapes are tested elsewhere.
  auto take = [&](std::size_t n) -> std::optional<std::string> {
    if (n == 3) return std::nullopt;
    std::string s(rest.substr(0, std::min(n, rest.size())));
    rest.remove_prefix(s.size());
    std::replace(s.begin(), s.end(), '\\', '/');
    return s;
  };
  o.recstart = take(start_len);
  o.recend = take(end_len);
  if (rest.size() > 20000) return 0;
  std::string end, start;
  boundary_strings(o, end, start);

  const std::vector<std::string> chunks = split(rest, o);
  std::string joined;
  for (std::size_t i = 0; i < chunks.size(); ++i) {
    check(!chunks[i].empty());
    if (i + 1 < chunks.size()) {
      check(chunks[i].ends_with(end) || chunks[i].size() < end.size());
      check(chunks[i + 1].starts_with(start) || chunks[i + 1].size() < start.size());
      check(std::string_view(chunks[i]).ends_with(end));
    }
    joined += chunks[i];
  }
  check(joined == rest);

  o.records = 0;
  const cohort::app::run::record_split split_at(o);
  const auto pos = cohort::app::run::part_positions(
      rest.size(), static_cast<std::uint64_t>(o.block), split_at,
      [&](std::uint64_t at, char* into, std::size_t n) -> std::size_t {
        if (at >= rest.size()) return 0;
        const std::size_t got = std::min<std::size_t>(n, rest.size() - at);
        std::memcpy(into, rest.data() + at, got);
        return got;
      });
  check(pos.front() == 0 && pos.back() == rest.size());
  for (std::size_t i = 1; i < pos.size(); ++i) {
    check(pos[i] > pos[i - 1] || (rest.empty() && pos.size() == 1));
    if (i + 1 < pos.size()) {
      check(rest.substr(0, pos[i]).ends_with(end));
      check(rest.substr(pos[i]).starts_with(start));
    }
  }
  return 0;
}
