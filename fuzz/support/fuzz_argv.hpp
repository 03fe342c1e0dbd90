#pragma once

// For the command-line fuzz targets: a fuzz input read as arguments
// separated by NUL bytes, after a fixed first word (the subcommand).

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace cohort::fuzz {

/// `first`, then the input's NUL-separated words, at most `max_words` in all.
/// `argv()` points into `words`: build it after the words are final.
struct fuzz_args {
  std::vector<std::string> words;
  std::vector<char*> pointers;

  fuzz_args(const char* first, const std::uint8_t* data, std::size_t size,
            std::size_t max_words = 33)
      : words{first} {
    std::string current;
    for (std::size_t i = 0; i < size && words.size() < max_words; ++i) {
      if (data[i] == 0) {
        words.push_back(std::move(current));
        current.clear();
      } else {
        current.push_back(static_cast<char>(data[i]));
      }
    }
    if (!current.empty() && words.size() < max_words) words.push_back(std::move(current));
    for (auto& w : words) pointers.push_back(w.data());
    pointers.push_back(nullptr);
  }
  fuzz_args(const fuzz_args&) = delete;
  fuzz_args& operator=(const fuzz_args&) = delete;

  int argc() const { return static_cast<int>(words.size()); }
  char** argv() { return pointers.data(); }
};

}  // namespace cohort::fuzz
