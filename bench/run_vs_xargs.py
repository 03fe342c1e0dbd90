#!/usr/bin/env python3
"""`cohort run` against `xargs -P` and GNU parallel: N x `true`, P at a time.

Each runner reads the same N input lines on stdin and runs `true ARG` once per
line; cohort and GNU parallel write a joblog (`--joblog`), xargs cannot. Each
figure is the wall time of one whole run (spawn, wait, reap, log), as
jobs per second; with --runs R each runner runs R times, interleaved, and the
median and the min..max spread are printed. The ratios are cohort's jobs/s
over each peer's (medians).

Usage: run_vs_xargs.py --bin build/bin/cohort [--jobs 3000] [--par 8] [--runs 1]
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time


def timed(cmd, stdin_path):
    with open(stdin_path, "rb") as f:
        t = time.monotonic()
        p = subprocess.run(cmd, stdin=f, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        took = time.monotonic() - t
    if p.returncode != 0:
        sys.exit(f"run_vs_xargs: {' '.join(cmd)} exited {p.returncode}: {p.stderr[:500]!r}")
    return took


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="build/bin/cohort")
    ap.add_argument("--jobs", type=int, default=3000)
    ap.add_argument("--par", type=int, default=8)
    ap.add_argument("--runs", type=int, default=1)
    a = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="cohort-run-bench-")
    args = os.path.join(tmp, "args")
    with open(args, "w") as f:
        f.write("".join(f"{i}\n" for i in range(1, a.jobs + 1)))
    clog = os.path.join(tmp, "cohort.joblog")
    plog = os.path.join(tmp, "parallel.joblog")
    runners = [
        ("cohort run", [a.bin, "run", "-j", str(a.par), "--joblog", clog, "true"]),
        ("xargs", ["xargs", "-P", str(a.par), "-n", "1", "true"]),
    ]
    if shutil.which("parallel"):
        runners.append(("GNU parallel", ["parallel", "--will-cite", "-j", str(a.par), "--joblog",
                                         plog, "true"]))
    else:
        print("run_vs_xargs: GNU parallel is not installed (scripts/setup installs it); skipped")

    times = {name: [] for name, _ in runners}
    for _ in range(a.runs):
        for name, cmd in runners:
            times[name].append(timed(cmd, args))
    with open(clog) as f:
        logged = sum(1 for _ in f) - 1
    if logged != a.jobs:
        sys.exit(f"run_vs_xargs: cohort's joblog has {logged} lines, expected {a.jobs}")

    load = open("/proc/loadavg").read().split()[0]
    print(f"{a.jobs} x true, {a.par} at a time, {a.runs} run(s) each; "
          f"{os.cpu_count()} cores, load {load}")
    print(f"| runner | command | jobs/s (median) | min..max jobs/s |")
    print(f"|---|---|---|---|")
    rate = {}
    for name, cmd in runners:
        ts = times[name]
        rate[name] = a.jobs / statistics.median(ts)
        shown = " ".join(os.path.basename(c) if i == 0 else c for i, c in enumerate(cmd))
        shown = shown.replace(tmp + "/", "")
        print(f"| {name} | `{shown} < args` | {rate[name]:,.0f} | "
              f"{a.jobs / max(ts):,.0f}..{a.jobs / min(ts):,.0f} |")
    for name, _ in runners[1:]:
        print(f"cohort run / {name}: {rate['cohort run'] / rate[name]:.2f}x")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
