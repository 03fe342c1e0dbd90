#include "cohort/tiles/failed_list.hpp"

#include "cohort/tiles/tiles_report.hpp"

#include <cohort/io/atomic_file.hpp>

#include <fmt/core.h>

#include <cerrno>
#include <cstdio>
#include <system_error>

namespace cohort::app::tiles {

std::string tsv_escaped(std::string_view field) {
  std::string out;
  out.reserve(field.size());
  for (const char c : field) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '\t': out += "\\t"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      default: out += c;
    }
  }
  return out;
}

std::string failed_list_line(const failed_tile& f, std::string_view url) {
  return fmt::format("{}\t{}\t{}\t{}\t{}\n", f.where.z, f.where.x, f.where.y, tsv_escaped(url),
                     tsv_escaped(f.reason));
}

std::string failed_list_text(const std::vector<failed_tile>& failed, const url_template& url) {
  std::string out(failed_list_header);
  std::string u;
  for (const auto& f : failed) {
    url.expand_into(u, f.where);
    out += failed_list_line(f, u);
  }
  return out;
}

void write_failed_list(const std::string& path, std::string_view text) {
  if (path != "-") {
    atomic_write(path, text);
    return;
  }
  if (std::fwrite(text.data(), 1, text.size(), stdout) != text.size() || std::fflush(stdout) != 0) {
    throw std::system_error(errno, std::generic_category(), "cannot write the failed list");
  }
}

std::string failed_tiles_json(const std::vector<failed_tile>& failed, const url_template& url,
                              std::size_t limit) {
  std::string out = "[";
  for (std::size_t i = 0; i < failed.size() && i < limit; ++i) {
    const auto& f = failed[i];
    if (i != 0) out += ", ";
    out +=
        fmt::format("{{\"z\": {}, \"x\": {}, \"y\": {}, \"url\": {}, \"error\": {}}}", f.where.z,
                    f.where.x, f.where.y, json_quoted(url.expand(f.where)), json_quoted(f.reason));
  }
  return out + "]";
}

}  // namespace cohort::app::tiles
