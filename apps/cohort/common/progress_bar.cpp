#include "cohort/common/progress_bar.hpp"

#include <cohort/sleep.hpp>
#include "cohort/common/option_values.hpp"

#include <fmt/format.h>

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <iterator>

namespace cohort::app {

namespace {

const char* lookup(const env_lookup& env, const char* name) {
  return env ? env(name) : std::getenv(name);
}

bool non_empty(const char* s) {
  return s != nullptr && *s != '\0';
}

bool names_utf8(std::string_view locale) {
  std::string lower(locale);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return lower.find("utf-8") != std::string::npos || lower.find("utf8") != std::string::npos;
}

// Visible width of UTF-8 text: one column per code point (the bar only uses
// ASCII and the block characters, which are one column wide).
int visible_width(std::string_view s) {
  int n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80 ? 1 : 0;
  return n;
}

double seconds(duration d) {
  return std::chrono::duration<double>(d).count();
}

// "0:07", "12:34", "1:02:03".
void append_clock(std::string& out, duration d) {
  auto total = std::chrono::duration_cast<std::chrono::seconds>(d).count();
  if (total < 0) total = 0;
  auto h = total / 3600;
  auto m = total / 60 % 60;
  auto s = total % 60;
  if (h > 0) {
    fmt::format_to(std::back_inserter(out), "{}:{:02}:{:02}", h, m, s);
  } else {
    fmt::format_to(std::back_inserter(out), "{}:{:02}", m, s);
  }
}

// "8.5", "81.2", "812".
void append_rate(std::string& out, double r) {
  if (r < 99.95) {
    fmt::format_to(std::back_inserter(out), "{:.1f}", r);
  } else {
    fmt::format_to(std::back_inserter(out), "{:.0f}", r);
  }
}

// "8.5/s", "812 MB/s", or "--/s" before the first reading; `scale` divides
// the rate (1e6 for bytes to MB).
std::string rate_text(std::optional<double> rate, double scale, std::string_view unit) {
  std::string text;
  if (rate) {
    append_rate(text, *rate / scale);
  } else {
    text = "--";
  }
  text += unit;
  return text;
}

constexpr const char* green = "\x1b[32m";
constexpr const char* red = "\x1b[31m";
constexpr const char* reset = "\x1b[0m";
constexpr std::string_view erase_line = "\r\x1b[2K";

// The block characters for 1/8 .. 7/8 of a cell, then a full cell.
constexpr std::string_view eighths[] = {"", "▏", "▎", "▍", "▌", "▋", "▊", "▉", "█"};

// The line stops 3 columns short of the edge. Reaching the last column
// would leave the cursor in the pending-wrap state, and Ctrl+C makes the
// terminal echo "^C" at the cursor: with 2 more columns free that echo stays
// on the bar's line, which the erase then removes, instead of wrapping to a
// new line and leaving the bar behind (seen in tmux).
constexpr int reserved_columns = 3;
constexpr int bar_min_inner = 8;
constexpr int bar_max_inner = 40;
// 100 h: beyond that an ETA means nothing.
constexpr double eta_limit_seconds = 100.0 * 3600;

}  // namespace

terminal_caps detect_terminal(int fd, bool force_tty, const env_lookup& env) {
  terminal_caps caps;
  caps.tty = force_tty || ::isatty(fd) == 1;
  const char* term = lookup(env, "TERM");
  caps.cursor = !(term != nullptr && std::string_view(term) == "dumb");
  // A log file (a Slurm job's output): plain status lines, as for TERM=dumb.
  const char* progress = lookup(env, "COHORT_PROGRESS");
  if (progress != nullptr && std::string_view(progress) == "lines") {
    caps.tty = true;
    caps.cursor = false;
  }
  caps.color = caps.cursor && !non_empty(lookup(env, "NO_COLOR"));
  for (const char* name : {"LC_ALL", "LC_CTYPE", "LANG"}) {
    const char* value = lookup(env, name);
    if (non_empty(value)) {
      caps.unicode = names_utf8(value);
      break;
    }
  }
  return caps;
}

int terminal_columns(int fd, const env_lookup& env) {
  winsize ws{};
  if (::ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
  if (const char* columns = lookup(env, "COLUMNS"); non_empty(columns)) {
    int n = 0;
    std::string_view s(columns);
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    if (ec == std::errc() && end == s.data() + s.size() && n > 0) return n;
  }
  return 80;
}

// ------------------------------------------------------------ smoothing

std::optional<double> progress_bar::smoothed_rate::value() const noexcept {
  if (weight <= 0) return std::nullopt;
  return average / weight;
}

void progress_bar::smoothed_rate::add(double per_second, double dt, double window) noexcept {
  // Each reading is the mean rate over the last dt seconds; it gets the
  // weight those seconds have in an exponential window, so the result does
  // not depend on how often the bar samples. Dividing by the EMA of 1 makes
  // the first seconds an exact average instead of a ramp up from zero.
  double keep = std::exp(-dt / window);
  average = keep * average + (1 - keep) * per_second;
  weight = keep * weight + (1 - keep);
}

// ------------------------------------------------------------ progress_bar

progress_bar::progress_bar(const run_progress& counts, progress_bar_options options)
    : counts_(&counts),
      options_(std::move(options)),
      caps_(detect_terminal(options_.fd, options_.force_tty, options_.env)) {}

progress_bar::~progress_bar() {
  if (finished_) return;
  try {
    // Never sampled: the tool failed before anything ran; no summary to give.
    finish(sampled_ ? summary_of(last_) : std::string());
  } catch (...) {
    // Out of memory while formatting: still leave the terminal clean.
    if (on_screen_) write_all(erase_line);
    finished_ = true;
  }
}

void progress_bar::add_counter(std::string name, const std::size_t& value) {
  extras_.push_back({std::move(name), &value});
  last_.extra.resize(extras_.size());
}

void progress_bar::count_skipped(const std::size_t& skipped) {
  skipped_before_ = &skipped;
}

void progress_bar::track_bytes(const std::uint64_t& bytes) {
  bytes_ = &bytes;
}

void progress_bar::take_sample(time_point now) {
  const run_progress& c = *counts_;
  if (!sampled_) first_sample_ = now;
  last_.at = now;
  last_.begin = c.begin != time_point{} ? c.begin : first_sample_;
  last_.total = c.total;
  last_.done = c.done;
  last_.failed = c.failed;
  last_.skipped = c.skipped;
  if (skipped_before_ != nullptr) {
    // Skipped before the runner: in neither its total nor its counts.
    last_.skipped += *skipped_before_;
    if (last_.total) *last_.total += *skipped_before_;
  }
  last_.cancelled = c.cancelled;
  last_.bytes = bytes_ != nullptr ? *bytes_ : 0;
  for (std::size_t i = 0; i < extras_.size(); ++i) last_.extra[i] = *extras_[i].value;

  std::uint64_t finished = last_.done + last_.failed;
  if (!sampled_) {
    sampled_ = true;
    if (c.begin != time_point{} && c.begin <= now) {
      // The run started before the first sample: measure from its start.
      rate_at_ = c.begin;
      rate_finished_ = 0;
      rate_bytes_ = 0;
    } else {
      rate_at_ = now;
      rate_finished_ = finished;
      rate_bytes_ = last_.bytes;
    }
  }
  if (now > rate_at_) {
    double dt = seconds(now - rate_at_);
    double window = seconds(options_.rate_window);
    rate_.add((static_cast<double>(finished) - static_cast<double>(rate_finished_)) / dt, dt,
              window);
    byte_rate_.add((static_cast<double>(last_.bytes) - static_cast<double>(rate_bytes_)) / dt, dt,
                   window);
    rate_at_ = now;
    rate_finished_ = finished;
    rate_bytes_ = last_.bytes;
  }
}

std::optional<double> progress_bar::rate() const noexcept {
  return rate_.value();
}

std::optional<double> progress_bar::byte_rate() const noexcept {
  return byte_rate_.value();
}

std::optional<duration> progress_bar::eta() const noexcept {
  if (!last_.total) return std::nullopt;
  std::size_t position = last_.done + last_.failed + last_.skipped;
  std::size_t remaining = *last_.total > position ? *last_.total - position : 0;
  if (remaining == 0) return duration::zero();
  auto r = rate();
  if (!r || *r <= 0) return std::nullopt;
  double s = static_cast<double>(remaining) / *r;
  if (s > eta_limit_seconds) return std::nullopt;
  return std::chrono::duration_cast<duration>(std::chrono::duration<double>(s));
}

int progress_bar::columns() const {
  return options_.columns > 0 ? options_.columns : terminal_columns(options_.fd, options_.env);
}

// One piece of the line: a count, a rate, the ETA... or the bar itself.
struct progress_bar::line_piece {
  std::string text;
  int importance;  // 0 is kept first; the highest is dropped first
  std::string_view sep = "  ";
  const char* color = nullptr;
  bool bar = false;
  bool kept = false;
};

std::vector<progress_bar::line_piece> progress_bar::line_pieces() const {
  const sample& s = last_;
  std::vector<line_piece> pieces;  // in display order
  std::size_t position = s.done + s.failed + s.skipped;
  if (s.total) {
    std::size_t total = *s.total;
    int percent = 100;
    if (position < total) {
      percent = std::min(
          99, static_cast<int>(static_cast<double>(position) * 100.0 / static_cast<double>(total)));
    }
    pieces.push_back({fmt::format("{:>3}%", percent), 0, ""});
    pieces.push_back({"", 4, " ", nullptr, true});
    pieces.push_back({format_count(position) + "/" + format_count(total), 1, " "});
  } else {
    pieces.push_back({fmt::format("{} {}", format_count(position), options_.unit), 0, ""});
  }
  if (s.failed > 0) pieces.push_back({format_count(s.failed) + " failed", 2, "  ", red});
  if (s.skipped > 0) pieces.push_back({format_count(s.skipped) + " skipped", 6});
  for (std::size_t i = 0; i < extras_.size(); ++i) {
    if (s.extra[i] > 0)
      pieces.push_back({fmt::format("{} {}", format_count(s.extra[i]), extras_[i].name), 7});
  }
  pieces.push_back({rate_text(rate(), 1, "/s"), 5});
  if (bytes_ != nullptr) pieces.push_back({rate_text(byte_rate(), 1e6, " MB/s"), 8});
  if (s.total) {
    std::string text = "ETA ";
    if (auto e = eta()) {
      // Rounded up: "0:00" only when nothing remains.
      append_clock(text, *e + std::chrono::seconds(1) - duration(1));
    } else {
      text += "--";
    }
    pieces.push_back({std::move(text), 3});
  }
  std::string elapsed = "elapsed ";
  append_clock(elapsed, s.at > s.begin ? s.at - s.begin : duration::zero());
  pieces.push_back({std::move(elapsed), 9});
  return pieces;
}

int progress_bar::keep_what_fits(std::vector<line_piece>& pieces, int budget) {
  std::vector<line_piece*> by_importance;
  by_importance.reserve(pieces.size());
  for (auto& p : pieces) by_importance.push_back(&p);
  std::stable_sort(
      by_importance.begin(), by_importance.end(),
      [](const line_piece* a, const line_piece* b) { return a->importance < b->importance; });
  for (line_piece* p : by_importance) {
    int cost =
        static_cast<int>(p->sep.size()) + (p->bar ? bar_min_inner + 2 : visible_width(p->text));
    if (cost <= budget) {
      p->kept = true;
      budget -= cost;
    } else if (p->importance == 0) {
      // Narrower than the most important piece (ASCII): cut it.
      p->text.resize(static_cast<std::size_t>(budget));
      p->kept = true;
      budget = 0;
    }
  }
  return budget;
}

void progress_bar::append_bar(std::string& out, int inner) const {
  const std::size_t position = last_.done + last_.failed + last_.skipped;
  const std::size_t total = *last_.total;
  double fraction =
      total == 0 ? 1.0 : std::min(1.0, static_cast<double>(position) / static_cast<double>(total));
  int steps = caps_.unicode ? 8 : 1;
  int filled = static_cast<int>(fraction * inner * steps);
  if (position < total) filled = std::min(filled, inner * steps - 1);
  int full = filled / steps;
  int part = filled % steps;
  out += '[';
  if (caps_.color) out += green;
  for (int i = 0; i < full; ++i) out += caps_.unicode ? eighths[8] : "#";
  if (part > 0) out += eighths[part];
  if (caps_.color) out += reset;
  out.append(static_cast<std::size_t>(inner - full - (part > 0 ? 1 : 0)), ' ');
  out += ']';
}

void progress_bar::build_line(std::string& out) const {
  std::vector<line_piece> pieces = line_pieces();
  // Keep the most important pieces that fit; the bar takes what is left.
  const int left = keep_what_fits(pieces, std::max(columns() - reserved_columns, 0));
  out.clear();
  for (const line_piece& p : pieces) {
    if (!p.kept) continue;
    out += p.sep;
    if (p.bar) {
      append_bar(out, std::min(bar_max_inner, bar_min_inner + left));
    } else if (p.color != nullptr && caps_.color) {
      out += p.color;
      out += p.text;
      out += reset;
    } else {
      out += p.text;
    }
  }
}

bool progress_bar::draw(bool force) {
  build_line(next_);
  if (!force && caps_.cursor && on_screen_ && next_ == line_) {
    last_frame_ = last_.at;
    return false;
  }
  std::swap(line_, next_);
  frame_.clear();
  if (caps_.cursor) {
    frame_ += '\r';
    frame_ += line_;
    frame_ += "\x1b[K";
    on_screen_ = true;
  } else {
    frame_ += line_;
    frame_ += '\n';
  }
  write_all(frame_);
  last_frame_ = last_.at;
  return true;
}

bool progress_bar::render(time_point now) {
  if (finished_) return false;
  take_sample(now);
  if (!caps_.tty) return false;
  if (caps_.cursor) {
    if (last_frame_ && now - *last_frame_ < options_.min_interval) return false;
  } else if (now - last_frame_.value_or(first_sample_) < options_.dumb_interval) {
    return false;
  }
  return draw(false);
}

void progress_bar::force_render(time_point now) {
  if (finished_) return;
  take_sample(now);
  if (caps_.tty) draw(true);
}

void progress_bar::clear() {
  if (finished_ || !on_screen_) return;
  write_all(erase_line);
  on_screen_ = false;
}

void progress_bar::print_above(std::string_view text) {
  frame_.clear();
  if (!finished_ && on_screen_) {
    frame_ += erase_line;
    frame_ += text;
    frame_ += "\n\r";
    frame_ += line_;
    frame_ += "\x1b[K";
  } else {
    frame_ += text;
    frame_ += '\n';
  }
  write_all(frame_);
}

void progress_bar::finish(std::string_view summary) {
  if (finished_) return;
  finished_ = true;
  frame_.clear();
  if (on_screen_) frame_ += erase_line;
  on_screen_ = false;
  if (!summary.empty()) {
    frame_ += summary;
    frame_ += '\n';
  }
  if (!frame_.empty()) write_all(frame_);
}

std::string progress_bar::summary(time_point now) {
  take_sample(now);
  return summary_of(last_);
}

std::string progress_bar::summary_of(const sample& s) const {
  std::string out;
  auto it = std::back_inserter(out);
  std::size_t position = s.done + s.failed + s.skipped;
  if (s.total) {
    fmt::format_to(it, "{}/{} {}: ", format_count(position), format_count(*s.total), options_.unit);
  } else {
    fmt::format_to(it, "{} {}: ", format_count(position), options_.unit);
  }
  fmt::format_to(it, "{} done", format_count(s.done));
  if (s.failed > 0) fmt::format_to(it, ", {} failed", format_count(s.failed));
  if (s.skipped > 0) fmt::format_to(it, ", {} skipped", format_count(s.skipped));
  for (std::size_t i = 0; i < extras_.size(); ++i) {
    if (s.extra[i] > 0) fmt::format_to(it, ", {} {}", format_count(s.extra[i]), extras_[i].name);
  }
  if (s.cancelled > 0) fmt::format_to(it, ", {} cancelled", format_count(s.cancelled));
  duration elapsed = s.at > s.begin ? s.at - s.begin : duration::zero();
  out += " in ";
  append_clock(out, elapsed);
  std::size_t finished = s.done + s.failed;
  if (elapsed > duration::zero() && finished > 0) {
    // The whole run's average: a summary describes the run, not its end.
    double secs = seconds(elapsed);
    out += " (";
    append_rate(out, static_cast<double>(finished) / secs);
    out += "/s";
    if (bytes_ != nullptr) {
      out += ", ";
      append_rate(out, static_cast<double>(s.bytes) / 1e6 / secs);
      out += " MB/s";
    }
    out += ')';
  }
  return out;
}

task<> progress_bar::drive(duration interval) {
  scheduler& loop = co_await this_scheduler();
  // Cancellation destroys this frame at the sleep: the guard's destructor
  // is what erases the bar then.
  struct erase_on_exit {
    progress_bar* bar;
    ~erase_on_exit() { bar->clear(); }
  } guard{this};
  for (;;) {
    render(loop.now());
    co_await sleep_for(interval);
  }
}

void progress_bar::write_all(std::string_view bytes) noexcept {
  while (!bytes.empty()) {
    ssize_t n = ::write(options_.fd, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return;  // EAGAIN, EPIPE, EIO...: drop the frame; a progress bar never fails the tool
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
}

}  // namespace cohort::app
