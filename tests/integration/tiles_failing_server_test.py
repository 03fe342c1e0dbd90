#!/usr/bin/env python3
"""End-to-end tests of `cohort tiles` against a server that fails every
request the same way (issue 13, point 2): an answer of 503, or of an HTML
page with status 200, to every tile. The run stops once the first 50
answers from the host have all failed the same way (or 100 in a row after
tiles came), with one line naming the status and a sample URL, exit 1, and
everything stored kept; the same command resumes once the server works.
Failures of mixed kinds, and missing tiles (404, 204), never stop a run.
The real binary against tests/support/tile_server.py on loopback
(--break-with CODE, --break-after N).

Run: python3 tests/integration/tiles_failing_server_test.py COHORT_BINARY TILE_SERVER_PY [name ...]
(see tiles_cli_support.py for the output).
"""

import sys
import time

from tiles_cli_support import (BOX, Server, check, check_byte_exact, check_complete, equal, main,
                               out_path, run, run_json, stored_tiles, test, tiles_args, tiles_of,
                               zoom_list)

ZOOMS = "10-14"
ALL = tiles_of(BOX, zoom_list(ZOOMS))  # 137 tiles: more than the limit's 100 attempts
OPTION = "--max-failures-in-a-row"


def stop_line(err, what, port):
    """The one `stopped:` line of stderr, checked to name `what` (the way
    the answers failed), a tile URL of the server and the option."""
    lines = [l for l in err.splitlines() if l.startswith("cohort tiles: stopped:")]
    equal(len(lines), 1, f"stopped lines in {err!r}")
    line = lines[0]
    check(what in line, f"{what!r} not in {line!r}")
    check(f"http://127.0.0.1:{port}/1" in line and ".png" in line, f"no tile URL in {line!r}")
    check(OPTION in line and "same command" in line, f"no way forward in {line!r}")
    return line


def run_timed(args):
    start = time.monotonic()
    code, summary, err = run_json(args, timeout=90)
    return code, summary, err, time.monotonic() - start


@test
def a_server_that_answers_only_503_stops_the_run_after_50_then_the_run_resumes():
    with Server("--break-with", 503) as s:
        port = s.port
        out = out_path("only-503.mbtiles")
        args = tiles_args(s, out, "-j", 4, zooms=ZOOMS)
        code, summary, err, elapsed = run_timed(args)
        equal(code, 1, f"exit ({err})")
        check(elapsed < 20, f"took {elapsed:.1f} s")
        equal((summary["outcome"], summary["stored"]), ("stopped", 0), "outcome, stored")
        requests = s.stats()["requests"]
        check(50 <= requests <= 50 + 4, f"{requests} requests reached the server, not about 50")
        line = stop_line(err, "HTTP 503", port)
        check("first 50" in line, line)
    # The server works again, at the same address: the same command resumes.
    with Server("--port", port) as s:
        code, summary, err = run_json(args)
        equal(code, 0, f"exit after recovery ({err})")
        equal(summary["stored"], len(ALL), "stored after recovery")
        check_complete(out, ALL)


@test
def a_server_that_answers_only_html_with_200_stops_the_run():
    with Server("--break-with", 200) as s:
        out = out_path("only-html")
        code, summary, err, elapsed = run_timed(tiles_args(s, out, "-j", 4, zooms=ZOOMS))
        equal(code, 1, f"exit ({err})")
        check(elapsed < 20, f"took {elapsed:.1f} s")
        equal((summary["outcome"], summary["stored"]), ("stopped", 0), "outcome, stored")
        requests = s.stats()["requests"]
        check(50 <= requests <= 50 + 4, f"{requests} requests reached the server, not about 50")
        line = stop_line(err, "HTTP 200", s.port)
        check("not a tile" in line and "text/html" in line, line)
        equal(stored_tiles(out), {}, "stored tiles")


@test
def a_server_that_breaks_mid_run_stops_it_after_100_and_keeps_what_was_stored():
    with Server("--break-with", 503, "--break-after", 40) as s:
        port = s.port
        out = out_path("breaks.mbtiles")
        args = tiles_args(s, out, "-j", 4, zooms=ZOOMS)
        code, summary, err, elapsed = run_timed(args)
        equal(code, 1, f"exit ({err})")
        check(elapsed < 30, f"took {elapsed:.1f} s")
        equal((summary["outcome"], summary["stored"]), ("stopped", 40), "outcome, stored")
        kept = stored_tiles(out)
        equal(len(kept), 40, "tiles in the output")
        check_byte_exact(kept)
        requests = s.stats()["requests"]
        check(140 <= requests <= 140 + 4, f"{requests} requests reached the server, not about 140")
        line = stop_line(err, "HTTP 503", port)
        check("last 100" in line, line)
    with Server("--port", port) as s:
        code, summary, err = run_json(args)
        equal(code, 0, f"exit after recovery ({err})")
        equal((summary["skipped"], summary["stored"]), (40, len(ALL) - 40), "skipped, stored")
        equal(s.stats()["requests"], len(ALL) - 40, "requests of the resumed run")
        check_complete(out, ALL)


@test
def mixed_failures_do_not_stop_the_run():
    # 500 or 503 drawn per attempt: every request fails, but not the same
    # way, so every tile gets its attempts (47 tiles, 94 requests).
    zooms = "10-13"
    n = len(tiles_of(BOX, zoom_list(zooms)))
    with Server("--fail-rate", 1, "--seed", 3) as s:
        out = out_path("mixed")
        code, summary, err = run_json(tiles_args(s, out, "--retries", 1, "-j", 4, zooms=zooms))
        equal(code, 1, f"exit ({err})")
        check("stopped" not in err, err)
        equal((summary["failed"], summary["stored"]), (n, 0), "failed, stored")
        stats = s.stats()
        equal(stats["requests"], 2 * n, "requests")
        check(stats["status"].get("500") and stats["status"].get("503"), str(stats["status"]))


@test
def missing_and_empty_tiles_are_not_failures():
    for knob, key in (("--missing-rate", "404"), ("--empty-rate", "204")):
        with Server(knob, 1) as s:
            out = out_path("missing")
            code, summary, err = run_json(tiles_args(s, out, "-j", 4, zooms=ZOOMS))
            equal(code, 0, f"{knob}: exit ({err})")
            check("stopped" not in err, err)
            equal(summary["missing"], len(ALL), f"{knob}: missing")
            equal(s.stats()["status"], {key: len(ALL)}, f"{knob}: answers")


@test
def the_option_changes_the_limit_and_0_never_stops():
    code, out, err = run(["tiles", "--help"])
    equal(code, 0, "--help")
    check(OPTION in out, f"{OPTION} not in --help")
    code, _, err = run(tiles_args(None, out_path("limit-bad"), OPTION, -1,
                                  url="http://127.0.0.1:9/{z}/{x}/{y}.png"))
    equal(code, 2, f"exit of {OPTION} -1 ({err})")
    with Server("--break-with", 503) as s:
        out = out_path("limit-10")
        code, summary, err = run_json(tiles_args(s, out, OPTION, 10, "-j", 2, zooms=ZOOMS))
        equal(code, 1, f"exit ({err})")
        equal(summary["outcome"], "stopped", "outcome")
        requests = s.stats()["requests"]
        check(5 <= requests <= 5 + 2, f"{requests} requests: the first 5 of 10 stop")
        check("first 5 " in stop_line(err, "HTTP 503", s.port), err)
        s.reset()
        zooms = "10-13"
        n = len(tiles_of(BOX, zoom_list(zooms)))
        out = out_path("limit-0")
        code, summary, err = run_json(tiles_args(s, out, OPTION, 0, "--retries", 1, "-j", 4,
                                                 zooms=zooms))
        equal(code, 1, f"exit ({err})")
        check("stopped" not in err, err)
        equal((summary["failed"], summary["stored"]), (n, 0), "failed, stored")
        equal(s.stats()["requests"], 2 * n, "requests")


if __name__ == "__main__":
    sys.exit(main())
