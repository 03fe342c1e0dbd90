// Fuzzes cohort::fd_reader's record splitting: bytes arrive through a pipe
// in chunks, with ready() and read_blocking() interleaved as a loop would
// call them, through buffers as small as one byte. The records must be
// exactly the reference split: every record before a separator, plus the
// rest if it is not empty; ready() must never promise a record that
// read_blocking() then waits for.
//
// Input: a flags byte (bit 0: NUL-separated), a buffer-size byte (1..64), a
// chunk-size byte (1..256), then the bytes the pipe carries (at most 60,000,
// which fit in a pipe's buffer).

#include "support/split_records.hpp"

#include <cohort/io/fd_reader.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace {

void write_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n <= 0) std::abort();
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 3 || size - 3 > 60000) return 0;
  const char sep = (data[0] & 1) != 0 ? '\0' : '\n';
  const std::size_t buffer = 1 + data[1] % 64;
  const std::size_t chunk = 1 + data[2];
  const std::string_view bytes(reinterpret_cast<const char*>(data + 3), size - 3);

  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) std::abort();
  std::vector<std::string> got;
  {
    cohort::fd_reader reader(fds[0], {.separator = sep, .close = true, .buffer_size = buffer});
    std::string rec;
    bool ended = false;
    for (std::size_t at = 0; at < bytes.size(); at += chunk) {
      write_all(fds[1], bytes.substr(at, chunk));
      // What a loop does between waits: take every record that is at hand.
      while (reader.ready()) {
        if (!reader.read_blocking(rec)) std::abort();  // the writer is open: no end yet
        got.push_back(rec);
      }
    }
    ::close(fds[1]);
    while (!ended) {
      if (!reader.ready()) std::abort();  // the writer closed: never waits
      if (reader.read_blocking(rec)) {
        got.push_back(rec);
      } else {
        ended = true;
        if (!rec.empty()) std::abort();
      }
    }
    if (reader.read_blocking(rec)) std::abort();  // still at the end
  }
  if (got != cohort::fuzz::split_records(bytes, sep)) std::abort();
  return 0;
}
