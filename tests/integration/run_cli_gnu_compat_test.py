#!/usr/bin/env python3
"""`cohort run` against GNU parallel itself (python3 stdlib only): the same
command line run by both, each in a fresh directory, gives the same output,
exit status and job log. Covers GNU's other spellings of our options and the
answers issue 16 found different (see each test).

The plumbing (Run, Dir, run, joblog parsing) is run_cli_test.py's.

Usage: run_cli_gnu_compat_test.py COHORT [--only SUBSTRING] [--list]
"""
import os
import shutil
import subprocess
import sys
import tempfile

import run_cli_test as base
from run_cli_test import Failure, check, run

USAGE_ERROR = 255


def gnu(args, cwd, input_bytes=None, timeout=60):
    """GNU parallel on ARGS in CWD: (rc, stdout, stderr)."""
    if shutil.which("parallel") is None:
        raise Failure("GNU parallel is not installed (scripts/setup installs it)")
    p = subprocess.run(["parallel", "--will-cite"] + [str(a) for a in args], cwd=cwd,
                       input=input_bytes if input_bytes is not None else b"",
                       capture_output=True, timeout=timeout)
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


def both(d, args, input_bytes=None):
    """Runs ARGS with GNU parallel and with cohort run, each in its own fresh
    directory under D; returns (gnu_dir, gnu_result, our_dir, our_result)."""
    gdir = tempfile.mkdtemp(prefix="gnu-", dir=d.path)
    odir = tempfile.mkdtemp(prefix="ours-", dir=d.path)
    g = gnu(args, gdir, input_bytes)
    o = run(args, odir, input_bytes=input_bytes)
    return gdir, g, odir, o


def same(d, args, sort=False, input_bytes=None):
    """ARGS give the same exit status and output with both tools."""
    gdir, g, odir, o = both(d, args, input_bytes)
    gout, oout = g[1], o[1]
    if sort:
        gout, oout = sorted(gout.splitlines()), sorted(oout.splitlines())
    check(g[0] == o[0], f"{args}: exit {o[0]}, GNU parallel {g[0]} (stderr {o[2]!r} / {g[2]!r})")
    check(gout == oout, f"{args}: output {oout!r}, GNU parallel {gout!r}")
    return gdir, g, odir, o


def log_lines(path):
    """(Seq, Exitval, Signal, Command) of each line of a joblog, in file
    order, and whether it starts with the header (GNU's `--joblog +FILE`
    writes none; a Seq may repeat after a --resume-failed)."""
    with open(path) as f:
        lines = f.read().splitlines()
    header = bool(lines) and lines[0] == base.HEADER
    rows = []
    for l in lines[1:] if header else lines:
        f = l.split("\t")
        check(len(f) == 9, f"malformed joblog line {l!r}")
        rows.append((int(f[0]), int(f[6]), int(f[7]), f[8]))
    return header, rows


# ---------------------------------------------------------------------------
# GNU's other spellings of our options


def test_gnus_other_spellings_of_our_options(d):
    for args in (["--dryrun", "echo", ":::", "a", "b"],
                 ["--dr", "echo", ":::", "a", "b"],
                 ["-P", "2", "-k", "echo", ":::", "a", "b", "c"],
                 ["--max-procs", "1", "echo", ":::", "a", "b"],
                 ["--maxprocs=1", "echo", ":::", "a", "b"],
                 ["--linebuffer", "echo", ":::", "a"],
                 ["--line-buffered", "echo", ":::", "a"],
                 ["--termseq", "TERM,100,KILL,25", "echo", ":::", "a"],
                 ["--halt-on-error", "2", "-j1", "exit", ":::", "0", "3", "4"],
                 ["--haltonerror", "now,fail=1", "-j1", "exit", ":::", "0", "5", "4"],
                 ["--delay", ".2", "echo", ":::", "a", "b"],
                 ["--delay", "2.", "echo", ":::", "a"],
                 ["-k", "--no-keep-order", "-j1", "echo", ":::", "a", "b"],
                 ["--keeporder", "echo", ":::", "a", "b"],
                 ["--will-cite", "echo", ":::", "a"]):
        same(d, args)
    # Sorted: two jobs at once print, and are logged, in the order they end
    # (under load b ended first: a fresh-clone CI run, 2026-12-05).
    gdir, _, odir, _ = same(d, ["--jl", "j.log", "echo", ":::", "a", "b"], sort=True)
    check(sorted(log_lines(os.path.join(odir, "j.log"))[1]) ==
          sorted(log_lines(os.path.join(gdir, "j.log"))[1]), "--jl: the joblogs differ")


# ---------------------------------------------------------------------------
# Output


def test_keep_order_with_line_buffer(d):
    job = "echo start {}; sleep {}; echo end {}; echo err {} >&2"
    same(d, ["-j3", "-k", "--line-buffer", job, ":::", "0.4", "0.2", "0.8"])
    same(d, ["-j3", "-k", "--lb", "--tag", "printf 'a{}'; sleep {}; printf 'b{}\\n'", ":::",
             "0.4", "0.2", "0.8"])
    # The oldest running job's lines come as they come: "start 0.8" is out
    # while that job still sleeps (GNU parallel prints it when 0.4 ends).
    r = base.Run(["-j3", "-k", "--lb", job, ":::", "0.4", "0.2", "3"], d.path)
    base.wait_until(lambda: "start 3" in r.stdout(), "the oldest job's first line", timeout=2.5)
    check("end 3" not in r.stdout(), f"output {r.stdout()!r}")
    check(r.wait() == 0, f"exit {r.rc}")


# ---------------------------------------------------------------------------
# Inputs


def test_a_value_with_a_newline_is_two_values(d):
    for args in (["-k", "echo", "{#}:{}", ":::", "a\nb", "c"],
                 ["-k", "echo", "{#}:{}", ":::", "a\n", "", "b"],
                 ["-k", "echo", "{1}-{2}", ":::", "a\nb", ":::", "x", "y\nz"],
                 ["-k", "--dry-run", "echo", ":::", "a\nb"],
                 ["-0", "-k", "echo", "{#}", ":::", "a\nb"]):
        same(d, args)


# ---------------------------------------------------------------------------
# Exit status


def test_exit_status_after_a_halt_is_decided_when_it_halts(d):
    # GNU parallel: the status of the job that halted the run (fail=1,
    # done=1, or a percentage that is one job), or the count / percentage of
    # failed jobs at that moment; jobs failing afterwards do not count.
    job = "sleep 0.{}; exit {}"  # job N sleeps 0.N s and exits N
    for args in (["-j2", "--halt", "soon,fail=1", "sh", "-c", "sleep 0.$1; exit $1", "_", ":::",
                  "3", "6"],
                 ["-j3", "--halt", "soon,fail=1", job, ":::", "1", "4", "7"],
                 ["-j4", "--halt", "soon,fail=2", job, ":::", "1", "3", "5", "7"],
                 ["-j4", "--halt", "now,fail=2", job, ":::", "1", "3", "5", "7"],
                 ["-j4", "--halt", "soon,fail=25%", job, ":::", "1", "3", "5", "7"],
                 ["-j4", "--halt", "soon,done=1", job, ":::", "1", "3", "5", "7"],
                 ["-j1", "--halt", "soon,fail=90%", "exit", ":::", "0", "1", "1"],
                 ["-j1", "--halt", "soon,success=90%", "exit", ":::", "0", "1", "1"],
                 ["-j1", "--halt", "soon,fail=20%", "exit", ":::", "0", "4", "1", "1", "0"],
                 ["-j1", "--halt", "soon,fail=40%", "exit", ":::", "0", "4", "1", "1", "0"],
                 ["-j1", "--halt", "now,fail=1", "kill -TERM $$", ":::", "1"],
                 ["-j1", "--halt", "now,fail=1", "--timeout", "0.3", "sleep", ":::", "5"]):
        same(d, args, sort=True)


# ---------------------------------------------------------------------------
# The job log


def test_joblog_plus_file_appends(d):
    # GNU: `--joblog +FILE` appends to FILE (no header, even on a new file);
    # --resume with it reads FILE.
    # One job at a time: a log is written in the order jobs end, and the
    # order is what this test compares.
    gdir, _, odir, _ = same(d, ["-j1", "--joblog", "+j.log", "echo", ":::", "a"])
    for where, tool in ((gdir, gnu), (odir, lambda a, c: run(a, c))):
        rc = tool(["-j1", "--joblog", "+j.log", "echo", ":::", "b", "c"], where)[0]
        check(rc == 0, f"second run in {where}: exit {rc}")
        rc = tool(["-j1", "--resume", "--joblog", "+j.log", "echo", ":::", "b", "c", "d"],
                  where)[0]
        check(rc == 0, f"--resume run in {where}: exit {rc}")
    check(not os.path.exists(os.path.join(odir, "+j.log")), "a file named '+j.log' was made")
    ours = log_lines(os.path.join(odir, "j.log"))
    theirs = log_lines(os.path.join(gdir, "j.log"))
    check(ours == theirs, f"joblog {ours}, GNU parallel {theirs}")
    check(ours[1] == [(1, 0, 0, "echo a"), (1, 0, 0, "echo b"), (2, 0, 0, "echo c"),
                      (3, 0, 0, "echo d")], f"joblog {ours}")


def test_a_job_ended_by_a_signal_is_logged_as_gnu_does(d):
    # Killed by its own signal: Exitval 0 and the signal; killed by
    # --timeout: Exitval -1 and the signal.
    for args in (["--joblog", "j.log", "-k", "kill -TERM $$", ":::", "1", "2"],
                 ["--joblog", "j.log", "--timeout", "0.3", "sleep", ":::", "5"]):
        gdir, _, odir, _ = same(d, args)
        # Sorted: a log is written in the order jobs end.
        ours = sorted(r[:3] for r in log_lines(os.path.join(odir, "j.log"))[1])
        theirs = sorted(r[:3] for r in log_lines(os.path.join(gdir, "j.log"))[1])
        check(ours == theirs, f"{args}: joblog {ours}, GNU parallel {theirs}")
    # Such a job failed: --resume-failed runs it again, in both tools (the
    # job kills itself the first time only).
    args = ["--joblog", "j.log", "-j1", "test -e m{} || { touch m{}; kill -TERM $$; }", ":::",
            "1", "2"]
    gdir, _, odir, _ = same(d, args)
    for where, tool in ((gdir, gnu), (odir, lambda a, c: run(a, c))):
        tool(["--resume-failed"] + args, where)
    ours = log_lines(os.path.join(odir, "j.log"))[1]
    check([r[:3] for r in ours] == [r[:3] for r in log_lines(os.path.join(gdir, "j.log"))[1]],
          f"after --resume-failed: {ours}")
    check([r[:3] for r in ours] == [(1, 0, 15), (2, 0, 15), (1, 0, 0), (2, 0, 0)],
          f"after --resume-failed: {ours}")


def test_resume_failed_runs_the_failed_jobs_with_a_changed_command(d):
    first = ["--joblog", "j.log", "-k", "exit", ":::", "0", "1", "2"]
    gdir, _, odir, _ = same(d, first)
    fixed = ["--resume-failed", "--joblog", "j.log", "-k", "echo new", ":::", "0", "1", "2"]
    g = gnu(fixed, gdir)
    o = run(fixed, odir)
    check((o[0], o[1]) == (g[0], g[1]), f"exit {o[0]} output {o[1]!r}, GNU parallel {g[:2]}")
    # Sorted: a log is written in the order jobs end.
    ours = sorted(log_lines(os.path.join(odir, "j.log"))[1])
    theirs = sorted(log_lines(os.path.join(gdir, "j.log"))[1])
    check(ours == theirs, f"joblog {ours}, GNU parallel {theirs}")
    # Plain --resume still refuses: it would mix two commands' outputs.
    rc, _, err = run(["--resume"] + fixed[1:], odir)
    check(rc == USAGE_ERROR and "the input changed" in err, f"--resume: exit {rc}: {err!r}")


TESTS = [(name[5:], fn) for name, fn in sorted(globals().items())
         if name.startswith("test_") and callable(fn)]

if __name__ == "__main__":
    sys.exit(base.run_tests(TESTS))
