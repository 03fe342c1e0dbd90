#pragma once

/// \file
/// `cohort::app::progress_bar`: the one-line progress display of `cohort run`
/// (`--bar`, `--eta`) and `cohort tiles`, on stderr.
///
/// What it draws, when stderr is a terminal:
///
///      45% [#########           ] 450/1000  3 failed  12 skipped  81.2/s  ETA 0:07  elapsed 0:05
///
/// - With a known total: the percentage, a bar, finished/total (finished =
///   done + failed + skipped; skipped work, done in an earlier run, is
///   inside the total in both tools), then the non-zero counts (failed, skipped, the
///   tool's extra counters such as `missing`), the rate, MB/s when the tool
///   feeds a byte count, ETA and elapsed time. Without a total: `450 items`,
///   the counts, the rate and the elapsed time; no bar, no ETA.
/// - The rate is smoothed: an exponential moving average with a time constant
///   of a few seconds (`rate_window`), weighted by time, so it follows the
///   last few seconds rather than the whole run. The ETA is the remaining
///   count over that rate, "--" while the rate is unknown or zero.
/// - The line never wraps: at most columns - 3 visible characters (room for
///   the "^C" a terminal echoes on Ctrl+C, so that it stays on the bar's line
///   and is erased with it), the width read from the terminal (TIOCGWINSZ)
///   at every frame, else `$COLUMNS`, else 80. When it is too narrow, the least important fields go
///   first (elapsed, MB/s, extras, skipped, rate, bar, ETA, failed); the
///   percentage and count go last.
/// - Color (green bar, red failures) unless `NO_COLOR` is set to anything
///   non-empty (https://no-color.org). Unicode block characters when the
///   locale (the first set of LC_ALL, LC_CTYPE, LANG) is UTF-8, else `#`.
/// - Each frame is one write(): `\r`, the line, erase-to-end-of-line; no
///   flicker, at most one frame per `min_interval` (100 ms).
///
/// When stderr is not a terminal, nothing is written until `finish`, which
/// writes only the summary line. With `TERM=dumb` (no cursor control, as in
/// Emacs' shell) the status is written as a plain line, without color, at
/// most once every `dumb_interval` (5 s), then the summary. So is it,
/// terminal or not, with `COHORT_PROGRESS=lines`: the progress of a batch
/// job (Slurm, Kubernetes) in its log.
///
/// The bar is always closed cleanly: `finish(summary)` erases the line and
/// writes the summary; the destructor does the same if `finish` was not
/// called (an exception, an interrupt), with the summary of the last sample.
/// After `finish`, the bar writes nothing more.
///
/// The bar reads the runner's live counters (`cohort::run_progress`) and any
/// counters the tool adds, all by reference: they must outlive every call
/// but the destructor (which only uses what the last frame read). Everything
/// runs on the loop's thread.
///
///     cohort::task_runner runner(source, jobs, options);
///     cohort::app::progress_bar bar(runner.progress(), {.unit = "tiles"});
///     bar.add_counter("missing", missing);   // shown when non-zero
///     bar.track_bytes(bytes_received);       // shows MB/s
///     co_await cohort::with_task_group([&](cohort::task_group& g) -> cohort::task<> {
///       g.spawn(bar.drive());                // redraws every 100 ms
///       co_await runner.run();
///       g.cancel();                          // stops drive; its guard erases the bar
///     });
///     bar.finish(bar.summary(loop.now()));

#include <cohort/runner/run_tasks.hpp>
#include <cohort/scheduler.hpp>
#include <cohort/task.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cohort::app {

/// Reads an environment variable: nullptr when unset. Empty means `std::getenv`.
using env_lookup = std::function<const char*(const char*)>;

/// What the output stream supports, as `detect_terminal` decided.
struct terminal_caps {
  bool tty = false;      ///< a terminal (or forced): draw the live bar
  bool cursor = false;   ///< `\r` and erase-line work (false for TERM=dumb)
  bool color = false;    ///< SGR colors allowed (not NO_COLOR, not TERM=dumb)
  bool unicode = false;  ///< the locale is UTF-8: block characters
};

/// Inspects `fd` and the environment: `tty` if isatty(fd) or `force_tty`;
/// `cursor` unless TERM is "dumb"; both `tty` and not `cursor` when
/// COHORT_PROGRESS is "lines"; `color` if `cursor` and NO_COLOR is unset
/// or empty; `unicode` if the first non-empty of LC_ALL, LC_CTYPE, LANG
/// names UTF-8 ("UTF-8" or "utf8", any case).
///
///     auto caps = cohort::app::detect_terminal(STDERR_FILENO);
[[nodiscard]] terminal_caps detect_terminal(int fd, bool force_tty = false,
                                            const env_lookup& env = {});

/// The width of the terminal on `fd`: TIOCGWINSZ, else a positive
/// `$COLUMNS`, else 80.
[[nodiscard]] int terminal_columns(int fd, const env_lookup& env = {});

/// Options of a `progress_bar`.
struct progress_bar_options {
  int fd = 2;  ///< where to draw (stderr); for a FILE*, pass fileno(f)
  /// Draw as if `fd` were a terminal (tests, `--bar` into a pipe).
  bool force_tty = false;
  /// Terminal width; 0: ask the terminal at every frame (see terminal_columns).
  int columns = 0;
  /// What the tasks are, for the count without a total ("450 items") and
  /// the summary ("1000/1000 tiles: ...").
  std::string unit = "items";
  /// At most one frame per this interval.
  duration min_interval = std::chrono::milliseconds(100);
  /// TERM=dumb: at most one plain status line per this interval.
  duration dumb_interval = std::chrono::seconds(5);
  /// Time constant of the rate's moving average.
  duration rate_window = std::chrono::seconds(3);
  /// The environment (NO_COLOR, TERM, LC_ALL, LC_CTYPE, LANG, COLUMNS).
  env_lookup env;
};

/// A one-line progress display on a terminal; see the file comment.
///
/// Errors: writing never throws and never fails the tool (a frame that
/// cannot be written is dropped). Cancellation: `drive` is the only task;
/// when it is cancelled it erases the bar on its way out.
class progress_bar {
 public:
  /// Reads `counts` (total, done, failed, skipped, begin) at every sample.
  /// Elapsed time runs from `counts.begin` once the runner has set it, else
  /// from the first sample.
  explicit progress_bar(const run_progress& counts, progress_bar_options options = {});
  progress_bar(const progress_bar&) = delete;
  progress_bar& operator=(const progress_bar&) = delete;
  /// `finish` with the summary of the last sample, if `finish` was not called.
  ~progress_bar();

  /// Adds a count the tool keeps (for example `missing` for 404s), shown as
  /// "N name" when non-zero. It is shown, not added to the finished count:
  /// count such tasks as done in the runner too.
  void add_counter(std::string name, const std::size_t& value);
  /// Adds work the tool skipped before the runner saw it (done in an earlier
  /// run, as the tiles an output already holds): counted inside the total
  /// and as finished, with the runner's own `skipped`, so that a resumed run
  /// counts the same way whether the tool or the runner skips. Not part of
  /// the rate.
  ///
  ///     bar.count_skipped(tiles_already_stored);  // 600 of 1000: "60% 600/1000"
  void count_skipped(const std::size_t& skipped);
  /// Adds a count of bytes transferred since the run began: shows MB/s
  /// (10^6 bytes), smoothed like the rate.
  void track_bytes(const std::uint64_t& bytes);

  /// Samples the counters and draws a frame if one is due (the first one,
  /// then at most one per `min_interval`; with TERM=dumb one per
  /// `dumb_interval`). Returns true if it wrote a frame.
  bool render(time_point now);
  /// Samples and draws a frame now, due or not (nothing when not a terminal).
  void force_render(time_point now);
  /// Erases the bar's line if a frame is on screen (for example before the
  /// tool writes to stdout on the same terminal); the next frame redraws it.
  void clear();
  /// Writes `text` and a newline above the bar, in one write, leaving the
  /// bar on screen. Without a live bar (not a terminal, TERM=dumb, or after
  /// `finish`) writes just the line: it is the tool's output, not the bar's.
  void print_above(std::string_view text);

  /// Erases the bar and writes `summary` and a newline (nothing more if
  /// `summary` is empty). Idempotent; afterwards the bar writes nothing.
  void finish(std::string_view summary);
  /// The default summary from a fresh sample:
  /// "1000/1000 tiles: 985 done, 3 failed, 12 skipped, 2 missing in 0:12 (81.2/s, 1.3 MB/s)";
  /// zero counts other than done are left out.
  [[nodiscard]] std::string summary(time_point now);

  /// Redraws every `interval` until cancelled; cancellation (the only way it
  /// ends) erases the bar on the way out. Lazy. The bar must outlive it.
  ///
  ///     g.spawn(bar.drive());
  [[nodiscard]] task<> drive(duration interval = std::chrono::milliseconds(100));

  /// The smoothed rate in tasks finished (done or failed) per second, none
  /// before two samples.
  [[nodiscard]] std::optional<double> rate() const noexcept;
  /// The smoothed byte rate in bytes per second, as `rate`.
  [[nodiscard]] std::optional<double> byte_rate() const noexcept;
  /// The remaining tasks over the smoothed rate; none without a total or a
  /// positive rate.
  [[nodiscard]] std::optional<duration> eta() const noexcept;
  /// The line of the last frame, without control sequences other than colors.
  [[nodiscard]] const std::string& last_line() const noexcept { return line_; }
  [[nodiscard]] const terminal_caps& caps() const noexcept { return caps_; }

 private:
  struct counter {
    std::string name;
    const std::size_t* value;
  };
  /// One reading of the counters.
  struct sample {
    time_point at{};
    time_point begin{};  // where elapsed time starts
    std::optional<std::size_t> total;
    std::size_t done = 0;
    std::size_t failed = 0;
    std::size_t skipped = 0;
    std::size_t cancelled = 0;
    std::uint64_t bytes = 0;
    std::vector<std::size_t> extra;
  };
  /// A time-weighted exponential moving average of a rate.
  struct smoothed_rate {
    double average = 0;  // the EMA, not yet divided by weight
    double weight = 0;   // the EMA of 1: corrects the start-up bias
    std::optional<double> value() const noexcept;
    void add(double per_second, double dt_seconds, double window_seconds) noexcept;
  };

  void take_sample(time_point now);
  bool draw(bool force);
  struct line_piece;

  void build_line(std::string& out) const;
  /// What the line can show, in display order, each with its importance.
  std::vector<line_piece> line_pieces() const;
  /// Marks kept the most important pieces that fit in `budget` columns (the
  /// bar at its narrowest); returns the columns left, which widen the bar.
  static int keep_what_fits(std::vector<line_piece>& pieces, int budget);
  /// The bar, `inner` cells between its brackets, filled to the position.
  void append_bar(std::string& out, int inner) const;
  int columns() const;
  void write_all(std::string_view bytes) noexcept;
  std::string summary_of(const sample& s) const;

  const run_progress* counts_;
  progress_bar_options options_;
  terminal_caps caps_;
  std::vector<counter> extras_;
  const std::uint64_t* bytes_ = nullptr;
  const std::size_t* skipped_before_ = nullptr;  // count_skipped

  sample last_;
  bool sampled_ = false;
  time_point first_sample_{};
  // The previous point of the moving averages.
  time_point rate_at_{};
  std::uint64_t rate_finished_ = 0;
  std::uint64_t rate_bytes_ = 0;
  smoothed_rate rate_;
  smoothed_rate byte_rate_;

  std::optional<time_point> last_frame_;
  bool on_screen_ = false;
  bool finished_ = false;
  std::string line_;   // the last frame's line
  std::string next_;   // the line being built
  std::string frame_;  // the bytes of one write
};

}  // namespace cohort::app
