#!/usr/bin/env python3
"""What `cohort run` says to a person, on the real binary (python3 stdlib
only): each error once, in the tool's own words; a warning for a job killed by
--timeout, as GNU parallel prints one; a --bar whose summary counts the jobs a
--resume skipped inside the total; an output error that names the errno hit.

The plumbing (Run, Dir, run, joblog parsing) is run_cli_test.py's.

Usage: run_cli_behaviour_test.py COHORT [--only SUBSTRING] [--list]
"""
import argparse
import os
import re
import signal
import subprocess
import sys
import time
import traceback

import run_cli_test as base
from run_cli_test import Failure, check, read_joblog, run

RUN_ERROR = 255  # exit status of a run that could not be done (bad input, joblog)


def error_lines(err):
    return [l for l in err.splitlines() if l.strip()]


def test_changed_input_under_resume_is_reported_once(d):
    rc, _, err = run(["--joblog", d.log, "echo", ":::", "a", "b", "c", "d"], d.path)
    check(rc == 0, f"first run: exit {rc}: {err!r}")
    # Seq 2 and Seq 4 both changed: the run stops at the first, and says so
    # once, in the tool's words (not the runtime's "error: task group failed").
    rc, out, err = run(["--resume", "--joblog", d.log, "echo", ":::", "a", "x", "c", "y"], d.path)
    check(rc == RUN_ERROR, f"exit {rc}, expected {RUN_ERROR}: {err!r}")
    lines = error_lines(err)
    check(lines == ["cohort run: the input changed since the joblog was written: Seq 2 was "
                    "'echo b', now 'echo x'; use a new --joblog or drop --resume"],
          f"stderr: {err!r}")
    check(out == "", f"jobs ran after the input was found changed: {out!r}")


def test_changed_command_under_resume_failed_is_one_warning(d):
    # As GNU parallel, the failed jobs run with the new command; said once.
    rc, _, err = run(["--joblog", d.log, "exit", ":::", "0", "1", "2"], d.path)
    check(rc == 2, f"first run: exit {rc}: {err!r}")
    rc, out, err = run(["--resume-failed", "-k", "--joblog", d.log, "echo", ":::", "0", "1", "2"],
                       d.path)
    check(rc == 0, f"exit {rc}: {err!r}")
    check(out == "1\n2\n", f"output {out!r}")
    check(error_lines(err) == ["cohort run: warning: the command changed since the joblog was "
                               "written (Seq 1 was 'exit 0', now 'echo 0'); the failed jobs run "
                               "with the new command"], f"stderr: {err!r}")


def test_unwritable_joblog_is_reported_once(d):
    rc, _, err = run(["--joblog", os.path.join(d.path, "no", "such", "dir", "j.log"), "echo",
                      ":::", "a"], d.path)
    check(rc == RUN_ERROR, f"exit {rc}: {err!r}")
    lines = error_lines(err)
    check(len(lines) == 1 and lines[0].startswith("cohort run: cannot open joblog") and
          lines[0].endswith("No such file or directory"), f"stderr: {err!r}")


def test_timeout_prints_a_warning_per_killed_job(d):
    rc, _, err = run(["-j", "2", "--timeout", "0.5", "--joblog", d.log, "sleep", ":::", "5", "0.1"],
                     d.path)
    check(rc == 1, f"exit {rc}, expected 1: {err!r}")
    # GNU parallel: "parallel: Warning: This job was killed because it timed
    # out:" and the command; ours on one line, in the tool's dialect.
    check(error_lines(err) == ["cohort run: warning: this job was killed because it timed out: "
                               "sleep 5"], f"stderr: {err!r}")
    rows = {r[0]: r for r in read_joblog(d.log)}
    check(rows[1][1:3] == (-1, 15) and rows[2][1:3] == (0, 0), f"joblog {rows}")


def test_timeout_warning_names_the_command_and_keeps_the_output(d):
    s = d.write("slow.sh", "echo before-$1; sleep 5\n")
    rc, out, err = run(["--timeout", "0.3", "sh", s, ":::", "a"], d.path)
    check(rc == 1, f"exit {rc}: {err!r}")
    check(out == "before-a\n", f"stdout {out!r}")
    check(error_lines(err) == [f"cohort run: warning: this job was killed because it timed out: "
                               f"sh {s} a"], f"stderr: {err!r}")


def test_no_warning_for_a_job_stopped_by_halt(d):
    rc, _, err = run(["-j", "2", "--timeout", "30", "--halt", "now,fail=1", "sh", "-c", ":::",
                      "exit 3", "sleep 10"], d.path)
    check(rc == 3, f"exit {rc}: {err!r}")
    check("timed out" not in err, f"a halted job was said to have timed out: {err!r}")


def test_bar_summary_counts_resumed_jobs_inside_the_total(d):
    rc, _, err = run(["--joblog", d.log, "echo", ":::", "a", "b"], d.path)
    check(rc == 0, f"first run: exit {rc}: {err!r}")
    rc, out, err = run(["--resume", "--bar", "--joblog", d.log, "echo", ":::", "a", "b", "c", "d"],
                       d.path)
    check(rc == 0, f"exit {rc}: {err!r}")
    check(sorted(out.split()) == ["c", "d"], f"stdout {out!r}")
    m = re.fullmatch(r"(\d+)/(\d+) jobs: (\d+) done, (\d+) skipped in \d+:\d\d( \(.*\))?\n", err)
    check(m is not None, f"summary {err!r}")
    finished, total, done, skipped = (int(m.group(i)) for i in range(1, 5))
    check((finished, total, done, skipped) == (4, 4, 2, 2), f"summary {err!r}")


# ---------------------------------------------------------------------------

def immutable(path):
    """Makes directory `path` refuse new entries; returns the strerror text a
    create then gets, or None if this machine cannot (no chattr, a file system
    without the flag, not root)."""
    if os.geteuid() != 0:
        os.chmod(path, 0o555)
        return "Permission denied"
    r = subprocess.run(["chattr", "+i", path], capture_output=True)
    return "Operation not permitted" if r.returncode == 0 else None


def mutable(path):
    if os.geteuid() != 0:
        os.chmod(path, 0o755)
    else:
        subprocess.run(["chattr", "-i", path], capture_output=True)


def test_joblog_in_a_locked_directory_names_the_errno(d):
    locked = os.path.join(d.path, "locked")
    os.mkdir(locked)
    expected = immutable(locked)
    if expected is None:
        print("     (skipped: cannot make a directory immutable here)")
        return
    try:
        rc, _, err = run(["--joblog", os.path.join(locked, "j.log"), "echo", ":::", "a"], d.path)
    finally:
        mutable(locked)
    check(rc == RUN_ERROR, f"exit {rc}: {err!r}")
    check(error_lines(err) == [f"cohort run: cannot open joblog '{locked}/j.log': {expected}"],
          f"stderr: {err!r}")


TESTS = [(name[5:], fn) for name, fn in sorted(globals().items())
         if name.startswith("test_") and callable(fn)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("cohort")
    ap.add_argument("--only", default="")
    ap.add_argument("--list", action="store_true")
    args = ap.parse_args()
    base.EXE = os.path.abspath(args.cohort)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    passed = failed = 0
    for name, fn in TESTS:
        if args.only not in name:
            continue
        if args.list:
            print(name)
            continue
        d = base.Dir()
        t = time.monotonic()
        try:
            fn(d)
            passed += 1
            print(f"ok   {name} ({time.monotonic() - t:.2f} s)", flush=True)
        except Failure as e:
            failed += 1
            print(f"FAIL {name}: {e}", flush=True)
        except Exception:
            failed += 1
            print(f"FAIL {name}: {traceback.format_exc()}", flush=True)
        finally:
            d.cleanup()
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
