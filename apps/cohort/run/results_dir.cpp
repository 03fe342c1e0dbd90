#include "cohort/run/results_dir.hpp"

#include "cohort/common/option_values.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <system_error>

namespace cohort::app::run {

namespace {

// A header name as Perl reads it as a number ("1a" is 1, "f1" is 0): GNU
// sorts the columns numerically first.
double perl_number(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n')) ++i;
  double sign = 1;
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) sign = s[i++] == '-' ? -1 : 1;
  double value = 0;
  for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i) value = value * 10 + (s[i] - '0');
  if (i < s.size() && s[i] == '.') {
    double scale = 0.1;
    for (++i; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i, scale /= 10) {
      value += (s[i] - '0') * scale;
    }
  }
  return sign * value;
}

void write_file(const std::string& path, std::string_view bytes) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) {
    throw std::runtime_error(
        fmt::format("--results: cannot write '{}': {}", path, std::strerror(errno)));
  }
  const bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  const int saved = errno;
  if (std::fclose(f) != 0 || !ok) {
    throw std::runtime_error(
        fmt::format("--results: cannot write '{}': {}", path, std::strerror(ok ? errno : saved)));
  }
}

void make_directories(const std::string& dir) {
  if (dir.empty()) return;
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    throw std::runtime_error(
        fmt::format("--results: cannot make directory '{}': {}", dir, ec.message()));
  }
}

}  // namespace

std::string results_dir_name(std::string_view value) {
  std::string name;
  name.reserve(value.size());
  for (const char c : value) {
    switch (c) {
      case '\\': name += "\\\\"; break;
      case '\t': name += "\\t"; break;
      case '\0': name += "\\0"; break;
      case '/': name += "\\_"; break;
      default: name.push_back(c);
    }
  }
  return name;
}

void check_results_name(std::string_view name) {
  auto ends_with = [&](std::string_view ext) {
    if (name.size() < ext.size()) return false;
    return std::equal(
        ext.begin(), ext.end(), name.end() - static_cast<std::ptrdiff_t>(ext.size()),
        [](char a, char b) { return a == std::tolower(static_cast<unsigned char>(b)); });
  };
  if (ends_with(".csv") || ends_with(".tsv") || ends_with(".json")) {
    throw usage_error(fmt::format(
        "--results '{}': GNU's single-file results (.csv, .tsv, .json) are not supported: give a "
        "directory (--results DIR) and read DIR/.../stdout, or use --joblog for the statuses",
        shown_in_message(name)));
  }
}

results_layout::results_layout(std::string name, std::vector<std::string> header, std::size_t width)
    : name_(std::move(name)), header_(std::move(header)), width_(width) {
  command_template t = command_template::compile(name_);
  if (t.has_replacement_strings()) tmpl_.emplace(std::move(t));
}

std::string results_layout::column_name(std::size_t column) const {
  if (column < header_.size() && !header_[column].empty()) return header_[column];
  return std::to_string(column + 1);
}

result_paths results_layout::paths_for(std::span<const std::string> args, std::uint64_t seq) const {
  if (tmpl_) {
    std::string out = tmpl_->expand(args, seq, 1);
    if (!out.empty() && out.back() == '/') return {out + "stdout", out + "stderr", out + "seq"};
    return {out, out + ".err", out + ".seq"};
  }
  const std::size_t width = width_ != 0 ? width_ : std::max<std::size_t>(1, args.size());
  std::vector<std::string> names(width);
  std::vector<std::size_t> order(width);
  for (std::size_t i = 0; i < width; ++i) {
    names[i] = column_name(i);
    order[i] = i;
  }
  std::stable_sort(order.begin(), order.end(), [&names](std::size_t a, std::size_t b) {
    const double na = perl_number(names[a]);
    const double nb = perl_number(names[b]);
    if (na != nb) return na < nb;
    return names[a] < names[b];
  });
  std::string dir = name_;
  // One record after another (-N): each names its own columns.
  for (std::size_t first = 0; first < args.size(); first += width) {
    for (const std::size_t column : order) {
      if (first + column >= args.size()) continue;
      dir += '/';
      dir += names[column];
      const std::string value = results_dir_name(args[first + column]);
      if (!value.empty()) {
        dir += '/';
        dir += value;
      }
    }
  }
  dir += '/';
  return {dir + "stdout", dir + "stderr", dir + "seq"};
}

void results_layout::save(std::span<const std::string> args, std::uint64_t seq,
                          std::string_view out, std::string_view err) const {
  const result_paths p = paths_for(args, seq);
  const std::size_t slash = p.out.rfind('/');
  if (slash != std::string::npos) make_directories(p.out.substr(0, slash));
  write_file(p.seq, std::to_string(seq));
  write_file(p.out, out);
  write_file(p.err, err);
}

}  // namespace cohort::app::run
