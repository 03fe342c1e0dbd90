#!/usr/bin/env python3
"""What `cohort tiles` says to a person, on the real binary against
tests/support/tile_server.py: a summary whose counts add up to the total, a
progress bar that counts the tiles already there inside its total (as
`cohort run --bar` counts the jobs a --resume skips), and output errors that
name the errno actually hit.

Run: python3 tests/integration/tiles_cli_behaviour_test.py COHORT_BINARY TILE_SERVER_PY [name ...]
(see tiles_cli_support.py for the output).
"""

import os
import pty
import re
import select
import subprocess
import sys
import time

from tiles_cli_support import (BOX, TMP, Server, check, command, equal, main, out_path,
                               run, run_json, test, tiles_args, tiles_of)

ZOOMS = "10-12"
TOTAL = len(tiles_of(BOX, [10, 11, 12]))
OPEN_ERROR = 2  # the output cannot be opened: exit_usage


def summary_counts(err):
    """{word: n} of the summary line "N tiles: a stored, b skipped, ... in ..."."""
    lines = [l for l in err.splitlines() if re.match(r"cohort tiles: \d+ tiles: ", l)]
    check(len(lines) == 1, f"one summary line expected: {err!r}")
    head = lines[0][len("cohort tiles: "):].split(" in ")[0]
    total, _, rest = head.partition(" tiles: ")
    counts = {}
    for part in rest.split(", "):
        n, _, word = part.partition(" ")
        counts[word] = int(n)
    return int(total), counts


@test
def summary_counts_add_up_on_a_strict_rerun_with_missing_tiles():
    with Server("--missing-rate", "0.2", "--empty-rate", "0.1", "--seed", "4") as s:
        out = out_path("adds-up")
        code, first, err = run_json(tiles_args(s, out, zooms=ZOOMS))
        equal(code, 0, f"exit ({err})")
        check(first["missing"] > 0, "the server sent no 404/204")
        total, counts = summary_counts(err)
        equal((total, sum(counts.values())), (TOTAL, TOTAL), f"first summary {err!r}")
        # Everything is there or known missing: each tile said once.
        code, again, err = run_json(tiles_args(s, out, "--strict", zooms=ZOOMS))
        equal(code, 1, f"exit with --strict ({err})")
        total, counts = summary_counts(err)
        equal(total, TOTAL, "total")
        equal(sum(counts.values()), TOTAL, f"sum of the counts of {err!r}")
        equal(counts.get("missing"), first["missing"], f"missing in {err!r}")
        equal(counts.get("skipped"), TOTAL - first["missing"], f"skipped in {err!r}")
        # --json is read by programs: its meaning stays (skipped: all there).
        equal((again["skipped"], again["missing"]), (TOTAL, first["missing"]), "--json")


def bar_frames(args):
    """Runs cohort with stderr on a pseudo-terminal (no color); returns (exit
    code, every frame and line written, control sequences removed)."""
    master, slave = pty.openpty()
    env = dict(os.environ, TERM="xterm", NO_COLOR="1", LANG="C", COLUMNS="150")
    proc = subprocess.Popen(command(args), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=slave, env=env, start_new_session=True)
    os.close(slave)
    seen = b""
    while True:
        ready, _, _ = select.select([master], [], [], 30)
        if not ready:
            proc.kill()
            break
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    os.close(master)
    code = proc.wait(30)
    text = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", seen.decode(errors="replace"))
    return code, [l for l in re.split(r"[\r\n]", text) if l.strip()]


@test
def the_bar_counts_tiles_already_there_inside_its_total():
    with Server("--refuse-rate", "0.3", "--seed", "5") as s:
        out = out_path("bar")
        code, first, err = run_json(tiles_args(s, out, zooms=ZOOMS))
        equal(code, 1, f"first run: exit ({err})")
        check(0 < first["failed"] < TOTAL, f"refused: {first}")
        # The re-run tries the refused tiles again and skips the rest.
        code, lines = bar_frames(tiles_args(s, out, zooms=ZOOMS))
        equal(code, 1, f"exit ({lines})")
        frames = [l for l in lines if re.search(r"\d+/\d+", l) and "tiles:" not in l]
        check(frames, f"no frame of the bar: {lines}")
        for f in frames:
            done, total = map(int, re.search(r"(\d+)/(\d+)", f).groups())
            equal(total, TOTAL, f"the bar's total in {f!r}")
            check(done >= TOTAL - first["failed"], f"the skipped tiles are not finished: {f!r}")
            check(f"{TOTAL - first['failed']} skipped" in f, f"skipped count in {f!r}")


# -- output errors ------------------------------------------------------------


def lock(path):
    """Makes directory `path` refuse changes; returns the strerror text a
    change then gets, or None where this machine cannot (see unlock)."""
    if os.geteuid() != 0:
        os.chmod(path, 0o555)
        return "Permission denied"
    r = subprocess.run(["chattr", "+i", path], capture_output=True)
    return "Operation not permitted" if r.returncode == 0 else None


def unlock(path):
    if os.geteuid() != 0:
        os.chmod(path, 0o755)
    else:
        subprocess.run(["chattr", "-i", path], capture_output=True)


def open_error(args):
    code, out, err = run(args)
    equal(code, OPEN_ERROR, f"exit ({err})")
    lines = [l for l in err.splitlines() if l.strip()]
    equal(len(lines), 1, f"one error line: {err!r}")
    return lines[0]


@test
def a_locked_parent_says_why_the_output_cannot_be_created():
    with Server() as s:
        locked = out_path("locked")
        os.mkdir(locked)
        why = lock(locked)
        if why is None:
            print("  (skipped: cannot lock a directory here)")
            return
        try:
            cases = [
                (f"{locked}/out", f"cohort tiles: output {locked}/out: cannot create directory "
                                  f"{locked}/out: {why}"),
                (f"{locked}/a/b", f"cohort tiles: output {locked}/a/b: cannot create directory "
                                  f"{locked}/a: {why}"),
                (f"{locked}/a/out.mbtiles", f"cohort tiles: output {locked}/a/out.mbtiles: cannot "
                                            f"create directory {locked}/a: {why}"),
                (f"{locked}/out.mbtiles", f"cohort tiles: output {locked}/out.mbtiles: cannot "
                                          f"create {locked}/out.mbtiles: {why}"),
            ]
            for output, expected in cases:
                equal(open_error(tiles_args(s, output)), expected, f"-o {output}")
        finally:
            unlock(locked)


@test
def a_locked_existing_output_names_the_errno():
    with Server() as s:
        for name in ("existing", "existing.mbtiles"):
            parent = out_path(f"parent-{name}")
            os.mkdir(parent)
            output = os.path.join(parent, name)
            code, _, err = run(tiles_args(s, output, zooms="10"))
            equal(code, 0, f"first run ({err})")
            # The database's files (its WAL) cannot be created any more.
            locked = output if name == "existing" else parent
            why = lock(locked)
            if why is None:
                print("  (skipped: cannot lock a directory here)")
                return
            try:
                line = open_error(tiles_args(s, output, zooms="10"))
            finally:
                unlock(locked)
            check(line.startswith(f"cohort tiles: output {output}: ") and why in line,
                  f"-o {output}: {line!r} does not say {why!r}")


@test
def a_file_in_the_way_is_not_a_directory():
    with Server() as s:
        f = out_path("a-file")
        with open(f, "w") as h:
            h.write("x")
        equal(open_error(tiles_args(s, f)), f"cohort tiles: output {f} is not a directory",
              "-o FILE")
        equal(open_error(tiles_args(s, f + "/sub")),
              f"cohort tiles: output {f}/sub: {f} is not a directory", "-o FILE/sub")


if __name__ == "__main__":
    sys.exit(main())
