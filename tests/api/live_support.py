"""Helpers for tests against a real server: the server as a child process on a
free loopback port, with a store of its own, and a websocket peer that acks
every frame as the protocol asks."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """`python -m uvicorn app.server.main:create_app --factory` on 127.0.0.1, as a child process."""

    def __init__(self, log: Path, env: dict[str, str] | None = None, main: bool = False) -> None:
        self.env = env or {}
        self.main = main  # `python -m app`, as the README starts it (its HTTP protocol times slow headers out)
        self.port = _free_port()
        self.http = f"http://127.0.0.1:{self.port}"
        self.ws = f"ws://127.0.0.1:{self.port}/ws"
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Server:
        command = ([sys.executable, "-m", "app", "--host", "127.0.0.1", "--port", str(self.port)] if self.main else
                   [sys.executable, "-m", "uvicorn", "app.server.main:create_app", "--factory",
                    "--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning"])
        self.proc = subprocess.Popen(
            command,
            cwd=ROOT, stdout=self.log.open("wb"), stderr=subprocess.STDOUT,
            # A store of its own: neither resume sessions other runs left playing nor leave any.
            env={**os.environ, "PARAMLAB_STORE": "memory", "PARAMLAB_DATA_DIR": str(self.log.parent), **self.env})
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"uvicorn exited: {self.log.read_text()[-2000:]}")
            try:
                if self.get("/healthz", timeout=1)["status"] == "ok":
                    return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("uvicorn did not answer /healthz within 20 s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def get(self, path: str, timeout: float = 5) -> Any:
        # No proxies: loopback only.
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(self.http + path, timeout=timeout) as r:
            return json.loads(r.read())


class Peer:
    """A websocket client that acks every frame it reads, as the protocol asks."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.session: dict[str, Any] = {}
        self.history: dict[str, Any] = {}

    async def send(self, message: dict[str, Any] | str) -> None:
        await self.ws.send(message if isinstance(message, str) else json.dumps(message))

    async def recv(self, timeout: float = 5.0) -> tuple[dict[str, Any], int]:
        """The next message and its size in bytes; frames are acked at once."""
        raw = await asyncio.wait_for(self.ws.recv(), timeout)
        msg = json.loads(raw)
        if msg["type"] == "frame":
            await self.send({"type": "ack", "seq": msg["seq"]})
        return msg, len(raw.encode() if isinstance(raw, str) else raw)

    async def until(self, match: Callable[[dict[str, Any]], bool], timeout: float = 5.0) -> dict[str, Any]:
        deadline = time.perf_counter() + timeout
        while (left := deadline - time.perf_counter()) > 0:
            msg, _ = await self.recv(left)
            if match(msg):
                return msg
        raise AssertionError(f"no matching message within {timeout} s")

    async def hello(self, **fields: Any) -> dict[str, Any]:
        await self.send({"type": "hello", **fields})
        self.session = await self.until(lambda m: m["type"] in ("session", "error"))
        assert self.session["type"] == "session", self.session
        assert (await self.recv())[0]["type"] == "dataset"
        self.history, _ = await self.recv()
        assert self.history["type"] == "history"
        return self.session


def peer(server: Server, **kwargs: Any) -> Any:
    return connect(server.ws, proxy=None, max_size=2**24, open_timeout=5, close_timeout=2, **kwargs)
