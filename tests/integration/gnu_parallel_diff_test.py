#!/usr/bin/env python3
"""`cohort run` against GNU parallel itself (issue 16, the differential
suite): every case of gnu_parallel_cases.py is run by both tools, each in a
fresh directory of its own with the same setup files, and their answers are
compared: standard output (sorted, unless the order is defined: -k, -j1,
--dry-run -j1 ...), the exit status, the job log's Seq/Exitval/Signal/Command
columns (when the case uses --joblog), the files the run wrote, and, for a
case with further steps (e.g. a --resume after a first run), the same for
every step: which jobs a --resume re-runs shows in its output and its log.

A case's mark (its `expect`, the first word of which is all that decides)
says what the suite requires of it:

  agree        both tools give the same answers.
  differs      the answers differ (a deliberate difference, listed in the
               README's table with its reason).
  unsupported  cohort refuses the option with one clear line (exit 255),
               not "unknown option"; GNU parallel is not compared.
  unknown      cohort still says "unknown option" (exit 255): a documented
               GNU option that issue 16 asks to support or to refuse
               clearly; the mark flips when that work lands.

The suite FAILS on every unexpected disagreement and on every mark that is
no longer true (a `differs` case that agrees, an `unknown` case that no
longer says so), so that the marks stay true.

Run: python3 tests/integration/gnu_parallel_diff_test.py COHORT_BINARY
       [-k SUBSTRING] [-j WORKERS] [--gnu PATH] [-v]
"""

import argparse
import concurrent.futures
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gnu_parallel_cases import CASES  # noqa: E402

MARKS = ("agree", "differs", "unsupported", "unknown")
STEP_TIMEOUT = 30
SETUP_MTIME = 1_000_000_000


def shorten(value, limit=90):
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def joblog_path(args):
    """The job log a step writes (without GNU's '+' for append), or None."""
    for i, word in enumerate(args):
        for option in ("--joblog", "--jl"):
            if word == option and i + 1 < len(args):
                return args[i + 1].lstrip("+")
            if word.startswith(option + "="):
                return word.split("=", 1)[1].lstrip("+")
    return None


def joblog_rows(path):
    """Seq, Exitval, Signal and Command of every line, by Seq; None if absent."""
    if not path or path == "-" or not os.path.isfile(path):
        return None
    rows = []
    with open(path, encoding="utf-8", errors="replace") as log:
        for n, line in enumerate(log.read().splitlines()):
            fields = line.split("\t")
            if n == 0 and fields[0] == "Seq":
                continue
            if len(fields) < 9:
                rows.append(("malformed", line))
                continue
            rows.append((fields[0], fields[6], fields[7], "\t".join(fields[8:])))
    return sorted(rows, key=lambda r: (int(r[0]) if r[0].isdigit() else -1, r))


def snapshot(directory, skip):
    """Every file under directory with its content, but the job logs."""
    files = {}
    for root, dirs, names in os.walk(directory):
        dirs.sort()
        if root != directory and not names and not dirs:
            files[os.path.relpath(root, directory) + "/"] = b"<empty directory>"
        for name in sorted(names):
            path = os.path.join(root, name)
            rel = os.path.relpath(path, directory)
            if rel in skip:
                continue
            try:
                with open(path, "rb") as f:
                    files[rel] = f.read()
            except OSError as e:
                files[rel] = f"<unreadable: {e.strerror}>".encode()
    return files


def environment(home):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARALLEL")}
    env.update(HOME=home, SHELL="/bin/sh", LC_ALL="C", LANG="C", TMPDIR=home)
    return env


def run_tool(tool, case, gnu, cohort):
    """Runs every step of case with tool in a fresh directory; the answers."""
    base = tempfile.mkdtemp(prefix=f"gnu-diff-{tool}-")
    home = os.path.join(base, "home")
    work = os.path.join(base, "work")
    os.makedirs(os.path.join(home, ".parallel"))
    open(os.path.join(home, ".parallel", "will-cite"), "w").close()
    os.makedirs(work)
    for name, content in case.files.items():
        path = os.path.join(work, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(_bytes(content))
        os.utime(path, (SETUP_MTIME, SETUP_MTIME))  # e.g. gzip records it
    prefix = [gnu] if tool == "gnu" else [cohort, "run"]
    results = []
    logs = set()
    try:
        for step in case.steps:
            log = joblog_path(step.args)
            if log and log != "-":
                logs.add(log)
            try:
                p = subprocess.run(
                    [*prefix, *step.args],
                    input=(step.stdin or "").encode(),
                    capture_output=True,
                    cwd=work,
                    env=environment(home),
                    timeout=STEP_TIMEOUT,
                )
                code, out, err = p.returncode, p.stdout, p.stderr
            except subprocess.TimeoutExpired as e:
                code, out, err = "timeout", e.stdout or b"", e.stderr or b""
            results.append(
                {
                    "code": code,
                    "stdout": out.decode(errors="replace"),
                    "stderr": err.decode(errors="replace"),
                    "joblog": joblog_rows(os.path.join(work, log)) if log else None,
                }
            )
        everything = snapshot(work, logs)
        files = {n: c for n, c in everything.items() if not (n in case.files and c == _bytes(case.files[n]))}
        for name in set(case.files) - set(everything) - logs:
            files[name] = b"<removed>"
        return results, files
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _bytes(content):
    return content.encode() if isinstance(content, str) else content


def differences(case, gnu_result, cohort_result):
    """(what, gnu value, cohort value) for every answer that differs."""
    found = []
    (gnu_steps, gnu_files), (our_steps, our_files) = gnu_result, cohort_result
    for n, (g, c) in enumerate(zip(gnu_steps, our_steps)):
        where = f"step {n + 1} " if len(case.steps) > 1 else ""
        ordered = case.steps[n].ordered
        g_out, c_out = g["stdout"], c["stdout"]
        if not ordered:
            g_out = "".join(sorted(g_out.splitlines(keepends=True)))
            c_out = "".join(sorted(c_out.splitlines(keepends=True)))
        if "stdout" in case.compare and g_out != c_out:
            found.append((where + ("stdout" if ordered else "sorted stdout"), g_out, c_out))
        if "status" in case.compare and g["code"] != c["code"]:
            found.append((where + "exit status", g["code"], c["code"]))
        if "joblog" in case.compare and g["joblog"] != c["joblog"]:
            found.append((where + "joblog Seq/Exitval/Signal/Command", g["joblog"], c["joblog"]))
    if "files" in case.compare and gnu_files != our_files:
        names = sorted(set(gnu_files) | set(our_files))
        g = {n: gnu_files.get(n) for n in names if gnu_files.get(n) != our_files.get(n)}
        c = {n: our_files.get(n) for n in names if gnu_files.get(n) != our_files.get(n)}
        found.append(("files written", g, c))
    return found


def refusal(case, cohort_result):
    """What is wrong with cohort's refusal for the case's mark, or None."""
    steps = cohort_result[0]
    n = next((i for i, s in enumerate(steps) if s["code"] == 255), len(steps) - 1)
    step = steps[n]
    lines = step["stderr"].strip().splitlines()
    says_unknown = "unknown option" in step["stderr"]
    if case.mark == "unknown":
        if step["code"] == 255 and says_unknown:
            return None
        said = f"exit {step['code']}, {shorten(step['stderr'])}"
        return f"no longer says 'unknown option' ({said}): flip the mark"
    options = [w.split("=", 1)[0] for w in case.steps[n].args if w.startswith("-") and len(w) > 1]
    # A bundle of short options (-kq) may be refused by the one it names (-q).
    options += [f"-{c}" for w in options if not w.startswith("--") for c in w[1:]]
    names_one = any(option in step["stderr"] for option in options)
    if step["code"] != 255 or len(lines) != 1 or says_unknown or not names_one:
        return (
            "expected one clear line naming the option and exit 255, "
            f"got exit {step['code']}, {shorten(step['stderr'])}"
        )
    return None


def judge(case, gnu, cohort):
    """(verdict, lines, seconds): verdict is 'agree', 'expected' or 'fail'."""
    start = time.monotonic()
    verdict, lines = judge_case(case, gnu, cohort)
    return verdict, lines, time.monotonic() - start


def judge_case(case, gnu, cohort):
    cohort_result = run_tool("cohort", case, gnu, cohort)
    if case.mark in ("unsupported", "unknown"):
        problem = refusal(case, cohort_result)
        if problem:
            return "fail", [f"FAIL {case.name} [{case.mark}]: {problem}"]
        return "expected", [f"expected {case.name} [{case.mark}: {case.reason}]"]
    gnu_result = run_tool("gnu", case, gnu, cohort)
    found = differences(case, gnu_result, cohort_result)
    lines = [f"{case.name}: {what}: gnu={shorten(g)} cohort={shorten(c)}" for what, g, c in found]
    if case.mark == "agree":
        return ("fail", ["FAIL " + line for line in lines]) if found else ("agree", [])
    if not found:
        return "fail", [f"FAIL {case.name} [differs: {case.reason}]: now agrees: flip the mark"]
    return "expected", ["expected " + line for line in lines]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("cohort", nargs="?", default="build/bin/cohort")
    parser.add_argument("--gnu", default=shutil.which("parallel") or "/usr/bin/parallel")
    parser.add_argument("-k", dest="only", help="run only the cases whose name contains this")
    parser.add_argument("-j", dest="workers", type=int, default=8)
    parser.add_argument("-v", dest="verbose", action="store_true", help="print expected differences too")
    parser.add_argument("--slowest", type=int, default=0, help="print the N slowest cases")
    options = parser.parse_args()
    cohort = os.path.abspath(options.cohort)
    version = subprocess.run([options.gnu, "--version"], capture_output=True, text=True)
    if version.returncode != 0 or "GNU parallel" not in version.stdout:
        print(f"FAIL: no GNU parallel at {options.gnu} (scripts/setup installs it)")
        return 1
    names = [c.name for c in CASES]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        print(f"FAIL: duplicate case names {duplicates}")
        return 1
    bad = [c.name for c in CASES if c.mark not in MARKS]
    if bad:
        print(f"FAIL: cases with an unknown mark (one of {MARKS}): {bad}")
        return 1
    cases = [c for c in CASES if not options.only or options.only in c.name]
    counts = {"agree": 0, "expected": 0, "fail": 0}
    by_mark = {}
    with concurrent.futures.ThreadPoolExecutor(options.workers) as pool:
        verdicts = pool.map(lambda c: judge(c, options.gnu, cohort), cases)
        timings = []
        for case, (verdict, lines, seconds) in zip(cases, verdicts):
            counts[verdict] += 1
            if verdict == "expected":
                by_mark[case.mark] = by_mark.get(case.mark, 0) + 1
            timings.append((seconds, case.name))
            for line in lines:
                if verdict == "fail" or options.verbose:
                    print(line)
    for seconds, name in sorted(timings, reverse=True)[: options.slowest]:
        print(f"{seconds:6.2f}s {name}")
    sources = {}
    for case in cases:
        sources[case.source_kind] = sources.get(case.source_kind, 0) + 1
    print(
        f"{len(cases)} cases against {version.stdout.splitlines()[0]} "
        f"({', '.join(f'{n} {k}' for k, n in sorted(sources.items()))}): "
        f"{counts['agree']} agree, {counts['fail']} differ unexpectedly (or have a stale mark), "
        f"{counts['expected']} expected to differ ({', '.join(f'{n} {m}' for m, n in sorted(by_mark.items()))})"
    )
    return 1 if counts["fail"] else 0


if __name__ == "__main__":
    sys.exit(main())
