"""A real uvicorn for browser tests and benchmarks, and how to launch Chromium."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "artifacts" / "screenshots"
# Every browser test reaches the shared server from 127.0.0.1: one address for the
# whole suite, where a class would have one each. Quotas per address are tested
# on servers of their own (a test's environment overrides these).
SHARED_SERVER_QUOTAS = {"PARAMLAB_ROOMS_PER_CLIENT": "1000", "PARAMLAB_SESSIONS_PER_CLIENT": "1000",
                        "PARAMLAB_NEW_SESSIONS_PER_MINUTE": "100000", "PARAMLAB_FULL_SPEED_PER_CLIENT": "1000",
                        "PARAMLAB_SAVES_PER_CLIENT_PER_DAY": "100000", "PARAMLAB_UPLOADS_PER_CLIENT_PER_DAY": "100000",
                        "PARAMLAB_JOIN_ATTEMPTS_PER_ADDRESS": "100000"}
CHROMIUM = os.environ.get("PARAMLAB_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """uvicorn app.server.main:create_app --factory on 127.0.0.1:port, as a child process."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = ROOT / "artifacts" / f"uvicorn-{self.port}.log"

    def start(self) -> Server:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "app.server.main:create_app", "--factory",
             "--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning"],
            cwd=ROOT, stdout=self.log.open("wb"), stderr=subprocess.STDOUT,
            # A store of its own: with ./data it would resume (and train) every
            # session an earlier run left playing there.
            env={**SHARED_SERVER_QUOTAS, **os.environ, "PARAMLAB_STORE": os.environ.get("PARAMLAB_STORE", "memory")})
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"uvicorn exited: {self.log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=1) as r:
                    if r.status == 200:
                        return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("uvicorn did not start within 20 s")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def get_json(self, path: str) -> Any:
        with urllib.request.urlopen(self.url + path, timeout=10) as r:
            return json.loads(r.read())

    def post_json(self, path: str, body: Any) -> Any:
        req = urllib.request.Request(self.url + path, data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read())
