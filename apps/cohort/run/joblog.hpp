#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace cohort::app::run {

/// A joblog could not be written, read, or parsed. The message names the file
/// and, for a malformed line, its line number.
class joblog_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// `--resume`/`--resume-failed` found a job whose command differs from the one
/// the joblog recorded for its Seq: the input or the command changed.
class input_changed_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// The first line of a joblog, as GNU parallel writes it (no trailing newline).
inline constexpr std::string_view joblog_header =
    "Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand";

/// One finished job, as one joblog line.
struct joblog_entry {
  std::uint64_t seq = 0;
  std::string host = ":";  ///< ":" is the local machine
  std::chrono::system_clock::time_point start{};
  std::chrono::nanoseconds runtime{};
  std::int64_t send = 0;     ///< bytes sent to the job (GNU: transferred files; 0)
  std::int64_t receive = 0;  ///< bytes the job wrote (GNU: returned files; output size)
  int exit_value = 0;        ///< exit status; 0 for a job ended by a signal (GNU), -1 for
                             ///< one killed by --timeout (GNU)
  int signal = 0;            ///< the signal that ended the job, 0 if none
  std::string command;
};

/// Appends one joblog line, with its "\n", in GNU parallel's exact format:
/// `Seq \t Host \t Starttime \t JobRuntime \t Send \t Receive \t Exitval \t Signal \t Command`,
/// Starttime as epoch seconds with 3 decimals (`%.3f`), JobRuntime as
/// seconds with 3 decimals truncated to the millisecond, right-aligned in 10
/// columns (`%10.3f`), and every "\n" in the command written as a NUL byte
/// (GNU parallel does this so that one job stays one line).
///
///   std::string line;
///   append_joblog_line(line, entry);  // "1\t:\t1795320211.726\t     0.033\t0\t2\t0\t0\techo a\n"
void append_joblog_line(std::string& out, const joblog_entry& entry);

/// A job log open for writing, one line per finished job.
///
/// Each line goes to the file with a single write() on an O_APPEND descriptor,
/// with no buffering in between, so the log is current after every job and a
/// process killed (even by SIGKILL) between two jobs leaves only whole lines.
/// A partial last line remains possible, but only if SIGKILL lands inside
/// that write() (Linux can stop a write between pages on a fatal signal), if
/// the disk fills up, or if the machine crashes (no fsync is done). parse_joblog
/// ignores such a line (that job counts as not finished) and opening in
/// mode::append removes it.
///
/// Errors: the constructor and write() throw joblog_error naming the file.
///
///   joblog_writer log("jobs.log", joblog_writer::mode::truncate);
///   log.write(entry);
class joblog_writer {
 public:
  enum class mode {
    truncate,      ///< start a new log: empty the file, write the header
    append,        ///< continue a log (--resume): keep its lines, drop an incomplete last
                   ///< line, write the header only if the file is new or empty
    append_lines,  ///< GNU parallel's `--joblog +FILE`: as append, but never
                   ///< write the header, not even on a new file
  };

  joblog_writer(const std::string& path, mode m);
  /// GNU parallel's `--joblog -`: the header and each line written to
  /// `stream` (standard output, among the jobs' output), flushed at once.
  explicit joblog_writer(std::FILE* stream);
  joblog_writer(joblog_writer&&) noexcept;
  joblog_writer& operator=(joblog_writer&&) noexcept;
  ~joblog_writer();

  /// Writes one line for a finished job.
  void write(const joblog_entry& entry);

  [[nodiscard]] const std::string& path() const noexcept { return path_; }

 private:
  void write_all(std::string_view bytes);

  std::string path_;
  int fd_ = -1;
  std::FILE* stream_ = nullptr;  // --joblog -: not ours to close
  std::string line_;
};

/// One line of an existing joblog.
struct joblog_record {
  std::uint64_t seq = 0;
  std::string host;
  double start_time = 0;  ///< epoch seconds
  double runtime = 0;     ///< seconds
  std::int64_t send = 0;
  std::int64_t receive = 0;
  int exit_value = 0;
  int signal = 0;
  std::string command;   ///< with the NUL bytes turned back into "\n"
  std::size_t line = 0;  ///< 1-based line number in the file
};

/// The contents of a joblog.
struct joblog_contents {
  std::vector<joblog_record> records;  ///< in file order; a Seq may appear more than once
  bool has_header = false;             ///< the first line was joblog_header
  /// The number of an unterminated last line that was ignored (the write of
  /// that job was cut short; the job counts as not finished).
  std::optional<std::size_t> ignored_incomplete_line;
  bool file_exists = true;  ///< read_joblog: false if there was no file (empty contents)
};

/// Parses joblog text. The header line is optional (GNU parallel's
/// `--joblog +FILE` can start without one); empty lines are skipped; an
/// unterminated last line is ignored and reported in ignored_incomplete_line.
/// Any other line that is not 9 tab-separated fields (Seq a positive integer,
/// Host non-empty, the six numbers, then the command, which may hold tabs)
/// throws joblog_error "NAME:LINE: malformed joblog line ...".
///
///   auto log = parse_joblog(text, "jobs.log");
[[nodiscard]] joblog_contents parse_joblog(std::string_view text, std::string_view name);

/// Reads and parses the joblog at `path`. A missing file gives empty contents
/// with file_exists == false (GNU parallel's --resume then runs every job).
/// Throws joblog_error if the file cannot be read or is malformed.
[[nodiscard]] joblog_contents read_joblog(const std::string& path);

/// `--retry-failed` (GNU parallel's): the log's commands, by Seq, which then
/// are the run's inputs (its own command and inputs are ignored): element
/// `seq - 1` is the command of Seq's last line, empty for a Seq below the
/// highest that has no line (GNU runs it too: an empty command, exit 0).
/// Which of them run again is resume_filter's, in resume_failed mode: those
/// without a successful line.
///
///   retry_commands(read_joblog("log"))  // {"exit 1", "exit 0", "", "exit 2"}
[[nodiscard]] std::vector<std::string> retry_commands(const joblog_contents& log);

/// Which jobs a resumed run skips.
enum class resume_mode {
  resume,         ///< --resume: skip every Seq that has a line in the log
  resume_failed,  ///< --resume-failed: skip a Seq only if one of its lines has
                  ///< Exitval 0 and Signal 0; run the failed ones again
};

/// The decision for each job of a resumed run (GNU parallel's rules, see
/// resume_mode), plus a check GNU parallel does not make under --resume: the
/// job at a Seq must still have the command the log recorded, or the input
/// changed under the log and resuming would skip the wrong jobs (and mix two
/// commands' outputs). Under --resume-failed a changed command is GNU's
/// habit (fix the command, then --resume-failed): the failed jobs run with
/// the new one, and take_change_warning() says so once.
///
///   resume_filter resume(read_joblog(path), resume_mode::resume);
///   if (!resume.skip(job.seq, command)) run(job);
///   ... at the end of the input: resume.check_total(jobs_seen);
class resume_filter {
 public:
  resume_filter(const joblog_contents& log, resume_mode mode);

  /// True if job `seq` must not run again. `command`: the command the job
  /// would run now, compared with the logged one; pass std::nullopt to skip
  /// the comparison (a template with `{%}` cannot reproduce its old command).
  /// Under --resume, throws input_changed_error: "the input changed since the
  /// joblog was written: Seq 3 was 'echo a', now 'echo b'; use a new --joblog
  /// or drop --resume".
  [[nodiscard]] bool skip(std::uint64_t seq, std::optional<std::string_view> command);

  /// Under --resume-failed, once a job's command differed from the logged
  /// one: the warning to print ("warning: the command changed since the
  /// joblog was written (Seq 1 was 'x', now 'y'); the failed jobs run with
  /// the new command"), the first time only; else nullopt.
  [[nodiscard]] std::optional<std::string> take_change_warning();

  /// Throws input_changed_error if the log has a Seq above `total_jobs` (the
  /// input now has fewer jobs than when the log was written).
  void check_total(std::uint64_t total_jobs) const;

  /// How many distinct Seqs the log holds and how many of them are skipped.
  [[nodiscard]] std::size_t logged_jobs() const noexcept { return jobs_.size(); }
  [[nodiscard]] std::size_t skipped_jobs() const noexcept { return skipped_; }

 private:
  struct job {
    bool done = false;
    std::string command;  // from the job's last line
  };
  std::unordered_map<std::uint64_t, job> jobs_;
  resume_mode mode_;
  std::size_t skipped_ = 0;
  std::uint64_t max_seq_ = 0;
  std::optional<std::string> change_warning_;
  bool warned_ = false;
};

}  // namespace cohort::app::run
