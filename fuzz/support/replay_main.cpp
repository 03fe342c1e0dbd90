// A libFuzzer-compatible driver for builds without libFuzzer (g++, the ASan
// and TSan trees): it runs a fuzz target over its seed corpus and then over
// deterministic mutations of the seeds, so CI exercises every parser's fuzz
// target and its invariants on every build. Real fuzzing (coverage-guided,
// for minutes or hours) is `scripts/fuzz`, with clang and libFuzzer.
//
//   fuzz-smoke-url_template [--runs N] [--seed S] CORPUS_DIR_OR_FILE...
//
// A crash or abort prints the failing input (hex) on stderr first.

#include <algorithm>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include <unistd.h>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);
extern "C" __attribute__((weak)) int LLVMFuzzerInitialize(int* argc, char*** argv);

namespace {

namespace fs = std::filesystem;
using bytes = std::vector<std::uint8_t>;

const bytes* current = nullptr;

void write_all(const char* s, std::size_t n) {
  while (n > 0) {
    const auto w = ::write(STDERR_FILENO, s, n);
    if (w <= 0) return;
    s += w;
    n -= static_cast<std::size_t>(w);
  }
}

extern "C" void on_fatal(int sig) {
  static const char digits[] = "0123456789abcdef";
  const char head[] = "\nfuzz-smoke: the failing input, in hex:\n";
  write_all(head, sizeof head - 1);
  if (current != nullptr) {
    char buf[2];
    for (const auto b : *current) {
      buf[0] = digits[b >> 4];
      buf[1] = digits[b & 15];
      write_all(buf, 2);
    }
  }
  write_all("\n", 1);
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

bytes read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Bytes that matter to the project's parsers (separators, placeholders, signs).
constexpr std::uint8_t interesting[] = {0,   1,   2,   3,   '\n', '\t', ',', '-', '+',  '%',
                                        '{', '}', ':', '.', '/',  ' ',  '0', '9', 0x7f, 0xff};

void mutate(bytes& b, const std::vector<bytes>& seeds, std::mt19937_64& rng) {
  auto pick = [&](std::size_t n) { return n == 0 ? 0 : static_cast<std::size_t>(rng() % n); };
  const int steps = 1 + static_cast<int>(rng() % 4);
  for (int s = 0; s < steps; ++s) {
    switch (rng() % 7) {
      case 0:  // flip a bit
        if (!b.empty()) b[pick(b.size())] ^= static_cast<std::uint8_t>(1u << (rng() % 8));
        break;
      case 1:  // set a byte to an interesting one
        if (!b.empty()) b[pick(b.size())] = interesting[pick(std::size(interesting))];
        break;
      case 2:  // insert a byte
        b.insert(b.begin() + static_cast<std::ptrdiff_t>(pick(b.size() + 1)),
                 rng() % 2 ? interesting[pick(std::size(interesting))]
                           : static_cast<std::uint8_t>(rng()));
        break;
      case 3:  // erase a range
        if (!b.empty()) {
          const auto at = pick(b.size());
          const auto n = 1 + pick(std::min<std::size_t>(8, b.size() - at));
          b.erase(b.begin() + static_cast<std::ptrdiff_t>(at),
                  b.begin() + static_cast<std::ptrdiff_t>(std::min(b.size(), at + n)));
        }
        break;
      case 4:  // duplicate a range
        if (!b.empty() && b.size() < 4096) {
          const auto at = pick(b.size());
          const auto n = 1 + pick(std::min<std::size_t>(16, b.size() - at));
          const bytes chunk(b.begin() + static_cast<std::ptrdiff_t>(at),
                            b.begin() + static_cast<std::ptrdiff_t>(std::min(b.size(), at + n)));
          b.insert(b.begin() + static_cast<std::ptrdiff_t>(pick(b.size() + 1)), chunk.begin(),
                   chunk.end());
        }
        break;
      case 5: {  // splice in a piece of another seed
        const auto& other = seeds[pick(seeds.size())];
        if (!other.empty() && b.size() < 4096) {
          const auto at = pick(other.size());
          const auto n = 1 + pick(std::min<std::size_t>(32, other.size() - at));
          b.insert(b.begin() + static_cast<std::ptrdiff_t>(pick(b.size() + 1)),
                   other.begin() + static_cast<std::ptrdiff_t>(at),
                   other.begin() + static_cast<std::ptrdiff_t>(std::min(other.size(), at + n)));
        }
        break;
      }
      default:  // truncate
        if (!b.empty()) b.resize(pick(b.size()));
        break;
    }
  }
}

int usage() {
  std::fputs("usage: fuzz-smoke-NAME [--runs N] [--seed S] CORPUS_DIR_OR_FILE...\n", stderr);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (LLVMFuzzerInitialize != nullptr) LLVMFuzzerInitialize(&argc, &argv);
  long runs = 2000;
  std::uint64_t seed = 1;
  std::vector<fs::path> paths;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if ((a == "--runs" || a == "--seed") && i + 1 < argc) {
      char* end = nullptr;
      const auto v = std::strtoull(argv[++i], &end, 10);
      if (end == argv[i] || *end != '\0') return usage();
      if (a == "--runs") {
        runs = static_cast<long>(v);
      } else {
        seed = v;
      }
    } else if (!a.empty() && a[0] == '-') {
      return usage();
    } else {
      paths.emplace_back(a);
    }
  }

  std::vector<bytes> seeds{bytes{}};
  for (const auto& p : paths) {
    std::error_code ec;
    if (fs::is_directory(p, ec)) {
      std::vector<fs::path> files;
      for (const auto& e : fs::directory_iterator(p)) {
        if (e.is_regular_file()) files.push_back(e.path());
      }
      std::sort(files.begin(), files.end());
      for (const auto& f : files) seeds.push_back(read_file(f));
    } else if (fs::is_regular_file(p, ec)) {
      seeds.push_back(read_file(p));
    } else {
      std::fprintf(stderr, "fuzz-smoke: no such corpus: %s\n", p.c_str());
      return 2;
    }
  }

  for (const int sig : {SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL}) std::signal(sig, on_fatal);

  for (const auto& s : seeds) {
    current = &s;
    LLVMFuzzerTestOneInput(s.data(), s.size());
  }
  std::mt19937_64 rng(seed);
  bytes input;
  for (long r = 0; r < runs; ++r) {
    input = seeds[static_cast<std::size_t>(rng() % seeds.size())];
    mutate(input, seeds, rng);
    current = &input;
    LLVMFuzzerTestOneInput(input.data(), input.size());
  }
  current = nullptr;
  std::printf("fuzz-smoke: %zu seeds and %ld mutations, no failure\n", seeds.size(), runs);
  return 0;
}
