#!/usr/bin/env python3
"""`cohort run --pipe` and `--pipepart` against GNU parallel's, on one big file.

A file of SIZE bytes of numbered lines is written to /dev/shm (tmpfs: the
figures are the tools', not a disk's). Then, with the same -j and GNU's
defaults (--block 1M for --pipe, 10 chunks per job slot for --pipepart), the
job `wc -l` counts each chunk:

  pipe      cat FILE | TOOL --pipe -j J wc -l       (standard input is a pipe)
  pipepart  TOOL --pipepart -a FILE -j J wc -l      (GNU's fast path)

The sum of the counts must be the file's line count (a tool that loses or
doubles a record fails the benchmark). Each figure is the wall time of the
whole run, as MB/s; with --runs R each command runs R times, interleaved, and
the median and the min..max spread are printed. The ratio is cohort's MB/s
over GNU parallel's (medians): above 1, cohort is faster.

Usage: pipe_vs_parallel.py --bin build/bin/cohort [--size 1G] [--jobs 2] [--runs 1]
"""
import argparse
import os
import statistics
import subprocess
import sys
import time

UNITS = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}


def size_of(text):
    unit = UNITS.get(text[-1].lower(), 1)
    return int(float(text[:-1] if unit > 1 else text) * unit)


def make_file(path, size):
    """Numbered lines of 10 to 60 bytes, `size` bytes in all; its line count."""
    line = 0
    block = []
    for i in range(1, 200001):
        block.append(f"{i:08d} " + "x" * (i % 51) + "\n")
    piece = "".join(block).encode()
    lines_in_piece = len(block)
    with open(path, "wb") as f:
        written = 0
        while written + len(piece) <= size:
            f.write(piece)
            written += len(piece)
            line += lines_in_piece
    return line


def timed(shell_command):
    t = time.monotonic()
    p = subprocess.run(["bash", "-c", shell_command], capture_output=True, text=True)
    took = time.monotonic() - t
    if p.returncode != 0:
        sys.exit(f"pipe_vs_parallel: {shell_command} exited {p.returncode}: {p.stderr[:500]!r}")
    return took, sum(int(x) for x in p.stdout.split())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="build/bin/cohort")
    ap.add_argument("--size", default="1G")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--dir", default="/dev/shm")
    a = ap.parse_args()
    path = os.path.join(a.dir, f"cohort-pipe-bench-{os.getpid()}.txt")
    try:
        lines = make_file(path, size_of(a.size))
        size = os.path.getsize(path)
        cohort = os.path.abspath(a.bin) + " run"
        commands = {}
        for tool, prog in (("cohort", cohort), ("parallel", "parallel")):
            commands[("pipe", tool)] = f"cat {path} | {prog} --pipe -j {a.jobs} wc -l"
            commands[("pipepart", tool)] = f"{prog} --pipepart -a {path} -j {a.jobs} wc -l"
        times = {k: [] for k in commands}
        for _ in range(a.runs):
            for key, command in commands.items():
                took, counted = timed(command)
                if counted != lines:
                    sys.exit(f"pipe_vs_parallel: {command}: counted {counted} lines of {lines}")
                times[key].append(took)
        print(f"{size / 1e6:,.0f} MB, {lines:,} lines, -j {a.jobs}, {a.runs} run(s) each")
        for mode in ("pipe", "pipepart"):
            rates = {}
            for tool in ("cohort", "parallel"):
                t = times[(mode, tool)]
                rates[tool] = size / 1e6 / statistics.median(t)
                spread = f"{size / 1e6 / max(t):,.0f}..{size / 1e6 / min(t):,.0f}"
                print(f"  --{mode:<8} {tool:<8} {rates[tool]:8,.0f} MB/s  ({spread})"
                      f"  median {statistics.median(t):.2f} s")
            print(f"  --{mode:<8} ratio cohort/parallel: {rates['cohort'] / rates['parallel']:.2f}")
    finally:
        if os.path.exists(path):
            os.unlink(path)


if __name__ == "__main__":
    main()
