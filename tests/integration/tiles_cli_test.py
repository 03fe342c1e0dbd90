#!/usr/bin/env python3
"""End-to-end tests of `cohort tiles` (issue 6) on the real binary against
tests/support/tile_server.py on loopback: input, outputs, resume, signals,
the progress bar and summary. The HTTP behaviours (retries, Retry-After,
timeouts, faults) are in tiles_cli_net_test.py.

Run: python3 tests/integration/tiles_cli_test.py COHORT_BINARY TILE_SERVER_PY [name-substring ...]
(see tiles_cli_support.py for the output).
"""

import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time

from tiles_cli_support import (BOX, EXPECTED, SIGNAL_SIZES, TMP, ZOOMS, Server, check,
                               check_byte_exact, check_complete, check_no_partial_files,
                               directory_tiles, equal, main, mbtiles_tiles, out_path, paths_with,
                               run, run_json, start, stored_tiles, test, tile_path, tiles_args,
                               tiles_of, zoom_list)


# -- 1. input ------------------------------------------------------------------


@test
def dry_run_prints_tiles_per_zoom():
    code, out, err = run(["tiles", "--bbox", BOX, "--zoom", ZOOMS, "--url",
                          "http://h/{z}/{x}/{y}.png", "--dry-run"])
    equal(code, 0, "exit")
    for z in zoom_list(ZOOMS):
        n = sum(1 for t in EXPECTED if t[0] == z)
        check(f"zoom {z:2}: {n} tiles" in out, f"zoom {z} line in {out!r}")
    check(f"total: {len(EXPECTED)} tiles" in out, out)
    # Two boxes, one of them crossing the antimeridian (Fiji), counted once each tile.
    fiji = "177.1,-19.1,-178.1,-16.1"
    code, out, err = run(["tiles", "--bbox", fiji, "--bbox", fiji, "--zoom", "5-7", "--url",
                          "http://h/{z}/{x}/{y}.png", "--dry-run", "--json"])
    equal(code, 0, "exit")
    summary = json.loads(out)
    expected = tiles_of(fiji, [5, 6, 7])
    equal(summary["total"], len(expected), "antimeridian total")
    equal(summary["zooms"]["6"], sum(1 for t in expected if t[0] == 6), "zoom 6")
    at6 = {x for z, x, _ in expected if z == 6}
    check(0 in at6 and 63 in at6, f"both sides of the antimeridian at zoom 6: {sorted(at6)}")


@test
def malformed_input_is_one_line_and_exit_2():
    base = ["tiles", "--bbox", BOX, "-o", out_path("never")]
    base_ok = [*base, "--zoom", "3"]
    cases = [
        (["tiles", "--bbox", "1,2,3", "--zoom", "3", "--url", "http://h/{z}/{x}/{y}.png",
          "-o", "x"], "--bbox"),
        (["tiles", "--bbox", "10,60,20,50", "--zoom", "3", "--url", "http://h/{z}/{x}/{y}.png",
          "-o", "x"], "--bbox"),
        ([*base, "--url", "http://h/{z}/{x}/{y}.png", "--zoom", "29-31"], "31"),
        ([*base_ok, "--url", "http://h/{z}/{x}/{w}.png"], "{w}"),
        ([*base_ok, "--url", "http://h/{z}/{x}.png"], "y"),
        ([*base_ok, "--url", "ftp://h/{z}/{x}/{y}.png"], "http"),
        ([*base_ok, "--url", "http://h/{z}/{x}/{y}.png", "--header", "nocolon"], "--header"),
        ([*base_ok, "--url", "http://h/{z}/{x}/{y}.png", "--max-tile-bytes", "lots"], "--max-tile"),
        ([*base_ok, "--url", "http://h/{z}/{x}/{y}.png", "-j", "0"], "concurrency"),
        ([*base_ok, "--url", "http://h/{z}/{x}/{y}.png", "--no-such-flag"], "no-such-flag"),
        (["tiles", "--zoom", "3", "--url", "http://h/{z}/{x}/{y}.png", "-o", "x"], "--bbox"),
        (["tiles", "--bbox", BOX, "--zoom", "3", "--url", "http://h/{z}/{x}/{y}.png"], "output"),
    ]
    for args, word in cases:
        code, out, err = run(args)
        equal(code, 2, f"exit of {args}")
        lines = err.strip().splitlines()
        equal(len(lines), 1, f"stderr lines of {args}: {err!r}")
        check(word in lines[0], f"{word!r} not in {lines[0]!r}")
    check(not os.path.exists(os.path.join(TMP, "never")), "a usage error created the output")


# -- 2-4. download, validation, outputs ---------------------------------------


@test
def directory_output_is_byte_exact_and_json_summary():
    with Server() as s:
        out = out_path("dir")
        code, summary, err = run_json(tiles_args(s, out, "-j", 8))
        equal(code, 0, f"exit ({err})")
        for key in ("total", "stored", "skipped", "failed", "missing", "bytes", "elapsed_s",
                    "tiles_per_s", "outcome", "output"):
            check(key in summary, f"{key} in {summary}")
        equal(summary["total"], len(EXPECTED), "total")
        equal(summary["stored"], len(EXPECTED), "stored")
        equal(summary["outcome"], "complete", "outcome")
        equal(summary["output"], out, "output")
        check_complete(out)
        tiles = directory_tiles(out)
        equal(summary["bytes"], sum(len(b) for b in tiles.values()), "bytes")
        check("tiles: " in err and "stored" in err, f"summary line in {err!r}")
        stats = s.stats()
        check(max(stats["paths"].values()) == 1, "a tile was fetched twice")
        # 8 workers, kept alive (+1: this test's own /_stats request).
        check(stats["connections"] <= 9, f"keep-alive: {stats['connections']} connections")
        # Nothing left to do: everything is skipped, no request is made.
        s.reset()
        code, summary, err = run_json(tiles_args(s, out, "-j", 8, "--quiet"))
        equal(code, 0, "exit")
        equal((summary["skipped"], summary["stored"]), (len(EXPECTED), 0), "second run")
        equal(s.stats()["requests"], 0, "requests of a complete output")
        equal(err, "", "stderr with --quiet")


@test
def mbtiles_output_flips_rows_has_metadata_and_opens_in_gdal():
    with Server("--tms") as s:
        # The server reads y as a TMS row: {-y} must give it the flipped row.
        out = out_path("city.mbtiles")
        code, summary, err = run_json(tiles_args(s, out, url=s.url("/{z}/{x}/{-y}.png")))
        equal(code, 0, f"exit ({err})")
        check_complete(out)
        db = sqlite3.connect(out)
        meta = dict(db.execute("select name, value from metadata"))
        db.close()
        for key in ("name", "format", "bounds", "center", "minzoom", "maxzoom"):
            check(key in meta, f"metadata {key} in {meta}")
        equal(meta["format"], "png", "format")
        equal((meta["minzoom"], meta["maxzoom"]), ("10", "13"), "zooms")
        bounds = [float(v) for v in meta["bounds"].split(",")]
        check(abs(bounds[0] - 13.30) < 1e-6 and abs(bounds[3] - 52.56) < 1e-6, meta["bounds"])
        check(not os.path.exists(out + "-wal"), "WAL left after a clean close")
        if shutil.which("gdalinfo"):
            p = subprocess.run(["gdalinfo", out], capture_output=True, text=True, timeout=60)
            equal(p.returncode, 0, f"gdalinfo: {p.stderr}")
            check("MBTiles" in p.stdout, p.stdout[:200])
        else:
            print("  (gdalinfo not installed: skipped that check)")


@test
def user_agent_and_headers_are_sent():
    with Server("--count-header", "User-Agent", "--count-header", "X-Api-Key") as s:
        out = out_path("headers")
        code, _, err = run(tiles_args(s, out, zooms="10"))
        equal(code, 0, err)
        n = len(tiles_of(BOX, [10]))
        _, version, _ = run(["--version"])
        default = "cohort/" + version.split()[-1]
        equal(s.stats()["headers"]["User-Agent"], {default: n}, "default User-Agent")
        s.reset()
        out = out_path("headers")
        code, _, err = run(tiles_args(s, out, "--user-agent", "demo/1 (me@example.org)",
                                      "--header", "X-Api-Key: k1", zooms="10"))
        equal(code, 0, err)
        headers = s.stats()["headers"]
        equal(headers["User-Agent"], {"demo/1 (me@example.org)": n}, "User-Agent")
        equal(headers["X-Api-Key"], {"k1": n}, "--header")


@test
def quadkey_and_subdomain_templates_and_fsync():
    with Server() as s:
        out = out_path("q")
        code, summary, err = run_json(tiles_args(s, out, url=s.url("/q/{q}.png"), zooms="12"))
        equal(code, 0, f"exit ({err})")
        check_complete(out, tiles_of(BOX, [12]))
        out = out_path("s")
        code, summary, err = run_json(tiles_args(s, out, "--subdomains", "a,b", "--fsync",
                                                 url=s.url("/{s}/{z}/{x}/{y}.png"), zooms="12"))
        equal(code, 0, f"exit ({err})")
        check_complete(out, tiles_of(BOX, [12]))
        prefixes = {p.split("/")[1] for p in s.stats()["paths"] if not p.startswith("/q/")}
        equal(prefixes, {"a", "b"}, "subdomains used")


@test
def missing_tiles_are_recorded_not_retried_and_strict_fails():
    with Server("--missing-rate", "0.2", "--empty-rate", "0.1") as s:
        out = out_path("missing")
        code, summary, err = run_json(tiles_args(s, out))
        equal(code, 0, f"exit ({err})")
        stats = s.stats()
        check(paths_with(stats, "404") and paths_with(stats, "204"), "no 404 or no 204")
        missing = paths_with(stats, "404") | paths_with(stats, "204")
        for path in missing:
            equal(stats["paths"][path], 1, f"requests of missing {path}")
        equal(summary["missing"], len(missing), "missing")
        expected = {t for t in EXPECTED if tile_path(*t) not in missing}
        check_complete(out, expected)
        # --strict: the same output, missing tiles known: exit 1, nothing fetched again.
        s.reset()
        code, summary, err = run_json(tiles_args(s, out, "--strict"))
        equal(code, 1, "exit with --strict")
        equal(summary["outcome"], "failed", "outcome")
        equal(s.stats()["requests"], 0, "requests on the re-run")


@test
def refused_tiles_fail_at_once_without_retries():
    with Server("--refuse-rate", "0.2", "--seed", "5") as s:
        out = out_path("refused")
        code, summary, err = run_json(tiles_args(s, out))
        equal(code, 1, f"exit ({err})")
        stats = s.stats()
        refused = paths_with(stats, "403")
        check(refused, "the server sent no 403")
        equal(summary["failed"], len(refused), "failed")
        for path in refused:
            equal(stats["paths"][path], 1, f"requests of refused {path}")
        check("HTTP status 403 (not retried)" in err, err)
        check_complete(out, {t for t in EXPECTED if tile_path(*t) not in refused})


@test
def oversized_tiles_fail():
    with Server("--min-size", "5000", "--max-size", "6000") as s:
        out = out_path("big")
        code, summary, err = run_json(tiles_args(s, out, "--retries", "0",
                                                 "--max-tile-bytes", "4k", zooms="10"))
        equal(code, 1, f"exit ({err})")
        equal(summary["stored"], 0, "stored")


@test
def a_store_error_stops_the_run_with_one_line():
    with Server("--fail-first", "1") as s:
        out = out_path("unwritable")
        # A first run makes the output and stores nothing (every first attempt fails).
        code, _, err = run(tiles_args(s, out, "-j", 2, "--retries", "0", zooms="12"))
        equal(code, 1, f"first run ({err})")
        with open(os.path.join(out, "12"), "w") as f:  # where directory 12/ must go
            f.write("not a directory\n")
        before = s.stats()["requests"]  # (no reset: it would restart --fail-first)
        code, _, err = run(tiles_args(s, out, "-j", 2, "--retries", "0", zooms="12"))
        equal(code, 1, f"exit ({err})")
        lines = [l for l in err.splitlines() if l.startswith("cohort tiles: stopped:")]
        equal(len(lines), 1, f"the error line in {err!r}")
        check("12" in lines[0], lines[0])
        check(s.stats()["requests"] - before <= 4, "the run went on after the store failed")


# -- 5. resume -----------------------------------------------------------------


@test
def fingerprint_mismatch_is_refused_unless_force():
    with Server() as s:
        out = out_path("fp.mbtiles")
        code, _, err = run(tiles_args(s, out, zooms="10"))
        equal(code, 0, err)
        other = s.url("/v2/{z}/{x}/{y}.png")
        code, _, err = run(tiles_args(s, out, url=other, zooms="10"))
        equal(code, 2, "exit of a mismatch")
        check("--force" in err and "template" in err, err)
        code, _, err = run(tiles_args(s, out, zooms="10-11"))
        equal(code, 2, "exit of other zooms")
        code, summary, err = run_json(tiles_args(s, out, "--force", url=other, zooms="10"))
        equal(code, 0, err)
        equal(summary["stored"], len(tiles_of(BOX, [10])), "stored after --force")


@test
def failed_tiles_are_retried_by_the_next_run():
    with Server("--fail-first", "1") as s:
        out = out_path("failed-list.mbtiles")
        code, summary, err = run_json(tiles_args(s, out, "--retries", "0", zooms="10-11"))
        equal(code, 1, "first run")
        n = len(tiles_of(BOX, [10, 11]))
        equal(summary["failed"], n, "failed")
        db = sqlite3.connect(out)
        names = [r[0] for r in db.execute("select name from sqlite_master where type='table'")]
        db.close()
        check(names, "tables")
        code, summary, err = run_json(tiles_args(s, out, "--retries", "0", zooms="10-11"))
        equal(code, 0, f"second run ({err})")
        check(f"trying again {n} tiles that failed before" in err, err)
        equal(summary["stored"], n, "stored on the second run")
        check_complete(out, tiles_of(BOX, [10, 11]))


@test
def refresh_revalidates_with_etag():
    with Server() as s:
        out = out_path("refresh")
        code, _, err = run(tiles_args(s, out, zooms="11-12"))
        equal(code, 0, err)
        s.reset()
        code, summary, err = run_json(tiles_args(s, out, "--refresh", zooms="11-12"))
        equal(code, 0, err)
        n = len(tiles_of(BOX, [11, 12]))
        equal((summary["unchanged"], summary["stored"]), (n, 0), "unchanged, stored")
        stats = s.stats()
        equal(stats["status"].get("304"), n, "304 answers")
        equal(stats["bytes_sent"], 0, "bytes sent")
        check_complete(out, tiles_of(BOX, [11, 12]))


# -- 7. signals ------------------------------------------------------------------

def interrupt_and_resume(out, sig, iterations, rng, box, zooms):
    """Runs the download, interrupting it with `sig` at random moments, until
    complete; checks after each interrupt that the output is consistent and
    that the next run fetches no tile that was stored."""
    expected = tiles_of(box, zoom_list(zooms))
    interrupted = 0
    with Server(*SIGNAL_SIZES) as s:
        for i in range(iterations + 20):
            s.reset()
            before = stored_tiles(out) if os.path.exists(out) else {}
            check_byte_exact(before, SIGNAL_SIZES)
            args = tiles_args(s, out, "-j", 2, "--rate", "150", box=box, zooms=zooms)
            p = start(args)
            if i < iterations:
                time.sleep(rng.uniform(0.05, 0.6))
                p.send_signal(sig)
            out_text, err = p.communicate(timeout=30)
            fetched = {tuple(int(v) for v in path[1:-4].split("/"))
                       for path in s.stats()["paths"]}
            again = fetched & set(before)
            equal(again, set(), "stored tiles fetched again")
            if p.returncode == 0:
                check_complete(out, expected, SIGNAL_SIZES)
                return interrupted
            interrupted += 1
            if sig == signal.SIGKILL:
                equal(p.returncode, -signal.SIGKILL, "exit")
            else:
                equal(p.returncode, 128 + sig, f"exit after {sig.name}: {err}")
                check("resume with: cohort tiles" in err, f"resume hint: {err!r}")
            if not out.endswith(".mbtiles"):
                check_no_partial_files(out)
    raise AssertionError("never completed")


@test
def sigint_at_random_moments_then_resume_fetches_nothing_twice():
    rng = random.Random(int(os.environ.get("TILES_TEST_SEED", "1")))
    for out in (out_path("sigint.mbtiles"), out_path("sigint-dir")):
        n = interrupt_and_resume(out, signal.SIGINT, 4, rng, BOX, "11-14")
        check(n >= 2, f"only {n} interrupts landed before the end")


@test
def sigterm_exits_143():
    rng = random.Random(2)
    interrupt_and_resume(out_path("sigterm.mbtiles"), signal.SIGTERM, 1, rng, BOX, "11-14")


@test
def kill_9_at_random_moments_then_rerun_completes():
    rng = random.Random(3)
    expected = tiles_of(BOX, [11, 12, 13, 14])
    for out, kills in ((out_path("kill9.mbtiles"), 4), (out_path("kill9-dir"), 3)):
        with Server(*SIGNAL_SIZES) as s:
            for i in range(kills):
                p = start(tiles_args(s, out, "-j", 4, "--rate", "150", zooms="11-14"))
                time.sleep(rng.uniform(0.1, 0.8))
                os.killpg(p.pid, signal.SIGKILL)
                p.communicate(timeout=30)
                if out.endswith(".mbtiles") and os.path.exists(out):
                    check_byte_exact(mbtiles_tiles(out), SIGNAL_SIZES)
                elif os.path.exists(out):
                    check_byte_exact(directory_tiles(out, allow_temporaries=True), SIGNAL_SIZES)
            code, summary, err = run_json(tiles_args(s, out, "-j", 4, zooms="11-14"))
            equal(code, 0, err)
            check_complete(out, expected, SIGNAL_SIZES)  # no temporary file left either


@test
def second_sigint_stops_now_and_output_stays_consistent():
    with Server("--stall-rate", "0.2", "--stall-seconds", "3") as s:
        out = out_path("twice")
        p = start(tiles_args(s, out, "-j", 4, zooms="11-13"))
        time.sleep(0.8)
        p.send_signal(signal.SIGINT)
        time.sleep(0.05)
        p.send_signal(signal.SIGINT)
        begin = time.monotonic()
        _, err = p.communicate(timeout=30)
        equal(p.returncode, 130, f"exit: {err}")
        check(time.monotonic() - begin < 2.5, "the second SIGINT did not stop it at once")
        check_no_partial_files(out)
        check_byte_exact(directory_tiles(out))
        code, summary, err = run_json(tiles_args(s, out, "-j", 16, "--stall-timeout", "1",
                                                 "--retries", "10", zooms="11-13"))
        equal(code, 0, err)
        check_complete(out, tiles_of(BOX, [11, 12, 13]))



if __name__ == "__main__":
    sys.exit(main())
