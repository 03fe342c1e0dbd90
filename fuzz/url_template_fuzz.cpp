// libFuzzer target: url_template::parse and expand.
//
// Input: the first line is a --subdomains value, the rest is the --url
// template. Parsing either may fail with usage_error (that is fine); any
// other exception, a crash or a broken invariant is a bug.

#include "cohort/tiles/url_template.hpp"

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "cohort/tiles/tile_args.hpp"

namespace {

using cohort::app::usage_error;
using cohort::app::tiles::tile;
using cohort::app::tiles::url_template;

void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::size_t newline = input.find('\n');
  const std::string_view subdomain_text = input.substr(0, newline);
  const std::string_view template_text =
      newline == std::string_view::npos ? std::string_view{} : input.substr(newline + 1);

  std::vector<std::string> subdomains;
  bool clean_subdomains = true;
  try {
    subdomains = cohort::app::tiles::parse_subdomains(subdomain_text);
  } catch (const usage_error&) {
    // Raw bytes as one subdomain: url_template must still cope.
    clean_subdomains = false;
    if (!subdomain_text.empty()) subdomains.emplace_back(subdomain_text);
  }

  url_template url;
  try {
    url = url_template::parse(template_text, subdomains);
  } catch (const usage_error& e) {
    check(std::string_view(e.what()).find('\n') == std::string_view::npos);
    return 0;
  }

  check(url.text() == template_text);
  const std::string_view ext = url.extension();
  check(ext.empty() || ext == ".png" || ext == ".jpg" || ext == ".jpeg" || ext == ".webp" ||
        ext == ".gif" || ext == ".pbf" || ext == ".mvt");

  const std::uint32_t last = (std::uint32_t{1} << 30) - 1;
  const std::uint32_t salt = static_cast<std::uint32_t>(size * 2654435761u);
  const tile tiles[] = {
      {0, 0, 0},
      {1, 1, 0},
      {14, 8800, 5373},
      {30, last, last},
      {20, salt & ((1u << 20) - 1), (salt >> 7) & ((1u << 20) - 1)},
  };
  std::string buffer;
  for (const tile& t : tiles) {
    const std::string url_text = url.expand(t);
    url.expand_into(buffer, t);
    check(buffer == url_text);
    // Literals cannot hold braces and clean subdomains hold none either, so
    // every placeholder was replaced.
    if (clean_subdomains) {
      check(url_text.find_first_of("{}") == std::string::npos);
    }
    // The scheme is a literal, so it comes through unchanged. (The host may
    // be empty: "http://{q}" at zoom 0.)
    check(url_text.compare(0, 7, url.text(), 0, 7) == 0);
  }
  return 0;
}
