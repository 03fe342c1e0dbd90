#!/usr/bin/env python3
"""Extracting a city from a country-sized PMTiles archive served by nginx on
loopback with range requests: `cohort tiles --url http://.../country.pmtiles`
against the least it could fetch.

The archive (Germany's bounding box, zooms 0-14 by default, leaf directories
of 4096 entries, one tile in 8 an identical "ocean" tile stored once, tile
sizes log-uniform from 80 B to 12 kB with a PNG signature) is written once by
tests/support/pmtiles_archive.py into the work directory and reused. nginx
(Debian's nginx-light, one worker) logs each request's status, bytes sent and
Range header; the figures come from that log, not from the client:

  requests    range requests made (header and root, leaves, tile ranges)
  bytes       body bytes nginx sent
  least       the bytes of the city's tiles (a shared tile once) plus the
              directories a reader must read (the first 16 KiB and the
              leaves that hold the city's tiles)
  time        wall time of the extraction

Then the same extraction interrupted by a real SIGINT once nginx has logged
half of its requests, and resumed: the resume's bytes against the least for
the tiles still missing (its directories counted as above: the first 16 KiB
and the leaves holding the missing tiles; a resume reads again every leaf
that holds a tile of the city).

  bench/pmtiles_extract.py --bin build/bin/cohort [--work DIR] [--zooms 0-14]
      [--city W,S,E,N] [-j 8] [--port 18480]
"""

import argparse
import json
import math
import os
import random
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "support"))
import pmtiles_archive  # noqa: E402

import bench_nginx  # noqa: E402

COUNTRY = [5.87, 47.27, 15.04, 55.06]  # Germany
CITY = "13.09,52.34,13.76,52.68"       # Berlin
PNG = b"\x89PNG\r\n\x1a\n"

# Each request's status, bytes sent and Range header, for the figures.
NGINX_HTTP = """    log_format ranges '$status $body_bytes_sent "$http_range"';
    access_log {{ng}}/access.log ranges;
    server {{
        listen 127.0.0.1:{port};
        root {root};
    }}"""


def die(message):
    print(f"pmtiles_extract: {message}", file=sys.stderr)
    sys.exit(1)


def blob(z, x, y, ocean_every):
    """A tile's bytes: a PNG signature and deterministic noise, sizes
    log-uniform from 80 B to 12 kB; every ocean_every-th tile ID shares one."""
    if ocean_every and pmtiles_archive.tile_id(z, x, y) % ocean_every == 0:
        return PNG + b"ocean" * 40
    rng = random.Random(f"{z}/{x}/{y}")
    size = int(math.exp(rng.uniform(math.log(80), math.log(12_000))))
    return PNG + rng.randbytes(max(size - len(PNG), 1))


def make_archive(work, zooms):
    """The archive and what pmtiles_archive.write said of it, written once
    per zoom range (its description kept beside it)."""
    path = os.path.join(work, "country.pmtiles")
    described = os.path.join(work, "country.json")
    if os.path.exists(path) and os.path.exists(described):
        with open(described) as f:
            info = json.load(f)
        if info.get("zooms") == zooms and info.get("size") == os.path.getsize(path):
            return path, info
    info = pmtiles_archive.write(path, zooms, COUNTRY, 4096, 8, blob)
    info["zooms"] = zooms
    with open(described, "w") as f:
        json.dump(info, f)
    return path, info


def start_nginx(work, port):
    proc = bench_nginx.start(work, NGINX_HTTP.format(root=work, port=port),
                             f"http://127.0.0.1:{port}/country.pmtiles", die)
    return proc, os.path.join(work, "nginx", "access.log")


def log_figures(access_log, since):
    """(requests, bytes) of the Range requests logged after byte `since`."""
    requests = sent = 0
    with open(access_log) as f:
        f.seek(since)
        for line in f:
            status, n, rng = line.split(" ", 2)
            if rng.strip() != '"-"':
                requests += 1
                sent += int(n)
    return requests, sent


def log_size(access_log):
    return os.path.getsize(access_log) if os.path.exists(access_log) else 0


def city_tiles(zooms, city):
    w, s, e, n = (float(v) for v in city.split(","))
    return list(pmtiles_archive.tiles_of(zooms, [w, s, e, n]))


def stored(out):
    import sqlite3
    with sqlite3.connect(out) as db:
        rows = db.execute("SELECT zoom_level, tile_column, tile_row FROM tiles").fetchall()
    return {(z, x, (1 << z) - 1 - r) for z, x, r in rows}


def extract(a, url, out, interrupt=None):
    """Runs the extraction; `interrupt()` (polled) says when to send SIGINT."""
    cmd = [a.bin, "tiles", "--url", url, "--bbox", a.city, "--zoom", a.zooms, "-o", out,
           "-j", str(a.jobs), "--json", "-q"]
    begin = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if interrupt is not None:
        while p.poll() is None and not interrupt():
            time.sleep(0.001)
        p.send_signal(signal.SIGINT)
    out_text, err = p.communicate(timeout=600)
    elapsed = time.monotonic() - begin
    if interrupt is None and p.returncode != 0:
        die(f"cohort tiles exited {p.returncode}: {err}")
    return elapsed, json.loads(out_text) if out_text.strip() else {}


def report(label, requests, sent, least, elapsed, tiles):
    print(f"  {label:<22} {tiles:>7,} tiles  {requests:>6,} requests  {sent:>13,} B  "
          f"least {least:>13,} B  ({sent / least:.3f}x)  {elapsed:.2f} s")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--bin", required=True)
    p.add_argument("--work", default=os.path.join(tempfile.gettempdir(), "cohort-bench-pmtiles"))
    p.add_argument("--zooms", default="0-14")
    p.add_argument("--city", default=CITY)
    p.add_argument("-j", "--jobs", type=int, default=8)
    p.add_argument("--port", type=int, default=18480)
    a = p.parse_args()
    lo, _, hi = a.zooms.partition("-")
    zooms = list(range(int(lo), int(hi or lo) + 1))
    os.makedirs(a.work, exist_ok=True)
    begin = time.monotonic()
    archive, info = make_archive(a.work, zooms)
    print(f"archive: {info['tiles']:,} tiles, {info['size']:,} bytes, "
          f"{len(info['leaf_dirs'])} leaf directories (written in "
          f"{time.monotonic() - begin:.0f} s)")
    nginx, access_log = start_nginx(a.work, a.port)
    try:
        url = f"http://127.0.0.1:{a.port}/country.pmtiles"
        tiles = city_tiles(zooms, a.city)
        least = pmtiles_archive.least_bytes(info, tiles)
        out = os.path.join(a.work, "city.mbtiles")
        if os.path.exists(out):
            os.remove(out)
        mark = log_size(access_log)
        elapsed, summary = extract(a, url, out)
        requests, sent = log_figures(access_log, mark)
        report("whole extraction", requests, sent, least, elapsed, summary["stored"])

        os.remove(out)
        mark = log_size(access_log)
        half = mark, requests // 2
        elapsed_first, _ = extract(
            a, url, out, interrupt=lambda: log_figures(access_log, half[0])[0] >= half[1])
        have = stored(out)
        r1, s1 = log_figures(access_log, mark)
        report("SIGINT half way", r1, s1, pmtiles_archive.least_bytes(info, have),
               elapsed_first, len(have))
        mark = log_size(access_log)
        elapsed, summary = extract(a, url, out)
        r2, s2 = log_figures(access_log, mark)
        missing = [t for t in tiles if t not in have]
        report("resume", r2, s2, pmtiles_archive.least_bytes(info, missing), elapsed,
               summary["stored"])
    finally:
        nginx.send_signal(signal.SIGQUIT)
        nginx.wait()


if __name__ == "__main__":
    main()
