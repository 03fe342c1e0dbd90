#!/usr/bin/env python3
"""`cohort tiles --url x.pmtiles`: extracting an area from a PMTiles archive
served with HTTP range requests by the test tile server (faults included),
against the least bytes possible, and resumed after a real SIGINT fetching
only what is missing. The archives come from tests/support/pmtiles_archive.py,
a writer independent of the C++ codec.

  tiles_pmtiles_source_test.py COHORT_BINARY TILE_SERVER_PY [name-substring ...]
"""

import hashlib
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time

from tiles_cli_support import (BOX, TMP, Server, check, equal, js_pmtiles_tiles, main, out_path,
                               run, run_json, start, stored_tiles, test, tile_digests, tiles_of,
                               zoom_list)

import pmtiles_archive  # noqa: E402  (next to tile_server.py, on sys.path)
import tile_server  # noqa: E402

ZOOMS = "9-14"
ARCHIVE = os.path.join(TMP, "region.pmtiles")
# A region around BOX, zooms 0-14, leaf directories of 64 entries, every 7th
# tile an "ocean" tile stored once.
INFO = pmtiles_archive.write(ARCHIVE, list(range(0, 15)), [13.1, 52.35, 13.7, 52.65], 64, 7)


def expected_bytes(z, x, y):
    ocean = pmtiles_archive.tile_id(z, x, y) % 7 == 0
    return tile_server.tile_bytes(0, 0, 0) if ocean else tile_server.tile_bytes(z, x, y)


def least_bytes(tiles):
    return pmtiles_archive.least_bytes(INFO, tiles)


def args(server, out, *extra):
    return ["tiles", "--bbox", BOX, "--zoom", ZOOMS, "--url",
            server.url("/" + os.path.basename(ARCHIVE)), "-o", out, "--retry-delay", "0.05",
            *map(str, extra)]


def check_extracted(out, tiles):
    stored = stored_tiles(out)
    equal(set(stored), set(tiles), "tiles stored")
    for t, data in stored.items():
        check(data == expected_bytes(*t), f"tile {t} differs from the archive's bytes")


def wait_until(condition, timeout=20):
    deadline = time.monotonic() + timeout
    while not condition():
        check(time.monotonic() < deadline, "timed out")
        time.sleep(0.01)


TILES = tiles_of(BOX, zoom_list(ZOOMS))


@test
def extracts_the_area_byte_exact_within_1_2_times_the_least_bytes():
    for out in (out_path("area"), out_path("area.mbtiles")):
        with Server("--archive", ARCHIVE) as s:
            code, summary, err = run_json(args(s, out, "-j", 4))
            equal(code, 0, f"exit status ({err})")
            equal(summary["stored"], len(TILES), "tiles stored")
            check_extracted(out, TILES)
            stats = s.stats()
            least = least_bytes(TILES)
            check(stats["bytes_sent"] <= 1.2 * least,
                  f"{stats['bytes_sent']} bytes sent, least possible {least}")
            check(stats["range_requests"] < len(TILES) / 2,
                  f"{stats['range_requests']} range requests for {len(TILES)} tiles")
            # Run again: nothing left to fetch but the index.
            s.reset()
            code, summary, err = run_json(args(s, out))
            equal((code, summary["stored"], summary["skipped"]), (0, 0, len(TILES)), err)
            check(s.stats()["bytes_sent"] <= 16384 + sum(d[2] for d in INFO["leaf_dirs"]),
                  "a finished extraction fetched tile bytes again")


@test
def survives_503_retry_after_resets_and_truncated_ranges():
    with Server("--archive", ARCHIVE, "--unavailable-rate", "0.1", "--retry-after", "1",
                "--reset-rate", "0.1", "--truncate-rate", "0.1", "--seed", "3") as s:
        out = out_path("faults.mbtiles")
        code, summary, err = run_json(args(s, out, "-j", 3, "--retries", 8))
        equal(code, 0, f"exit status ({err})")
        check_extracted(out, TILES)
        status = s.stats()["status"]
        check(status.get("503", 0) > 0, f"no 503 injected: {status}")


@test
def sigint_mid_extraction_then_resume_fetches_only_what_is_missing():
    out = out_path("sigint.mbtiles")
    with Server("--archive", ARCHIVE) as s:
        p = start(args(s, out, "-j", 1, "--rate", 8, "--json"))
        wait_until(lambda: s.stats()["status"].get("206", 0) >= 12)
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=30)
        equal(p.returncode, -signal.SIGINT, f"ended by the SIGINT ({err})")
        have = set(stored_tiles(out))
        check(0 < len(have) < len(TILES), f"{len(have)} of {len(TILES)} stored at the SIGINT")
        s.reset()
        code, summary, err = run_json(args(s, out, "-j", 2))
        equal(code, 0, f"exit status ({err})")
        equal(summary["skipped"], len(have), "tiles skipped")
        check_extracted(out, TILES)
        missing = [t for t in TILES if t not in have]
        sent = s.stats()["bytes_sent"]
        least = least_bytes(missing)
        check(sent <= 1.2 * least, f"resume sent {sent} bytes, least possible {least}")


def pbf_directory_tiles(path):
    found = {}
    for root, _, files in os.walk(path):
        for f in files:
            if f.startswith("."):
                continue
            check(f.endswith(".pbf"), f"not a .pbf file: {f}")
            z, x = (int(v) for v in os.path.relpath(root, path).split(os.sep))
            with open(os.path.join(root, f), "rb") as fh:
                found[(z, x, int(f[:-4]))] = fh.read()
    return found


@test
def vector_tiles_keep_their_gzip_bytes_and_the_archives_format():
    mvt = os.path.join(TMP, "vector.pmtiles")
    pmtiles_archive.write(mvt, [12, 13], [13.2, 52.4, 13.6, 52.6], 0, 0, fmt="pbf-gzip")
    tiles = tiles_of(BOX, zoom_list("12-13"))
    for out in (out_path("vector"), out_path("vector.mbtiles")):
        code, summary, err = run_json(["tiles", "--bbox", BOX, "--zoom", "12-13", "--url", mvt,
                                       "-o", out])
        equal(code, 0, f"exit status ({err})")
        stored = stored_tiles(out) if out.endswith(".mbtiles") else pbf_directory_tiles(out)
        equal(set(stored), set(tiles), "tiles stored")
        for t, data in stored.items():
            check(data == tile_server.tile_bytes(*t, "pbf-gzip"), f"tile {t} not as archived")
            check(data[:2] == b"\x1f\x8b", f"tile {t} not gzipped")
        if out.endswith(".mbtiles"):
            with sqlite3.connect(out) as db:
                fmt = db.execute("SELECT value FROM metadata WHERE name = 'format'").fetchone()
            equal(fmt, ("pbf",), "MBTiles format from the archive's tile type")


@test
def pmtiles_to_pmtiles_keeps_the_tile_bytes_and_the_tile_type():
    mvt = os.path.join(TMP, "vector2.pmtiles")
    pmtiles_archive.write(mvt, [12, 13], [13.2, 52.4, 13.6, 52.6], 0, 0, fmt="pbf-gzip")
    tiles = tiles_of(BOX, zoom_list("12-13"))
    out = out_path("extract.pmtiles")
    code, summary, err = run_json(["tiles", "--bbox", BOX, "--zoom", "12-13", "--url", mvt,
                                   "-o", out])
    equal(code, 0, f"exit status ({err})")
    with open(out, "rb") as f:
        header = f.read(127)
    equal(header[:7], b"PMTiles", "magic")
    equal((header[99], header[98]), (1, 2), "tile type MVT, tile compression gzip")
    back = out_path("extract-back")
    code, _, err = run(["tiles", "convert", out, back])
    equal(code, 0, f"convert exit status ({err})")
    stored = pbf_directory_tiles(back)
    equal(set(stored), set(tiles), "tiles in the extracted archive")
    for t, data in stored.items():
        check(data == tile_server.tile_bytes(*t, "pbf-gzip"), f"tile {t} not as archived")
    equal(js_pmtiles_tiles(out), tile_digests(stored, gunzip=True),
          "the extracted archive as the reference JS reader reads it")


JS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "js")


@test
def the_test_archives_read_back_in_the_reference_reader():
    # The archives these tests extract from come from a writer of our own
    # (pmtiles_archive.py): the protomaps JS reader must read them as we do.
    if not (shutil.which("node") and os.path.isdir(os.path.join(JS_DIR, "node_modules", "pmtiles"))):
        print("SKIP node or the npm package pmtiles is missing (scripts/setup installs them)")
        return
    p = subprocess.run(["node", os.path.join(JS_DIR, "read_pmtiles.mjs"), ARCHIVE],
                       capture_output=True, text=True, timeout=60)
    equal(p.returncode, 0, f"the JS reader failed: {p.stderr}")
    seen = json.loads(p.stdout)
    check(seen["directories"] > 1, "the archive has leaf directories")
    equal(seen["header"]["numAddressedTiles"], INFO["tiles"], "addressed tiles")
    for key, digest in seen["tiles"].items():
        z, x, y = (int(v) for v in key.split("/"))
        equal(digest, hashlib.sha256(expected_bytes(z, x, y)).hexdigest(), f"tile {key}")
    equal(len(seen["tiles"]), INFO["tiles"], "tiles the JS reader finds")


NGINX_CONF = """daemon off;
master_process off;
pid {ng}/nginx.pid;
error_log {ng}/error.log warn;
events {{ worker_connections 256; }}
http {{
    default_type application/octet-stream;
    client_body_temp_path {ng}/body;
    proxy_temp_path {ng}/proxy;
    fastcgi_temp_path {ng}/fastcgi;
    uwsgi_temp_path {ng}/uwsgi;
    scgi_temp_path {ng}/scgi;
    log_format ranges '$status $body_bytes_sent "$http_range"';
    access_log {ng}/access.log ranges;
    server {{ listen 127.0.0.1:{port}; root {root}; }}
}}
"""


class Nginx:
    """nginx on loopback serving TMP (the archive), as the benchmark runs it."""

    def __enter__(self):
        self.ng = os.path.join(TMP, "nginx")
        os.makedirs(self.ng, exist_ok=True)
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        conf = os.path.join(self.ng, "nginx.conf")
        with open(conf, "w") as f:
            f.write(NGINX_CONF.format(ng=self.ng, root=TMP, port=self.port))
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        self.process = subprocess.Popen([nginx, "-e", os.path.join(self.ng, "error.log"),
                                         "-c", conf])
        wait_until(lambda: self._answers())
        return self

    def _answers(self):
        check(self.process.poll() is None, "nginx exited; see its error.log")
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
            return True
        except OSError:
            return False

    def __exit__(self, *exc):
        self.process.terminate()
        self.process.wait(timeout=10)

    def url(self, suffix):
        return f"http://127.0.0.1:{self.port}{suffix}"

    def figures(self):
        """(range requests, body bytes sent) so far."""
        requests = sent = 0
        with open(os.path.join(self.ng, "access.log")) as f:
            for line in f:
                status, n, rng = line.split(" ", 2)
                if rng.strip() != '"-"':
                    requests += 1
                    sent += int(n)
        return requests, sent


@test
def nginx_range_requests_then_sigint_and_resume():
    if not (shutil.which("nginx") or os.path.exists("/usr/sbin/nginx")):
        print("SKIP nginx is not installed (scripts/setup nginx-light)")
        return
    out = out_path("nginx.mbtiles")
    with Nginx() as n:
        p = start(args(n, out, "-j", 1, "--rate", 8))
        wait_until(lambda: n.figures()[0] >= 12)
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=30)
        equal(p.returncode, -signal.SIGINT, f"ended by the SIGINT ({err})")
        have = set(stored_tiles(out))
        check(0 < len(have) < len(TILES), f"{len(have)} of {len(TILES)} stored at the SIGINT")
        before = n.figures()[1]
        code, summary, err = run_json(args(n, out, "-j", 4))
        equal(code, 0, f"exit status ({err})")
        check_extracted(out, TILES)
        sent = n.figures()[1] - before
        least = least_bytes([t for t in TILES if t not in have])
        check(sent <= 1.2 * least, f"resume sent {sent} bytes, least possible {least}")


if __name__ == "__main__":
    sys.exit(main())
