#pragma once
// --pipe and --pipepart: standard input (or a file) cut into chunks at
// record boundaries, each chunk the standard input of one job, as GNU
// parallel 20221122 cuts them (its spreadstdin and find_split_positions).

#include <cohort/io/fd_reader.hpp>
#include <cohort/task.hpp>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cohort::app::run {

/// How --pipe/--pipepart cut their input (GNU parallel's options).
struct pipe_options {
  bool part = false;  ///< --pipepart: chunks of seekable files, by offsets
  /// --block: about this many bytes a chunk. Negative, with --pipepart: so
  /// many chunks per job slot (GNU's default there is -10).
  std::int64_t block = std::int64_t{1} << 20;
  bool block_given = false;
  std::optional<std::string> recstart;  ///< --recstart, as given
  std::optional<std::string> recend;    ///< --recend, as given (default "\n")
  bool regexp = false;                  ///< --regexp: the two are regular expressions
  std::uint64_t records = 0;            ///< -N: records a chunk; 0: by --block
};

/// --block's value with GNU parallel's unit prefixes: K M G T P multiply by
/// powers of 1024, k m g t p by powers of 1000 (Ki, Mi... also 1024); a
/// decimal number is allowed ("1.5M"), a negative one too (--pipepart).
/// Throws usage_error.
///
///     parse_block_size("1M") == 1048576; parse_block_size("10k") == 10000
[[nodiscard]] std::int64_t parse_block_size(std::string_view text);

/// Where records split: after a --recend that a --recstart follows (GNU's
/// rules for which of them apply when one is not given; printf escapes
/// \n \t \r \0 \\ resolved unless --regexp, where they are ECMAScript
/// regular expressions).
class record_split {
 public:
  explicit record_split(const pipe_options& o);
  /// The last split position in `text` (0 < split <= size), or npos. Split
  /// positions are after the record end, before the record start.
  [[nodiscard]] std::size_t last(std::string_view text) const;
  /// The first split whose record end starts at or after `from`, or npos.
  [[nodiscard]] std::size_t first(std::string_view text, std::size_t from) const;
  /// The split after the `n`th record end (GNU's nindex: the search starts
  /// at position 1, so a record end at 0 is not counted), or npos.
  [[nodiscard]] std::size_t nth(std::string_view text, std::uint64_t n) const;
  [[nodiscard]] bool is_regexp() const noexcept { return re_.has_value(); }

 private:
  std::string end_, start_;  // literal mode: recend, recstart
  std::optional<std::regex> re_;
};

/// The chunks of a stream, cut as GNU parallel's --pipe cuts them: read until
/// the buffer holds a whole number of blocks; cut after the last record end
/// in it (with -N: after every N records); if none was cut, the block grows
/// by 30 % (with a warning) and reading goes on; at the end of the input,
/// what is left is the last chunk. A record longer than the block is one
/// chunk. Pure: it is fed bytes and hands out chunks.
///
///     chunk_splitter s(options, warn);
///     while (!s.finished()) { if (auto c = s.next()) use(*c); else read_round(s); }
class chunk_splitter {
 public:
  chunk_splitter(const pipe_options& o, std::function<void(std::string)> warn = {});
  /// Bytes the next read should bring: the buffer then holds whole blocks.
  [[nodiscard]] std::size_t want() const noexcept;
  /// Room for `n` more bytes at the end of the buffer; commit() what came.
  char* space(std::size_t n);
  void commit(std::size_t n) noexcept { end_ += n; }
  /// A round of reads ended (`eof`: the input ended): cuts what it can.
  void end_round(bool eof);
  /// The next chunk cut, valid until the next space(); or nothing.
  [[nodiscard]] std::optional<std::string_view> next();
  /// True once the input ended and every chunk was handed out.
  [[nodiscard]] bool finished() const noexcept { return eof_ && chunks_.empty(); }
  [[nodiscard]] std::size_t block() const noexcept { return block_; }

 private:
  [[nodiscard]] std::string_view rest() const noexcept {
    return {data_.get() + begin_, end_ - begin_};
  }
  void cut(std::size_t n);
  void grow_block();

  record_split split_;
  std::uint64_t records_;
  std::size_t block_;
  std::function<void(std::string)> warn_;
  std::unique_ptr<char[]> data_;
  std::size_t capacity_ = 0, begin_ = 0, end_ = 0;
  std::deque<std::pair<std::size_t, std::size_t>> chunks_;  // offset, length
  bool eof_ = false;
};

/// --pipepart's chunk boundaries in a file of `size` bytes read through
/// `read_at(offset, into, n)` (pread): 0, then from each multiple of `block`
/// after the last boundary, the first record split at or after it, then
/// `size` (GNU's find_split_positions).
[[nodiscard]] std::vector<std::uint64_t> part_positions(
    std::uint64_t size, std::uint64_t block, const record_split& split,
    const std::function<std::size_t(std::uint64_t, char*, std::size_t)>& read_at);

/// A job's standard input under --pipe/--pipepart: a chunk held in memory
/// as an anonymous file (memfd), read from its start at each attempt
/// (rewind()); or a byte range of a --pipepart file, which the job reads
/// through a pipe fed from the file (range_pipe), nothing copied ahead.
/// Move-only.
class chunk_file {
 public:
  chunk_file() noexcept = default;
  /// A file holding `bytes`. Throws std::system_error.
  static chunk_file of(std::string_view bytes);
  /// `length` bytes of `fd` from `offset`: a copy of the descriptor (the
  /// file is not read here). Throws std::system_error.
  static chunk_file range(int fd, std::uint64_t offset, std::uint64_t length);
  chunk_file(chunk_file&& o) noexcept
      : fd_(std::exchange(o.fd_, -1)), offset_(o.offset_), length_(o.length_) {}
  chunk_file& operator=(chunk_file&& o) noexcept;
  ~chunk_file();
  /// The descriptor, -1 if none.
  [[nodiscard]] int fd() const noexcept { return fd_; }
  /// A range of fd() (range()), not a whole file to read from its start.
  [[nodiscard]] bool is_range() const noexcept { return length_.has_value(); }
  [[nodiscard]] std::uint64_t offset() const noexcept { return offset_; }
  /// The range's length; nothing for a whole file (of()).
  [[nodiscard]] std::optional<std::uint64_t> length() const noexcept { return length_; }
  /// Back to the start, for the next reader (of()).
  void rewind() const noexcept;

 private:
  explicit chunk_file(int fd) noexcept : fd_(fd) {}
  int fd_ = -1;
  std::uint64_t offset_ = 0;
  std::optional<std::uint64_t> length_;
};

/// The jobs' chunks of `cohort run --pipe` (standard input) or --pipepart
/// (files), one at a time: at most one chunk is read ahead of the jobs.
class pipe_source {
 public:
  /// --pipe: the chunks of `fd` (not closed).
  pipe_source(int fd, const pipe_options& o);
  /// --pipepart: the chunks of `paths`, in order; `slots` for a negative
  /// --block. Throws input_error if one cannot be opened or is not seekable.
  pipe_source(const std::vector<std::string>& paths, const pipe_options& o, std::size_t slots);
  pipe_source(pipe_source&&) noexcept;
  pipe_source& operator=(pipe_source&&) noexcept;
  ~pipe_source();

  /// Where warnings go (a record longer than the block).
  void on_warning(std::function<void(std::string)> warn);
  /// True when next() may wait for input still to come (a pipe, a terminal).
  [[nodiscard]] bool may_wait() const noexcept;
  /// The next chunk, or false at the end; blocks the thread.
  bool next(chunk_file& chunk);
  /// As next(), a cancellable wait on the loop that loses nothing.
  [[nodiscard]] task<bool> next_async(chunk_file& chunk);
  /// The number of chunks, if known without reading (--pipepart).
  [[nodiscard]] std::optional<std::uint64_t> total() const;

 private:
  struct state;
  std::unique_ptr<state> s_;
};

}  // namespace cohort::app::run
