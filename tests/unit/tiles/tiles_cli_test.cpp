#include "cohort/tiles/tiles_cli.hpp"

#include "cohort/tiles/tile_args.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <initializer_list>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

namespace {

using cohort::app::usage_error;
using cohort::app::tiles::parse_tiles_cli;
using cohort::app::tiles::tiles_parse_result;

// Sends stderr (fd 2) to /dev/null while it lives.
class silenced_stderr {
 public:
  silenced_stderr() {
    std::fflush(stderr);
    saved_ = dup(2);
    const int null = open("/dev/null", O_WRONLY);
    dup2(null, 2);
    close(null);
  }
  silenced_stderr(const silenced_stderr&) = delete;
  silenced_stderr& operator=(const silenced_stderr&) = delete;
  ~silenced_stderr() {
    std::fflush(stderr);
    dup2(saved_, 2);
    close(saved_);
  }

 private:
  int saved_;
};

// Parses `cohort tiles ARGS...` with stderr silenced (errors are checked
// through the exit code; their wording is tested in the integration test).
tiles_parse_result parse(std::initializer_list<const char*> args) {
  std::vector<std::string> words{"tiles"};
  words.insert(words.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& w : words) argv.push_back(w.data());
  silenced_stderr quiet;
  return parse_tiles_cli(static_cast<int>(argv.size()), argv.data());
}

TEST(parse_tiles_cli, defaults_are_polite) {
  auto r = parse({"--bbox", "13.08,52.33,13.76,52.68", "--zoom", "10-12", "--url",
                  "https://{s}.t.example/{z}/{x}/{y}.png", "-o", "city.mbtiles"});
  ASSERT_TRUE(r.options);
  const auto& o = *r.options;
  EXPECT_EQ(o.concurrency, 4u);
  EXPECT_EQ(o.retries, 5);
  EXPECT_EQ(o.rate, 0.0);
  EXPECT_TRUE(o.user_agent.empty());  // http_client sends cohort/VERSION
  EXPECT_EQ(o.zooms, (std::vector<int>{10, 11, 12}));
  EXPECT_EQ(o.url.subdomains(), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(o.max_tile_bytes, 4u * 1024 * 1024);
  EXPECT_EQ(o.connect_timeout, 10s);
  EXPECT_EQ(o.output, "city.mbtiles");
}

TEST(parse_tiles_cli, reads_every_option) {
  auto r = parse({"-b",
                  "1,1,2,2",
                  "-b",
                  "170,-20,-170,-10",
                  "-z",
                  "3",
                  "-u",
                  "http://h/{z}/{x}/{-y}",
                  "-o",
                  "out",
                  "-j",
                  "16",
                  "--rate",
                  "2.5",
                  "--retries",
                  "0",
                  "--retry-delay",
                  "0.25",
                  "--connect-timeout",
                  "3",
                  "--request-timeout",
                  "0",
                  "--stall-timeout",
                  "5",
                  "--user-agent",
                  "me/1 (me@example.org)",
                  "-H",
                  "Referer: x",
                  "--header",
                  "X-A: b",
                  "--max-tile-bytes",
                  "512k",
                  "--refresh",
                  "--strict",
                  "--fsync",
                  "--quiet",
                  "--json",
                  "--subdomains",
                  "x,y"});
  ASSERT_TRUE(r.options);
  const auto& o = *r.options;
  EXPECT_EQ(o.boxes.size(), 2u);
  EXPECT_TRUE(o.boxes[1].crosses_antimeridian());
  EXPECT_EQ(o.concurrency, 16u);
  EXPECT_EQ(o.rate, 2.5);
  EXPECT_EQ(o.retries, 0);
  EXPECT_EQ(o.retry_delay, 250ms);
  EXPECT_EQ(o.connect_timeout, 3s);
  EXPECT_EQ(o.request_timeout, 0s);
  EXPECT_EQ(o.stall_timeout, 5s);
  EXPECT_EQ(o.user_agent, "me/1 (me@example.org)");
  EXPECT_EQ(o.headers, (std::vector<std::string>{"Referer: x", "X-A: b"}));
  EXPECT_EQ(o.max_tile_bytes, 512u * 1024);
  EXPECT_TRUE(o.refresh && o.strict && o.fsync && o.quiet && o.json);
  EXPECT_FALSE(o.force || o.dry_run);
}

TEST(parse_tiles_cli, reads_the_metadata_options) {
  auto r = parse({"--bbox", "1,1,2,2", "--zoom", "3", "--url", "http://h/{z}/{x}/{y}.png", "-o",
                  "o.mbtiles", "--name", "My map", "--description", "A test", "--attribution",
                  "(c) me"});
  ASSERT_TRUE(r.options);
  EXPECT_EQ(r.options->name, "My map");
  EXPECT_EQ(r.options->description, "A test");
  EXPECT_EQ(r.options->attribution, "(c) me");
}

TEST(parse_tiles_cli, retina_needs_r_in_the_url) {
  EXPECT_EQ(parse({"--bbox", "1,1,2,2", "--zoom", "3", "--url", "http://h/{z}/{x}/{y}.png", "-o",
                   "o", "--retina"})
                .exit_code,
            2);
  auto r = parse({"--bbox", "1,1,2,2", "--zoom", "3", "--url", "http://h/{z}/{x}/{y}{r}.png", "-o",
                  "o", "--retina"});
  ASSERT_TRUE(r.options);
  EXPECT_EQ(r.options->url.expand({3, 1, 2}), "http://h/3/1/2@2x.png");
}

TEST(parse_tiles_cli, usage_errors_exit_2) {
  const char* url = "http://h/{z}/{x}/{y}.png";
  EXPECT_EQ(parse({"--zoom", "3", "--url", url, "-o", "o"}).exit_code, 2);            // no --bbox
  EXPECT_EQ(parse({"--bbox", "1,1,2,2", "--url", url, "-o", "o"}).exit_code, 2);      // no --zoom
  EXPECT_EQ(parse({"--bbox", "1,1,2,2", "--zoom", "3", "-o", "o"}).exit_code, 2);     // no --url
  EXPECT_EQ(parse({"--bbox", "1,1,2,2", "--zoom", "3", "--url", url}).exit_code, 2);  // no -o
  EXPECT_EQ(parse({"--bbox", "1,1,2,2", "--zoom", "31", "--url", url, "-o", "o"}).exit_code, 2);
  EXPECT_EQ(
      parse({"--bbox", "1,1,2,2", "--zoom", "3", "--url", url, "-o", "o", "-j", "0"}).exit_code, 2);
  EXPECT_EQ(parse({"--bbox", "1,1,2,2", "--zoom", "3", "--url", url, "-o", "o", "--header", "x"})
                .exit_code,
            2);
  EXPECT_EQ(
      parse({"--bbox", "1,1,2,2", "--zoom", "3", "--url", url, "-o", "o", "--force", "--refresh"})
          .exit_code,
      2);
  EXPECT_FALSE(
      parse({"--bbox", "1,1,2,2", "--zoom", "3", "--url", url, "-o", "o", "--nope"}).options);
}

TEST(parse_tiles_cli, dry_run_needs_no_output) {
  auto r =
      parse({"--bbox", "1,1,2,2", "--zoom", "3", "--url", "http://h/{z}/{x}/{y}", "--dry-run"});
  ASSERT_TRUE(r.options);
  EXPECT_TRUE(r.options->dry_run);
}

TEST(parse_tiles_cli, failed_list_takes_a_file_or_dash_but_not_dash_with_json) {
  const char* url = "http://h/{z}/{x}/{y}.png";
  auto r = parse({"--bbox", "1,1,2,2", "--zoom", "3", "--url", url, "-o", "o"});
  ASSERT_TRUE(r.options);
  EXPECT_EQ(r.options->failed_list, "");
  r = parse({"--bbox", "1,1,2,2", "--zoom", "3", "--url", url, "-o", "o", "--failed-list", "f.tsv",
             "--json"});
  ASSERT_TRUE(r.options);
  EXPECT_EQ(r.options->failed_list, "f.tsv");
  r = parse({"--bbox", "1,1,2,2", "--zoom", "3", "--url", url, "-o", "o", "--failed-list", "-"});
  ASSERT_TRUE(r.options);
  EXPECT_EQ(r.options->failed_list, "-");
  // Both would write to stdout.
  EXPECT_EQ(parse({"--bbox", "1,1,2,2", "--zoom", "3", "--url", url, "-o", "o", "--failed-list",
                   "-", "--json"})
                .exit_code,
            2);
  // It would replace the tiles.
  EXPECT_EQ(parse({"--bbox", "1,1,2,2", "--zoom", "3", "--url", url, "-o", "city.mbtiles",
                   "--failed-list", "./city.mbtiles"})
                .exit_code,
            2);
}

TEST(parse_tiles_cli, durations_take_the_same_forms_as_cohort_run) {
  // 0.5, 500ms, 2s, 1m, as `cohort run` takes them (--retry-delay 1s was refused).
  const char* url = "http://h/{z}/{x}/{y}.png";
  auto r =
      parse({"--bbox", "1,1,2,2", "--zoom", "3", "--url", url, "-o", "o", "--retry-delay", "1s",
             "--connect-timeout", "500ms", "--request-timeout", "1m", "--stall-timeout", "0.5"});
  ASSERT_TRUE(r.options);
  EXPECT_EQ(r.options->retry_delay, 1s);
  EXPECT_EQ(r.options->connect_timeout, 500ms);
  EXPECT_EQ(r.options->request_timeout, 60s);
  EXPECT_EQ(r.options->stall_timeout, 500ms);
  // A non-zero duration never rounds down to 0 ("none").
  r = parse(
      {"--bbox", "1,1,2,2", "--zoom", "3", "--url", url, "-o", "o", "--request-timeout", "0.0001"});
  ASSERT_TRUE(r.options);
  EXPECT_EQ(r.options->request_timeout, 1ms);
  for (const char* bad : {"-1", "1x", "nan", "2000000"}) {
    EXPECT_EQ(
        parse({"--bbox", "1,1,2,2", "--zoom", "3", "--url", url, "-o", "o", "--retry-delay", bad})
            .exit_code,
        2)
        << bad;
  }
}

TEST(parse_tiles_cli, sizes_and_counts_are_checked) {
  const char* url = "http://h/{z}/{x}/{y}.png";
  auto r = parse({"--bbox", "1,1,2,2", "--zoom", "3", "--url", url, "-o", "o", "--max-tile-bytes",
                  "2m", "-j", "1024", "--retries", "100", "--rate", "0"});
  ASSERT_TRUE(r.options);
  EXPECT_EQ(r.options->max_tile_bytes, 2u * 1024 * 1024);
  EXPECT_EQ(r.options->concurrency, 1024u);
  EXPECT_EQ(r.options->retries, 100);
  for (std::initializer_list<const char*> bad :
       {std::initializer_list<const char*>{"--max-tile-bytes", "0"},
        {"--max-tile-bytes", "4Q"},
        {"-j", "1025"},
        {"-j", "x"},
        {"--retries", "101"},
        {"--retries", "-1"},
        {"--rate", "-1"},
        {"--rate", "fast"},
        {"--threads", "0"},
        {"--threads", "x"},
        {"--threads", "257"}}) {
    std::vector<const char*> args{"--bbox", "1,1,2,2", "--zoom", "3", "--url", url, "-o", "o"};
    args.insert(args.end(), bad.begin(), bad.end());
    std::vector<std::string> words{"tiles"};
    words.insert(words.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& w : words) argv.push_back(w.data());
    silenced_stderr quiet;
    EXPECT_EQ(parse_tiles_cli(static_cast<int>(argv.size()), argv.data()).exit_code, 2)
        << *bad.begin() << " " << *(bad.begin() + 1);
  }
}

TEST(parse_tiles_cli, threads_default_to_the_cores_unless_few_connections) {
  const char* url = "http://h/{z}/{x}/{y}.png";
  const auto threads = [url](std::initializer_list<const char*> extra) {
    std::vector<const char*> args{"--bbox", "1,1,2,2", "--zoom", "3", "--url", url, "-o", "o"};
    args.insert(args.end(), extra.begin(), extra.end());
    std::vector<std::string> words{"tiles"};
    words.insert(words.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& w : words) argv.push_back(w.data());
    const auto r = parse_tiles_cli(static_cast<int>(argv.size()), argv.data());
    return r.options ? r.options->threads : 0;
  };
  const std::size_t cores = std::max(1U, std::thread::hardware_concurrency());
  EXPECT_EQ(threads({}), std::min<std::size_t>(cores, 4));  // -j 4
  EXPECT_EQ(threads({"-j", "16"}), std::min<std::size_t>(cores, 16));
  EXPECT_EQ(threads({"-j", "3"}), 1u);  // below 4: one loop
  EXPECT_EQ(threads({"-j", "3", "--threads", "2"}), 2u);
  EXPECT_EQ(threads({"-j", "16", "--threads", "1"}), 1u);
  EXPECT_EQ(threads({"-j", "16", "--threads", "256"}), 16u);  // never more than -j
  EXPECT_EQ(threads({"-j", "2", "--threads", "8"}), 2u);
}

TEST(parse_tiles_cli, area_reads_geojson_and_excludes_bbox) {
  char path[] = "/tmp/tiles-cli-area-XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  const std::string text =
      R"({"type":"Polygon","coordinates":[[[0,0],[10,0],[10,10],[0,10],[0,0]]]})";
  ASSERT_EQ(write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
  close(fd);
  const char* url = "http://h/{z}/{x}/{y}.png";
  auto r = parse({"--area", path, "--buffer", "2", "--zoom", "3", "--url", url, "-o", "o"});
  ASSERT_TRUE(r.options);
  ASSERT_TRUE(r.options->area);
  EXPECT_EQ(r.options->area->buffer(), 2);
  EXPECT_TRUE(r.options->boxes.empty());
  EXPECT_EQ(parse({"--area", path, "--bbox", "1,1,2,2", "--zoom", "3", "--url", url, "-o", "o"})
                .exit_code,
            2);
  EXPECT_EQ(parse({"--bbox", "1,1,2,2", "--buffer", "1", "--zoom", "3", "--url", url, "-o", "o"})
                .exit_code,
            2);
  EXPECT_EQ(
      parse({"--area", path, "--buffer", "65", "--zoom", "3", "--url", url, "-o", "o"}).exit_code,
      2);
  unlink(path);
  EXPECT_EQ(parse({"--area", path, "--zoom", "3", "--url", url, "-o", "o"}).exit_code, 2);
}

}  // namespace
