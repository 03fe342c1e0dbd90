#pragma once
/// \file
/// `cohort::fd_reader`: records (lines, or NUL-separated values) read from a
/// file descriptor, awaited like any other operation.

#include <cohort/task.hpp>

#include <cstddef>
#include <string>
#include <system_error>
#include <vector>

namespace cohort {

/// Options of an fd_reader.
struct fd_reader_options {
  /// Ends one record: '\n' for lines, '\0' for NUL-separated values.
  char separator = '\n';
  /// The reader owns the descriptor and closes it when destroyed.
  bool close = false;
  /// The buffer's first size; it grows to hold a longer record.
  std::size_t buffer_size = std::size_t{64} * 1024;
};

/// Splits what a file descriptor delivers into records: lines, or values
/// ended by NUL. The descriptor may be a pipe, a FIFO, a socket, a terminal
/// or a regular file.
///
/// A record is what comes before a separator. A last record without one
/// still counts, and a separator at the very end makes no extra empty
/// record; nothing else is stripped (a "\r" of CRLF input stays, empty lines
/// are records). A record of any length is read whole: the buffer grows to
/// hold it.
///
/// `co_await read(record)` waits for input on the loop (it must run on the
/// Asio runtime, `cohort::run` or an `asio_loop`), so other tasks run
/// meanwhile. The wait is a cancellable operation: cancelling its scope (a
/// Ctrl+C through `cohort::run`, a deadline, a group's cancel) ends it at
/// once and unwinds the task; nothing read is lost, and the reader can be
/// used again. A regular file (which epoll refuses) or /dev/null never makes
/// the reader wait: it is read directly, on any scheduler. The descriptor's
/// own flags are never changed: it stays blocking for every other process
/// that shares it (the shell of a terminal, the other end of a `tee`).
///
/// Errors: a failed read() throws std::system_error (the error-code form of
/// read() returns false and sets the code instead); EINTR is retried. Reads
/// of one reader must not overlap (one task at a time). Move-only.
///
///     cohort::fd_reader lines(0);                 // standard input
///     std::string line;
///     while (co_await lines.read(line)) co_await handle(line);
class fd_reader {
 public:
  /// A reader with no descriptor: at its end at once.
  fd_reader() noexcept = default;
  /// Reads `fd`, from its current offset. Throws std::system_error if the
  /// reader's wait set cannot be made (out of descriptors).
  explicit fd_reader(int fd, fd_reader_options options = {});
  fd_reader(fd_reader&& other) noexcept;
  fd_reader& operator=(fd_reader&& other) noexcept;
  ~fd_reader();

  /// Waits for the next record: true with it in `record` (its capacity is
  /// reused), or false (and `record` empty) at the end of the input. A lazy
  /// task: nothing is read before the `co_await`.
  [[nodiscard]] task<bool> read(std::string& record);
  /// As read(record), but a read error returns false and sets `error`
  /// instead of throwing (`error` is cleared otherwise).
  [[nodiscard]] task<bool> read(std::string& record, std::error_code& error);

  /// Reads raw bytes instead of a record: up to `size` bytes into `into`,
  /// first what the reader has buffered, else one read() of the descriptor,
  /// waiting on the loop while none is there (as read(record): a cancellable
  /// wait that loses nothing). The value is the number of bytes read, fewer
  /// than `size` whenever less is at hand, and 0 only at the end of the
  /// input (or when `size` is 0). Throws std::system_error on a read error.
  /// Mixes with read(record): both take from the same buffer.
  ///
  ///     char block[65536];
  ///     while (std::size_t n = co_await in.read_some(block, sizeof block)) use(block, n);
  [[nodiscard]] task<std::size_t> read_some(char* into, std::size_t size);

  /// As read_some(), blocking the calling thread instead of the task.
  std::size_t read_some_blocking(char* into, std::size_t size);

  /// As read(), blocking the calling thread instead of the task: for
  /// programs and steps that have no loop (a dry run, counting, start-up).
  bool read_blocking(std::string& record);

  /// True when read() will not wait: a whole record is buffered, or the
  /// input ended. Takes in what the descriptor holds now without waiting for
  /// more. Throws std::system_error on a read error.
  [[nodiscard]] bool ready();

  /// True when reading may wait for input still to come (a pipe, a FIFO, a
  /// socket, a terminal); false for a regular file or /dev/null.
  [[nodiscard]] bool may_wait() const noexcept { return wait_set_ >= 0; }

  /// The descriptor read, or -1.
  [[nodiscard]] int native_handle() const noexcept { return fd_; }

 private:
  bool take(std::string& record);
  std::size_t take_some(char* into, std::size_t size) noexcept;
  std::size_t read_direct(char* into, std::size_t size, std::error_code& error);
  const char* find_separator() noexcept;
  bool readable_now(std::error_code& error) const;
  std::size_t fill(std::error_code& error);
  task<> wait_readable();
  void close() noexcept;

  int fd_ = -1;
  bool owned_ = false;
  // An epoll set holding only fd_, waited on through Asio: -1 if fd_ cannot
  // be waited on (it never blocks). Asio would make a descriptor it waits
  // on non-blocking, and with it every process sharing fd_; its own epoll
  // set it may.
  int wait_set_ = -1;
  char separator_ = '\n';
  std::vector<char> buf_;
  std::size_t pos_ = 0;   // start of the first record not taken
  std::size_t scan_ = 0;  // [pos_, scan_) holds no separator
  std::size_t end_ = 0;   // end of what was read
  bool eof_ = true;
};

}  // namespace cohort
