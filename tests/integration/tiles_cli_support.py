#!/usr/bin/env python3
"""What the end-to-end tests of `cohort tiles` share: the command line, the
tile server in a `with` block, the expected tile sets (computed here,
independently of the binary), readers of both output kinds, and the test
runner.

A test file imports it and runs `sys.exit(main())`; its command line is
  TEST.py COHORT_BINARY TILE_SERVER_PY [name-substring ...]
With COHORT_TEST_TILES_THREADS=N in the environment, every `cohort tiles`
download runs with `--threads N` (see `command`).
Prints one line per test and a final `N passed, N failed` line; exits 1 if
any test failed. Every stored tile is compared byte for byte with the
server's deterministic bytes.
"""

import gzip
import hashlib
import json
import math
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.request

if len(sys.argv) < 3:
    sys.exit(__doc__)
COHORT = os.path.abspath(sys.argv[1])
SERVER_PY = os.path.abspath(sys.argv[2])
FILTERS = sys.argv[3:]
sys.path.insert(0, os.path.dirname(SERVER_PY))

import tile_server  # noqa: E402

# A small piece of Berlin (its tiles are computed independently below).
BOX = "13.30,52.45,13.50,52.56"
ZOOMS = "10-13"
TESTS = []
TMP = tempfile.mkdtemp(prefix="tiles-cli-test-")


def test(fn):
    TESTS.append(fn)
    return fn


def check(condition, message="check failed"):
    if not condition:
        raise AssertionError(message)


def equal(actual, expected, what="value"):
    if actual != expected:
        raise AssertionError(f"{what}: expected {expected!r}, got {actual!r}")


# -- independent tile arithmetic (for expected tile sets) ---------------------


def lon_to_x(lon, z):
    return min((1 << z) - 1, int(math.floor((lon + 180.0) / 360.0 * (1 << z))))


def lat_to_y(lat, z):
    lat = max(-85.0511287798, min(85.0511287798, lat))
    r = math.radians(lat)
    y = (1.0 - math.asinh(math.tan(r)) / math.pi) / 2.0 * (1 << z)
    return min((1 << z) - 1, int(math.floor(y)))


def tiles_of(box, zooms):
    """The set of (z, x, y) a box covers (no edge exactly on a tile border)."""
    w, s, e, n = (float(v) for v in box.split(","))
    out = set()
    for z in zooms:
        ranges = [(w, e)] if w <= e else [(w, 180.0), (-180.0, e)]
        for a, b in ranges:
            for x in range(lon_to_x(a, z), lon_to_x(b, z) + 1):
                for y in range(lat_to_y(n, z), lat_to_y(s, z) + 1):
                    out.add((z, x, y))
    return out


def zoom_list(text):
    a, _, b = text.partition("-")
    return list(range(int(a), int(b or a) + 1))


EXPECTED = tiles_of(BOX, zoom_list(ZOOMS))


# -- helpers -----------------------------------------------------------------


class Server(tile_server.Running):
    """A tile server subprocess for the duration of a `with` block."""

    def __init__(self, *args):
        super().__init__("--timeout", 120, "--stop-on-stdin-eof", "--record", *args)

    def url(self, suffix="/{z}/{x}/{y}.png"):
        return f"http://127.0.0.1:{self.port}{suffix}"

    def stats(self):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/_stats", timeout=10) as r:
            return json.loads(r.read())

    def reset(self):
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}/_reset", data=b"",
                                     method="POST")
        urllib.request.urlopen(req, timeout=10).read()


def out_path(name):
    path = os.path.join(TMP, name)
    if os.path.isdir(path):
        shutil.rmtree(path)
    elif os.path.exists(path):
        os.remove(path)
    for suffix in ("-wal", "-shm", "-journal"):
        if os.path.exists(path + suffix):
            os.remove(path + suffix)
    return path


def tiles_args(server, output, *extra, url=None, box=BOX, zooms=ZOOMS):
    return ["tiles", "--bbox", box, "--zoom", zooms, "--url", url or server.url(), "-o", output,
            "--retry-delay", "0.05", *map(str, extra)]


# --threads for every download (unset: the binary's default).
THREADS = os.environ.get("COHORT_TEST_TILES_THREADS", "")


def command(args):
    """[COHORT, *args], with `--threads $COHORT_TEST_TILES_THREADS` after
    "tiles" when that is set and `args` is a download (not convert or merge)
    that does not choose its threads itself: the same tests then check the
    downloader on several loops."""
    args = [str(a) for a in args]
    if (THREADS and args[:1] == ["tiles"] and args[1:2] not in (["convert"], ["merge"])
            and "--threads" not in args):
        args = ["tiles", "--threads", THREADS, *args[1:]]
    return [COHORT, *args]


def run(args, timeout=60):
    p = subprocess.run(command(args), capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def run_json(args, timeout=60):
    code, out, err = run([*args, "--json"], timeout)
    try:
        summary = json.loads(out)
    except ValueError:
        raise AssertionError(f"no JSON on stdout (exit {code}): {out!r} {err!r}")
    return code, summary, err


def directory_tiles(path, allow_temporaries=False):
    """{(z, x, y): bytes} of a tile directory; fails on a stray file (on a
    temporary file too unless `allow_temporaries`: a killed run leaves them,
    the next run removes them)."""
    found = {}
    for root, dirs, files in os.walk(path):
        for f in files:
            full = os.path.join(root, f)
            rel = os.path.relpath(full, path).split(os.sep)
            if rel[0].startswith(".cohort-tiles.db"):
                continue
            if allow_temporaries and f.startswith(".") and ".tmp." in f:
                continue
            check(len(rel) == 3 and rel[2].endswith(".png"), f"unexpected file {full}")
            z, x, y = int(rel[0]), int(rel[1]), int(rel[2][:-4])
            with open(full, "rb") as fh:
                found[(z, x, y)] = fh.read()
    return found


def mbtiles_tiles(path):
    """{(z, x, y): bytes} of an MBTiles file, rows flipped back to XYZ."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        check(db.execute("pragma integrity_check").fetchone()[0] == "ok", "integrity_check")
        rows = db.execute("select zoom_level, tile_column, tile_row, tile_data from tiles")
        return {(z, x, (1 << z) - 1 - row): bytes(data) for z, x, row, data in rows}
    finally:
        db.close()


def stored_tiles(path):
    return mbtiles_tiles(path) if path.endswith(".mbtiles") else directory_tiles(path)


JS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "js")


def js_pmtiles_tiles(path):
    """The tiles of the PMTiles archive at `path` as the reference JS reader
    (tests/js, npm pmtiles) reads them: {(z, x, y): sha256 hex}, tiles
    gunzipped when the archive says gzip. Every archive our tests write is
    read back this way (issue 14)."""
    if not os.path.isdir(os.path.join(JS_DIR, "node_modules", "pmtiles")):
        raise AssertionError("the npm package pmtiles is not in tests/js: run scripts/setup")
    p = subprocess.run(["node", os.path.join(JS_DIR, "read_pmtiles.mjs"), path],
                       capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        raise AssertionError(f"the JS reader failed on {path}: {p.stderr}")
    seen = json.loads(p.stdout)["tiles"]
    return {tuple(int(v) for v in key.split("/")): digest for key, digest in seen.items()}


def tile_digests(tiles, gunzip=False):
    """{(z, x, y): bytes} as js_pmtiles_tiles gives it."""
    return {t: hashlib.sha256(gzip.decompress(b) if gunzip else b).hexdigest()
            for t, b in tiles.items()}


# Tile sizes of the servers of the signal tests (bigger tiles, slower runs).
SIGNAL_SIZES = ("--min-size", "2000", "--max-size", "8000")


def check_byte_exact(tiles, sizes=()):
    limits = {"min_size": int(sizes[1]), "max_size": int(sizes[3])} if sizes else {}
    for (z, x, y), data in tiles.items():
        if data != tile_server.tile_bytes(z, x, y, "png", **limits):
            raise AssertionError(f"tile {z}/{x}/{y}: {len(data)} bytes differ from the server's")


def check_complete(path, expected=EXPECTED, sizes=()):
    tiles = stored_tiles(path)
    equal(set(tiles), expected, "stored tiles")
    check_byte_exact(tiles, sizes)


def tile_path(z, x, y):
    return f"/{z}/{x}/{y}.png"


def paths_with(stats, event):
    return {path for _, path, what in stats["log"] if what == event}



# -- signals ------------------------------------------------------------------


def start(args):
    """Starts cohort and returns once it has taken charge of SIGINT (blocked
    or caught: see /proc/PID/status), so that a signal from then on is an
    interrupt, never the default death of a process still starting up."""
    p = subprocess.Popen(command(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, start_new_session=True)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and p.poll() is None:
        try:
            with open(f"/proc/{p.pid}/status") as f:
                fields = dict(line.split(":", 1) for line in f if ":" in line)
        except OSError:
            break
        mask = int(fields.get("SigBlk", "0"), 16) | int(fields.get("SigCgt", "0"), 16)
        if mask & (1 << (signal.SIGINT - 1)):
            break
        time.sleep(0.005)
    return p


def check_no_partial_files(out):
    for root, _, files in os.walk(out):
        for f in files:
            check(not (f.startswith(".") and "tmp" in f and not f.startswith(".cohort-tiles.db")),
                  f"temporary file left: {f}")



def main():
    selected = [t for t in TESTS if not FILTERS or any(f in t.__name__ for f in FILTERS)]
    passed = failed = 0
    for t in selected:
        begin = time.monotonic()
        try:
            t()
            passed += 1
            print(f"PASS {t.__name__} ({time.monotonic() - begin:.1f} s)", flush=True)
        except Exception:
            failed += 1
            print(f"FAIL {t.__name__} ({time.monotonic() - begin:.1f} s)", flush=True)
            traceback.print_exc()
    print(f"{passed} passed, {failed} failed")
    if failed == 0:
        shutil.rmtree(TMP, ignore_errors=True)
    else:
        print(f"outputs kept in {TMP}")
    return 1 if failed else 0

