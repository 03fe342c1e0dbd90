#!/usr/bin/env python3
"""End-to-end tests of `cohort tiles` (issue 6) on the real binary against
tests/support/tile_server.py on loopback.

Run: python3 tests/integration/tiles_cli_test.py COHORT_BINARY TILE_SERVER_PY [name-substring ...]
Prints one line per test and a final `N passed, N failed` line; exits 1 if
any test failed. Every stored tile is compared byte for byte with the
server's deterministic bytes.
"""

import json
import math
import os
import random
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


class Server:
    """A tile server subprocess for the duration of a `with` block."""

    def __init__(self, *args):
        self.args = ["--timeout", "120", "--stop-on-stdin-eof", "--record", *map(str, args)]

    def __enter__(self):
        self.process, self.port = tile_server.spawn(*self.args)
        return self

    def __exit__(self, *exc):
        if self.process.poll() is None:
            self.process.terminate()
        self.process.wait(timeout=10)
        self.process.stdin.close()
        self.process.stdout.close()

    def url(self, suffix="/{z}/{x}/{y}.png"):
        return f"http://127.0.0.1:{self.port}{suffix}"

    def stats(self):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/_stats", timeout=10) as r:
            return json.loads(r.read())

    def reset(self):
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}/_reset", data=b"", method="POST")
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


def run(args, timeout=60):
    p = subprocess.run([COHORT, *args], capture_output=True, text=True, timeout=timeout)
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


# -- 1. input ------------------------------------------------------------------


@test
def dry_run_prints_tiles_per_zoom():
    code, out, err = run(["tiles", "--bbox", BOX, "--zoom", ZOOMS, "--url",
                          "http://h/{z}/{x}/{y}.png", "--dry-run"])
    equal(code, 0, "exit")
    for z in zoom_list(ZOOMS):
        n = sum(1 for t in EXPECTED if t[0] == z)
        check(f"zoom {z:2}: {n} tiles" in out, f"zoom {z} line in {out!r}")
    check(f"total: {len(EXPECTED)} tiles" in out, out)
    # Two boxes, one of them crossing the antimeridian (Fiji), counted once each tile.
    fiji = "177.1,-19.1,-178.1,-16.1"
    code, out, err = run(["tiles", "--bbox", fiji, "--bbox", fiji, "--zoom", "5-7", "--url",
                          "http://h/{z}/{x}/{y}.png", "--dry-run", "--json"])
    equal(code, 0, "exit")
    summary = json.loads(out)
    expected = tiles_of(fiji, [5, 6, 7])
    equal(summary["total"], len(expected), "antimeridian total")
    equal(summary["zooms"]["6"], sum(1 for t in expected if t[0] == 6), "zoom 6")
    at6 = {x for z, x, _ in expected if z == 6}
    check(0 in at6 and 63 in at6, f"both sides of the antimeridian at zoom 6: {sorted(at6)}")


@test
def malformed_input_is_one_line_and_exit_2():
    base = ["tiles", "--bbox", BOX, "-o", out_path("never")]
    base_ok = [*base, "--zoom", "3"]
    cases = [
        (["tiles", "--bbox", "1,2,3", "--zoom", "3", "--url", "http://h/{z}/{x}/{y}.png",
          "-o", "x"], "--bbox"),
        (["tiles", "--bbox", "10,60,20,50", "--zoom", "3", "--url", "http://h/{z}/{x}/{y}.png",
          "-o", "x"], "--bbox"),
        ([*base, "--url", "http://h/{z}/{x}/{y}.png", "--zoom", "29-31"], "31"),
        ([*base_ok, "--url", "http://h/{z}/{x}/{w}.png"], "{w}"),
        ([*base_ok, "--url", "http://h/{z}/{x}.png"], "y"),
        ([*base_ok, "--url", "ftp://h/{z}/{x}/{y}.png"], "http"),
        ([*base_ok, "--url", "http://h/{z}/{x}/{y}.png", "--header", "nocolon"], "--header"),
        ([*base_ok, "--url", "http://h/{z}/{x}/{y}.png", "--max-tile-bytes", "lots"], "--max-tile"),
        ([*base_ok, "--url", "http://h/{z}/{x}/{y}.png", "-j", "0"], "concurrency"),
        ([*base_ok, "--url", "http://h/{z}/{x}/{y}.png", "--no-such-flag"], "no-such-flag"),
        (["tiles", "--zoom", "3", "--url", "http://h/{z}/{x}/{y}.png", "-o", "x"], "--bbox"),
        (["tiles", "--bbox", BOX, "--zoom", "3", "--url", "http://h/{z}/{x}/{y}.png"], "output"),
    ]
    for args, word in cases:
        code, out, err = run(args)
        equal(code, 2, f"exit of {args}")
        lines = err.strip().splitlines()
        equal(len(lines), 1, f"stderr lines of {args}: {err!r}")
        check(word in lines[0], f"{word!r} not in {lines[0]!r}")
    check(not os.path.exists(os.path.join(TMP, "never")), "a usage error created the output")


# -- 2-4. download, validation, outputs ---------------------------------------


@test
def unreachable_server_stops_at_once_with_one_line():
    # Nothing listens on the port of a server that was stopped; a host that
    # does not resolve. Either stops the run within seconds, not after every
    # tile's retries, with exit 1 and a --json summary saying "stopped".
    with Server() as s:
        dead = s.url()
    for url in (dead, "http://nonexistent.invalid/{z}/{x}/{y}.png"):
        out = out_path("unreachable")
        t = time.monotonic()
        code, summary, err = run_json(tiles_args(None, out, url=url), timeout=60)
        check(code == 1, f"{url}: exit {code}: {err}")
        check(time.monotonic() - t < 20, f"{url}: took {time.monotonic() - t:.1f} s")
        check(summary["outcome"] == "stopped" and summary["stored"] == 0, f"{summary}")
        lines = [l for l in err.splitlines() if "cannot reach" in l]
        check(len(lines) == 1 and "check --url" in lines[0], f"stderr: {err!r}")
        shutil.rmtree(out, ignore_errors=True)


@test
def directory_output_is_byte_exact_and_json_summary():
    with Server() as s:
        out = out_path("dir")
        code, summary, err = run_json(tiles_args(s, out, "-j", 8))
        equal(code, 0, f"exit ({err})")
        for key in ("total", "stored", "skipped", "failed", "missing", "bytes", "elapsed_s",
                    "tiles_per_s", "outcome", "output"):
            check(key in summary, f"{key} in {summary}")
        equal(summary["total"], len(EXPECTED), "total")
        equal(summary["stored"], len(EXPECTED), "stored")
        equal(summary["outcome"], "complete", "outcome")
        equal(summary["output"], out, "output")
        check_complete(out)
        tiles = directory_tiles(out)
        equal(summary["bytes"], sum(len(b) for b in tiles.values()), "bytes")
        check("tiles: " in err and "stored" in err, f"summary line in {err!r}")
        stats = s.stats()
        check(max(stats["paths"].values()) == 1, "a tile was fetched twice")
        # 8 workers, kept alive (+1: this test's own /_stats request).
        check(stats["connections"] <= 9, f"keep-alive: {stats['connections']} connections")
        # Nothing left to do: everything is skipped, no request is made.
        s.reset()
        code, summary, err = run_json(tiles_args(s, out, "-j", 8, "--quiet"))
        equal(code, 0, "exit")
        equal((summary["skipped"], summary["stored"]), (len(EXPECTED), 0), "second run")
        equal(s.stats()["requests"], 0, "requests of a complete output")
        equal(err, "", "stderr with --quiet")


@test
def mbtiles_output_flips_rows_has_metadata_and_opens_in_gdal():
    with Server("--tms") as s:
        # The server reads y as a TMS row: {-y} must give it the flipped row.
        out = out_path("city.mbtiles")
        code, summary, err = run_json(tiles_args(s, out, url=s.url("/{z}/{x}/{-y}.png")))
        equal(code, 0, f"exit ({err})")
        check_complete(out)
        db = sqlite3.connect(out)
        meta = dict(db.execute("select name, value from metadata"))
        db.close()
        for key in ("name", "format", "bounds", "center", "minzoom", "maxzoom"):
            check(key in meta, f"metadata {key} in {meta}")
        equal(meta["format"], "png", "format")
        equal((meta["minzoom"], meta["maxzoom"]), ("10", "13"), "zooms")
        bounds = [float(v) for v in meta["bounds"].split(",")]
        check(abs(bounds[0] - 13.30) < 1e-6 and abs(bounds[3] - 52.56) < 1e-6, meta["bounds"])
        check(not os.path.exists(out + "-wal"), "WAL left after a clean close")
        if shutil.which("gdalinfo"):
            p = subprocess.run(["gdalinfo", out], capture_output=True, text=True, timeout=60)
            equal(p.returncode, 0, f"gdalinfo: {p.stderr}")
            check("MBTiles" in p.stdout, p.stdout[:200])
        else:
            print("  (gdalinfo not installed: skipped that check)")


@test
def user_agent_and_headers_are_sent():
    with Server("--count-header", "User-Agent", "--count-header", "X-Api-Key") as s:
        out = out_path("headers")
        code, _, err = run(tiles_args(s, out, zooms="10"))
        equal(code, 0, err)
        n = len(tiles_of(BOX, [10]))
        _, version, _ = run(["--version"])
        default = "cohort/" + version.split()[-1]
        equal(s.stats()["headers"]["User-Agent"], {default: n}, "default User-Agent")
        s.reset()
        out = out_path("headers")
        code, _, err = run(tiles_args(s, out, "--user-agent", "demo/1 (me@example.org)",
                                      "--header", "X-Api-Key: k1", zooms="10"))
        equal(code, 0, err)
        headers = s.stats()["headers"]
        equal(headers["User-Agent"], {"demo/1 (me@example.org)": n}, "User-Agent")
        equal(headers["X-Api-Key"], {"k1": n}, "--header")


@test
def quadkey_and_subdomain_templates_and_fsync():
    with Server() as s:
        out = out_path("q")
        code, summary, err = run_json(tiles_args(s, out, url=s.url("/q/{q}.png"), zooms="12"))
        equal(code, 0, f"exit ({err})")
        check_complete(out, tiles_of(BOX, [12]))
        out = out_path("s")
        code, summary, err = run_json(tiles_args(s, out, "--subdomains", "a,b", "--fsync",
                                                 url=s.url("/{s}/{z}/{x}/{y}.png"), zooms="12"))
        equal(code, 0, f"exit ({err})")
        check_complete(out, tiles_of(BOX, [12]))
        prefixes = {p.split("/")[1] for p in s.stats()["paths"] if not p.startswith("/q/")}
        equal(prefixes, {"a", "b"}, "subdomains used")


@test
def missing_tiles_are_recorded_not_retried_and_strict_fails():
    with Server("--missing-rate", "0.2", "--empty-rate", "0.1") as s:
        out = out_path("missing")
        code, summary, err = run_json(tiles_args(s, out))
        equal(code, 0, f"exit ({err})")
        stats = s.stats()
        check(paths_with(stats, "404") and paths_with(stats, "204"), "no 404 or no 204")
        missing = paths_with(stats, "404") | paths_with(stats, "204")
        for path in missing:
            equal(stats["paths"][path], 1, f"requests of missing {path}")
        equal(summary["missing"], len(missing), "missing")
        expected = {t for t in EXPECTED if tile_path(*t) not in missing}
        check_complete(out, expected)
        # --strict: the same output, missing tiles known: exit 1, nothing fetched again.
        s.reset()
        code, summary, err = run_json(tiles_args(s, out, "--strict"))
        equal(code, 1, "exit with --strict")
        equal(summary["outcome"], "failed", "outcome")
        equal(s.stats()["requests"], 0, "requests on the re-run")


@test
def refused_tiles_fail_at_once_without_retries():
    with Server("--refuse-rate", "0.2", "--seed", "5") as s:
        out = out_path("refused")
        code, summary, err = run_json(tiles_args(s, out))
        equal(code, 1, f"exit ({err})")
        stats = s.stats()
        refused = paths_with(stats, "403")
        check(refused, "the server sent no 403")
        equal(summary["failed"], len(refused), "failed")
        for path in refused:
            equal(stats["paths"][path], 1, f"requests of refused {path}")
        check("HTTP status 403 (not retried)" in err, err)
        check_complete(out, {t for t in EXPECTED if tile_path(*t) not in refused})


@test
def server_errors_are_retried():
    with Server("--fail-first", "2", "--fail-rate", "0.2", "--seed", "7") as s:
        out = out_path("retry")
        code, summary, err = run_json(tiles_args(s, out, "--retries", "8", "-j", 6))
        equal(code, 0, f"exit ({err})")
        check_complete(out)
        stats = s.stats()
        check(min(stats["paths"].values()) == 3, "every tile needed its 3rd attempt")
        check(stats["status"].get("500", 0) + stats["status"].get("503", 0) >= 2 * len(EXPECTED),
              str(stats["status"]))


@test
def retry_after_pauses_the_host_for_every_worker():
    with Server("--rate-limit-rate", "0.08", "--retry-after", "1", "--seed", "3") as s:
        out = out_path("retry-after")
        code, summary, err = run_json(tiles_args(s, out, "--retries", "8", "-j", 4))
        equal(code, 0, f"exit ({err})")
        check_complete(out)
        log = s.stats()["log"]
        limited = [t for t, _, what in log if what == "429"]
        check(limited, "the server sent no 429")
        # After a 429, no request at all arrives while the pause lasts
        # (requests already on their way may arrive in the first instants).
        first = limited[0]
        during = [p for t, p, what in log if what == "request" and first + 0.15 < t < first + 0.9]
        equal(during, [], "requests during the Retry-After pause")


@test
def rate_limits_requests_per_host():
    with Server() as s:
        out = out_path("rate")
        start = time.monotonic()
        code, summary, err = run_json(tiles_args(s, out, "--rate", "20", "-j", 8, zooms="12"))
        equal(code, 0, f"exit ({err})")
        times = sorted(t for t, _, what in s.stats()["log"] if what == "request")
        n = len(tiles_of(BOX, [12]))
        equal(len(times), n, "requests")
        span = times[-1] - times[0]
        check(span >= (n - 1) / 20 * 0.9, f"{n} requests in {span:.2f} s at --rate 20")
        check(time.monotonic() - start < 30, "too slow")


@test
def network_faults_and_bad_bodies_are_retried_then_stored_exact():
    with Server("--reset-rate", "0.1", "--truncate-rate", "0.1", "--wrong-type-rate", "0.1",
                "--seed", "11") as s:
        out = out_path("faults.mbtiles")
        code, summary, err = run_json(tiles_args(s, out, "--retries", "10", "-j", 6))
        equal(code, 0, f"exit ({err})")
        check_complete(out)
        status = s.stats()["status"]
        check(status.get("reset") and status.get("truncated"), str(status))


@test
def faults_that_never_end_fail_and_are_never_stored():
    for fault, extra in (("--reset-rate", []), ("--truncate-rate", []),
                         ("--wrong-type-rate", []),
                         ("--stall-rate", ["--stall-seconds", "4"])):
        with Server(fault, "1") as s:
            out = out_path("never-ok")
            args = tiles_args(s, out, "--retries", "1", "--stall-timeout", "1", zooms="10")
            start = time.monotonic()
            code, summary, err = run_json(args)
            equal(code, 1, f"exit with {fault} ({err})")
            n = len(tiles_of(BOX, [10]))
            equal((summary["failed"], summary["stored"]), (n, 0), f"{fault}: failed, stored")
            equal(directory_tiles(out), {}, f"{fault}: stored tiles")
            check("failed 10/" in err, f"failed tiles listed: {err!r}")
            for path, count in s.stats()["paths"].items():
                equal(count, 2, f"{fault}: attempts of {path}")
            if fault == "--stall-rate":
                check(time.monotonic() - start < 4 * 2 * n, "stalls were not cut short")


@test
def oversized_tiles_fail():
    with Server("--min-size", "5000", "--max-size", "6000") as s:
        out = out_path("big")
        code, summary, err = run_json(tiles_args(s, out, "--retries", "0",
                                                 "--max-tile-bytes", "4k", zooms="10"))
        equal(code, 1, f"exit ({err})")
        equal(summary["stored"], 0, "stored")


@test
def a_store_error_stops_the_run_with_one_line():
    with Server("--fail-first", "1") as s:
        out = out_path("unwritable")
        # A first run makes the output and stores nothing (every first attempt fails).
        code, _, err = run(tiles_args(s, out, "-j", 2, "--retries", "0", zooms="12"))
        equal(code, 1, f"first run ({err})")
        with open(os.path.join(out, "12"), "w") as f:  # where directory 12/ must go
            f.write("not a directory\n")
        before = s.stats()["requests"]  # (no reset: it would restart --fail-first)
        code, _, err = run(tiles_args(s, out, "-j", 2, "--retries", "0", zooms="12"))
        equal(code, 1, f"exit ({err})")
        lines = [l for l in err.splitlines() if l.startswith("cohort tiles: stopped:")]
        equal(len(lines), 1, f"the error line in {err!r}")
        check("12" in lines[0], lines[0])
        check(s.stats()["requests"] - before <= 4, "the run went on after the store failed")


# -- 5. resume -----------------------------------------------------------------


@test
def fingerprint_mismatch_is_refused_unless_force():
    with Server() as s:
        out = out_path("fp.mbtiles")
        code, _, err = run(tiles_args(s, out, zooms="10"))
        equal(code, 0, err)
        other = s.url("/v2/{z}/{x}/{y}.png")
        code, _, err = run(tiles_args(s, out, url=other, zooms="10"))
        equal(code, 2, "exit of a mismatch")
        check("--force" in err and "template" in err, err)
        code, _, err = run(tiles_args(s, out, zooms="10-11"))
        equal(code, 2, "exit of other zooms")
        code, summary, err = run_json(tiles_args(s, out, "--force", url=other, zooms="10"))
        equal(code, 0, err)
        equal(summary["stored"], len(tiles_of(BOX, [10])), "stored after --force")


@test
def failed_tiles_are_retried_by_the_next_run():
    with Server("--fail-first", "1") as s:
        out = out_path("failed-list.mbtiles")
        code, summary, err = run_json(tiles_args(s, out, "--retries", "0", zooms="10-11"))
        equal(code, 1, "first run")
        n = len(tiles_of(BOX, [10, 11]))
        equal(summary["failed"], n, "failed")
        db = sqlite3.connect(out)
        names = [r[0] for r in db.execute("select name from sqlite_master where type='table'")]
        db.close()
        check(names, "tables")
        code, summary, err = run_json(tiles_args(s, out, "--retries", "0", zooms="10-11"))
        equal(code, 0, f"second run ({err})")
        check(f"trying again {n} tiles that failed before" in err, err)
        equal(summary["stored"], n, "stored on the second run")
        check_complete(out, tiles_of(BOX, [10, 11]))


@test
def refresh_revalidates_with_etag():
    with Server() as s:
        out = out_path("refresh")
        code, _, err = run(tiles_args(s, out, zooms="11-12"))
        equal(code, 0, err)
        s.reset()
        code, summary, err = run_json(tiles_args(s, out, "--refresh", zooms="11-12"))
        equal(code, 0, err)
        n = len(tiles_of(BOX, [11, 12]))
        equal((summary["unchanged"], summary["stored"]), (n, 0), "unchanged, stored")
        stats = s.stats()
        equal(stats["status"].get("304"), n, "304 answers")
        equal(stats["bytes_sent"], 0, "bytes sent")
        check_complete(out, tiles_of(BOX, [11, 12]))


# -- 7. signals ------------------------------------------------------------------


def start(args):
    """Starts cohort and returns once it has taken charge of SIGINT (blocked
    or caught: see /proc/PID/status), so that a signal from then on is an
    interrupt, never the default death of a process still starting up."""
    p = subprocess.Popen([COHORT, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
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


def interrupt_and_resume(out, sig, iterations, rng, box, zooms):
    """Runs the download, interrupting it with `sig` at random moments, until
    complete; checks after each interrupt that the output is consistent and
    that the next run fetches no tile that was stored."""
    expected = tiles_of(box, zoom_list(zooms))
    interrupted = 0
    with Server(*SIGNAL_SIZES) as s:
        for i in range(iterations + 20):
            s.reset()
            before = stored_tiles(out) if os.path.exists(out) else {}
            check_byte_exact(before, SIGNAL_SIZES)
            args = tiles_args(s, out, "-j", 2, "--rate", "150", box=box, zooms=zooms)
            p = start(args)
            if i < iterations:
                time.sleep(rng.uniform(0.05, 0.6))
                p.send_signal(sig)
            out_text, err = p.communicate(timeout=30)
            fetched = {tuple(int(v) for v in path[1:-4].split("/"))
                       for path in s.stats()["paths"]}
            again = fetched & set(before)
            equal(again, set(), "stored tiles fetched again")
            if p.returncode == 0:
                check_complete(out, expected, SIGNAL_SIZES)
                return interrupted
            interrupted += 1
            if sig == signal.SIGKILL:
                equal(p.returncode, -signal.SIGKILL, "exit")
            else:
                equal(p.returncode, 128 + sig, f"exit after {sig.name}: {err}")
                check("resume with: cohort tiles" in err, f"resume hint: {err!r}")
            if not out.endswith(".mbtiles"):
                check_no_partial_files(out)
    raise AssertionError("never completed")


@test
def sigint_at_random_moments_then_resume_fetches_nothing_twice():
    rng = random.Random(int(os.environ.get("TILES_TEST_SEED", "1")))
    for out in (out_path("sigint.mbtiles"), out_path("sigint-dir")):
        n = interrupt_and_resume(out, signal.SIGINT, 4, rng, BOX, "11-14")
        check(n >= 2, f"only {n} interrupts landed before the end")


@test
def sigterm_exits_143():
    rng = random.Random(2)
    interrupt_and_resume(out_path("sigterm.mbtiles"), signal.SIGTERM, 1, rng, BOX, "11-14")


@test
def kill_9_at_random_moments_then_rerun_completes():
    rng = random.Random(3)
    expected = tiles_of(BOX, [11, 12, 13, 14])
    for out, kills in ((out_path("kill9.mbtiles"), 4), (out_path("kill9-dir"), 3)):
        with Server(*SIGNAL_SIZES) as s:
            for i in range(kills):
                p = start(tiles_args(s, out, "-j", 4, "--rate", "150", zooms="11-14"))
                time.sleep(rng.uniform(0.1, 0.8))
                os.killpg(p.pid, signal.SIGKILL)
                p.communicate(timeout=30)
                if out.endswith(".mbtiles") and os.path.exists(out):
                    check_byte_exact(mbtiles_tiles(out), SIGNAL_SIZES)
                elif os.path.exists(out):
                    check_byte_exact(directory_tiles(out, allow_temporaries=True), SIGNAL_SIZES)
            code, summary, err = run_json(tiles_args(s, out, "-j", 4, zooms="11-14"))
            equal(code, 0, err)
            check_complete(out, expected, SIGNAL_SIZES)  # no temporary file left either


@test
def second_sigint_stops_now_and_output_stays_consistent():
    with Server("--stall-rate", "0.2", "--stall-seconds", "3") as s:
        out = out_path("twice")
        p = start(tiles_args(s, out, "-j", 4, zooms="11-13"))
        time.sleep(0.8)
        p.send_signal(signal.SIGINT)
        time.sleep(0.05)
        p.send_signal(signal.SIGINT)
        begin = time.monotonic()
        _, err = p.communicate(timeout=30)
        equal(p.returncode, 130, f"exit: {err}")
        check(time.monotonic() - begin < 2.5, "the second SIGINT did not stop it at once")
        check_no_partial_files(out)
        check_byte_exact(directory_tiles(out))
        code, summary, err = run_json(tiles_args(s, out, "-j", 16, "--stall-timeout", "1",
                                                 "--retries", "10", zooms="11-13"))
        equal(code, 0, err)
        check_complete(out, tiles_of(BOX, [11, 12, 13]))


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


if __name__ == "__main__":
    sys.exit(main())
