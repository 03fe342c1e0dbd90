// cohort-property: the generative contract tester (see contract.hpp).
//
//   cohort-property --seed 1 --trees 100000        # random trees, seeded
//   cohort-property --seed 1 --tree 4711            # replay one (printed on failure)
//   cohort-property --seed 1 --trees 1000000 --shard 2/2   # every 2nd tree, from the 2nd
//   cohort-property --avoid none                   # also hit the known holes of issue 11
//
// A failing tree prints the invariant it broke, a one-line command that
// replays it, the tree, and a shrunk tree that still breaks it.

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <stdexcept>
#include <string>

#include <signal.h>
#include <unistd.h>

#include "contract.hpp"

#ifndef COHORT_PROPERTY_AVOID_DEFAULT
#define COHORT_PROPERTY_AVOID_DEFAULT "1,5,7,8"
#endif

namespace prop = cohort::property;

namespace {

// A crash (a memory error, an assertion) cannot print the tree: it prints the
// command that replays it instead, prepared before each tree runs.
char crash_line[512];
std::size_t crash_len = 0;

extern "C" void on_crash(int sig) {
  if (crash_len > 0) {
    [[maybe_unused]] auto n = ::write(STDERR_FILENO, crash_line, crash_len);
  }
  std::raise(sig);  // SA_RESETHAND: the default action now
}

[[noreturn]] void usage(const char* argv0, const std::string& error) {
  if (!error.empty()) std::cerr << "cohort-property: " << error << "\n";
  std::cerr << "usage: " << argv0
            << " [--seed S] [--trees N | --tree I] [--shard K/N] [--avoid LIST|none]\n"
               "       [--max-nodes N] [--max-depth N] [--deep-chain N] [--max-failures N]\n"
               "       [--no-shrink] [--quiet]\n"
               "  --avoid: known holes of issue 11 whose grammar features are left out\n"
               "           (default " COHORT_PROPERTY_AVOID_DEFAULT ")\n";
  std::exit(2);
}

std::uint64_t number(const char* argv0, const std::string& flag, const char* v) {
  if (v == nullptr) usage(argv0, flag + " needs a value");
  try {
    std::size_t used = 0;
    const auto n = std::stoull(v, &used);
    if (used != std::string(v).size()) throw std::invalid_argument(v);
    return n;
  } catch (const std::exception&) {
    usage(argv0, flag + ": not a number: " + v);
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::uint64_t seed = 1;
  std::uint64_t trees = 1000;
  std::int64_t only = -1;
  std::uint64_t shard = 0, shards = 1;
  std::uint64_t max_failures = 3;
  bool do_shrink = true;
  bool quiet = false;
  std::string avoid = COHORT_PROPERTY_AVOID_DEFAULT;
  prop::options opts;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const char* v = i + 1 < argc ? argv[i + 1] : nullptr;
    if (a == "--seed") {
      seed = number(argv[0], a, v), ++i;
    } else if (a == "--trees") {
      trees = number(argv[0], a, v), ++i;
    } else if (a == "--tree") {
      only = static_cast<std::int64_t>(number(argv[0], a, v)), ++i;
    } else if (a == "--shard") {
      if (v == nullptr) usage(argv[0], "--shard needs K/N");
      const std::string s = v;
      const auto slash = s.find('/');
      if (slash == std::string::npos) usage(argv[0], "--shard needs K/N");
      shard = number(argv[0], a, s.substr(0, slash).c_str());
      shards = number(argv[0], a, s.substr(slash + 1).c_str());
      if (shards == 0 || shard == 0 || shard > shards)
        usage(argv[0], "--shard K/N needs 1 <= K <= N");
      --shard;
      ++i;
    } else if (a == "--avoid") {
      if (v == nullptr) usage(argv[0], "--avoid needs a list");
      avoid = v, ++i;
    } else if (a == "--max-nodes") {
      opts.max_nodes = static_cast<int>(number(argv[0], a, v)), ++i;
    } else if (a == "--max-depth") {
      opts.max_depth = static_cast<int>(number(argv[0], a, v)), ++i;
    } else if (a == "--deep-chain") {
      opts.deep_chain = static_cast<int>(number(argv[0], a, v)), ++i;
    } else if (a == "--max-failures") {
      max_failures = number(argv[0], a, v), ++i;
    } else if (a == "--no-shrink") {
      do_shrink = false;
    } else if (a == "--quiet") {
      quiet = true;
    } else if (a == "-h" || a == "--help") {
      usage(argv[0], "");
    } else {
      usage(argv[0], "unknown argument " + a);
    }
  }
  try {
    opts.avoid = prop::avoid_set::parse(avoid);
  } catch (const std::exception& e) {
    usage(argv[0], e.what());
  }

  std::string replay_flags = " --avoid " + opts.avoid.str();
  const prop::options defaults;
  if (opts.max_nodes != defaults.max_nodes)
    replay_flags += " --max-nodes " + std::to_string(opts.max_nodes);
  if (opts.max_depth != defaults.max_depth)
    replay_flags += " --max-depth " + std::to_string(opts.max_depth);
  if (opts.deep_chain != defaults.deep_chain)
    replay_flags += " --deep-chain " + std::to_string(opts.deep_chain);

  const auto started = std::chrono::steady_clock::now();
  std::uint64_t ran = 0, failed = 0, steps = 0, predicted = 0;
  std::map<std::string, std::uint64_t> by_invariant;
  const std::uint64_t first = only >= 0 ? static_cast<std::uint64_t>(only) : shard;
  const std::uint64_t last = only >= 0 ? first + 1 : trees;
  const std::uint64_t stride = only >= 0 ? 1 : shards;
  // On its own stack: a stack overflow (issue 11.5b) must still print.
  static char alt_stack[1 << 16];
  stack_t ss{};
  ss.ss_sp = alt_stack;
  ss.ss_size = sizeof alt_stack;
  ::sigaltstack(&ss, nullptr);
  struct sigaction sa {};
  sa.sa_handler = on_crash;
  sa.sa_flags = SA_ONSTACK | SA_RESETHAND;
  for (int sig : {SIGSEGV, SIGABRT, SIGBUS}) ::sigaction(sig, &sa, nullptr);
  for (std::uint64_t index = first; index < last; index += stride) {
    const int len = std::snprintf(crash_line, sizeof crash_line,
                                  "\ncohort-property: crashed in tree %llu; replay: %s --seed %llu "
                                  "--tree %llu%s\n",
                                  static_cast<unsigned long long>(index), argv[0],
                                  static_cast<unsigned long long>(seed),
                                  static_cast<unsigned long long>(index), replay_flags.c_str());
    crash_len = len > 0 ? std::min(static_cast<std::size_t>(len), sizeof crash_line - 1) : 0;
    prop::xorshift rng(prop::tree_seed(seed, index));
    const prop::tree t = prop::generate(rng, opts);
    const prop::outcome o = prop::run_tree(t);
    ++ran;
    steps += o.steps;
    predicted += o.predicted ? 1 : 0;
    if (o.violations.empty()) {
      if (only >= 0 && !quiet) std::cout << prop::dump(t) << "result: " << o.result << "\nok\n";
      continue;
    }
    ++failed;
    const std::string inv = prop::invariant_of(o.violations.front());
    const bool first_of_kind = by_invariant[inv]++ == 0;
    if (failed > max_failures && !first_of_kind && only < 0) continue;
    std::cout << "FAIL tree " << index << " (seed " << seed << "): " << o.violations.front()
              << "\n";
    for (std::size_t i = 1; i < o.violations.size(); ++i)
      std::cout << "  also: " << o.violations[i] << "\n";
    std::cout << "  replay: " << argv[0] << " --seed " << seed << " --tree " << index
              << replay_flags << "\n  result: " << o.result << "\n"
              << prop::dump(t);
    if (do_shrink) {
      const prop::tree small = prop::shrink(t, inv);
      const prop::outcome so = prop::run_tree(small);
      std::cout << "  shrunk to " << prop::size(small) << " statements/actions (from "
                << prop::size(t) << "), result: " << so.result << "\n";
      for (const auto& v : so.violations) std::cout << "  shrunk: " << v << "\n";
      std::cout << prop::dump(small);
    }
    std::cout << std::flush;
  }
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::cout << "cohort-property: seed " << seed << ", " << ran << " trees";
  if (shards > 1) std::cout << " (shard " << shard + 1 << "/" << shards << ")";
  std::cout << ", avoid " << opts.avoid.str() << ": " << failed << " failed";
  for (const auto& [inv, n] : by_invariant) std::cout << " [" << inv << " x" << n << "]";
  char rate[96];
  std::snprintf(rate, sizeof rate, " in %.2f s (%.0f trees/s, %llu predicted by the oracle)", secs,
                secs > 0 ? static_cast<double>(ran) / secs : 0.0,
                static_cast<unsigned long long>(predicted));
  std::cout << rate << std::endl;
  return failed == 0 ? 0 : 1;
}
