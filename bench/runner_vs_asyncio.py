#!/usr/bin/env python3
"""cohort-bench-runner against the asyncio reference, side by side, in one run.

Driven by `scripts/bench runner`. Both programs share one command line and
print one `RESULT {json}` line (../shared/peers/asyncio_runner.py defines
it); this script runs them alternately and prints markdown tables:

  trivial  N x sleep0 at C: tasks/s and peak RSS, median of --repeat runs
  cancel   N x sleep30 at C, one real SIGINT --sigint-after s after READY:
           signal->exit time measured by this process (from just before
           kill() to the child's exit, as the peers' asyncio_bench.py does),
           started / cleanups / never started, exit code, peak RSS; median of
           --repeat. Once without and once with --cleanup-await.
  callgrind  instructions per task of the trivial run, independent of load:
           (I(2n) - I(n)) / n with valgrind --tool=callgrind.

How children are started, and why:
  - SIGINT is reset to SIG_DFL in the child (a driver started as a background
    job of a non-interactive shell has it ignored; see the peers' README).
  - Through `setsid --fork`, with this process as child subreaper, so the
    program under test is a grandchild that is re-parented to us. Linux
    carries the parent's memory high-water mark into a child's ru_maxrss
    across fork + exec; started directly from Python (about 10 MiB here),
    cohort-bench-runner's peak RSS would read as Python's. setsid is small,
    so the figure is the program's own (give or take about 1 MiB). For
    cohort-bench-runner the tables use its own VmHWM (from /proc/self/status,
    in its RESULT line), which no parent can inflate.
  - stdout/stderr go to files and the child's exit is watched on a pidfd in
    the main thread: no reader threads compete for the GIL at the instant
    the exit is timed.
Every figure line carries the 1-minute load average at the start of its runs.
"""
import argparse
import ctypes
import json
import os
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

PR_SET_CHILD_SUBREAPER = 36


def become_subreaper():
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


def my_children():
    pids = []
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/children") as f:
                pids += [int(x) for x in f.read().split()]
        except FileNotFoundError:
            pass
    return pids


def load1():
    return os.getloadavg()[0]


def run_child(cmd, sig_offsets=(), ref="ready", hard_timeout=300.0):
    """Runs cmd as a grandchild (see the module doc); sends SIGINT at each
    offset (seconds after READY on stderr, or after spawn); returns a dict."""
    load = load1()
    out = tempfile.TemporaryFile()
    err = tempfile.TemporaryFile()
    before = set(my_children())
    t_spawn = time.monotonic()
    inter = subprocess.Popen(["setsid", "--fork"] + [str(a) for a in cmd],
                             stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    if inter.wait(30) != 0:
        raise RuntimeError(f"setsid --fork exited {inter.returncode}")
    new = [p for p in my_children() if p not in before]
    if len(new) != 1:
        raise RuntimeError(f"expected one re-parented child, found {new}")
    pid = new[0]
    pidfd = os.pidfd_open(pid)
    poller = select.poll()
    poller.register(pidfd, select.POLLIN)

    def exited(timeout_s):
        return bool(poller.poll(max(0, int(timeout_s * 1000))))

    def stderr_text():
        return os.pread(err.fileno(), 1 << 20, 0).decode(errors="replace")

    t_ref = t_spawn
    if ref == "ready":
        deadline = time.monotonic() + 60
        while "READY" not in stderr_text():
            if exited(0.0005) or time.monotonic() > deadline:
                break
        t_ref = time.monotonic()
    sent = []
    for off in sig_offsets:
        delay = t_ref + off - time.monotonic()
        if delay > 0 and exited(delay):
            break
        if exited(0):
            break
        sent.append(time.monotonic())
        os.kill(pid, signal.SIGINT)
    killed = False
    if not exited(max(0.0, hard_timeout - (time.monotonic() - t_spawn))):
        killed = True
        os.kill(pid, signal.SIGKILL)
        exited(30)
    t_exit = time.monotonic()
    _, status, ru = os.wait4(pid, 0)
    os.close(pidfd)
    result = None
    text = os.pread(out.fileno(), 1 << 20, 0).decode(errors="replace")
    for line in text.splitlines():
        if line.startswith("RESULT "):
            result = json.loads(line[7:])
    return {
        "rc": os.waitstatus_to_exitcode(status),
        "killed": killed,
        "load": load,
        "sig_to_exit_s": t_exit - sent[0] if sent else None,
        "maxrss_mib": ru.ru_maxrss / 1024.0,
        "cpu_s": ru.ru_utime + ru.ru_stime,
        "result": result,
        "stderr_tail": stderr_text()[-400:],
    }


def peak_rss(name, r):
    """Peak RSS in MiB: cohort-bench-runner's own VmHWM (its RESULT line), which
    no parent's high-water mark can inflate; for the peers, ru_maxrss from
    wait4 (the Python programs' self-report is the same getrusage figure)."""
    own = (r["result"] or {}).get("peak_rss_mib")
    return own if name == "cohort" and own is not None else r["maxrss_mib"]


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def fmt_rate(x):
    return "–" if x is None else f"{x / 1e6:.2f} M/s" if x >= 1e6 else f"{x / 1e3:.0f} k/s"


def fmt_time(s):
    return "–" if s is None else f"{s * 1e3:.1f} ms" if s < 1 else f"{s:.2f} s"


def fmt_loads(runs):
    loads = [r["load"] for r in runs]
    return f"{min(loads):.1f}–{max(loads):.1f}" if len(loads) > 1 else f"{loads[0]:.1f}"


def ratio(a, b):
    return "–" if a is None or b is None or b == 0 else f"{a / b:,.1f}×"


class Bench:
    def __init__(self, args):
        self.a = args
        self.ours = [args.bin]
        self.peer = [sys.executable, os.path.join(args.peers, "asyncio_runner.py")]
        self.impls = [("cohort", self.ours, []),
                      ("asyncio gather (reference)", self.peer, ["--impl", "gather"]),
                      ("asyncio workers (extra)", self.peer, ["--impl", "workers"])]

    def note(self, name, r, what):
        res = r["result"] or {}
        print(f"  {name}: {what}, exit {r['rc']}, peak RSS {r['maxrss_mib']:.1f} MiB "
              f"(self-reported {res.get('peak_rss_mib')}), load {r['load']:.1f}",
              file=sys.stderr, flush=True)

    # Runs each implementation `repeat` times, interleaved so that a change of
    # load hits every implementation alike.
    def series(self, cli, sig_offsets=(), describe=lambda r: ""):
        runs = {name: [] for name, _, _ in self.impls}
        for _ in range(self.a.repeat):
            for name, base, extra in self.impls:
                r = run_child(base + [str(x) for x in cli] + extra, sig_offsets)
                self.note(name, r, describe(r))
                runs[name].append(r)
        return runs

    def trivial(self):
        a = self.a
        cli = ["--n", a.n, "--concurrency", a.concurrency, "--work", "sleep0"]
        print(f"\n### (a) {a.n:,} trivial tasks (`--work sleep0`), C = {a.concurrency}, "
              f"median of {a.repeat}\n", flush=True)
        runs = self.series(cli, describe=lambda r: f"{(r['result'] or {}).get('tasks_per_s')} tasks/s")
        rows = {}
        print("| implementation | tasks/s | min..max | peak RSS | exit | load (1 min) |")
        print("|---|---|---|---|---|---|")
        for name, rs in runs.items():
            tps = [(r["result"] or {}).get("tasks_per_s") for r in rs]
            tps = [t for t in tps if t is not None]
            rss = med([peak_rss(name, r) for r in rs])
            rows[name] = (med(tps), rss)
            rng = f"{fmt_rate(min(tps))}..{fmt_rate(max(tps))}" if tps else "–"
            print(f"| {name} | {fmt_rate(med(tps))} | {rng} | {rss:.1f} MiB | "
                  f"{sorted(set(r['rc'] for r in rs))} | {fmt_loads(rs)} |")
        ours, ref = rows["cohort"], rows["asyncio gather (reference)"]
        wk = rows["asyncio workers (extra)"]
        print(f"\nRatios, cohort against gather (reference): tasks/s cohort/asyncio "
              f"**{ratio(ours[0], ref[0])}**; peak RSS asyncio/cohort **{ratio(ref[1], ours[1])}**. "
              f"Against workers (extra): {ratio(ours[0], wk[0])} and {ratio(wk[1], ours[1])}.")
        return rows

    def cancel(self, cleanup_await):
        a = self.a
        cli = ["--n", a.n, "--concurrency", a.concurrency, "--work", "sleep30"]
        title = "sleeping 30 s"
        if cleanup_await > 0:
            cli += ["--cleanup-await", cleanup_await]
            title += f", each cleanup awaiting {cleanup_await:g} s"
        print(f"\n### (b) {a.n:,} tasks {title}, C = {a.concurrency}, one real SIGINT "
              f"{a.sigint_after:g} s after READY, median of {a.repeat}\n", flush=True)
        runs = self.series(cli, [a.sigint_after],
                           describe=lambda r: f"signal->exit {fmt_time(r['sig_to_exit_s'])}")
        rows = {}
        print("| implementation | signal→exit (parent) | min..max | in-process | started | cleanups "
              "| never started | exit | peak RSS | load (1 min) |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        for name, rs in runs.items():
            s2e = [r["sig_to_exit_s"] for r in rs if r["sig_to_exit_s"] is not None]
            inproc = med([(r["result"] or {}).get("sigint_to_cleanup_done_s") for r in rs])
            res = [r["result"] or {} for r in rs]
            # started/cleanups: every run's, so a single bad run shows
            sc = sorted(set((x.get("started"), x.get("cleanups"), x.get("never_started")) for x in res))
            rss = med([peak_rss(name, r) for r in rs])
            rows[name] = (med(s2e), rss, sc, sorted(set(r["rc"] for r in rs)))
            print(f"| {name} | {fmt_time(med(s2e))} | "
                  f"{fmt_time(min(s2e)) if s2e else '–'}..{fmt_time(max(s2e)) if s2e else '–'} | "
                  f"{fmt_time(inproc)} | {' / '.join(str(x[0]) for x in sc)} | "
                  f"{' / '.join(str(x[1]) for x in sc)} | {' / '.join(str(x[2]) for x in sc)} | "
                  f"{rows[name][3]} | {rss:.1f} MiB | {fmt_loads(rs)} |")
        ours, ref = rows["cohort"], rows["asyncio gather (reference)"]
        print(f"\nRatios against gather (reference), both \"times smaller\" (asyncio / cohort): "
              f"signal→exit **{ratio(ref[0], ours[0])}**, peak RSS **{ratio(ref[1], ours[1])}**. "
              f"\"in-process\": the program's own figure, from its signal handler to the end of "
              f"its run (asyncio: first SIGINT to after asyncio.run returned).")
        return rows

    def floor(self):
        """What the harness and kernel add to signal->exit: `sleep` killed by SIGINT."""
        rs = [run_child(["sleep", "100"], [0.3], ref="spawn") for _ in range(self.a.repeat)]
        s = [r["sig_to_exit_s"] for r in rs]
        print(f"\nHarness floor (`sleep 100` killed by the same SIGINT, same timing): median "
              f"{fmt_time(med(s))} ({fmt_time(min(s))}..{fmt_time(max(s))}), load {fmt_loads(rs)}.")
        return med(s)

    def callgrind(self):
        a = self.a
        if shutil.which("valgrind") is None:
            print("\n(callgrind skipped: valgrind not installed; apt-get install valgrind)")
            return None
        n1, n2 = a.callgrind_n, 2 * a.callgrind_n
        print(f"\n### Instructions per trivial task (callgrind, load-independent)\n", flush=True)
        counts = {}
        targets = [("cohort", self.ours, [])]
        if a.callgrind_peer:
            targets.append(("asyncio gather (reference)", self.peer, ["--impl", "gather"]))
        print(f"| implementation | instructions at n = {n1:,} | at n = {n2:,} | per task |")
        print("|---|---|---|---|")
        for name, base, extra in targets:
            got = []
            for n in (n1, n2):
                cmd = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"] + base + [
                    "--n", str(n), "--concurrency", str(a.concurrency), "--work", "sleep0"] + extra
                p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                   timeout=1800, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
                total = None
                for line in p.stderr.splitlines():
                    if "Collected :" in line:
                        total = int(line.split(":")[-1])
                if p.returncode != 0 or total is None:
                    print(f"(callgrind failed for {name}: exit {p.returncode}: {p.stderr[-300:]})")
                    break
                got.append(total)
            if len(got) == 2:
                counts[name] = (got[1] - got[0]) / (n2 - n1)
                print(f"| {name} | {got[0]:,} | {got[1]:,} | {counts[name]:,.0f} |", flush=True)
        if "cohort" in counts and "asyncio gather (reference)" in counts:
            print(f"\nRatio (asyncio / cohort instructions per task): "
                  f"**{ratio(counts['asyncio gather (reference)'], counts['cohort'])}**.")
        return counts


def verdicts(a, trivial, cancel0, floor):
    print("\n### Targets (issue 4)\n")
    print("| target | measured | verdict |")
    print("|---|---|---|")
    tps = trivial["cohort"][0] if trivial else None
    if tps is not None:
        v = "met" if tps >= 20e6 else f"missed: {tps / 20e6:.0%} of the target ({20e6 / tps:.1f}× short)"
        print(f"| ≥ 20 M trivial tasks/s | {fmt_rate(tps)} | {v} |")
    rss = max(x for x in [trivial["cohort"][1] if trivial else None,
                          cancel0["cohort"][1] if cancel0 else None] if x is not None)
    v = "met" if rss <= 10 else f"missed by {rss - 10:.1f} MiB"
    print(f"| ≤ 10 MiB peak RSS, {a.n:,} queued tasks | {rss:.1f} MiB (worst of (a), (b)) | {v} |")
    if cancel0:
        s2e, _, sc, rcs = cancel0["cohort"]
        all_clean = all(x[0] == x[1] for x in sc)
        v = "met" if s2e is not None and s2e <= 0.005 and all_clean and rcs == [-signal.SIGINT] else (
            f"missed by {fmt_time(s2e - 0.005)}" if s2e is not None and s2e > 0.005 else "missed")
        extra = f"; harness floor {fmt_time(floor)}" if floor is not None else ""
        print(f"| signal→exit ≤ 5 ms, every started task's cleanup run | {fmt_time(s2e)}, "
              f"cleanups {'=' if all_clean else '≠'} started, exit {rcs}{extra} | {v} |")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", required=True, help="cohort-bench-runner")
    ap.add_argument("--peers", required=True, help="the peers' directory (asyncio_runner.py)")
    ap.add_argument("--n", type=int, default=200000)
    ap.add_argument("--concurrency", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--sigint-after", type=float, default=2.0)
    ap.add_argument("--cleanup-await", type=float, default=0.2)
    ap.add_argument("--callgrind-n", type=int, default=20000)
    ap.add_argument("--callgrind-peer", action="store_true",
                    help="also count the asyncio reference's instructions (slow: minutes)")
    ap.add_argument("--only", action="append", choices=["trivial", "cancel", "cancel-await", "callgrind"])
    a = ap.parse_args()
    runner = os.path.join(a.peers, "asyncio_runner.py")
    if not os.path.isfile(runner):
        sys.exit(f"runner_vs_asyncio: {runner} not found")
    become_subreaper()
    only = set(a.only or ["trivial", "cancel", "cancel-await", "callgrind"])
    py = sys.version.split()[0]
    print(f"## Runner vs asyncio — {time.strftime('%Y-%m-%d %H:%M:%S %Z')}, {os.cpu_count()} cores, "
          f"Python {py}, load average at start {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    b = Bench(a)
    trivial = b.trivial() if "trivial" in only else None
    cancel0 = floor = None
    if "cancel" in only:
        cancel0 = b.cancel(0)
        floor = b.floor()
    if "cancel-await" in only:
        b.cancel(a.cleanup_await)
    if "callgrind" in only:
        b.callgrind()
    if trivial or cancel0:
        verdicts(a, trivial, cancel0, floor)
    print(f"\nload average at end {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
