#!/usr/bin/env python3
"""`cohort tiles convert` between MBTiles and PMTiles: tiles/s and peak RSS.

The data: every tile of zooms 0..7 of the whole world (21,845 tiles, the set
of bench/tiles_vs_peers.py), with the test tile server's deterministic PNG
bytes (tests/support/tile_server.py, 100 B to 30 KiB each), written into an
MBTiles file by this script. Then, each --runs times:
  MBTiles -> PMTiles, PMTiles -> MBTiles, PMTiles -> PMTiles
and the result is checked (tile count of the output). Peak RSS is the
child's ru_maxrss (wait4), so it is cohort's own, not this script's.

  bench/tiles_convert_bench.py --bin build/bin/cohort [--max-zoom 7] [--runs 1] [--keep]
"""

import argparse
import os
import shutil
import sqlite3
import statistics
import struct
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "support"))
import tile_server  # noqa: E402


def write_mbtiles(path, max_zoom):
    db = sqlite3.connect(path)
    db.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;"
                     "CREATE TABLE metadata (name TEXT, value TEXT);"
                     "CREATE TABLE tiles (zoom_level INTEGER, tile_column INTEGER, "
                     "tile_row INTEGER, tile_data BLOB);"
                     "CREATE UNIQUE INDEX tile_index ON tiles (zoom_level, tile_column, tile_row);")
    db.executemany("INSERT INTO metadata VALUES (?, ?)", [("name", "bench"), ("format", "png")])
    rows = ((z, x, (1 << z) - 1 - y, tile_server.tile_bytes(z, x, y, "png"))
            for z in range(max_zoom + 1) for x in range(1 << z) for y in range(1 << z))
    db.executemany("INSERT INTO tiles VALUES (?, ?, ?, ?)", rows)
    db.commit()
    n = db.execute("SELECT count(*) FROM tiles").fetchone()[0]
    db.close()
    return n


def run(cmd):
    """Runs `cmd`; returns (seconds, peak RSS in MiB)."""
    begin = time.monotonic()
    pid = os.spawnv(os.P_NOWAIT, cmd[0], cmd)
    _, status, usage = os.wait4(pid, 0)
    elapsed = time.monotonic() - begin
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}")
    return elapsed, usage.ru_maxrss / 1024.0


def count(path):
    if path.endswith(".pmtiles"):
        with open(path, "rb") as f:
            return struct.unpack_from("<Q", f.read(127), 72)[0]
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return db.execute("SELECT count(*) FROM tiles").fetchone()[0]
    finally:
        db.close()


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--bin", required=True)
    p.add_argument("--max-zoom", type=int, default=7)
    p.add_argument("--runs", type=int, default=1)
    p.add_argument("--keep", action="store_true")
    a = p.parse_args()
    root = tempfile.mkdtemp(prefix="cohort-convert-bench-")
    try:
        source = os.path.join(root, "source.mbtiles")
        n = write_mbtiles(source, a.max_zoom)
        mb = os.path.getsize(source) / 1e6
        print(f"{n} tiles, {mb:.0f} MB (zooms 0-{a.max_zoom})")
        steps = [("MBTiles -> PMTiles", source, "a.pmtiles"),
                 ("PMTiles -> MBTiles", "a.pmtiles", "b.mbtiles"),
                 ("PMTiles -> PMTiles", "a.pmtiles", "c.pmtiles")]
        print(f"{'conversion':<20} {'tiles/s':>10} {'s':>8} {'peak RSS MiB':>13}")
        for name, src, dst in steps:
            src = src if os.path.isabs(src) else os.path.join(root, src)
            dst = os.path.join(root, dst)
            times, rss = [], []
            for _ in range(a.runs):
                if os.path.exists(dst):
                    os.remove(dst)
                t, r = run([os.path.abspath(a.bin), "tiles", "convert", src, dst, "--quiet"])
                if count(dst) != n:
                    raise SystemExit(f"{name}: {count(dst)} tiles written, not {n}")
                times.append(t)
                rss.append(r)
            t = statistics.median(times)
            print(f"{name:<20} {n / t:>10.0f} {t:>8.2f} {max(rss):>13.1f}")
    finally:
        if a.keep:
            print(f"kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
