#!/usr/bin/env python3
"""--part on a real Slurm cluster (issue 15): the one-node cluster of
scripts/slurm-local runs job arrays of `cohort tiles --part auto` and
`cohort run --part auto`, and a dependent `cohort tiles merge`.

  slurm_parts_test.py COHORT_BINARY TILE_SERVER_PY [name-substring ...]

Skipped (exit 77, one line saying why) when Slurm or munge is not installed
or this is not root: scripts/setup installs them, so CI runs it.
"""

import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

import tiles_cli_support as support
from tiles_cli_support import (COHORT, TMP, Server, check, equal, js_pmtiles_tiles, main, out_path,
                               stored_tiles, test, tile_digests, tiles_of, zoom_list)

SLURM_LOCAL = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts",
                           "slurm-local")
BOX = "13.20,52.40,13.60,52.60"
ZOOMS = "10-14"
CLUSTER = {}


def slurm(*args):
    p = subprocess.run(list(args), capture_output=True, text=True, timeout=30,
                       env=dict(os.environ, SLURM_CONF=CLUSTER["conf"]))
    check(p.returncode == 0, f"{args[0]}: {p.stderr.strip()}")
    return p.stdout.strip()


def sbatch(script, *options):
    return slurm("sbatch", "--parsable", "-o", os.path.join(TMP, "slurm-%A_%a.out"), *options,
                 "--wrap", script)


def job_states(job):
    """{job or array task id: state} of a job (array tasks one by one)."""
    out = slurm("scontrol", "-o", "show", "job", job)
    states = {}
    for line in out.splitlines():
        fields = dict(f.split("=", 1) for f in line.split() if "=" in f)
        task = fields.get("ArrayTaskId")
        key = f"{fields['ArrayJobId']}_{task}" if task else fields["JobId"]
        states[key] = fields["JobState"]
    return states


def wait_done(job, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        states = job_states(job)
        if all(s in ("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT") for s in states.values()):
            return states
        time.sleep(0.1)
    raise AssertionError(f"job {job} still running after {timeout} s: {job_states(job)}")


def logs():
    text = ""
    for name in sorted(os.listdir(TMP)):
        if name.startswith("slurm-"):
            with open(os.path.join(TMP, name)) as f:
                text += f"--- {name}\n{f.read()}"
    return text


def tiles_command(server, output, part="auto", *extra):
    args = support.command(["tiles", "--part", part, "--bbox", BOX, "--zoom", ZOOMS, "--url",
                            server.url(), "-o", output, "-q", *extra])
    return shlex.join(args)


def check_merged(merged, server):
    """The merge holds exactly the tiles of a single-machine download, byte for byte."""
    single = out_path("single.mbtiles")
    code, _, err = support.run(["tiles", "--bbox", BOX, "--zoom", ZOOMS, "--url", server.url(),
                                "-o", single, "-q"])
    equal(code, 0, err)
    expected = stored_tiles(single)
    equal(set(expected), tiles_of(BOX, zoom_list(ZOOMS)), "single-machine download")
    got = stored_tiles(merged)
    equal(set(got), set(expected), "merged tiles")
    for key, data in expected.items():
        check(got[key] == data, f"tile {key} differs from the single-machine download")


def requested(server):
    return {tuple(int(v) for v in p[1:-4].split("/")): n for p, n in server.stats()["paths"].items()}


@test
def tiles_array_of_four_then_dependent_merge():
    with Server() as s:
        parts = os.path.join(TMP, "parts")
        os.makedirs(parts, exist_ok=True)
        out = os.path.join(parts, "part.$SLURM_ARRAY_TASK_ID.mbtiles")
        array = sbatch(tiles_command(s, "PLACEHOLDER").replace("PLACEHOLDER", out), "--array=0-3")
        merged = out_path("merged.mbtiles")
        inputs = [os.path.join(parts, f"part.{k}.mbtiles") for k in range(4)]
        merge = sbatch(shlex.join([COHORT, "tiles", "merge", *inputs, "-o", merged]),
                       f"--dependency=afterok:{array}")
        equal(set(wait_done(merge).values()), {"COMPLETED"}, f"merge job\n{logs()}")
        equal(set(wait_done(array).values()), {"COMPLETED"}, "array tasks")
        equal(set(requested(s).values()), {1}, "requests per tile across the parts")
        sizes = [len(stored_tiles(p)) for p in inputs]
        check(max(sizes) - min(sizes) <= 1, f"parts unbalanced: {sizes}")
        check_merged(merged, s)


@test
def a_cancelled_array_task_resubmitted_merges_exactly_and_fetches_nothing_twice():
    with Server() as s:
        parts = os.path.join(TMP, "parts-cancel")
        os.makedirs(parts, exist_ok=True)
        out = os.path.join(parts, "part.$SLURM_ARRAY_TASK_ID.mbtiles")
        # Part 2 is slow (--rate), so that it is cancelled half way.
        script = (f"if [ $SLURM_ARRAY_TASK_ID = 2 ]; then rate='--rate 40 -j 1'; fi; "
                  f"{tiles_command(s, 'PLACEHOLDER').replace('PLACEHOLDER', out)} $rate")
        array = sbatch(script, "--array=0-3")
        slow = os.path.join(parts, "part.2.mbtiles")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if os.path.exists(slow):
                time.sleep(0.5)  # some of part 2 is stored, not all (checked below)
                break
            time.sleep(0.05)
        slurm("scancel", f"{array}_2")  # SIGTERM to the task's processes
        states = wait_done(array)
        equal(states[f"{array}_2"], "CANCELLED", f"cancelled task\n{logs()}")
        before = set(stored_tiles(slow))
        check(before, "part 2 stored nothing before its cancel")
        fetched = requested(s)
        # Resubmitted as the part it was (a lone array task would be 0/1; a
        # requeued task waits a while before it starts again, and an
        # array with a cancelled task never satisfies afterok).
        again = sbatch(tiles_command(s, slow, "2/4"))
        merged = out_path("merged-after-cancel.pmtiles")
        merged_copy = out_path("merged-after-cancel.mbtiles")
        inputs = [os.path.join(parts, f"part.{k}.mbtiles") for k in range(4)]
        merge = sbatch(shlex.join([COHORT, "tiles", "merge", *inputs, "-o", merged]) + " && " +
                       shlex.join([COHORT, "tiles", "merge", merged, "-o", merged_copy]),
                       f"--dependency=afterok:{again}")
        equal(set(wait_done(merge).values()), {"COMPLETED"}, f"merge job\n{logs()}")
        twice = {t for t, n in requested(s).items() if n > 1}
        equal(twice & before, set(), "stored tiles fetched again")
        check(len(twice) <= 1, f"fetched twice beyond the one in flight (-j 1): {twice}")
        check(len(fetched) < len(requested(s)), "the cancelled part had nothing left to fetch")
        check_merged(merged_copy, s)
        equal(js_pmtiles_tiles(merged), tile_digests(stored_tiles(merged_copy)),
              "the merged archive as the reference JS reader reads it")


@test
def run_array_runs_every_job_exactly_once():
    log_dir = os.path.join(TMP, "run")
    os.makedirs(log_dir, exist_ok=True)
    marks = os.path.join(log_dir, "marks")
    command = shlex.join([COHORT, "run", "--part", "auto", "-j", "8", "--joblog",
                          os.path.join(log_dir, "jobs.%k.log"), "echo {#} {} >> " + marks,
                          ":::", *map(str, range(1, 1001))])
    array = sbatch(command, "--array=0-3")
    equal(set(wait_done(array).values()), {"COMPLETED"}, f"array tasks\n{logs()}")
    with open(marks) as f:
        lines = [line.split() for line in f]
    equal(sorted(int(seq) for seq, _ in lines), list(range(1, 1001)), "jobs run")
    check(all(seq == arg for seq, arg in lines), "{#} is not the global sequence number")
    for k in range(4):
        with open(os.path.join(log_dir, f"jobs.{k}.log")) as f:
            seqs = [int(line.split("\t")[0]) for line in f.readlines()[1:]]
        equal(sorted(seqs), list(range(k + 1, 1001, 4)), f"joblog of part {k}")


def run_on_cluster():
    begin = time.monotonic()
    cluster = tempfile.mkdtemp(prefix="cohort-slurm-")
    p = subprocess.run([SLURM_LOCAL, "start", cluster], capture_output=True, text=True,
                       timeout=60)
    if p.returncode == 3:
        print(f"slurm_parts: skipped: {p.stderr.strip()}")
        shutil.rmtree(cluster, ignore_errors=True)
        return 77
    if p.returncode != 0:
        print(f"slurm_parts: the cluster did not start: {p.stderr.strip()}")
        return 1
    CLUSTER["dir"] = p.stdout.strip()
    CLUSTER["conf"] = os.path.join(CLUSTER["dir"], "slurm.conf")
    print(f"cluster up in {time.monotonic() - begin:.1f} s", flush=True)
    try:
        return main()
    finally:
        begin = time.monotonic()
        subprocess.run([SLURM_LOCAL, "stop", CLUSTER["dir"]], timeout=60)
        print(f"cluster stopped in {time.monotonic() - begin:.1f} s", flush=True)
        shutil.rmtree(cluster, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(run_on_cluster())
