#!/usr/bin/env python3
"""`cohort tiles merge` of 8 parts against `cohort tiles convert` of the
whole download (issue 15: merging 8 parts is at least as fast per tile as
converting one output).

The data: zooms 0..7 of the whole world (21,845 tiles), downloaded once whole
and once as 8 parts (`--part K/8`) from the test tile server into MBTiles.
Then, alternating, each --runs times and for each output kind (.mbtiles,
.pmtiles): convert whole.mbtiles -> OUT, and merge part0..7.mbtiles -> OUT.
Times are the command's wall clock and its own CPU (user+sys, wait4), so a
loaded machine shows in the wall figure but hardly in the CPU one.

  bench/tiles_merge_bench.py --bin build/bin/cohort [--runs 3] [--max-zoom 7]
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SERVER = os.path.join(HERE, "..", "tests", "support", "tile_server.py")


def run(cmd):
    """Runs `cmd`; returns (wall seconds, CPU seconds)."""
    begin = time.monotonic()
    pid = os.spawnv(os.P_NOWAIT, cmd[0], cmd)
    _, status, usage = os.wait4(pid, 0)
    wall = time.monotonic() - begin
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}")
    return wall, usage.ru_utime + usage.ru_stime


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bin", required=True)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--max-zoom", type=int, default=7)
    p.add_argument("--parts", type=int, default=8)
    a = p.parse_args()
    tiles = sum(4**z for z in range(a.max_zoom + 1))
    tmp = tempfile.mkdtemp(prefix="cohort-bench-merge-")
    server = subprocess.Popen([sys.executable, SERVER, "--port", "0"], stdout=subprocess.PIPE,
                              text=True)
    try:
        port = int(server.stdout.readline().split()[1])
        url = f"http://127.0.0.1:{port}/{{z}}/{{x}}/{{y}}.png"
        common = [a.bin, "tiles", "--bbox", "-180,-85,180,85", "--zoom", f"0-{a.max_zoom}",
                  "--url", url, "-j", "16", "-q", "--max-tiles", "0"]
        whole = os.path.join(tmp, "whole.mbtiles")
        run(common + ["-o", whole])
        parts = [os.path.join(tmp, f"part{k}.mbtiles") for k in range(a.parts)]
        for k, part in enumerate(parts):
            run(common + ["--part", f"{k}/{a.parts}", "-o", part])
    finally:
        server.terminate()
        server.wait()
    print(f"{tiles:,} tiles; convert of the whole download against merge of {a.parts} parts; "
          f"{a.runs} runs, medians")
    print(f"{'output':<9} {'command':<8} {'wall s':>7} {'CPU s':>6} {'CPU µs/tile':>12} "
          f"{'tiles/s':>8}")
    for ext in (".mbtiles", ".pmtiles"):
        got = {"convert": [], "merge": []}
        for _ in range(a.runs):
            for what in ("convert", "merge"):
                out = os.path.join(tmp, "out" + ext)
                if os.path.isdir(out):
                    shutil.rmtree(out)
                elif os.path.exists(out):
                    os.remove(out)
                cmd = ([a.bin, "tiles", "convert", whole, out, "-q"] if what == "convert" else
                       [a.bin, "tiles", "merge", *parts, "-o", out, "-q"])
                got[what].append(run(cmd))
        cpu = {}
        for what, runs in got.items():
            wall = statistics.median(r[0] for r in runs)
            cpu[what] = statistics.median(r[1] for r in runs)
            print(f"{ext[1:]:<9} {what:<8} {wall:7.2f} {cpu[what]:6.2f} "
                  f"{cpu[what] / tiles * 1e6:12.1f} {tiles / wall:8,.0f}")
        print(f"{ext[1:]:<9} merge CPU per tile / convert's: {cpu['merge'] / cpu['convert']:.2f}")
    shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
