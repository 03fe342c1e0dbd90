#!/usr/bin/env python3
"""End-to-end tests of `cohort tiles`' TileJSON input and metadata (issue 13,
points 5 and 6): --name/--description/--attribution in the MBTiles metadata;
vector tiles (gzip'd protobuf) stored byte for byte as served with
format=pbf and the json row of the source's vector_layers; {r} with
--retina; --tilejson URL|FILE giving the URL templates (several rotate like
{s}), zooms, bounds, scheme and metadata, explicit options overriding it; a
bad TileJSON is one line and exit 2. The real binary against
tests/support/tile_server.py on loopback.

Run: python3 tests/integration/tiles_tilejson_test.py COHORT_BINARY TILE_SERVER_PY [name ...]
(see tiles_cli_support.py for the output).
"""

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time

from tiles_cli_support import (BOX, TMP, Server, check, check_complete, equal, main, out_path,
                               run, start, test, tiles_args, tiles_of)

import tile_server

LAYERS = [{"id": "roads", "fields": {"kind": "String"}, "minzoom": 10, "maxzoom": 11}]
SMALL = "13.30,52.45,13.40,52.50"
SMALL_BOUNDS = [13.30, 52.45, 13.40, 52.50]


def metadata(path):
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return dict(db.execute("select name, value from metadata"))
    finally:
        db.close()


def stored(path):
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = db.execute("select zoom_level, tile_column, tile_row, tile_data from tiles")
        return {(z, x, (1 << z) - 1 - row): bytes(data) for z, x, row, data in rows}
    finally:
        db.close()


def write_tilejson(name, doc):
    path = os.path.join(TMP, name)
    with open(path, "w") as f:
        json.dump(doc, f)
    return path


def gdal_metadata(path):
    """The metadata GDAL's MBTiles driver reads, or None without gdalinfo."""
    if shutil.which("gdalinfo") is None:
        return None
    p = subprocess.run(["gdalinfo", path], capture_output=True, text=True, timeout=60)
    return p.stdout if p.returncode == 0 else p.stdout + p.stderr


@test
def name_description_and_attribution_go_into_the_metadata():
    with Server() as s:
        out = out_path("meta.mbtiles")
        code, _, err = run(tiles_args(s, out, "--name", "Berlin test", "--description",
                                      "A piece of Berlin", "--attribution",
                                      "(c) Test contributors", zooms="10-11"))
        equal(code, 0, f"exit ({err})")
    meta = metadata(out)
    equal(meta["name"], "Berlin test", "name")
    equal(meta["description"], "A piece of Berlin", "description")
    equal(meta["attribution"], "(c) Test contributors", "attribution")
    equal(meta["format"], "png", "format")
    check("json" not in meta, "no json row for raster tiles")
    gdal = gdal_metadata(out)
    if gdal is not None:
        check("Driver: MBTiles" in gdal, gdal)
        check("Berlin test" in gdal, gdal)


@test
def without_them_the_defaults_stay():
    with Server() as s:
        out = out_path("plain.mbtiles")
        code, _, err = run(tiles_args(s, out, zooms="10"))
        equal(code, 0, f"exit ({err})")
    meta = metadata(out)
    equal(meta["name"], "plain", "name")
    equal(meta["description"], "Downloaded by cohort tiles", "description")
    check("attribution" not in meta, "no attribution row")


@test
def vector_tiles_from_a_tilejson_file_are_stored_as_served():
    with Server("--format", "pbf-gzip") as s:
        tj = write_tilejson("vector.json", {
            "tilejson": "3.0.0", "name": "Roads", "attribution": "(c) Roads",
            "description": "Vector roads", "format": "pbf",
            "tiles": [s.url("/v/{z}/{x}/{y}.pbf")], "minzoom": 10, "maxzoom": 11,
            "bounds": SMALL_BOUNDS, "vector_layers": LAYERS})
        out = out_path("vector.mbtiles")
        code, _, err = run(["tiles", "--tilejson", tj, "-o", out, "--retry-delay", "0.05"])
        equal(code, 0, f"exit ({err})")
    tiles = stored(out)
    equal(set(tiles), tiles_of(SMALL, [10, 11]), "stored tiles")
    for (z, x, y), data in tiles.items():
        check(data == tile_server.tile_bytes(z, x, y, "pbf-gzip"), f"tile {z}/{x}/{y} differs")
        check(data[:2] == b"\x1f\x8b", "stored gzip'd, as served")
    meta = metadata(out)
    equal(meta["format"], "pbf", "format")
    equal(json.loads(meta["json"]), {"vector_layers": LAYERS}, "json row")
    equal(meta["name"], "Roads", "name")
    equal(meta["attribution"], "(c) Roads", "attribution")
    equal(meta["description"], "Vector roads", "description")
    equal(meta["minzoom"], "10", "minzoom")
    equal(meta["maxzoom"], "11", "maxzoom")
    equal(meta["bounds"], "13.3,52.45,13.4,52.5", "bounds")


@test
def vector_tiles_sent_gzip_encoded_are_stored_gzipped_in_a_directory_too():
    # Vector tile servers send the gzip'd tile with Content-Encoding: gzip;
    # the stored tile is that gzip stream, as MBTiles and viewers expect it.
    with Server("--format", "pbf-gzip", "--gzip-encoding") as s:
        for out in (out_path("vector-dir"), out_path("vector-enc.mbtiles")):
            code, _, err = run(["tiles", "--url", s.url("/{z}/{x}/{y}.pbf"), "--bbox", SMALL,
                                "--zoom", "10-11", "-o", out, "--retry-delay", "0.05"])
            equal(code, 0, f"exit ({err})")
            if out.endswith(".mbtiles"):
                tiles = stored(out)
                equal(metadata(out)["format"], "pbf", "format")
                equal(metadata(out)["json"], '{"vector_layers":[]}', "json row")
            else:
                tiles = {}
                for root, _, files in os.walk(out):
                    for f in files:
                        if f.startswith(".cohort-tiles.db"):
                            continue
                        check(f.endswith(".pbf"), f"unexpected file {f}")
                        z, x = map(int, os.path.relpath(root, out).split(os.sep))
                        with open(os.path.join(root, f), "rb") as fh:
                            tiles[(z, x, int(f[:-4]))] = fh.read()
            equal(set(tiles), tiles_of(SMALL, [10, 11]), "stored tiles")
            for (z, x, y), data in tiles.items():
                check(data == tile_server.tile_bytes(z, x, y, "pbf-gzip"), f"{z}/{x}/{y} differs")


@test
def a_tilejson_url_gives_zooms_bounds_and_rotating_templates():
    doc = {"name": "Two hosts", "attribution": "(c) TJ",
           "tiles": ["http://127.0.0.1:__PORT__/a/{z}/{x}/{y}.png",
                     "http://127.0.0.1:__PORT__/b/{z}/{x}/{y}.png"],
           "minzoom": 10, "maxzoom": 11, "bounds": SMALL_BOUNDS}
    tj = write_tilejson("two.json", doc)
    with Server("--tilejson", tj) as s:
        out = out_path("two.mbtiles")
        code, _, err = run(["tiles", "--tilejson", s.url("/tilejson.json"), "-o", out,
                            "--retry-delay", "0.05"])
        equal(code, 0, f"exit ({err})")
        paths = set(s.stats()["paths"])
    expected = tiles_of(SMALL, [10, 11])
    check_complete(out, expected)
    # Tile (x, y) from template (x + y) % 2, as {s} picks a subdomain.
    want = {f"/{'ab'[(x + y) % 2]}/{z}/{x}/{y}.png" for z, x, y in expected}
    equal(paths, want, "requested paths")
    meta = metadata(out)
    equal(meta["name"], "Two hosts", "name")
    equal(meta["attribution"], "(c) TJ", "attribution")


@test
def explicit_options_override_the_tilejson():
    doc = {"name": "TJ", "attribution": "(c) TJ", "tiles": ["http://127.0.0.1:__PORT__/t/{z}/{x}/{y}.png"],
           "minzoom": 10, "maxzoom": 11, "bounds": SMALL_BOUNDS}
    tj = write_tilejson("override.json", doc)
    with Server("--tilejson", tj) as s:
        out = out_path("override.mbtiles")
        code, _, err = run(["tiles", "--tilejson", s.url("/tilejson.json"), "-o", out,
                            "--zoom", "12", "--bbox", "13.30,52.45,13.35,52.48", "--name",
                            "Mine", "--retry-delay", "0.05"])
        equal(code, 0, f"exit ({err})")
        paths = set(s.stats()["paths"])
        # --url wins over the tiles list.
        out2 = out_path("override-url.mbtiles")
        code, _, err = run(["tiles", "--tilejson", s.url("/tilejson.json"), "-o", out2,
                            "--url", s.url("/mine/{z}/{x}/{y}.png"), "--zoom", "10",
                            "--retry-delay", "0.05"])
        equal(code, 0, f"exit ({err})")
        paths2 = set(s.stats()["paths"]) - paths
    check_complete(out, tiles_of("13.30,52.45,13.35,52.48", [12]))
    check(all(p.startswith("/t/12/") for p in paths), paths)
    meta = metadata(out)
    equal(meta["name"], "Mine", "name")
    equal(meta["attribution"], "(c) TJ", "attribution")
    equal(meta["minzoom"], "12", "minzoom")
    check(paths2 and all(p.startswith("/mine/10/") for p in paths2), paths2)
    check_complete(out2, tiles_of(SMALL, [10]))


@test
def a_tms_tilejson_flips_the_row():
    tj = write_tilejson("tms.json", {"scheme": "tms",
                                     "tiles": ["http://127.0.0.1:__PORT__/{z}/{x}/{y}.png"],
                                     "minzoom": 11, "maxzoom": 11, "bounds": SMALL_BOUNDS})
    with Server("--tms", "--tilejson", tj) as s:
        out = out_path("tms.mbtiles")
        code, _, err = run(["tiles", "--tilejson", s.url("/tilejson.json"), "-o", out,
                            "--retry-delay", "0.05"])
        equal(code, 0, f"exit ({err})")
    check_complete(out, tiles_of(SMALL, [11]))


@test
def retina_fills_r_and_is_part_of_what_the_output_was_made_from():
    with Server() as s:
        out = out_path("retina.mbtiles")
        url = s.url("/{z}/{x}/{y}{r}.png")
        code, _, err = run(tiles_args(s, out, "--retina", url=url, zooms="10"))
        equal(code, 0, f"exit ({err})")
        paths = set(s.stats()["paths"])
        check(paths and all(p.endswith("@2x.png") for p in paths), paths)
        check_complete(out, tiles_of(BOX, [10]))
        # The same template without --retina is another source.
        code, _, err = run(tiles_args(s, out, url=url, zooms="10"))
        equal(code, 2, f"exit ({err})")
        check("another URL template" in err, err)
        # --retina with a template that has no {r} would fetch the 1x tiles.
        code, _, err = run(tiles_args(s, out_path("no-r.mbtiles"), "--retina", zooms="10"))
        equal(code, 2, f"exit ({err})")
        equal(err.count("\n"), 1, f"one line: {err!r}")
        check("--retina: the URL template" in err and "has no {r}" in err, err)


@test
def a_changed_tiles_list_is_another_source():
    doc = {"tiles": ["http://127.0.0.1:__PORT__/a/{z}/{x}/{y}.png"], "minzoom": 10,
           "maxzoom": 10, "bounds": SMALL_BOUNDS}
    one = write_tilejson("one.json", doc)
    with Server() as s:
        doc1 = json.loads(json.dumps(doc).replace("__PORT__", str(s.port)))
        one = write_tilejson("one.json", doc1)
        out = out_path("changed.mbtiles")
        code, _, err = run(["tiles", "--tilejson", one, "-o", out])
        equal(code, 0, f"exit ({err})")
        doc1["tiles"].append(doc1["tiles"][0].replace("/a/", "/b/"))
        two = write_tilejson("two-hosts.json", doc1)
        code, _, err = run(["tiles", "--tilejson", two, "-o", out])
        equal(code, 2, f"exit ({err})")
        check("another URL template" in err, err)


@test
def ctrl_c_while_the_tilejson_is_fetched_ends_at_once_with_nothing_made():
    tj = write_tilejson("slow.json", {"tiles": ["http://127.0.0.1:__PORT__/{z}/{x}/{y}.png"],
                                      "maxzoom": 1})
    with Server("--tilejson", tj, "--tilejson-delay", "30") as s:
        out = out_path("slow.mbtiles")
        p = start(["tiles", "--tilejson", s.url("/tilejson.json"), "-o", out])
        time.sleep(0.3)
        begin = time.monotonic()
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=10)
        check(time.monotonic() - begin < 5, "ended promptly")
        equal(p.returncode, -signal.SIGINT, f"ended by SIGINT ({err})")
        check(not os.path.exists(out), "nothing made")


@test
def a_bad_tilejson_is_one_line_and_exit_2():
    bad = os.path.join(TMP, "bad.json")
    with open(bad, "w") as f:
        f.write('{"tiles": ')
    out = out_path("bad.mbtiles")
    code, _, err = run(["tiles", "--tilejson", bad, "-o", out])
    equal(code, 2, "exit")
    equal(err.count("\n"), 1, f"one line: {err!r}")
    check(err.startswith(f"cohort tiles: --tilejson {bad}: not JSON"), err)
    check(not os.path.exists(out), "nothing made")
    nozoom = write_tilejson("nozoom.json", {"tiles": ["http://h/{z}/{x}/{y}.png"]})
    code, _, err = run(["tiles", "--tilejson", nozoom, "-o", out])
    equal(code, 2, "exit")
    check("has no 'maxzoom'; give the zooms with --zoom" in err, err)
    code, _, err = run(["tiles", "--tilejson", os.path.join(TMP, "absent.json"), "-o", out])
    equal(code, 2, "exit")
    check("cannot read it" in err, err)
    with Server() as s:
        code, _, err = run(["tiles", "--tilejson", s.url("/tilejson.json"), "-o", out])
        equal(code, 2, f"exit ({err})")
        equal(err.count("\n"), 1, f"one line: {err!r}")
        check("cannot fetch it" in err or "not JSON" in err, err)


if __name__ == "__main__":
    sys.exit(main())
