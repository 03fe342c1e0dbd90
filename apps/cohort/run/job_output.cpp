#include "cohort/run/job_output.hpp"

#include <utility>

namespace cohort::app::run {

job_printer::job_printer(output_style style, std::function<void()> before_write)
    : style_(style), before_write_(std::move(before_write)) {}

void job_printer::job_ended(std::uint64_t seq, const std::string& tag, std::string out,
                            std::string err) {
  // --line-buffer: complete lines were printed (or held, -k) as they came;
  // what is left is a last line without its newline, printed now that the
  // job is over (as GNU does).
  if (!style_.keep_order) {
    write(tag, out, err);
    return;
  }
  held& h = held_[seq];
  h.tag = tag;
  // Held lines (-k --line-buffer) come first; without them, no copy.
  if (h.out.empty()) {
    h.out = std::move(out);
  } else {
    h.out += out;
  }
  if (h.err.empty()) {
    h.err = std::move(err);
  } else {
    h.err += err;
  }
  settled_.insert(seq);
  print_in_order();
}

void job_printer::job_skipped(std::uint64_t seq) {
  if (!style_.keep_order) return;
  settled_.insert(seq);
  print_in_order();
}

void job_printer::print_in_order() {
  for (;;) {
    const auto h = held_.find(next_to_print_);
    const bool over = settled_.count(next_to_print_) != 0;
    if (h != held_.end() && (over || style_.line_buffer)) {
      write(h->second.tag, h->second.out, h->second.err);
      held_.erase(h);
    }
    if (!over) return;
    settled_.erase(next_to_print_);
    ++next_to_print_;
  }
}

std::function<void(std::string_view)> job_printer::line_sink(std::uint64_t seq,
                                                             const std::string& tag,
                                                             std::string& partial, bool to_err) {
  std::FILE* f = to_err ? style_.err : style_.out;
  return [this, seq, &tag, &partial, f, to_err](std::string_view chunk) {
    partial.append(chunk);
    const auto end = partial.rfind('\n');
    if (end == std::string::npos) return;
    const std::string_view lines = std::string_view(partial).substr(0, end + 1);
    if (style_.keep_order && seq != next_to_print_) {
      held& h = held_[seq];  // not the oldest yet
      h.tag = tag;
      (to_err ? h.err : h.out).append(lines);
    } else {
      if (before_write_) before_write_();
      write_tagged(f, tag, lines);
      std::fflush(f);
    }
    partial.erase(0, end + 1);
  };
}

void job_printer::flush() {
  for (auto& [seq, h] : held_) write(h.tag, h.out, h.err);
  held_.clear();
}

void job_printer::message(std::string_view line) {
  if (before_write_) before_write_();
  std::fwrite(line.data(), 1, line.size(), style_.err);
  std::fputc('\n', style_.err);
  std::fflush(style_.err);
}

void job_printer::write_through(std::string_view text) {
  if (before_write_) before_write_();
  std::fwrite(text.data(), 1, text.size(), style_.out);
  std::fflush(style_.out);
}

void job_printer::write(const std::string& tag, const std::string& out, const std::string& err) {
  if (out.empty() && err.empty()) return;
  if (before_write_) before_write_();
  write_tagged(style_.out, tag, out);
  std::fflush(style_.out);
  write_tagged(style_.err, tag, err);
  std::fflush(style_.err);
}

void job_printer::write_tagged(std::FILE* f, const std::string& tag, std::string_view text) {
  if (text.empty()) return;
  if (tag.empty()) {
    std::fwrite(text.data(), 1, text.size(), f);
    return;
  }
  std::string out;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    end = end == std::string_view::npos ? text.size() : end + 1;
    out += tag;
    out.append(text.substr(start, end - start));
    start = end;
  }
  std::fwrite(out.data(), 1, out.size(), f);
}

}  // namespace cohort::app::run
