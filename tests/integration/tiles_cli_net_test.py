#!/usr/bin/env python3
"""End-to-end tests of `cohort tiles` over HTTP (issue 6): retries
and backoff, Retry-After pauses per host, --rate, network faults, the
connect, stall and whole-request timeouts, an unreachable server. The real
binary against tests/support/tile_server.py on loopback.

Run: python3 tests/integration/tiles_cli_net_test.py COHORT_BINARY TILE_SERVER_PY [name-substring ...]
(see tiles_cli_support.py for the output).
"""

import shutil
import sys
import time

from tiles_cli_support import (BOX, EXPECTED, Server, check, check_complete, directory_tiles,
                               equal, main, out_path, run_json, test, tiles_args, tiles_of)


# -- retries and pauses -----------------------------------------------------------


@test
def server_errors_are_retried():
    with Server("--fail-first", "2", "--fail-rate", "0.2", "--seed", "7") as s:
        out = out_path("retry")
        code, summary, err = run_json(tiles_args(s, out, "--retries", "8", "-j", 6))
        equal(code, 0, f"exit ({err})")
        check_complete(out)
        stats = s.stats()
        check(min(stats["paths"].values()) == 3, "every tile needed its 3rd attempt")
        check(stats["status"].get("500", 0) + stats["status"].get("503", 0) >= 2 * len(EXPECTED),
              str(stats["status"]))


@test
def retry_after_pauses_the_host_for_every_worker():
    with Server("--rate-limit-rate", "0.08", "--retry-after", "1", "--seed", "3") as s:
        out = out_path("retry-after")
        code, summary, err = run_json(tiles_args(s, out, "--retries", "8", "-j", 4))
        equal(code, 0, f"exit ({err})")
        check_complete(out)
        log = s.stats()["log"]
        limited = [t for t, _, what in log if what == "429"]
        check(limited, "the server sent no 429")
        # After a 429, no request at all arrives while the pause lasts
        # (requests already on their way may arrive in the first instants).
        first = limited[0]
        during = [p for t, p, what in log if what == "request" and first + 0.15 < t < first + 0.9]
        equal(during, [], "requests during the Retry-After pause")


@test
def rate_limits_requests_per_host():
    with Server() as s:
        out = out_path("rate")
        start = time.monotonic()
        code, summary, err = run_json(tiles_args(s, out, "--rate", "20", "-j", 8, zooms="12"))
        equal(code, 0, f"exit ({err})")
        times = sorted(t for t, _, what in s.stats()["log"] if what == "request")
        n = len(tiles_of(BOX, [12]))
        equal(len(times), n, "requests")
        span = times[-1] - times[0]
        check(span >= (n - 1) / 20 * 0.9, f"{n} requests in {span:.2f} s at --rate 20")
        check(time.monotonic() - start < 30, "too slow")



# -- faults and timeouts ---------------------------------------------------------


@test
def unreachable_server_stops_at_once_with_one_line():
    # Nothing listens on the port of a server that was stopped; a host that
    # does not resolve. Either stops the run within seconds, not after every
    # tile's retries, with exit 1 and a --json summary saying "stopped".
    with Server() as s:
        dead = s.url()
    for url in (dead, "http://nonexistent.invalid/{z}/{x}/{y}.png"):
        out = out_path("unreachable")
        t = time.monotonic()
        code, summary, err = run_json(tiles_args(None, out, url=url), timeout=60)
        check(code == 1, f"{url}: exit {code}: {err}")
        check(time.monotonic() - t < 20, f"{url}: took {time.monotonic() - t:.1f} s")
        check(summary["outcome"] == "stopped" and summary["stored"] == 0, f"{summary}")
        lines = [l for l in err.splitlines() if "cannot reach" in l]
        check(len(lines) == 1 and "check --url" in lines[0], f"stderr: {err!r}")
        shutil.rmtree(out, ignore_errors=True)

@test
def network_faults_and_bad_bodies_are_retried_then_stored_exact():
    with Server("--reset-rate", "0.1", "--truncate-rate", "0.1", "--wrong-type-rate", "0.1",
                "--seed", "11") as s:
        out = out_path("faults.mbtiles")
        code, summary, err = run_json(tiles_args(s, out, "--retries", "10", "-j", 6))
        equal(code, 0, f"exit ({err})")
        check_complete(out)
        status = s.stats()["status"]
        check(status.get("reset") and status.get("truncated"), str(status))


@test
def faults_that_never_end_fail_and_are_never_stored():
    for fault, extra in (("--reset-rate", []), ("--truncate-rate", []),
                         ("--wrong-type-rate", []),
                         ("--stall-rate", ["--stall-seconds", "4"])):
        with Server(fault, "1") as s:
            out = out_path("never-ok")
            args = tiles_args(s, out, "--retries", "1", "--stall-timeout", "1", zooms="10")
            start = time.monotonic()
            code, summary, err = run_json(args)
            equal(code, 1, f"exit with {fault} ({err})")
            n = len(tiles_of(BOX, [10]))
            equal((summary["failed"], summary["stored"]), (n, 0), f"{fault}: failed, stored")
            equal(directory_tiles(out), {}, f"{fault}: stored tiles")
            check("failed 10/" in err, f"failed tiles listed: {err!r}")
            for path, count in s.stats()["paths"].items():
                equal(count, 2, f"{fault}: attempts of {path}")
            if fault == "--stall-rate":
                check(time.monotonic() - start < 4 * 2 * n, "stalls were not cut short")



if __name__ == "__main__":
    sys.exit(main())
