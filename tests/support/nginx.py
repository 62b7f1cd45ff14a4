"""Debian's nginx as a child process on a loopback port, in front of given servers,
with the site configuration of `deploy/nginx/compose.conf` (and its proxy snippet)
as docs/deploy.md gives it: what the tests check is what a deployment runs.

Everything nginx writes (pid, logs, temporary bodies) goes to a folder of the
test's own; `-g 'daemon off;'` keeps it a child of the test, stopped by `stop`.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from support.server import ROOT, free_port, terminate

DEPLOY = ROOT / "deploy" / "nginx"
NGINX = os.environ.get("PARAMLAB_NGINX", "/usr/sbin/nginx")


def nginx_path() -> str | None:
    """The nginx binary, or None where it is not installed."""
    if Path(NGINX).is_file() and os.access(NGINX, os.X_OK):
        return NGINX
    return shutil.which("nginx")


def connections_to(port: int) -> int:
    """Open TCP connections a server listening on `port` holds now (from /proc/net/tcp and tcp6:
    state 01, established, with `port` as their local port): which process nginx sent clients to."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(FileNotFoundError), open(table) as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                if fields[3] == "01" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                    count += 1
    return count


def _replace_once(text: str, pattern: str, new: str) -> str:
    """`text` with the one match of `pattern` replaced; fails loudly if the deploy file changed shape."""
    matches = len(re.findall(pattern, text, flags=re.MULTILINE))
    if matches != 1:
        raise AssertionError(f"deploy/nginx: expected one match of {pattern!r}, found {matches}")
    return re.sub(pattern, lambda _: new, text, flags=re.MULTILINE)


def site_config(upstreams: Sequence[str], port: int) -> str:
    """deploy/nginx/compose.conf with its upstream servers replaced by `upstreams` ("127.0.0.1:8001"),
    its listen line by a loopback port, and its snippet include by the snippet in this checkout."""
    text = (DEPLOY / "compose.conf").read_text()
    servers = "".join(f"    server {u};\n" for u in upstreams)
    text = _replace_once(text, r"^(?:    server paramlab\d:8000;\n)+", servers)
    text = _replace_once(text, r"^    listen 80;$", f"    listen 127.0.0.1:{port};")
    return _replace_once(text, r"include /etc/nginx/snippets/paramlab-proxy\.conf;",
                         f"include {DEPLOY / 'paramlab-proxy.conf'};")


def tls_site_config(cert: Path, key: Path) -> str:
    """deploy/nginx/paramlab.conf (the TLS site for Debian's nginx) with a test certificate and the
    snippet in this checkout: for `nginx -t`, which reads the certificates but binds no port."""
    text = (DEPLOY / "paramlab.conf").read_text()
    text = _replace_once(text, r"ssl_certificate +\S+;", f"ssl_certificate {cert};")
    text = _replace_once(text, r"ssl_certificate_key +\S+;", f"ssl_certificate_key {key};")
    return _replace_once(text, r"include snippets/paramlab-proxy\.conf;", f"include {DEPLOY / 'paramlab-proxy.conf'};")


def main_config(prefix: Path, site: Path, worker_connections: int, workers: int = 1) -> str:
    """The main context: `workers` worker processes, every path inside `prefix`, the site included in `http`."""
    temp = "\n".join(f"    {kind}_temp_path {prefix / (kind + '_temp')};"
                     for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    # As root, nginx would hand its worker to "nobody", who cannot write in the test's folder.
    user = "user root;\n" if os.geteuid() == 0 else ""
    return (f"{user}worker_processes {workers};\npid {prefix / 'nginx.pid'};\nerror_log {prefix / 'error.log'} warn;\n"
            f"worker_rlimit_nofile {2 * worker_connections + 64};\n"
            f"events {{\n    worker_connections {worker_connections};\n}}\n"
            f"http {{\n    access_log {prefix / 'access.log'};\n{temp}\n    include {site};\n}}\n")


class Nginx:
    """nginx on 127.0.0.1:`port` (a free one unless given) in front of `upstreams`.

    `prefix`: a folder of the caller's for the configuration, pid, logs and temporary files.
    `worker_connections`: a proxied websocket holds two (client and server side); `workers`: nginx's
    worker processes (one is plenty for tests; a benchmark of a thousand clients gives it one a core).
    """

    start_timeout = 10.0

    def __init__(self, upstreams: Sequence[str], prefix: Path, port: int | None = None,
                 worker_connections: int = 1024, workers: int = 1) -> None:
        binary = nginx_path()
        if binary is None:
            raise RuntimeError("nginx is not installed (apt-get install nginx)")
        self.binary = binary
        self.prefix = prefix
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws = f"ws://127.0.0.1:{self.port}/ws"
        self.upstreams = list(upstreams)
        self.worker_connections = worker_connections
        self.workers = workers
        self.proc: subprocess.Popen[bytes] | None = None

    def write_config(self, site: Path | None = None) -> Path:
        """The main configuration around `site` (by default the compose site in front of `upstreams`)."""
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (self.prefix / f"{kind}_temp").mkdir(parents=True, exist_ok=True)
        if site is None:
            site = self.prefix / "paramlab-site.conf"
            site.write_text(site_config(self.upstreams, self.port))
        conf = self.prefix / "nginx.conf"
        conf.write_text(main_config(self.prefix, site, self.worker_connections, self.workers))
        return conf

    def command(self, conf: Path, *extra: str) -> list[str]:
        # -e: the error log before the configuration is read (not /var/log/nginx, which only root may write).
        return [self.binary, "-p", str(self.prefix), "-c", str(conf), "-e", str(self.prefix / "error.log"), *extra]

    def check(self, site: Path | None = None) -> None:
        """`nginx -t` on the configuration (around `site` if given); raises with nginx's words if refused."""
        done = subprocess.run(self.command(self.write_config(site), "-t"), capture_output=True, timeout=30)
        if done.returncode != 0:
            raise RuntimeError(f"nginx refused the configuration: {done.stderr.decode(errors='replace')}")

    def start(self) -> Nginx:
        """Start it and wait until its port takes connections."""
        self.check()
        log = (self.prefix / "nginx.out").open("wb")
        self.proc = subprocess.Popen(self.command(self.prefix / "nginx.conf", "-g", "daemon off;"),
                                     stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"nginx exited: {self.error_log()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"nginx did not listen on {self.port} within {self.start_timeout:.0f} s")

    @property
    def pids(self) -> list[int]:
        """The master's and its workers' process ids (for their CPU time)."""
        assert self.proc is not None
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        return [self.proc.pid, *(int(pid) for pid in children.read_text().split())]

    def error_log(self) -> str:
        path = self.prefix / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        """SIGTERM (nginx's fast stop: open websockets are cut, not waited for), then SIGKILL."""
        terminate(self.proc)

    def __enter__(self) -> Nginx:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
