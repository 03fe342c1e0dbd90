#!/usr/bin/env python3
"""End-to-end tests of `cohort tiles --failed-list FILE` (issue 13, point 7):
every tile on the output's failed list, with its URL and last error, as a
tab-separated file with the header `z x y url error`, written at the end
however the run ended (complete, interrupted by a real SIGINT, stopped by the
failing-server guard); the header alone when nothing failed, so a resume that
fetches the tiles empties it. `--json` carries the same entries. The real
binary against tests/support/tile_server.py on loopback.

Run: python3 tests/integration/tiles_failed_list_test.py COHORT_BINARY TILE_SERVER_PY [name ...]
(see tiles_cli_support.py for the output).
"""

import os
import signal
import sys
import time

from tiles_cli_support import (BOX, EXPECTED, Server, check, check_complete, equal, main, out_path,
                               run, run_json, start, test, tiles_args)

HEADER = ["z", "x", "y", "url", "error"]


def read_list(path):
    """The list's rows as {(z, x, y): (url, error)}, checking its shape."""
    with open(path, newline="") as f:
        text = f.read()
    lines = text.split("\n")
    equal(lines[-1], "", "the file ends with a newline")
    rows = [line.split("\t") for line in lines[:-1]]
    equal(rows[0], HEADER, "header")
    entries = {}
    for row in rows[1:]:
        equal(len(row), 5, f"fields of {row}")
        key = (int(row[0]), int(row[1]), int(row[2]))
        check(key not in entries, f"{key} listed twice")
        entries[key] = (row[3], row[4])
    keys = list(entries)
    equal(keys, sorted(keys), "order (z, x, y)")
    return entries


def tiles_answered(stats, codes):
    """The tiles whose last answer from the server had one of `codes`."""
    last = {}
    for _, path, event in stats["log"]:
        if event != "request":
            last[path] = event
    out = set()
    for path, event in last.items():
        if event in codes:
            z, x, y = path.rsplit(".", 1)[0].strip("/").split("/")
            out.add((int(z), int(x), int(y)))
    return out


@test
def a_run_with_permanent_failures_lists_exactly_those_tiles_with_url_and_error():
    # 403 for some paths (refused, not retried), 500/503 for some attempts
    # with no retry: both kinds of failure, among tiles that are stored.
    with Server("--refuse-rate", 0.2, "--fail-rate", 0.2, "--seed", 7) as s:
        port = s.port
        out = out_path("some-fail.mbtiles")
        failed_list = out_path("some-fail.tsv")
        args = tiles_args(s, out, "--retries", 0, "-j", 2, "--failed-list", failed_list)
        code, summary, err = run_json(args)
        equal(code, 1, f"exit ({err})")
        stats = s.stats()
        refused = tiles_answered(stats, {"403"})
        errors = tiles_answered(stats, {"500", "503"})
        check(refused and errors, f"the seed gives both kinds: {refused} {errors}")
        entries = read_list(failed_list)
        equal(set(entries), refused | errors, "listed tiles")
        for (z, x, y), (url, error) in entries.items():
            equal(url, f"http://127.0.0.1:{port}/{z}/{x}/{y}.png", "url")
            if (z, x, y) in refused:
                check("403" in error and "not retried" in error, error)
            else:
                check(("500" in error or "503" in error) and "1 attempt" in error, error)
        equal(summary["failed"], len(entries), "--json failed")
        equal(summary["failed_tiles_total"], len(entries), "--json failed_tiles_total")
        equal(summary["failed_list"], failed_list, "--json failed_list")
        equal({(e["z"], e["x"], e["y"]): (e["url"], e["error"]) for e in summary["failed_tiles"]},
              entries, "--json failed_tiles")
    # The server works again: the same command fetches them and empties the list.
    with Server("--port", port) as s:
        code, summary, err = run_json(args)
        equal(code, 0, f"exit of the resume ({err})")
        equal(summary["stored"], len(entries), "stored by the resume")
        check_complete(out, EXPECTED)
        equal(read_list(failed_list), {}, "the list after the resume")
        equal((summary["failed_tiles"], summary["failed_tiles_total"]), ([], 0), "--json")


@test
def nothing_failed_writes_the_header_alone_and_json_says_so():
    with Server() as s:
        out = out_path("none-fail")
        failed_list = out_path("none-fail.tsv")
        with open(failed_list, "w") as f:
            f.write("stale content of an older list\n")
        code, summary, err = run_json(tiles_args(s, out, "--failed-list", failed_list))
        equal(code, 0, f"exit ({err})")
        with open(failed_list) as f:
            equal(f.read(), "z\tx\ty\turl\terror\n", "the list")
        equal((summary["failed_tiles"], summary["failed_tiles_total"]), ([], 0), "--json")
        leftovers = [n for n in os.listdir(os.path.dirname(failed_list)) if ".tmp." in n]
        equal(leftovers, [], "temporary files")
    # Without the option: no file, and --json says null.
    with Server() as s:
        code, summary, err = run_json(tiles_args(s, out_path("no-option")))
        equal((code, summary["failed_list"], summary["failed_tiles"]), (0, None, []), "--json")


@test
def an_interrupted_run_still_writes_the_list():
    # Refused tiles fail at once; stalls keep the run going until the SIGINT.
    with Server("--refuse-rate", 0.3, "--stall-rate", 0.15, "--stall-seconds", 60,
                "--seed", 2) as s:
        out = out_path("interrupted.mbtiles")
        failed_list = out_path("interrupted.tsv")
        p = start(tiles_args(s, out, "-j", 8, "-q", "--failed-list", failed_list))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and s.stats()["status"].get("403", 0) < 3:
            time.sleep(0.05)
        before = tiles_answered(s.stats(), {"403"})
        check(len(before) >= 3, f"refused before the interrupt: {before}")
        time.sleep(0.3)  # let cohort take in the answers already sent
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=30)
        equal(p.returncode, -signal.SIGINT, f"ended by the SIGINT ({err})")
        after = tiles_answered(s.stats(), {"403"})
        listed = read_list(failed_list)
        check(before <= set(listed) <= after, f"listed {sorted(listed)}; refused {sorted(after)}")
        for url, error in listed.values():
            check("403" in error, error)


@test
def a_run_stopped_by_the_failing_server_guard_writes_the_list():
    with Server("--break-with", 503) as s:
        out = out_path("guard")
        failed_list = out_path("guard.tsv")
        code, summary, err = run_json(
            tiles_args(s, out, "--retries", 0, "-j", 2, "--max-failures-in-a-row", 10,
                       "--failed-list", failed_list))
        equal((code, summary["outcome"]), (1, "stopped"), f"exit, outcome ({err})")
        listed = read_list(failed_list)
        answered = tiles_answered(s.stats(), {"503"})
        # The limit is 10 answers in a row, 5 before the first tile: the
        # tile whose answer stops the run may not be among the failed.
        check(len(listed) >= len(answered) - 2 and set(listed) <= answered,
              f"listed {sorted(listed)}; answered 503: {sorted(answered)}")
        for url, error in listed.values():
            check("503" in error, error)
        equal(summary["failed_tiles_total"], len(listed), "--json failed_tiles_total")


@test
def dash_writes_the_list_to_stdout_but_not_with_json():
    with Server("--refuse-rate", 1) as s:
        code, out, err = run(tiles_args(s, out_path("dash"), "-q", "--failed-list", "-"))
        equal(code, 1, f"exit ({err})")
        lines = out.splitlines()
        equal(lines[0].split("\t"), HEADER, "header on stdout")
        equal(len(lines) - 1, len(EXPECTED), "a line per tile")
    code, _, err = run(tiles_args(None, out_path("dash-json"), "--failed-list", "-", "--json",
                                  url="http://127.0.0.1:9/{z}/{x}/{y}.png"))
    equal(code, 2, f"exit of --failed-list - --json ({err})")
    check("--failed-list" in err, err)


if __name__ == "__main__":
    sys.exit(main())
