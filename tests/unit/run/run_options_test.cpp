#include "cohort/run/run_options.hpp"

#include <gtest/gtest.h>

#include <csignal>
#include <string>

namespace {

using namespace std::chrono_literals;
using cohort::halt_policy;
using cohort::term_step;
using cohort::app::run::jobs_spec;
using cohort::app::run::option_error;
using cohort::app::run::parse_halt;
using cohort::app::run::parse_jobs;
using cohort::app::run::parse_term_seq;
using cohort::app::run::parse_timeout;
using cohort::app::run::timeout_spec;
using cohort::app::run::to_string;
using timing = halt_policy::when;
using condition = halt_policy::on;

template <typename F>
std::string error_of(F f) {
  try {
    f();
  } catch (const option_error& e) {
    return e.what();
  }
  return "no error";
}

// ------------------------------------------------------------ --halt

halt_policy halt(timing w, condition c, std::uint64_t count, double percent = 0) {
  halt_policy h;
  h.mode = w;
  h.trigger = c;
  h.count = count;
  h.percent = percent;
  return h;
}

TEST(ParseHalt, LongForms) {
  EXPECT_EQ(parse_halt("never"), halt_policy{});
  EXPECT_EQ(parse_halt("now,fail=1"), halt(timing::now, condition::fail, 1));
  EXPECT_EQ(parse_halt("soon,fail=3"), halt(timing::soon, condition::fail, 3));
  EXPECT_EQ(parse_halt("now,success=1"), halt(timing::now, condition::success, 1));
  EXPECT_EQ(parse_halt("soon,fail=20%"), halt(timing::soon, condition::fail, 1, 20));
  EXPECT_EQ(parse_halt("now,done=7"), halt(timing::now, condition::done, 7));
  EXPECT_EQ(parse_halt("now,done=100%"), halt(timing::now, condition::done, 1, 100));
}

TEST(ParseHalt, GnuShortForms) {
  EXPECT_EQ(parse_halt("0"), halt_policy{});
  EXPECT_EQ(parse_halt("1"), halt(timing::soon, condition::fail, 1));
  EXPECT_EQ(parse_halt("2"), halt(timing::now, condition::fail, 1));
  EXPECT_EQ(parse_halt("-1"), halt(timing::soon, condition::success, 1));
  EXPECT_EQ(parse_halt("-2"), halt(timing::now, condition::success, 1));
  EXPECT_EQ(parse_halt("5%"), halt(timing::soon, condition::fail, 1, 5));
}

TEST(ParseHalt, ErrorsSayWhatWasExpected) {
  EXPECT_EQ(error_of([] { (void)parse_halt("sometimes"); }),
            "--halt: 'sometimes': expected 'never', 'now,COND=N', 'soon,COND=N' (COND: fail, "
            "success or done; N a count or a percentage like 20%), or 0, 1, 2, -1, -2, P%");
  EXPECT_EQ(error_of([] { (void)parse_halt("now"); }),
            "--halt: 'now': expected fail=, success= or done= after 'now,'");
  EXPECT_EQ(error_of([] { (void)parse_halt("now,fial=1"); }),
            "--halt: 'now,fial=1': expected fail=, success= or done= after 'now,'");
  EXPECT_EQ(error_of([] { (void)parse_halt("soon,fail"); }),
            "--halt: 'soon,fail': expected a number after 'fail='");
  EXPECT_EQ(error_of([] { (void)parse_halt("soon,fail=x"); }),
            "--halt: 'soon,fail=x': 'x' is not a number of jobs or a percentage");
  EXPECT_EQ(error_of([] { (void)parse_halt("soon,fail=0"); }),
            "--halt: 'soon,fail=0': the number of jobs must be at least 1");
  EXPECT_EQ(error_of([] { (void)parse_halt("soon,fail=101%"); }),
            "--halt: 'soon,fail=101%': the percentage must be 1% to 100%");
  EXPECT_EQ(error_of([] { (void)parse_halt("soon,fail=2.5%"); }),
            "--halt: 'soon,fail=2.5%': '2.5%' is not a whole percentage like 20%");
  EXPECT_EQ(error_of([] { (void)parse_halt("never,fail=1"); }),
            "--halt: 'never,fail=1': nothing may follow 'never'");
  EXPECT_NE(error_of([] { (void)parse_halt(""); }), "no error");
  EXPECT_NE(error_of([] { (void)parse_halt("3"); }), "no error");
  EXPECT_NE(error_of([] { (void)parse_halt("NOW,fail=1"); }), "no error");
}

TEST(ParseHalt, ToStringRoundTrips) {
  for (const char* s :
       {"never", "now,fail=1", "soon,success=3", "now,done=20%", "soon,fail=100%"}) {
    EXPECT_EQ(to_string(parse_halt(s)), s);
  }
  EXPECT_EQ(to_string(parse_halt("2")), "now,fail=1");
}

// ------------------------------------------------------------ --term-seq

TEST(ParseTermSeq, GnuDefaultParsesToTheDefault) {
  auto d = cohort::default_term_sequence();
  EXPECT_EQ(parse_term_seq("TERM,200,TERM,100,TERM,50,KILL,25"), d);
  ASSERT_EQ(d.size(), 4u);
  EXPECT_EQ(d[0], (term_step{SIGTERM, 200ms}));
  EXPECT_EQ(d[3], (term_step{SIGKILL, 25ms}));
  EXPECT_EQ(to_string(d), "TERM,200,TERM,100,TERM,50,KILL,25");
}

TEST(ParseTermSeq, SignalNamesWithOrWithoutSigAnyCaseOrNumbers) {
  auto s = parse_term_seq("SIGINT,10,term,20,9,0,sigusr1,5");
  ASSERT_EQ(s.size(), 4u);
  EXPECT_EQ(s[0], (term_step{SIGINT, 10ms}));
  EXPECT_EQ(s[1], (term_step{SIGTERM, 20ms}));
  EXPECT_EQ(s[2], (term_step{SIGKILL, 0ms}));
  EXPECT_EQ(s[3], (term_step{SIGUSR1, 5ms}));
}

TEST(ParseTermSeq, LastSignalMayHaveNoWaitAndNeedNotBeKill) {
  // GNU parallel pairs the list up; a lone last signal waits 0 ms.
  auto s = parse_term_seq("TERM,100,HUP");
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[1], (term_step{SIGHUP, 0ms}));
  EXPECT_EQ(parse_term_seq("KILL").size(), 1u);
}

TEST(ParseTermSeq, FractionalMilliseconds) {
  auto s = parse_term_seq("TERM,12.5");
  EXPECT_EQ(s[0].wait, 12500us);
  EXPECT_EQ(to_string(s), "TERM,12.5");
}

TEST(ParseTermSeq, Errors) {
  EXPECT_EQ(error_of([] { (void)parse_term_seq("TERM,200,FOO,1"); }),
            "--term-seq: 'TERM,200,FOO,1': 'FOO' is not a signal (a name like TERM or SIGKILL, or "
            "a number 1-" +
                std::to_string(SIGRTMAX) + ")");
  EXPECT_EQ(error_of([] { (void)parse_term_seq("TERM,soon"); }),
            "--term-seq: 'TERM,soon': 'soon' is not a wait in milliseconds (like 200 or 12.5)");
  EXPECT_EQ(error_of([] { (void)parse_term_seq(""); }),
            "--term-seq: '': empty; expected SIGNAL,MS,... like TERM,200,TERM,100,KILL,25");
  EXPECT_NE(error_of([] { (void)parse_term_seq("0,100"); }), "no error");
  EXPECT_NE(error_of([] { (void)parse_term_seq("TERM,-5"); }), "no error");
  EXPECT_NE(error_of([] { (void)parse_term_seq("TERM,200,"); }), "no error");
  EXPECT_NE(error_of([] { (void)parse_term_seq(",TERM"); }), "no error");
  EXPECT_NE(error_of([] { (void)parse_term_seq("TERM,,KILL"); }), "no error");
  EXPECT_NE(error_of([] { (void)parse_term_seq("999,1"); }), "no error");
  EXPECT_NE(error_of([] { (void)parse_term_seq("SIG,1"); }), "no error");
}

// ------------------------------------------------------------ --timeout

TEST(ParseTimeout, FixedPercentAndZero) {
  EXPECT_EQ(parse_timeout("30").what, timeout_spec::kind::fixed);
  EXPECT_EQ(parse_timeout("2m").fixed, 2min);
  auto pct = parse_timeout("200%");
  EXPECT_EQ(pct.what, timeout_spec::kind::percent_of_median);
  EXPECT_DOUBLE_EQ(pct.percent_of_median, 200);
  EXPECT_DOUBLE_EQ(parse_timeout("150.5%").percent_of_median, 150.5);
  // GNU parallel: --timeout 0 means no timeout.
  EXPECT_EQ(parse_timeout("0").what, timeout_spec::kind::none);
  EXPECT_EQ(parse_timeout("0s").what, timeout_spec::kind::none);
  EXPECT_EQ(parse_timeout("0%").what, timeout_spec::kind::none);
  EXPECT_NE(error_of([] { (void)parse_timeout("x%"); }), "no error");
  EXPECT_NE(error_of([] { (void)parse_timeout("%"); }), "no error");
  EXPECT_EQ(error_of([] { (void)parse_timeout("soon"); }),
            "--timeout: 'soon': expected a duration like 0.5, 500ms, 2s or 1m (seconds, or numbers "
            "with units ms, s, m, h, d)");
  EXPECT_EQ(parse_timeout("1500ms").fixed, 1500ms);
  EXPECT_EQ(error_of([] { (void)parse_timeout("2000000%"); }),
            "--timeout must be at most 1,000,000%");
}

// ------------------------------------------------------------ -j

TEST(ParseJobs, AllGnuForms) {
  EXPECT_EQ(parse_jobs("8").resolve(2), 8u);
  EXPECT_EQ(parse_jobs("0").resolve(2), std::nullopt);
  EXPECT_EQ(parse_jobs("+2").resolve(8), 10u);
  EXPECT_EQ(parse_jobs("-2").resolve(8), 6u);
  EXPECT_EQ(parse_jobs("-8").resolve(8), 1u);  // never below 1
  EXPECT_EQ(parse_jobs("-100").resolve(8), 1u);
  EXPECT_EQ(parse_jobs("50%").resolve(8), 4u);
  EXPECT_EQ(parse_jobs("50%").resolve(3), 2u);  // rounded up
  EXPECT_EQ(parse_jobs("10.5%").resolve(100), 11u);
  EXPECT_EQ(parse_jobs("200%").resolve(4), 8u);
  EXPECT_EQ(parse_jobs("1%").resolve(2), 1u);
  EXPECT_EQ(parse_jobs("0%").resolve(2), 1u);
  EXPECT_EQ(jobs_spec{}.resolve(6), 6u);  // the default, 100%: one per CPU thread
}

TEST(ParseJobs, ToStringRoundTrips) {
  for (const char* s : {"8", "0", "+2", "-1", "50%", "10.5%", "100%"}) {
    EXPECT_EQ(to_string(parse_jobs(s)), s);
  }
}

TEST(ParseJobs, Errors) {
  EXPECT_EQ(error_of([] { (void)parse_jobs("many"); }),
            "-j: 'many': expected a number of jobs (8; 0 for no limit), +N or -N (CPU threads plus "
            "or minus N) or P% (of the CPU threads)");
  for (const char* bad : {"", "+", "-", "%", "1.5", "+-1", "2x", "procfile", "+1%", " 4"}) {
    EXPECT_NE(error_of([&] { (void)parse_jobs(bad); }), "no error") << bad;
  }
  EXPECT_EQ(error_of([] { (void)parse_jobs("2000000%"); }), "-j must be at most 1,000,000%");
}

}  // namespace
