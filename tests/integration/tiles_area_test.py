#!/usr/bin/env python3
"""End-to-end tests of `cohort tiles --area FILE.geojson` (issue 13, point 4):
only the tiles that intersect the polygons are requested and stored, the
--dry-run count, the resume and the MBTiles `bounds` follow the area, `-`
reads standard input, and a malformed file is one line and exit 2. The
expected tile sets come from an independent per-tile computation below
(each tile square clipped against each edge, and a ray from its centre).
The real binary against tests/support/tile_server.py on loopback.

Run: python3 tests/integration/tiles_area_test.py COHORT_BINARY TILE_SERVER_PY [name ...]
"""

import json
import math
import sqlite3
import subprocess
import sys

from tiles_cli_support import (Server, check, check_complete, command, equal, main,
                               out_path, paths_with, run, run_json, stored_tiles, test, zoom_list)

MAX_LAT = 85.0511287798


# -- the reference: one tile at a time -----------------------------------------


def project(lon, lat, z):
    n = 1 << z
    lat = math.radians(max(-MAX_LAT, min(MAX_LAT, lat)))
    return ((lon + 180.0) / 360.0 * n,
            (1.0 - math.log(math.tan(lat) + 1.0 / math.cos(lat)) / math.pi) / 2.0 * n)


def segment_enters(a, b, x, y):
    """Does segment a-b pass through the open square (x, x+1) x (y, y+1)?"""
    t0, t1 = 0.0, 1.0
    dx, dy = b[0] - a[0], b[1] - a[1]
    for p, q in ((-dx, a[0] - x), (dx, x + 1 - a[0]), (-dy, a[1] - y), (dy, y + 1 - a[1])):
        if p == 0:
            if q < 0:
                return False
        elif p < 0:
            t0 = max(t0, q / p)
        else:
            t1 = min(t1, q / p)
    if t0 > t1:
        return False
    tm = (t0 + t1) / 2
    mx, my = a[0] + dx * tm, a[1] + dy * tm
    return x < mx < x + 1 and y < my < y + 1


def inside(rings, cx, cy):
    result = False
    for r in rings:
        for a, b in zip(r, r[1:]):
            if (a[1] > cy) != (b[1] > cy):
                if a[0] + (cy - a[1]) * (b[0] - a[0]) / (b[1] - a[1]) > cx:
                    result = not result
    return result


def polygons_of(geojson):
    """The polygons (lists of rings of (lon, lat)) of a FeatureCollection,
    Feature, Polygon or MultiPolygon whose longitudes stay in [-180, 180]."""
    t = geojson["type"]
    if t == "FeatureCollection":
        return [p for f in geojson["features"] for p in polygons_of(f)]
    if t == "Feature":
        return polygons_of(geojson["geometry"])
    if t == "Polygon":
        return [geojson["coordinates"]]
    if t == "MultiPolygon":
        return list(geojson["coordinates"])
    raise ValueError(t)


def reference(geojson, zooms):
    out = set()
    for z in zooms:
        for poly in polygons_of(geojson):
            rings = [[project(lon, lat, z) for lon, lat in r] for r in poly]
            xs = [p[0] for r in rings for p in r]
            ys = [p[1] for r in rings for p in r]
            for x in range(max(0, int(min(xs)) - 1), min(1 << z, int(max(xs)) + 2)):
                for y in range(max(0, int(min(ys)) - 1), min(1 << z, int(max(ys)) + 2)):
                    if any(segment_enters(a, b, x, y) for r in rings for a, b in zip(r, r[1:])) \
                            or inside(rings, x + 0.5, y + 0.5):
                        out.add((z, x, y))
    return out


def buffered(tiles, n):
    out = set()
    for z, x, y in tiles:
        for dx in range(-n, n + 1):
            for dy in range(-n, n + 1):
                if 0 <= y + dy < (1 << z):
                    out.add((z, (x + dx) % (1 << z), y + dy))
    return out


# -- the areas ----------------------------------------------------------------

# A thin diagonal strip across Berlin with a bend, and a lake-shaped hole in
# a second polygon: far fewer tiles than their bounding box.
BERLIN = {"type": "FeatureCollection", "features": [
    {"type": "Feature", "properties": {"name": "strip"}, "geometry": {
        "type": "Polygon", "coordinates": [[[13.301, 52.452], [13.309, 52.451], [13.497, 52.557],
                                            [13.489, 52.558], [13.301, 52.452]]]}},
    {"type": "Feature", "properties": {}, "geometry": {
        "type": "Polygon", "coordinates": [
            [[13.102, 52.351], [13.203, 52.352], [13.198, 52.421], [13.101, 52.418],
             [13.102, 52.351]],
            [[13.121, 52.371], [13.121, 52.403], [13.181, 52.403], [13.181, 52.371],
             [13.121, 52.371]]]}}]}
ZOOMS = "10-14"
EXPECTED = reference(BERLIN, zoom_list(ZOOMS))

# Fiji-like islands split at the antimeridian (RFC 7946 section 3.1.9).
FIJI = {"type": "MultiPolygon", "coordinates": [
    [[[177.1, -19.2], [180, -19.2], [180, -16.1], [178.3, -15.9], [177.1, -19.2]]],
    [[[-180, -19.2], [-178.2, -18.9], [-179.1, -16.3], [-180, -16.1], [-180, -19.2]]]]}


def write_area(name, geojson):
    path = out_path(name)
    with open(path, "w") as f:
        json.dump(geojson, f)
    return path


def area_args(server, output, area, *extra, zooms=ZOOMS):
    return ["tiles", "--area", area, "--zoom", zooms, "--url", server.url(), "-o", output,
            "--retry-delay", "0.05", *map(str, extra)]


# -- tests --------------------------------------------------------------------


@test
def an_area_downloads_exactly_its_tiles_and_the_dry_run_counts_them():
    area = write_area("berlin.geojson", BERLIN)
    box = reference({"type": "Polygon", "coordinates": [[[13.101, 52.351], [13.497, 52.351],
                                                         [13.497, 52.558], [13.101, 52.558],
                                                         [13.101, 52.351]]]},
                    zoom_list(ZOOMS))
    check(len(EXPECTED) * 4 < len(box), f"{len(EXPECTED)} tiles of {len(box)} in the box")
    with Server() as s:
        code, summary, err = run_json(area_args(s, out_path("dry"), area, "--dry-run"))
        equal(code, 0, f"dry run exit ({err})")
        equal(summary["total"], len(EXPECTED), "dry-run total")
        for z in zoom_list(ZOOMS):
            equal(summary["zooms"][str(z)], len({t for t in EXPECTED if t[0] == z}), f"zoom {z}")
        out = out_path("berlin-area")
        code, summary, err = run_json(area_args(s, out, area))
        equal(code, 0, f"exit ({err})")
        equal(summary["total"], len(EXPECTED), "total")
        check_complete(out, EXPECTED)
        requested = {tuple(int(v) for v in p[1:-4].split("/"))
                     for p in paths_with(s.stats(), "request")}
        equal(requested, EXPECTED, "tiles requested")


@test
def an_interrupted_area_download_resumes_with_only_what_is_missing():
    area = write_area("berlin-resume.geojson", BERLIN)
    out = out_path("berlin-resume.mbtiles")
    # One server (the URL is part of what the output records), failing 30%
    # of the attempts: the first run, without retries, stores a part.
    with Server("--fail-rate", "0.3", "--seed", "7") as s:
        code, summary, err = run_json(area_args(s, out, area, "--retries", "0"))
        equal(code, 1, f"first run exit ({err})")
        check(0 < summary["failed"] < len(EXPECTED), f"failed {summary['failed']}")
        stored = set(stored_tiles(out))
        check(stored < EXPECTED, "the first run stored a part of the area")
        s.reset()
        code, summary, err = run_json(area_args(s, out, area, "--retries", "20"))
        equal(code, 0, f"second run exit ({err})")
        check_complete(out, EXPECTED)
        requested = {tuple(int(v) for v in p[1:-4].split("/"))
                     for p in paths_with(s.stats(), "request")}
        equal(requested, EXPECTED - stored, "tiles requested by the resumed run")
        # Another area (here: a buffer) is another download: refused.
        code, _, err = run(area_args(s, out, area, "--buffer", "1"))
        equal(code, 2, f"exit with another area ({err})")
        check("for other boxes" in err, err)


@test
def mbtiles_bounds_follow_the_area():
    area = write_area("strip.geojson", {"type": "Feature", "geometry": BERLIN["features"][0]
                                        ["geometry"]})
    out = out_path("strip.mbtiles")
    with Server() as s:
        code, _, err = run(area_args(s, out, area, "-q", zooms="10-12"))
        equal(code, 0, f"exit ({err})")
    db = sqlite3.connect(out)
    bounds = db.execute("select value from metadata where name = 'bounds'").fetchone()[0]
    db.close()
    equal([float(v) for v in bounds.split(",")], [13.301, 52.451, 13.497, 52.558], "bounds")


@test
def standard_input_and_a_buffer():
    strip = {"type": "Polygon", "coordinates": BERLIN["features"][0]["geometry"]["coordinates"]}
    want = buffered(reference(strip, [12, 13]), 2)
    with Server() as s:
        out = out_path("stdin-buffer")
        p = subprocess.run(command(area_args(s, out, "-", "--buffer", "2", "-q",
                                              zooms="12-13")),
                           input=json.dumps(strip), capture_output=True, text=True, timeout=60)
        equal(p.returncode, 0, f"exit ({p.stderr})")
        check_complete(out, want)


@test
def an_area_across_the_antimeridian_counts_its_tiles_on_both_sides():
    area = write_area("fiji.geojson", FIJI)
    with Server() as s:
        code, summary, err = run_json(area_args(s, out_path("fiji"), area, "--dry-run",
                                                zooms="3-12"))
        equal(code, 0, f"exit ({err})")
        for z in range(3, 13):
            want = {t for t in reference(FIJI, [z])}
            check({t[1] for t in want} & {0} and {t[1] for t in want} & {(1 << z) - 1},
                  "both sides")
            equal(summary["zooms"][str(z)], len(want), f"zoom {z}")


@test
def a_malformed_area_is_one_line_and_exit_2():
    bad = write_area("bad.geojson", {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": FIJI},
        {"type": "Feature", "geometry": {"type": "Polygon",
                                         "coordinates": [[[0, 0], [1, 1], [0, 0]]]}}]})
    with Server() as s:
        code, _, err = run(area_args(s, out_path("bad"), bad))
        equal(code, 2, "exit")
        equal(err.strip().splitlines()[0],
              f"cohort tiles: --area {bad}: feature 2, ring 1: a Polygon ring needs at least "
              "4 positions", "error")
        code, _, err = run([*area_args(s, out_path("both"), bad), "--bbox", "1,2,3,4"])
        equal(code, 2, f"--bbox with --area ({err})")
        check("use one" in err, err)
        code, _, err = run(area_args(s, out_path("none"), out_path("missing.geojson")))
        equal(code, 2, "missing file")
        check("cannot read it" in err, err)
        equal(s.stats()["requests"], 0, "requests")


if __name__ == "__main__":
    sys.exit(main())
