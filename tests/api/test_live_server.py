"""Against a real uvicorn on a free loopback port, with real websocket clients.

TestClient's queues are unbounded, so flow control, slow clients and the
path from a control to the frames are checked here, over real sockets. Every
client acks its frames as docs/protocol.md asks. Nothing here is timed: what
is counted is frames and steps, in the order they come; every wait is bounded
only so that a failure ends (figures of time are in benchmarks/stream.py and
benchmarks/abuse.py).
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import os
import random
import socket
import struct
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from support.live import Peer, peer
from support.server import Server
from support.waiting import eventually
from websockets.exceptions import InvalidStatus

from app.server.ws import MAX_UNACKED

BIG = {"features": ["x1", "x2", "x1_sq", "x2_sq", "x1x2", "sin_x1"], "hidden": [8, 8, 8, 8, 8, 8]}


# ------------------------------------------------------------------ the server


@pytest.fixture()
def server(tmp_path: Path) -> Iterator[Server]:
    srv = Server(tmp_path / "uvicorn.log").start()
    try:
        yield srv
    finally:
        srv.stop()


# ------------------------------------------------------------------ the clients


class Reader:
    """Reads (and acks) in the background, keeping every message."""

    def __init__(self, p: Peer) -> None:
        self.peer = p
        self.messages: list[dict[str, Any]] = []
        self.task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            msg, _ = await self.peer.recv(timeout=30)
            self.messages.append(msg)

    def __enter__(self) -> Reader:
        self.task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.task is not None
        self.task.cancel()


class StalledClient:
    """A raw-socket websocket client with a tiny receive buffer that, after the
    handshake messages, never reads again and never acks."""

    def __init__(self, port: int) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.settimeout(10)
        self.sock.connect(("127.0.0.1", port))
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                           "Sec-WebSocket-Version: 13\r\n\r\n").encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            self.buf += self._read()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 101"), head

    def _read(self) -> bytes:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("server closed the connection")
        return chunk

    def _need(self, n: int) -> bytes:
        while len(self.buf) < n:
            self.buf += self._read()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def send(self, message: dict[str, Any]) -> None:
        payload = json.dumps(message).encode()
        mask = os.urandom(4)
        n = len(payload)
        header = bytes([0x81]) + (bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + struct.pack("!H", n))
        self.sock.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def recv(self) -> dict[str, Any]:
        first, second = self._need(2)
        assert first == 0x81, f"expected one unfragmented text frame, got opcode byte {first:#x}"
        n = second & 0x7F
        if n == 126:
            n = struct.unpack("!H", self._need(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", self._need(8))[0]
        return json.loads(self._need(n))

    def hello(self, **fields: Any) -> dict[str, Any]:
        self.send({"type": "hello", **fields})
        session = self.recv()
        assert session["type"] == "session", session
        assert self.recv()["type"] == "dataset" and self.recv()["type"] == "history"
        return session

    def close(self) -> None:
        self.sock.close()


# ------------------------------------------------------------------ the tests


def test_a_client_that_stops_reading_does_not_slow_another(server: Server) -> None:
    """Two clients that never read again: one on its own session training at full
    speed, one watching the very session a healthy client watches. The healthy
    client gets frame after frame, each showing more training than the one before,
    /healthz answers all along, and the stalled client's own session trains on.
    (The healthy client's frame rate meanwhile: benchmarks/abuse.py, `stalled_readers`.)"""
    stalled_own = StalledClient(server.port)
    own_id = stalled_own.hello(config=BIG, playing=True, fps=60)["session_id"]
    stalled_own.send({"type": "set_speed", "updates_per_second": None})

    async def run() -> list[dict[str, Any]]:
        async with peer(server) as ws:
            p = Peer(ws)
            session = await p.hello(config=BIG, playing=True, fps=30)
            await p.send({"type": "set_speed", "updates_per_second": None})
            stalled_shared = StalledClient(server.port)
            try:
                stalled_shared.hello(session_id=session["session_id"], fps=60)
                frames = [await p.until(lambda m: m["type"] == "frame" and m["updates_per_second"] is None)]
                while len(frames) < 90:
                    frames.append(await p.until(lambda m: m["type"] == "frame"))
                    if len(frames) % 30 == 0:
                        assert (await asyncio.to_thread(server.get_json, "/healthz", 5))["status"] == "ok"
                return frames
            finally:
                stalled_shared.close()

    try:
        frames = asyncio.run(run())
        before = server.get_json(f"/api/sessions/{own_id}")["step"]
        eventually(lambda: server.get_json(f"/api/sessions/{own_id}")["step"] > before,
                   "the stalled client's session trains on")
    finally:
        stalled_own.close()
    steps = [frame["step"] for frame in frames]
    # At full speed a frame goes out when a turn changed the session: every one shows more steps.
    assert all(a < b for a, b in itertools.pairwise(steps)), steps


def test_a_control_shows_in_the_first_frame_not_already_on_its_way(server: Server) -> None:
    """After a set_hyper, at most MAX_UNACKED frames still show the old value: those
    the server had sent before it read the message (flow control lets no more out
    unacknowledged). The control is neither queued behind frames nor left for a
    later turn. Sent at a different point of the stream each time.
    (The time it takes: benchmarks/stream.py, `latency_ms`.)"""
    rng = random.Random(1)

    async def run() -> list[int]:
        async with peer(server) as ws:
            p = Peer(ws)
            await p.hello(playing=True)
            await p.send({"type": "set_speed", "updates_per_second": None})
            await p.until(lambda m: m["type"] == "frame" and m["updates_per_second"] is None)
            stale = []
            for i in range(12):
                for _ in range(rng.randrange(4)):
                    await p.until(lambda m: m["type"] == "frame")
                lr = round(0.01 + 0.001 * i, 6)
                await p.send({"type": "set_hyper", "lr": lr})
                old = 0
                while (frame := await p.until(lambda m: m["type"] == "frame"))["hyper"]["lr"] != lr:
                    old += 1
                    assert old <= MAX_UNACKED, f"change {i}: {old} frames after it still show lr {frame['hyper']['lr']}"
                stale.append(old)
                assert frame["history"]["changes"][-1]["new"] == lr
                assert frame["playing"] is True and frame["updates_per_second"] is None
            return stale

    stale = asyncio.run(run())
    assert len(stale) == 12, stale


def test_a_reload_resumes_the_session(server: Server) -> None:
    async def run() -> None:
        async with peer(server) as ws:
            p = Peer(ws)
            session = await p.hello(playing=True)
            first = await p.until(lambda m: m["type"] == "frame" and m["step"] >= 60)
            await p.send({"type": "set_hyper", "lr": 0.05})
            last = await p.until(lambda m: m["type"] == "frame" and m["hyper"]["lr"] == 0.05)
            session_id, step = session["session_id"], last["step"]
            assert step >= first["step"] >= 60
        async with peer(server) as ws:
            p = Peer(ws)
            again = await p.hello(session_id=session_id)
            assert again["session_id"] == session_id
            assert again["hyper"]["lr"] == 0.05 and again["config"] == session["config"]
            history = p.history
            assert history["steps"][:step] == list(range(1, step + 1))
            assert len(history["batch_loss"]) == len(history["steps"])
            assert history["changes"][-1]["field"] == "lr" and history["changes"][-1]["new"] == 0.05
            assert history["epochs"]["step"][:2] == [25, 50]
            frame = await p.until(lambda m: m["type"] == "frame")
            assert frame["step"] >= step
            assert frame["step"] >= history["steps"][-1]

    asyncio.run(run())


def test_the_origin_check(server: Server) -> None:
    async def run() -> None:
        with pytest.raises(InvalidStatus) as info:
            async with peer(server, origin="http://evil.example"):
                pass
        assert info.value.response.status_code == 403
        for origin in (f"http://127.0.0.1:{server.port}", None):
            async with peer(server, origin=origin) as ws:
                p = Peer(ws)
                assert (await p.hello())["type"] == "session"
                await p.until(lambda m: m["type"] == "frame")

    asyncio.run(run())


def test_an_oversize_message_is_refused_and_the_socket_stays_usable(server: Server) -> None:
    async def run() -> None:
        async with peer(server) as ws:
            p = Peer(ws)
            await p.hello()
            await p.until(lambda m: m["type"] == "frame")
            # > 65536 bytes of ASCII, and > 65536 bytes (but fewer characters) of UTF-8.
            for pad in ("x" * 70000, "é" * 40000):
                big = json.dumps({"type": "set_hyper", "lr": 0.5, "pad": pad}, ensure_ascii=False)
                assert len(big.encode()) > 65536
                await p.send(big)
                error = await p.until(lambda m: m["type"] == "error")
                assert error["code"] == "too_large", error
                assert error["value"] == len(big.encode())
                assert "65536" in error["allowed"]
            await p.send({"type": "set_hyper", "lr": 0.2})
            frame = await p.until(lambda m: m["type"] == "frame" and m["hyper"]["lr"] == 0.2)
            assert frame["hyper"]["lr"] == 0.2
            # Just under the limit is parsed as usual (and refused for its extra field).
            small = json.dumps({"type": "set_hyper", "lr": 0.3, "pad": ""})
            small = small.replace('""', '"' + "x" * (65536 - len(small)) + '"')
            assert len(small.encode()) == 65536
            await p.send(small)
            error = await p.until(lambda m: m["type"] == "error")
            assert error["code"] == "invalid" and error["field"] == "pad"

    asyncio.run(run())


def test_after_a_rollback_every_client_has_the_servers_history(server: Server) -> None:
    """A client that keeps the history as the browser does (replace on `history`,
    append each frame's delta) ends with what the server recorded, rollback or not."""

    def send(method: str, path: str, body: dict[str, Any]) -> Any:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        req = urllib.request.Request(server.url + path, data=json.dumps(body).encode(), method=method,
                                     headers={"Content-Type": "application/json"})
        with opener.open(req, timeout=10) as r:
            return json.loads(r.read())

    def post(path: str, body: dict[str, Any]) -> Any:
        return send("POST", path, body)

    def patch(path: str, body: dict[str, Any]) -> Any:
        return send("PATCH", path, body)

    async def run() -> None:
        async with peer(server) as ws:
            p = Peer(ws)
            session = await p.hello(config={"dataset": "plane", "hidden": [8] * 6}, hyper={"lr": 10})
            sid = session["session_id"]
            steps, losses = list(p.history["steps"]), list(p.history["batch_loss"])

            async def next_message(timeout: float = 5.0) -> dict[str, Any]:
                msg, _ = await p.recv(timeout)
                if msg["type"] == "history":
                    steps[:], losses[:] = msg["steps"], msg["batch_loss"]
                elif msg["type"] == "frame":
                    steps.extend(msg["history"]["steps"])
                    losses.extend(msg["history"]["batch_loss"])
                return msg

            async def until(match: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
                while not match(msg := await next_message(10.0)):
                    pass
                return msg

            # 10 updates at a small rate, then lr 10 (a deep regression network blows up
            # within ~100 updates): the rollback point is the state before that change, step 10.
            await asyncio.to_thread(patch, f"/api/sessions/{sid}/hyper", {"lr": 0.0001})
            assert (await asyncio.to_thread(post, f"/api/sessions/{sid}/step", {"count": 10}))["step"] == 10
            await until(lambda m: m["type"] == "frame" and m["step"] == 10)
            await asyncio.to_thread(patch, f"/api/sessions/{sid}/hyper", {"lr": 10})
            result = await asyncio.to_thread(post, f"/api/sessions/{sid}/step", {"count": 1000})
            assert result["diverged"] is not None and result["diverged"]["rollback_step"] == 10
            diverged = await until(lambda m: m["type"] == "frame" and m["diverged"] is not None)
            assert steps[-1] == diverged["step"] > 10

            await p.send({"type": "set_hyper", "lr": 0.0001})
            await p.send({"type": "rollback"})
            await until(lambda m: m["type"] == "frame" and m["diverged"] is None and m["step"] == 10)
            await p.send({"type": "play"})
            await until(lambda m: m["type"] == "frame" and m["step"] >= 40)
            await p.send({"type": "pause"})
            # Paused: that frame is the last (no turn changes the session after it), and a
            # frame carries the history up to the state it shows.
            await until(lambda m: m["type"] == "frame" and not m["playing"])
            full = await asyncio.to_thread(server.get_json, f"/api/sessions/{sid}/history")
            assert full["steps"] == list(range(1, full["steps"][-1] + 1))
            assert all(loss is not None for loss in full["batch_loss"])
            assert steps == full["steps"]
            assert losses == full["batch_loss"]

    asyncio.run(run())


def test_after_joining_a_room_every_frame_is_the_teachers(server: Server) -> None:
    """Switching streams ends the old frame sender for good: not one more frame of
    the student's own session after the `room` message (its layers are [4, 2],
    the teacher's [6, 3])."""

    async def run() -> None:
        async with peer(server) as t_ws:
            teacher = Peer(t_ws)
            await teacher.hello(config={"hidden": [6, 3]}, playing=True, fps=60)
            await teacher.send({"type": "room_create"})
            code = (await teacher.until(lambda m: m["type"] == "room"))["code"]
            with Reader(teacher):  # the teacher reads and acks all along
                for _ in range(8):
                    async with peer(server) as s_ws:
                        student = Peer(s_ws)
                        await student.hello(playing=True, fps=60)
                        await student.until(lambda m: m["type"] == "frame")
                        await student.send({"type": "room_join", "code": code, "name": "Ada"})
                        await student.until(lambda m: m["type"] == "room")
                        for _ in range(6):
                            frame = await student.until(lambda m: m["type"] == "frame")
                            assert [len(layer["b"]) for layer in frame["layers"]] == [6, 3, 1]

    asyncio.run(run())
