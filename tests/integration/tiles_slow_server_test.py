#!/usr/bin/env python3
"""End-to-end tests of `cohort tiles` against a server that answers nothing
(issue 13, point 1): with every request stalling, `-j N` keeps N requests in
flight at once, each ends by its own --request-timeout, and every error says
so (no "Failed to resolve host ... after 0 ms" for a request that never got
its turn). The real binary against tests/support/tile_server.py on loopback,
whose "max_active_requests" counts the requests a client really had in
flight at once.

Run: python3 tests/integration/tiles_slow_server_test.py COHORT_BINARY TILE_SERVER_PY [name ...]
(see tiles_cli_support.py for the output).
"""

import sys
import time

from tiles_cli_support import (BOX, Server, check, equal, main, out_path, run_json, tiles_args,
                               test, tiles_of)


def failed_lines(err):
    return [l for l in err.splitlines() if l.startswith("cohort tiles: failed ")]


def check_only_timeouts(err, timeout_s):
    """Every failed tile listed names the whole-request timeout, and no other
    cause (a resolve, a connect) that did not happen."""
    lines = failed_lines(err)
    check(lines, f"no failed tile listed: {err!r}")
    for line in lines:
        check(f"timed out after {timeout_s}" in line and "resolve" not in line.lower()
              and "connect" not in line.lower(), f"not the timeout that happened: {line!r}")


def arrival_rounds(log):
    """The tile requests' arrival times (server clock), in rounds: a new round
    starts when a request comes more than half a second after the previous."""
    times = sorted(t for t, _, what in log if what == "request")
    rounds = []
    for t in times:
        if rounds and t - rounds[-1][-1] < 0.5:
            rounds[-1].append(t)
        else:
            rounds.append([t])
    return rounds


@test
def every_request_stalls_and_j8_keeps_8_in_flight():
    zooms = "10-11"
    n = len(tiles_of(BOX, [10, 11]))
    equal(n, 8, "tiles in the area")
    with Server("--stall-rate", "1", "--stall-seconds", "30") as s:
        out = out_path("slow-j8")
        start = time.monotonic()
        code, summary, err = run_json(tiles_args(s, out, "--request-timeout", "2", "--retries", "0",
                                                 "-j", 8, zooms=zooms))
        elapsed = time.monotonic() - start
        equal(code, 1, f"exit ({err})")
        equal((summary["failed"], summary["stored"]), (n, 0), "failed, stored")
        stats = s.stats()
        equal(stats["requests"], n, "requests that reached the server")
        equal(stats["max_active_requests"], 8, "requests in flight at once")
        equal([len(r) for r in arrival_rounds(stats["log"])], [8], "requests per round")
        check_only_timeouts(err, 2)
        check(2 <= elapsed < 3.5 + 2, f"took {elapsed:.1f} s: not one round of 2 s")


@test
def every_request_stalls_and_j2_runs_2_at_a_time_without_false_errors():
    zooms = "10-12"
    n = len(tiles_of(BOX, [10, 11, 12]))
    with Server("--stall-rate", "1", "--stall-seconds", "30") as s:
        out = out_path("slow-j2")
        start = time.monotonic()
        code, summary, err = run_json(tiles_args(s, out, "--request-timeout", "1", "--retries", "0",
                                                 "-j", 2, zooms=zooms))
        elapsed = time.monotonic() - start
        equal(code, 1, f"exit ({err})")
        equal((summary["failed"], summary["stored"]), (n, 0), "failed, stored")
        stats = s.stats()
        equal(stats["requests"], n, "requests that reached the server")
        equal(stats["max_active_requests"], 2, "requests in flight at once")
        rounds = arrival_rounds(stats["log"])
        equal([len(r) for r in rounds], [2] * (n // 2) + [1] * (n % 2), "requests per round")
        gaps = [b[0] - a[0] for a, b in zip(rounds, rounds[1:])]
        check(all(0.9 <= g < 1.6 for g in gaps), f"rounds not a timeout apart: {gaps}")
        check_only_timeouts(err, 1)
        rounds_needed = (n + 1) // 2
        check(elapsed < rounds_needed + 3, f"took {elapsed:.1f} s for {rounds_needed} rounds")


@test
def a_slow_answer_within_the_timeout_is_stored_at_full_concurrency():
    # The stall ends (1.5 s) before the timeout (4 s): every tile is stored,
    # 8 at a time, on the first attempt.
    with Server("--stall-rate", "1", "--stall-seconds", "1.5") as s:
        out = out_path("slow-ok")
        start = time.monotonic()
        code, summary, err = run_json(tiles_args(s, out, "--request-timeout", "4", "--retries", "0",
                                                 "-j", 8, zooms="10-11"))
        elapsed = time.monotonic() - start
        equal(code, 0, f"exit ({err})")
        equal(summary["stored"], 8, "stored")
        equal(s.stats()["max_active_requests"], 8, "requests in flight at once")
        check(elapsed < 1.5 + 2, f"took {elapsed:.1f} s: the stalls were not concurrent")


if __name__ == "__main__":
    sys.exit(main())
