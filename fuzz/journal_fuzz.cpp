// Fuzzes opening a journal file: whatever bytes the file holds, opening must
// either succeed (and the journal then work) or throw journal_error. Anything
// else (a crash, a sanitizer report, another exception) is a bug.
//
//   scripts/fuzz journal          (builds build-fuzz with clang and runs it)
//
// With JOURNAL_FUZZ_SEEDS=<dir> set, the target first writes a few valid
// journals there (new, with outcomes, reset by force), so the fuzzer starts
// from real SQLite pages rather than having to discover the file format.
#include <cohort/runner/journal.hpp>

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace {

namespace fs = std::filesystem;

const cohort::journal_fingerprint fuzz_run{{"command", "echo {}"}, {"inputs", "sha256:0"}};

fs::path scratch_dir() {
  static const fs::path dir = [] {
    std::string templ = (fs::temp_directory_path() / "cohort-journal-fuzz-XXXXXX").string();
    if (mkdtemp(templ.data()) == nullptr) std::abort();
    return fs::path(templ);
  }();
  return dir;
}

void remove_journal(const fs::path& p) {
  std::error_code ec;
  fs::remove(p, ec);
  fs::remove(p.string() + "-wal", ec);
  fs::remove(p.string() + "-shm", ec);
  fs::remove(p.string() + "-journal", ec);
}

/// Uses an opened journal the way the runner would.
void exercise(cohort::journal& j) {
  (void)j.is_done("a");
  (void)j.is_failed("a");
  (void)j.failed_keys();
  if (auto r = j.find("a")) (void)r->errors.size();
  j.record_done("a", 1, {1, "x"});
  j.record_failed("b", 2, {"e1", "e2"});
  j.close();
}

void write_seeds(const fs::path& out) {
  const fs::path p = scratch_dir() / "seed.db";
  auto save = [&](const char* name) {
    fs::copy_file(p, out / name, fs::copy_options::overwrite_existing);
  };
  remove_journal(p);
  { cohort::journal j(p, fuzz_run); }
  save("seed-empty.db");
  {
    cohort::journal j(p, fuzz_run);
    for (int i = 0; i < 40; ++i) j.record_done("k" + std::to_string(i), 1, {i, "t"});
    j.record_failed("a", 3, {"refused", "reset", "timeout"});
    j.record_done("k3");  // a superseded row
  }
  save("seed-outcomes.db");
  {
    cohort::journal j(p, {{"command", "ls {}"}}, {.force = true});
    j.record_failed("z", 1, {"e"});
  }
  save("seed-reset.db");
  remove_journal(p);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  if (const char* seeds = std::getenv("JOURNAL_FUZZ_SEEDS")) write_seeds(seeds);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const fs::path p = scratch_dir() / "fuzz.db";
  remove_journal(p);
  {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  try {
    cohort::journal j(p, fuzz_run);
    exercise(j);
  } catch (const cohort::journal_error& e) {
    // A different run: the reset path must hold up too.
    if (e.error_kind() == cohort::journal_error::kind::different_run) {
      try {
        cohort::journal j(p, fuzz_run, {.force = true});
        exercise(j);
      } catch (const cohort::journal_error&) {
      }
    }
  }
  return 0;
}
