#!/usr/bin/env python3
"""Issue 14's memory bound: extracting from a PMTiles archive and converting
one keep the process's peak RSS under 64 MiB whatever the archive's size.
Shown with the largest archive the tests build (the whole world at zooms
0-9, 349,525 tiles, leaf directories) against a small extraction from the
same archive: a cost of even 40 bytes per tile would show as the
difference.

  tiles_pmtiles_rss_test.py COHORT_BINARY TILE_SERVER_PY [name-substring ...]
"""

import os
import resource
import subprocess
import sys

from tiles_cli_support import COHORT, TMP, check, command, equal, main, out_path, test

import pmtiles_archive  # noqa: E402  (next to tile_server.py, on sys.path)

MAX_ZOOM = 9
TILES = ((1 << (2 * (MAX_ZOOM + 1))) - 1) // 3  # zooms 0-9: IDs 0 .. TILES-1
# Small PNG-signed tiles: the bytes stored stay small, the tile count large.
BLOBS = [b"\x89PNG\r\n\x1a\n" + bytes([i]) * (8 + i) for i in range(4)]
LIMIT = 64 * 1024 * 1024
# What the largest extraction may take beyond a small one: the store's own
# bounded caches, not the tiles'.
GROWTH = 12 * 1024 * 1024


def write_world(path):
    """Zooms 0-9 whole: entries of 1-3 tiles each (one of four blobs), in leaf
    directories of 4,096 entries."""
    offsets = []
    data = b""
    for b in BLOBS:
        offsets.append(len(data))
        data += b
    entries = []
    tid = 0
    k = 0
    while tid < TILES:
        run = min(1 + k % 3, TILES - tid)
        b = k % 4
        entries.append((tid, offsets[b], len(BLOBS[b]), run))
        tid += run
        k += 1
    root, leaves, _ = pmtiles_archive.directories(entries, 4096)
    pmtiles_archive.assemble(path, root, leaves, data, name="world", addressed=TILES,
                             entries=len(entries), contents=len(BLOBS), tile_type=2,
                             tile_compression=1, zooms=(0, MAX_ZOOM), bbox=(-180, -85, 180, 85),
                             center_zoom=0)


ARCHIVE = os.path.join(TMP, "world.pmtiles")
write_world(ARCHIVE)


def peak_rss(args):
    """Runs cohort with `args`; its exit status and its peak RSS in bytes."""
    pid = os.fork()
    if pid == 0:
        try:
            os.execv(COHORT, command(args))
        finally:
            os._exit(127)
    _, status, usage = os.wait4(pid, 0)
    return os.waitstatus_to_exitcode(status), usage.ru_maxrss * 1024


def count_tiles(mbtiles):
    out = subprocess.run(["sqlite3", mbtiles, "SELECT count(*) FROM tiles"], capture_output=True,
                         text=True)
    return int(out.stdout) if out.returncode == 0 else None


@test
def extract_and_convert_of_the_largest_archive_stay_under_64_mib():
    small = out_path("small.mbtiles")
    code, small_rss = peak_rss(["tiles", "-q", "--bbox=-180,-85.0511,180,85.0511", "--zoom", "0-4",
                                "--url", ARCHIVE, "-o", small])
    equal(code, 0, "small extraction's exit status")
    world = out_path("world.mbtiles")
    code, world_rss = peak_rss(["tiles", "-q", "--max-tiles", "0", "--bbox=-180,-85.0511,180,85.0511", "--zoom",
                                f"0-{MAX_ZOOM}", "--url", ARCHIVE, "-o", world])
    equal(code, 0, "extraction's exit status")
    stored = count_tiles(world)
    if stored is not None:
        equal(stored, TILES, "tiles extracted")
    print(f"extract: {small_rss >> 20} MiB for 341 tiles, {world_rss >> 20} MiB for {TILES}")
    check(world_rss < LIMIT, f"extraction peak RSS {world_rss >> 20} MiB")
    check(world_rss - small_rss < GROWTH,
          f"extraction grew by {(world_rss - small_rss) >> 20} MiB with the archive's size")
    code, convert_rss = peak_rss(["tiles", "convert", "-q", ARCHIVE, out_path("converted.mbtiles")])
    equal(code, 0, "convert's exit status")
    print(f"convert: {convert_rss >> 20} MiB")
    check(convert_rss < LIMIT, f"convert peak RSS {convert_rss >> 20} MiB")
    check(convert_rss - small_rss < GROWTH,
          f"convert took {(convert_rss - small_rss) >> 20} MiB more than a small extraction")


if __name__ == "__main__":
    sys.exit(main())
