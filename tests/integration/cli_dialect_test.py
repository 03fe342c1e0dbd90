#!/usr/bin/env python3
"""One command-line dialect across `cohort run` and `cohort tiles` (issue 12,
point 4), on the real binary: the same malformed value gives the same
one-line message, naming the option in plain words, and each tool's usage
exit status (run: 255, as GNU parallel; tiles: 2); the same duration forms
are accepted by both; `--help` is laid out for a person, without CLI11's
type annotations or a second "Usage:" line.

Run: python3 tests/integration/cli_dialect_test.py COHORT_BINARY
"""

import os
import re
import subprocess
import sys
import tempfile

COHORT = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build/bin/cohort")
TMP = tempfile.mkdtemp(prefix="cohort-dialect-")
USAGE_EXIT = {"run": 255, "tiles": 2}
URL = "http://127.0.0.1:9/{z}/{x}/{y}.png"  # never fetched: every case stops first
FAILURES = []

# CLI11's own wording, which must never reach a user.
LIBRARY_WORDING = re.compile(
    r"UINT|\bINT\b|FLOAT|in \[|Maximum file size|The following argument|required but received|"
    r"required TEXT|Run with --help|flag override|ValidationError|ArgumentMismatch")


def check(ok, what):
    if not ok:
        FAILURES.append(what)
        print(f"FAIL: {what}", file=sys.stderr)


def run(tool, args):
    if tool == "run":
        # The command after the options; --dry-run so that nothing runs if
        # the options were (wrongly) accepted.
        words = ["run", "--dry-run", *args, "touch", os.path.join(TMP, "ran"), ":::", "x"]
    else:
        words = ["tiles", "--bbox", "1,1,2,2", "--zoom", "3", "--url", URL, "--dry-run", *args]
    p = subprocess.run([COHORT, *words], capture_output=True, text=True, timeout=60, cwd=TMP)
    return p.returncode, p.stdout, p.stderr


def run_last(tool, option):
    """`option` as the last word: its value is missing."""
    if tool == "run":
        words = ["run", option]
    else:
        words = ["tiles", "--bbox", "1,1,2,2", "--zoom", "3", "--url", URL, "--dry-run", option]
    p = subprocess.run([COHORT, *words], capture_output=True, text=True, timeout=60, cwd=TMP)
    return p.returncode, p.stdout, p.stderr


def refused(tool, result, case):
    """The one-line message of a refused command line, without its prefix."""
    code, out, err = result
    check(code == USAGE_EXIT[tool], f"{tool} {case}: exit {code}, expected {USAGE_EXIT[tool]}")
    lines = err.splitlines()
    check(len(lines) == 1, f"{tool} {case}: {len(lines)} lines on stderr: {err!r}")
    check(out == "", f"{tool} {case}: stdout {out!r}")
    prefix = f"cohort {tool}: "
    line = lines[0] if lines else ""
    check(line.startswith(prefix), f"{tool} {case}: no '{prefix}' prefix: {line!r}")
    check(not LIBRARY_WORDING.search(line), f"{tool} {case}: library wording: {line!r}")
    return line[len(prefix):].replace(f"cohort {tool} ", "cohort TOOL ")


def same_message_in_both(case, args, expected):
    messages = {tool: refused(tool, run(tool, args), case) for tool in ("run", "tiles")}
    check(messages["run"] == messages["tiles"],
          f"{case}: run says {messages['run']!r}, tiles says {messages['tiles']!r}")
    check(messages["run"] == expected, f"{case}: {messages['run']!r}, expected {expected!r}")


def test_malformed_values_read_the_same_in_both_tools():
    same_message_in_both(
        "bad duration", ["--retry-delay", "1x"],
        "--retry-delay: '1x': unknown unit 'x'; expected a duration like 0.5, 500ms, 2s or 1m "
        "(seconds, or numbers with units ms, s, m, h, d)")
    same_message_in_both(
        "duration without unit", ["--retry-delay", "1h30"],
        "--retry-delay: '1h30': '30' has no unit; expected a duration like 0.5, 500ms, 2s or 1m "
        "(seconds, or numbers with units ms, s, m, h, d)")
    same_message_in_both("unknown option", ["--frobnicate"],
                         "unknown option '--frobnicate'; see cohort TOOL --help")
    for tool in ("run", "tiles"):
        message = refused(tool, run_last(tool, "--retry-delay"), "missing value")
        check(message == "--retry-delay needs a value; see cohort TOOL --help",
              f"{tool} missing value: {message!r}")
        message = refused(tool, run_last(tool, "-j"), "missing -j value")
        check(message == "-j needs a value; see cohort TOOL --help",
              f"{tool} missing -j value: {message!r}")


def test_out_of_range_names_the_option_and_the_range():
    shape = re.compile(r"^(-j|--retries) must be (at least|at most|from) -?[\d,]+%?( to [\d,]+)?$")
    cases = [
        ("run", ["--retries", "-1"], "--retries must be at least 0"),
        ("tiles", ["--retries", "-1"], "--retries must be from 0 to 100"),
        ("tiles", ["--retries", "101"], "--retries must be from 0 to 100"),
        ("tiles", ["-j", "0"], "-j must be from 1 to 1,024"),
        ("tiles", ["-j", "5000"], "-j must be from 1 to 1,024"),
        ("run", ["-j", "2000000%"], "-j must be at most 1,000,000%"),
    ]
    for tool, args, expected in cases:
        message = refused(tool, run(tool, args), " ".join(args))
        check(message == expected, f"{tool} {args}: {message!r}, expected {expected!r}")
        check(shape.match(message), f"{tool} {args}: not 'OPTION must be RANGE': {message!r}")


def test_sizes():
    for args, expected in [
        (["--max-tile-bytes", "4Q"],
         "--max-tile-bytes: '4Q': expected a size in bytes like 500000, 512k or 4M"),
        (["--max-tile-bytes", "0"], "--max-tile-bytes must be at least 1 byte"),
    ]:
        message = refused("tiles", run("tiles", args), " ".join(args))
        check(message == expected, f"tiles {args}: {message!r}, expected {expected!r}")
    for size in ("512k", "4M", "500000"):
        code, _, err = run("tiles", ["--max-tile-bytes", size])
        check(code == 0, f"tiles --max-tile-bytes {size}: exit {code}: {err!r}")


def test_both_tools_take_the_same_duration_forms():
    for value in ("0.5", "500ms", "2s", "1m", "1m30s"):
        for tool in ("run", "tiles"):
            code, _, err = run(tool, ["--retry-delay", value])
            check(code == 0, f"{tool} --retry-delay {value}: exit {code}: {err!r}")
    for option in ("--connect-timeout", "--request-timeout", "--stall-timeout"):
        code, _, err = run("tiles", [option, "1500ms"])
        check(code == 0, f"tiles {option} 1500ms: exit {code}: {err!r}")
    for option in ("--delay", "--timeout"):
        code, _, err = run("run", [option, "250ms"])
        check(code == 0, f"run {option} 250ms: exit {code}: {err!r}")
    check(not os.path.exists(os.path.join(TMP, "ran")), "a job ran under --dry-run")


def test_counts_have_thousands_separators_for_people_not_for_scripts():
    world = ["tiles", "--bbox", "-180,-86,180,86", "--zoom", "10", "--url", URL, "--dry-run"]
    p = subprocess.run([COHORT, *world], capture_output=True, text=True, timeout=60)
    check(p.returncode == 0, f"world dry run: exit {p.returncode}: {p.stderr!r}")
    check("zoom 10: 1,048,576 tiles" in p.stdout and "total: 1,048,576 tiles" in p.stdout,
          f"world dry run: {p.stdout!r}")
    p = subprocess.run([COHORT, *world, "--json"], capture_output=True, text=True, timeout=60)
    check('"total": 1048576' in p.stdout, f"JSON keeps plain numbers: {p.stdout!r}")


def test_help_is_laid_out_for_a_person():
    for tool in ("run", "tiles"):
        p = subprocess.run([COHORT, tool, "--help"], capture_output=True, text=True, timeout=60)
        check(p.returncode == 0, f"{tool} --help: exit {p.returncode}")
        out = p.stdout
        check(out.count("Usage:") == 1, f"{tool} --help: {out.count('Usage:')} 'Usage:' lines")
        check(out.startswith("Usage:\n  cohort " + tool), f"{tool} --help starts {out[:40]!r}")
        check(not LIBRARY_WORDING.search(out), f"{tool} --help has type annotations")
        for heading in ("Examples:", "Exit status", "Other:"):
            check(heading in out, f"{tool} --help has no {heading!r}")
        check("\n\n\n" not in out, f"{tool} --help has a double blank line")
        check(max(len(line) for line in out.splitlines()) <= 80, f"{tool} --help wider than 80")
        check("-h, --help" in out and "--version" in out, f"{tool} --help: no -h, --help")


def main():
    tests = [v for k, v in globals().items() if k.startswith("test_")]
    for t in tests:
        t()
        print(f"{t.__name__}: {'ok' if not FAILURES else 'failed so far'}")
    if FAILURES:
        print(f"{len(FAILURES)} failure(s)", file=sys.stderr)
        sys.exit(1)
    print("all passed")


if __name__ == "__main__":
    main()
