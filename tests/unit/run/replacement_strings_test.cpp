#include "cohort/run/replacement_strings.hpp"

#include "cohort/common/option_values.hpp"
#include "cohort/run/command_template.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

// Every expected command here is GNU parallel 20221122's, from
//   parallel --dry-run [OPTIONS] echo ... ::: ARGS
// (the words quoted so that no shell expands them).

namespace {

using cohort::app::run::apply_path_part;
using cohort::app::run::command_template;
using cohort::app::run::path_part;
using cohort::app::run::replacement_names;
using cohort::app::run::template_options;
using words = std::vector<std::string>;

std::string dry_run(const template_options& o, const words& command, const words& args,
                    std::uint64_t seq = 1, std::size_t slot = 1) {
  return command_template::from_words(command, o).expand(args, seq, slot);
}

template_options renamed(void (*rename)(replacement_names&)) {
  template_options o;
  rename(o.names);
  return o;
}

template_options plus() {
  template_options o;
  o.names.plus = true;
  return o;
}

// ------------------------------------------------------------ -I and friends

TEST(ReplacementStrings, ARenamedStringLosesItsPositionalForms) {
  // -I XX echo XX {} {1} {1/} ::: a/b.c
  auto o = renamed([](replacement_names& n) { n.all = "XX"; });
  EXPECT_EQ(dry_run(o, {"echo", "XX", "{}", "{1}", "{1/}"}, {"a/b.c"}), "echo a/b.c {} {1} b.c");
  // -I {a} echo {a} {1a} {1} ::: x: a name in braces has them ({1a}).
  o.names.all = "{a}";
  EXPECT_EQ(dry_run(o, {"echo", "{a}", "{1a}", "{1}"}, {"x"}), "echo x x {1}");
}

TEST(ReplacementStrings, LongerNamesAreReplacedFirstLeftToRight) {
  // --er '{}x' echo '{}x' {} {.} ::: a.b
  auto o = renamed([](replacement_names& n) { n.no_extension = "{}x"; });
  EXPECT_EQ(dry_run(o, {"echo", "{}x", "{}", "{.}"}, {"a.b"}), "echo a a.b {.}");
  // -I aa echo aaa ::: X
  o = renamed([](replacement_names& n) { n.all = "aa"; });
  EXPECT_EQ(dry_run(o, {"echo", "aaa"}, {"X"}), "echo Xa");
}

TEST(ReplacementStrings, EveryDefaultStringCanBeRenamed) {
  template_options o;
  o.names = {"A", "B", "C", "D", "E", "F", "G", false};
  EXPECT_EQ(dry_run(o, {"echo", "A", "B", "C", "D", "E", "F", "G"}, {"d/f.x"}, 7, 3),
            "echo d/f.x d/f f.x d f 7 3");
  // The old names are plain text then.
  EXPECT_EQ(dry_run(o, {"echo", "{.}", "{#}", "A"}, {"v"}), "echo {.} {#} v");
}

TEST(ReplacementStrings, PositionsAsGnuReadsThem) {
  // echo '{1 .}' '{1 }' {0} {01} {-0}x {1#} {-1#} ::: a.b -> echo a a.b a.b a.b x
  // ({0} is {}; {1#} is GNU's {#} at position 11.)
  template_options o;
  EXPECT_EQ(dry_run(o, {"echo", "{1 .}", "{1 }", "{0}", "{01}", "{-0}x", "{1#}", "{-1#}"}, {"a.b"}),
            "echo a a.b a.b a.b x  ");
  const words eleven{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k"};
  EXPECT_EQ(dry_run(o, {"echo", "{1#}"}, eleven, 4), "echo 4");
}

// ------------------------------------------------------------ --plus

TEST(ReplacementStrings, PlusPathParts) {
  // {} = {+/}/{/} = {.}.{+.} = {..}.{+..} = {...}.{+...}
  EXPECT_EQ(dry_run(plus(),
                    {"echo", "{}", "{+/}/{/}", "{.}.{+.}", "{..}.{+..}", "{/..}", "{...}.{+...}",
                     "{/...}"},
                    {"dir/sub/fi le.ex1.ex2.ex3"}),
            "echo 'dir/sub/fi le.ex1.ex2.ex3' dir/sub/'fi le.ex1.ex2.ex3' "
            "'dir/sub/fi le.ex1.ex2'.ex3 'dir/sub/fi le.ex1'.ex2.ex3 'fi le.ex1' "
            "'dir/sub/fi le'.ex1.ex2.ex3 'fi le'");
  EXPECT_EQ(apply_path_part(path_part::extension2, "a.b/c.d"), "");
  EXPECT_EQ(apply_path_part(path_part::no_extension2, "a.b/c.d"), "a.b/c.d");
  EXPECT_EQ(apply_path_part(path_part::directory_part, "a"), "");
  EXPECT_EQ(apply_path_part(path_part::extension, "a.b/c"), "b/c");
}

TEST(ReplacementStrings, PlusBashLikeStrings) {
  const auto o = plus();
  const words substr{"echo", "{:2:3}", "{:2}", "{:-z}", "{:9}"};
  EXPECT_EQ(dry_run(o, substr, {"abcdef"}), "echo cde cdef abcdef ''");
  EXPECT_EQ(dry_run(o, substr, {""}), "echo '' '' z ''");
  EXPECT_EQ(dry_run(o, substr, {"0"}), "echo '' '' z ''");  // Perl's ||=: "0" is false
  EXPECT_EQ(
      dry_run(o,
              {"echo", "{^^b}", "{,,B}", "{^a}", "{,A}", "{//b/X}", "{/#a/Y}", "{/%B/Z}", "{/a/}"},
              {"abAB"}),
      "echo aBAB abAb AbAB abAB aXAB YbAB abAZ bAB");
  EXPECT_EQ(dry_run(o,
                    {"echo", "{##a*}", "{#a*}", "{%%b*}", "{%b*}", "{#z.*z.}", "{##z.*z.}",
                     "{%.z.*z}", "{%%.z.*z}"},
                    {"aabbzaz.z.z.z"}),
            "echo bbzaz.z.z.z aabbzaz.z.z.z aabbzaz.z.z.z aabbzaz.z.z.z aabbzaz.z.z.z "
            "aabbzaz.z.z.z aabbzaz.z aab");
}

TEST(ReplacementStrings, PlusCountsAndSlots) {
  auto t = command_template::from_words(words{"echo", "{0#}", "{##}", "{0%}", "{slot}"}, plus());
  EXPECT_TRUE(t.uses_job_counts());
  EXPECT_TRUE(t.uses_slot());
  // seq 1000 | parallel --plus echo {0#} {##}: 1000 jobs are 3 digits wide
  // (GNU's 1+int(log(1000)/log(10)) in doubles).
  t.set_job_counts(1000, 1);
  EXPECT_EQ(t.expand(words{"1"}, 1, 1), "echo 001 1000 1 ${PARALLEL_JOBSLOT}");
  // seq 9 | parallel -j 12 --plus echo {0#} {##} {0%} {slot}
  t.set_job_counts(9, 12);
  EXPECT_EQ(t.expand(words{"1"}, 1, 1), "echo 1 9 01 ${PARALLEL_JOBSLOT}");
}

TEST(ReplacementStrings, PlusStringsCohortHasNotAreRefusedWithWhy) {
  for (const char* s : {"{uniq}", "{choose_k}", "{host}", "{sshlogin}", "{hgrp}", "{agrp}"}) {
    EXPECT_THROW((void)command_template::from_words(words{"echo", s}, plus()),
                 cohort::app::usage_error)
        << s;
  }
  EXPECT_THROW((void)command_template::from_words(words{"echo", "{#(}"}, plus()),
               cohort::app::usage_error);
  // Without --plus they are text.
  EXPECT_EQ(dry_run({}, {"echo", "{uniq}", "{..}"}, {"a"}), "echo {uniq} {..} a");
}

TEST(ReplacementStrings, PlusRegularExpressionsReadAtMost8KiBOfAValue) {
  // std::regex recurses per byte: ~30,000 bytes overflowed 8 MiB of stack
  // (a crash); a longer value is refused instead.
  const auto t = command_template::from_words(words{"echo", "{%%x*}", "{..}"}, plus());
  EXPECT_EQ(t.expand(words{std::string(8192, 'x')}, 1, 1), "echo '' " + std::string(8192, 'x'));
  EXPECT_THROW((void)t.expand(words{std::string(8193, 'x')}, 1, 1), cohort::app::usage_error);
  // Strings without a regular expression take any value.
  const auto path = command_template::from_words(words{"echo", "{..}"}, plus());
  EXPECT_EQ(path.expand(words{std::string(100'000, 'x')}, 1, 1).size(), 5u + 100'000u);
}

// ------------------------------------------------------------ -q, --tagstring

TEST(ReplacementStrings, QuoteQuotesEveryWordAfterTheValuesAreIn) {
  template_options o;
  o.quote_words = true;
  // -q echo 'a b' '$x' x{}y '' ::: 'c d' ::: e
  EXPECT_EQ(dry_run(o, {"echo", "a b", "$x", "x{}y", ""}, {"c d", "e"}),
            "echo 'a b' '$x' 'xc d' ey ''");
  // -q echo ::: "it's" and ::: ''
  EXPECT_EQ(dry_run(o, {"echo"}, {"it's"}), "echo 'it'\"'\"'s'");
  EXPECT_EQ(dry_run(o, {"echo"}, {""}), "echo ''");
  // -q -N2 echo x{}y {} ::: 'a b' c
  o.context_replace = true;
  EXPECT_EQ(dry_run(o, {"echo", "x{}y", "{}"}, {"a b", "c"}), "echo 'xa by' xcy 'a b' c");
}

TEST(ReplacementStrings, ATagIsNeverQuotedNorGetsArgumentsAppended) {
  template_options o;
  o.is_tag = true;
  EXPECT_EQ(dry_run(o, {"{#}:{1}-{2} {}"}, {"a b", "c"}, 3), "3:a b-c a b c");
  EXPECT_EQ(dry_run(o, {"a\tb"}, {"x"}), "a\tb");
}

}  // namespace
