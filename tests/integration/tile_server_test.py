#!/usr/bin/env python3
"""Tests of tests/support/tile_server.py, the fault-injecting tile server.

Run: python3 tests/integration/tile_server_test.py [name-substring ...]
Prints one line per test and a final `N passed, N failed` line; exits 1 if
any test failed. Each test starts its own server on port 0.
"""

import email.utils
import hashlib
import http.client
import json
import os
import struct
import socket
import subprocess
import sys
import threading
import time
import traceback
import zlib

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SERVER = os.path.join(ROOT, "tests", "support", "tile_server.py")
sys.path.insert(0, os.path.dirname(SERVER))

import tile_server  # noqa: E402

TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


class Server(tile_server.Running):
    """A tile server subprocess for the duration of a `with` block."""

    def __init__(self, *args):
        super().__init__("--timeout", 60, *args)

    def connection(self, timeout=10):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def get(self, path, headers=None, method="GET"):
        """(status, headers, body) of one request on a fresh connection."""
        conn = self.connection()
        try:
            conn.request(method, path, headers=headers or {})
            response = conn.getresponse()
            return response.status, response.headers, response.read()
        finally:
            conn.close()

    def stats(self):
        status, _, body = self.get("/_stats")
        check(status == 200, f"/_stats gave {status}")
        return json.loads(body)


def check(condition, message="check failed"):
    if not condition:
        raise AssertionError(message)


def equal(actual, expected, what="value"):
    if actual != expected:
        raise AssertionError(f"{what}: expected {expected!r}, got {actual!r}")


def png_is_valid(data):
    """Parses a PNG: signature, chunk CRCs, IHDR, IDAT inflating to exactly
    the image's filtered scanlines, IEND last."""
    check(data[:8] == b"\x89PNG\r\n\x1a\n", "PNG signature")
    pos, chunks, idat = 8, [], b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        check(zlib.crc32(kind + body) & 0xFFFFFFFF == crc, f"CRC of {kind}")
        chunks.append(kind)
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", body[:10])
        if kind == b"IDAT":
            idat += body
        pos += 12 + length
    equal(pos, len(data), "PNG length")
    equal(chunks[0], b"IHDR", "first chunk")
    equal(chunks[-1], b"IEND", "last chunk")
    equal((depth, colour), (8, 0), "bit depth and colour type")
    equal(len(zlib.decompress(idat)), height * (width + 1), "inflated IDAT size")


# ---------------------------------------------------------------------------
# Tile bytes
# ---------------------------------------------------------------------------


@test
def serves_the_expected_png_bytes():
    with Server() as s:
        status, headers, body = s.get("/3/1/2.png")
        equal(status, 200, "status")
        equal(headers["Content-Type"], "image/png", "content type")
        equal(body, tile_server.tile_bytes(3, 1, 2), "body")
        check(headers["ETag"] and headers["Last-Modified"], "validators present")
        png_is_valid(body)
    expected = subprocess.run(
        [sys.executable, SERVER, "expect", "3", "1", "2"], capture_output=True, text=True,
        check=True,
    ).stdout.strip()
    equal(expected, hashlib.sha256(body).hexdigest(), "expect subcommand sha256")


@test
def tile_bytes_are_deterministic_distinct_and_sized_100_b_to_30_kib():
    sizes, digests = [], set()
    for x in range(16):
        for y in range(16):
            data = tile_server.tile_bytes(8, x, y)
            equal(data, tile_server.tile_bytes(8, x, y), "same tile twice")
            sizes.append(len(data))
            digests.add(hashlib.sha256(data).hexdigest())
    equal(len(digests), 256, "distinct tiles")
    check(min(sizes) >= 100 and max(sizes) <= 30 * 1024, f"sizes {min(sizes)}..{max(sizes)}")
    check(min(sizes) < 3000 and max(sizes) > 27000, f"sizes spread {min(sizes)}..{max(sizes)}")
    for size in (100, 101, 5000, 65600, 200000):
        png_is_valid(tile_server.tile_bytes(1, 0, 0, "png", size, size))


@test
def every_format_has_its_magic_and_content_type():
    magic = {
        "jpeg": (b"\xff\xd8\xff", "image/jpeg"),
        "webp": (b"RIFF", "image/webp"),
        "gif": (b"GIF89a", "image/gif"),
        "pbf-gzip": (b"\x1f\x8b", "application/x-protobuf"),
    }
    for fmt, (prefix, content_type) in magic.items():
        with Server("--format", fmt) as s:
            status, headers, body = s.get("/5/3/4.pbf")
            equal(status, 200, f"{fmt} status")
            equal(headers["Content-Type"], content_type, f"{fmt} content type")
            check(body.startswith(prefix), f"{fmt} magic")
            equal(body, tile_server.tile_bytes(5, 3, 4, fmt), f"{fmt} body")
            if fmt == "webp":
                equal(body[8:12], b"WEBP", "webp form type")
                equal(struct.unpack("<I", body[4:8])[0], len(body) - 8, "RIFF size")
            if fmt == "pbf-gzip":
                zlib.decompress(body, 31)  # a complete gzip stream
            if fmt == "jpeg":
                check(body.endswith(b"\xff\xd9"), "JPEG EOI")


@test
def size_knobs_bound_the_tiles():
    with Server("--min-size", 500, "--max-size", 600) as s:
        for x in range(8):
            _, _, body = s.get(f"/3/{x}/0.png")
            check(500 <= len(body) <= 600, f"size {len(body)}")
            equal(body, tile_server.tile_bytes(3, x, 0, "png", 500, 600), "body")


@test
def tms_rows_and_quadkeys_address_the_same_tile():
    expected = tile_server.tile_bytes(3, 1, 2)
    with Server("--tms") as s:
        equal(s.get("/3/1/5.png")[2], expected, "TMS row 5 at zoom 3 is XYZ row 2")
        equal(s.get("/q/021.png")[2], expected, "quadkey of 3/1/2")
    with Server() as s:
        equal(s.get("/tiles/b/3/1/2.png")[2], expected, "any path prefix")
        equal(s.get("/3/1/2@2x.png")[2], expected, "retina suffix")
        equal(s.get("/3/1/2.png?key=abc")[2], expected, "query ignored")


@test
def bad_paths_are_404():
    with Server() as s:
        for path in ("/", "/foo", "/31/0/0.png", "/2/4/0.png", "/2/0/4.png", "/q/4.png"):
            equal(s.get(path)[0], 404, path)
        equal(s.get("/_reset")[0], 405, "GET /_reset")


@test
def head_sends_headers_only():
    with Server() as s:
        conn = s.connection()
        conn.request("HEAD", "/2/1/1.png")
        response = conn.getresponse()
        equal(response.status, 200, "status")
        equal(int(response.headers["Content-Length"]), len(tile_server.tile_bytes(2, 1, 1)),
              "Content-Length")
        equal(response.read(), b"", "body")
        conn.request("GET", "/2/1/1.png")  # the connection is still usable
        equal(conn.getresponse().read(), tile_server.tile_bytes(2, 1, 1), "next body")
        conn.close()


# ---------------------------------------------------------------------------
# Connections
# ---------------------------------------------------------------------------


@test
def keep_alive_reuses_one_connection():
    with Server() as s:
        conn = s.connection()
        for i in range(20):
            conn.request("GET", f"/5/{i}/7.png")
            response = conn.getresponse()
            equal(response.read(), tile_server.tile_bytes(5, i, 7), f"body {i}")
            check(not response.will_close, "server asked to close")
        conn.close()
        stats = s.stats()
        equal(stats["connections"], 2, "connections (one for tiles, one for /_stats)")
        equal(stats["requests"], 20, "requests")


@test
def sixty_four_parallel_connections_are_accepted():
    count = 64
    with Server() as s:
        opened = threading.Barrier(count, timeout=30)
        done = threading.Barrier(count, timeout=30)
        results = [None] * count
        connect_seconds = [0.0] * count

        def client(i):
            try:
                conn = s.connection(timeout=30)
                opened.wait()  # connect together
                start = time.monotonic()
                conn.connect()
                connect_seconds[i] = time.monotonic() - start
                conn.request("GET", f"/10/{i}/{i}.png")
                body = conn.getresponse().read()
                results[i] = body == tile_server.tile_bytes(10, i, i)
                done.wait()  # all connections open at once
                conn.close()
            except Exception as e:  # reported below
                results[i] = e

        threads = [threading.Thread(target=client, args=(i,)) for i in range(count)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        check(all(r is True for r in results), f"results: {results}")
        # The kernel completes handshakes into the listen backlog; when it
        # overflows (Python's default of 5), SYNs are dropped and clients
        # retry after 1 s.
        check(max(connect_seconds) < 1.0, f"slowest connect {max(connect_seconds):.2f} s")
        stats = s.stats()
        equal(stats["requests"], count, "requests")
        check(stats["connections"] >= count, f"connections {stats['connections']}")
        equal(stats["max_active_connections"], count, "max active connections")
    check(tile_server.TileServer.request_queue_size >= 1024, "listen backlog")


# ---------------------------------------------------------------------------
# Faults
# ---------------------------------------------------------------------------


@test
def rate_limit_gives_429_with_retry_after():
    with Server("--rate-limit-rate", 1, "--retry-after", 7) as s:
        status, headers, _ = s.get("/4/1/1.png")
        equal(status, 429, "status")
        equal(headers["Retry-After"], "7", "Retry-After")


@test
def unavailable_gives_503_with_retry_after():
    with Server("--unavailable-rate", 1, "--retry-after", 3) as s:
        status, headers, _ = s.get("/4/1/1.png")
        equal(status, 503, "status")
        equal(headers["Retry-After"], "3", "Retry-After")
    # Without it, a 503 of --fail-rate has no Retry-After.
    with Server("--fail-rate", 1) as s:
        answers = [s.get(f"/6/{x}/0.png") for x in range(24)]
        check(any(status == 503 for status, _, _ in answers), "no 503 from --fail-rate")
        check(all(h["Retry-After"] is None for _, h, _ in answers), "Retry-After on a --fail-rate")


@test
def fail_rate_gives_500_and_503():
    with Server("--fail-rate", 1) as s:
        codes = {s.get(f"/6/{x}/0.png")[0] for x in range(24)}
        equal(codes, {500, 503}, "status codes")


@test
def fail_first_k_then_success():
    with Server("--fail-first", 2) as s:
        equal([s.get("/4/2/3.png")[0] for _ in range(4)], [503, 503, 200, 200], "one path")
        equal(s.get("/4/2/4.png")[0], 503, "attempts are counted per path")
        stats = s.stats()
        equal(stats["paths"], {"/4/2/3.png": 4, "/4/2/4.png": 1}, "paths")
        equal(stats["status"], {"503": 3, "200": 2}, "status counts")


@test
def break_with_answers_every_request_after_the_first_n():
    with Server("--break-with", 503, "--break-after", 2) as s:
        equal([s.get(f"/4/{x}/3.png")[0] for x in range(5)], [200, 200, 503, 503, 503],
              "statuses in order")
        equal(s.stats()["status"], {"200": 2, "503": 3}, "status counts")
    with Server("--break-with", 200) as s:
        status, headers, body = s.get("/3/0/0.png")
        equal(status, 200, "status")
        check(headers["Content-Type"].startswith("text/html"), headers["Content-Type"])
        check(body.startswith(b"<!doctype html>"), "an HTML page, not a tile")


@test
def missing_tiles_are_404_on_every_attempt():
    with Server("--missing-rate", 0.5, "--seed", 3) as s:
        outcomes = {}
        for x in range(30):
            codes = [s.get(f"/5/{x}/1.png")[0] for _ in range(3)]
            equal(len(set(codes)), 1, f"same answer on every attempt for x={x}")
            outcomes[x] = codes[0]
        equal(set(outcomes.values()), {200, 404}, "some missing, some not")


@test
def reset_closes_the_connection_without_a_response():
    with Server("--reset-rate", 1) as s:
        conn = s.connection()
        try:
            conn.request("GET", "/3/0/0.png")
            conn.getresponse().read()
            raise AssertionError("expected a connection error")
        except (ConnectionError, http.client.HTTPException):
            pass
        finally:
            conn.close()
        stats = s.stats()
        equal(stats["resets"], 1, "resets")
        equal(stats["status"], {"reset": 1}, "status counts")


@test
def truncate_sends_less_than_content_length_then_closes():
    with Server("--truncate-rate", 1) as s:
        conn = s.connection()
        conn.request("GET", "/3/0/0.png")
        response = conn.getresponse()
        equal(int(response.headers["Content-Length"]), len(tile_server.tile_bytes(3, 0, 0)),
              "Content-Length of the whole tile")
        try:
            response.read()
            raise AssertionError("expected IncompleteRead")
        except http.client.IncompleteRead as e:
            check(0 < len(e.partial) < len(tile_server.tile_bytes(3, 0, 0)), "partial body")
        conn.close()
        equal(s.stats()["truncated"], 1, "truncated")


@test
def wrong_type_sends_html():
    with Server("--wrong-type-rate", 1) as s:
        status, headers, body = s.get("/3/0/0.png")
        equal(status, 200, "status")
        check(headers["Content-Type"].startswith("text/html"), headers["Content-Type"])
        check(body.startswith(b"<!doctype html>"), "HTML body")


@test
def stall_delays_the_response():
    with Server("--stall-rate", 1, "--stall-seconds", 0.5, "--record") as s:
        start = time.monotonic()
        status, _, body = s.get("/3/0/0.png")
        elapsed = time.monotonic() - start
        equal(status, 200, "status")
        equal(body, tile_server.tile_bytes(3, 0, 0), "body after the stall")
        check(elapsed >= 0.45, f"answered after {elapsed:.3f} s")
        stats = s.stats()
        equal(stats["stalls"], 1, "stalls")
        equal([(path, what) for _, path, what in stats["log"]],
              [("/3/0/0.png", "request"), ("/3/0/0.png", "stall"), ("/3/0/0.png", "200")], "log")
        check(stats["log"][2][0] - stats["log"][1][0] >= 0.45, "logged the answer after the stall")


@test
def trickle_sends_the_body_slowly_without_stalling():
    with Server("--trickle-rate", 1, "--trickle-seconds", 1, "--min-size", 2000, "--record") as s:
        conn = s.connection()
        start = time.monotonic()
        conn.request("GET", "/3/0/0.png")
        response = conn.getresponse()
        headers_after = time.monotonic() - start
        pieces = []  # (seconds since start, bytes)
        while True:
            data = response.read1(65536)
            if not data:
                break
            pieces.append((time.monotonic() - start, data))
        conn.close()
        elapsed = time.monotonic() - start
        equal(response.status, 200, "status")
        equal(b"".join(d for _, d in pieces), tile_server.tile_bytes(3, 0, 0, min_size=2000),
              "body")
        check(headers_after < 0.5, f"headers after {headers_after:.3f} s")
        check(0.9 <= elapsed < 3, f"body took {elapsed:.3f} s")
        # Never a long gap: no second without data (what a stall timeout sees).
        gaps = [b[0] - a[0] for a, b in zip(pieces, pieces[1:])]
        check(len(pieces) >= 5 and max(gaps) < 0.5, f"{len(pieces)} pieces, gaps {gaps}")
        stats = s.stats()
        equal(stats["trickles"], 1, "trickles")
        equal([what for _, _, what in stats["log"]], ["request", "200", "trickle"], "log")


def status_sequences(seed, paths, tries=40):
    """Per path, the statuses until the first 200, with --fail-rate 0.5."""
    sequences = {}
    with Server("--fail-rate", 0.5, "--seed", seed) as s:
        for path in paths:
            codes = []
            while not codes or codes[-1] != 200:
                check(len(codes) < tries, f"{path} never succeeded: {codes}")
                codes.append(s.get(path)[0])
            sequences[path] = codes
    return sequences


@test
def faults_are_deterministic_per_seed_and_retries_succeed():
    paths = [f"/7/{x}/9.png" for x in range(30)]
    first = status_sequences(1, paths)
    equal(status_sequences(1, paths), first, "same seed, same statuses")
    check(status_sequences(2, paths) != first, "another seed gives other statuses")
    check(any(len(codes) > 1 for codes in first.values()), "some paths failed first")
    check(any(len(codes) == 1 for codes in first.values()), "some paths succeeded at once")


@test
def rates_must_sum_to_at_most_one():
    result = subprocess.run(
        [sys.executable, SERVER, "--fail-rate", "0.6", "--reset-rate", "0.6", "--timeout", "5"],
        capture_output=True, text=True, timeout=30,
    )
    equal(result.returncode, 2, "exit status")
    check("must sum to at most 1" in result.stderr, result.stderr)


# ---------------------------------------------------------------------------
# Revalidation and stats
# ---------------------------------------------------------------------------


@test
def revalidation_gives_304():
    with Server() as s:
        status, headers, body = s.get("/6/10/20.png")
        equal(status, 200, "first status")
        etag, last_modified = headers["ETag"], headers["Last-Modified"]
        equal(etag, tile_server.etag_of(body), "ETag")

        conn = s.connection()  # 304s keep the connection usable
        for request_headers, expected in [
            ({"If-None-Match": etag}, 304),
            ({"If-None-Match": "W/" + etag}, 304),
            ({"If-None-Match": '"other", ' + etag}, 304),
            ({"If-None-Match": '"other"'}, 200),
            ({"If-Modified-Since": last_modified}, 304),
            ({"If-Modified-Since": email.utils.formatdate(2000000000, usegmt=True)}, 304),
            ({"If-Modified-Since": email.utils.formatdate(1600000000, usegmt=True)}, 200),
            ({"If-Modified-Since": "not a date"}, 200),
            ({"If-None-Match": '"other"', "If-Modified-Since": last_modified}, 200),
        ]:
            conn.request("GET", "/6/10/20.png", headers=request_headers)
            response = conn.getresponse()
            data = response.read()
            equal(response.status, expected, f"status for {request_headers}")
            if expected == 304:
                equal(data, b"", "304 body")
                equal(response.headers["ETag"], etag, "ETag on 304")
            else:
                equal(data, body, "body")
        conn.close()


@test
def stats_count_and_reset_clears_them():
    with Server("--fail-first", 1) as s:
        equal(s.get("/2/0/0.png")[0], 503, "first attempt")
        equal(s.get("/2/0/0.png")[0], 200, "second attempt")
        s.get("/2/1/0.png")
        stats = s.stats()
        equal(stats["requests"], 3, "requests")
        equal(stats["paths"], {"/2/0/0.png": 2, "/2/1/0.png": 1}, "paths")
        equal(stats["status"], {"503": 2, "200": 1}, "status")
        equal(stats["bytes_sent"], len(tile_server.tile_bytes(2, 0, 0)), "bytes sent")
        equal(stats["connections"], 4, "connections")

        equal(s.get("/_reset", method="POST")[0], 200, "POST /_reset")
        stats = s.stats()
        equal((stats["requests"], stats["paths"], stats["status"]), (0, {}, {}), "after reset")
        equal(s.get("/2/0/0.png")[0], 503, "attempt counters were reset too")


# ---------------------------------------------------------------------------
# Stopping by itself
# ---------------------------------------------------------------------------


def run_until_exit(args, action=None, limit=15):
    """Starts the server, runs action(port, process), and returns (exit
    status, stderr, seconds from start to exit)."""
    start = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, SERVER, *map(str, args)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        line = process.stdout.readline()
        check(line.startswith("PORT "), f"first line {line!r}")
        if action:
            action(int(line.split()[1]), process)
        process.wait(timeout=limit)
        return process.returncode, process.stderr.read(), time.monotonic() - start
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for stream in (process.stdin, process.stdout, process.stderr):
            stream.close()


@test
def stops_by_itself_at_the_timeout():
    code, stderr, seconds = run_until_exit(["--timeout", "1"])
    equal(code, 0, "exit status")
    check("STOP timeout" in stderr, stderr)
    check(0.9 <= seconds < 10, f"stopped after {seconds:.2f} s")


@test
def stops_by_itself_at_the_timeout_even_with_a_stalled_request():
    def stalled_request(port, process):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("GET", "/1/0/0.png")
        try:
            conn.getresponse().read()
        except (ConnectionError, http.client.HTTPException):
            pass
        conn.close()

    code, stderr, seconds = run_until_exit(
        ["--timeout", "1", "--stall-rate", "1", "--stall-seconds", "60"], stalled_request
    )
    equal(code, 0, "exit status")
    check(seconds < 10, f"stopped after {seconds:.2f} s")


@test
def stops_by_itself_after_max_requests():
    def three_requests(port, process):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        for x in range(3):
            conn.request("GET", f"/2/{x}/0.png")
            response = conn.getresponse()
            response.read()
            equal(response.status, 200, "status")
        conn.close()

    code, stderr, _ = run_until_exit(["--max-requests", "3"], three_requests)
    equal(code, 0, "exit status")
    check("STOP max-requests" in stderr, stderr)


@test
def stops_when_stdin_closes_if_asked():
    def close_stdin(port, process):
        process.stdin.close()

    code, stderr, _ = run_until_exit(["--stop-on-stdin-eof"], close_stdin)
    equal(code, 0, "exit status")
    check("STOP stdin-eof" in stderr, stderr)


@test
def a_taken_port_is_one_line_and_status_1():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        p = subprocess.run([sys.executable, SERVER, "--port", str(port)], capture_output=True,
                           text=True, timeout=60)
    equal(p.returncode, 1, "exit status")
    equal(p.stdout, "", "stdout (no PORT line)")
    lines = p.stderr.splitlines()
    equal(len(lines), 1, f"stderr lines ({p.stderr!r})")
    check(lines[0].startswith(f"tile_server: cannot listen on 127.0.0.1:{port}: "), lines[0])


def main(filters):
    passed = failed = 0
    for fn in TESTS:
        if filters and not any(f in fn.__name__ for f in filters):
            continue
        start = time.monotonic()
        try:
            fn()
            passed += 1
            print(f"ok    {fn.__name__} ({time.monotonic() - start:.2f} s)", flush=True)
        except Exception:
            failed += 1
            print(f"FAIL  {fn.__name__}", flush=True)
            traceback.print_exc()
    print(f"{passed} passed, {failed} failed", flush=True)
    return 1 if failed or not passed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
