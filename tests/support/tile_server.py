#!/usr/bin/env python3
"""A deterministic, fault-injecting HTTP/1.1 tile server for `cohort tiles` tests.

Python 3 standard library only. Two subcommands:

  tile_server.py [serve] [options]   serve tiles on 127.0.0.1 (the default)
  tile_server.py expect Z X Y [--format F] [--min-size N] [--max-size N] [--raw]
                                     print the sha256 of tile Z/X/Y's bytes
                                     (or, with --raw, the bytes themselves)

Serving
-------
Prints `PORT <n>` on stdout (flushed) once it listens (or, when it cannot,
`tile_server: cannot listen on HOST:PORT: REASON` on stderr and exits 1),
then serves:

  GET /{z}/{x}/{y}[.ext]        tile bytes; any path prefix is allowed, so
                                /a/{z}/{x}/{y}.png works for {s} templates;
                                with --tms, y is read as a TMS row ({-y})
  GET /q/{quadkey}[.ext]        the same tile addressed by its Bing quadkey
  GET /_stats                   JSON statistics (see Stats below)
  (--gzip-encoding: pbf-gzip tiles are sent with Content-Encoding: gzip, as
  vector tile servers send them; the body is the same gzip stream)
  GET /tilejson.json            with --tilejson FILE: that file as
                                application/json, every __PORT__ in it
                                replaced by the server's port (not counted),
                                after --tilejson-delay seconds
  POST /_reset                  zero the statistics and attempt counters

Tile bytes depend only on (format, z, x, y, min size, max size), never on the
seed: `tile_bytes()` below (importable) and the `expect` subcommand give the
exact bytes a client must have stored. Sizes are spread over
[--min-size, --max-size] (100 B .. 30 KiB by default). PNG tiles are real,
decodable PNGs (png256: 256 x 256 RGB map-like tiles a viewer can
show, for scripts/demo; needs --min-size 4096); jpeg, webp and gif tiles have the right magic bytes and
framing around deterministic filler; pbf-gzip tiles are valid gzip streams
(served without Content-Encoding, as stored in MBTiles).

Faults (all deterministic given --seed)
---------------------------------------
Each tile request has an attempt number: how many requests for the same path
came before it (since start or the last /_reset). Decisions hash (seed, path,
attempt), so a retry draws again and can succeed, and two runs with the same
seed and request order behave the same. In order:

  1. --stall-rate R      sleep --stall-seconds before answering (then go on;
                         --stall-rate 1: every request stalls)
  2. --fail-first K      the first K attempts of every path get 503
     --break-with CODE   every tile request answers CODE with a short text
                         body (CODE 200: an HTML page with status 200, as an
                         error page or a captive portal sends), after the
                         first --break-after N requests (default 0: from the
                         start), which are served normally: a server that
                         fails systematically, or breaks in mid-run
  3. --missing-rate R    404 for the path, on every attempt (decided per path)
     --refuse-rate R     403 for the path, on every attempt (decided per path)
     --empty-rate R      204 No Content for the path (an empty vector tile)
  4. one draw per attempt, split between (rates must sum to <= 1):
       --fail-rate R          500 or 503
       --rate-limit-rate R    429 with `Retry-After: --retry-after` seconds
       --unavailable-rate R   503 with `Retry-After: --retry-after` seconds
       --reset-rate R         connection closed with a TCP reset, no response
       --truncate-rate R      Content-Length of the full tile, half the body,
                              then the connection is closed
       --wrong-type-rate R    200 with Content-Type text/html and an HTML body
  5. If-None-Match matching the ETag (or, without it, If-Modified-Since not
     older than Last-Modified) gives 304 Not Modified.
  6. 200 with the tile bytes, ETag and Last-Modified; with --trickle-rate R
     (drawn per attempt) the headers go at once and the body in small pieces
     spread evenly over --trickle-seconds: a slow transfer that never stalls
     (for a client's whole-request timeout, as opposed to its stall timeout).

Stats
-----
GET /_stats returns {"requests", "paths": {path: count}, "status":
{code: count}, "connections", "active_connections", "max_active_connections",
"active_requests", "max_active_requests", "resets", "truncated", "stalls",
"trickles", "bytes_sent"}, and with --record
a "log" of [monotonic seconds, path, event] for every tile request's arrival
(event "request"), the start of a stall or of a trickled body (events
"stall" and "trickle") and its answer (event: the status code, "reset" or
"truncated"; a trickled 200 is logged when its headers go), and with
--count-header NAME a "headers" object {NAME: {value: count}} of that
request header's values ("" when absent). "requests", "paths" and "status"
count tile requests only (not /_stats or /_reset); "status" has the
pseudo-codes "reset" and "truncated" for those faults. "bytes_sent" counts
the bodies of complete 200 tile responses. "active_requests" counts the tile
requests being served at this moment, from their arrival to the end of their
answer, except that a stalled request whose client has closed its connection
(given up) stops counting then: "max_active_requests" is how many requests a
client really had in flight at once (with every request stalling, its
concurrency).

Safety
------
The server always stops by itself: after --timeout seconds (default 300), or
after --max-requests tile requests have been answered, or (with
--stop-on-stdin-eof) when its stdin closes. It then prints `STOP <reason>` on
stderr and exits 0. It listens with a backlog of 4096 (Python's default of 5
drops parallel clients) and serves each connection on its own thread, with
HTTP/1.1 keep-alive.
"""

import argparse
import email.utils
import hashlib
import http.server
import json
import os
import re
import select
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.parse
import zlib

DEFAULT_MIN_SIZE = 100
DEFAULT_MAX_SIZE = 30 * 1024
SMALLEST_SIZE = 100  # every format's framing fits in this

CONTENT_TYPES = {
    "png": "image/png",
    "png256": "image/png",
    "jpeg": "image/jpeg",
    "webp": "image/webp",
    "gif": "image/gif",
    "pbf-gzip": "application/x-protobuf",
}

# Every tile has the same Last-Modified (2023-11-14 22:13:20 UTC).
LAST_MODIFIED = 1700000000

WRONG_TYPE_BODY = (
    b"<!doctype html>\n<html><head><title>Tile server</title></head>"
    b"<body><h1>This is not a tile</h1></body></html>\n"
)


# ---------------------------------------------------------------------------
# Deterministic tile bytes
# ---------------------------------------------------------------------------


def _filler(key, n):
    """n deterministic pseudo-random bytes for `key` (stable across Pythons)."""
    return hashlib.shake_256(key.encode()).digest(n) if n > 0 else b""


def _hash64(key):
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big")


def _unit(*parts):
    """A deterministic draw in [0, 1) from the parts."""
    return _hash64("|".join(str(p) for p in parts)) / 2.0**64


def tile_size(z, x, y, fmt="png", min_size=DEFAULT_MIN_SIZE, max_size=DEFAULT_MAX_SIZE):
    """The exact size in bytes of tile z/x/y."""
    return min_size + _hash64(f"size/{fmt}/{z}/{x}/{y}") % (max_size - min_size + 1)


def _stored_deflate(data):
    """Raw deflate of `data` in stored (uncompressed) blocks: byte-for-byte
    stable, unlike zlib.compress, whose output may change between zlib
    versions."""
    out = bytearray()
    blocks = [data[i : i + 65535] for i in range(0, len(data), 65535)] or [b""]
    for i, block in enumerate(blocks):
        out.append(1 if i == len(blocks) - 1 else 0)
        out += struct.pack("<HH", len(block), len(block) ^ 0xFFFF)
        out += block
    return bytes(out)


def _stored_deflate_size(n):
    return n + 5 * max(1, -(-n // 65535))


def _png_chunk(kind, data):
    return (
        struct.pack(">I", len(data))
        + kind
        + data
        + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def _png(key, size):
    # An 8-bit greyscale image of deterministic noise, W x H, stored without
    # compression, then a private ancillary chunk ("coHo", ignored by
    # decoders) pads the file to exactly `size` bytes.
    fixed = 8 + 25 + 12 + 12  # signature, IHDR, IDAT framing, IEND
    zlib_overhead = 2 + 4  # zlib header and Adler-32
    pad_framing = 12
    budget = size - fixed - zlib_overhead - pad_framing - 5
    width = max(1, min(64, budget - 1))
    height = max(1, budget // (width + 1))
    while height > 1 and (
        fixed + zlib_overhead + _stored_deflate_size(height * (width + 1)) + pad_framing > size
    ):
        height -= 1
    pixels = _filler(key + "/pixels", width * height)
    raw = b"".join(b"\x00" + pixels[r * width : (r + 1) * width] for r in range(height))
    idat = b"\x78\x01" + _stored_deflate(raw) + struct.pack(">I", zlib.adler32(raw))
    head = b"\x89PNG\r\n\x1a\n" + _png_chunk(
        b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    )
    body = head + _png_chunk(b"IDAT", idat)
    pad = size - len(body) - 12 - pad_framing
    if pad < 0:
        raise ValueError(f"PNG tile of {size} bytes is too small")
    return body + _png_chunk(b"coHo", _filler(key + "/pad", pad)) + _png_chunk(b"IEND", b"")


def _png256(key, size):
    # A 256 x 256 RGB map tile a viewer can show (scripts/demo): a flat
    # colour drawn from the key, a lighter 32-pixel checker and a dark
    # border, compressed, then padded to `size` like _png.
    h = _filler(key + "/colour", 3)
    base = bytes(64 + c // 2 for c in h)
    light = bytes(min(255, c + 40) for c in base)
    edge = b"\x30\x30\x30"
    even = b"".join((light if (xx >> 5) % 2 else base) for xx in range(256))
    odd = b"".join((base if (xx >> 5) % 2 else light) for xx in range(256))
    rows = [b"\x00" + edge * 256]
    for yy in range(1, 256):
        rows.append(b"\x00" + edge + ((odd if (yy >> 5) % 2 else even)[3:]))
    idat = zlib.compress(b"".join(rows), 6)
    head = b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", struct.pack(">IIBBBBB", 256, 256, 8, 2, 0, 0, 0))
    body = head + _png_chunk(b"IDAT", idat)
    pad = size - len(body) - 12 - 12
    if pad < 0:
        raise ValueError(f"png256 tile of {size} bytes is too small (use --min-size 4096)")
    return body + _png_chunk(b"coHo", _filler(key + "/pad", pad)) + _png_chunk(b"IEND", b"")


def _jpeg(key, size):
    # SOI, a JFIF APP0 segment, COM segments of filler, EOI.
    head = b"\xff\xd8" + b"\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    remaining = size - len(head) - 2
    segments = []
    index = 0
    while remaining > 0:
        payload = min(remaining - 4, 65533)
        if remaining - 4 - payload in (1, 2, 3):  # leave room for a last segment
            payload -= 4
        segments.append(
            b"\xff\xfe" + struct.pack(">H", payload + 2) + _filler(f"{key}/{index}", payload)
        )
        remaining -= payload + 4
        index += 1
    return head + b"".join(segments) + b"\xff\xd9"


def _webp(key, size):
    # A RIFF/WEBP container holding one VP8L chunk of filler (even length).
    payload = size - 20
    if payload % 2:
        chunk = b"VP8L" + struct.pack("<I", payload - 1) + _filler(key, payload - 1) + b"\x00"
    else:
        chunk = b"VP8L" + struct.pack("<I", payload) + _filler(key, payload)
    return b"RIFF" + struct.pack("<I", size - 8) + b"WEBP" + chunk


def _gif(key, size):
    # Header, a 1x1 logical screen without colour table, filler, trailer.
    head = b"GIF89a" + struct.pack("<HHBBB", 1, 1, 0, 0, 0)
    return head + _filler(key, size - len(head) - 1) + b";"


def _gzip(key, size):
    # A gzip member (mtime 0, OS unknown) holding filler in stored blocks. A
    # size that falls in the 5-byte gap at a block boundary gets an extra,
    # empty, non-final stored block in front.
    target = size - 10 - 8
    for extra in range(2):
        for blocks in range(1, target // 65535 + 3):
            n = target - 5 * extra - 5 * blocks
            if n >= 0 and max(1, -(-n // 65535)) == blocks:
                data = _filler(key, n)
                body = b"\x00\x00\x00\xff\xff" * extra + _stored_deflate(data)
                header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
                crc = zlib.crc32(data) & 0xFFFFFFFF
                return header + body + struct.pack("<II", crc, len(data) & 0xFFFFFFFF)
    raise ValueError(f"no gzip framing of {size} bytes")


_GENERATORS = {"png": _png, "png256": _png256, "jpeg": _jpeg, "webp": _webp, "gif": _gif, "pbf-gzip": _gzip}


def tile_bytes(z, x, y, fmt="png", min_size=DEFAULT_MIN_SIZE, max_size=DEFAULT_MAX_SIZE):
    """The exact bytes the server sends for tile z/x/y (XYZ row y)."""
    if fmt not in _GENERATORS:
        raise ValueError(f"unknown format {fmt!r}; known: {', '.join(_GENERATORS)}")
    if not SMALLEST_SIZE <= min_size <= max_size:
        raise ValueError(f"need {SMALLEST_SIZE} <= min_size <= max_size")
    size = tile_size(z, x, y, fmt, min_size, max_size)
    data = _GENERATORS[fmt](f"tile/{fmt}/{z}/{x}/{y}", size)
    assert len(data) == size, (fmt, size, len(data))
    return data


def tile_sha256(z, x, y, fmt="png", min_size=DEFAULT_MIN_SIZE, max_size=DEFAULT_MAX_SIZE):
    """The hex sha256 of tile_bytes(z, x, y, ...)."""
    return hashlib.sha256(tile_bytes(z, x, y, fmt, min_size, max_size)).hexdigest()


def etag_of(data):
    return '"' + hashlib.sha256(data).hexdigest()[:20] + '"'


def quadkey_to_tile(key):
    """(z, x, y) of a Bing quadkey string of digits 0-3."""
    x = y = 0
    for digit in key:
        d = int(digit)
        x = (x << 1) | (d & 1)
        y = (y << 1) | (d >> 1)
    return len(key), x, y


# ---------------------------------------------------------------------------
# The server
# ---------------------------------------------------------------------------

_XYZ_PATH = re.compile(r"^(?:/[^?#]*)?/(\d{1,10})/(\d{1,10})/(\d{1,10})(?:@\dx)?(?:\.\w+)?$")
_QUADKEY_PATH = re.compile(r"^(?:/[^?#]*)?/q/([0-3]{0,30})(?:\.\w+)?$")


class TileServer(http.server.ThreadingHTTPServer):
    request_queue_size = 4096
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, options):
        self.options = options
        self.lock = threading.Lock()
        self.stop_event = threading.Event()
        self.stop_reason = None
        self.stalled = set()  # handlers in a stall whose request still counts as active
        self._reset_stats()
        super().__init__(address, TileHandler)

    def _reset_stats(self):
        self.attempts = {}
        self.stats = {
            "requests": 0,
            "paths": {},
            "status": {},
            "connections": 0,
            "active_connections": 0,
            "max_active_connections": 0,
            "active_requests": 0,
            "max_active_requests": 0,
            "resets": 0,
            "truncated": 0,
            "stalls": 0,
            "trickles": 0,
            "bytes_sent": 0,
            "range_requests": 0,
        }
        if self.options.record:
            self.stats["log"] = []
        if self.options.count_header:
            self.stats["headers"] = {name: {} for name in self.options.count_header}

    def handle_error(self, request, client_address):
        # A client that goes away mid-response (an interrupted download) is
        # normal here, not worth a traceback.
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)

    def reset(self):
        with self.lock:
            active = self.stats["active_connections"]
            requests = self.stats["active_requests"]
            self._reset_stats()
            self.stats["active_connections"] = active
            self.stats["max_active_connections"] = active
            self.stats["active_requests"] = requests
            self.stats["max_active_requests"] = requests

    def snapshot(self):
        with self.lock:
            return json.loads(json.dumps(self.stats))

    def count(self, key, n=1):
        with self.lock:
            self.stats[key] += n

    def stop(self, reason):
        with self.lock:
            if self.stop_reason is None:
                self.stop_reason = reason
        self.stop_event.set()


class TileHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "cohort-tile-server/1"
    # Headers and body go out in separate writes: with Nagle on, the body
    # waits for the client's delayed ACK (40 ms a tile on keep-alive).
    disable_nagle_algorithm = True

    def setup(self):
        self.timeout = self.server.options.idle_timeout
        super().setup()
        with self.server.lock:
            stats = self.server.stats
            stats["connections"] += 1
            stats["active_connections"] += 1
            stats["max_active_connections"] = max(
                stats["max_active_connections"], stats["active_connections"]
            )

    def finish(self):
        try:
            super().finish()
        except OSError:
            pass
        finally:
            with self.server.lock:
                self.server.stats["active_connections"] -= 1

    def log_message(self, format, *args):
        if self.server.options.verbose:
            sys.stderr.write("tile_server: %s %s\n" % (self.address_string(), format % args))

    # -- responses --------------------------------------------------------

    def _status(self, code):
        with self.server.lock:
            status = self.server.stats["status"]
            status[str(code)] = status.get(str(code), 0) + 1
        self._log(str(code))

    def _log(self, event):
        if self.server.options.record:
            path = urllib.parse.urlsplit(self.path).path
            with self.server.lock:
                self.server.stats["log"].append([time.monotonic(), path, event])

    def _send(self, code, body=b"", content_type="text/plain", headers=(), head_only=False,
              counted=True, trickle_seconds=0.0):
        if counted:
            self._status(code)
        self.send_response(code)
        for name, value in headers:
            self.send_header(name, value)
        if code != 304:
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body and not head_only and code != 304:
            # Counted before the write: a client that reads /_stats as soon
            # as it has the body must see it counted.
            if code in (200, 206) and counted:
                self.server.count("bytes_sent", len(body))
            if trickle_seconds > 0:
                self._trickle(body, trickle_seconds)
            else:
                self.wfile.write(body)

    def _trickle(self, body, seconds):
        """Writes `body` in pieces spread evenly over `seconds` (a piece every
        50 ms or so, never less than a byte)."""
        self.server.count("trickles")
        self._log("trickle")
        pieces = max(1, min(len(body), round(seconds / 0.05)))
        pause = seconds / pieces
        for i in range(pieces):
            self.wfile.write(body[i * len(body) // pieces : (i + 1) * len(body) // pieces])
            self.wfile.flush()
            if i + 1 < pieces and self.server.stop_event.wait(pause):
                return

    def _end_active(self):
        with self.server.lock:
            if self._active:
                self._active = False
                self.server.stats["active_requests"] -= 1
            self.server.stalled.discard(self)

    def _client_gone(self, wait):
        """Whether the client has closed the connection (waiting up to
        `wait` seconds for it to say something)."""
        try:
            readable, _, _ = select.select([self.connection], [], [], wait)
            return bool(readable) and self.connection.recv(1, socket.MSG_PEEK) == b""
        except (OSError, ValueError):
            return True

    def _stall(self, seconds):
        """Waits `seconds` (or until the server stops) without answering,
        watching the connection: once the client has closed it (given up),
        the request no longer counts as active. The wait goes on all the
        same, as a real stalled server's would."""
        with self.server.lock:
            self.server.stalled.add(self)
        end = time.monotonic() + seconds
        while not self.server.stop_event.is_set():
            left = end - time.monotonic()
            if left <= 0:
                break
            if not self._active:
                self.server.stop_event.wait(left)
            elif self._client_gone(min(left, 0.05)):
                self._end_active()
            else:
                self.server.stop_event.wait(min(left, 0.01))  # bytes waiting: not a close
        self._end_active()

    def _reset_connection(self):
        self._status("reset")
        self.server.count("resets")
        self.close_connection = True
        try:
            self.connection.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
            )
            self.connection.close()
        except OSError:
            pass

    def _send_truncated(self, body, content_type, head_only):
        self._status("truncated")
        self.server.count("truncated")
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head_only:
            self.wfile.write(body[: len(body) // 2])
        self.wfile.flush()
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    # -- routing ----------------------------------------------------------

    def do_GET(self):
        self._handle(head_only=False)

    def do_HEAD(self):
        self._handle(head_only=True)

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        path = urllib.parse.urlsplit(self.path).path
        if path == "/_reset":
            self.server.reset()
            self._send(200, b'{"ok": true}\n', "application/json", counted=False)
        else:
            self._send(405, b"only POST /_reset\n", counted=False)

    def _handle(self, head_only):
        path = urllib.parse.urlsplit(self.path).path
        if path == "/_stats":
            body = (json.dumps(self.server.snapshot(), sort_keys=True) + "\n").encode()
            self._send(200, body, "application/json", head_only=head_only, counted=False)
            return
        if path == "/_reset":
            self._send(405, b"use POST /_reset\n", headers=[("Allow", "POST")], counted=False)
            return
        if path == "/tilejson.json" and self.server.options.tilejson:
            time.sleep(self.server.options.tilejson_delay)
            with open(self.server.options.tilejson, "rb") as f:
                body = f.read().replace(b"__PORT__", str(self.server.server_address[1]).encode())
            self._send(200, body, "application/json", head_only=head_only, counted=False)
            return
        self._active = False
        try:
            self._serve_tile(path, head_only)
        finally:
            self._end_active()
            options = self.server.options
            with self.server.lock:
                served = self.server.stats["requests"]
            if options.max_requests and served >= options.max_requests:
                self.server.stop("max-requests")

    def _serve_tile(self, path, head_only):
        server = self.server
        o = server.options
        # A client closes a connection it gave up on before it sends its next
        # request: settle the stalled requests it left, so that the count of
        # active requests is exact when this one arrives.
        with server.lock:
            stalled = list(server.stalled)
        for other in stalled:
            if other._client_gone(0):
                other._end_active()
        with server.lock:
            attempt = server.attempts.get(path, 0)
            server.attempts[path] = attempt + 1
            served_before = server.stats["requests"]
            server.stats["requests"] += 1
            server.stats["active_requests"] += 1
            server.stats["max_active_requests"] = max(
                server.stats["max_active_requests"], server.stats["active_requests"]
            )
            self._active = True
            server.stats["paths"][path] = server.stats["paths"].get(path, 0) + 1
            if o.record:
                server.stats["log"].append([time.monotonic(), path, "request"])
            for name in o.count_header or ():
                value = self.headers.get(name, "")
                counts = server.stats["headers"][name]
                counts[value] = counts.get(value, 0) + 1

        archive = o.archive and path == "/" + os.path.basename(o.archive)
        if not archive:
            tile = self._parse_tile(path)
            if tile is None:
                self._send(404, b"not a tile path; use /{z}/{x}/{y}.png or /q/{quadkey}\n")
                return
            z, x, y = tile

        if o.stall_rate and _unit(o.seed, path, attempt, "stall") < o.stall_rate:
            server.count("stalls")
            self._log("stall")
            self._stall(o.stall_seconds)

        if o.break_with and served_before >= o.break_after:
            if o.break_with == 200:
                self._send(200, WRONG_TYPE_BODY, "text/html; charset=utf-8", head_only=head_only)
            else:
                self._send(o.break_with, b"broken on purpose (--break-with)\n")
            return
        if attempt < o.fail_first:
            self._send(503, b"failing the first attempts (--fail-first)\n")
            return
        if o.missing_rate and _unit(o.seed, path, "missing") < o.missing_rate:
            self._send(404, b"no such tile (--missing-rate)\n")
            return
        if o.empty_rate and _unit(o.seed, path, "empty") < o.empty_rate:
            self._status(204)
            self.send_response(204)
            self.end_headers()
            return
        if o.refuse_rate and _unit(o.seed, path, "refuse") < o.refuse_rate:
            self._send(403, b"forbidden (--refuse-rate)\n")
            return

        if archive:
            data, range_headers = self._archive_range(o.archive)
            if data is None:
                self._send(416, b"range not satisfiable\n", headers=range_headers)
                return
            content_type = "application/octet-stream"
        else:
            data = tile_bytes(z, x, y, o.format, o.min_size, o.max_size)
            content_type = CONTENT_TYPES[o.format]
        draw = _unit(o.seed, path, attempt, "fault")
        edge = o.fail_rate
        if draw < edge:
            code = 500 if _unit(o.seed, path, attempt, "code") < 0.5 else 503
            self._send(code, b"injected server error (--fail-rate)\n")
            return
        edge += o.rate_limit_rate
        if draw < edge:
            self._send(
                429,
                b"slow down (--rate-limit-rate)\n",
                headers=[("Retry-After", str(o.retry_after))],
            )
            return
        edge += o.unavailable_rate
        if draw < edge:
            self._send(
                503,
                b"come back later (--unavailable-rate)\n",
                headers=[("Retry-After", str(o.retry_after))],
            )
            return
        edge += o.reset_rate
        if draw < edge:
            self._reset_connection()
            return
        edge += o.truncate_rate
        if draw < edge:
            self._send_truncated(data, content_type, head_only)
            return
        edge += o.wrong_type_rate
        if draw < edge:
            self._send(200, WRONG_TYPE_BODY, "text/html; charset=utf-8", head_only=head_only)
            return

        etag = etag_of(data)
        validators = [
            ("ETag", etag),
            ("Last-Modified", email.utils.formatdate(LAST_MODIFIED, usegmt=True)),
            ("Cache-Control", "public, max-age=86400"),
        ]
        trickle = o.trickle_rate and _unit(o.seed, path, attempt, "trickle") < o.trickle_rate
        if archive:
            status = 206 if range_headers else 200
            self._send(status, data, content_type, headers=validators + range_headers,
                       head_only=head_only,
                       trickle_seconds=o.trickle_seconds if trickle else 0.0)
            return
        if self._not_modified(etag):
            self._send(304, headers=validators)
            return
        trickle = o.trickle_rate and _unit(o.seed, path, attempt, "trickle") < o.trickle_rate
        if o.gzip_encoding and o.format == "pbf-gzip":
            validators.append(("Content-Encoding", "gzip"))
        self._send(200, data, content_type, headers=validators, head_only=head_only,
                   trickle_seconds=o.trickle_seconds if trickle else 0.0)

    def _archive_range(self, archive_path):
        """The bytes of the file that the request's Range asks for (one
        "bytes=A-B" or "bytes=A-"; the whole file without one) and the
        headers to send with them; (None, headers) when it is past the end."""
        size = os.path.getsize(archive_path)
        m = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range", "").strip())
        if not m:
            with open(archive_path, "rb") as f:
                return f.read(), []
        first = int(m.group(1))
        last = min(int(m.group(2)) if m.group(2) else size - 1, size - 1)
        if first >= size or last < first:
            return None, [("Content-Range", f"bytes */{size}")]
        with open(archive_path, "rb") as f:
            f.seek(first)
            data = f.read(last - first + 1)
        self.server.count("range_requests")
        return data, [("Content-Range", f"bytes {first}-{last}/{size}"), ("Accept-Ranges", "bytes")]

    def _parse_tile(self, path):
        m = _XYZ_PATH.match(path)
        if m:
            z, x, y = (int(g) for g in m.groups())
        else:
            m = _QUADKEY_PATH.match(path)
            if not m:
                return None
            z, x, y = quadkey_to_tile(m.group(1))
        if z > 30 or x >= 1 << z or y >= 1 << z:
            return None
        if self.server.options.tms and not _QUADKEY_PATH.match(path):
            y = (1 << z) - 1 - y
        return z, x, y

    def _not_modified(self, etag):
        inm = self.headers.get("If-None-Match")
        if inm is not None:
            tags = [t.strip() for t in inm.split(",")]
            return "*" in tags or any(t.removeprefix("W/") == etag for t in tags)
        ims = self.headers.get("If-Modified-Since")
        if ims is not None:
            try:
                since = email.utils.parsedate_to_datetime(ims).timestamp()
            except (TypeError, ValueError, IndexError, OverflowError):
                return False
            return since >= LAST_MODIFIED
        return False


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------


def _rate(text):
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text} is not a rate in [0, 1]")
    return value


def _serve_parser():
    p = argparse.ArgumentParser(
        prog="tile_server.py [serve]",
        description="Serve deterministic tiles with injected faults on loopback.",
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0 picks a free port (printed as PORT n)")
    p.add_argument("--seed", type=int, default=0, help="seed of every fault decision")
    p.add_argument("--format", choices=sorted(CONTENT_TYPES), default="png")
    p.add_argument("--min-size", type=int, default=DEFAULT_MIN_SIZE, help="smallest tile, bytes")
    p.add_argument("--max-size", type=int, default=DEFAULT_MAX_SIZE, help="largest tile, bytes")
    p.add_argument("--tms", action="store_true", help="read y in /{z}/{x}/{y} as a TMS row")
    p.add_argument("--gzip-encoding", action="store_true",
                   help="send pbf-gzip tiles with Content-Encoding: gzip, as vector tile "
                        "servers do")
    p.add_argument("--tilejson", metavar="FILE",
                   help="serve FILE at /tilejson.json, __PORT__ replaced by the port")
    p.add_argument("--tilejson-delay", type=float, default=0.0, metavar="SECONDS",
                   help="wait this long before answering /tilejson.json")
    p.add_argument("--fail-rate", type=_rate, default=0.0, help="500/503 per attempt")
    p.add_argument("--rate-limit-rate", type=_rate, default=0.0, help="429 per attempt")
    p.add_argument("--unavailable-rate", type=_rate, default=0.0,
                   help="503 with Retry-After per attempt")
    p.add_argument("--retry-after", type=int, default=1,
                   help="Retry-After of a 429 or --unavailable-rate 503, seconds")
    p.add_argument("--reset-rate", type=_rate, default=0.0, help="TCP reset per attempt")
    p.add_argument("--truncate-rate", type=_rate, default=0.0, help="short body per attempt")
    p.add_argument("--wrong-type-rate", type=_rate, default=0.0, help="text/html per attempt")
    p.add_argument("--stall-rate", type=_rate, default=0.0, help="stall per attempt")
    p.add_argument("--stall-seconds", type=float, default=5.0)
    p.add_argument("--trickle-rate", type=_rate, default=0.0,
                   help="send a 200's body slowly, per attempt")
    p.add_argument("--trickle-seconds", type=float, default=5.0,
                   help="how long a trickled body takes")
    p.add_argument("--archive", metavar="FILE",
                   help="also serve FILE at /BASENAME with Range requests (a PMTiles archive); "
                        "the per-attempt faults apply to it too")
    p.add_argument("--missing-rate", type=_rate, default=0.0, help="404 per path")
    p.add_argument("--refuse-rate", type=_rate, default=0.0, help="403 per path")
    p.add_argument("--empty-rate", type=_rate, default=0.0, help="204 per path")
    p.add_argument("--fail-first", type=int, default=0, metavar="K",
                   help="503 for the first K attempts of every path")
    p.add_argument("--break-with", type=int, default=0, metavar="CODE",
                   help="answer every tile request with this status (200: an HTML page)")
    p.add_argument("--break-after", type=int, default=0, metavar="N",
                   help="serve the first N tile requests normally before --break-with")
    p.add_argument("--max-requests", type=int, default=0,
                   help="stop after this many tile requests (0: no limit)")
    p.add_argument("--timeout", type=float, default=300.0, help="stop after this many seconds")
    p.add_argument("--idle-timeout", type=float, default=30.0,
                   help="close a keep-alive connection idle this long")
    p.add_argument("--stop-on-stdin-eof", action="store_true",
                   help="stop when stdin closes (the parent died)")
    p.add_argument("--verbose", action="store_true", help="log every request on stderr")
    p.add_argument("--count-header", action="append", metavar="NAME",
                   help='count the values of this request header in /_stats "headers"')
    p.add_argument("--record", action="store_true",
                   help='keep a "log" of request and answer times in /_stats')
    return p


def _expect_parser():
    p = argparse.ArgumentParser(
        prog="tile_server.py expect",
        description="Print the sha256 of the bytes the server sends for tile Z/X/Y (XYZ row).",
    )
    p.add_argument("z", type=int)
    p.add_argument("x", type=int)
    p.add_argument("y", type=int)
    p.add_argument("--format", choices=sorted(CONTENT_TYPES), default="png")
    p.add_argument("--min-size", type=int, default=DEFAULT_MIN_SIZE)
    p.add_argument("--max-size", type=int, default=DEFAULT_MAX_SIZE)
    p.add_argument("--raw", action="store_true", help="write the bytes instead of the sha256")
    return p


def serve(options):
    """Runs the server until it stops by itself; returns the exit status."""
    if options.fail_rate + options.rate_limit_rate + options.unavailable_rate + \
            options.reset_rate + options.truncate_rate + options.wrong_type_rate > 1.0 + 1e-9:
        print("tile_server: the per-attempt rates (--fail-rate, --rate-limit-rate, "
              "--unavailable-rate, --reset-rate, --truncate-rate, --wrong-type-rate) "
              "must sum to at most 1",
              file=sys.stderr)
        return 2
    if not SMALLEST_SIZE <= options.min_size <= options.max_size:
        print(f"tile_server: need {SMALLEST_SIZE} <= --min-size <= --max-size", file=sys.stderr)
        return 2
    try:
        server = TileServer((options.host, options.port), options)
    except OSError as e:
        # One line, no traceback: a taken port is an ordinary mistake.
        print(f"tile_server: cannot listen on {options.host}:{options.port}: "
              f"{e.strerror or e}", file=sys.stderr, flush=True)
        return 1
    print(f"PORT {server.server_address[1]}", flush=True)

    if options.stop_on_stdin_eof:
        def watch_stdin():
            while sys.stdin.buffer.read(4096):
                pass
            server.stop("stdin-eof")
        threading.Thread(target=watch_stdin, daemon=True).start()

    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        if not server.stop_event.wait(options.timeout):
            server.stop("timeout")
    except KeyboardInterrupt:
        server.stop("interrupted")
    server.shutdown()
    server.server_close()
    print(f"STOP {server.stop_reason}", file=sys.stderr, flush=True)
    sys.stdout.flush()
    # Handler threads may still be stalled or mid-response; they are daemons
    # and must not delay the exit.
    os._exit(0)


def spawn(*args, python=sys.executable):
    """Starts this server as a subprocess with command-line `args` and returns
    (process, port) once it listens. Its stdin is a pipe from the caller, so
    with --stop-on-stdin-eof it also stops when the caller dies. The caller
    terminates the process (it stops by itself after --timeout anyway)."""
    process = subprocess.Popen(
        [python, os.path.abspath(__file__), *map(str, args)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    line = process.stdout.readline()
    if not line.startswith("PORT "):
        process.kill()
        process.wait()
        raise RuntimeError(f"tile server did not start: {line!r}")
    return process, int(line.split()[1])


class Running:
    """This server as a subprocess for the duration of a `with` block
    (`spawn` with `args`); `process` and `port` are set inside it."""

    def __init__(self, *args):
        self.args = list(map(str, args))

    def __enter__(self):
        self.process, self.port = spawn(*self.args)
        return self

    def __exit__(self, *exc):
        if self.process.poll() is None:
            self.process.terminate()
        self.process.wait(timeout=10)
        self.process.stdin.close()
        self.process.stdout.close()


def main(argv):
    if argv and argv[0] == "expect":
        a = _expect_parser().parse_args(argv[1:])
        data = tile_bytes(a.z, a.x, a.y, a.format, a.min_size, a.max_size)
        if a.raw:
            sys.stdout.buffer.write(data)
        else:
            print(hashlib.sha256(data).hexdigest())
        return 0
    if argv and argv[0] == "serve":
        argv = argv[1:]
    return serve(_serve_parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
