#!/usr/bin/env python3
"""Ctrl+C stops the shell script that runs cohort (DESIGN.md G7, issue 18.1).

At a terminal, Ctrl+C sends SIGINT to the whole foreground process group: the
shell running a script and the program it waits for. bash then looks at how
that program ended (its "wait and cooperative exit" rule): if it died *by*
SIGINT, the script stops; if it *exited*, even with 130, bash takes it that
the program handled the Ctrl+C as input, and goes on with the script. So an
interrupted cohort, once its state is written, ends by the same signal.

Drives the real binaries:
  - `for i in 1 2 3; do cohort run sleep 3 ::: 1; echo next...; done` (and
    the same with `cohort tiles` against a tile server whose tiles are slow,
    and with cohort-bench-runner) in a bash started in its own session, SIGINT
    sent to the loop's whole process group as a terminal does: the loop stops
    in its first iteration (bash itself ends by SIGINT) and nothing of it is
    left;
  - the same loops on a real pseudo-terminal (bash is the session leader with
    the terminal as its controlling tty; Ctrl+C is the byte 0x03, turned into
    SIGINT for the foreground group by the tty driver);
  - a parent that is not a shell sees "killed by SIGINT/SIGTERM", after every
    job's cleanup line and the summary were written; a second signal
    (escalation) ends the same way;
  - a shell's `$?` is still 130 (SIGINT) and 143 (SIGTERM);
  - as PID 1 of a PID namespace (a container's init, where a signal's
    default action does not apply), cohort exits 130 instead;
  - with --signal-probe: when a blocking call outlives the escalation limit,
    the runtime's emergency exit ends by the signal too.

Every child starts with SIGINT at its default (a driver started in the
background of a non-interactive shell has it ignored, and children would
inherit that); every bash runs in a session of its own.

Usage: shell_interrupt_test.py COHORT TILE_SERVER_PY [--bench-runner EXE]
                               [--signal-probe EXE] [--only SUBSTRING]
With COHORT_TEST_TILES_THREADS=N in the environment, `cohort tiles` runs
with `--threads N`.
Prints one line per test and ends with `N passed, N failed`; exits 1 on any
failure.
"""
import argparse
import fcntl
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import termios
import time
import traceback
import urllib.request

COHORT = None
SERVER_PY = None
BENCH_RUNNER = None
SIGNAL_PROBE = None
# `cohort tiles --threads` (unset: the binary's default).
TILES_THREADS = os.environ.get("COHORT_TEST_TILES_THREADS", "")
LOOP = 'for i in 1 2 3; do {cmd}; echo "next $i rc=$?"; done; echo "loop finished"'


class Failure(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failure(what)


def wait_until(pred, what, timeout=15.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return
        time.sleep(0.01)
    raise Failure(f"timed out waiting for {what}")


def default_signals():
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGQUIT):
        signal.signal(sig, signal.SIG_DFL)


def proc_status(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            return dict(l.split(":\t", 1) for l in f.read().splitlines() if ":\t" in l)
    except (FileNotFoundError, ProcessLookupError):
        return None


def session_processes(sid):
    """{pid: (ppid, exe)} of every live process of session `sid`."""
    found = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        pid = int(name)
        try:
            with open(f"/proc/{pid}/stat") as f:
                stat = f.read()
            fields = stat[stat.rfind(")") + 2:].split()
            if fields[0] == "Z" or int(fields[3]) != sid:
                continue
            exe = os.readlink(f"/proc/{pid}/exe")
        except (FileNotFoundError, ProcessLookupError, PermissionError, IndexError):
            continue
        found[pid] = (int(fields[1]), exe)
    return found


def catches_sigint(pid):
    status = proc_status(pid)
    return status is not None and bool(int(status["SigCgt"], 16) & (1 << (signal.SIGINT - 1)))


def cohort_ready(sid, exe, need_child):
    """The cohort process of session `sid` once it handles SIGINT (and, with
    `need_child`, has a job running), else None."""
    procs = session_processes(sid)
    for pid, (_, path) in procs.items():
        if path != exe or not catches_sigint(pid):
            continue
        if need_child and not any(ppid == pid for ppid, _ in procs.values()):
            continue
        return pid
    return None


def check_session_empty(sid):
    """Nothing started by the loop is left: no bash, no cohort, no job."""
    end = time.monotonic() + 3
    while session_processes(sid) and time.monotonic() < end:
        time.sleep(0.02)
    left = session_processes(sid)
    for pid in left:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    check(not left, f"processes of the loop survived: {left}")


class TileServer:
    """tests/support/tile_server.py whose every tile stalls for 30 s."""

    def __enter__(self):
        sys.path.insert(0, os.path.dirname(SERVER_PY))
        import tile_server
        self.process, self.port = tile_server.spawn("--timeout", 120, "--stop-on-stdin-eof",
                                                    "--stall-rate", "1", "--stall-seconds", "30")
        return self

    def __exit__(self, *exc):
        self.process.terminate()
        self.process.wait(10)
        self.process.stdin.close()
        self.process.stdout.close()

    def requests(self):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/_stats", timeout=10) as r:
            return json.loads(r.read())["requests"]


def quoted(words):
    return " ".join("'" + w.replace("'", "'\\''") + "'" for w in words)


class Tool:
    """One tool in the loop: its command, and how to know it is under way."""

    def __init__(self, name, words, ready):
        self.name = name
        self.words = words
        self.ready = ready  # (session id) -> pid of the tool once it works, or None


def run_tool(tmp):
    return Tool("cohort run", [COHORT, "run", "sleep", "3", ":::", "1"],
                lambda sid: cohort_ready(sid, COHORT, need_child=True))


def tiles_tool(tmp, server):
    out = os.path.join(tmp, f"tiles-{time.monotonic_ns()}")
    threads = ["--threads", TILES_THREADS] if TILES_THREADS else []
    words = [COHORT, "tiles", *threads, "--bbox", "13.30,52.45,13.50,52.56", "--zoom", "10-12",
             "--url", f"http://127.0.0.1:{server.port}/{{z}}/{{x}}/{{y}}.png", "-o", out, "-j", "2"]
    return Tool("cohort tiles", words,
                lambda sid: cohort_ready(sid, COHORT, need_child=False)
                if server.requests() > 0 else None)


def bench_tool(tmp):
    words = [BENCH_RUNNER, "--n", "20", "--concurrency", "10", "--work", "sleep30"]
    return Tool("cohort-bench-runner", words,
                lambda sid: cohort_ready(sid, os.path.realpath(BENCH_RUNNER), need_child=False))


def with_tools(tmp, fn):
    """Calls fn(tool) for every tool (the tiles one with its server)."""
    fn(run_tool(tmp))
    with TileServer() as server:
        fn(tiles_tool(tmp, server))
    if BENCH_RUNNER:
        fn(bench_tool(tmp))


def check_loop_stopped(tool, rc, out, err):
    check(rc == -signal.SIGINT,
          f"{tool.name}: bash ended with {rc}, expected {-signal.SIGINT} (the loop stopped by "
          f"the SIGINT); output {out!r}")
    check("next " not in out and "loop finished" not in out,
          f"{tool.name}: the loop went on after Ctrl+C: {out!r}")
    if tool.name.startswith("cohort "):
        check(err.count("interrupted by SIGINT") == 1,
              f"{tool.name}: expected one interrupted run: {err!r}")


# ---------------------------------------------------------------------------


def test_loop_stops_on_sigint_to_its_process_group(tmp):
    def one(tool):
        err_file = tempfile.TemporaryFile()
        bash = subprocess.Popen(["bash", "-c", LOOP.format(cmd=quoted(tool.words))],
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err_file,
                                start_new_session=True, preexec_fn=default_signals)
        sid = bash.pid
        try:
            wait_until(lambda: tool.ready(sid), f"{tool.name} under way")
            os.killpg(sid, signal.SIGINT)  # what a terminal's Ctrl+C does
            out, _ = bash.communicate(timeout=20)
        finally:
            if bash.poll() is None:
                os.killpg(sid, signal.SIGKILL)
                bash.wait()
        err = os.pread(err_file.fileno(), 1 << 20, 0).decode(errors="replace")
        check_loop_stopped(tool, bash.returncode, out.decode(errors="replace"), err)
        check_session_empty(sid)

    with_tools(tmp, one)


def on_terminal(words):
    """Starts `words` as the session leader of a new pseudo-terminal, which
    is its controlling terminal; returns (process, master fd)."""
    master, slave = os.openpty()
    attrs = termios.tcgetattr(slave)
    check(attrs[3] & termios.ISIG and attrs[6][termios.VINTR] == b"\x03",
          "the new terminal does not turn ^C into SIGINT")

    def setup():
        default_signals()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)  # after setsid: the session's terminal

    env = dict(os.environ, TERM="xterm", NO_COLOR="1")
    proc = subprocess.Popen(words, stdin=slave, stdout=slave, stderr=slave, env=env,
                            start_new_session=True, preexec_fn=setup)
    os.close(slave)
    return proc, master


def read_terminal(master, until_exit_of, timeout=20.0):
    seen = b""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        ready, _, _ = select.select([master], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: every copy of the other end is closed
                break
            if not chunk:
                break
            seen += chunk
        elif until_exit_of.poll() is not None:
            break
    return seen


def test_loop_stops_on_ctrl_c_at_a_terminal(tmp):
    def one(tool):
        bash, master = on_terminal(["bash", "-c", LOOP.format(cmd=quoted(tool.words))])
        sid = bash.pid
        try:
            wait_until(lambda: tool.ready(sid), f"{tool.name} under way")
            check(os.tcgetpgrp(master) == sid, "bash's group is not the terminal's foreground")
            os.write(master, b"\x03")  # Ctrl+C
            seen = read_terminal(master, bash)
            bash.wait(20)
        finally:
            os.close(master)
            if bash.poll() is None:
                os.killpg(sid, signal.SIGKILL)
                bash.wait()
        text = seen.decode(errors="replace")
        check_loop_stopped(tool, bash.returncode, text, text)
        check_session_empty(sid)

    with_tools(tmp, one)


def test_shell_status_is_128_plus_the_signal(tmp):
    # The signal goes to cohort alone: the shell was not interrupted, goes
    # on, and shows how cohort ended.
    for sig, code in ((signal.SIGINT, 130), (signal.SIGTERM, 143)):
        bash = subprocess.Popen(["bash", "-c", quoted(run_tool(tmp).words) + '; echo "rc=$?"'],
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, start_new_session=True,
                                preexec_fn=default_signals)
        try:
            cohort = []
            wait_until(lambda: cohort.append(cohort_ready(bash.pid, COHORT, True)) or cohort[-1],
                       "cohort run under way")
            os.kill(cohort[-1], sig)
            out, err = bash.communicate(timeout=20)
        finally:
            if bash.poll() is None:
                os.killpg(bash.pid, signal.SIGKILL)
                bash.wait()
        check(out.decode() == f"rc={code}\n", f"{sig.name}: the shell printed {out!r}; {err!r}")
        check(bash.returncode == 0, f"bash exited {bash.returncode}")


def test_a_non_shell_parent_sees_death_by_the_signal_after_every_cleanup(tmp):
    job = os.path.join(tmp, "job.sh")
    with open(job, "w") as f:
        f.write('trap \'echo cleanup $1 >> "$D/events"; exit 1\' TERM\n'
                'echo start $1 >> "$D/events"\nsleep 30 & wait\n')
    for sig, twice in ((signal.SIGINT, False), (signal.SIGTERM, False), (signal.SIGINT, True)):
        d = tempfile.mkdtemp(dir=tmp)
        events = os.path.join(d, "events")
        log = os.path.join(d, "log")
        p = subprocess.Popen([COHORT, "run", "-j", "3", "--joblog", log, "sh", job, ":::",
                              "1", "2", "3", "4"], env=dict(os.environ, D=d),
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, start_new_session=True,
                             preexec_fn=default_signals)

        def started():
            try:
                with open(events) as f:
                    return f.read().count("start") == 3
            except FileNotFoundError:
                return False

        try:
            wait_until(started, "3 jobs started")
            p.send_signal(sig)
            if twice:
                p.send_signal(sig)
            _, err = p.communicate(timeout=20)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        err = err.decode(errors="replace")
        what = f"{sig.name}{' twice' if twice else ''}"
        check(p.returncode == -sig, f"{what}: exit status {p.returncode}, expected {-sig}: {err!r}")
        with open(events) as f:
            lines = sorted(f.read().split("\n"))
        if not twice:
            check([l for l in lines if l.startswith("cleanup")] == ["cleanup 1", "cleanup 2",
                                                                    "cleanup 3"],
                  f"{what}: cleanups {lines}")
        last = err.rstrip("\n").split("\n")[-1]
        check(last.startswith(f"cohort run: interrupted by {sig.name}: "),
              f"{what}: the summary is not the last thing written: {err!r}")

    with TileServer() as server:
        for sig in (signal.SIGINT, signal.SIGTERM):
            tool = tiles_tool(tmp, server)
            p = subprocess.Popen(tool.words, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, start_new_session=True,
                                 preexec_fn=default_signals)
            try:
                wait_until(lambda: tool.ready(p.pid), "cohort tiles under way")
                p.send_signal(sig)
                _, err = p.communicate(timeout=20)
            finally:
                if p.poll() is None:
                    p.kill()
                    p.wait()
            err = err.decode(errors="replace")
            check(p.returncode == -sig, f"tiles {sig.name}: exit status {p.returncode}: {err!r}")
            last = err.rstrip("\n").split("\n")[-1]
            check(last.startswith(f"cohort tiles: interrupted by {sig.name}; resume with"),
                  f"tiles {sig.name}: the summary is not the last thing written: {err!r}")


def test_as_pid_1_it_exits_128_plus_the_signal(tmp):
    # PID 1 of a PID namespace ignores a signal whose action is the default,
    # even one it raises at itself: cohort then exits 128 + N.
    unshare = shutil.which("unshare")
    probe = subprocess.run([unshare or "unshare", "--pid", "--fork", "true"],
                           capture_output=True) if unshare else None
    if probe is None or probe.returncode != 0:
        print("  (skipped: no PID namespace here)")
        return
    p = subprocess.Popen([unshare, "--pid", "--fork"] + run_tool(tmp).words,
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         start_new_session=True, preexec_fn=default_signals)
    try:
        cohort = []
        wait_until(lambda: cohort.append(cohort_ready(p.pid, COHORT, True)) or cohort[-1],
                   "cohort run under way as PID 1")
        with open(f"/proc/{cohort[-1]}/status") as f:
            nspid = [l for l in f.read().splitlines() if l.startswith("NSpid:")][0].split()
        check(nspid[-1] == "1", f"not PID 1 in its namespace: {nspid}")
        os.kill(cohort[-1], signal.SIGINT)
        _, err = p.communicate(timeout=20)
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
    check(p.returncode == 130, f"exit status {p.returncode}, expected 130: {err!r}")
    check(b"interrupted by SIGINT" in err, f"not interrupted: {err!r}")


def test_the_escalation_limit_ends_by_the_signal(tmp):
    # A blocking call on the pool that no cancellation can cut: after the
    # grace (0.2 s) and the escalation limit (0.3 s) the runtime prints the
    # task tree and ends the process at once, by the signal.
    if not SIGNAL_PROBE:
        print("  (skipped: no --signal-probe)")
        return
    for sig in (signal.SIGINT, signal.SIGTERM):
        p = subprocess.Popen([SIGNAL_PROBE, "--blocking-ms", "30000", "--grace-ms", "200",
                              "--limit-ms", "300"], stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             start_new_session=True, preexec_fn=default_signals)
        try:
            check(p.stdout.readline() == b"blocking 0\n", "the probe did not block")
            t = time.monotonic()
            p.send_signal(sig)
            _, err = p.communicate(timeout=20)
            took = time.monotonic() - t
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        err = err.decode(errors="replace")
        check(p.returncode == -sig, f"{sig.name}: exit status {p.returncode}, expected {-sig}: "
              f"{err!r}")
        check("after escalation; exiting now" in err, f"{sig.name}: no emergency exit: {err!r}")
        check(took < 5, f"{sig.name}: ended {took:.2f} s after the signal")


# ---------------------------------------------------------------------------

TESTS = [(name[5:], fn) for name, fn in sorted(globals().items())
         if name.startswith("test_") and callable(fn)]


def main():
    global COHORT, SERVER_PY, BENCH_RUNNER, SIGNAL_PROBE
    ap = argparse.ArgumentParser()
    ap.add_argument("cohort")
    ap.add_argument("tile_server")
    ap.add_argument("--bench-runner")
    ap.add_argument("--signal-probe")
    ap.add_argument("--only", default="")
    a = ap.parse_args()
    COHORT = os.path.realpath(a.cohort)
    SERVER_PY = os.path.abspath(a.tile_server)
    BENCH_RUNNER = os.path.realpath(a.bench_runner) if a.bench_runner else None
    SIGNAL_PROBE = os.path.realpath(a.signal_probe) if a.signal_probe else None
    default_signals()
    passed = failed = 0
    for name, fn in TESTS:
        if a.only not in name:
            continue
        tmp = tempfile.mkdtemp(prefix="shell-interrupt-")
        t = time.monotonic()
        try:
            fn(tmp)
            passed += 1
            print(f"ok   {name} ({time.monotonic() - t:.2f} s)", flush=True)
        except Exception as e:
            failed += 1
            detail = str(e) if isinstance(e, Failure) else traceback.format_exc()
            print(f"FAIL {name}: {detail}", flush=True)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
