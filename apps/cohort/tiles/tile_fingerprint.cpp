// tile_fingerprint's canonical text (tile_fingerprint.hpp).

#include "cohort/tiles/tile_fingerprint.hpp"

#include <algorithm>
#include <utility>

#include "cohort/tiles/tile_args.hpp"
#include "cohort/tiles/tile_formats.hpp"

namespace cohort::app::tiles {

using detail::append_number;

std::string tile_fingerprint::boxes_text() const {
  std::vector<std::string> items;
  for (const bbox& b : boxes) {
    std::string s;
    append_number(s, b.west);
    s += ',';
    append_number(s, b.south);
    s += ',';
    append_number(s, b.east);
    s += ',';
    append_number(s, b.north);
    items.push_back(std::move(s));
  }
  std::sort(items.begin(), items.end());
  items.erase(std::unique(items.begin(), items.end()), items.end());
  std::string out;
  for (const std::string& s : items) {
    if (!out.empty()) out += ' ';
    out += s;
  }
  if (!area.empty()) {
    if (!out.empty()) out += ' ';
    out += area;
  }
  return out;
}

std::string tile_fingerprint::zooms_text() const {
  std::vector<int> z(zooms);
  std::sort(z.begin(), z.end());
  z.erase(std::unique(z.begin(), z.end()), z.end());
  std::string out;
  for (std::size_t i = 0; i < z.size();) {
    std::size_t j = i;
    while (j + 1 < z.size() && z[j + 1] == z[j] + 1) ++j;
    if (!out.empty()) out += ',';
    out += std::to_string(z[i]);
    if (j > i) out += '-' + std::to_string(z[j]);
    i = j + 1;
  }
  return out;
}

cohort::fingerprint tile_fingerprint::fields() const {
  return {{"url_template", url_template},
          {"boxes", boxes_text()},
          {"zooms", zooms_text()},
          {"part", part}};
}

tile_fingerprint tile_fingerprint::from_fields(const cohort::fingerprint& recorded) {
  tile_fingerprint fp;
  for (const fingerprint_field& f : recorded) {
    if (f.name == "url_template") fp.url_template = f.value;
    if (f.name == "zooms" && !f.value.empty()) fp.zooms = parse_zooms(f.value);
    if (f.name == "part") fp.part = f.value;
    if (f.name != "boxes") continue;
    std::size_t at = 0;
    while (at < f.value.size()) {
      std::size_t end = f.value.find(' ', at);
      if (end == std::string::npos) end = f.value.size();
      const std::string_view item = std::string_view(f.value).substr(at, end - at);
      if (item.starts_with("area:")) {
        fp.area = std::string(item);
      } else {
        fp.boxes.push_back(parse_bbox(item));
      }
      at = end + 1;
    }
  }
  return fp;
}

}  // namespace cohort::app::tiles
