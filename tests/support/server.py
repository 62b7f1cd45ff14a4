"""A real Paramlab server as a child process on a free loopback port, with a store
of its own, started and stopped the same way by every test that needs one."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def terminate(proc: subprocess.Popen[Any] | None) -> None:
    """SIGTERM, 10 s to exit, then SIGKILL: how every process a test started is stopped."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """uvicorn's `app.server.main:create_app` factory on 127.0.0.1 (or, with `main`,
    `python -m app` as the README starts it, whose HTTP protocol times slow
    requests out).

    Environment, later winning: `defaults`, this process's environment, a memory
    store in `data_dir` (the log's folder unless given), then `env`. A store of
    its own: it neither resumes sessions other runs left playing nor leaves any.
    `root`: the checkout it runs from (a benchmark may run an older one).
    """

    start_timeout = 20.0  # seconds it may take to answer /healthz

    def __init__(self, log: Path, env: Mapping[str, str] | None = None, *, main: bool = False,
                 defaults: Mapping[str, str] | None = None, data_dir: Path | None = None,
                 root: Path = ROOT) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws = f"ws://127.0.0.1:{self.port}/ws"
        self.log = log
        self.main = main
        self.root = root
        self.env = {**(defaults or {}), **os.environ, "PARAMLAB_STORE": "memory",
                    "PARAMLAB_DATA_DIR": str(data_dir or log.parent), **(env or {})}
        self.proc: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        if self.main:
            return [sys.executable, "-m", "app", "--host", "127.0.0.1", "--port", str(self.port)]
        return [sys.executable, "-m", "uvicorn", "app.server.main:create_app", "--factory",
                "--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning"]

    def start(self) -> Server:
        """Start it (again, on the same port, after `stop`) and wait until /healthz answers."""
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(self.command(), cwd=self.root, stdout=self.log.open("wb"),
                                     stderr=subprocess.STDOUT, env=self.env)
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited: {self.log.read_text()[-2000:]}")
            try:
                if self.get_json("/healthz", timeout=1)["status"] == "ok":
                    return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"the server did not answer /healthz within {self.start_timeout:.0f} s")

    def stop(self) -> None:
        terminate(self.proc)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def kill(self) -> None:
        """SIGKILL: no goodbye, nothing saved on the way out."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(10)

    def request(self, method: str, path: str, body: Any = None, timeout: float = 10) -> Any:
        """One HTTP request with a JSON body (or none); the JSON answer."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"} if data else {})
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: no proxies
        with opener.open(req, timeout=timeout) as r:
            return json.loads(r.read())

    def get_json(self, path: str, timeout: float = 10) -> Any:
        return self.request("GET", path, timeout=timeout)

    def post_json(self, path: str, body: Any, timeout: float = 10) -> Any:
        return self.request("POST", path, body, timeout)

