#!/usr/bin/env python3
"""End-to-end tests of the guard of `cohort tiles` against an accidental huge
download (issue 13, point 3): a run above --max-tiles (default 1,000,000;
0: no limit) or deeper than zoom 22 without --allow-deep-zoom refuses to
start, with one line per reason saying the count and how to proceed, exit 2,
before any output is created and before any request; --dry-run prints the
tiles per zoom with thousands separators and an estimate of requests, bytes
and time. The real binary against tests/support/tile_server.py on loopback.

Run: python3 tests/integration/tiles_guard_test.py COHORT_BINARY TILE_SERVER_PY [name ...]
(see tiles_cli_support.py for the output).
"""

import json
import os
import sys
import time

from tiles_cli_support import (BOX, EXPECTED, Server, check, check_complete, equal,
                               lat_to_y, lon_to_x, main, out_path, run, run_json, test,
                               tiles_args, tiles_of)

CITY = "13.088,52.338,13.761,52.675"  # Berlin, as in the README
WORLD = "-180,-85.0511287798,180,85.0511287798"
PREFIX = "cohort tiles: refusing to start: "


def box_count(box, z):
    """Tiles of a box (not crossing the antimeridian, no edge on a tile
    border) at zoom z, from the corners' tiles: no enumeration."""
    w, s, e, n = (float(v) for v in box.split(","))
    return (lon_to_x(e, z) - lon_to_x(w, z) + 1) * (lat_to_y(s, z) - lat_to_y(n, z) + 1)


def refusals(err):
    return [l[len(PREFIX):] for l in err.splitlines() if l.startswith(PREFIX)]


def run_timed(args):
    begin = time.monotonic()
    code, out, err = run(args)
    return code, out, err, time.monotonic() - begin


def check_nothing_made(out):
    for suffix in ("", "-wal", "-shm", "-journal"):
        check(not os.path.exists(out + suffix), f"{out + suffix} was created")


@test
def a_city_at_zoom_25_is_refused_at_once_with_nothing_made_and_no_request():
    n = box_count(CITY, 25)
    check(n > 200_000_000, f"{n} tiles")
    with Server() as s:
        for out in (out_path("berlin-z25"), out_path("berlin-z25.mbtiles")):
            code, _, err, elapsed = run_timed(tiles_args(s, out, box=CITY, zooms="25"))
            equal(code, 2, f"exit ({err})")
            check(elapsed < 5, f"took {elapsed:.1f} s")
            lines = refusals(err)
            equal(len(lines), 2, f"refusal lines in {err!r}")
            deep = [l for l in lines if "zoom 25" in l]
            check(deep and "above 22" in deep[0] and "--allow-deep-zoom" in deep[0], err)
            count = f"{n:,} tiles is above --max-tiles 1,000,000"
            many = [l for l in lines if count in l]
            check(many and "--max-tiles 0" in many[0] and "--dry-run" in many[0],
                  f"{count!r} not in {err!r}")
            check_nothing_made(out)
        equal(s.stats()["requests"], 0, "requests that reached the server")


@test
def max_tiles_allows_exactly_n_and_refuses_n_plus_one():
    n = len(EXPECTED)
    with Server() as s:
        out = out_path("limit.mbtiles")
        code, _, err, elapsed = run_timed(tiles_args(s, out, "--max-tiles", n - 1))
        equal(code, 2, f"exit ({err})")
        equal(refusals(err), [f"{n} tiles is above --max-tiles {n - 1:,}; check --bbox and "
                              "--zoom (--dry-run shows the count per zoom), or pass --max-tiles 0 "
                              "to allow any number"], "refusal")
        check_nothing_made(out)
        equal(s.stats()["requests"], 0, "requests after the refusal")
        code, summary, err = run_json(tiles_args(s, out, "--max-tiles", n))
        equal(code, 0, f"exit at exactly --max-tiles ({err})")
        equal(summary["stored"], n, "stored")
        check_complete(out)


@test
def max_tiles_0_lets_a_run_above_a_million_start():
    zooms = "0-10"
    n = sum(4 ** z for z in range(11))  # 1,398,101
    # A server that answers only 503: the run starts, then stops after its
    # first 50 answers (issue 13 point 2), which proves requests were made.
    with Server("--break-with", 503) as s:
        out = out_path("world-z10.mbtiles")
        code, _, err = run(tiles_args(s, out, box=WORLD, zooms=zooms))
        equal(code, 2, f"exit by default ({err})")
        check(f"{n:,} tiles is above --max-tiles 1,000,000" in err, err)
        check_nothing_made(out)
        equal(s.stats()["requests"], 0, "requests after the refusal")
        code, summary, err = run_json(tiles_args(s, out, "--max-tiles", 0, box=WORLD, zooms=zooms),
                                      timeout=90)
        equal(code, 1, f"exit with --max-tiles 0 ({err})")
        check(refusals(err) == [], err)
        equal((summary["total"], summary["outcome"]), (n, "stopped"), "total, outcome")
        check(s.stats()["requests"] >= 50, "the run with --max-tiles 0 made no request")


@test
def a_zoom_above_22_needs_allow_deep_zoom():
    box = "13.40001,52.50001,13.40011,52.50009"
    expected = tiles_of(box, [23])
    check(1 < len(expected) < 20, f"{len(expected)} tiles")
    with Server() as s:
        out = out_path("deep")
        code, _, err = run(tiles_args(s, out, box=box, zooms="23"))
        equal(code, 2, f"exit ({err})")
        lines = refusals(err)
        equal(len(lines), 1, f"refusal lines in {err!r}")
        check(lines[0].startswith("zoom 23 is above 22") and "--allow-deep-zoom" in lines[0],
              lines[0])
        check_nothing_made(out)
        equal(s.stats()["requests"], 0, "requests after the refusal")
        code, summary, err = run_json(tiles_args(s, out, "--allow-deep-zoom", box=box, zooms="23"))
        equal(code, 0, f"exit with --allow-deep-zoom ({err})")
        check_complete(out, expected)


@test
def dry_run_of_the_world_prints_counts_with_separators_and_an_estimate():
    code, out, err = run(["tiles", "--bbox", WORLD, "--zoom", "0-20", "--url",
                          "http://h/{z}/{x}/{y}.png", "--dry-run"])
    equal(code, 0, f"exit ({err})")
    lines = out.splitlines()
    for z in range(21):
        n = 4 ** z
        check(f"zoom {z:2}: {n:,} tile{'' if n == 1 else 's'}" in lines, f"zoom {z} in {out}")
    total = (4 ** 21 - 1) // 3
    check(f"total: {total:,} tiles" in lines and "total: 1,466,015,503,701 tiles" in lines, out)
    requests = [l for l in lines if l.startswith("requests: ")]
    check(requests and requests[0].startswith(f"requests: {total:,}"), out)
    size = [l for l in lines if l.startswith("bytes: ")]
    check(size and "PB" in size[0] and "assuming" in size[0] and "png" in size[0], out)
    duration = [l for l in lines if l.startswith("time: ")]
    check(duration and "years" in duration[0] and "-j 4" in duration[0], out)
    check(any(l.startswith("a run would refuse to start: ") and f"{total:,} tiles" in l
              for l in lines), out)


@test
def dry_run_json_keeps_its_keys_and_adds_the_estimate():
    n = len(EXPECTED)
    code, out, err = run(["tiles", "--bbox", BOX, "--zoom", "10-13", "--url",
                          "http://{s}.h/{z}/{x}/{y}.png", "--subdomains", "a,b", "-j", "8",
                          "--rate", "2", "--dry-run", "--json"])
    equal(code, 0, f"exit ({err})")
    plan = json.loads(out)
    equal(plan["total"], n, "total")
    equal(sum(plan["zooms"].values()), n, "zooms")
    equal(plan["requests"], n, "requests")
    equal(plan["hosts"], 2, "hosts")
    check(plan["assumed_bytes_per_tile"] > 0, out)
    equal(plan["estimated_bytes"], n * plan["assumed_bytes_per_tile"], "estimated_bytes")
    # --rate 2 per host over 2 hosts binds before -j 8 does.
    check(abs(plan["estimated_seconds"] - n / 4) < 0.01, out)
    equal(plan["refusals"], [], "refusals")
    # Without --rate, -j and the assumed time per request set the pace.
    code, out, err = run(["tiles", "--bbox", BOX, "--zoom", "10-13", "--url",
                          "http://h/{z}/{x}/{y}.png", "-j", "8", "--dry-run", "--json"])
    equal(code, 0, f"exit ({err})")
    plan = json.loads(out)
    per = plan["assumed_seconds_per_request"]
    check(abs(plan["estimated_seconds"] - n * per / 8) < 0.01, out)


if __name__ == "__main__":
    sys.exit(main())
