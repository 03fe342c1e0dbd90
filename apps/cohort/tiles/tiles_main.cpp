#include "cohort/tiles/tiles_main.hpp"

#include "cohort/common/cli.hpp"
#include "cohort/common/progress_bar.hpp"
#include "cohort/common/shell_quote.hpp"
#include "cohort/exit_codes.hpp"
#include "cohort/tiles/pmtiles_output.hpp"
#include "cohort/tiles/pmtiles_source.hpp"
#include "cohort/tiles/tile_fetcher.hpp"
#include "cohort/tiles/tile_reader.hpp"
#include "cohort/tiles/tiles_cli.hpp"
#include "cohort/tiles/tiles_convert.hpp"
#include "cohort/tiles/tiles_ending.hpp"
#include "cohort/tiles/tiles_engine.hpp"
#include "cohort/tiles/tiles_merge.hpp"
#include "cohort/tiles/tiles_setup.hpp"

#include <cohort/runtime/run.hpp>
#include <cohort/task_group.hpp>

#include <fmt/core.h>
#include <malloc.h>

#include <cerrno>  // program_invocation_name (glibc)
#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace cohort::app::tiles {

namespace {

// The command to type to run this one again: the program as it was invoked
// (argv[0] of the process, e.g. "cohort" or "build/bin/cohort"), then "tiles"
// and its arguments.
std::string same_command(int argc, char** argv) {
  std::string cmd;
  append_shell_quoted(cmd, program_invocation_name);
  for (int i = 0; i < argc; ++i) {
    cmd += ' ';
    append_shell_quoted(cmd, argv[i]);
  }
  return cmd;
}

// The progress bar (none with --quiet).
std::unique_ptr<progress_bar> make_bar(const tiles_options& o, const tile_downloader& d) {
  if (o.quiet) return nullptr;
  progress_bar_options bo;
  bo.unit = "tiles";  // also when the tasks are byte ranges of an archive
  auto bar = std::make_unique<progress_bar>(d.progress(), std::move(bo));
  // Inside the total, as cohort run counts the jobs a --resume skips.
  bar->count_skipped(d.skipped_counter());
  bar->add_counter("missing", d.missing_counter());
  bar->track_bytes(d.bytes_counter());
  return bar;
}

// Runs the download on the real network, with its progress bar; signals
// held since the output was opened are let through once cohort::run listens.
run_outcome run_download(const tiles_options& o, tile_downloader& d, progress_bar* bar,
                         held_signals& held) {
  cohort::run_options ro;
  ro.grace = std::chrono::seconds(3);
  return cohort::run_with_outcome(
      [&](cohort::runtime& rt) -> cohort::task<int> {
        held.release();  // cohort::run handles them now
        // The fetcher lives in this frame: however the run ends, it goes
        // after the downloader's requests and before the loop.
        const std::unique_ptr<tile_fetcher> fetcher =
            o.archive.empty() ? make_http_fetcher(rt.loop(), o.concurrency, o.threads)
                              : make_archive_fetcher(rt.loop(), o);
        co_await with_task_group([&](task_group& g) -> task<> {
          if (bar != nullptr) g.spawn(bar->drive().named("progress bar"));
          co_await d.run(*fetcher, &rt.drain_requested());
          g.cancel();
        });
        co_return 0;
      },
      ro);
}

// Downloads into the prepared output and reports; `ended_by` is set to the
// signal that interrupted the download, if one did.
int download(const tiles_options& o, prepared_download& p, archive_index* archive,
             held_signals& held, const std::string& resume_command, int& ended_by) {
  tile_store& store = *p.store;
  const std::size_t failed_before = store.failed_tiles().size();
  std::optional<archive_plan> plan;
  if (archive != nullptr) {
    plan = plan_archive(o.archive, std::move(*archive), *p.set, store, o.refresh);
  }
  const auto d =
      plan ? std::make_unique<tile_downloader>(o, std::move(*p.set), store, std::move(*plan))
           : std::make_unique<tile_downloader>(o, std::move(*p.set), store);
  tile_downloader& downloader = *d;
  if (!o.quiet && failed_before > 0) {
    fmt::print(stderr, "cohort tiles: trying again {} tile{} that failed before\n", failed_before,
               failed_before == 1 ? "" : "s");
  }
  const std::unique_ptr<progress_bar> bar = make_bar(o, downloader);
  const auto started = std::chrono::steady_clock::now();
  const run_outcome ended = run_download(o, downloader, bar.get(), held);
  ended_by = ended.signal;
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const bool tiles_failed = !store.failed_tiles().empty();
  const int status = end_download(o, downloader, store, ended, elapsed, bar.get(), resume_command);
  if (output_kind_of(o.output) != tile_output_kind::pmtiles || ended.signal != 0 ||
      ended.code != 0 || downloader.stop_error()) {
    return status;
  }
  return build_archive(o, status, tiles_failed, ended_by);
}

// The whole of `cohort tiles`; `ended_by` is set to the signal that
// interrupted it, if one did.
int parse_and_download(int argc, char** argv, int& ended_by) {
  auto parsed = parse_tiles_cli(argc, argv);
  if (!parsed.options) return parsed.exit_code;
  if (!parsed.options->tilejson.empty() && !parsed.options->tilejson_applied) {
    if (auto code = fetch_tilejson(*parsed.options, ended_by)) return *code;
  }
  std::optional<archive_index> archive;
  if (!parsed.options->archive.empty()) {
    if (auto code = read_archive(*parsed.options, archive, ended_by)) return *code;
  }
  const tiles_options o = std::move(*parsed.options);
  std::optional<held_signals> held;
  prepared_download p = prepare_download(o, held);
  if (!p.store) return p.exit_code;
  try {
    return download(o, p, archive ? &*archive : nullptr, *held, same_command(argc, argv), ended_by);
  } catch (const std::exception& e) {
    fmt::print(stderr, "cohort tiles: {}\n", e.what());
    return exit_failed;
  }
}

// Tile bodies and libcurl's buffers come and go at the top of the heap:
// with glibc's defaults (trimmed above 128 KiB) the heap was given back to
// the kernel and taken again every few tiles, and each page taken again is
// a page fault: 0.5-0.8 a tile, 3-5 us of the 50-55 us of CPU a tile of a
// download (issue 17). Kept up to 8 MiB; blocks of up to 4 MiB (a large
// tile) from the heap rather than from mmap each time.
void keep_the_heap() noexcept {
#if defined(__GLIBC__)
  mallopt(M_TRIM_THRESHOLD, 8 << 20);
  mallopt(M_TOP_PAD, 1 << 20);
  mallopt(M_MMAP_THRESHOLD, 4 << 20);
#endif
}

}  // namespace

int tiles_main(int argc, char** argv) {
  keep_the_heap();
  // `cohort tiles convert IN OUT ...` and `cohort tiles merge PART... -o
  // OUT`: argv[0] is "tiles".
  if (argc >= 2 && std::string_view(argv[1]) == "convert") {
    return run_to_exit_status(convert_main, argc - 1, argv + 1);
  }
  if (argc >= 2 && std::string_view(argv[1]) == "merge") {
    return run_to_exit_status(merge_main, argc - 1, argv + 1);
  }
  // parse_and_download closes the tile store and writes the summary before
  // an interrupted download ends by its signal.
  return run_to_exit_status(parse_and_download, argc, argv);
}

}  // namespace cohort::app::tiles
