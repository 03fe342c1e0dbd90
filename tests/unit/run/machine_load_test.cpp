#include "cohort/run/machine_load.hpp"

#include "cohort/common/option_values.hpp"

#include <gtest/gtest.h>

namespace {

using namespace cohort::app::run;
using cohort::app::usage_error;

TEST(MachineLoad, TheLoadIsTheProcessesRunningOrBlockedNowLessTheReader) {
  const auto s = parse_machine_state("cpu 1 2 3\nprocs_running 4\nprocs_blocked 2\n",
                                     "MemTotal: 100 kB\nMemAvailable:   2048 kB\n");
  EXPECT_EQ(s.load, 5.0);
  EXPECT_EQ(s.mem_available, 2048u * 1024);
}

TEST(MachineLoad, WithoutMemAvailableTheMemoryIsGnusSum) {
  const auto s = parse_machine_state(
      "procs_running 1\n", "MemFree: 10 kB\nBuffers: 1 kB\nCached: 100 kB\nSwapCached: 2 kB\n");
  EXPECT_EQ(s.load, 0.0);
  EXPECT_EQ(s.mem_available, 113u * 1024);
  const auto none = parse_machine_state("", "");
  EXPECT_FALSE(none.load);
  EXPECT_FALSE(none.mem_available);
}

TEST(MachineLoad, TheRealMachineCanBeRead) {
  const auto s = proc_machine_probe().read();
  EXPECT_TRUE(s.load);
  EXPECT_TRUE(s.mem_available);
}

TEST(MachineLoad, AJobStartsBelowTheLoadAndWithEnoughMemoryAnUnknownLoadIsTooHigh) {
  const machine_limits load{.max_load = 2.0, .min_free = std::nullopt};
  EXPECT_TRUE(machine_allows(load, {.load = 1.0, .mem_available = std::nullopt}));
  EXPECT_FALSE(machine_allows(load, {.load = 2.0, .mem_available = std::nullopt}));  // GNU: >=
  EXPECT_FALSE(machine_allows(load, {}));
  const machine_limits mem{.max_load = std::nullopt, .min_free = 1000};
  EXPECT_TRUE(machine_allows(mem, {.load = 50.0, .mem_available = 1000}));
  EXPECT_FALSE(machine_allows(mem, {.load = 0.0, .mem_available = 999}));
  EXPECT_TRUE(machine_allows(mem, {}));
  EXPECT_FALSE(memory_critical(mem, {.load = 0.0, .mem_available = 500}));
  EXPECT_TRUE(memory_critical(mem, {.load = 0.0, .mem_available = 499}));
  EXPECT_FALSE(machine_limits{}.any());
}

TEST(MachineLoad, LoadTakesGnusForms) {
  EXPECT_DOUBLE_EQ(parse_load("3").resolve(8), 3);
  EXPECT_DOUBLE_EQ(parse_load("1.5").resolve(8), 1.5);
  EXPECT_DOUBLE_EQ(parse_load("100%").resolve(8), 8);
  EXPECT_DOUBLE_EQ(parse_load("50%").resolve(3), 1.5);
  EXPECT_DOUBLE_EQ(parse_load("+2").resolve(8), 10);
  EXPECT_DOUBLE_EQ(parse_load("-2").resolve(8), 6);
  EXPECT_DOUBLE_EQ(parse_load("-9").resolve(8), 0.01);  // GNU's floor
  EXPECT_DOUBLE_EQ(parse_load("0").resolve(8), 0.01);
  for (const char* bad : {"", "abc", "1.5%", "+1.5", "%", "2x", "-"}) {
    EXPECT_THROW((void)parse_load(bad), usage_error) << bad;
  }
}

TEST(MachineLoad, SizesHaveGnusBinaryAndDecimalPrefixes) {
  EXPECT_EQ(parse_gnu_size("1G", "--memfree"), 1ull << 30);
  EXPECT_EQ(parse_gnu_size("1g", "--memfree"), 1000000000ull);
  EXPECT_EQ(parse_gnu_size("1gi", "--memfree"), 1ull << 30);
  EXPECT_EQ(parse_gnu_size("2Ki", "--memfree"), 2048u);
  EXPECT_EQ(parse_gnu_size("512M", "--memfree"), 512ull << 20);
  EXPECT_EQ(parse_gnu_size("1k", "--memfree"), 1000u);
  EXPECT_EQ(parse_gnu_size("0.5G", "--memfree"), 1ull << 29);
  EXPECT_EQ(parse_gnu_size("4096", "--memfree"), 4096u);
  for (const char* bad : {"", "G", "1x", "1Gb", "-1G", "1GiB"}) {
    EXPECT_THROW((void)parse_gnu_size(bad, "--memfree"), usage_error) << bad;
  }
}

}  // namespace
