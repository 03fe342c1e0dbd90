#!/usr/bin/env python3
"""End-to-end tests of `cohort run` on the real binary (python3 stdlib only).

Real signals go to a real `cohort run` started in its own session with SIGINT
at SIG_DFL (a driver started as a background job of a non-interactive shell
has SIGINT ignored, and children would inherit that). Jobs are small shell
scripts that append `start N`, `cleanup N` and `done N` lines to an events
file and their pids to a pids file; the tests wait for those markers (or for
joblog lines), never for a blind delay where a marker exists.

After every interrupted run the test checks that no process of any job is
left (every recorded pid and every process in a job's process group), that
the joblog is well formed, and that `--resume` with the same joblog runs
exactly the jobs that had not finished.

Usage: run_cli_test.py COHORT [--only SUBSTRING] [--list]
Prints one line per test and ends with `N passed, N failed`; exits 1 on any
failure.
"""
import argparse
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback

EXE = None
SANITIZER = re.compile(r"(AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|"
                       r"runtime error:)")
HEADER = "Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand"

# The job of the signal scenarios. Environment: D (the test's directory),
# SLEEP (seconds of work, default 30), FAST (jobs 1..FAST do no work),
# CLEANUP (seconds the TERM trap takes), GATE (wait for this file instead of
# sleeping), FAIL_EVEN (even jobs exit 1).
JOB_SH = r"""#!/bin/sh
i=$1
echo $$ >> "$D/pids"
trap 'echo cleanup-begin $i >> "$D/events"; if [ -n "$CLEANUP" ]; then sleep $CLEANUP; fi; echo cleanup $i >> "$D/events"; exit 1' TERM
t=${SLEEP:-30}
if [ -n "$FAST" ] && [ "$i" -le "$FAST" ]; then t=0; fi
echo start $i >> "$D/events"
if [ "$t" = 0 ]; then
  :
elif [ -n "$GATE" ]; then
  while [ ! -e "$GATE" ]; do sleep 0.02; done
else
  sleep $t &
  echo $! >> "$D/pids"
  wait
fi
if [ -n "$FAIL_EVEN" ] && [ $((i % 2)) = 0 ]; then echo failed $i >> "$D/events"; exit 1; fi
echo done $i >> "$D/events"
"""


# ---------------------------------------------------------------------------
# Plumbing


class Failure(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failure(what)


def child_setup():
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGHUP, signal.SIG_DFL)


class Run:
    """A running `cohort run ARGS` with its output in files."""

    def __init__(self, args, d=None, env=None, stdin=subprocess.DEVNULL, stdout=None):
        self.out = tempfile.TemporaryFile()
        self.err = tempfile.TemporaryFile()
        full_env = dict(os.environ)
        full_env.pop("NO_COLOR", None)
        if d is not None:
            full_env["D"] = d
        full_env.update(env or {})
        self.proc = subprocess.Popen([EXE, "run"] + [str(a) for a in args], cwd=d,
                                     env=full_env, stdin=stdin,
                                     stdout=self.out if stdout is None else stdout,
                                     stderr=self.err, start_new_session=True,
                                     preexec_fn=child_setup)
        self.pidfd = os.pidfd_open(self.proc.pid)
        self.started = time.monotonic()
        self.rc = None

    def exited(self, wait_s=0.0):
        p = select.poll()
        p.register(self.pidfd, select.POLLIN)
        return bool(p.poll(max(0, int(wait_s * 1000))))

    def signal(self, sig):
        signal.pidfd_send_signal(self.pidfd, sig)

    def wait(self, timeout=30.0):
        if not self.exited(timeout):
            self.proc.kill()
            self.proc.wait()
            os.close(self.pidfd)
            raise Failure(f"cohort run did not exit within {timeout} s; stderr: {self.stderr()!r}")
        self.rc = self.proc.wait()
        os.close(self.pidfd)
        err = self.stderr()
        if SANITIZER.search(err):
            raise Failure(f"sanitizer report: {err[:2000]}")
        return self.rc

    def stdout_bytes(self):
        return os.pread(self.out.fileno(), 1 << 24, 0)

    def stdout(self):
        return self.stdout_bytes().decode(errors="replace")

    def stderr(self):
        return os.pread(self.err.fileno(), 1 << 22, 0).decode(errors="replace")


def run(args, d=None, env=None, input_bytes=None, timeout=30.0):
    """Runs to the end; returns (rc, stdout, stderr)."""
    if input_bytes is None:
        r = Run(args, d, env)
    else:
        r = Run(args, d, env, stdin=subprocess.PIPE)
        r.proc.stdin.write(input_bytes)
        r.proc.stdin.close()
    rc = r.wait(timeout)
    return rc, r.stdout(), r.stderr()


def wait_until(pred, what, timeout=15.0, proc=None):
    end = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if proc is not None and proc.exited(0):
            raise Failure(f"cohort run exited (stderr {proc.stderr()!r}) while waiting for {what}")
        if time.monotonic() > end:
            raise Failure(f"timed out waiting for {what}")
        time.sleep(0.01)


class Dir:
    """A scratch directory with the job script, events and pids files."""

    def __init__(self):
        self.path = tempfile.mkdtemp(prefix="cohort-run-test-")
        self.job = os.path.join(self.path, "job.sh")
        self.write("job.sh", JOB_SH)
        self.events_path = os.path.join(self.path, "events")
        self.log = os.path.join(self.path, "jobs.log")

    def write(self, name, text):
        p = os.path.join(self.path, name)
        with open(p, "w") as f:
            f.write(text)
        return p

    def file(self, name):
        return os.path.join(self.path, name)

    def events(self):
        try:
            with open(self.events_path) as f:
                return [l.split() for l in f.read().splitlines() if l.strip()]
        except FileNotFoundError:
            return []

    def seqs(self, kind, events=None):
        return [int(e[1]) for e in (self.events() if events is None else events) if e[0] == kind]

    def reset_events(self):
        if os.path.exists(self.events_path):
            os.unlink(self.events_path)

    def pids(self):
        try:
            with open(self.file("pids")) as f:
                return [int(x) for x in f.read().split()]
        except FileNotFoundError:
            return []

    def cleanup(self):
        shutil.rmtree(self.path, ignore_errors=True)


def proc_state(pid):
    """(state, pgid) of a live process, or None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    rest = s[s.rindex(")") + 2:].split()
    return rest[0], int(rest[2])


def survivors(pids):
    """Processes still alive (not zombies) among `pids` or in their groups."""
    groups = set()
    alive = []
    for pid in pids:
        st = proc_state(pid)
        if st is not None and st[0] != "Z":
            alive.append(pid)
        groups.add(pid)
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        st = proc_state(int(entry))
        if st is not None and st[0] != "Z" and st[1] in groups and int(entry) not in alive:
            alive.append(int(entry))
    return alive


def check_no_survivors(d):
    # Give the reaper of orphans a moment: a KILLed grandchild is a zombie
    # (ignored here) or gone; a live one is a failure.
    left = survivors(d.pids())
    if left:
        time.sleep(0.2)
        left = survivors(d.pids())
    for pid in left:  # leave nothing behind for the next test
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    check(not left, f"processes of jobs still alive after cohort exited: {left}")


def logged_jobs(path):
    """For polling while cohort runs: the number of jobs in the joblog, or -1
    while it does not exist or is between its creation and its header's
    write (read_joblog, strict, is for the finished log)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return -1
    if not data.endswith(b"\n"):
        return -1
    return len(read_joblog(path))


def read_joblog(path):
    """Parses a joblog strictly; returns a list of (seq, exitval, signal, command)."""
    with open(path, "rb") as f:
        data = f.read().decode()
    check(data.endswith("\n"), f"joblog does not end with a newline: {data[-80:]!r}")
    lines = data.split("\n")[:-1]
    check(lines and lines[0] == HEADER, f"bad joblog header {lines[:1]!r}")
    rows = []
    for l in lines[1:]:
        f = l.split("\t")
        check(len(f) == 9, f"malformed joblog line {l!r}")
        check(f[1] == ":", f"Host is not ':' in {l!r}")
        float(f[2]), float(f[3]), int(f[4]), int(f[5])
        rows.append((int(f[0]), int(f[6]), int(f[7]), f[8]))
    seqs = [r[0] for r in rows]
    check(len(seqs) == len(set(seqs)), f"a Seq is logged twice: {seqs}")
    return rows


def check_ended_by(rc, sig, err=None):
    """An interrupted run ends *by* its signal once its summary is written
    (DESIGN.md G7), so a shell around it stops its script: this parent sees
    -N, a shell's $? is 128 + N."""
    check(rc == -sig, f"exit status {rc}, expected {-sig} (ended by {sig.name})"
          + (f": {err!r}" if err is not None else ""))


def check_interrupted_message(err, signame):
    check(f"interrupted by {signame}" in err, f"no 'interrupted by {signame}' on stderr: {err!r}")
    check("resume with: cohort run --resume" in err, f"no resume hint on stderr: {err!r}")


def check_resume(d, args, n, env=None):
    """Runs `cohort run --resume` with the same joblog and checks that it runs
    exactly the jobs 1..n that the joblog does not hold."""
    logged = {r[0] for r in read_joblog(d.log)}
    before = len(read_joblog(d.log))
    d.reset_events()
    e = {"SLEEP": "0"}
    e.update(env or {})
    rc, _, err = run(["--resume"] + args, d.path, e)
    check(rc == 0, f"--resume exited {rc}: {err!r}")
    ran = sorted(d.seqs("start"))
    expected = sorted(set(range(1, n + 1)) - logged)
    check(ran == expected, f"--resume ran {ran}, expected exactly {expected}")
    rows = read_joblog(d.log)
    check(len(rows) == before + len(expected), "--resume did not append one line per job")
    check(sorted(r[0] for r in rows) == list(range(1, n + 1)), "joblog after resume is incomplete")


def job_args(d, n, extra=()):
    return list(extra) + ["--joblog", d.log, "sh", d.job, ":::"] + [str(i) for i in range(1, n + 1)]


# ---------------------------------------------------------------------------
# The five seed scenarios, with real SIGINTs


def test_seed1_sigint_all_slots_full(d):
    args = job_args(d, 6, ["-j", "6"])
    r = Run(args, d.path)
    wait_until(lambda: len(d.seqs("start")) == 6, "6 jobs started", proc=r)
    r.signal(signal.SIGINT)
    rc = r.wait()
    ev = d.events()
    check_ended_by(rc, signal.SIGINT)
    check(sorted(d.seqs("cleanup", ev)) == list(range(1, 7)), f"cleanups {ev}")
    check(not d.seqs("done", ev), "a job finished its work")
    check(read_joblog(d.log) == [], "killed jobs were logged")
    err = r.stderr()
    check_interrupted_message(err, "SIGINT")
    check("0 done, 0 failed, 6 killed, 0 never started" in err, f"summary: {err!r}")
    check_no_survivors(d)
    check_resume(d, args, 6)


def test_sigquit_dump_names_each_job_and_its_wait(d):
    # SIGQUIT prints the task tree and the run goes on: each job's wait is
    # named by its sequence number and command, with how long it has waited.
    r = Run(["-j", "2", "sh " + d.job + " {}; echo {}", ":::", "1", "2"], d.path)
    wait_until(lambda: len(d.seqs("start")) == 2, "2 jobs started", proc=r)
    time.sleep(1.2)  # so that the dump has a wait time of at least a second to show
    r.signal(signal.SIGQUIT)
    wait_until(lambda: "task tree" in r.stderr() and r.stderr().count("\n") >= 4,
               "the dump", proc=r)
    check(not r.exited(0.2), "SIGQUIT ended the run")
    r.signal(signal.SIGINT)
    rc = r.wait()
    check_ended_by(rc, signal.SIGINT)
    err = r.stderr()
    for seq in (1, 2):
        m = re.search(r"^ *job %d: sh %s %d; echo %d(?: <- worker#\d+)? waiting (\d+\.\d) s "
                      r"on process (?:group )?exit" % (seq, re.escape(d.job), seq, seq), err, re.M)
        check(m is not None, f"job {seq} in the dump: {err!r}")
        check(float(m.group(1)) >= 1.0, f"job {seq} waited {m.group(1)} s: {err!r}")
    check("(unnamed task)" not in err, f"an unnamed task in the dump: {err!r}")
    check_no_survivors(d)


def test_seed2_sigint_while_queued(d):
    args = job_args(d, 30, ["-j", "3"])
    r = Run(args, d.path, {"FAST": "2"})
    # Jobs 1 and 2 finish at once (and are logged); 3, 4, 5 hold the slots.
    wait_until(lambda: logged_jobs(d.log) == 2 and
               len(d.seqs("start")) == 5, "2 jobs logged and 3 running", proc=r)
    r.signal(signal.SIGINT)
    rc = r.wait()
    check_ended_by(rc, signal.SIGINT)
    ev = d.events()
    check(sorted(d.seqs("start", ev)) == [1, 2, 3, 4, 5], f"jobs started after SIGINT: {ev}")
    check(sorted(d.seqs("cleanup", ev)) == [3, 4, 5], f"cleanups {ev}")
    check([x[0] for x in read_joblog(d.log)] == [1, 2] or
          sorted(x[0] for x in read_joblog(d.log)) == [1, 2], "joblog")
    check("2 done, 0 failed, 3 killed, 25 never started" in r.stderr(), r.stderr())
    check_no_survivors(d)
    check_resume(d, args, 30)


def test_seed3_second_sigint_during_cleanup(d):
    # The cleanups would take 5 s and the sequence allows 10 s: the second
    # SIGINT must KILL them at once, and the joblog must stay consistent.
    args = job_args(d, 12, ["-j", "4", "--term-seq", "TERM,10000,KILL,25"])
    r = Run(args, d.path, {"CLEANUP": "5", "FAST": "1"})
    wait_until(lambda: logged_jobs(d.log) == 1 and
               len(d.seqs("start")) == 5, "job 1 logged and 4 running", proc=r)
    r.signal(signal.SIGINT)
    wait_until(lambda: len(d.seqs("cleanup-begin")) == 4, "4 cleanups begun", proc=r)
    t = time.monotonic()
    r.signal(signal.SIGINT)
    rc = r.wait()
    took = time.monotonic() - t
    check_ended_by(rc, signal.SIGINT)
    check(took < 2.0, f"exit {took:.2f} s after the second SIGINT")
    check(not d.seqs("cleanup"), "a 5 s cleanup was not cut by the second SIGINT")
    check([x[0] for x in read_joblog(d.log)] == [1], "joblog holds exactly the finished job")
    check_no_survivors(d)
    check_resume(d, args, 12, {"CLEANUP": ""})


def test_seed4_three_sigints_within_50ms(d):
    args = job_args(d, 40, ["-j", "8"])
    r = Run(args, d.path, {"CLEANUP": "0.2"})
    wait_until(lambda: len(d.seqs("start")) == 8, "8 jobs started", proc=r)
    t = time.monotonic()
    for _ in range(3):
        r.signal(signal.SIGINT)
        time.sleep(0.02)
    rc = r.wait()
    check_ended_by(rc, signal.SIGINT)
    check(time.monotonic() - t < 3.0, "slow to exit after three SIGINTs")
    check(sorted(d.seqs("start")) == list(range(1, 9)), "a job started after SIGINT")
    read_joblog(d.log)
    check_no_survivors(d)
    check_resume(d, args, 40, {"CLEANUP": ""})


def test_seed5_sigint_before_any_job_starts(d):
    # Inputs from a pipe that stays empty: no job can start. There is no
    # marker for "cohort is waiting for input", so this one waits 0.3 s.
    r = Run(["--joblog", d.log, "sh", d.job], d.path, stdin=subprocess.PIPE)
    time.sleep(0.3)
    r.signal(signal.SIGINT)
    rc = r.wait(10)
    r.proc.stdin.close()
    check_ended_by(rc, signal.SIGINT)
    check(d.events() == [], "a job ran")
    check(read_joblog(d.log) == [], "joblog not empty")
    check("interrupted by SIGINT" in r.stderr(), r.stderr())


def guards_sigint(pid):
    """True once the process blocks or catches SIGINT (/proc/PID/status)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            fields = dict(l.split(":\t", 1) for l in f.read().splitlines() if ":\t" in l)
    except FileNotFoundError:
        return False
    bit = 1 << (signal.SIGINT - 1)
    return bool((int(fields["SigBlk"], 16) | int(fields["SigCgt"], 16)) & bit)


def test_seed5b_sigint_at_spawn(d):
    # A SIGINT at the first moment cohort guards against it (before that the
    # default action applies to any program), while it is still starting.
    args = job_args(d, 20, ["-j", "4"])
    r = Run(args, d.path)
    wait_until(lambda: guards_sigint(r.proc.pid), "SIGINT blocked or caught", proc=r)
    r.signal(signal.SIGINT)
    rc = r.wait()
    # Ended by the SIGINT, and only after handling it: the summary shows it
    # was not the default action of a SIGINT that arrived too early.
    check_ended_by(rc, signal.SIGINT, r.stderr())
    check_interrupted_message(r.stderr(), "SIGINT")
    check(not d.seqs("done"), "a job finished")
    check_no_survivors(d)
    check_resume(d, args, 20)


# ---------------------------------------------------------------------------
# Killing jobs


def test_job_ignoring_term_is_killed_by_the_sequence(d):
    d.write("stubborn.sh", 'trap "" TERM\necho $$ >> "$D/pids"\necho start $1 >> "$D/events"\n'
            'sleep 30 & echo $! >> "$D/pids"\nwait\nwait\n')
    r = Run(["--term-seq", "TERM,300,KILL,25", "-j", "2", "sh", d.file("stubborn.sh"), ":::",
             1, 2], d.path)
    wait_until(lambda: len(d.seqs("start")) == 2, "2 jobs started", proc=r)
    t = time.monotonic()
    r.signal(signal.SIGINT)
    rc = r.wait()
    took = time.monotonic() - t
    check_ended_by(rc, signal.SIGINT)
    check(0.25 <= took < 3.0, f"took {took:.2f} s; the sequence waits 0.3 s before KILL")
    check_no_survivors(d)


def test_grandchildren_of_a_finished_job_are_killed(d):
    # The job waits until its grandchildren have written their pids, then exits 0.
    d.write("bg.sh", 'echo $$ >> "$D/pids"\nsleep 1000 & echo $! >> "$D/pids"\n'
            '(sleep 1000 & echo $! >> "$D/pids"; touch "$D/nested.$1"; wait) &\n'
            'while [ ! -e "$D/nested.$1" ]; do sleep 0.01; done\necho start $1 >> "$D/events"\n')
    t = time.monotonic()
    rc, _, err = run(["-j", "2", "sh", d.file("bg.sh"), ":::", 1, 2, 3], d.path, timeout=20)
    check(rc == 0, f"exit {rc}: {err!r}")
    check(time.monotonic() - t < 10, "cohort waited for the background processes")
    check(sorted(d.seqs("start")) == [1, 2, 3], "jobs did not run")
    check(len(d.pids()) == 9, f"pids {d.pids()}")
    check_no_survivors(d)


def test_grandchildren_of_an_interrupted_job_are_killed(d):
    d.write("nest.sh", 'echo $$ >> "$D/pids"\n'
            '(trap "" TERM; sleep 1000 & echo $! >> "$D/pids"; wait) &\n'
            'sh -c \'echo $$ >> "$D/pids"; sleep 1000\' &\n'
            'echo start $1 >> "$D/events"\nwait\n')
    r = Run(["-j", "3", "--term-seq", "TERM,200,KILL,25", "sh", d.file("nest.sh"), ":::", 1, 2, 3],
            d.path)
    wait_until(lambda: len(d.seqs("start")) == 3 and len(d.pids()) == 9, "3 jobs started", proc=r)
    r.signal(signal.SIGINT)
    rc = r.wait()
    check_ended_by(rc, signal.SIGINT)
    check_no_survivors(d)


def test_sigterm_ends_by_sigterm(d):
    args = job_args(d, 10, ["-j", "2"])
    r = Run(args, d.path)
    wait_until(lambda: len(d.seqs("start")) == 2, "2 jobs started", proc=r)
    r.signal(signal.SIGTERM)
    rc = r.wait()
    check_ended_by(rc, signal.SIGTERM)
    check(sorted(d.seqs("cleanup")) == [1, 2], f"cleanups {d.events()}")
    check_interrupted_message(r.stderr(), "SIGTERM")
    check_no_survivors(d)
    check_resume(d, args, 10)


def test_sighup_drains(d):
    gate = d.file("go")
    args = job_args(d, 6, ["-j", "2"])
    r = Run(args, d.path, {"GATE": gate})
    wait_until(lambda: len(d.seqs("start")) == 2, "2 jobs started", proc=r)
    r.signal(signal.SIGHUP)
    wait_until(lambda: "SIGHUP received" in r.stderr(), "the SIGHUP notice", proc=r)
    open(gate, "w").close()
    rc = r.wait()
    check(rc == 0, f"exit {rc}, expected 0 as GNU parallel (no job failed): {r.stderr()!r}")
    check(sorted(d.seqs("done")) == [1, 2], f"running jobs did not finish: {d.events()}")
    check(sorted(d.seqs("start")) == [1, 2], "a job started after SIGHUP")
    check(sorted(x[0] for x in read_joblog(d.log)) == [1, 2], "joblog")
    check_no_survivors(d)
    check_resume(d, args, 6)


def test_sighup_drain_exit_code_counts_failures(d):
    gate = d.file("go")
    args = job_args(d, 6, ["-j", "2"])
    r = Run(args, d.path, {"GATE": gate, "FAIL_EVEN": "1"})
    wait_until(lambda: len(d.seqs("start")) == 2, "2 jobs started", proc=r)
    r.signal(signal.SIGHUP)
    wait_until(lambda: "SIGHUP received" in r.stderr(), "the SIGHUP notice", proc=r)
    open(gate, "w").close()
    rc = r.wait()
    check(rc == 1, f"exit {rc}, expected 1 (one job failed)")


def test_sigint_after_sighup_kills(d):
    args = job_args(d, 6, ["-j", "2"])
    r = Run(args, d.path)
    wait_until(lambda: len(d.seqs("start")) == 2, "2 jobs started", proc=r)
    r.signal(signal.SIGHUP)
    wait_until(lambda: "SIGHUP received" in r.stderr(), "the SIGHUP notice", proc=r)
    r.signal(signal.SIGINT)
    rc = r.wait()
    check_ended_by(rc, signal.SIGINT)
    check(sorted(d.seqs("cleanup")) == [1, 2], "running jobs were not terminated")
    check_no_survivors(d)
    check_resume(d, args, 6)


# ---------------------------------------------------------------------------
# Resume


def test_resume_failed(d):
    args = job_args(d, 6, ["-j", "3"])
    rc, _, _ = run(args, d.path, {"SLEEP": "0", "FAIL_EVEN": "1"})
    check(rc == 3, f"exit {rc}, expected 3 failed")
    d.reset_events()
    rc, _, err = run(["--resume-failed"] + args, d.path, {"SLEEP": "0"})
    check(rc == 0, f"--resume-failed exited {rc}: {err!r}")
    check(sorted(d.seqs("start")) == [2, 4, 6], f"--resume-failed ran {d.seqs('start')}")
    d.reset_events()
    rc, _, _ = run(["--resume-failed"] + args, d.path, {"SLEEP": "0"})
    check(rc == 0 and d.events() == [], "a second --resume-failed ran jobs again")


def test_resume_skips_failed_jobs(d):
    args = job_args(d, 4, ["-j", "2"])
    rc, _, _ = run(args, d.path, {"SLEEP": "0", "FAIL_EVEN": "1"})
    check(rc == 2, f"exit {rc}")
    d.reset_events()
    rc, _, _ = run(["--resume"] + args, d.path, {"SLEEP": "0"})
    check(rc == 0 and d.events() == [], "--resume re-ran logged (failed) jobs, unlike GNU")


def test_resume_refuses_a_changed_input(d):
    mk = d.write("mk.sh", 'touch "$D/ran.$1"\n')
    rc, _, _ = run(["--joblog", d.log, "sh", mk, ":::", "a", "b"], d.path)
    check(rc == 0, "first run")
    for f in ("ran.a", "ran.b"):
        os.unlink(d.file(f))
    rc, out, err = run(["--resume", "--joblog", d.log, "sh", mk, ":::", "a", "x", "c"], d.path)
    check(rc == 255, f"exit {rc}, expected 255")
    lines = err.strip().split("\n")
    check(len(lines) == 1, f"not a one-line error: {err!r}")
    check("Seq 2 " in lines[0], f"the Seq is not named: {err!r}")
    check(f"sh {mk} b" in lines[0] and f"sh {mk} x" in lines[0], f"commands not named: {err!r}")
    check(not os.path.exists(d.file("ran.x")) and not os.path.exists(d.file("ran.c")),
          "a job ran although the input changed")
    check(len(read_joblog(d.log)) == 2, "the joblog changed")


def test_gnu_parallel_resume_accepts_our_joblog(d):
    if shutil.which("parallel") is None:
        raise Failure("GNU parallel is not installed (scripts/setup installs it)")
    mk = d.write("mk.sh", 'echo $1 >> "$D/ran"\n')
    rc, _, _ = run(["-j", "2", "--joblog", d.log, "sh", mk, ":::", 1, 2, 3], d.path)
    check(rc == 0, "our run")
    os.unlink(d.file("ran"))
    p = subprocess.run(["parallel", "--will-cite", "-j", "2", "--resume", "--joblog", d.log,
                        "sh", mk, ":::", "1", "2", "3", "4", "5"], cwd=d.path,
                       env=dict(os.environ, D=d.path), capture_output=True, timeout=60)
    check(p.returncode == 0, f"parallel --resume exited {p.returncode}: {p.stderr!r}")
    with open(d.file("ran")) as f:
        ran = sorted(int(x) for x in f.read().split())
    check(ran == [4, 5], f"GNU parallel --resume on our joblog ran {ran}, expected [4, 5]")
    check(sorted(x[0] for x in read_joblog(d.log)) == [1, 2, 3, 4, 5], "combined joblog")


def test_our_resume_accepts_gnu_parallel_joblog(d):
    if shutil.which("parallel") is None:
        raise Failure("GNU parallel is not installed (scripts/setup installs it)")
    mk = d.write("mk.sh", 'echo $1 >> "$D/ran"\n')
    subprocess.run(["parallel", "--will-cite", "--joblog", d.log, "sh", mk, ":::", "1", "2"],
                   cwd=d.path, env=dict(os.environ, D=d.path), timeout=60, check=True)
    os.unlink(d.file("ran"))
    rc, _, err = run(["--resume", "--joblog", d.log, "sh", mk, ":::", 1, 2, 3, 4], d.path)
    check(rc == 0, f"exit {rc}: {err!r}")
    with open(d.file("ran")) as f:
        ran = sorted(int(x) for x in f.read().split())
    check(ran == [3, 4], f"--resume on GNU's joblog ran {ran}")


# ---------------------------------------------------------------------------
# Inputs, replacement strings, quoting

NASTY = ["a; touch PWNED1", "$(touch PWNED2)", "`touch PWNED3`", "it's", 'say "hi"',
         "two\nlines", "back\\slash", "  spaces  ", "*", "$HOME", "-n", "&& touch PWNED4 |",
         "{}", "tab\there", "ünïcødé"]


def test_inputs_run_literally(d):
    rc, out, err = run(["-k", "printf '%s|'", ":::"] + NASTY, d.path)
    check(rc == 0, f"exit {rc}: {err!r}")
    # (As GNU parallel, a value with a newline is two values.)
    check(out == "".join(y + "|" for x in NASTY for y in x.split("\n")), f"output {out!r}")
    rc, out, _ = run(["-k", "echo", "pre{}post"] + [":::"] + NASTY[:6], d.path)
    check(out == "".join(f"pre{y}post\n" for x in NASTY[:6] for y in x.split("\n")),
          f"inside a word: {out!r}")
    check(not [f for f in os.listdir(d.path) if f.startswith("PWNED")], "an input ran code")


def test_inputs_from_files_run_literally(d):
    lines = [x for x in NASTY if "\n" not in x]
    f = d.write("in.txt", "".join(x + "\n" for x in lines))
    for args in (["-k", "printf '%s|'", "::::", f], ["-k", "-a", f, "printf '%s|'"]):
        rc, out, err = run(args, d.path)
        check(rc == 0 and out == "".join(x + "|" for x in lines), f"{args}: {out!r} {err!r}")
    rc, out, _ = run(["-k", "printf '%s|'"], d.path,
                     input_bytes="".join(x + "\n" for x in lines).encode())
    check(out == "".join(x + "|" for x in lines), f"stdin: {out!r}")
    check(not [f for f in os.listdir(d.path) if f.startswith("PWNED")], "an input ran code")


# Expected outputs checked against GNU parallel 20221122.
REPLACEMENTS = [
    (["-k", "echo", "{}", "{.}", "{/}", "{//}", "{/.}", ":::", "plain", "dir.x/file", "/abs/y.z",
      "a/b.c.d", "dir/sub/file.tar.gz"],
     "plain plain plain . plain\ndir.x/file dir.x/file file dir.x file\n"
     "/abs/y.z /abs/y y.z /abs y\na/b.c.d a/b.c b.c.d a b.c\n"
     "dir/sub/file.tar.gz dir/sub/file.tar file.tar.gz dir/sub file.tar\n"),
    (["-k", "-j1", "echo", "{#}", "{%}", "{}", ":::", "a", "b", "c"], "1 1 a\n2 1 b\n3 1 c\n"),
    (["-k", "echo", "{2}-{1}", ":::", "a", "b", ":::", "x", "y"], "x-a\ny-a\nx-b\ny-b\n"),
    (["-k", "echo", ":::", "a", "b", ":::", "1", "2"], "a 1\na 2\nb 1\nb 2\n"),
    (["-k", "echo", "{1}{2}{3}", ":::", "a", ":::", "b", "c", ":::", "d"], "abd\nacd\n"),
    (["-k", "echo", "{1/}", "{2.}", ":::", "p/q", ":::", "r.s"], "q r\n"),
    (["-k", "--tag", "echo", "x", ":::", "a", "b", ":::", "1", "2"],
     "a 1\tx a 1\na 2\tx a 2\nb 1\tx b 1\nb 2\tx b 2\n"),
]


def test_replacement_strings(d):
    for args, expected in REPLACEMENTS:
        rc, out, err = run(args, d.path)
        check(rc == 0 and out == expected, f"{args}: exit {rc}, {out!r} (expected {expected!r}) {err!r}")


def test_slots_are_distinct_and_bounded(d):
    rc, out, _ = run(["-j", "3", "echo {%}; sleep 0.1", ":::"] + list(range(9)), d.path)
    slots = sorted(int(x) for x in out.split())
    check(rc == 0 and len(slots) == 9 and set(slots) <= {1, 2, 3}, f"slots {slots}")


def test_file_and_arg_file_sources(d):
    f1 = d.write("f1", "f1a\nf1b\n")
    f2 = d.write("f2", "f2a\nf2b\n")
    cases = [
        (["-k", "-a", f1, "-a", f2, "echo"], "f1a f2a\nf1a f2b\nf1b f2a\nf1b f2b\n"),
        (["-k", "-a", f1, "echo", ":::", "q"], "f1a q\nf1b q\n"),
        (["-k", "echo", "::::", f1, ":::", "z"], "f1a z\nf1b z\n"),
        (["-k", "echo", "{2}", "::::", f1, "::::", f2], "f2a\nf2b\nf2a\nf2b\n"),
    ]
    for args, expected in cases:
        rc, out, err = run(args, d.path)
        check(rc == 0 and out == expected, f"{args}: exit {rc}, {out!r} {err!r}")
    rc, out, _ = run(["-k", "echo", "in"], d.path, input_bytes=b"l1\nl2\n")
    check(out == "in l1\nin l2\n", f"stdin: {out!r}")
    rc, out, _ = run(["-k", "echo", "::::", "-"], d.path, input_bytes=b"s1\ns2\n")
    check(out == "s1\ns2\n", f":::: -: {out!r}")
    rc, out, _ = run(["-k", "-0", "echo"], d.path, input_bytes=b"n 1\0n\n2\0")
    check(out == "n 1\nn\n2\n", f"-0: {out!r}")


def test_no_command_runs_each_line(d):
    rc, out, err = run(["-k"], d.path, input_bytes=b"echo one; echo two\necho 'three'\n")
    check(rc == 0 and out == "one\ntwo\nthree\n", f"{rc} {out!r} {err!r}")
    rc, out, _ = run(["-k", ":::", "echo a", "echo b"], d.path)
    check(rc == 0 and out == "a\nb\n", f"no command with ::: {out!r}")


# ---------------------------------------------------------------------------
# Options


def test_timeout(d):
    t = time.monotonic()
    rc, _, err = run(["-j", "2", "--timeout", "0.5", "--joblog", d.log, "sleep", ":::", "5", "0.1"],
                     d.path)
    check(rc == 1, f"exit {rc}, expected 1: {err!r}")
    check(time.monotonic() - t < 4, "the timeout did not stop the job")
    rows = {r[0]: r for r in read_joblog(d.log)}
    check(rows[1][1:3] == (-1, 15), f"timed-out job logged as {rows[1]} (GNU: Exitval -1 Signal 15)")
    check(rows[2][1:3] == (0, 0), f"{rows[2]}")


def test_timeout_percent_of_median(d):
    t = time.monotonic()
    rc, _, _ = run(["-j", "1", "--timeout", "300%", "--joblog", d.log, "sleep", ":::", "0.1", "0.1",
                    "0.1", "0.1", "20"], d.path)
    check(rc == 1, f"exit {rc}")
    check(time.monotonic() - t < 10, "300% of a 0.1 s median did not stop a 20 s job")
    rows = {r[0]: r for r in read_joblog(d.log)}
    check(rows[5][2] == 15 and all(rows[i][1] == 0 for i in range(1, 5)), f"{rows}")


def test_retries(d):
    s = d.write("flaky.sh", 'n=$(cat "$D/count.$1" 2>/dev/null || echo 0); n=$((n + 1));\n'
                'echo $n > "$D/count.$1"; [ $n -ge 3 ]\n')
    rc, _, _ = run(["--retries", "3", "--joblog", d.log, "sh", s, ":::", "a"], d.path)
    with open(d.file("count.a")) as f:
        check(rc == 0 and f.read().strip() == "3", f"--retries 3: exit {rc}")
    check([r[1] for r in read_joblog(d.log)] == [0], "GNU logs only the last attempt")
    rc, _, _ = run(["--retries", "2", "sh", s, ":::", "b"], d.path)
    with open(d.file("count.b")) as f:
        check(rc == 1 and f.read().strip() == "2", f"--retries 2: exit {rc}")
    # Backoff: attempts of one job are spaced by a jittered, doubling delay
    # (drawn from [d/2, d]); --retry-delay 0 retries at once, as GNU.
    t = d.write("stamp.sh", 'date +%s.%N >> "$D/stamps.$1"; exit 1\n')
    rc, _, _ = run(["--retries", "3", "--retry-delay", "0.4", "sh", t, ":::", "c"], d.path)
    with open(d.file("stamps.c")) as f:
        ts = [float(x) for x in f.read().split()]
    check(rc == 1 and len(ts) == 3, f"--retry-delay: exit {rc}, {len(ts)} attempts")
    if len(ts) == 3:
        check(ts[1] - ts[0] >= 0.19 and ts[2] - ts[1] >= 0.39,
              f"--retry-delay 0.4: gaps {ts[1] - ts[0]:.3f} {ts[2] - ts[1]:.3f} s")
    rc, _, _ = run(["--retries", "3", "--retry-delay", "0", "sh", t, ":::", "e"], d.path)
    with open(d.file("stamps.e")) as f:
        ts = [float(x) for x in f.read().split()]
    check(rc == 1 and len(ts) == 3 and ts[2] - ts[0] < 2.0, f"--retry-delay 0: {ts}")


def test_halt(d):
    # GNU: fail=1 exits with the failing job's status; Y% with the
    # percentage of jobs that failed; success=X with 0; else the failures.
    cases = [
        (["--halt", "soon,fail=1"], ["0", "4", "5"], 4, [1, 2]),
        (["--halt", "now,done=2"], ["0", "4", "5", "6"], 1, [1, 2]),
        (["--halt", "soon,fail=30%"], ["0", "1", "1"] + ["0"] * 7, 20, list(range(1, 11))),
        (["--halt", "soon,fail=30%"], ["1", "1", "1"] + ["0"] * 7, 30, [1, 2, 3]),
        (["--halt", "now,done=20%"], ["1", "0", "1"] + ["0"] * 7, 10, [1, 2]),
        (["--halt", "now,success=1"], ["4", "0", "5", "6"], 0, [1, 2]),
        (["--halt", "soon,fail=2"], ["0", "5", "6", "7"], 2, [1, 2, 3]),
    ]
    for opts, inputs, want_rc, want_logged in cases:
        if os.path.exists(d.log):
            os.unlink(d.log)
        rc, _, err = run(["-j", "1", "--joblog", d.log] + opts + ["exit", ":::"] + inputs, d.path)
        logged = sorted(r[0] for r in read_joblog(d.log))
        check(rc == want_rc and logged == want_logged,
              f"{opts} {inputs}: exit {rc} (want {want_rc}), logged {logged} {err!r}")


def test_halt_now_kills_running_jobs(d):
    s = d.write("h.sh", 'if [ $1 = 1 ]; then\n  while ! grep -q "start 2" "$D/events" 2>/dev/null; '
                'do sleep 0.01; done\n  exit 3\nfi\nexec sh "$D/job.sh" $1\n')
    t = time.monotonic()
    rc, _, err = run(["-j", "2", "--halt", "now,fail=1", "--joblog", d.log, "sh", s, ":::", 1, 2, 3],
                     d.path)
    check(rc == 3, f"exit {rc}, expected 3 (the failing job's): {err!r}")
    check(time.monotonic() - t < 8, "the running job was not killed")
    check(d.seqs("cleanup") == [2], f"events {d.events()}")
    check(sorted(r[0] for r in read_joblog(d.log)) == [1], "joblog")
    check_no_survivors(d)


def test_keep_order(d):
    args = ["-j", "3", "sleep {}; echo {}", ":::", "0.6", "0.1", "0.3"]
    rc, out, _ = run(["-k"] + args, d.path)
    check(out == "0.6\n0.1\n0.3\n", f"-k: {out!r}")
    rc, out, _ = run(args, d.path)
    check(out == "0.1\n0.3\n0.6\n", f"without -k: {out!r}")


def test_output_is_grouped_per_job(d):
    s = d.write("talk.sh", 'for k in 1 2 3 4; do echo "$1-$k"; echo "$1-err$k" >&2; sleep 0.05; done\n')
    rc, out, err = run(["-j", "4", "sh", s, ":::", "a", "b", "c", "d"], d.path)
    check(rc == 0, f"exit {rc}")
    for text, tag in ((out, ""), (err, "err")):
        lines = text.split("\n")[:-1]
        check(len(lines) == 16, f"{lines}")
        for i in range(0, 16, 4):
            job = lines[i].split("-")[0]
            check(lines[i:i + 4] == [f"{job}-{tag}{k}" for k in range(1, 5)],
                  f"interleaved output: {lines}")


def test_line_buffer_prints_lines_as_they_come(d):
    gate = d.file("go")
    s = d.write("lb.sh", f'echo first-$1\nwhile [ ! -e {gate} ]; do sleep 0.01; done\necho last-$1\n')
    r = Run(["--line-buffer", "-j", "2", "sh", s, ":::", "x", "y"], d.path, stdout=subprocess.PIPE)
    buf = b""
    end = time.monotonic() + 15
    while buf.count(b"first-") < 2 and time.monotonic() < end:
        ready, _, _ = select.select([r.proc.stdout], [], [], 0.1)
        if ready:
            chunk = os.read(r.proc.stdout.fileno(), 4096)
            if not chunk:
                break
            buf += chunk
    check(buf.count(b"first-") == 2, f"--line-buffer held the lines of running jobs: {buf!r}")
    check(not r.exited(0), "cohort ended before the gate")
    open(gate, "w").close()
    buf += r.proc.stdout.read()
    rc = r.wait()
    check(rc == 0 and sorted(buf.decode().split()) == ["first-x", "first-y", "last-x", "last-y"],
          f"{rc} {buf!r}")


def test_dry_run(d):
    rc, out, _ = run(["--dry-run", "-k", "touch", ":::", "a", "b c", "it's"], d.path)
    check(rc == 0 and out == "touch a\ntouch 'b c'\ntouch 'it'\"'\"'s'\n", f"{out!r}")
    check(not os.path.exists(d.file("a")), "--dry-run ran a job")


def test_delay(d):
    t = time.monotonic()
    rc, out, _ = run(["-j", "4", "--delay", "0.3", "-k", "date +%s.%N; : {}", ":::", 1, 2, 3], d.path)
    starts = [float(x) for x in out.split()]
    check(rc == 0 and len(starts) == 3, f"{rc} {out!r}")
    gaps = [b - a for a, b in zip(starts, starts[1:])]
    check(all(g >= 0.25 for g in gaps), f"starts not spaced by --delay 0.3: gaps {gaps}")


def test_exit_codes(d):
    rc, _, _ = run(["true", ":::", 1, 2], d.path)
    check(rc == 0, f"all ok: {rc}")
    rc, _, _ = run(["exit", ":::", 0, 1, 2, 3, 0], d.path)
    check(rc == 3, f"3 failed: {rc}")
    rc, _, _ = run(["-j", "8", "false"], d.path,
                   input_bytes="".join(f"{i}\n" for i in range(102)).encode(), timeout=60)
    check(rc == 101, f"102 failed: {rc}")
    rc, _, _ = run(["exit", ":::", 137], d.path)
    check(rc == 1, f"one job exiting 137: {rc}")


def test_bad_command_lines_exit_255(d):
    for args in (["--bogus", "touch", "ran"], ["-j", "abc", "touch", "ran"],
                 ["--halt", "later", "touch", "ran"], ["--resume", "touch", "ran"],
                 ["--timeout", "-3", "touch", "ran"], ["--term-seq", "NOPE,1", "touch", "ran"],
                 ["--joblog", "/nonexistent/dir/log", "touch", "ran", ":::", "x"],
                 ["touch", "ran", "::::", "/nonexistent/input"]):
        rc, out, err = run(args, d.path)
        check(rc == 255, f"{args}: exit {rc}, expected 255")
        check(len(err.strip().split("\n")) == 1 and err.startswith("cohort run: "),
              f"{args}: not a one-line error: {err!r}")
        check(not [f for f in os.listdir(d.path) if f.startswith("ran")], f"{args}: a job ran")


def test_help_and_version(d):
    rc, out, _ = run(["--help"], d.path)
    check(rc == 0, f"--help: {rc}")
    for word in ("--joblog", "--resume-failed", "--halt", "--term-seq", "Exit status", "255", "130",
                 "143", ":::"):
        check(word in out, f"--help does not mention {word}")
    rc, out, _ = run(["--version"], d.path)
    check(rc == 0 and re.match(r"cohort run \d+\.\d+", out), f"--version: {rc} {out!r}")


def test_joblog_is_flushed_per_job(d):
    gate = d.file("go")
    args = job_args(d, 3, ["-j", "3"])
    r = Run(args, d.path, {"FAST": "1", "GATE": gate})
    # Jobs 2 and 3 wait for the gate; job 1 must be in the log before the end.
    wait_until(lambda: logged_jobs(d.log) == 1, "job 1 logged",
               proc=r)
    open(gate, "w").close()
    check(r.wait() == 0, "exit")
    rows = read_joblog(d.log)
    check(sorted(x[0] for x in rows) == [1, 2, 3], f"{rows}")
    check(all(x[3] == f"sh {d.job} {x[0]}" for x in rows), f"commands {rows}")


def start_on_pipe(d, args, env=None):
    """`cohort run ARGS` reading standard input from a pipe the test writes
    to; returns (run, write end). The test keeps the read end too, to see
    that the input's flags are left alone."""
    r_fd, w_fd = os.pipe()
    r = Run(args, d.path, env, stdin=r_fd)
    check(os.get_blocking(r_fd), "the pipe starts blocking")
    return r, r_fd, w_fd


def test_streamed_input_runs_each_line_as_it_comes(d):
    # `tail -f list | cohort run`: job 1's output and joblog line come when
    # it finishes, while the writer has not sent line 2 (nor closed the pipe).
    r, r_fd, w_fd = start_on_pipe(d, ["--joblog", d.log, "echo"])
    try:
        os.write(w_fd, b"1\n")
        wait_until(lambda: r.stdout() == "1\n", "job 1's output before line 2", timeout=5, proc=r)
        wait_until(lambda: logged_jobs(d.log) == 1,
                   "job 1 logged before line 2", timeout=5, proc=r)
        check(os.get_blocking(r_fd), "cohort made the shared input non-blocking")
        os.write(w_fd, b"2\nlast")  # a last value without a newline
        wait_until(lambda: r.stdout() == "1\n2\n", "job 2's output", timeout=5, proc=r)
    finally:
        os.close(w_fd)
    check(r.wait(10) == 0, f"exit {r.rc}: {r.stderr()!r}")
    check(r.stdout() == "1\n2\nlast\n", f"output {r.stdout()!r}")
    check(sorted(x[0] for x in read_joblog(d.log)) == [1, 2, 3], "joblog")
    check(os.get_blocking(r_fd), "cohort left the shared input non-blocking")
    os.close(r_fd)


def test_streamed_null_separated_input(d):
    r, r_fd, w_fd = start_on_pipe(d, ["-0", "-k", "echo"])
    try:
        os.write(w_fd, b"a b\0")
        wait_until(lambda: r.stdout() == "a b\n", "job 1's output before value 2", timeout=5,
                   proc=r)
        os.write(w_fd, b"c\nd\0e")
    finally:
        os.close(w_fd)
        os.close(r_fd)
    check(r.wait(10) == 0, f"exit {r.rc}: {r.stderr()!r}")
    check(r.stdout() == "a b\nc\nd\ne\n", f"output {r.stdout()!r}")


def test_sigint_while_waiting_for_streamed_input(d):
    r, r_fd, w_fd = start_on_pipe(d, ["--joblog", d.log, "echo"])
    try:
        os.write(w_fd, b"1\n")
        wait_until(lambda: logged_jobs(d.log) == 1,
                   "job 1 logged while the pipe stays open", timeout=5, proc=r)
        t = time.monotonic()
        r.signal(signal.SIGINT)
        rc = r.wait(10)
        took = time.monotonic() - t
    finally:
        os.close(w_fd)
        os.close(r_fd)
    check_ended_by(rc, signal.SIGINT, r.stderr())
    check(took < 2.0, f"exit {took:.2f} s after SIGINT")
    check(r.stdout() == "1\n", f"output {r.stdout()!r}")
    check([x[:3] for x in read_joblog(d.log)] == [(1, 0, 0)], f"joblog {read_joblog(d.log)}")
    err = r.stderr()
    check("interrupted by SIGINT: 1 done, 0 failed, 0 killed, the rest never started" in err,
          f"summary {err!r}")
    check_interrupted_message(err, "SIGINT")


def test_sigint_with_a_job_running_while_the_pipe_stays_open(d):
    # Job 1 works for 30 s; the other worker waits for a line that never
    # comes. Ctrl+C reaches both through the cancel tree: job 1's cleanup
    # runs, the wait ends, and the run ends by the signal at once.
    r, r_fd, w_fd = start_on_pipe(d, ["-j", "2", "--joblog", d.log, "sh", d.job])
    try:
        os.write(w_fd, b"1\n")
        wait_until(lambda: d.seqs("start") == [1], "job 1 started", timeout=5, proc=r)
        t = time.monotonic()
        r.signal(signal.SIGINT)
        rc = r.wait(10)
        took = time.monotonic() - t
    finally:
        os.close(w_fd)
        os.close(r_fd)
    check_ended_by(rc, signal.SIGINT, r.stderr())
    check(took < 2.0, f"exit {took:.2f} s after SIGINT")
    check(d.seqs("cleanup") == [1], f"job 1's cleanup did not run: {d.events()}")
    check(read_joblog(d.log) == [], "a killed job was logged")
    err = r.stderr()
    check("interrupted by SIGINT: 0 done, 0 failed, 1 killed, the rest never started" in err,
          f"summary {err!r}")
    check_interrupted_message(err, "SIGINT")
    check_no_survivors(d)


def halt_script(d):
    """A job that fails with 3 for the value `fail` and is job.sh otherwise."""
    return d.write("h.sh", 'if [ "$1" = fail ]; then exit 3; fi\nexec sh "$D/job.sh" "$1"\n')


def test_halt_soon_while_waiting_on_an_open_pipe(d):
    # --halt soon,fail=1 with the input pipe open: once a job fails nothing
    # new starts, the running job finishes, and the run ends then, without
    # waiting for a line (or an end of input) that may never come.
    gate = d.file("go")
    r, r_fd, w_fd = start_on_pipe(d, ["-j", "3", "--halt", "soon,fail=1", "--joblog", d.log,
                                      "sh", halt_script(d)], {"GATE": gate})
    try:
        os.write(w_fd, b"1\n")
        wait_until(lambda: d.seqs("start") == [1], "job 1 started", timeout=5, proc=r)
        os.write(w_fd, b"fail\n")
        wait_until(lambda: logged_jobs(d.log) == 1, "the failing job logged", timeout=5, proc=r)
        check(not r.exited(0), "the run ended before its running job")
        open(gate, "w").close()
        t = time.monotonic()
        rc = r.wait(10)
        took = time.monotonic() - t
    finally:
        os.close(w_fd)
        os.close(r_fd)
    check(rc == 3, f"exit {rc}, expected 3 (the failing job's): {r.stderr()!r}")
    check(took < 2.0, f"exit {took:.2f} s after the last running job could finish")
    check(d.seqs("done") == [1], f"job 1 did not finish: {d.events()}")
    check(sorted(x[0] for x in read_joblog(d.log)) == [1, 2], f"joblog {read_joblog(d.log)}")
    check("halted (1 done, 1 failed, 0 killed, the rest never started)" in r.stderr(),
          f"summary {r.stderr()!r}")
    check_no_survivors(d)


def test_halt_now_while_waiting_on_an_open_pipe(d):
    r, r_fd, w_fd = start_on_pipe(d, ["-j", "3", "--halt", "now,fail=1", "--joblog", d.log,
                                      "sh", halt_script(d)])
    try:
        os.write(w_fd, b"1\n")
        wait_until(lambda: d.seqs("start") == [1], "job 1 started", timeout=5, proc=r)
        t = time.monotonic()
        os.write(w_fd, b"fail\n")
        rc = r.wait(10)
        took = time.monotonic() - t
    finally:
        os.close(w_fd)
        os.close(r_fd)
    check(rc == 3, f"exit {rc}, expected 3 (the failing job's): {r.stderr()!r}")
    check(took < 2.0, f"exit {took:.2f} s after the failure")
    check(d.seqs("cleanup") == [1], f"job 1 was not terminated: {d.events()}")
    check([x[0] for x in read_joblog(d.log)] == [2], f"joblog {read_joblog(d.log)}")
    check_no_survivors(d)


def test_sighup_while_waiting_on_an_open_pipe(d):
    gate = d.file("go")
    r, r_fd, w_fd = start_on_pipe(d, ["-j", "2", "--joblog", d.log, "sh", d.job], {"GATE": gate})
    try:
        os.write(w_fd, b"1\n")
        wait_until(lambda: d.seqs("start") == [1], "job 1 started", timeout=5, proc=r)
        r.signal(signal.SIGHUP)
        wait_until(lambda: "SIGHUP received" in r.stderr(), "the SIGHUP notice", proc=r)
        os.write(w_fd, b"2\n")  # after the drain: never started
        open(gate, "w").close()
        rc = r.wait(10)
    finally:
        os.close(w_fd)
        os.close(r_fd)
    check(rc == 0, f"exit {rc}: {r.stderr()!r}")
    check(d.seqs("start") == [1] and d.seqs("done") == [1], f"events {d.events()}")
    check("SIGHUP: finished the running jobs" in r.stderr(), f"summary {r.stderr()!r}")
    check_no_survivors(d)


def test_bar_and_eta_without_a_terminal(d):
    rc, out, err = run(["--bar", "--eta", "-k", "echo", ":::", "a", "b"], d.path)
    check(rc == 0 and out == "a\nb\n", f"{rc} {out!r}")
    check("\r" not in err and "\x1b" not in err, f"drew on a pipe: {err!r}")
    check(len(err.strip().split("\n")) <= 1, f"more than a summary: {err!r}")
    check(err == "" or "2/2" in err, f"summary {err!r}")


def test_bar_on_a_terminal(d):
    import pty
    master, slave = pty.openpty()
    gate = d.file("go")
    env = dict(os.environ, D=d.path, GATE=gate, FAST="2", TERM="xterm", LANG="C", COLUMNS="100",
               NO_COLOR="1")
    proc = subprocess.Popen([EXE, "run", "--bar", "-j", "2", "sh", d.job, ":::", "1", "2", "3", "4"],
                            cwd=d.path, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=slave, start_new_session=True, preexec_fn=child_setup)
    os.close(slave)
    seen = b""
    end = time.monotonic() + 15
    while b"50%" not in seen and time.monotonic() < end:
        ready, _, _ = select.select([master], [], [], 0.1)
        if ready:
            try:
                seen += os.read(master, 4096)
            except OSError:
                break
    check(b"50%" in seen and b"2/4" in seen, f"no live bar on the terminal: {seen!r}")
    check(b"\r" in seen, "the bar does not redraw in place")
    check(not re.search(rb"\x1b\[[0-9;]*m", seen), f"colors despite NO_COLOR: {seen!r}")
    proc.send_signal(signal.SIGINT)
    try:
        rc = proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise Failure("no exit after SIGINT with --bar")
    while True:
        ready, _, _ = select.select([master], [], [], 0.2)
        if not ready:
            break
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    os.close(master)
    check_ended_by(rc, signal.SIGINT)
    tail = seen[seen.rfind(b"2/4"):]
    check(b"\x1b[K" in tail or b"\x1b[2K" in tail, f"the bar was not erased on interrupt: {tail!r}")
    check(b"interrupted by SIGINT" in seen, "no interrupt message")
    check_no_survivors(d)


# ---------------------------------------------------------------------------

TESTS = [(name[5:], fn) for name, fn in sorted(globals().items())
         if name.startswith("test_") and callable(fn)]


def main():
    return run_tests(TESTS)


def run_tests(tests):
    """Runs TESTS, (name, fn(Dir)) pairs, as the command line asks (COHORT
    [--only SUBSTRING] [--list]); returns the exit status. Other test files
    that import this one call it with their own tests."""
    global EXE
    ap = argparse.ArgumentParser()
    ap.add_argument("cohort")
    ap.add_argument("--only", default="")
    ap.add_argument("--list", action="store_true")
    args = ap.parse_args()
    EXE = os.path.abspath(args.cohort)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    passed = failed = 0
    for name, fn in tests:
        if args.only not in name:
            continue
        if args.list:
            print(name)
            continue
        d = Dir()
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
            for pid in survivors(d.pids()):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            d.cleanup()
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
