#!/usr/bin/env python3
"""Real-signal tests of cohort::run, driving build/bin/cohort-signal-probe.

Each scenario starts the probe as a real subprocess, waits for observable
events (READY, `start i` lines) rather than sleeping blindly, sends real
signals with randomized timing, and checks:
  - every started task printed its cleanup line, or (under escalation) the
    run ended within the bound and named every cut cleanup;
  - no task started after the first signal (nothing had finished, so exactly
    the tasks that held slots started);
  - the outcome's code (130 SIGINT, 143 SIGTERM) is printed as `exit CODE`,
    the last line, and the process then dies *by* that signal
    (cohort::exit_like), as a shell needs to stop its script (DESIGN.md G7);
  - nothing is printed after the exit;
  - no sanitizer report.

Usage: signal_test.py PROBE [--iterations N] [--seed S] [--only NAME] [--jobs J]
Prints one line per failure and ends with `N passed, N failed`.
"""
import argparse
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

SANITIZER = re.compile(r"(AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|ThreadSanitizer|runtime error:)")


class Probe:
    def __init__(self, exe, args, timeout=60.0):
        self.lines = []  # (t, stream, text)
        self.cv = threading.Condition()
        self.start = time.monotonic()
        self.timeout = timeout
        self.proc = subprocess.Popen(
            [exe] + args,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            # Background jobs of non-interactive shells inherit SIGINT
            # ignored; the runtime must work regardless, but start clean.
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        self.readers = [
            threading.Thread(target=self._read, args=(self.proc.stdout, "out"), daemon=True),
            threading.Thread(target=self._read, args=(self.proc.stderr, "err"), daemon=True),
        ]
        for r in self.readers:
            r.start()

    def _read(self, pipe, name):
        for raw in iter(pipe.readline, b""):
            with self.cv:
                self.lines.append((time.monotonic(), name, raw.decode(errors="replace").rstrip("\n")))
                self.cv.notify_all()
        with self.cv:
            self.lines.append((time.monotonic(), name, None))  # EOF
            self.cv.notify_all()

    def wait_for(self, pred, timeout=20.0):
        deadline = time.monotonic() + timeout
        with self.cv:
            while not pred(self):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.cv.wait(left)
        return True

    def count(self, prefix, stream="out"):
        return sum(1 for _, s, t in self.lines if s == stream and t is not None and t.startswith(prefix))

    def has(self, text, stream="err"):
        return any(s == stream and t == text for _, s, t in self.lines)

    def send(self, sig):
        self.proc.send_signal(sig)
        return time.monotonic()

    def finish(self):
        try:
            rc = self.proc.wait(self.timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            rc = "timeout"
        ended = time.monotonic()
        for r in self.readers:
            r.join(5)
        return rc, ended

    def out_numbers(self, prefix):
        return [int(t.split()[1]) for _, s, t in self.lines if s == "out" and t and t.startswith(prefix + " ")]

    def err_text(self):
        return "\n".join(t for _, s, t in self.lines if s == "err" and t is not None)


def common_checks(p, rc, expect_rc, errors):
    # An interrupted run prints its code, then ends by its signal.
    expect_status = -(expect_rc - 128) if expect_rc > 128 else expect_rc
    if rc != expect_status:
        errors.append(f"exit status {rc}, expected {expect_status} (code {expect_rc})")
    err_lines = [t for _, s, t in p.lines if s == "err" and t is not None]
    if not err_lines or err_lines[-1] != f"exit {expect_rc}":
        errors.append(f"last stderr line is {err_lines[-1:]!r}, expected 'exit {expect_rc}'")
    m = SANITIZER.search(p.err_text())
    if m:
        errors.append(f"sanitizer report: {m.group(0)}")


def cut_jobs(p):
    """Job numbers the runtime named as cut cleanups on escalation."""
    text = p.err_text()
    if "escalating" not in text:
        return set()
    tail = text.split("escalating", 1)[1]
    return {int(n) for n in re.findall(r"job#(\d+) waiting", tail)}


def check_cleanups(p, errors, escalated_ok=False):
    started = set(p.out_numbers("start"))
    cleaned = set(p.out_numbers("cleanup"))
    if cleaned - started:
        errors.append(f"cleanup without start: {sorted(cleaned - started)}")
    missing = started - cleaned
    if missing:
        if not escalated_ok:
            errors.append(f"started tasks without cleanup: {sorted(missing)}")
        else:
            named = cut_jobs(p)
            if missing - named:
                errors.append(f"cleanups neither completed nor reported cut: {sorted(missing - named)}")
    return started, cleaned


# --- scenarios ---------------------------------------------------------------
# Each returns a list of error strings (empty = pass).

def slots_full(exe, rng, sig=signal.SIGINT, expect=130):
    c = rng.choice([4, 8, 16])
    p = Probe(exe, ["--n", str(c), "--c", str(c), "--cleanup-ms", str(rng.choice([50, 150]))])
    errors = []
    if not p.wait_for(lambda q: q.count("start") == c):
        errors.append("tasks did not all start")
    time.sleep(rng.uniform(0, 0.05))
    p.send(sig)
    rc, _ = p.finish()
    common_checks(p, rc, expect, errors)
    started, _ = check_cleanups(p, errors)
    if len(started) != c:
        errors.append(f"{len(started)} started, expected {c}")
    return errors


def sigterm(exe, rng):
    return slots_full(exe, rng, signal.SIGTERM, 143)


def queued(exe, rng):
    c = rng.choice([2, 4, 10])
    n = rng.choice([100, 1000])
    p = Probe(exe, ["--n", str(n), "--c", str(c), "--cleanup-ms", "100"])
    errors = []
    if not p.wait_for(lambda q: q.count("start") == c):
        errors.append("slots did not fill")
    time.sleep(rng.uniform(0, 0.05))
    p.send(signal.SIGINT)
    rc, _ = p.finish()
    common_checks(p, rc, 130, errors)
    started, _ = check_cleanups(p, errors)
    if len(started) != c:
        errors.append(f"{len(started)} tasks started, expected exactly the {c} holding slots "
                      f"(a queued task started after the signal)")
    return errors


def during_cleanup(exe, rng):
    # First SIGINT starts the cleanups (400 ms each); a second one lands in
    # the middle of them and escalates: cleanups are cut, named, and the run
    # ends at once.
    c = 4
    p = Probe(exe, ["--n", "20", "--c", str(c), "--cleanup-ms", "400"])
    errors = []
    p.wait_for(lambda q: q.count("start") == c)
    p.send(signal.SIGINT)
    time.sleep(rng.uniform(0.05, 0.25))
    t2 = p.send(signal.SIGINT)
    rc, ended = p.finish()
    common_checks(p, rc, 130, errors)
    check_cleanups(p, errors, escalated_ok=True)
    if ended - t2 > 1.0:
        errors.append(f"run took {ended - t2:.2f} s after the second signal (bound 1 s)")
    if "second signal: escalating" not in p.err_text():
        errors.append("escalation not reported")
    return errors


def signal_lands_in_cleanup(exe, rng):
    # Tasks finish their work and are inside their (normal) cleanup when the
    # only SIGINT arrives: the shielded cleanups complete.
    p = Probe(exe, ["--n", "8", "--c", "8", "--work-ms", "100", "--cleanup-ms", "500"])
    errors = []
    p.wait_for(lambda q: q.count("start") == 8)
    time.sleep(0.1 + rng.uniform(0.05, 0.3))
    p.send(signal.SIGINT)
    rc, _ = p.finish()
    common_checks(p, rc, 130, errors)
    started, cleaned = check_cleanups(p, errors)
    if len(cleaned) != 8:
        errors.append(f"only {len(cleaned)} of 8 cleanups completed")
    return errors


def rapid_three(exe, rng):
    c = 10
    p = Probe(exe, ["--n", "1000", "--c", str(c), "--cleanup-ms", "200"])
    errors = []
    p.wait_for(lambda q: q.count("start") == c)
    t0 = p.send(signal.SIGINT)
    for _ in range(2):
        time.sleep(rng.uniform(0.005, 0.02))
        p.send(signal.SIGINT)
    rc, ended = p.finish()
    common_checks(p, rc, 130, errors)
    started, _ = check_cleanups(p, errors, escalated_ok=True)
    if len(started) != c:
        errors.append(f"{len(started)} started, expected {c}")
    if ended - t0 > 1.5:
        errors.append(f"run took {ended - t0:.2f} s after the signals")
    return errors


def before_start(exe, rng):
    p = Probe(exe, ["--n", "100", "--c", "10", "--start-delay-ms", "3000"])
    errors = []
    p.wait_for(lambda q: q.has("READY"))
    time.sleep(rng.uniform(0, 0.2))
    t0 = p.send(signal.SIGINT)
    rc, ended = p.finish()
    common_checks(p, rc, 130, errors)
    if p.count("start"):
        errors.append(f"{p.count('start')} tasks started after the signal")
    if ended - t0 > 1.0:
        errors.append(f"took {ended - t0:.2f} s to exit")
    return errors


def cleanup_never_second_signal(exe, rng):
    p = Probe(exe, ["--n", "6", "--c", "3", "--cleanup-never", "--grace-ms", "30000"])
    errors = []
    p.wait_for(lambda q: q.count("start") == 3)
    p.send(signal.SIGINT)
    time.sleep(rng.uniform(0.05, 0.2))
    t2 = p.send(signal.SIGINT)
    rc, ended = p.finish()
    common_checks(p, rc, 130, errors)
    started, cleaned = check_cleanups(p, errors, escalated_ok=True)
    if cut_jobs(p) != started:
        errors.append(f"cut cleanups reported {sorted(cut_jobs(p))}, started {sorted(started)}")
    if ended - t2 > 1.0:
        errors.append(f"run took {ended - t2:.2f} s after the second signal")
    return errors


def cleanup_never_grace_expiry(exe, rng):
    grace_ms = rng.choice([200, 400])
    p = Probe(exe, ["--n", "6", "--c", "3", "--cleanup-never", "--grace-ms", str(grace_ms)])
    errors = []
    p.wait_for(lambda q: q.count("start") == 3)
    t0 = p.send(signal.SIGTERM)
    rc, ended = p.finish()
    common_checks(p, rc, 143, errors)
    started, _ = check_cleanups(p, errors, escalated_ok=True)
    if "grace period ended: escalating" not in p.err_text():
        errors.append("grace expiry not reported")
    took = ended - t0
    if took < grace_ms / 1000 or took > grace_ms / 1000 + 1.0:
        errors.append(f"run ended {took:.2f} s after SIGTERM (grace {grace_ms} ms)")
    return errors


def sighup_drain(exe, rng):
    # SIGHUP: nothing new starts, running tasks finish normally, exit 0.
    c = 4
    work = rng.choice([300, 500])
    p = Probe(exe, ["--n", "40", "--c", str(c), "--work-ms", str(work), "--cleanup-ms", "20"])
    errors = []
    p.wait_for(lambda q: q.count("start") == c)
    time.sleep(rng.uniform(0, 0.1))
    t0 = p.send(signal.SIGHUP)
    rc, ended = p.finish()
    common_checks(p, rc, 0, errors)
    started, cleaned = check_cleanups(p, errors)
    if len(started) != c:
        errors.append(f"{len(started)} started, expected {c} (work started after SIGHUP)")
    if ended - t0 > work / 1000 + 1.0:
        errors.append(f"drain took {ended - t0:.2f} s")
    return errors


SCENARIOS = {
    "slots_full": slots_full,
    "queued": queued,
    "during_cleanup": during_cleanup,
    "signal_lands_in_cleanup": signal_lands_in_cleanup,
    "rapid_three": rapid_three,
    "before_start": before_start,
    "sigterm": sigterm,
    "cleanup_never_second_signal": cleanup_never_second_signal,
    "cleanup_never_grace_expiry": cleanup_never_grace_expiry,
    "sighup_drain": sighup_drain,
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("probe")
    ap.add_argument("--iterations", type=int, default=10)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--only", action="append")
    ap.add_argument("--jobs", type=int, default=2)
    a = ap.parse_args()
    seed = a.seed if a.seed is not None else random.randrange(1 << 30)
    print(f"signal_test: seed {seed}, {a.iterations} iterations per scenario", flush=True)
    names = a.only or list(SCENARIOS)
    work = [(name, i) for name in names for i in range(a.iterations)]
    passed = failed = 0
    per = {name: [0, 0] for name in names}

    def one(item):
        name, i = item
        rng = random.Random(f"{seed}-{name}-{i}")
        try:
            return item, SCENARIOS[name](a.probe, rng)
        except Exception as e:  # a harness error is a failure too
            return item, [f"harness error: {e!r}"]

    with ThreadPoolExecutor(max_workers=a.jobs) as pool:
        for (name, i), errors in pool.map(one, work):
            if errors:
                failed += 1
                per[name][1] += 1
                print(f"FAIL {name} #{i}: " + "; ".join(errors), flush=True)
            else:
                passed += 1
                per[name][0] += 1
    for name in names:
        print(f"  {name}: {per[name][0]} passed, {per[name][1]} failed")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
