#include "cohort/run/results_dir.hpp"

#include "cohort/common/option_values.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "subprocess.hpp"

namespace {

using cohort::app::usage_error;
using cohort::app::run::check_results_name;
using cohort::app::run::result_paths;
using cohort::app::run::results_dir_name;
using cohort::app::run::results_layout;
using cohort::test::run::read_file;
using cohort::test::run::scratch_dir;
using strings = std::vector<std::string>;

TEST(ResultsDir, APlainNameIsATreeOfSourceNumbersAndValues) {
  const results_layout r("foo", {}, 0);
  const result_paths p = r.paths_for(strings{"I", "III"}, 3);
  EXPECT_EQ(p.out, "foo/1/I/2/III/stdout");
  EXPECT_EQ(p.err, "foo/1/I/2/III/stderr");
  EXPECT_EQ(p.seq, "foo/1/I/2/III/seq");
}

TEST(ResultsDir, ValuesAreQuotedAsGnuDoesAndAnEmptyOneAddsNoDirectory) {
  EXPECT_EQ(results_dir_name("a/b\\c\td"), "a\\_b\\\\c\\td");
  EXPECT_EQ(results_dir_name(std::string("x\0y", 3)), "x\\0y");
  const results_layout r("res", {}, 0);
  EXPECT_EQ(r.paths_for(strings{""}, 1).out, "res/1/stdout");
  EXPECT_EQ(r.paths_for(strings{"x/y"}, 1).out, "res/1/x\\_y/stdout");
}

TEST(ResultsDir, HeaderNamesTheColumnsSortedNumericallyThenByText) {
  // GNU sorts the columns by their names as Perl numbers, then as text.
  const results_layout r("o", {"b", "a", "10", "9"}, 0);
  EXPECT_EQ(r.paths_for(strings{"B", "A", "T", "N"}, 1).out, "o/a/A/b/B/9/N/10/T/stdout");
}

TEST(ResultsDir, EachRecordOfAJobNamesItsSources) {
  // -N2 with one source: GNU's o/1/a/1/b.
  const results_layout r("o", {}, 1);
  EXPECT_EQ(r.paths_for(strings{"a", "b"}, 1).out, "o/1/a/1/b/stdout");
  EXPECT_EQ(r.paths_for(strings{"c"}, 2).out, "o/1/c/stdout");
}

TEST(ResultsDir, ANameWithAReplacementStringIsAFileOrADirectoryEndingInSlash) {
  const results_layout file("my_{}", {}, 0);
  const result_paths f = file.paths_for(strings{"foo"}, 1);
  EXPECT_EQ(f.out, "my_foo");
  EXPECT_EQ(f.err, "my_foo.err");
  EXPECT_EQ(f.seq, "my_foo.seq");
  const results_layout dir("d/{#}/", {}, 0);
  EXPECT_EQ(dir.paths_for(strings{"foo"}, 4).out, "d/4/stdout");
}

TEST(ResultsDir, SaveWritesTheThreeFilesAndMakesTheDirectories) {
  scratch_dir d;
  const std::string root = d.file("out");
  const results_layout r(root, {}, 0);
  r.save(strings{"a b", "c"}, 12, "hello\n", "oops\n");
  EXPECT_EQ(read_file(root + "/1/a b/2/c/stdout"), "hello\n");
  EXPECT_EQ(read_file(root + "/1/a b/2/c/stderr"), "oops\n");
  EXPECT_EQ(read_file(root + "/1/a b/2/c/seq"), "12");  // no newline, as GNU
}

TEST(ResultsDir, SaveThrowsNamingTheFileItCannotWrite) {
  const results_layout r("/proc/no-such-dir/x_{}", {}, 0);
  try {
    r.save(strings{"a"}, 1, "", "");
    FAIL() << "expected an error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("/proc/no-such-dir"), std::string::npos) << e.what();
  }
}

TEST(ResultsDir, GnusSingleFileFormsAreRefusedClearly) {
  EXPECT_THROW(check_results_name("out.csv"), usage_error);
  EXPECT_THROW(check_results_name("-.TSV"), usage_error);
  EXPECT_THROW(check_results_name("r.json"), usage_error);
  EXPECT_NO_THROW(check_results_name("out"));
  EXPECT_NO_THROW(check_results_name("csv"));
}

}  // namespace
