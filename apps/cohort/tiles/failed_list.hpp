#pragma once

/// \file
/// `--failed-list FILE` of `cohort tiles`: every tile on the output's failed
/// list, with its URL and last error, as a tab-separated file that other
/// tools read (a spreadsheet, `cut`, `awk -F'\t'`, Python's csv module with
/// `delimiter='\t'`, pandas' `read_csv(sep='\t')`):
///
///   z<TAB>x<TAB>y<TAB>url<TAB>error
///   14<TAB>8800<TAB>5373<TAB>https://b.host/14/8800/5373.png<TAB>HTTP status 403 (not retried)
///
/// One header line, then one line per failed tile in (z, x, y) order. In the
/// url and error fields a backslash, tab, newline and carriage return are
/// written `\\`, `\t`, `\n` and `\r` (the escapes of PostgreSQL's COPY text
/// format), so a line is always one tile with exactly five fields. A run in
/// which nothing failed writes the header alone.

#include "cohort/tiles/tile_store.hpp"
#include "cohort/tiles/url_template.hpp"

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace cohort::app::tiles {

/// The failed list's first line.
inline constexpr std::string_view failed_list_header = "z\tx\ty\turl\terror\n";

/// `field` with backslash, tab, newline and carriage return escaped.
///
///   tsv_escaped("a\tb\\c") == "a\\tb\\\\c"
std::string tsv_escaped(std::string_view field);

/// One line of the list for `f`, fetched from `url`, newline-terminated.
std::string failed_list_line(const failed_tile& f, std::string_view url);

/// The whole list: the header, then a line per failed tile, each with the
/// URL `url` gives it. Built in one string at the end of the run, beside
/// the store's own failed list, which the store keeps in memory anyway.
std::string failed_list_text(const std::vector<failed_tile>& failed, const url_template& url);

/// Writes `text` to `path` atomically (cohort::atomic_write: the name holds
/// the previous list or the whole new one, never a part), or to standard
/// output when `path` is "-". Throws std::system_error naming the path.
void write_failed_list(const std::string& path, std::string_view text);

/// The `failed_tiles` array of `--json`: the first `limit` failed tiles,
/// each {"z", "x", "y", "url", "error"}.
std::string failed_tiles_json(const std::vector<failed_tile>& failed, const url_template& url,
                              std::size_t limit);

}  // namespace cohort::app::tiles
