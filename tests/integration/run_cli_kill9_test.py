#!/usr/bin/env python3
"""Randomised trials of `cohort run` under real signals (python3 stdlib only).

Two trials, each repeated with random moments (seeded, printed on failure):

kill9    `kill -9` of `cohort run -j 6 --joblog` at a random moment. One
         second later no process of any job may be alive (its guardian must
         have killed every job's process group); `--resume` afterwards runs
         exactly the jobs the joblog does not hold, each to completion, and
         no job ever runs while another instance of itself does.
signals  SIGINT or SIGTERM at a random moment, once or twice (the second
         after a random delay). Every job that started wrote its cleanup or
         done line, no process survives cohort, the exit status is the
         signal's (130/143 as an exit code, or -2/-15: killed by the signal),
         and `--resume` afterwards runs every job not logged exactly once to
         completion.

Jobs are `sh job.sh N`: they trap TERM (writing `cleanup N`), have a child
(`sleep & wait`; in half the trials the job is `sh job.sh N; exit $?`,
whose leader is a shell waiting for the script, which sleeps in the
foreground), write `start N` and `done N TIME`, and hold a lock file
`lock.N` (created with O_EXCL) while they run: finding it held by a live
process is an `overlap N` event, a violation. Every process of a trial
carries KILL9_TRIAL=<token> in its environment; a survivor is any process,
zombies aside, whose environment holds it.

Plus a few fixed tests of the guardian itself (see the test_ functions).

Usage: run_cli_kill9_test.py COHORT [--kills N] [--signals N] [--seed S] [--only NAME]
CI runs the defaults (a reduced number of trials); scripts/soak runs
`--kills 100 --signals 200`. Exits 1 on any violation.
"""
import argparse
import os
import random
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback

EXE = None
SANITIZER = re.compile(r"(AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|"
                       r"runtime error:)")
HEADER = "Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand"

JOB_SH = r"""#!/bin/sh
i=$1
trap 'echo cleanup $i >> "$D/events"; rm -f "$D/lock.$i"; exit 1' TERM
me="$$ $(cut -d' ' -f22 /proc/$$/stat)"  # pid and start time: one process
if ! (set -C; echo "$me" > "$D/lock.$i") 2>/dev/null; then
  read o ostart < "$D/lock.$i"
  # A live owner is a violation; a dead one (or a zombie: this machine's
  # PID 1 reaps orphans late; or its pid reused since) left a stale lock,
  # e.g. when KILLed. State (field 3) and start time (field 22) come from
  # one read of /proc/$o/stat: read apart, a zombie reaped between the two
  # reads looked alive (the "overlaps" once seen in about 1 in 100 kill -9
  # trials, all with an owner gone by the time it was described).
  st=$(cat /proc/$o/stat 2>/dev/null)
  if [ -n "$st" ] && [ "$(echo "$st" | cut -d' ' -f22)" = "$ostart" ]; then
    case $(echo "$st" | cut -d' ' -f3) in
      Z|X|x) ;;
      *) # The owner's state and command line, to tell what held it.
         echo overlap $i $o "$(echo "$st" | cut -d' ' -f3)" \
           "$(tr '\0' _ < /proc/$o/cmdline 2>/dev/null)" >> "$D/events" ;;
    esac
  fi
  echo "$me" > "$D/lock.$i"
fi
echo start $i >> "$D/events"
if [ -n "$FG" ]; then
  sleep ${SLEEP:-1.5}
else
  sleep ${SLEEP:-1.5} &
  wait
fi
rm -f "$D/lock.$i"
echo done $i $(date +%s.%N) >> "$D/events"
"""

N_JOBS = 12
PAR = 6


class Failure(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failure(what)


def child_setup():
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, signal.SIG_DFL)


class Trial:
    """A scratch directory, the job script and the trial's marker."""

    def __init__(self):
        self.path = tempfile.mkdtemp(prefix="cohort-kill9-test-")
        self.job = os.path.join(self.path, "job.sh")
        with open(self.job, "w") as f:
            f.write(JOB_SH)
        self.log = os.path.join(self.path, "jobs.log")
        self.events_path = os.path.join(self.path, "events")
        self.token = f"{os.getpid()}-{random.getrandbits(48):x}"

    def args(self, extra=(), wrapped=False):
        # wrapped: the group leader is a `sh -c` that waits for the script
        # (which then runs its sleep in the foreground): the leader dies of
        # the TERM at once, the script's cleanup comes after.
        command = ([f"sh {self.job} {{}}; exit $?"] if wrapped else ["sh", self.job])
        return (list(extra) + ["-j", str(PAR), "--joblog", self.log] + command + [":::"] +
                [str(i) for i in range(1, N_JOBS + 1)])

    def start(self, args, env=None, stdout=subprocess.DEVNULL):
        e = dict(os.environ)
        e.update({"D": self.path, "KILL9_TRIAL": self.token})
        e.update(env or {})
        p = subprocess.Popen([EXE, "run"] + args, cwd=self.path, env=e,
                             stdin=subprocess.DEVNULL, stdout=stdout, stderr=subprocess.PIPE,
                             start_new_session=True, preexec_fn=child_setup)
        return p

    def events(self):
        try:
            with open(self.events_path) as f:
                return [l.split() for l in f.read().splitlines() if l.strip()]
        except FileNotFoundError:
            return []

    def reset_events(self):
        if os.path.exists(self.events_path):
            os.unlink(self.events_path)

    def survivors(self):
        """Live processes (zombies aside) that carry this trial's marker."""
        needle = f"\0KILL9_TRIAL={self.token}\0".encode()
        found = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as f:
                    stat = f.read()
                if stat[stat.rindex(")") + 2] == "Z":
                    continue
                with open(f"/proc/{entry}/environ", "rb") as f:
                    env = b"\0" + f.read() + b"\0"
            except (FileNotFoundError, ProcessLookupError, PermissionError):
                continue
            if needle in env:
                found.append(int(entry))
        return found

    def kill_survivors(self):
        for pid in self.survivors():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def cleanup(self):
        self.kill_survivors()
        shutil.rmtree(self.path, ignore_errors=True)


def wait_exit(p, timeout):
    try:
        _, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.communicate()
        raise Failure(f"cohort run did not exit within {timeout} s")
    text = err.decode(errors="replace")
    if SANITIZER.search(text):
        raise Failure(f"sanitizer report: {text[:2000]}")
    return p.returncode, text


def logged(t):
    """The Seqs in the joblog; a joblog killed before its header is empty."""
    try:
        with open(t.log, "rb") as f:
            data = f.read().decode()
    except FileNotFoundError:
        return []
    if data == "":
        return []
    check(data.endswith("\n"), f"joblog does not end with a newline: {data[-80:]!r}")
    lines = data.split("\n")[:-1]
    check(lines[0] == HEADER, f"bad joblog header {lines[:1]!r}")
    seqs = []
    for l in lines[1:]:
        f = l.split("\t")
        check(len(f) == 9, f"malformed joblog line {l!r}")
        seqs.append(int(f[0]))
    check(len(seqs) == len(set(seqs)), f"a Seq is logged twice: {seqs}")
    return seqs


def check_no_overlap(t, phase):
    overlaps = [e for e in t.events() if e[0] == "overlap"]
    check(not overlaps, f"{phase}: a job ran while another instance of it ran "
                        f"(Seq, owner pid, owner state, owner argv): {overlaps}")


def check_resume(t, wrapped=False):
    """--resume runs exactly the jobs not logged, each once, to completion."""
    before = set(logged(t))
    t.reset_events()
    p = t.start(["--resume"] + t.args(wrapped=wrapped), env={"SLEEP": "0.05"})
    rc, err = wait_exit(p, 60)
    check(rc == 0, f"--resume exited {rc}: {err!r}")
    ev = t.events()
    check_no_overlap(t, "in the --resume")
    started = sorted(int(e[1]) for e in ev if e[0] == "start")
    done = sorted(int(e[1]) for e in ev if e[0] == "done")
    expected = sorted(set(range(1, N_JOBS + 1)) - before)
    check(started == expected, f"--resume started {started}, expected each of {expected} once")
    check(done == expected, f"--resume completed {done}, expected {expected}")
    after = logged(t)
    check(sorted(after) == list(range(1, N_JOBS + 1)),
          f"joblog after --resume holds {sorted(after)}")


def sleep_until(deadline):
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return
        time.sleep(left)


# ---------------------------------------------------------------------------
# The randomised trials


def kill9_trial(rng):
    t = Trial()
    try:
        wrapped = rng.random() < 0.5
        p = t.start(t.args(wrapped=wrapped), env={"FG": "1"} if wrapped else None)
        # The whole run takes 2 x 1.5 s plus start-up; kill anywhere in it. A
        # job's orphan would still sleep a second later if killed in the
        # first half second of its run.
        at = rng.uniform(0.0, 3.2)
        sleep_until(time.monotonic() + at)
        p.send_signal(signal.SIGKILL)
        killed = time.monotonic()
        killed_wall = time.time()
        p.communicate()
        sleep_until(killed + 1.0)
        left = t.survivors()
        check(not left, f"kill -9 at {at:.3f} s: processes alive 1 s later: {left}")
        # A job that ran on to its end (rather than getting TERM at once).
        late = [e for e in t.events() if e[0] == "done" and float(e[2]) > killed_wall + 0.2]
        check(not late, f"kill -9 at {at:.3f} s: jobs finished after it: {late}")
        check_no_overlap(t, "in the killed run")
        check_resume(t, wrapped)
    finally:
        t.cleanup()


def signals_trial(rng):
    t = Trial()
    try:
        sig = rng.choice([signal.SIGINT, signal.SIGTERM])
        twice = rng.random() < 0.5
        wrapped = rng.random() < 0.5
        at = rng.uniform(0.0, 3.2)
        again = rng.uniform(0.0, 0.4)
        what = (f"{'wrapped jobs, ' if wrapped else ''}{sig.name} at {at:.3f} s" +
                (f", again {again:.3f} s later" if twice else ""))
        p = t.start(t.args(wrapped=wrapped), env={"FG": "1"} if wrapped else None)
        sleep_until(time.monotonic() + at)
        sent = p.poll() is None
        if sent:
            p.send_signal(sig)
            if twice:
                sleep_until(time.monotonic() + again)
                if p.poll() is None:
                    p.send_signal(sig)
        rc, err = wait_exit(p, 30)
        if not sent or rc == 0:
            # The run was over before the signal (or before it was seen).
            check(rc == 0, f"{what}: the run ended before the signal but exited {rc}: {err!r}")
            check(sorted(logged(t)) == list(range(1, N_JOBS + 1)),
                  f"{what}: exit 0 but not every job is logged")
        else:
            # 130/143 (an exit code), or killed by the signal (re-raised after
            # the cleanup, or default action before the handlers were in place).
            check(rc in (128 + sig, -sig), f"{what}: exit status {rc}, expected {128 + sig} "
                                           f"or {-sig}; stderr {err!r}")
        # A KILLed grandchild is a zombie for a moment: give the reaper that.
        left = t.survivors()
        if left:
            time.sleep(0.2)
            left = t.survivors()
        check(not left, f"{what}: processes alive after cohort exited: {left}")
        ev = t.events()
        started = {int(e[1]) for e in ev if e[0] == "start"}
        ended = {int(e[1]) for e in ev if e[0] in ("cleanup", "done")}
        check(started <= ended, f"{what}: jobs {sorted(started - ended)} started but wrote "
                                f"neither cleanup nor done")
        check_no_overlap(t, "in the interrupted run")
        check_resume(t, wrapped)
    finally:
        t.cleanup()


def run_trials(name, fn, count, seed):
    failures = 0
    for i in range(count):
        s = seed + i
        t0 = time.monotonic()
        try:
            fn(random.Random(s))
        except Failure as e:
            failures += 1
            print(f"FAIL {name} trial {i + 1}/{count} (seed {s}): {e}", flush=True)
        except Exception:
            failures += 1
            print(f"FAIL {name} trial {i + 1}/{count} (seed {s}): {traceback.format_exc()}",
                  flush=True)
        else:
            print(f"ok   {name} trial {i + 1}/{count} (seed {s}, {time.monotonic() - t0:.2f} s)",
                  flush=True)
    return failures


# ---------------------------------------------------------------------------
# Fixed tests of the guardian


def guardians_of(pid):
    """Pids of the `__process-guardian` children of `pid`."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmd = f.read().split(b"\0")
        except (FileNotFoundError, ProcessLookupError):
            continue
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        if ppid == pid and len(cmd) > 1 and cmd[1] == b"__process-guardian":
            out.append(int(entry))
    return out


def wait_for(pred, what, timeout=10.0):
    end = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > end:
            raise Failure(f"timed out waiting for {what}")
        time.sleep(0.01)


def started_jobs(t):
    return {int(e[1]) for e in t.events() if e[0] == "start"}


def test_guardian_is_outside_the_runners_group_and_ignores_its_signals():
    t = Trial()
    try:
        p = t.start(t.args(), env={"SLEEP": "30"})
        g = wait_for(lambda: guardians_of(p.pid), "the guardian")[0]
        check(os.getpgid(g) != os.getpgid(p.pid), "the guardian is in the runner's group")
        wait_for(lambda: len(started_jobs(t)) == PAR, "6 jobs started")
        for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            os.kill(g, s)
        time.sleep(0.1)
        check(os.path.exists(f"/proc/{g}") and
              open(f"/proc/{g}/stat").read().split(") ")[1][0] != "Z",
              "the guardian died of SIGINT, SIGTERM or SIGHUP")
        fds = os.listdir(f"/proc/{g}/fd")
        check(sorted(fds) == ["0", "1", "2", "3"], f"the guardian holds descriptors {fds}")
        for fd in ("0", "1", "2"):
            target = os.readlink(f"/proc/{g}/fd/{fd}")
            check(target == "/dev/null", f"the guardian's fd {fd} is {target}")
        p.send_signal(signal.SIGKILL)
        killed = time.monotonic()
        p.communicate()
        wait_for(lambda: not t.survivors(), "the jobs to be killed", timeout=1.0)
        check(time.monotonic() - killed < 1.0, "jobs outlived the runner by a second")
    finally:
        t.cleanup()


def test_guardian_exits_quietly_after_a_normal_run():
    t = Trial()
    try:
        # Jobs of half a second: a run of jobs that end at once can be over
        # before the guardian is seen, and the test would time out looking.
        p = t.start(t.args(), env={"SLEEP": "0.5"}, stdout=subprocess.PIPE)
        g = wait_for(lambda: guardians_of(p.pid), "the guardian")[0]
        out, err = p.communicate(timeout=30)
        check(p.returncode == 0, f"exit {p.returncode}: {err!r}")
        check(err == b"", f"stderr: {err!r}")
        check(not os.path.exists(f"/proc/{g}"), "the guardian is still there (or unreaped)")
        check(not t.survivors(), "processes left after a normal run")
    finally:
        t.cleanup()


def test_jobs_die_with_a_runner_whose_stdout_is_closed():
    t = Trial()
    try:
        e = dict(os.environ, D=t.path, KILL9_TRIAL=t.token, SLEEP="30")
        p = subprocess.Popen(["/bin/sh", "-c", 'exec "$0" run "$@" >&-', EXE] + t.args(),
                             cwd=t.path, env=e, stdin=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, start_new_session=True,
                             preexec_fn=child_setup)
        wait_for(lambda: len(started_jobs(t)) == PAR, "6 jobs started")
        p.send_signal(signal.SIGKILL)
        killed = time.monotonic()
        p.communicate()
        wait_for(lambda: not t.survivors(), "the jobs to be killed", timeout=1.0)
        check(time.monotonic() - killed < 1.0, "jobs outlived the runner by a second")
        ev = t.events()
        check(sorted(int(e[1]) for e in ev if e[0] == "cleanup") == list(range(1, PAR + 1)),
              f"the TERM trap of every running job ran: {ev}")
    finally:
        t.cleanup()


def test_a_job_process_in_a_group_of_its_own_dies_with_the_runner():
    # A process of a job that moved to a process group of its own (inside the
    # session) was never announced to the guardian: it is found by the
    # marker in its environment, the way a job spawned in the instant the
    # runner died is.
    t = Trial()
    try:
        job = ("python3 -c 'import os, time; os.setpgid(0, 0); "
               "open(os.environ[\"D\"] + \"/moved\", \"w\").close(); time.sleep(30)' & wait  # {}")
        p = t.start(["-j", "1", job, ":::", "1"])
        wait_for(lambda: os.path.exists(os.path.join(t.path, "moved")), "the moved process")
        check(t.survivors(), "no marked process")
        p.send_signal(signal.SIGKILL)
        killed = time.monotonic()
        p.communicate()
        wait_for(lambda: not t.survivors(), "the moved process to be killed", timeout=1.0)
        check(time.monotonic() - killed < 1.0, "a job's process outlived the runner by a second")
    finally:
        t.cleanup()


def test_a_job_spawned_just_before_the_runner_died():
    # The spawn window, made deterministic: gdb stops cohort in
    # process_guardian::watch, after the job's spawn and before the guardian
    # was told about it, and kills it there (SIGKILL). Only the marker in the
    # job's environment can lead the guardian to it. Needs gdb (skipped
    # without it).
    gdb = shutil.which("gdb")
    if gdb is None:
        print("     (gdb not installed: skipped)", flush=True)
        return
    t = Trial()
    try:
        e = dict(os.environ, D=t.path, KILL9_TRIAL=t.token, SLEEP="30")
        cmds = ["set pagination off", "set breakpoint pending on",
                "set startup-with-shell off",
                "break cohort::process_guardian::watch", "run", "kill", "quit"]
        args = [gdb, "-q", "-batch", "-nx"]
        for c in cmds:
            args += ["-ex", c]
        args += ["--args", EXE, "run"] + t.args()
        g = subprocess.run(args, cwd=t.path, env=e, stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=120, start_new_session=True)
        out = g.stdout.decode(errors="replace")
        check("Breakpoint 1, cohort::process_guardian::watch" in out,
              f"gdb did not stop in watch(): {out[-1500:]!r} {g.stderr[-500:]!r}")
        ended = time.monotonic()
        wait_for(lambda: not t.survivors(), "the unannounced job to be killed", timeout=1.0)
        check(time.monotonic() - ended < 1.0, "the unannounced job outlived the runner by a second")
    finally:
        t.cleanup()


TESTS = [(name[5:], fn) for name, fn in sorted(globals().items())
         if name.startswith("test_") and callable(fn)]


def main():
    global EXE
    ap = argparse.ArgumentParser()
    ap.add_argument("cohort")
    ap.add_argument("--kills", type=int, default=10, help="kill -9 trials (default 10)")
    ap.add_argument("--signals", type=int, default=10, help="SIGINT/SIGTERM trials (default 10)")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--only", default="", help="run only the tests/trials whose name has this")
    a = ap.parse_args()
    EXE = os.path.abspath(a.cohort)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    seed = a.seed if a.seed is not None else random.randrange(1 << 30)
    print(f"seed {seed}", flush=True)
    failed = 0
    for name, fn in TESTS:
        if a.only not in name:
            continue
        t0 = time.monotonic()
        try:
            fn()
            print(f"ok   {name} ({time.monotonic() - t0:.2f} s)", flush=True)
        except Failure as e:
            failed += 1
            print(f"FAIL {name}: {e}", flush=True)
        except Exception:
            failed += 1
            print(f"FAIL {name}: {traceback.format_exc()}", flush=True)
    if a.only in "kill9":
        failed += run_trials("kill9", kill9_trial, a.kills, seed)
    if a.only in "signals":
        failed += run_trials("signals", signals_trial, a.signals, seed + 1000000)
    print(f"{failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
