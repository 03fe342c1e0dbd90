// `cohort tiles merge` (tiles_merge.hpp).

#include "cohort/tiles/tiles_merge.hpp"

#include <cohort/runtime/run.hpp>
#include <cohort/sleep.hpp>
#include <cohort/task_group.hpp>

#include <fmt/core.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <map>
#include <memory>
#include <tuple>

#include "cohort/common/cli.hpp"
#include "cohort/common/option_values.hpp"
#include "cohort/common/progress_bar.hpp"
#include "cohort/exit_codes.hpp"
#include "cohort/tiles/pmtiles_writer.hpp"
#include "cohort/tiles/tile_fingerprint.hpp"
#include "cohort/tiles/tile_id.hpp"
#include "cohort/tiles/tile_reader.hpp"
#include "cohort/tiles/tile_store.hpp"

namespace cohort::app::tiles {

namespace {

namespace fs = std::filesystem;

std::string field(const cohort::fingerprint& fp, std::string_view name) {
  for (const fingerprint_field& f : fp) {
    if (f.name == name) return f.value;
  }
  return {};
}

// The input's part; a whole download is part 0/1.
work_part part_of(const merge_input& in) {
  const std::string text = field(*in.fingerprint, "part");
  if (text.empty()) return {0, 1};
  try {
    return parse_part(text, "", [](std::string_view) { return std::nullopt; });
  } catch (const usage_error&) {
    throw usage_error(fmt::format("input {}: its recorded part '{}' is not K/N", in.shown,
                                  shown_in_message(text)));
  }
}

// Throws when `in` is not of the download `first` is.
void check_same_download(const merge_input& first, const merge_input& in) {
  for (const fingerprint_field& f : *first.fingerprint) {
    if (f.name == "part") continue;
    const std::string other = field(*in.fingerprint, f.name);
    if (other == f.value) continue;
    throw usage_error(fmt::format(
        "inputs {} and {} are parts of different downloads: {} '{}' and '{}'", first.shown,
        in.shown, f.name, shown_in_message(f.value), shown_in_message(other)));
  }
}

std::string parts_text(const std::map<std::uint32_t, const merge_input*>& given, std::uint32_t n) {
  std::string out;
  for (const auto& [k, in] : given) out += (out.empty() ? "" : ", ") + work_part{k, n}.text();
  return out;
}

}  // namespace

cohort::fingerprint check_merge_parts(const std::vector<merge_input>& inputs,
                                      std::vector<merge_repeat>* repeats) {
  if (inputs.empty()) throw usage_error("give the parts to merge");
  for (const merge_input& in : inputs) {
    if (!in.fingerprint) {
      throw usage_error(
          fmt::format("input {} was not made by cohort tiles (no fingerprint)", in.shown));
    }
  }
  const std::uint32_t n = part_of(inputs.front()).count;
  std::map<std::uint32_t, const merge_input*> given;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const merge_input& in = inputs[i];
    check_same_download(inputs.front(), in);
    const work_part p = part_of(in);
    if (p.count != n) {
      throw usage_error(
          fmt::format("inputs {} ({}) and {} ({}) cut the download into different "
                      "numbers of parts",
                      inputs.front().shown, part_of(inputs.front()).text(), in.shown, p.text()));
    }
    const auto [at, added] = given.emplace(p.index, &in);
    if (!added && repeats != nullptr) {
      repeats->push_back({i, static_cast<std::size_t>(at->second - inputs.data())});
    } else if (!added) {
      throw usage_error(fmt::format("inputs {} and {} are both part {}; give each part once",
                                    at->second->shown, in.shown, p.text()));
    }
  }
  std::vector<std::string> missing;
  for (std::uint32_t k = 0; k < n && missing.size() < 10; ++k) {
    if (!given.contains(k)) missing.push_back(work_part{k, n}.text());
  }
  if (!missing.empty()) {
    std::string list = missing.front();
    for (std::size_t i = 1; i < missing.size(); ++i) list += ", " + missing[i];
    throw usage_error(fmt::format("{} {} {} missing (given: {})",
                                  missing.size() == 1 ? "part" : "parts", list,
                                  missing.size() == 1 ? "is" : "are", parts_text(given, n)));
  }
  cohort::fingerprint whole = *inputs.front().fingerprint;
  for (fingerprint_field& f : whole) {
    if (f.name == "part") f.value.clear();
  }
  return whole;
}

namespace {

std::string tile_text(const tile& t) {
  return fmt::format("{}/{}/{}", t.z, t.x, t.y);
}

// Both read in one canonical order: tile ID (PMTiles) or MBTiles'.
bool same_order(const tile_reader& a, const tile_reader& b) {
  return a.info().kind == b.info().kind && a.info().kind != tile_output_kind::directory;
}

bool before_in(tile_output_kind kind, const tile& a, const tile& b) {
  if (kind == tile_output_kind::pmtiles) return tile_id(a) < tile_id(b);
  // MBTiles: zoom, column, then TMS row (rows counted from the south).
  const auto row = [](const tile& t) { return (std::uint32_t{1} << t.z) - 1 - t.y; };
  return std::tuple(a.z, a.x, row(a)) < std::tuple(b.z, b.x, row(b));
}

std::optional<std::string> first_difference_in_order(tile_reader& a, tile_reader& b) {
  read_tile ta;
  read_tile tb;
  bool has_a = a.next(ta);
  bool has_b = b.next(tb);
  while (has_a || has_b) {
    if (has_a && has_b && ta.where == tb.where) {
      if (ta.bytes != tb.bytes) return fmt::format("tile {} differs", tile_text(ta.where));
      has_a = a.next(ta);
      has_b = b.next(tb);
      continue;
    }
    const bool a_first = !has_b || (has_a && before_in(a.info().kind, ta.where, tb.where));
    return fmt::format("tile {} is in one only", tile_text(a_first ? ta.where : tb.where));
  }
  return std::nullopt;
}

// An order-independent digest of a reader's tiles: their count and two sums
// of a 64-bit hash of (tile, bytes) under different seeds.
struct tiles_digest {
  std::uint64_t count = 0;
  std::uint64_t sum1 = 0;
  std::uint64_t sum2 = 0;
  friend bool operator==(const tiles_digest&, const tiles_digest&) = default;
};

std::uint64_t fnv1a(std::uint64_t h, std::string_view bytes) {
  for (const char c : bytes) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;
  }
  return h;
}

std::uint64_t mix(std::uint64_t h) {  // splitmix64's finalizer
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ULL;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebULL;
  return h ^ (h >> 31);
}

tiles_digest digest_of(tile_reader& in) {
  tiles_digest d;
  for (read_tile t; in.next(t);) {
    const std::uint64_t id = tile_id(t.where);
    const std::string_view key(reinterpret_cast<const char*>(&id), sizeof id);
    ++d.count;
    d.sum1 += mix(fnv1a(fnv1a(0xcbf29ce484222325ULL, key), t.bytes));
    d.sum2 += mix(fnv1a(fnv1a(0x84222325cbf29ce4ULL, t.bytes), key) ^ id);
  }
  return d;
}

}  // namespace

std::optional<std::string> first_difference(tile_reader& a, tile_reader& b) {
  if (same_order(a, b)) return first_difference_in_order(a, b);
  if (digest_of(a) == digest_of(b)) return std::nullopt;
  return std::string("they hold different tiles");
}

namespace {

struct merge_options {
  std::vector<std::string> inputs;
  std::string output;
  bool force = false;
  bool quiet = false;
  bool fsync = false;
};

// Where the merged tiles go: a tile store (directory, MBTiles), which keeps
// what an interrupted merge wrote, or a PMTiles archive, put in place at
// the end only.
class merge_sink {
 public:
  virtual ~merge_sink() = default;
  virtual bool has(const tile& t) const = 0;
  virtual void put(const tile& t, std::string_view bytes) = 0;
  // Puts the output in place; `complete` is false after an interruption.
  virtual void finish(bool complete) = 0;
};

class store_sink final : public merge_sink {
 public:
  explicit store_sink(std::unique_ptr<tile_store> store) : store_(std::move(store)) {}
  bool has(const tile& t) const override { return store_->has(t); }
  void put(const tile& t, std::string_view bytes) override {
    store_->put(t, bytes);
    store_->maybe_flush(std::chrono::steady_clock::now());
  }
  void finish(bool) override { store_->close(); }  // what is there stays: merge resumes

 private:
  std::unique_ptr<tile_store> store_;
};

class pmtiles_sink final : public merge_sink {
 public:
  pmtiles_sink(const fs::path& path, pmtiles_write_options o, bool fsync)
      : writer_(path, std::move(o)), fsync_(fsync) {}
  bool has(const tile&) const override { return false; }
  void put(const tile& t, std::string_view bytes) override { writer_.add(t, bytes); }
  void finish(bool complete) override {
    if (complete) writer_.finish(fsync_);  // else the destructor removes the temporaries
  }

 private:
  pmtiles_writer writer_;
  bool fsync_;
};

std::unique_ptr<merge_sink> open_sink(const merge_options& o, const cohort::fingerprint& whole,
                                      const tile_source_info& info) {
  if (output_kind_of(o.output) == tile_output_kind::pmtiles) {
    pmtiles_write_options po;
    po.name = info.name;
    po.description = info.description;
    po.attribution = info.attribution;
    po.json = info.json;
    po.fingerprint = whole;
    return std::make_unique<pmtiles_sink>(o.output, std::move(po), o.fsync);
  }
  tile_store_options so;
  so.force = o.force;
  so.fsync = o.fsync;
  so.format = info.format;
  so.name = info.name;
  so.description = info.description;
  so.attribution = info.attribution;
  so.json = info.json;
  return std::make_unique<store_sink>(
      open_tile_store(o.output, tile_fingerprint::from_fields(whole), so));
}

// Thrown inside the copy when the loop asked it to stop.
struct merge_interrupted {};

// Shared by the copy on a worker thread and the loop.
struct merge_state {
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> copied{0};
  std::atomic<std::uint64_t> skipped{0};
  bool finished = false;
  std::string error;
};

void copy_parts(const merge_options& o, const std::vector<std::unique_ptr<tile_reader>>& parts,
                merge_sink& sink, merge_state& s) {
  bool complete = false;
  try {
    for (const auto& in : parts) {
      for (read_tile t; in->next(t);) {
        if (s.stop.load()) throw merge_interrupted{};
        if (sink.has(t.where)) {
          s.skipped.fetch_add(1);
          continue;
        }
        sink.put(t.where, t.bytes);
        s.copied.fetch_add(1);
      }
    }
    complete = true;
    sink.finish(true);
    s.finished = true;
  } catch (const merge_interrupted&) {
  } catch (const std::exception& e) {
    s.error = fmt::format("output {}: {}", shown_in_message(o.output), e.what());
  }
  if (!complete) {
    try {
      sink.finish(false);
    } catch (const std::exception& e) {
      if (s.error.empty()) s.error = e.what();
    }
  }
}

// Mirrors the worker's counts into the progress the bar reads, on the loop;
// when it goes (a signal cancelled it), the copy stops.
task<> mirror_progress(merge_state& s, run_progress& p) {
  struct stop_on_exit {
    std::atomic<bool>& stop;
    ~stop_on_exit() { stop.store(true); }
  } guard{s.stop};
  for (;;) {
    p.done = s.copied.load();
    p.skipped = s.skipped.load();
    co_await sleep_for(std::chrono::milliseconds(50));
  }
}

// Runs the copy on a worker thread under cohort::run, with a progress bar
// unless -q; returns the signal that interrupted it, or 0.
int run_copy(const merge_options& o, const std::vector<std::unique_ptr<tile_reader>>& parts,
             merge_sink& sink, merge_state& s) {
  run_progress progress;
  std::optional<std::size_t> total = 0;
  for (const auto& in : parts) {
    if (!in->info().tile_count) total.reset();
    if (total) *total += *in->info().tile_count;
  }
  progress.total = total;
  std::optional<progress_bar> bar;
  progress_bar_options bo;
  bo.unit = "tiles";
  if (!o.quiet) bar.emplace(progress, std::move(bo));
  cohort::run_options ro;
  ro.grace = std::chrono::seconds(3);
  const run_outcome ended = cohort::run_with_outcome(
      [&](cohort::runtime& rt) -> cohort::task<int> {
        progress.begin = rt.loop().now();
        co_await with_task_group([&](task_group& g) -> task<> {
          if (bar) g.spawn(bar->drive().named("progress bar"));
          g.spawn(mirror_progress(s, progress).named("progress"));
          co_await rt.blocking().run([&] { copy_parts(o, parts, sink, s); });
          g.cancel();
        });
        co_return 0;
      },
      ro);
  progress.done = s.copied.load();
  progress.skipped = s.skipped.load();
  if (bar) bar->finish("");
  return ended.signal;
}

constexpr const char* merge_description =
    R"(cohort tiles merge: put the parts of a download together

Usage:
  cohort tiles merge PART... -o OUT [options]

PART... are the outputs of `cohort tiles --part K/N` (directories, MBTiles
files, PMTiles archives; mixed is fine), all N of them. They must come from
the same --url, area and --zoom (their recorded fingerprints say so), and
each part must be given: a missing part is an error naming it. A part
given twice is merged once if both inputs hold the same tiles, else
refused, naming the first tile that differs. OUT is a PMTiles archive if it ends in .pmtiles, an MBTiles file if
.mbtiles, else a tile directory; it records the whole download's
fingerprint, so `cohort tiles` without --part can resume into it.
)";

constexpr const char* merge_footer = R"(Examples:
  cohort tiles merge part-0.mbtiles part-1.mbtiles part-2.mbtiles -o city.mbtiles
  cohort tiles merge parts/*.mbtiles -o city.pmtiles

Signals: Ctrl+C (SIGINT) or SIGTERM stops the merge; a directory or MBTiles
OUT keeps what was merged and merging again resumes; a PMTiles OUT is left
as it was.

Exit status: 0 merged; 1 failed while writing; 2 usage or input error;
130/143 interrupted by SIGINT/SIGTERM.
)";

std::optional<int> parse(int argc, char** argv, merge_options& o) {
  CLI::App app(merge_description, "cohort tiles merge");
  set_up_cli(app, "tiles merge");
  app.footer(merge_footer);
  app.add_option("PART", o.inputs, "the parts' outputs")->required();
  add_value(app, "-o,--output", o.output, "OUT", "Output", "where the merged tiles go");
  app.add_flag("--force", o.force, "overwrite an OUT made by another download")->group("Output");
  app.add_flag("--fsync", o.fsync, "durable against power loss (slower)")->group("Output");
  app.add_flag("-q,--quiet", o.quiet, "no progress bar, no summary line")->group(other_group);
  return parse_command_line(app, "tiles merge", argc, argv, exit_usage, [&] {
    if (o.output.empty()) throw usage_error("-o/--output is required");
  });
}

// Checks that an input repeating a part holds what the part's first input
// does (the same file given twice does).
void check_repeat(const merge_options& o, const merge_repeat& r) {
  const std::string& first = o.inputs[r.of];
  const std::string& again = o.inputs[r.repeat];
  std::error_code ec;
  if (fs::equivalent(first, again, ec)) return;
  const std::unique_ptr<tile_reader> a = open_tile_reader(first);
  const std::unique_ptr<tile_reader> b = open_tile_reader(again);
  if (auto why = first_difference(*a, *b)) {
    throw usage_error(fmt::format("inputs {} and {} are both part {} and differ: {}",
                                  shown_in_message(first), shown_in_message(again),
                                  field(*a->info().fingerprint, "part"), *why));
  }
}

// Opens every part and checks them; returns the download's fingerprint.
// A part given twice that holds the same tiles is read once.
cohort::fingerprint open_parts(const merge_options& o,
                               std::vector<std::unique_ptr<tile_reader>>& parts) {
  std::vector<merge_input> inputs;
  std::error_code ec;
  for (const std::string& path : o.inputs) {
    if (fs::equivalent(path, o.output, ec)) {
      throw usage_error("input and output are the same: " + shown_in_message(path));
    }
    parts.push_back(open_tile_reader(path));
    inputs.push_back({shown_in_message(path), parts.back()->info().fingerprint});
  }
  std::vector<merge_repeat> repeats;
  cohort::fingerprint whole = check_merge_parts(inputs, &repeats);
  for (const merge_repeat& r : repeats) check_repeat(o, r);
  // Last first, so that the indexes still to erase stay valid.
  std::for_each(repeats.rbegin(), repeats.rend(), [&parts](const merge_repeat& r) {
    parts.erase(parts.begin() + static_cast<std::ptrdiff_t>(r.repeat));
  });
  return whole;
}

int report(const merge_options& o, const merge_state& s, int signal, double seconds,
           int& ended_by) {
  if (signal != 0) {
    ended_by = signal;
    fmt::print(stderr, "cohort tiles merge: interrupted by {} after {} tiles; {}\n",
               signal == SIGINT ? "SIGINT" : "SIGTERM", format_count(s.copied.load()),
               output_kind_of(o.output) == tile_output_kind::pmtiles
                   ? o.output + " left as it was"
                   : "the same command resumes into " + o.output);
    return 128 + signal;
  }
  if (!s.error.empty()) {
    fmt::print(stderr, "cohort tiles merge: {}\n", s.error);
    return exit_failed;
  }
  if (!o.quiet) {
    fmt::print(stderr,
               "cohort tiles merge: {} tiles from {} parts -> {} ({} already there) in {:.1f} s\n",
               format_count(s.copied.load()), o.inputs.size(), o.output,
               format_count(s.skipped.load()), seconds);
  }
  return exit_ok;
}

}  // namespace

int merge_main(int argc, char** argv, int& ended_by) {
  merge_options o;
  if (auto code = parse(argc, argv, o)) return *code;
  std::vector<std::unique_ptr<tile_reader>> parts;
  std::unique_ptr<merge_sink> sink;
  try {
    const cohort::fingerprint whole = open_parts(o, parts);
    sink = open_sink(o, whole, parts.front()->info());
  } catch (const std::exception& e) {
    fmt::print(stderr, "cohort tiles merge: {}\n", e.what());
    return exit_usage;
  }
  merge_state s;
  const auto started = std::chrono::steady_clock::now();
  const int signal = run_copy(o, parts, *sink, s);
  sink.reset();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return report(o, s, signal, seconds, ended_by);
}

}  // namespace cohort::app::tiles
