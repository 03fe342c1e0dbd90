// Reads a PMTiles archive with the protomaps JS reader (npm `pmtiles`, the
// reference implementation) and prints what it sees as one JSON object:
//   {"header": {...}, "metadata": {...}, "directories": N,
//    "tiles": {"z/x/y": "<sha256 of the tile as getZxy returns it>"}}
// getZxy decompresses tiles of a gzip archive, as a map client would.
// Every tile ID is found by walking the root and leaf directories through the
// library's own cache (its directory decoder), then read through getZxy (its
// lookup, findTile).
//
//   node tests/js/read_pmtiles.mjs ARCHIVE

import { createHash } from "node:crypto";
import { open } from "node:fs/promises";
import { PMTiles, tileIdToZxy } from "pmtiles";

class FileSystemSource {
  constructor(handle, path) {
    this.handle = handle;
    this.path = path;
  }
  getKey() {
    return this.path;
  }
  async getBytes(offset, length) {
    const data = Buffer.alloc(length);
    let done = 0;
    while (done < length) {
      const { bytesRead } = await this.handle.read(data, done, length - done, offset + done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    const view = data.subarray(0, done);
    return { data: view.buffer.slice(view.byteOffset, view.byteOffset + view.byteLength) };
  }
}

async function main(path) {
  const handle = await open(path, "r");
  const source = new FileSystemSource(handle, path);
  const archive = new PMTiles(source);
  const header = await archive.getHeader();
  const metadata = await archive.getMetadata();
  const tiles = {};
  let directories = 0;
  const walk = async (offset, length) => {
    directories += 1;
    const entries = await archive.cache.getDirectory(source, offset, length, header);
    for (const e of entries) {
      if (e.runLength === 0) {
        await walk(header.leafDirectoryOffset + e.offset, e.length);
        continue;
      }
      for (let id = e.tileId; id < e.tileId + e.runLength; id++) {
        const [z, x, y] = tileIdToZxy(id);
        const tile = await archive.getZxy(z, x, y);
        if (!tile) throw new Error(`getZxy(${z}, ${x}, ${y}) found nothing`);
        tiles[`${z}/${x}/${y}`] = createHash("sha256").update(Buffer.from(tile.data)).digest("hex");
      }
    }
  };
  await walk(header.rootDirectoryOffset, header.rootDirectoryLength);
  await handle.close();
  delete header.etag;
  process.stdout.write(JSON.stringify({ header, metadata, directories, tiles }) + "\n");
}

main(process.argv[2]).catch((e) => {
  process.stderr.write(`read_pmtiles: ${e.stack || e}\n`);
  process.exit(1);
});
