#include "cohort/common/part.hpp"

#include <map>
#include <string>

#include <gtest/gtest.h>

#include "cohort/common/option_values.hpp"

namespace {

using cohort::app::parse_part;
using cohort::app::usage_error;
using cohort::app::work_part;

using env_map = std::map<std::string, std::string, std::less<>>;

cohort::app::environment_reader reader(env_map env) {
  return [env = std::move(env)](std::string_view name) -> std::optional<std::string> {
    const auto it = env.find(name);
    if (it == env.end()) return std::nullopt;
    return it->second;
  };
}

std::string error_of(std::string_view part, std::string_view parts, env_map env = {}) {
  try {
    (void)parse_part(part, parts, reader(std::move(env)));
  } catch (const usage_error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(Part, GivenKOfN) {
  EXPECT_EQ(parse_part("0/1", "", reader({})), (work_part{0, 1}));
  EXPECT_EQ(parse_part("7/8", "", reader({})), (work_part{7, 8}));
  EXPECT_EQ((work_part{2, 8}.text()), "2/8");
}

TEST(Part, KOutsideTheRangeOrNoPartsIsAUsageError) {
  EXPECT_EQ(error_of("8/8", ""), "--part 8/8: K must be from 0 to N-1 (7); it is 8");
  EXPECT_EQ(error_of("0/0", ""), "--part 0/0: N must be at least 1");
  EXPECT_EQ(error_of("3", ""), "--part: '3': expected K/N (e.g. 0/4) or auto");
  EXPECT_EQ(error_of("-1/4", ""), "--part's K must be from 0 to 4,294,967,295");
  EXPECT_EQ(error_of("a/4", ""),
            "--part's K: 'a': expected a whole number from 0 to 4,294,967,295");
  EXPECT_EQ(error_of("1/4", "4"), "--parts goes with --part auto only");
}

TEST(Part, AutoFromASlurmArray) {
  // sbatch --array=3-6: tasks 3, 4, 5, 6 are parts 0..3 of 4.
  const env_map slurm{
      {"SLURM_ARRAY_TASK_ID", "5"}, {"SLURM_ARRAY_TASK_MIN", "3"}, {"SLURM_ARRAY_TASK_COUNT", "4"}};
  EXPECT_EQ(parse_part("auto", "", reader(slurm)), (work_part{2, 4}));
  env_map stepped = slurm;  // --array=0-6:2: tasks 0, 2, 4, 6
  stepped["SLURM_ARRAY_TASK_ID"] = "4";
  stepped["SLURM_ARRAY_TASK_MIN"] = "0";
  stepped["SLURM_ARRAY_TASK_STEP"] = "2";
  EXPECT_EQ(parse_part("auto", "", reader(stepped)), (work_part{2, 4}));
  env_map sparse = slurm;  // --array=1,3,9: task 9 is beyond 3 tasks
  sparse["SLURM_ARRAY_TASK_ID"] = "9";
  sparse["SLURM_ARRAY_TASK_MIN"] = "1";
  sparse["SLURM_ARRAY_TASK_COUNT"] = "3";
  EXPECT_EQ(error_of("auto", "", sparse),
            "--part auto (a Slurm array needs contiguous task IDs, e.g. --array=0-7): K must be "
            "from 0 to N-1 (2); it is 8");
}

TEST(Part, AutoFromAKubernetesIndexedJob) {
  const env_map k8s{{"JOB_COMPLETION_INDEX", "3"}, {"TOTAL", "10"}};
  EXPECT_EQ(parse_part("auto", "10", reader(k8s)), (work_part{3, 10}));
  EXPECT_EQ(parse_part("auto", "TOTAL", reader(k8s)), (work_part{3, 10}));
  EXPECT_EQ(error_of("auto", "", k8s),
            "--part auto: JOB_COMPLETION_INDEX (a Kubernetes Indexed Job) gives no total; give it "
            "with --parts N (the Job's completions) or --parts VAR (an environment variable)");
  EXPECT_EQ(error_of("auto", "NOPE", k8s), "--parts NOPE: no such environment variable");
  EXPECT_EQ(error_of("auto", "3", k8s), "--part auto: K must be from 0 to N-1 (2); it is 3");
}

TEST(Part, AutoWithoutASchedulerSaysSo) {
  EXPECT_EQ(error_of("auto", ""),
            "--part auto: neither a Slurm array task (SLURM_ARRAY_TASK_ID) nor a Kubernetes "
            "Indexed Job (JOB_COMPLETION_INDEX) in the environment; give --part K/N");
}

}  // namespace
