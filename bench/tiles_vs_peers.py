#!/usr/bin/env python3
"""`cohort tiles` against curl --parallel, aria2c, wget2 and the asyncio
reference (../shared/peers/asyncio_tiles.py), all at the same number of
connections, against one nginx on loopback, in one run.

The data: every tile of zooms 0..7 of the whole world (21,845 tiles, the
peers' script uses 20,000), each 2-30 KiB of seeded random bytes behind a PNG
signature (so `cohort tiles` validation accepts them), served by nginx
(Debian's nginx-light, one worker, access log off) on 127.0.0.1.

Each client fetches every tile into a fresh output, once with the outputs on
a tmpfs (/dev/shm: the file system out of the comparison) and once on the
disk (under --work), in the same run. The figure is tiles per second of the
whole run (wall time from start to exit); CPU (user+sys of the client's
whole process tree, from /usr/bin/time) and peak RSS come from the client's
rusage, and the CPU is also given per tile. The server's CPU per tile (its
worker's utime+stime from /proc, before and after) says how much of the
machine the server needed for that client. Every output is verified
afterwards (every tile present, byte-exact) and a client that fails
verification is marked so. With --runs R every client runs R times,
interleaved; the median is shown with the spread. The ratios are cohort's
tiles/s over each peer's. cohort-mbtiles and cohort-dir run at their default
--threads (one event loop per core), cohort-mbtiles-t1 and cohort-dir-t1
with --threads 1 (one loop).

The server's own bound: before the clients of each run, a load generator
with no client-side work (wrk, cycling through the same tile URLs at the
same number of connections, bodies discarded; without wrk, curl --parallel
writing every body to /dev/null) says how many tiles per second nginx
serves on this machine when nothing is stored; each client's rate is shown
as a share of it.

Last, the resume check: `cohort tiles` is sent a real SIGINT at about half
way (counted in the logged server's access log), must end by that SIGINT
(a shell's 130), and a re-run of the same command must complete the output
fetching only what was missing; the access log says how many tiles were
fetched twice.

Usage: tiles_vs_peers.py --bin build/bin/cohort --peers DIR [--conns 16]
         [--runs 1] [--port 18181] [--clients cohort-mbtiles,cohort-dir,curl,...]
         [--max-zoom 7] [--outs /dev/shm,disk] [--bound-seconds 5] [--keep]
"""
import argparse
import json
import os
import random
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

import bench_nginx

PNG = b"\x89PNG\r\n\x1a\n"
WORLD = "-180,-85.0511,180,85.0511"
# cohort-* at its default --threads (one loop per core), cohort-*-t1 with
# --threads 1 (one loop: what the threads bring is the difference).
ALL_CLIENTS = ["cohort-mbtiles", "cohort-dir", "cohort-mbtiles-t1", "cohort-dir-t1", "curl",
               "aria2", "wget2", "asyncio"]


def die(msg):
    sys.exit(f"tiles_vs_peers: {msg}")


def tile_list(max_zoom):
    return [(z, x, y) for z in range(max_zoom + 1) for x in range(1 << z) for y in range(1 << z)]


def make_tree(root, tiles, seed=20240601):
    """Writes root/z/x/y.png; returns the total bytes. Reuses a tree made with
    the same parameters."""
    stamp = os.path.join(root, ".made")
    want = f"{len(tiles)} {seed}"
    if os.path.exists(stamp) and open(stamp).read().split("\n")[0] == want:
        return int(open(stamp).read().split("\n")[1])
    shutil.rmtree(root, ignore_errors=True)
    rng = random.Random(seed)
    total = 0
    for z, x, y in tiles:
        d = os.path.join(root, str(z), str(x))
        os.makedirs(d, exist_ok=True)
        size = rng.randint(2 * 1024, 30 * 1024)
        with open(os.path.join(d, f"{y}.png"), "wb") as f:
            f.write(PNG + rng.randbytes(size - len(PNG)))
        total += size
    with open(stamp, "w") as f:
        f.write(f"{want}\n{total}\n")
    return total


# The tile tree on two ports: the clients' without a log, and the resume
# check's with one (each request's path and status).
NGINX_HTTP = """    access_log off;
    keepalive_timeout 65;
    types {{ image/png png; }}
    log_format tiles '$request_uri $status';
    server {{
        listen 127.0.0.1:{port};
        root {root};
        location / {{ try_files $uri =404; }}
    }}
    server {{
        listen 127.0.0.1:{rport};
        root {root};
        access_log {{ng}}/access.log tiles;
        location / {{ try_files $uri =404; }}
    }}"""


def start_nginx(work, root, port):
    proc = bench_nginx.start(work, NGINX_HTTP.format(root=root, port=port, rport=port + 1),
                             f"http://127.0.0.1:{port}/0/0/0.png", die,
                             f" (port {port} or {port + 1} busy? use --port)")
    return proc, os.path.join(work, "nginx", "access.log")


def run_measured(cmd, stdout=subprocess.DEVNULL):
    """Runs cmd; returns (exit code, wall seconds, cpu seconds, peak RSS MiB, stderr).

    Through /usr/bin/time: Linux carries the forking process's peak RSS into
    the child's ru_maxrss across exec, so this (large) Python process cannot
    measure it with wait4 itself."""
    err = tempfile.TemporaryFile()
    stats = tempfile.NamedTemporaryFile(mode="r")
    t = time.monotonic()
    p = subprocess.run(["/usr/bin/time", "-f", "%U %S %M", "-o", stats.name] + cmd,
                       stdout=stdout, stderr=err)
    wall = time.monotonic() - t
    user, system, rss_kib = stats.read().split()[-3:]
    err.seek(0)
    return (p.returncode, wall, float(user) + float(system), int(rss_kib) / 1024,
            err.read().decode(errors="replace"))


# cohort's directory output keeps its state (stored, missing and failed tiles,
# the fingerprint) in this SQLite file at the top of the directory.
COHORT_DIR_STATE = ".cohort-tiles.db"


def verify_dir(out, root, tiles):
    """Every tile present under out/z/x/y.png and byte-exact; nothing else."""
    bad = 0
    for z, x, y in tiles:
        rel = f"{z}/{x}/{y}.png"
        try:
            with open(os.path.join(out, rel), "rb") as a, open(os.path.join(root, rel), "rb") as b:
                if a.read() != b.read():
                    bad += 1
        except FileNotFoundError:
            bad += 1
    files = sum(len([f for f in fs if not f.startswith(COHORT_DIR_STATE)])
                for _, _, fs in os.walk(out))
    return bad == 0 and files == len(tiles), f"{len(tiles) - bad}/{len(tiles)} exact, {files} files"


def verify_mbtiles(path, root, tiles):
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    rows = {}
    for z, x, row, data in db.execute(
            "SELECT zoom_level, tile_column, tile_row, tile_data FROM tiles"):
        rows[(z, x, (1 << z) - 1 - row)] = data  # TMS row flip
    db.close()
    bad = 0
    for z, x, y in tiles:
        with open(os.path.join(root, str(z), str(x), f"{y}.png"), "rb") as f:
            if rows.get((z, x, y)) != f.read():
                bad += 1
    ok = bad == 0 and len(rows) == len(tiles)
    return ok, f"{len(tiles) - bad}/{len(tiles)} exact, {len(rows)} rows"


def write_inputs(work, tiles, base):
    rel = [f"{z}/{x}/{y}.png" for z, x, y in tiles]
    paths = {}
    for name, line in (("urls.txt", lambda r: f"{base}/{r}\n"),
                       ("aria2.in", lambda r: f"{base}/{r}\n  out={r}\n"),
                       ("curl.cfg", lambda r: f'url = "{base}/{r}"\noutput = "{r}"\n')):
        paths[name] = os.path.join(work, name)
        with open(paths[name], "w") as f:
            f.writelines(line(r) for r in rel)
    return paths


def client_command(name, a, out, inputs, base, max_zoom):
    c = str(a.conns)
    if name.startswith("cohort"):
        target = out + ".mbtiles" if name.startswith("cohort-mbtiles") else out
        threads = ["--threads", "1"] if name.endswith("-t1") else []
        return [a.bin, "tiles", "--bbox", WORLD, "--zoom", f"0-{max_zoom}", "--url",
                base + "/{z}/{x}/{y}.png", "-o", target, "-j", c, "--quiet", "--json",
                # --max-zoom sizes the run on purpose: no guard against its count.
                "--max-tiles", "0", *threads], target
    if name == "curl":
        return ["curl", "-sS", "--no-progress-meter", "--fail", "--parallel", "--parallel-max", c,
                "--create-dirs", "--output-dir", out, "-K", inputs["curl.cfg"]], out
    if name == "aria2":
        return ["aria2c", "--no-conf=true", "-i", inputs["aria2.in"], "-d", out, "-j", c, "-x", "1",
                "-s", "1", "--allow-overwrite=true", "--auto-file-renaming=false",
                "--file-allocation=none", "--console-log-level=warn", "--summary-interval=0",
                "--download-result=hide", "-q"], out
    if name == "wget2":
        return ["wget2", "--no-config", "-q", f"--max-threads={c}", "-i", inputs["urls.txt"], "-x",
                "-nH", "-P", out], out
    if name == "asyncio":
        return [sys.executable, os.path.join(a.peers, "asyncio_tiles.py"), "--urls",
                inputs["urls.txt"], "--out", out, "--workers", c], out
    die(f"unknown client {name}")


def clear(path):
    if os.path.isdir(path):
        shutil.rmtree(path)
    for suffix in ("", "-wal", "-shm", "-journal"):
        if os.path.exists(path + suffix) and not os.path.isdir(path + suffix):
            os.unlink(path + suffix)


def resume_check(a, outs, root, tiles, access_log, max_zoom):
    """SIGINT at about half way, then the same command again."""
    base = f"http://127.0.0.1:{a.port + 1}"
    cmd, target = client_command("cohort-mbtiles", a, os.path.join(outs, "resume"), {}, base,
                                 max_zoom)
    clear(target)
    open(access_log, "w").close()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    half = len(tiles) // 2
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and p.poll() is None:
        with open(access_log, "rb") as f:
            if f.read().count(b"\n") >= half:
                break
        time.sleep(0.005)
    t = time.monotonic()
    p.send_signal(signal.SIGINT)
    out1, err1 = p.communicate()
    stop_s = time.monotonic() - t
    with open(access_log, "rb") as f:
        served1 = [l.split()[0] for l in f.read().decode().splitlines() if l.endswith(" 200")]
    db = sqlite3.connect(f"file:{target}?mode=ro", uri=True)
    stored1 = db.execute("SELECT count(*) FROM tiles").fetchone()[0]
    db.close()
    open(access_log, "w").close()
    rc2, wall2, _, _, err2 = run_measured(cmd)
    with open(access_log, "rb") as f:
        served2 = [l.split()[0] for l in f.read().decode().splitlines() if l.endswith(" 200")]
    twice = len(set(served1) & set(served2))
    ok, detail = verify_mbtiles(target, root, tiles)
    print(f"resume: SIGINT after {len(served1)} tiles served; cohort exited {p.returncode} "
          f"(-2, killed by the SIGINT, expected) {stop_s * 1000:.0f} ms after the signal with {stored1} tiles stored")
    print(f"resume: re-run exited {rc2} in {wall2:.2f} s fetching {len(served2)} tiles; "
          f"fetched in both runs: {twice} (served but not yet stored at the signal: "
          f"{len(served1) - stored1}); final output: {detail}")
    clear(target)
    if p.returncode != -signal.SIGINT or rc2 != 0 or not ok:
        print(f"resume: FAILED; first run's stderr: {err1.decode()[-400:]!r}; "
              f"re-run's: {err2[-400:]!r}")
        return False
    return True


def nginx_worker_cpu(master_pid):
    """CPU seconds (utime + stime) of nginx's workers so far, from /proc."""
    try:
        with open(f"/proc/{master_pid}/task/{master_pid}/children") as f:
            workers = f.read().split()
    except OSError:
        return None
    total = 0
    for w in workers:
        try:
            with open(f"/proc/{w}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()  # from field 3 (state) on
        total += int(fields[11]) + int(fields[12])  # fields 14 and 15: utime, stime
    return total / os.sysconf("SC_CLK_TCK")


# wrk's request generator: every tile path of the list in turn, each thread
# starting at another place of it, so that nginx serves the same files as it
# does to the clients (not one cached tile).
WRK_LUA = """local paths = {{}}
for line in io.lines("{paths}") do paths[#paths + 1] = line end
local threads = 0
function setup(thread)
  thread:set("first", threads * 7919 % #paths)
  threads = threads + 1
end
local i = nil
function request()
  if i == nil then i = first or 0 end
  i = i % #paths + 1
  return wrk.format("GET", paths[i])
end
"""


def server_bound(a, work, tiles, base, nginx_pid):
    """The server's own bound: tiles/s nginx serves to a load generator that
    does no work with the bodies, at the same number of connections, and the
    server's CPU per tile meanwhile. Returns (tool description, tiles/s,
    server CPU us per tile)."""
    cpu0 = nginx_worker_cpu(nginx_pid)
    if shutil.which("wrk"):
        paths = os.path.join(work, "paths.txt")
        script = os.path.join(work, "cycle.lua")
        with open(paths, "w") as f:
            f.writelines(f"/{z}/{x}/{y}.png\n" for z, x, y in tiles)
        with open(script, "w") as f:
            f.write(WRK_LUA.format(paths=paths))
        cmd = ["wrk", "-t", str(a.bound_threads), "-c", str(a.conns), "-d",
               f"{a.bound_seconds}s", "-s", script, base + "/"]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=a.bound_seconds + 60)
        rate, served, bad = None, None, 0
        for line in out.stdout.splitlines():
            if line.startswith("Requests/sec:"):
                rate = float(line.split()[1])
            elif "requests in" in line:
                served = int(line.split()[0])
            elif line.strip().startswith("Non-2xx"):
                bad = int(line.split()[-1])
        if out.returncode != 0 or rate is None or bad:
            die(f"wrk failed (exit {out.returncode}, {bad} non-2xx): {out.stdout}{out.stderr}")
        what = f"wrk -t{a.bound_threads} -c{a.conns} {a.bound_seconds} s, every tile in turn"
    else:
        cfg = os.path.join(work, "null.cfg")
        with open(cfg, "w") as f:
            f.writelines(f'url = "{base}/{z}/{x}/{y}.png"\noutput = "/dev/null"\n'
                         for z, x, y in tiles)
        t = time.monotonic()
        out = subprocess.run(["curl", "-sS", "--fail", "--parallel", "--parallel-max",
                              str(a.conns), "-K", cfg], capture_output=True, text=True)
        if out.returncode != 0:
            die(f"curl to /dev/null failed (exit {out.returncode}): {out.stderr[-300:]}")
        served = len(tiles)
        rate = served / (time.monotonic() - t)
        what = f"curl --parallel-max {a.conns} into /dev/null (no wrk)"
    cpu1 = nginx_worker_cpu(nginx_pid)
    server_us = (cpu1 - cpu0) / served * 1e6 if cpu0 is not None and served else None
    return what, rate, server_us


def fmt_us(v):
    return "?" if v is None else f"{v:.0f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", default="build/bin/cohort")
    ap.add_argument("--peers", required=True, help="directory of asyncio_tiles.py")
    ap.add_argument("--conns", type=int, default=16)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--port", type=int, default=18181)
    ap.add_argument("--max-zoom", type=int, default=7)
    ap.add_argument("--clients", default=",".join(ALL_CLIENTS))
    ap.add_argument("--no-resume", action="store_true")
    ap.add_argument("--work", default=os.path.join(tempfile.gettempdir(), "cohort-tiles-bench"))
    ap.add_argument("--outs", default="/dev/shm,disk",
                    help="where the clients write, comma-separated, each in the same run: "
                    "directories, or 'disk' for under --work (default: /dev/shm,disk: "
                    "a tmpfs, which takes the file system out of the comparison, and the disk)")
    ap.add_argument("--out", help="one place only (as --outs DIR)")
    ap.add_argument("--bound-seconds", type=int, default=5,
                    help="length of each server-bound measurement (0: none)")
    ap.add_argument("--bound-threads", type=int, default=1, help="wrk's threads")
    ap.add_argument("--keep", action="store_true", help="keep the tile tree for the next run")
    a = ap.parse_args()
    a.bin = os.path.abspath(a.bin)
    clients = [c for c in a.clients.split(",") if c]
    for c in clients:
        if c not in ALL_CLIENTS:
            die(f"unknown client '{c}' (known: {', '.join(ALL_CLIENTS)})")
    if not os.path.exists("/usr/bin/time"):
        die("/usr/bin/time is not installed (scripts/setup time installs it)")
    tools = {"curl": "curl", "aria2": "aria2c", "wget2": "wget2", "nginx": "nginx"}
    for c, tool in tools.items():
        if (c == "nginx" or c in clients) and not (shutil.which(tool) or
                                                   os.path.exists(f"/usr/sbin/{tool}")):
            die(f"{tool} is not installed (scripts/setup nginx-light aria2 wget2 time installs it)")

    work = a.work
    os.makedirs(work, exist_ok=True)
    tiles = tile_list(a.max_zoom)
    root = os.path.join(work, "tiles")
    t = time.monotonic()
    total = make_tree(root, tiles)
    # Into the page cache before any client runs: otherwise the first one
    # also waits for nginx reading the tree from disk.
    for z, x, y in tiles:
        with open(os.path.join(root, str(z), str(x), f"{y}.png"), "rb") as f:
            f.read()
    print(f"data: {len(tiles):,} tiles (zooms 0-{a.max_zoom}), {total / 2**20:.0f} MiB, "
          f"in {root} ({time.monotonic() - t:.1f} s to prepare, read once to be cached)")
    places = []  # (label, directory the outputs go in, made by us under another directory)
    for spec in ([a.out] if a.out else [o for o in a.outs.split(",") if o]):
        if spec == "disk":
            d, apart = os.path.join(work, "outputs"), False
        else:
            d, apart = os.path.join(os.path.abspath(spec), "cohort-tiles-bench-out"), True
        os.makedirs(d, exist_ok=True)
        fstype = subprocess.run(["stat", "-f", "-c", "%T", d], capture_output=True,
                                text=True).stdout.strip()
        places.append((f"{d} ({fstype})", d, apart))
        print(f"outputs: {d} ({fstype})")
    nginx, access_log = start_nginx(work, root, a.port)
    try:
        base = f"http://127.0.0.1:{a.port}"
        inputs = write_inputs(work, tiles, base)
        results = {(p[0], c): [] for p in places for c in clients}
        bounds = []
        ok_all = True
        for _ in range(a.runs):
            if a.bound_seconds > 0:
                bounds.append(server_bound(a, work, tiles, base, nginx.pid))
            for label, outs, _ in places:
                for c in clients:
                    out = os.path.join(outs, "out-" + c)
                    cmd, target = client_command(c, a, out, inputs, base, a.max_zoom)
                    clear(target)
                    if not c.startswith("cohort"):
                        os.makedirs(out)
                    subprocess.run(["sync"])
                    cpu0 = nginx_worker_cpu(nginx.pid)
                    rc, wall, cpu, rss, err = run_measured(cmd)
                    cpu1 = nginx_worker_cpu(nginx.pid)
                    server_us = (cpu1 - cpu0) / len(tiles) * 1e6 if cpu0 is not None else None
                    if c.startswith("cohort-mbtiles"):
                        ok, detail = verify_mbtiles(target, root, tiles)
                    else:
                        ok, detail = verify_dir(out, root, tiles)
                    if rc != 0:
                        ok = False
                        detail += f"; exit {rc}: {err.strip()[-300:]}"
                    ok_all &= ok
                    results[(label, c)].append((len(tiles) / wall, cpu, rss, ok, detail,
                                                server_us))
                    clear(target)
        load = open("/proc/loadavg").read().split()[0]
        print(f"{a.conns} connections each; {a.runs} run(s) each, interleaved; "
              f"{os.cpu_count()} cores, load {load} after the runs; nginx 1 worker")
        bound = None
        if bounds:
            bound = statistics.median(b[1] for b in bounds)
            server_us = [b[2] for b in bounds if b[2] is not None]
            print(f"server bound ({bounds[0][0]}): {bound:,.0f} tiles/s (median; "
                  f"{min(b[1] for b in bounds):,.0f}..{max(b[1] for b in bounds):,.0f}), "
                  f"server CPU {fmt_us(statistics.median(server_us) if server_us else None)} "
                  f"us per tile")
        for label, _, _ in places:
            print()
            print(f"outputs on {label}:")
            print("| client | tiles/s (median) | min..max | of server bound | "
                  "CPU us/tile | CPU s | server CPU us/tile | peak RSS MiB | output verified |")
            print("|---|---|---|---|---|---|---|---|---|")
            med = {}
            for c in clients:
                rs = results[(label, c)]
                rates = [r[0] for r in rs]
                med[c] = statistics.median(rates)
                cpu = statistics.median(r[1] for r in rs)
                sus = [r[5] for r in rs if r[5] is not None]
                share = f"{med[c] / bound:.0%}" if bound else "-"
                print(f"| {c} | {med[c]:,.0f} | {min(rates):,.0f}..{max(rates):,.0f} | "
                      f"{share} | {cpu / len(tiles) * 1e6:.0f} | {cpu:.2f} | "
                      f"{fmt_us(statistics.median(sus) if sus else None)} | "
                      f"{max(r[2] for r in rs):.1f} | "
                      f"{'yes' if all(r[3] for r in rs) else 'NO: ' + rs[-1][4]} |")
            for ours in ("cohort-mbtiles", "cohort-dir"):
                if ours not in med:
                    continue
                for peer in clients:
                    if not peer.startswith("cohort") or peer == ours + "-t1":
                        print(f"{ours} / {peer}: {med[ours] / med[peer]:.2f}x")
        if not a.no_resume and any(c.startswith("cohort") for c in clients):
            ok_all &= resume_check(a, places[0][1], root, tiles, access_log, a.max_zoom)
    finally:
        nginx.send_signal(signal.SIGQUIT)
        nginx.wait()
        for _, d, apart in places:
            if apart:
                shutil.rmtree(d, ignore_errors=True)
        for name in os.listdir(work):
            if name != "tiles" or not a.keep:
                p = os.path.join(work, name)
                shutil.rmtree(p) if os.path.isdir(p) else os.unlink(p)
    if not ok_all:
        die("some output did not verify (see the table)")


if __name__ == "__main__":
    main()
