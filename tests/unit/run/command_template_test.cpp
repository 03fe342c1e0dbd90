#include "cohort/run/command_template.hpp"

#include "cohort/common/shell_quote.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cohort/run/inputs.hpp"
#include "subprocess.hpp"

namespace {

using cohort::app::shell_quote;
using cohort::app::run::apply_path_part;
using cohort::app::run::command_template;
using cohort::app::run::path_part;
using cohort::test::run::find_program;
using cohort::test::run::run_process;
using args = std::vector<std::string>;

std::string expand(std::string_view tmpl, const args& a, std::uint64_t seq = 1,
                   std::size_t slot = 1) {
  return command_template::compile(tmpl).expand(a, seq, slot);
}

// ------------------------------------------------------------ path parts

struct path_case {
  const char* input;
  const char* no_ext;   // {.}
  const char* base;     // {/}
  const char* dir;      // {//}
  const char* base_no;  // {/.}
};

// Every row is the output of
//   parallel --dry-run 'echo {} | {.} | {/} | {//} | {/.}' ::: INPUT
// with GNU parallel 20221122.
constexpr path_case gnu_cases[] = {
    {"a.b.c", "a.b", "a.b.c", ".", "a.b"},
    {"/a/b.c", "/a/b", "b.c", "/a", "b"},
    {"a/b/", "a/b/", "", "a", ""},
    {"a/", "a/", "", ".", ""},
    {"/", "/", "", "/", ""},
    {".", "", ".", ".", ""},
    {"..", ".", "..", ".", "."},
    {".bashrc", "", ".bashrc", ".", ""},
    {"a/.bashrc", "a/", ".bashrc", "a", ""},
    {"a.b/c", "a.b/c", "c", "a.b", "c"},
    {"", "", "", ".", ""},
    {"a/b.c/", "a/b.c/", "", "a", ""},
    {"/a", "/a", "a", "/", "a"},
    {"//a", "//a", "a", "/", "a"},
    {"a//b", "a//b", "b", "a", "b"},
    {"a.tar.gz", "a.tar", "a.tar.gz", ".", "a.tar"},
    {"a.", "a", "a.", ".", "a"},
    {"./x", "./x", "x", ".", "x"},
    {"~/x.y", "~/x", "x.y", "~", "x"},
    {"a/b/.", "a/b/", ".", "a/b", ""},
};

TEST(PathParts, MatchGnuParallelOnEdgeCases) {
  for (const auto& c : gnu_cases) {
    SCOPED_TRACE(std::string("input '") + c.input + "'");
    EXPECT_EQ(apply_path_part(path_part::whole, c.input), c.input);
    EXPECT_EQ(apply_path_part(path_part::no_extension, c.input), c.no_ext);
    EXPECT_EQ(apply_path_part(path_part::basename, c.input), c.base);
    EXPECT_EQ(apply_path_part(path_part::dirname, c.input), c.dir);
    EXPECT_EQ(apply_path_part(path_part::basename_no_extension, c.input), c.base_no);
  }
}

TEST(PathParts, MoreDirnameCasesOfFileBasename) {
  EXPECT_EQ(apply_path_part(path_part::dirname, "a//"), ".");
  EXPECT_EQ(apply_path_part(path_part::dirname, "//"), "/");
  EXPECT_EQ(apply_path_part(path_part::dirname, "a/b//"), "a");
  EXPECT_EQ(apply_path_part(path_part::dirname, "a/b/c"), "a/b");
}

TEST(PathParts, NewlinesFollowPerlSemanticsLikeGnuParallel) {
  // From `printf 'a/b\nc/d\0...' | parallel -0 --dry-run 'echo {/} {.} {/.} {//}'`:
  // Perl's '.' does not match "\n" in {/} (s:.*/::), File::Basename uses /s.
  EXPECT_EQ(apply_path_part(path_part::basename, "a/b\nc/d"), "b\nc/d");
  EXPECT_EQ(apply_path_part(path_part::no_extension, "a/b\nc/d"), "a/b\nc/d");
  EXPECT_EQ(apply_path_part(path_part::basename_no_extension, "a/b\nc/d"), "b\nc/d");
  EXPECT_EQ(apply_path_part(path_part::dirname, "a/b\nc/d"), "a/b\nc");

  EXPECT_EQ(apply_path_part(path_part::basename, "x\ny/z.q"), "x\nz.q");
  EXPECT_EQ(apply_path_part(path_part::no_extension, "x\ny/z.q"), "x\ny/z");
  EXPECT_EQ(apply_path_part(path_part::basename_no_extension, "x\ny/z.q"), "x\nz");
  EXPECT_EQ(apply_path_part(path_part::dirname, "x\ny/z.q"), "x\ny");

  EXPECT_EQ(apply_path_part(path_part::basename, "a.b\n"), "a.b\n");
  EXPECT_EQ(apply_path_part(path_part::no_extension, "a.b\n"), "a");
  EXPECT_EQ(apply_path_part(path_part::dirname, "a.b\n"), ".");

  EXPECT_EQ(apply_path_part(path_part::no_extension, "p/q.r\ns"), "p/q");
  EXPECT_EQ(apply_path_part(path_part::basename_no_extension, "d\ne.f"), "d\ne");
  EXPECT_EQ(apply_path_part(path_part::dirname, "a/b.c/d\ne.f"), "a/b.c");
}

// ------------------------------------------------------------ templates

TEST(CommandTemplate, ReplacesEveryReplacementString) {
  args a{"dir/my pic.jpg"};
  EXPECT_EQ(expand("convert {} {.}.png", a), "convert 'dir/my pic.jpg' 'dir/my pic'.png");
  EXPECT_EQ(expand("echo {/} {//} {/.}", a), "echo 'my pic.jpg' dir 'my pic'");
  EXPECT_EQ(expand("echo {#} {%}", a, 42, 7), "echo 42 7");
}

TEST(CommandTemplate, PositionalReplacementStrings) {
  args a{"/x/y.z", "a.b"};
  EXPECT_EQ(expand("echo {1.} {1/} {1//} {1/.} {2.}", a), "echo /x/y y.z /x y a");
  EXPECT_EQ(expand("echo {2} {1}", a), "echo a.b /x/y.z");
  EXPECT_EQ(expand("echo {-1} {-2}", a), "echo a.b /x/y.z");
  EXPECT_EQ(expand("echo {01}", a), "echo /x/y.z");
}

TEST(CommandTemplate, OutOfRangePositionsExpandToNothing) {
  // parallel --dry-run echo x{3}x x{3.}x ::: a ::: b  ->  echo xx xx
  args a{"a", "b"};
  EXPECT_EQ(expand("echo x{3}x x{3.}x x{-9}x x{99999999999999}x", a), "echo xx xx xx xx");
}

TEST(CommandTemplate, AllArgumentsReplacementJoinsSourcesWithSpaces) {
  // parallel --dry-run echo {} ::: 'a b' ::: c  ->  echo 'a b' c
  EXPECT_EQ(expand("echo {}", {"a b", "c"}), "echo 'a b' c");
  EXPECT_EQ(expand("echo {.} {/}", {"a/b.c", "d/e.f"}), "echo a/b d/e b.c e.f");
}

TEST(CommandTemplate, UnknownBracesAreLiteral) {
  // parallel --dry-run echo '{{}}' '{foo}' '{ }' '{1}{2}' '{1' '}' '{1 }' ::: 'a b' ::: c
  //   -> echo {'a b' c} {foo} { } 'a b'c {1 } 'a b'
  // (GNU looks in each word on its own: '{1' '}' is no {1}, '{1 }' is.)
  const std::vector<std::string> words{"echo", "{{}}", "{foo}", "{ }", "{1}{2}", "{1", "}", "{1 }"};
  EXPECT_EQ(command_template::from_words(words).expand(args{"a b", "c"}, 1, 1),
            "echo {'a b' c} {foo} { } 'a b'c {1 } 'a b'");
  // parallel --dry-run echo {0} {1x} {-} {} { ::: v  ->  echo v {1x} {-} v {
  EXPECT_EQ(expand("echo {0} {1x} {-} {} {", {"v"}), "echo v {1x} {-} v {");
}

TEST(CommandTemplate, AppendsQuotedArgumentsWhenThereIsNoReplacementString) {
  auto t = command_template::compile("echo a b");
  EXPECT_FALSE(t.has_replacement_strings());
  EXPECT_EQ(t.expand(args{"x y", "", "z"}, 1, 1), "echo a b 'x y' '' z");
  // parallel --dry-run 'echo ' ::: x  ->  "echo  x"
  EXPECT_EQ(expand("echo ", {"x"}), "echo  x");
}

TEST(CommandTemplate, SeqSlotAndOutOfRangePositionsCountAsReplacementStrings) {
  // parallel --dry-run echo {#} ::: a  ->  echo 1 (nothing appended)
  EXPECT_EQ(expand("echo {#}", {"a"}), "echo 1");
  EXPECT_EQ(expand("echo {%}", {"a"}, 1, 3), "echo 3");
  EXPECT_EQ(expand("echo {3}", {"a"}), "echo ");
}

TEST(CommandTemplate, NoCommandMeansEachInputIsTheCommandUnquoted) {
  auto t = command_template::from_words({});
  EXPECT_FALSE(t.quotes_values());
  EXPECT_EQ(t.expand(args{"echo a;b"}, 1, 1), "echo a;b");
  // parallel --dry-run ::: 'echo a' ::: 'b c'  ->  echo a b c
  EXPECT_EQ(t.expand(args{"echo a", "b c"}, 1, 1), "echo a b c");
}

TEST(CommandTemplate, ReplacementInTheFirstWordIsNotQuotedLikeGnuParallel) {
  // GNU parallel: a replacement string before any space, tab, newline or '='
  // makes the input the command, and then nothing is quoted.
  EXPECT_EQ(expand("{} x", {"echo a;b"}), "echo a;b x");
  EXPECT_EQ(expand("{}x y {}", {"echo a;b"}), "echo a;bx y echo a;b");
  EXPECT_EQ(expand("{.} {}", {"a b.c"}), "a b a b.c");
  EXPECT_EQ(expand("{#} {}", {"a b"}), "1 a b");
  EXPECT_EQ(expand("{1} {2}", {"a b", "c d"}), "a b c d");
  EXPECT_EQ(expand("my_{}", {"a b"}), "my_a b");
  // ...but not after a space or an '=': then values are quoted.
  EXPECT_EQ(expand(" {}", {"a b"}), " 'a b'");
  EXPECT_EQ(expand("V={} cmd", {"a b"}), "V='a b' cmd");
  EXPECT_TRUE(command_template::compile("echo {}").quotes_values());
  EXPECT_FALSE(command_template::compile("{}").quotes_values());
}

TEST(CommandTemplate, FromWordsJoinsWithSpacesWithoutQuoting) {
  // parallel --dry-run echo 'a b' ::: x  ->  echo a b x
  auto t = command_template::from_words(std::vector<std::string>{"echo", "a b"});
  EXPECT_EQ(t.text(), "echo a b");
  EXPECT_EQ(t.expand(args{"x"}, 1, 1), "echo a b x");
}

TEST(CommandTemplate, EmptyValuesAreQuotedEmptyStrings) {
  // parallel --dry-run echo x{}x :::: one-empty-line  ->  echo x''x
  EXPECT_EQ(expand("echo x{}x", {""}), "echo x''x");
}

TEST(CommandTemplate, UsesSlotIsReported) {
  EXPECT_TRUE(command_template::compile("echo {%}").uses_slot());
  EXPECT_FALSE(command_template::compile("echo {#}").uses_slot());
}

TEST(CommandTemplate, ExpandIntoReusesTheBuffer) {
  auto t = command_template::compile("echo {}");
  std::string out = "old contents that are long enough to have a heap buffer";
  const auto* data = out.data();
  t.expand_into(out, args{"a"}, 1, 1);
  EXPECT_EQ(out, "echo a");
  EXPECT_EQ(out.data(), data);
}

// ------------------------------------------------------------ the real shell

// Inputs that would run code, expand or split if they reached the shell
// unquoted. Each must come back byte for byte from `printf '%s\n' {}`.
const std::vector<std::string> hostile_inputs{
    "; touch INJECTED",
    "$(touch INJECTED)",
    "`touch INJECTED`",
    "'",
    "\"",
    "it's \"quoted\"",
    "a\nb",
    "\n",
    "*",
    "?",
    "[a-z]*",
    "  two  spaces  ",
    "-n",
    "--",
    "",
    "\\",
    "\\n",
    "$HOME",
    "${HOME}",
    "~",
    "~root",
    "#comment",
    "a&b",
    "a|b",
    "<in >out",
    "!!",
    "\t",
    "\r",
    "\x01\x7f",
    "\xc3\xa9\xe2\x82\xac",
    "'; touch INJECTED; '",
    "\"; touch INJECTED; \"",
    "{}",
    "%s",
};

TEST(CommandTemplateShell, HostileInputsComeOutLiterallyFromBinSh) {
  cohort::test::run::scratch_dir dir;
  auto t = command_template::compile("printf '%s\\n' {}");
  for (const auto& input : hostile_inputs) {
    SCOPED_TRACE("input: '" + input + "'");
    auto cmd = t.expand(args{input}, 1, 1);
    auto r = run_process({"/bin/sh", "-c", "cd " + dir.path().string() + " && " + cmd});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, input + "\n");
    EXPECT_FALSE(std::filesystem::exists(dir.path() / "INJECTED"));
  }
}

TEST(CommandTemplateShell, AllInputsAtOnceInSeveralSourcesAndPathParts) {
  cohort::test::run::scratch_dir dir;
  auto t = command_template::compile("printf '%s\\n' {} {1} {-1} {.} {/} {//} {/.}");
  std::string expected;
  for (const auto& v : hostile_inputs) expected += v + "\n";
  expected += hostile_inputs.front() + "\n" + hostile_inputs.back() + "\n";
  for (auto part : {path_part::no_extension, path_part::basename, path_part::dirname,
                    path_part::basename_no_extension}) {
    for (const auto& v : hostile_inputs) expected += apply_path_part(part, v) + "\n";
  }
  auto cmd = t.expand(hostile_inputs, 1, 1);
  auto r = run_process({"/bin/sh", "-c", "cd " + dir.path().string() + " && " + cmd});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, expected);
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "INJECTED"));
}

TEST(CommandTemplateShell, AppendedArgumentsAreQuotedToo) {
  auto t = command_template::compile("printf '%s\\n'");
  auto cmd = t.expand(args{"$(echo x)", "a b", ""}, 1, 1);
  auto r = run_process({"/bin/sh", "-c", cmd});
  EXPECT_EQ(r.out, "$(echo x)\na b\n\n");
}

// ------------------------------------------------------------ against GNU parallel

// Runs `parallel --dry-run` and our expansion over the same template and
// sources; the command lines must be identical. Values must not contain "\n"
// (--dry-run prints one job per line).
void expect_same_as_gnu_dry_run(const std::string& tmpl, const std::vector<args>& sources) {
  auto parallel = find_program("parallel");
  ASSERT_TRUE(parallel.has_value())
      << "GNU parallel is not installed; run scripts/setup (these tests compare with it)";
  cohort::test::run::scratch_dir home;
  std::vector<std::string> argv{*parallel, "--will-cite", "--dry-run", "-j1", "-k", tmpl};
  std::vector<cohort::app::run::input_source> ours;
  for (const auto& s : sources) {
    argv.emplace_back(":::");
    argv.insert(argv.end(), s.begin(), s.end());
    ours.push_back(cohort::app::run::input_source::literals(s));
  }
  auto r = run_process(argv, {}, {"PARALLEL_HOME=" + home.path().string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;

  auto t = command_template::compile(tmpl);
  cohort::app::run::input_generator gen(std::move(ours));
  cohort::app::run::job_input job;
  std::string expected;
  while (gen.next(job)) expected += t.expand(job.args, job.seq, 1) + "\n";
  EXPECT_EQ(r.out, expected) << "template: " << tmpl;
}

TEST(CommandTemplateGnu, DryRunOutputIsIdentical) {
  const args nasty{"a b", "it's", "x;y", "$(id)", "",  "-n",    "dir/f.tar.gz", ".hidden", "trail/",
                   "/",   "é",    "~/x", "a=b",   "*", "\"q\"", "a\tb",         "\r"};
  // Few runs of parallel, each covering much: it takes a second or more to start.
  expect_same_as_gnu_dry_run("echo {} {.} {/} {//} {/.}", {nasty});
  expect_same_as_gnu_dry_run("echo", {nasty});
  expect_same_as_gnu_dry_run("cp {1} {2}/{1/.}.bak x{3}x {-1} {-2} {#} {{}} {foo} {1}{2} {}",
                             {{"src/a.txt", "b c.d"}, {"out", "o p"}});
  expect_same_as_gnu_dry_run("{} x", {{"echo a;b", "ls *"}});
  expect_same_as_gnu_dry_run("V={} env", {{"a b"}});
}

}  // namespace

namespace {

// ------------------------------------------------------------ -N, -L, --header
// (each expectation is GNU parallel 20221122's --dry-run for the same command)

std::string expand_context(std::string_view tmpl, const args& a) {
  return cohort::app::run::command_template::compile(tmpl, true).expand(a, 1, 1);
}

TEST(CommandTemplateContext, AWordWithAllArgumentsIsRepeatedPerArgument) {
  // parallel -N2 echo a{}b {2} c{1}d ::: 1 2 3  ->  echo a1b a2b 2 c1d
  EXPECT_EQ(expand_context("echo a{}b {2} c{1}d", {"1", "2"}), "echo a1b a2b 2 c1d");
  EXPECT_EQ(expand_context("echo a{}b {2} c{1}d", {"3"}), "echo a3b  c3d");
  EXPECT_EQ(expand_context("echo a{}b{}", {"1", "2"}), "echo a1b1 a2b2");
  EXPECT_EQ(expand_context("echo {} a{/}b", {"x/1", "2"}), "echo x/1 2 a1b a2b");
  EXPECT_EQ(expand_context("echo x{}y", {"a b", "c"}), "echo x'a b'y xcy");
}

TEST(CommandTemplateContext, WithoutContextAllArgumentsAreJoinedInPlace) {
  // parallel -n2 echo x{}y ::: a b c  ->  echo xa by
  EXPECT_EQ(expand("echo x{}y", {"a", "b"}), "echo xa by");
}

TEST(CommandTemplateContext, NoArgumentsLeaveNothingAndAnAppendedBlank) {
  // parallel -N0 echo a{}b ::: 1  ->  echo ab;  parallel -N0 echo x ::: 1  ->  "echo x "
  EXPECT_EQ(expand_context("echo a{}b", {}), "echo ab");
  EXPECT_EQ(expand_context("echo x", {}), "echo x ");
  EXPECT_EQ(expand("echo x", {}), "echo x ");
}

TEST(CommandTemplateContext, ArgumentLengthIsWhatOneMoreArgumentAdds) {
  using cohort::app::run::command_template;
  // Each {} gets the quoted argument and a blank; a repeated word all of it.
  EXPECT_EQ(command_template::compile("echo {} {}").argument_length("a b"), 2 * (1 + 5));
  EXPECT_EQ(command_template::compile("echo x{}y {1}", true).argument_length("a"), 1 + 3);
  EXPECT_EQ(command_template::compile("echo").argument_length("a"), 1 + 1);
}

TEST(CommandTemplateHeader, ColumnNamesBecomePositions) {
  using cohort::app::run::command_template;
  const std::vector<std::string> names{"f", "g"};
  EXPECT_EQ(command_template::rename_columns("echo {g} {f.} {f/} {f//} {f/.} {fx} {g", names),
            "echo {2} {1.} {1/} {1//} {1/.} {fx} {g");
  EXPECT_EQ(command_template::rename_columns("{f}{f}x", names), "{1}{1}x");
}

}  // namespace
