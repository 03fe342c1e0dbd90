#!/usr/bin/env python3
"""`cohort tiles --part` and `cohort tiles merge` on one machine (issue 15):
the parts of a download cover it exactly, a part resumes and refuses
another part's output, and merge refuses parts that do not make one
download, naming what is wrong. (On a real Slurm: slurm_parts_test.py.)

  tiles_parts_test.py COHORT_BINARY TILE_SERVER_PY [name-substring ...]
"""

import shutil
import sqlite3
import sys

from tiles_cli_support import (BOX, ZOOMS, Server, check, equal, js_pmtiles_tiles, main, out_path,
                               run, stored_tiles, test, tile_digests, tiles_args, tiles_of,
                               zoom_list)

EXPECTED = tiles_of(BOX, zoom_list(ZOOMS))


def download_parts(server, n, name, suffix=".mbtiles"):
    outs = []
    for k in range(n):
        out = out_path(f"{name}.{k}{suffix}")
        code, _, err = run(tiles_args(server, out, "--part", f"{k}/{n}", "-q"))
        equal(code, 0, err)
        outs.append(out)
    return outs


@test
def parts_cover_the_download_once_and_merge_into_every_kind():
    with Server() as s:
        outs = download_parts(s, 3, "p3")
        parts = [set(stored_tiles(o)) for o in outs]
        equal(set().union(*parts), EXPECTED, "tiles of the parts")
        equal(sum(map(len, parts)), len(EXPECTED), "tiles in two parts")
        check(max(map(len, parts)) - min(map(len, parts)) <= 1, f"unbalanced: {list(map(len, parts))}")
        equal(set(s.stats()["paths"].values()), {1}, "requests per tile")
        whole = {}
        for o in outs:
            whole.update(stored_tiles(o))
        directory = out_path("merged-dir")
        archive = out_path("merged.pmtiles")
        mbtiles = out_path("merged.mbtiles")
        for args in ([*outs, "-o", directory], [*outs, "-o", archive], [archive, "-o", mbtiles]):
            code, _, err = run(["tiles", "merge", "-q", *args])
            equal(code, 0, err)
        equal(stored_tiles(directory), whole, "merged directory")
        equal(js_pmtiles_tiles(archive), tile_digests(whole),
              "merged PMTiles as the reference JS reader reads it")
        equal(stored_tiles(mbtiles), whole, "merged PMTiles, merged again into MBTiles")
        # The merged output is the whole download: resuming it fetches nothing.
        s.reset()
        code, _, err = run(tiles_args(s, mbtiles, "-q"))
        equal(code, 0, err)
        equal(s.stats()["requests"], 0, "requests resuming the merged output")


@test
def a_part_resumes_and_refuses_another_part():
    with Server() as s:
        out = download_parts(s, 2, "p2")[1]
        s.reset()
        code, _, err = run(tiles_args(s, out, "--part", "1/2", "-q"))
        equal((code, s.stats()["requests"]), (0, 0), err)
        code, _, err = run(tiles_args(s, out, "--part", "0/2", "-q"))
        equal(code, 2, err)
        check("another --part" in err and "'1/2'; now '0/2'" in err, err)
        code, _, err = run(tiles_args(s, out, "-q"))
        equal(code, 2, err)
        check("'1/2'; now ''" in err, err)


@test
def merge_names_a_missing_part_and_a_foreign_one():
    with Server() as s:
        outs = download_parts(s, 3, "m3")
        code, _, err = run(["tiles", "merge", outs[0], outs[2], "-o", out_path("x.mbtiles")])
        equal(code, 2, err)
        check("part 1/3 is missing (given: 0/3, 2/3)" in err, err)
        other = out_path("other.mbtiles")
        code, _, err = run(tiles_args(s, other, "--part", "1/3", "-q", zooms="10-12"))
        equal(code, 0, err)
        code, _, err = run(["tiles", "merge", outs[0], other, outs[2], "-o", out_path("y")])
        equal(code, 2, err)
        check("parts of different downloads: zooms '10-13' and '10-12'" in err, err)


@test
def merge_takes_an_overlapping_part_once_if_identical_and_names_a_difference():
    with Server() as s:
        outs = download_parts(s, 2, "o2")
        whole = {}
        for o in outs:
            whole.update(stored_tiles(o))
        # The same part made again elsewhere (a re-run array task): identical.
        again = out_path("o2.again.mbtiles")
        shutil.copyfile(outs[0], again)
        merged = out_path("o2-merged.mbtiles")
        code, _, err = run(["tiles", "merge", "-q", outs[0], outs[1], again, "-o", merged])
        equal(code, 0, err)
        equal(stored_tiles(merged), whole, "merged with an identical overlap")
        # One tile's bytes changed: refused, naming it.
        with sqlite3.connect(again) as db:
            z, x, row = db.execute("SELECT zoom_level, tile_column, tile_row FROM tiles "
                                   "ORDER BY zoom_level DESC, tile_column, tile_row LIMIT 1").fetchone()
            db.execute("UPDATE tiles SET tile_data = X'00' WHERE zoom_level = ? AND tile_column = ? "
                       "AND tile_row = ?", (z, x, row))
        code, _, err = run(["tiles", "merge", "-q", outs[0], outs[1], again,
                            "-o", out_path("o2-refused.mbtiles")])
        equal(code, 2, err)
        y = (1 << z) - 1 - row
        check(f"are both part 0/2 and differ: tile {z}/{x}/{y} differs" in err, err)


if __name__ == "__main__":
    sys.exit(main())
