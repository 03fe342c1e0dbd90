"""One nginx on loopback for the benchmarks that serve files to cohort
(tiles_vs_peers.py, pmtiles_extract.py): the same settings for every client
and run (one worker, sendfile, unlimited keep-alive), each benchmark adding
its own servers and logs."""

import os
import shutil
import subprocess
import time
import urllib.request

CONF = """daemon off;
master_process on;
worker_processes 1;
worker_rlimit_nofile 8192;
pid {ng}/nginx.pid;
error_log {ng}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_requests 1000000;
    default_type application/octet-stream;
    client_body_temp_path {ng}/tmp/body;
    proxy_temp_path {ng}/tmp/proxy;
    fastcgi_temp_path {ng}/tmp/fastcgi;
    uwsgi_temp_path {ng}/tmp/uwsgi;
    scgi_temp_path {ng}/tmp/scgi;
{http}
}}
"""


def start(work, http, probe_url, die, busy_hint=""):
    """Starts nginx with its files in WORK/nginx and `http` (the lines of the
    http block that are the benchmark's own: servers, logs; `{ng}` in them is
    that directory); returns the process once `probe_url` answers. Calls
    die(message) if it exits or does not answer."""
    ng = os.path.join(work, "nginx")
    os.makedirs(os.path.join(ng, "tmp"), exist_ok=True)
    conf = os.path.join(ng, "nginx.conf")
    with open(conf, "w") as f:
        f.write(CONF.format(ng=ng, http=http.replace("{ng}", ng)))
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    proc = subprocess.Popen([nginx, "-e", os.path.join(ng, "error.log"), "-c", conf])
    for _ in range(100):
        try:
            urllib.request.urlopen(probe_url, timeout=1).close()
            return proc
        except OSError:
            if proc.poll() is not None:
                die(f"nginx exited {proc.returncode}{busy_hint}; see {ng}/error.log")
            time.sleep(0.05)
    proc.kill()
    die(f"nginx did not answer at {probe_url}; see {ng}/error.log")
