#pragma once
// The fuzz targets' reference split of bytes into records: every `sep` ends
// a record, a last record without one still counts, and a final separator
// adds no empty record (what cohort run's inputs and cohort::fd_reader
// promise, written plainly so that their output can be checked against it).

#include <string>
#include <string_view>
#include <vector>

namespace cohort::fuzz {

inline std::vector<std::string> split_records(std::string_view bytes, char sep) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < bytes.size()) {
    const auto end = bytes.find(sep, start);
    if (end == std::string_view::npos) {
      out.emplace_back(bytes.substr(start));
      break;
    }
    out.emplace_back(bytes.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

}  // namespace cohort::fuzz
