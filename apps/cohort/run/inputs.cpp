#include "cohort/run/inputs.hpp"

#include <cohort/io/fd_reader.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <functional>
#include <limits>
#include <random>
#include <regex>
#include <system_error>
#include <utility>

#include <fmt/format.h>

namespace cohort::app::run {

input_source input_source::literals(std::vector<std::string> values) {
  input_source s;
  s.what = kind::literals;
  s.values = std::move(values);
  return s;
}

input_source input_source::file(std::string path) {
  input_source s;
  s.what = kind::file;
  s.path = std::move(path);
  return s;
}

command_and_sources split_command_line(std::span<const std::string> words,
                                       std::span<const std::string> arg_files,
                                       const source_separators& separators) {
  command_and_sources out;
  for (const auto& f : arg_files) out.sources.push_back(input_source::file(f));

  enum class mode { command, literals, files } m = mode::command;
  bool link_files = false;  // the files after `::::+` each link to the source before them
  // `sep` or `sep+`; linked: the `+`.
  auto is_separator = [](const std::string& w, const std::string& sep, bool& linked) {
    if (!w.starts_with(sep)) return false;
    linked = w.size() == sep.size() + 1 && w.back() == '+';
    return w.size() == sep.size() || linked;
  };
  for (const auto& w : words) {
    bool linked = false;
    if (is_separator(w, separators.args, linked)) {
      m = mode::literals;
      out.sources.push_back(input_source::literals({}));
      out.sources.back().linked = linked;
      continue;
    }
    if (is_separator(w, separators.files, linked)) {
      m = mode::files;
      link_files = linked;
      continue;
    }
    switch (m) {
      case mode::command: out.command.push_back(w); break;
      case mode::literals: out.sources.back().values.push_back(w); break;
      case mode::files:
        out.sources.push_back(input_source::file(w));
        out.sources.back().linked = link_files;
        break;
    }
  }
  // `::: ` with nothing after it adds no source (GNU parallel ignores it too).
  std::erase_if(out.sources, [](const input_source& s) {
    return s.what == input_source::kind::literals && s.values.empty();
  });
  // GNU: a link with no source before it starts the first source.
  if (!out.sources.empty()) out.sources.front().linked = false;
  return out;
}

namespace {

std::string describe(const std::string& path) {
  return path == "-" ? std::string("standard input") : fmt::format("input file '{}'", path);
}

[[noreturn]] void throw_errno(const char* what, const std::string& path, int err) {
  throw input_error(fmt::format("cannot {} {}: {}", what, describe(path), std::strerror(err)));
}

// An input file opened for reading: its records, and for a regular file
// where reading started (to count its values without consuming them).
struct input_file {
  std::string path;
  fd_reader reader;
  bool regular = false;
  off_t start = 0;

  // -d of several characters: what comes before `separator` in it (the
  // reader splits at its last character; pieces are joined until one ends
  // in `head`), and the record being joined.
  std::string head;
  char separator = '\n';
  std::string joined, piece;
  bool has_joined = false;
  bool joined_any_ = false;

  input_file() = default;
  input_file(const std::string& p, int stdin_fd, char sep, std::string delimiter_head = {})
      : path(p), head(std::move(delimiter_head)), separator(sep) {
    int fd = stdin_fd;
    if (path != "-") {
      fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) throw_errno("open", path, errno);
    }
    struct owned {
      int fd;
      ~owned() {
        if (fd >= 0) ::close(fd);
      }
    } guard{path == "-" ? -1 : fd};
    struct stat st {};
    if (::fstat(fd, &st) != 0) throw_errno("stat", path, errno);
    if (S_ISDIR(st.st_mode)) throw_errno("read", path, EISDIR);
    if (S_ISREG(st.st_mode)) {
      const off_t here = ::lseek(fd, 0, SEEK_CUR);
      if (here >= 0) {
        regular = true;
        start = here;
      }
    }
    reader = fd_reader(fd, {.separator = sep, .close = guard.fd >= 0});
    guard.fd = -1;  // the reader owns it now
  }

  // The next value, read on the thread (blocking).
  bool next(std::string& value) {
    try {
      if (head.empty()) return reader.read_blocking(value);
      for (;;) {
        const bool got = reader.read_blocking(piece);
        if (join(got, value)) return got || joined_any_;
      }
    } catch (const std::system_error& e) {
      throw_errno("read", path, e.code().value());
    }
  }

  // The next value, awaited on the loop (a cancellable wait: a piece read
  // before a cancel stays in `joined`).
  task<bool> next_async(std::string& value) {
    std::error_code error;
    if (head.empty()) {
      const bool got = co_await reader.read(value, error);
      if (error) throw_errno("read", path, error.value());
      co_return got;
    }
    for (;;) {
      const bool got = co_await reader.read(piece, error);
      if (error) throw_errno("read", path, error.value());
      if (join(got, value)) co_return got || joined_any_;
    }
  }

  // -d of several characters: adds the piece just read (`got`; false at the
  // end of the input). True when `value` is a whole record, or the input
  // ended (then joined_any_ says whether a last record was pending).
  bool join(bool got, std::string& value) {
    joined_any_ = false;
    if (!got) {
      joined_any_ = has_joined;
      value.swap(joined);
      joined.clear();
      has_joined = false;
      return true;
    }
    if (has_joined) joined.push_back(separator);
    joined += piece;
    has_joined = true;
    if (!joined.ends_with(head)) return false;
    joined.resize(joined.size() - head.size());
    value.swap(joined);
    joined.clear();
    has_joined = false;
    return true;
  }

  // Counts values from where the file stood when opened, without moving the
  // file offset (pread), so the reader is not disturbed.
  std::uint64_t count_values(char sep) const {
    std::uint64_t count = 0;
    char buf[1 << 16];
    off_t at = start;
    char last = sep;
    for (;;) {
      ssize_t r = ::pread(reader.native_handle(), buf, sizeof buf, at);
      if (r < 0) {
        if (errno == EINTR) continue;
        throw_errno("read", path, errno);
      }
      if (r == 0) break;
      for (ssize_t i = 0; i < r; ++i) count += buf[i] == sep;
      last = buf[r - 1];
      at += r;
    }
    return count + (last != sep ? 1 : 0);
  }
};

// The values of a `:::` as GNU parallel reads them: it writes them to a
// file, one a record, and reads that back, so a value holding the separator
// ("a\nb") is several values ("a", "b").
std::vector<std::string> literal_values(std::vector<std::string> values, const std::string& sep) {
  if (std::none_of(values.begin(), values.end(),
                   [&sep](const std::string& v) { return v.find(sep) != std::string::npos; })) {
    return values;
  }
  std::vector<std::string> out;
  for (const std::string& v : values) {
    std::size_t at = 0;
    for (std::size_t end; (end = v.find(sep, at)) != std::string::npos; at = end + sep.size()) {
      out.push_back(v.substr(at, end - at));
    }
    out.push_back(v.substr(at));
  }
  return out;
}

std::uint64_t checked_mul(std::uint64_t a, std::uint64_t b) {
  if (a != 0 && b > std::numeric_limits<std::uint64_t>::max() / a) {
    throw input_error("too many combinations of input values (more than 2^64 jobs)");
  }
  return a * b;
}

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

// -E and -L's rules over one source's raw values (GNU parallel's
// read_arg_from_fh): the EOF string ends the source; with continue_lines a
// value ending in whitespace is joined with the next one.
struct value_assembler {
  std::string pending;
  bool has_pending = false;
  bool ended = false;  // the EOF string was met

  // Takes a raw value; true when `value` is now a whole value.
  bool take(std::string& value, const input_options& o) {
    if (o.eof_string && value == *o.eof_string) {
      ended = true;
      return finish(value);
    }
    if (has_pending) {
      pending += value;
      value.swap(pending);
      pending.clear();
      has_pending = false;
    }
    // GNU's -r: a blank value is dropped (after the joining, before -L's check).
    if (o.skip_blank && std::all_of(value.begin(), value.end(), is_space)) return false;
    if (o.continue_lines && !value.empty() && is_space(value.back())) {
      pending.swap(value);
      has_pending = true;
      return false;
    }
    return true;
  }

  // At the end of the raw values: true when a value was still pending.
  bool finish(std::string& value) {
    if (!has_pending) return false;
    value.swap(pending);
    pending.clear();
    has_pending = false;
    return true;
  }
};

std::vector<std::string> assemble_all(std::vector<std::string> raw, const input_options& o) {
  if (!o.eof_string && !o.continue_lines && !o.skip_blank) return raw;
  std::vector<std::string> out;
  value_assembler a;
  for (auto& v : raw) {
    if (a.take(v, o)) out.push_back(std::move(v));
    if (a.ended) break;
  }
  std::string last;
  if (a.finish(last)) out.push_back(std::move(last));
  return out;
}

// Sources given side by side (linked): value i of the group is value i of
// each member, a shorter member starting over (--link: `wrap`, the group is
// as long as its longest member) or ending the group (`:::+`: as long as
// its shortest).
struct source_group {
  std::vector<std::vector<std::string>> members;
  bool wrap = false;

  // An empty member stands for a single "" (as an empty source does among
  // others); a group whose members are all empty has no value.
  std::size_t length() const {
    if (all_empty()) return 0;
    std::size_t n = wrap ? 0 : std::numeric_limits<std::size_t>::max();
    for (const auto& m : members) {
      const std::size_t size = std::max<std::size_t>(1, m.size());
      n = wrap ? std::max(n, size) : std::min(n, size);
    }
    return n;
  }
  bool all_empty() const {
    return std::all_of(members.begin(), members.end(), [](const auto& m) { return m.empty(); });
  }
  // Some source has a value, so every empty one stands for a single "".
  void fill_empty() {
    for (auto& m : members) {
      if (m.empty()) m.emplace_back();
    }
  }
  void append(std::size_t index, std::vector<std::string>& out, std::size_t& at) const {
    for (const auto& m : members) {
      if (m.empty()) {
        out[at++].clear();
      } else {
        out[at++].assign(m[index % m.size()]);
      }
    }
  }
};

// Splits `value` at every match of `sep` into `out` from `at` on (growing
// it), as Perl's split(/sep/, value, -1) that GNU parallel uses: empty fields
// stay, and a match of nothing splits between two characters (so an empty
// separator gives one column per character). With `trim`, each column loses
// its leading and trailing whitespace (GNU's --trim lr, the default with
// --colsep).
void split_columns(const std::string& value, const std::regex& sep, bool trim,
                   std::vector<std::string>& out, std::size_t& at) {
  auto put = [&](std::string_view col) {
    if (trim) {
      while (!col.empty() && is_space(col.front())) col.remove_prefix(1);
      while (!col.empty() && is_space(col.back())) col.remove_suffix(1);
    }
    if (at == out.size()) out.emplace_back();
    out[at++].assign(col);
  };
  const std::string_view v = value;
  std::size_t begin = 0;
  for (auto it = std::sregex_iterator(value.begin(), value.end(), sep);
       it != std::sregex_iterator(); ++it) {
    const auto pos = static_cast<std::size_t>(it->position());
    const auto len = static_cast<std::size_t>(it->length());
    if (len == 0 && (pos <= begin || pos >= v.size())) continue;
    put(v.substr(begin, pos - begin));
    begin = pos + len;
  }
  put(v.substr(begin));
}

// GNU parallel's trim_of: Perl's \s taken off one or both ends.
void trim_argument(std::string& arg, trim_mode how) {
  if (how == trim_mode::right || how == trim_mode::both) {
    std::size_t end = arg.size();
    while (end > 0 && is_space(arg[end - 1])) --end;
    arg.resize(end);
  }
  if (how == trim_mode::left || how == trim_mode::both) {
    std::size_t begin = 0;
    while (begin < arg.size() && is_space(arg[begin])) ++begin;
    arg.erase(0, begin);
  }
}

std::regex compile_colsep(const std::string& text) {
  try {
    return std::regex(text, std::regex::ECMAScript);
  } catch (const std::regex_error& e) {
    throw input_error(fmt::format("--colsep: '{}' is not a valid regular expression", text));
  }
}

}  // namespace

struct input_generator::state {
  input_options options;
  std::size_t nsources = 1;
  std::optional<std::regex> colsep;
  std::vector<std::string> header;

  // The first group of sources: a streamed file, or values in memory.
  bool first_streamed = false;
  input_file first_file;
  value_assembler first_assembler;
  bool first_file_ended = false;
  source_group first_group;
  std::size_t first_index = 0;
  // next_async() read the first source's next value into current_first
  // ahead of next(); `prefetched_value` is what that read returned.
  bool prefetched = false;
  bool prefetched_value = false;
  std::optional<std::uint64_t> first_count;  // values of the first group, when known

  // The later groups, whole in memory; odometer[i] indexes later[i].
  std::vector<source_group> later;
  std::vector<std::size_t> odometer;
  bool later_all_empty = true;

  std::string current_first;  // the streamed first source's current value
  bool have_current = false;
  bool started = false;
  bool first_empty = false;  // the first group had no value: it yields one ""
  bool done = false;
  std::uint64_t produced = 0;

  std::vector<std::string> record;  // one value per source
  // Records handed back (-X/-m: those that did not fit), read before others.
  std::deque<std::vector<std::string>> pushback;
  struct filler {
    command_line_fill how;
    bool spread_done = false;
    std::uint64_t cap = std::numeric_limits<std::uint64_t>::max();
    std::size_t length = 0;
    std::vector<std::vector<std::string>> raw;  // the job's records so far
    std::vector<std::size_t> ends;              // where each one's arguments end
  };
  std::optional<filler> fill;
  // --shuf: every record, read up front, in the order they will be used
  // (GNU parallel shuffles the records, then groups them into jobs).
  bool loaded = false;
  std::vector<std::vector<std::string>> shuffled;
  std::size_t shuffled_next = 0;

  int cr_lines = 0;
  int nl_lines = 0;
  bool crlf = false;

  void note_line(const std::string& v) {
    if (options.separator != '\n' || !options.delimiter_head.empty() || cr_lines + nl_lines >= 3) {
      return;
    }
    (!v.empty() && v.back() == '\r') ? ++cr_lines : ++nl_lines;
    if (cr_lines == 3) crlf = true;
  }

  // One raw value of the streamed first file; false at its end.
  bool read_raw_first(std::string& v) {
    if (!first_file.next(v)) return false;
    note_line(v);
    return true;
  }

  // The next whole value of the streamed first file (-E, -L applied).
  bool read_first(std::string& v) {
    if (first_file_ended) return false;
    while (!first_assembler.ended && read_raw_first(v)) {
      if (first_assembler.take(v, options)) return true;
    }
    first_file_ended = true;
    return first_assembler.finish(v);
  }

  // Moves to the next value of the first group.
  bool advance_first() {
    if (first_empty) return false;
    if (!first_streamed) return first_index++ < first_group.length();
    if (prefetched) {
      prefetched = false;
      return prefetched_value;
    }
    return read_first(current_first);
  }

  // Whether next_record() will read the first source.
  bool next_reads_first() const {
    return first_streamed && !done && !first_empty && !prefetched && (!started || !have_current);
  }

  void fill_record() {
    std::size_t at = 0;
    if (first_streamed) {
      record[at++].assign(current_first);
    } else {
      first_group.append(first_index - 1, record, at);
    }
    for (std::size_t i = 0; i < later.size(); ++i) later[i].append(odometer[i], record, at);
  }

  // The next record into `record`: the next combination, or with --shuf
  // the next of the shuffled ones.
  bool next_record() {
    if (!pushback.empty()) {
      record = std::move(pushback.front());
      pushback.pop_front();
      return true;
    }
    if (!loads_all()) return next_combination();
    if (shuffled_next == shuffled.size()) return false;
    record = std::move(shuffled[shuffled_next++]);
    return true;
  }

  // The next combination of one value of each source into `record`.
  bool next_combination() {
    if (done) return false;
    if (!started) {
      started = true;
      if (!advance_first()) {
        if (later_all_empty) {
          done = true;
          return false;
        }
        first_empty = true;
        first_count = 1;
        current_first.clear();
        if (!first_streamed) {
          first_group.fill_empty();
          first_index = 1;
        }
      }
      for (auto& g : later) g.fill_empty();
      have_current = true;
    } else if (!have_current) {
      if (!advance_first()) {
        done = true;
        return false;
      }
      have_current = true;
    }
    fill_record();

    // Advance the odometer: the last group varies fastest.
    std::size_t i = later.size();
    for (; i > 0; --i) {
      if (++odometer[i - 1] < later[i - 1].length()) break;
      odometer[i - 1] = 0;
    }
    if (i == 0) {
      have_current = false;
      if (first_empty) done = true;
    }
    return true;
  }

  // Awaits, on the loop, the first source's next value if next_record() needs it.
  task<> prefetch() {
    if (!next_reads_first()) co_return;
    // Cancelled here, nothing is lost: the reader keeps what it read, and
    // an assembled part stays in the assembler.
    bool got = false;
    while (!first_file_ended) {
      std::string& v = current_first;
      // Not `ended || !co_await ...`: with a co_await in the right operand
      // of ||, GCC 12's code crashed in the awaiter's await_resume
      // (InputGenerator.NothingWaitsForFilesLiteralsAndDevNull, after the
      // awaiter became one pointer). Awaits stay out of short-circuits.
      bool more = !first_assembler.ended;
      if (more) more = co_await first_file.next_async(v);
      if (!more) {
        first_file_ended = true;
        got = first_assembler.finish(v);
        break;
      }
      note_line(v);
      if (first_assembler.take(v, options)) {
        got = true;
        break;
      }
    }
    prefetched_value = got;
    prefetched = true;
  }

  void add_record(job_input& job, std::size_t& used) {
    if (options.records_per_job == 0) return;  // -N0: no argument
    const std::size_t before = used;
    if (colsep) {
      for (const auto& v : record) split_columns(v, *colsep, options.trim_columns, job.args, used);
    } else {
      for (const auto& v : record) {
        if (used == job.args.size()) job.args.emplace_back();
        job.args[used++].assign(v);
      }
    }
    if (options.trim == trim_mode::none) return;
    for (std::size_t k = before; k < used; ++k) trim_argument(job.args[k], options.trim);
  }

  std::uint64_t records_per_job() const {
    if (fill) return fill->cap;
    return std::max<std::uint64_t>(1, options.records_per_job);
  }

  // -X/-m: whether the record just added (its arguments job.args[before,
  // used)) still fits the command line; if not, it goes back for the next job.
  bool fill_accepts(job_input& job, std::size_t before, std::size_t& used, std::uint64_t records) {
    if (!fill) return true;
    if (records == 0) {
      fill->length = fill->how.base_length;
      fill->raw.clear();
      fill->ends.clear();
    }
    for (std::size_t k = before; k < used; ++k) fill->length += fill->how.arg_length(job.args[k]);
    if (fill->length >= fill->how.max_length) {
      if (records == 0) {
        throw input_error(fmt::format("command line too long ({} >= {} characters) at input {}",
                                      fill->length, fill->how.max_length, produced + 1));
      }
      pushback.push_front(record);
      used = before;
      return false;
    }
    fill->raw.push_back(record);
    fill->ends.push_back(used);
    return true;
  }

  // -X/-m at the end of the input: the job's records are spread evenly over
  // the job slots (once, as GNU parallel), the rest going back.
  void fill_input_ended(std::size_t& used, std::uint64_t& records) {
    if (!fill || !fill->how.spread || fill->spread_done || records == 0) return;
    fill->spread_done = true;
    const std::size_t n = fill->raw.size();
    if (n <= 1) return;
    const std::size_t slots = std::max<std::size_t>(1, fill->how.slots);
    const std::size_t per = (n + slots - 1) / slots;
    fill->cap = std::min<std::uint64_t>(fill->cap, per);
    for (std::size_t i = n; i > per; --i) pushback.push_front(std::move(fill->raw[i - 1]));
    used = fill->ends[per - 1];
    records = per;
  }

  bool end_job(job_input& job, std::size_t used, std::uint64_t records) {
    if (records == 0) return false;
    job.args.resize(used);
    job.seq = ++produced;
    return true;
  }

  // Adds the next record to the job; false when the job is complete.
  bool take_record(job_input& job, std::size_t& used, std::uint64_t& records) {
    if (!next_record()) {
      fill_input_ended(used, records);
      return false;
    }
    const std::size_t before = used;
    add_record(job, used);
    if (!fill_accepts(job, before, used, records)) return false;
    ++records;
    return true;
  }

  // -X/-m: a job that reached its -N cap still spreads if the input ends
  // right after it (GNU looks one record ahead).
  bool spread_pending(std::uint64_t records) const {
    return fill && fill->how.spread && !fill->spread_done && records > 0 &&
           records == records_per_job();
  }
  void peeked(bool got, std::size_t& used, std::uint64_t& records) {
    if (got) {
      pushback.push_front(std::move(record));
    } else {
      fill_input_ended(used, records);
    }
  }

  bool next_job(job_input& job) {
    std::size_t used = 0;
    std::uint64_t records = 0;
    while (records < records_per_job() && take_record(job, used, records)) {
    }
    if (spread_pending(records)) peeked(next_record(), used, records);
    return end_job(job, used, records);
  }

  task<bool> next_job_async(job_input& job) {
    std::size_t used = 0;
    std::uint64_t records = 0;
    while (records < records_per_job()) {
      if (!loads_all() && pushback.empty()) co_await prefetch();
      if (!take_record(job, used, records)) break;
    }
    if (spread_pending(records)) {
      if (!loads_all() && pushback.empty()) co_await prefetch();
      peeked(next_record(), used, records);
    }
    co_return end_job(job, used, records);
  }

  // --shuf and {##} read every record first (into `shuffled`).
  bool loads_all() const noexcept { return options.shuffle || options.read_all; }

  void shuffle_loaded() {
    if (options.shuffle) {
      std::mt19937_64 random(std::random_device{}());
      std::shuffle(shuffled.begin(), shuffled.end(), random);
    }
    loaded = true;
  }

  // --header: the first raw value of a source names its columns.
  void take_header(std::vector<std::string>& raw);
  // Reads every source not streamed into its group (linked sources share one).
  void load_groups(std::vector<input_source>& sources,
                   const std::vector<std::pair<std::size_t, std::size_t>>& groups);

  // The whole values of a source that is read at construction.
  std::vector<std::string> read_whole(input_source& src) {
    std::vector<std::string> raw;
    if (src.what == input_source::kind::literals) {
      raw = literal_values(std::move(src.values), options.delimiter_head + options.separator);
    } else {
      input_file file(src.path, options.stdin_fd, options.separator, options.delimiter_head);
      std::string v;
      while (file.next(v)) {
        note_line(v);
        raw.push_back(v);
      }
    }
    return raw;
  }
};

namespace {

// The sources' groups, in order, as [begin, end): a source linked to the one
// before it (`:::+`, or every source with --link) joins its group.
std::vector<std::pair<std::size_t, std::size_t>> link_groups(
    const std::vector<input_source>& sources, bool link) {
  std::vector<std::pair<std::size_t, std::size_t>> groups;
  for (std::size_t i = 0; i < sources.size(); ++i) {
    if (i > 0 && (link || sources[i].linked)) {
      groups.back().second = i + 1;
    } else {
      groups.emplace_back(i, i + 1);
    }
  }
  return groups;
}

}  // namespace

void input_generator::state::take_header(std::vector<std::string>& raw) {
  if (!options.header) return;
  std::string names;
  if (!raw.empty()) {
    names = std::move(raw.front());
    raw.erase(raw.begin());
  }
  if (!names.empty() && names.back() == '\r') names.pop_back();
  static const std::regex tab("\t");
  std::size_t at = header.size();
  split_columns(names, colsep ? *colsep : tab, false, header, at);
}

void input_generator::state::load_groups(
    std::vector<input_source>& sources,
    const std::vector<std::pair<std::size_t, std::size_t>>& groups) {
  for (std::size_t g = 0; g < groups.size(); ++g) {
    source_group group;
    group.wrap = options.link;
    for (std::size_t i = groups[g].first; i < groups[g].second; ++i) {
      if (g == 0 && first_streamed) continue;
      auto raw = read_whole(sources[i]);
      take_header(raw);
      group.members.push_back(assemble_all(std::move(raw), options));
    }
    if (g == 0) {
      if (!first_streamed) {
        first_count = group.length();
        first_group = std::move(group);
      }
      continue;
    }
    if (!group.all_empty()) later_all_empty = false;
    later.push_back(std::move(group));
  }
}

input_generator::input_generator(std::vector<input_source> sources, input_options options)
    : state_(std::make_unique<state>()) {
  auto& s = *state_;
  s.options = std::move(options);
  if (s.options.colsep) s.colsep = compile_colsep(*s.options.colsep);
  if (sources.empty()) sources.push_back(input_source::standard_input());
  s.nsources = sources.size();
  s.record.resize(s.nsources);
  const auto groups = link_groups(sources, s.options.link);

  if (s.options.header_paths) {
    for (const auto& src : sources) {
      if (src.what == input_source::kind::file) s.header.push_back(src.path);
    }
  }
  auto& first = sources.front();
  if (groups.front().second == 1 && first.what == input_source::kind::file) {
    s.first_streamed = true;
    s.first_file =
        input_file(first.path, s.options.stdin_fd, s.options.separator, s.options.delimiter_head);
    if (s.options.header) {
      std::vector<std::string> raw(1);
      if (!s.read_raw_first(raw.front())) raw.clear();
      s.take_header(raw);
    }
  }
  s.load_groups(sources, groups);
  s.odometer.assign(s.later.size(), 0);
}

input_generator::input_generator(input_generator&&) noexcept = default;
input_generator& input_generator::operator=(input_generator&&) noexcept = default;
input_generator::~input_generator() = default;

bool input_generator::next(job_input& job) {
  auto& s = *state_;
  if (s.loads_all() && !s.loaded) {
    while (s.next_combination()) s.shuffled.push_back(s.record);
    s.shuffle_loaded();
  }
  return s.next_job(job);
}

task<bool> input_generator::next_async(job_input& job) {
  auto& s = *state_;
  if (s.loads_all() && !s.loaded) {
    // A cancel here loses nothing: the records read so far stay in `shuffled`.
    for (;;) {
      co_await s.prefetch();
      if (!s.next_combination()) break;
      s.shuffled.push_back(s.record);
    }
    s.shuffle_loaded();
  }
  co_return co_await s.next_job_async(job);
}

std::optional<std::uint64_t> input_generator::total_jobs() {
  auto& s = *state_;
  if (s.options.read_all && !s.loaded && s.produced == 0) {
    while (s.next_combination()) s.shuffled.push_back(s.record);
    s.shuffle_loaded();
  }
  if (s.loaded) {
    const std::uint64_t per_job = s.records_per_job();
    return s.produced + (s.shuffled.size() - s.shuffled_next + per_job - 1) / per_job;
  }
  if (s.done && s.pushback.empty()) return s.produced;
  if (s.fill) return std::nullopt;  // -X/-m: known only at the end
  if (!s.first_count && s.first_streamed && s.first_file.regular && !s.options.eof_string &&
      !s.options.continue_lines && !s.options.skip_blank && s.options.delimiter_head.empty()) {
    // A scan from where reading started: the header (if any) was read already.
    const std::uint64_t n = s.first_file.count_values(s.options.separator);
    s.first_count = s.options.header && n > 0 ? n - 1 : n;
  }
  if (!s.first_count) return std::nullopt;
  std::uint64_t first = *s.first_count;
  if (first == 0) {
    if (s.later_all_empty) return 0;
    first = 1;
  }
  std::uint64_t records = first;
  for (const auto& g : s.later)
    records = checked_mul(records, std::max<std::size_t>(1, g.length()));
  const std::uint64_t per_job = s.records_per_job();
  return records / per_job + (records % per_job != 0 ? 1 : 0);
}

bool input_generator::may_wait() const noexcept {
  const auto& s = *state_;
  return s.first_streamed && s.first_file.reader.may_wait();
}

std::uint64_t input_generator::produced() const noexcept {
  return state_->produced;
}

std::size_t input_generator::source_count() const noexcept {
  return state_->nsources;
}

bool input_generator::crlf_suspected() const noexcept {
  return state_->crlf;
}

void input_generator::fill_command_lines(command_line_fill how) {
  auto& s = *state_;
  s.fill = state::filler{};
  if (how.max_records > 0) s.fill->cap = how.max_records;
  s.fill->how = std::move(how);
}

const std::vector<std::string>& input_generator::header_names() const noexcept {
  return state_->header;
}

}  // namespace cohort::app::run
