#pragma once
// --pipepart: a job reads its byte range of the file through a pipe that
// cohort fills with splice(2), in the kernel, as fast as the job reads it.

#include <cohort/task.hpp>

#include <cstdint>
#include <system_error>

namespace cohort::app::run {

/// Moves up to `n` bytes of `from` at `*offset` (advanced) into the pipe
/// `to` with splice(2), without waiting for room in the pipe. The bytes
/// moved; 0 with `error` EAGAIN when the pipe is full, EPIPE when it has no
/// reader left (no SIGPIPE is raised: the signal is blocked around the call
/// and consumed), or another error; 0 with no error at the end of `from`.
[[nodiscard]] std::size_t splice_some(int from, std::uint64_t& offset, int to, std::size_t n,
                                      std::error_code& error) noexcept;

/// A pipe whose read end is a job's standard input and whose write end
/// feed() fills with a byte range of a file: the job reads its range without
/// this process copying it through user space, and a pipe's worth of bytes
/// (at most 1 MiB) is all that waits in memory. Move-less.
///
///     range_pipe in;                        // spawn the job with in.read_end()
///     in.close_read_end();                  // then, the job holds it
///     co_await in.feed(file, offset, length);
class range_pipe {
 public:
  /// Throws std::system_error if the pipe cannot be made.
  range_pipe();
  range_pipe(const range_pipe&) = delete;
  range_pipe& operator=(const range_pipe&) = delete;
  ~range_pipe();

  /// The end to give the job (close-on-exec here; the child gets a copy).
  [[nodiscard]] int read_end() const noexcept { return read_; }
  /// Closes this process's copy of the read end, once the job has its own:
  /// then the job's end is the only one, and a job that stops reading makes
  /// the feed end (EPIPE) instead of blocking it.
  void close_read_end() noexcept;

  /// Writes [offset, offset + length) of `fd` (not moved: its file offset
  /// is untouched, so many feeds may share it) into the pipe, waiting on the
  /// loop for room, then closes the write end (the job sees its input end).
  /// The value: true if all was written, false if the reader went away first
  /// (a job that exits without reading its input is no error). A cancellable
  /// wait: a cancel ends it at once and closes the write end. Throws
  /// std::system_error on a read error, std::runtime_error if the file ends
  /// before the range does. Needs the Asio runtime.
  [[nodiscard]] task<bool> feed(int fd, std::uint64_t offset, std::uint64_t length);

 private:
  task<> wait_writable();
  void close_write_end() noexcept;
  int read_ = -1, write_ = -1;
};

}  // namespace cohort::app::run
