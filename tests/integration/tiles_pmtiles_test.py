#!/usr/bin/env python3
"""PMTiles output and `cohort tiles convert`, end to end, checked with the
reference reader: every archive written here is opened by the protomaps JS
reader (the npm package pmtiles, installed into tests/js by scripts/setup),
which must read every tile back byte-exact and report the header and
metadata we expect.

  tiles_pmtiles_test.py COHORT_BINARY TILE_SERVER_PY [name-substring ...]
"""

import gzip
import hashlib
import json
import os
import signal
import sqlite3
import struct
import subprocess
import time

from tiles_cli_support import (BOX, COHORT, EXPECTED, SIGNAL_SIZES, TMP, ZOOMS, Server, check,
                               check_byte_exact, equal, main, out_path, run, start, stored_tiles,
                               test, tile_server, tiles_args, tiles_of, zoom_list)

JS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "js")
READER = os.path.join(JS_DIR, "read_pmtiles.mjs")


def js_read(path):
    """What the reference reader sees in the archive at `path`."""
    if not os.path.isdir(os.path.join(JS_DIR, "node_modules", "pmtiles")):
        raise AssertionError("the npm package pmtiles is not in tests/js: run scripts/setup")
    p = subprocess.run(["node", READER, path], capture_output=True, text=True, timeout=60)
    check(p.returncode == 0, f"the JS reader failed on {path}: {p.stderr}")
    return json.loads(p.stdout)


def sha(data):
    return hashlib.sha256(data).hexdigest()


def check_js_reads(path, tiles, decompress=False):
    """The JS reader finds exactly `tiles` ({(z, x, y): bytes}) in the
    archive, byte-exact (gunzipped first when the archive says gzip), and a
    header whose counts, zooms and layout are right. Returns what it saw."""
    seen = js_read(path)
    h = seen["header"]
    expected = {f"{z}/{x}/{y}": sha(gzip.decompress(b) if decompress else b)
                for (z, x, y), b in tiles.items()}
    equal(sorted(set(seen["tiles"]) ^ set(expected))[:5], [], "tiles only one side has (JS, ours)")
    for key, digest in expected.items():
        equal(seen["tiles"][key], digest, f"tile {key} as the JS reader reads it")
    equal(h["specVersion"], 3, "version")
    equal(h["numAddressedTiles"], len(tiles), "addressed tiles")
    equal(h["numTileContents"], len(set(tiles.values())), "tile contents (deduplicated)")
    check(0 < h["numTileEntries"] <= len(tiles), f"tile entries {h['numTileEntries']}")
    equal(h["clustered"], True, "clustered")
    equal(h["internalCompression"], 2, "internal compression gzip")
    equal(h["minZoom"], min(z for z, _, _ in tiles), "min zoom")
    equal(h["maxZoom"], max(z for z, _, _ in tiles), "max zoom")
    check(h["rootDirectoryOffset"] + h["rootDirectoryLength"] <= 16384, "root in the first 16 KiB")
    if h["leafDirectoryLength"] == 0:
        equal(h["leafDirectoryOffset"], h["tileDataOffset"], "leaf offset without leaves")
    equal(os.path.getsize(path), h["tileDataOffset"] + h["tileDataLength"], "archive size")
    return seen


def same_tiles(actual, expected, what):
    """Compares {(z, x, y): bytes} maps without printing thousands of tiles."""
    equal(sorted(set(actual) ^ set(expected))[:5], [], f"{what}: tiles only on one side")
    bad = [k for k in expected if actual[k] != expected[k]]
    equal(bad[:5], [], f"{what}: tiles whose bytes differ")


def server_tiles(keys, fmt="png", sizes=()):
    limits = {"min_size": int(sizes[1]), "max_size": int(sizes[3])} if sizes else {}
    return {k: tile_server.tile_bytes(*k, fmt, **limits) for k in keys}


@test
def download_to_pmtiles_reads_back_in_the_js_reader_and_a_rerun_does_nothing():
    with Server() as s:
        out = out_path("area.pmtiles")
        code, _, err = run(tiles_args(s, out, "--attribution", "© test"))
        equal(code, 0, f"exit: {err}")
        check(not os.path.exists(out + ".staging.mbtiles"), "staging store left")
        check(not os.path.exists(out + ".tmp"), "temporary archive left")
        seen = check_js_reads(out, server_tiles(EXPECTED))
        h = seen["header"]
        equal(h["tileType"], 2, "tile type PNG")
        equal(h["tileCompression"], 1, "tile compression none")
        w, so, e, n = (float(v) for v in BOX.split(","))
        equal((h["minLon"], h["minLat"], h["maxLon"], h["maxLat"]), (w, so, e, n), "bounds")
        m = seen["metadata"]
        equal(m["name"], "area", "name")
        equal(m["attribution"], "© test", "attribution")
        equal(m["cohort_fingerprint"]["zooms"], ZOOMS, "fingerprint")
        # The same command again: nothing to do, the archive untouched.
        before = os.stat(out).st_mtime_ns
        requests = len(s.stats()["log"])
        code, _, err = run(tiles_args(s, out, "--attribution", "© test"))
        equal(code, 0, f"exit: {err}")
        check("nothing to do" in err, err)
        equal(os.stat(out).st_mtime_ns, before, "archive rewritten")
        equal(len(s.stats()["log"]), requests, "requests of the re-run")
        # Another download into it is refused without --force.
        code, _, err = run(tiles_args(s, out, zooms="10-11"))
        equal(code, 2, f"exit: {err}")
        check("was made by another download" in err, err)


@test
def vector_tiles_a_single_tile_and_the_antimeridian():
    with Server("--format", "pbf-gzip") as s:
        out = out_path("vector.pmtiles")
        code, _, err = run(tiles_args(s, out, url=s.url("/{z}/{x}/{y}.pbf")))
        equal(code, 0, f"exit: {err}")
        seen = check_js_reads(out, server_tiles(EXPECTED, "pbf-gzip"), decompress=True)
        equal((seen["header"]["tileType"], seen["header"]["tileCompression"]), (1, 2), "MVT, gzip")
        equal(seen["metadata"]["vector_layers"], [], "vector_layers (the spec requires it)")
    with Server() as s:
        out = out_path("one.pmtiles")
        code, _, err = run(tiles_args(s, out, zooms="0"))
        equal(code, 0, f"exit: {err}")
        check_js_reads(out, server_tiles({(0, 0, 0)}))
        box = "177,-19,-178,-16"
        out = out_path("fiji.pmtiles")
        code, _, err = run(tiles_args(s, out, box=box, zooms="5-7"))
        equal(code, 0, f"exit: {err}")
        h = check_js_reads(out, server_tiles(tiles_of(box, range(5, 8))))["header"]
        equal((h["minLon"], h["maxLon"]), (-180, 180), "bounds across the antimeridian")
        equal((h["minLat"], h["maxLat"]), (-19, -16), "latitudes")


def write_mbtiles(path, tiles):
    db = sqlite3.connect(path)
    db.executescript("CREATE TABLE metadata (name TEXT, value TEXT);"
                     "CREATE TABLE tiles (zoom_level INTEGER, tile_column INTEGER, "
                     "tile_row INTEGER, tile_data BLOB);"
                     "CREATE UNIQUE INDEX tile_index ON tiles (zoom_level, tile_column, tile_row);")
    db.executemany("INSERT INTO metadata VALUES (?, ?)",
                   [("name", "big"), ("format", "png"), ("minzoom", "0"), ("maxzoom", "7")])
    db.executemany("INSERT INTO tiles VALUES (?, ?, ?, ?)",
                   [(z, x, (1 << z) - 1 - y, b) for (z, x, y), b in tiles.items()])
    db.commit()
    db.close()


def big_tile_set():
    """Zooms 0-7 (21,845 tiles, more directory entries than a root holds),
    small PNG-like tiles; the 2,048 southernmost tiles of zoom 7 are the same
    "ocean" tile."""
    tiles = {}
    for z in range(8):
        for x in range(1 << z):
            for y in range(1 << z):
                ocean = z == 7 and y >= 112
                tiles[(z, x, y)] = b"\x89PNG\r\n\x1a\n" + (b"ocean" if ocean else
                                                           f"{z}/{x}/{y}".encode())
    return tiles


BIG = os.path.join(TMP, "big.mbtiles")


def big_mbtiles():
    if not os.path.exists(BIG):
        write_mbtiles(BIG, big_tile_set())
    return BIG


@test
def convert_with_leaves_and_many_duplicates_in_every_direction():
    tiles = big_tile_set()
    archive = out_path("big.pmtiles")
    code, _, err = run(["tiles", "convert", big_mbtiles(), archive, "--quiet"])
    equal(code, 0, f"exit: {err}")
    seen = check_js_reads(archive, tiles)
    h = seen["header"]
    check(h["leafDirectoryLength"] > 0, "no leaf directories for 21,845 tiles")
    check(h["numTileEntries"] < len(tiles) - 1500, f"the ocean is not in runs: {h}")
    equal(seen["metadata"]["name"], "big", "name carried over")
    # PMTiles -> directory -> MBTiles -> PMTiles, a subset on the way.
    directory = out_path("big-dir")
    code, _, err = run(["tiles", "convert", archive, directory, "--zoom", "3-4", "--quiet"])
    equal(code, 0, f"exit: {err}")
    subset = {k: v for k, v in tiles.items() if k[0] in (3, 4)}
    same_tiles(stored_tiles(directory), subset, "directory from the archive")
    mb = out_path("big-again.mbtiles")
    code, _, err = run(["tiles", "convert", directory, mb, "--bbox", "1,1,179,84", "--quiet"])
    equal(code, 0, f"exit: {err}")
    box = {k: v for k, v in subset.items() if k in tiles_of("1,1,179,84", [3, 4])}
    same_tiles(stored_tiles(mb), box, "MBTiles from the directory")
    again = out_path("again.pmtiles")
    code, _, err = run(["tiles", "convert", mb, again, "--quiet"])
    equal(code, 0, f"exit: {err}")
    check_js_reads(again, box)
    # An existing output is not replaced without --force.
    code, _, err = run(["tiles", "convert", mb, again])
    equal(code, 2, f"exit: {err}")
    check("use --force" in err, err)


def interrupted_once_started(args, temporary):
    """Runs cohort and sends it a SIGINT as soon as `temporary` (the output
    being written) appears: mid-copy."""
    p = start(args)
    deadline = time.monotonic() + 10
    while not os.path.exists(temporary) and p.poll() is None and time.monotonic() < deadline:
        time.sleep(0.001)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=30)
    return p.returncode, err


@test
def sigint_during_convert_leaves_no_output_then_a_rerun_converts():
    for kind in ("big-sigint.pmtiles", "big-sigint.mbtiles"):
        out = out_path(kind)
        code, err = interrupted_once_started(["tiles", "convert", big_mbtiles(), out], out + ".tmp")
        equal(code, -signal.SIGINT, f"ended by the SIGINT: {err}")
        check("left as it was" in err, err)
        check(not os.path.exists(out), "an output after the interrupt")
        check(not os.path.exists(out + ".tmp") and not os.path.exists(out + ".tmp.db"),
              "temporaries left")
        code, _, err = run(["tiles", "convert", big_mbtiles(), out, "--quiet"])
        equal(code, 0, f"exit: {err}")
        if out.endswith(".pmtiles"):
            # (The JS reader reads this conversion in the test above.)
            with open(out, "rb") as f:
                header = f.read(127)
            equal(struct.unpack_from("<Q", header, 72)[0], len(big_tile_set()), "addressed tiles")
        else:
            same_tiles(stored_tiles(out), big_tile_set(), "converted tiles")


@test
def sigint_and_kill_during_a_pmtiles_download_then_resume():
    box, zooms = BOX, "11-15"
    expected = tiles_of(box, zoom_list(zooms))
    out = out_path("resume.pmtiles")
    with Server(*SIGNAL_SIZES) as s:
        for sig in (signal.SIGINT, signal.SIGKILL):
            p = start(tiles_args(s, out, "-j", 2, "--rate", "150", box=box, zooms=zooms))
            time.sleep(0.4)
            p.send_signal(sig)
            _, err = p.communicate(timeout=30)
            equal(p.returncode, -sig, f"ended by {sig.name}: {err}")
            check(not os.path.exists(out), f"an archive after {sig.name}")
            check(os.path.exists(out + ".staging.mbtiles"), "no staging store to resume")
        before = set(stored_tiles(out + ".staging.mbtiles"))
        check(0 < len(before) < len(expected), f"{len(before)} tiles staged")
        s.reset()
        code, _, err = run(tiles_args(s, out, "-j", 2, box=box, zooms=zooms))
        equal(code, 0, f"exit: {err}")
        fetched = {tuple(int(v) for v in path[1:-4].split("/")) for path in s.stats()["paths"]}
        equal(fetched & before, set(), "staged tiles fetched again")
        check(not os.path.exists(out + ".staging.mbtiles"), "staging store left")
        check_js_reads(out, server_tiles(expected, sizes=SIGNAL_SIZES))


if __name__ == "__main__":
    raise SystemExit(main())
