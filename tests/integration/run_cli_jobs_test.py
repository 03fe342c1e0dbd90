#!/usr/bin/env python3
"""`cohort run` and jobs of several processes, on the real binary, with real
signals (python3 stdlib only).

A job is its whole process group. When its first process (the `/bin/sh -c`
that leads the group) exits, others may still run: a script it started that
traps TERM and is still cleaning up, or a process it put in the background.
These tests check that such processes get the whole --term-seq, that what
they write after the leader's exit is part of the job's output (grouped, -k,
--tag, --line-buffer), that the job is logged only when its group is gone,
and that nothing of it is left after `cohort run` exits: under Ctrl+C (a real
SIGINT), --timeout, --halt now and a custom --term-seq, and after a normal
exit.

The plumbing (Run, Dir, survivors, joblog parsing) is run_cli_test.py's.
Each job records its process group id in $D/pids, so that the survivor
check looks at every process of its group, and waits until its background
processes have set their traps before it reports `start`.

Usage: run_cli_jobs_test.py COHORT [--only SUBSTRING] [--list]
"""
import argparse
import os
import signal
import sys
import time
import traceback

import run_cli_test as base
from run_cli_test import Failure, Run, check, check_no_survivors, read_joblog, run, wait_until

# Exit statuses of an interrupted `cohort run`, as a non-shell parent sees
# them: 130/143 (an exit code), or killed by the signal itself (-2/-15).
INTERRUPTED = {signal.SIGINT: (130, -signal.SIGINT), signal.SIGTERM: (143, -signal.SIGTERM)}

# Records the job's process group, so the survivor check covers all of it.
RECORD_GROUP = 'cut -d" " -f5 /proc/$$/stat >> "$D/pids"\n'

# A script that traps TERM and has a child in the foreground. Run as
# `sh trap.sh N; echo after N`, the leader is the `sh -c`, which dies at the
# first TERM; the script's cleanup writes 0.1 s later, after the leader was
# reaped, to stdout, stderr and the events file.
TRAP_SH = RECORD_GROUP + r"""i=$1
trap 'sleep 0.1; echo cleanup-out $i; echo cleanup-err $i >&2; echo cleanup $i >> "$D/events"; exit 1' TERM
echo start $i >> "$D/events"
sleep ${SLEEP:-30}
echo done $i >> "$D/events"
"""

# A job that puts a subshell in the background; the subshell traps TERM and
# writes its cleanup 0.1 s after the TERM. The job itself (no trap) dies at
# the first TERM, or with EXIT set, exits 0 once the subshell is ready.
BG_SH = RECORD_GROUP + r"""i=$1
(trap 'sleep 0.1; echo bg-cleanup-out $i; echo bg-cleanup $i >> "$D/events"; exit 0' TERM
 touch "$D/ready.$i"; sleep 30 & wait) &
while [ ! -e "$D/ready.$i" ]; do sleep 0.01; done
echo main-out $i
echo start $i >> "$D/events"
if [ -n "$EXIT" ]; then exit 0; fi
sleep 30
echo done $i >> "$D/events"
"""

# A process left behind that survives TERMs: each one is written to stdout
# and the events file with its time; it leaves at the second.
STUBBORN_SH = RECORD_GROUP + r"""i=$1
(n=0
 trap 'n=$((n + 1)); echo term $n $i; echo term-$n $i $(date +%s.%N) >> "$D/events"; if [ $n = 2 ]; then exit 0; fi' TERM
 touch "$D/ready.$i"; while :; do sleep 30 & wait; done) &
while [ ! -e "$D/ready.$i" ]; do sleep 0.01; done
echo start $i >> "$D/events"
"""


def setup(d):
    d.write("trap.sh", TRAP_SH)
    d.write("bg.sh", BG_SH)
    d.write("stubborn.sh", STUBBORN_SH)


# A second TERM a second after the first, for a child that the first one
# reached between its fork and its exec, where the shell's trap handler
# swallows it (a race of the job scripts, not of cohort); every test checks
# that the groups empty before the end of the sequence (2 s).
TERM_SEQ = ["--term-seq", "TERM,1000,TERM,1000,KILL,25"]


def mixed_jobs(d):
    """Three jobs of several processes each: `sh -c 'a; b'` around a script
    that traps TERM, the same script as the leader itself, and a job whose
    background subshell outlives it."""
    return [f"sh {d.file('trap.sh')} 1; echo after 1", f"sh {d.file('bg.sh')} 2",
            f"exec sh {d.file('trap.sh')} 3"]


def check_cleanups(d, out, err, seqs_trap=(1, 3), seqs_bg=(2,)):
    ev = d.events()
    check(sorted(d.seqs("cleanup", ev)) == sorted(seqs_trap), f"cleanup lines {ev}")
    check(sorted(d.seqs("bg-cleanup", ev)) == sorted(seqs_bg), f"background cleanup lines {ev}")
    check(not d.seqs("done", ev), f"a job finished its work: {ev}")
    for i in seqs_trap:
        check(f"cleanup-out {i}\n" in out, f"job {i}'s cleanup output is missing: {out!r}")
        check(f"cleanup-err {i}\n" in err, f"job {i}'s cleanup stderr is missing: {err!r}")
    for i in seqs_bg:
        check(f"main-out {i}\nbg-cleanup-out {i}\n" in out,
              f"job {i}'s output is not complete and whole: {out!r}")


# ---------------------------------------------------------------------------
# Interrupted, timed out, halted: every cleanup runs, all of it is printed


def test_sigint_lets_every_process_of_every_job_clean_up(d):
    setup(d)
    r = Run(TERM_SEQ + ["-j", "3", "--joblog", d.log, ":::"] + mixed_jobs(d), d.path)
    wait_until(lambda: len(d.seqs("start")) == 3, "3 jobs started", proc=r)
    t = time.monotonic()
    r.signal(signal.SIGINT)
    rc = r.wait()
    took = time.monotonic() - t
    check(took < 1.9, f"{took:.2f} s: the sequence did not end when the groups emptied")
    check(rc in INTERRUPTED[signal.SIGINT], f"exit {rc}, expected 130 or killed by SIGINT")
    out, err = r.stdout(), r.stderr()
    check_cleanups(d, out, err)
    check("after 1" not in out, "the leader of job 1 outlived the TERM")
    check(read_joblog(d.log) == [], "killed jobs were logged")
    check("0 done, 0 failed, 3 killed, 0 never started" in err, f"summary: {err!r}")
    check_no_survivors(d)


def test_sigterm_lets_every_process_of_every_job_clean_up(d):
    setup(d)
    r = Run(TERM_SEQ + ["-j", "3", ":::"] + mixed_jobs(d), d.path)
    wait_until(lambda: len(d.seqs("start")) == 3, "3 jobs started", proc=r)
    r.signal(signal.SIGTERM)
    rc = r.wait()
    check(rc in INTERRUPTED[signal.SIGTERM], f"exit {rc}, expected 143 or killed by SIGTERM")
    check_cleanups(d, r.stdout(), r.stderr())
    check_no_survivors(d)


def test_timeout_lets_every_process_of_the_job_clean_up(d):
    setup(d)
    t = time.monotonic()
    rc, out, err = run(TERM_SEQ + ["-j", "3", "--timeout", "1", "--joblog", d.log, ":::"] +
                       mixed_jobs(d), d.path)
    check(rc == 3, f"exit {rc}, expected 3 (three jobs timed out): {err!r}")
    check(time.monotonic() - t < 10, "the timeout did not stop the jobs")
    check_cleanups(d, out, err)
    rows = read_joblog(d.log)
    check(sorted(r[0] for r in rows) == [1, 2, 3], f"joblog {rows}")
    # Leaders killed by the TERM, or job 3's script itself, which exits 1.
    check(all(r[1:3] in ((-1, signal.SIGTERM), (1, 0)) for r in rows), f"joblog {rows}")
    check_no_survivors(d)


def test_halt_now_lets_every_process_of_the_killed_jobs_clean_up(d):
    setup(d)
    fail = d.write("fail.sh", RECORD_GROUP + 'while [ "$(grep -c "^start" "$D/events" 2>/dev/null)"'
                   ' != 3 ]; do sleep 0.01; done\nexit 4\n')
    t = time.monotonic()
    rc, out, err = run(TERM_SEQ + ["-j", "4", "--halt", "now,fail=1", "--joblog", d.log, ":::"] +
                       mixed_jobs(d) + [f"sh {fail}"], d.path)
    check(rc == 4, f"exit {rc}, expected 4 (the failing job's): {err!r}")
    check(time.monotonic() - t < 10, "the running jobs were not stopped")
    check_cleanups(d, out, err)
    check([r[0] for r in read_joblog(d.log)] == [4], "only the failed job is logged")
    check_no_survivors(d)


def test_term_seq_reaches_what_the_leader_left_behind_with_its_timings(d):
    # The leader dies at the first TERM; the process it left survives it and
    # leaves at the second, 0.4 s later. Both are written and printed.
    setup(d)
    r = Run(["-j", "2", "--term-seq", "TERM,400,TERM,2000,KILL,25", "--joblog", d.log, ":::",
             f"sh {d.file('stubborn.sh')} 1; sleep 30", f"sh {d.file('stubborn.sh')} 2; sleep 30"],
            d.path)
    wait_until(lambda: len(d.seqs("start")) == 2, "2 jobs started", proc=r)
    t = time.monotonic()
    r.signal(signal.SIGINT)
    rc = r.wait()
    took = time.monotonic() - t
    check(rc in INTERRUPTED[signal.SIGINT], f"exit {rc}")
    out, ev = r.stdout(), d.events()
    for i in (1, 2):
        check(f"term 1 {i}\nterm 2 {i}\n" in out, f"job {i}: the TERMs are not all printed: {out!r}")
        stamps = {e[0]: float(e[2]) for e in ev if e[0].startswith("term-") and e[1] == str(i)}
        check(set(stamps) == {"term-1", "term-2"}, f"job {i}: TERMs received {ev}")
        gap = stamps["term-2"] - stamps["term-1"]
        check(0.3 <= gap < 1.5, f"job {i}: {gap:.2f} s between the TERMs, the sequence says 0.4")
    check(took < 2.0, f"{took:.2f} s: the sequence did not end when the groups emptied")
    check_no_survivors(d)


# ---------------------------------------------------------------------------
# A job that exits and leaves processes behind


def left_behind_args(d, extra):
    return extra + ["-j", "3", "--joblog", d.log, "sh", d.file("bg.sh"), ":::", "1", "2", "3"]


def check_left_behind(d, rc, err, took):
    check(rc == 0, f"exit {rc}: {err!r}")
    check(took < 10, f"{took:.1f} s: cohort waited for the background processes")
    check(sorted(d.seqs("bg-cleanup")) == [1, 2, 3], f"background cleanups {d.events()}")
    rows = read_joblog(d.log)
    check(sorted(r[0] for r in rows) == [1, 2, 3] and all(r[1:3] == (0, 0) for r in rows),
          f"joblog {rows}")
    check_no_survivors(d)


def test_left_behind_processes_get_the_sequence_and_their_output_is_grouped(d):
    setup(d)
    t = time.monotonic()
    rc, out, err = run(left_behind_args(d, []), d.path, {"EXIT": "1"})
    check_left_behind(d, rc, err, time.monotonic() - t)
    lines = out.splitlines()
    check(len(lines) == 6, f"output {out!r}")
    for k in range(0, 6, 2):
        i = lines[k].split()[-1]
        check(lines[k:k + 2] == [f"main-out {i}", f"bg-cleanup-out {i}"],
              f"a job's output is split or incomplete: {out!r}")


def test_left_behind_output_keeps_order_with_k_and_tag(d):
    setup(d)
    t = time.monotonic()
    rc, out, err = run(left_behind_args(d, ["-k", "--tag"]), d.path, {"EXIT": "1"})
    check_left_behind(d, rc, err, time.monotonic() - t)
    want = "".join(f"{i}\tmain-out {i}\n{i}\tbg-cleanup-out {i}\n" for i in (1, 2, 3))
    check(out == want, f"-k --tag output {out!r}, expected {want!r}")


def test_left_behind_output_is_printed_with_line_buffer(d):
    setup(d)
    t = time.monotonic()
    rc, out, err = run(left_behind_args(d, ["--line-buffer"]), d.path, {"EXIT": "1"})
    check_left_behind(d, rc, err, time.monotonic() - t)
    want = sorted([f"main-out {i}" for i in (1, 2, 3)] + [f"bg-cleanup-out {i}" for i in (1, 2, 3)])
    check(sorted(out.splitlines()) == want, f"--line-buffer output {out!r}")


def test_line_buffer_prints_a_last_line_without_newline_at_the_jobs_end(d):
    # Also when a process left behind writes it in its cleanup.
    s = d.write("partial.sh", RECORD_GROUP + '(trap \'printf "left %s" $1; exit 0\' TERM; '
                'touch "$D/ready.$1"; sleep 30 & wait) &\n'
                'while [ ! -e "$D/ready.$1" ]; do sleep 0.01; done\nprintf "line %s\\nno-newline" $1\n'
                'printf "err %s" $1 >&2\n')
    rc, out, err = run(["--line-buffer", "--tag", "-j", "2", "sh", s, ":::", "a", "b"], d.path)
    check(rc == 0, f"exit {rc}: {err!r}")
    for i in ("a", "b"):
        check(f"{i}\tline {i}\n" in out, f"--line-buffer lost a line: {out!r}")
        check(f"{i}\tno-newlineleft {i}" in out, f"--line-buffer lost the last line: {out!r}")
        check(f"{i}\terr {i}" in err, f"--line-buffer lost the last stderr line: {err!r}")
    check_no_survivors(d)


def test_job_is_logged_when_its_group_is_gone(d):
    # The background process takes 1 s to clean up: the job's line appears
    # in the joblog only after its cleanup line, and cohort's exit after both.
    d.write("slow.sh", RECORD_GROUP + '(trap \'echo cleanup-begin 1 >> "$D/events"; sleep 1; '
            'echo cleanup 1 >> "$D/events"; exit 0\' TERM; touch "$D/ready"; sleep 30 & wait) &\n'
            'while [ ! -e "$D/ready" ]; do sleep 0.01; done\necho start 1 >> "$D/events"\n')
    r = Run(["--term-seq", "TERM,3000,KILL,25", "--joblog", d.log, "sh", d.file("slow.sh"), ":::",
             "1"], d.path)
    wait_until(lambda: d.seqs("cleanup-begin") == [1], "the cleanup began", proc=r)
    check(base.logged_jobs(d.log) <= 0, "the job was logged while its group still ran")
    rc = r.wait()
    check(rc == 0, f"exit {rc}: {r.stderr()!r}")
    check([e[0] for e in d.events()] == ["start", "cleanup-begin", "cleanup"],
          f"events {d.events()}")
    check([x[0] for x in read_joblog(d.log)] == [1], "joblog")
    check_no_survivors(d)


def test_a_daemon_ignoring_term_is_killed_at_the_end_of_the_sequence(d):
    s = d.write("daemon.sh", RECORD_GROUP + '(trap "" TERM; touch "$D/ready"; exec sleep 1000) &\n'
                'while [ ! -e "$D/ready" ]; do sleep 0.01; done\necho started\n')
    t = time.monotonic()
    rc, out, err = run(["--term-seq", "TERM,300,KILL,25", "sh", s, ":::", "1"], d.path)
    took = time.monotonic() - t
    check(rc == 0 and out == "started\n", f"{rc} {out!r} {err!r}")
    check(0.3 <= took < 5, f"{took:.2f} s; the sequence waits 0.3 s before its KILL")
    check_no_survivors(d)


def test_a_process_that_left_the_group_does_not_hold_the_job(d):
    # `setsid` takes the sleep out of the job's group while it keeps the
    # job's stdout open: the job ends with its group, not at the pipe's end.
    s = d.write("escape.sh", RECORD_GROUP + 'setsid sh -c \'touch "$D/left"; exec sleep 1000\' &\n'
                'echo $! > "$D/escaped"\nwhile [ ! -e "$D/left" ]; do sleep 0.01; done\n'
                'echo started\n')
    t = time.monotonic()
    try:
        rc, out, err = run(["sh", s, ":::", "1"], d.path, timeout=20)
        took = time.monotonic() - t
        check(rc == 0 and out == "started\n", f"{rc} {out!r} {err!r}")
        check(took < 5, f"{took:.1f} s: the job waited for a process outside its group")
    finally:
        try:
            with open(d.file("escaped")) as f:
                os.kill(int(f.read()), signal.SIGKILL)
        except (OSError, ValueError):
            pass
    check_no_survivors(d)


# ---------------------------------------------------------------------------

def test_sigint_with_pipe_stops_the_chunk_reader_and_lets_the_jobs_clean_up(d):
    # --pipe (issue 16): chunks of a pipe whose writer never closes it; the
    # reader waits for more while two jobs run. SIGINT: the wait ends, the
    # jobs get the sequence (their cleanup runs), the run ends by SIGINT.
    setup(d)
    job = ('cut -d" " -f5 /proc/$$/stat >> "$D/pids"; wc -l > "$D/count.$PARALLEL_SEQ"; '
           'trap \'echo cleanup $PARALLEL_SEQ >> "$D/events"; exit 1\' TERM; '
           'echo start $PARALLEL_SEQ >> "$D/events"; sleep 30 & wait')
    read_end, write_end = os.pipe()
    os.write(write_end, b"1\n2\n3\n4\n")
    r = Run(TERM_SEQ + ["--pipe", "--block", "4", "-j", "2", job], d.path, stdin=read_end)
    os.close(read_end)
    try:
        wait_until(lambda: len(d.seqs("start")) == 2, "2 chunk jobs started", proc=r)
        t = time.monotonic()
        r.signal(signal.SIGINT)
        rc = r.wait()
        took = time.monotonic() - t
    finally:
        os.close(write_end)
    check(took < 1.9, f"{took:.2f} s to stop")
    check(rc in INTERRUPTED[signal.SIGINT], f"exit {rc}, expected 130 or killed by SIGINT")
    check(sorted(d.seqs("cleanup")) == [1, 2], f"cleanups: {d.seqs('cleanup')}")
    counts = [open(os.path.join(d.path, f"count.{i}")).read().strip() for i in (1, 2)]
    check(counts == ["2", "2"], f"each job read its chunk of 2 lines: {counts}")
    check_no_survivors(d)


def big_lines(d, name, size):
    """A file of numbered lines, `size` bytes or a little more: larger than a
    pipe holds, so a --pipepart job that stops reading holds its feed up."""
    lines, n, i = [], 0, 0
    while n < size:
        line = f"{i:07d}\n"
        lines.append(line)
        n += len(line)
        i += 1
    return d.write(name, "".join(lines))


def test_pipepart_retries_read_the_range_again_and_jobs_may_skip_it(d):
    # --pipepart (issue 16): each job reads its byte range through a pipe fed
    # from the file. A first attempt that reads a little and fails, then a
    # retry: the retry gets the whole range. A job that reads nothing (the
    # feed meets a closed pipe) succeeds and does not hold or kill cohort.
    f = big_lines(d, "big", 3 << 20)
    size = os.path.getsize(f)
    job = ('if [ ! -e "$D/tried.$PARALLEL_SEQ" ]; then touch "$D/tried.$PARALLEL_SEQ"; '
           'head -c 100 > /dev/null; exit 1; fi; wc -c')
    t = time.monotonic()
    rc, out, err = run(["--pipepart", "-a", f, "--block", "1M", "--retries", "2", "-j", "2",
                        job], d.path, timeout=20)
    check(rc == 0, f"exit {rc}: {err!r}")
    counts = [int(x) for x in out.split()]
    check(len(counts) == 3 and sum(counts) == size, f"chunk sizes {counts}, file {size}")
    check(all(abs(c - (1 << 20)) < 16 for c in counts[:-1]), f"chunk sizes {counts}")
    rc, out, err = run(["--pipepart", "-a", f, "--block", "1M", "-j", "2", "true"], d.path,
                       timeout=20)
    check(rc == 0 and out == "" and err == "", f"exit {rc} {out!r} {err!r}")
    rc, out, err = run(["--pipepart", "-a", f, "--block", "1M", "-j", "2", "head -n 1"], d.path,
                       timeout=20)
    check(rc == 0 and len(out.split()) == 3, f"exit {rc} {out!r} {err!r}")
    check(time.monotonic() - t < 15, "slow")


def test_sigint_with_pipepart_jobs_that_stopped_reading_ends_promptly(d):
    # The jobs read one line of their 2 MiB range and sleep: their pipes are
    # full and the feeds wait. SIGINT: the feeds end, the jobs get the
    # sequence (their cleanup runs), the run ends by SIGINT.
    f = big_lines(d, "big", 4 << 20)
    job = ('cut -d" " -f5 /proc/$$/stat >> "$D/pids"; head -n 1 > /dev/null; '
           'trap \'echo cleanup $PARALLEL_SEQ >> "$D/events"; exit 1\' TERM; '
           'echo start $PARALLEL_SEQ >> "$D/events"; sleep 30 & wait')
    r = Run(TERM_SEQ + ["--pipepart", "-a", f, "--block", "2M", "-j", "2", job], d.path)
    wait_until(lambda: len(d.seqs("start")) == 2, "2 chunk jobs started", proc=r)
    t = time.monotonic()
    r.signal(signal.SIGINT)
    rc = r.wait()
    took = time.monotonic() - t
    check(took < 1.9, f"{took:.2f} s to stop")
    check(rc in INTERRUPTED[signal.SIGINT], f"exit {rc}, expected 130 or killed by SIGINT")
    check(sorted(d.seqs("cleanup")) == [1, 2], f"cleanups: {d.seqs('cleanup')}")
    check_no_survivors(d)


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
            for pid in base.survivors(d.pids()):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            d.cleanup()
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
