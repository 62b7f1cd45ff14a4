"""A real redis-server and Paramlab server processes sharing it, all on loopback.

    from support.redis_cluster import cluster

    with cluster(tmp_path, processes=2) as c:
        c.urls        # ["http://127.0.0.1:PORT", ...], one per server process
        c.servers     # the same as `support.server.Server`s (.ws, .kill(), .stop(), .start(), .get_json())
        c.redis_url   # "redis://127.0.0.1:PORT/0"
        c.redis       # the RedisServer: .stop(), .start() (same port, same data), .kill(), .client()

`cluster(workdir, processes=2, env=None, main=False)`: env is added to every
server's environment (after PARAMLAB_REDIS_URL and a snapshot interval of
0.5 s); `main=True` starts them as `python -m app` (SIGTERM goes through
uvicorn's shutdown as in production). Everything is stopped on the way out,
even after a failure. Logs and Redis' files stay in `workdir`.

`redis_server(workdir)` alone gives a RedisServer (the store's contract tests
use it). Redis writes an append-only file (fsync every second, Redis' default;
SIGTERM flushes it), so a restart keeps what it held, as a deployment would. `requires_redis` skips a test only when redis-server
is not installed (scripts/test.sh installs it: in CI these tests run).
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from support.server import Server, free_port, terminate

REDIS_SERVER = shutil.which("redis-server")
requires_redis = pytest.mark.skipif(REDIS_SERVER is None, reason="redis-server is not installed "
                                    "(apt-get install redis-server; scripts/test.sh does)")


class RedisServer:
    """redis-server on 127.0.0.1 at a free port, its files in `workdir`."""

    def __init__(self, workdir: Path) -> None:
        assert REDIS_SERVER is not None, "redis-server is not installed"
        self.workdir = workdir
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> RedisServer:
        """Start it (again, on the same port and files) and wait until it answers PING."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        assert REDIS_SERVER is not None
        command = [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.workdir),
                   "--save", "", "--appendonly", "yes", "--appendfsync", "everysec", "--daemonize", "no",
                   "--protected-mode", "yes", "--logfile", str(self.workdir / "redis.log")]
        self.proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited: {(self.workdir / 'redis.log').read_text()[-2000:]}")
            try:
                with self.client() as c:
                    if c.ping():
                        return self
            except (redis.RedisError, OSError):
                time.sleep(0.05)
        raise RuntimeError("redis-server did not answer PING within 10 s")

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=2)

    def stop(self) -> None:
        """SIGTERM: Redis finishes its append-only file and exits."""
        terminate(self.proc)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)

    def port_free(self) -> bool:
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", self.port)) != 0


@contextlib.contextmanager
def redis_server(workdir: Path) -> Iterator[RedisServer]:
    server = RedisServer(workdir)
    try:
        yield server.start()
    finally:
        server.stop()


@dataclass
class Cluster:
    redis: RedisServer
    servers: list[Server]

    @property
    def redis_url(self) -> str:
        return self.redis.url

    @property
    def urls(self) -> list[str]:
        return [s.url for s in self.servers]


@contextlib.contextmanager
def cluster(workdir: Path, processes: int = 2, env: Mapping[str, str] | None = None,
            main: bool = False) -> Iterator[Cluster]:
    """A redis-server and `processes` Paramlab servers using it (see the module's docstring)."""
    with redis_server(workdir / "redis") as rs:
        base = {"PARAMLAB_REDIS_URL": rs.url, "PARAMLAB_SNAPSHOT_SECONDS": "0.5", **(env or {})}
        servers = [Server(workdir / f"server{i}.log", base, main=main) for i in range(processes)]
        try:
            for server in servers:
                server.start()
            yield Cluster(rs, servers)
        finally:
            for server in servers:
                server.stop()
