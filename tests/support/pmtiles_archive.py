"""Writes small PMTiles v3 archives for the tests of `cohort tiles --url x.pmtiles`.

Independent of the C++ codec on purpose: the spec (protomaps/PMTiles
spec/v3/spec.md) implemented a second time, so that the reader is checked
against another writer. Tiles are the test tile server's own bytes
(tile_server.tile_bytes), so a test checks what it extracted with
`tile_server.py expect`.

  python3 pmtiles_archive.py OUT.pmtiles --zoom 0-8 [--bbox W,S,E,N] [--leaf-size N]
      [--ocean-every K]
"""

import argparse
import bisect
import gzip
import math
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tile_server  # noqa: E402


def tile_id(z, x, y):
    """The PMTiles tile ID: the tiles of lower zooms, then the Hilbert index."""
    acc = ((1 << (2 * z)) - 1) // 3
    d = 0
    s = 1 << (z - 1) if z > 0 else 0
    while s > 0:
        rx = 1 if x & s else 0
        ry = 1 if y & s else 0
        d += s * s * ((3 * rx) ^ ry)
        if ry == 0:
            if rx == 1:
                x = s - 1 - x
                y = s - 1 - y
            x, y = y, x
        s >>= 1
    return acc + d


def varint(n):
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def directory(entries):
    """entries: (tile_id, offset, length, run_length), by tile_id."""
    out = bytearray(varint(len(entries)))
    last = 0
    for e in entries:
        out += varint(e[0] - last)
        last = e[0]
    for e in entries:
        out += varint(e[3])
    for e in entries:
        out += varint(e[2])
    for i, e in enumerate(entries):
        prev = entries[i - 1] if i else None
        out += varint(0 if prev and e[1] == prev[1] + prev[2] else e[1] + 1)
    return gzip.compress(bytes(out), mtime=0)


def lon_lat_to_tile(lon, lat, z):
    n = 1 << z
    x = int((lon + 180.0) / 360.0 * n)
    r = math.radians(max(min(lat, 85.0511), -85.0511))
    y = int((1.0 - math.log(math.tan(r) + 1.0 / math.cos(r)) / math.pi) / 2.0 * n)
    return min(max(x, 0), n - 1), min(max(y, 0), n - 1)


def tiles_of(zooms, bbox):
    w, s, e, n = bbox
    for z in zooms:
        x0, y0 = lon_lat_to_tile(w, n, z)
        x1, y1 = lon_lat_to_tile(e, s, z)
        for x in range(x0, x1 + 1):
            for y in range(y0, y1 + 1):
                yield z, x, y


def server_blob(z, x, y, ocean_every):
    """The test tile server's bytes of a tile, or its tile 0/0/0 for every
    ocean_every-th tile ID (an "ocean" of identical tiles)."""
    if ocean_every and tile_id(z, x, y) % ocean_every == 0:
        return tile_server.tile_bytes(0, 0, 0)
    return tile_server.tile_bytes(z, x, y)


def tile_data(tiles, ocean_every, blob_of=server_blob):
    """The tile data (each distinct blob once) and the entries, by tile ID."""
    data = bytearray()
    offsets = {}
    entries = []
    for tid, z, x, y in sorted((tile_id(z, x, y), z, x, y) for z, x, y in tiles):
        blob = blob_of(z, x, y, ocean_every)
        if blob not in offsets:
            offsets[blob] = len(data)
            data += blob
        off, length = offsets[blob], len(blob)
        last = entries[-1] if entries else None
        if last and last[1] == off and last[0] + last[3] == tid:
            entries[-1] = (last[0], off, length, last[3] + 1)
        else:
            entries.append((tid, off, length, 1))
    return bytes(data), entries


def directories(entries, leaf_size):
    """The root directory and the leaf directories' bytes."""
    if leaf_size == 0 or len(entries) <= leaf_size:
        return directory(entries), b"", []
    leaves = bytearray()
    root = []
    for i in range(0, len(entries), leaf_size):
        chunk = entries[i:i + leaf_size]
        leaf = directory(chunk)
        root.append((chunk[0][0], len(leaves), len(leaf), 0))
        leaves += leaf
    return directory(root), bytes(leaves), root


# The header's tile type and tile compression of the tile server's formats.
TILE_TYPES = {"png": (2, 1), "jpeg": (3, 1), "webp": (4, 1), "pbf-gzip": (1, 2)}


def write(path, zooms, bbox, leaf_size=0, ocean_every=0, blob_of=server_blob, fmt="png"):
    """Writes the archive; `fmt` is a tile server format (the tiles' bytes
    and the header's tile type), used when blob_of is server_blob."""
    if blob_of is server_blob and fmt != "png":
        def blob_of(z, x, y, ocean_every):  # noqa: F811
            if ocean_every and tile_id(z, x, y) % ocean_every == 0:
                return tile_server.tile_bytes(0, 0, 0, fmt)
            return tile_server.tile_bytes(z, x, y, fmt)
    tile_type, tile_compression = TILE_TYPES[fmt]
    tiles = list(tiles_of(zooms, bbox))
    data, entries = tile_data(tiles, ocean_every, blob_of)
    root, leaves, leaf_dirs = directories(entries, leaf_size)
    assert 127 + len(root) <= 16384, "root directory over 16 KiB: use --leaf-size"
    data_off = assemble(path, root, leaves, data, name="test", addressed=len(tiles),
                        entries=len(entries), contents=len(set(e[1] for e in entries)),
                        tile_type=tile_type, tile_compression=tile_compression,
                        zooms=(min(zooms), max(zooms)), bbox=bbox, center_zoom=min(zooms))
    return {"tiles": len(tiles), "entries": len(entries), "leaf_bytes": len(leaves),
            "root_bytes": len(root), "data_offset": data_off, "size": data_off + len(data),
            "entries_list": entries, "leaf_dirs": leaf_dirs}


def assemble(path, root, leaves, data, name, addressed, entries, contents, tile_type,
             tile_compression, zooms, bbox, center_zoom):
    """Writes a PMTiles v3 archive to `path`: the 127-byte header, the root
    directory, gzipped metadata {"name": NAME}, the leaf directories and the
    tile data, in that order. Returns the tile data's offset."""
    meta = gzip.compress(b'{"name":"%s"}' % name.encode(), mtime=0)
    root_off = 127
    meta_off = root_off + len(root)
    leaf_off = meta_off + len(meta)
    data_off = leaf_off + len(leaves)
    e7 = lambda v: int(round(v * 1e7))  # noqa: E731
    header = b"PMTiles" + struct.pack(
        "<B8Q3QBBBBBBiiiiBii", 3, root_off, len(root), meta_off, len(meta), leaf_off,
        len(leaves), data_off, len(data), addressed, entries, contents, 1, 2, tile_compression,
        tile_type, zooms[0], zooms[1], e7(bbox[0]), e7(bbox[1]), e7(bbox[2]), e7(bbox[3]),
        center_zoom, 0, 0)
    assert len(header) == 127
    with open(path, "wb") as f:
        f.write(header + root + meta + leaves + data)
    return data_off


def least_bytes(info, tiles):
    """The least an extraction of `tiles` from the archive `write` described
    with `info` can fetch: the bytes of their blobs (a shared blob once),
    the first 16 KiB (header and root directory) and the leaf directories
    that hold them."""
    entries = info["entries_list"]
    ids = [e[0] for e in entries]
    firsts = [d[0] for d in info["leaf_dirs"]]
    blobs, leaves = set(), set()
    for z, x, y in tiles:
        tid = tile_id(z, x, y)
        e = entries[bisect.bisect_right(ids, tid) - 1]
        assert e[0] <= tid < e[0] + e[3], f"tile {z}/{x}/{y} is not in the archive"
        blobs.add((e[1], e[2]))
        if firsts:
            leaves.add(bisect.bisect_right(firsts, tid) - 1)
    leaf_bytes = sum(info["leaf_dirs"][i][2] for i in leaves)
    return sum(n for _, n in blobs) + min(16384, info["size"]) + leaf_bytes


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out")
    p.add_argument("--zoom", default="0-8")
    p.add_argument("--bbox", default="-180,-85,180,85")
    p.add_argument("--leaf-size", type=int, default=0)
    p.add_argument("--ocean-every", type=int, default=0)
    a = p.parse_args()
    lo, _, hi = a.zoom.partition("-")
    zooms = list(range(int(lo), int(hi or lo) + 1))
    info = write(a.out, zooms, [float(v) for v in a.bbox.split(",")], a.leaf_size, a.ocean_every)
    print({k: v for k, v in info.items() if k not in ("entries_list", "leaf_dirs")})


if __name__ == "__main__":
    main()
