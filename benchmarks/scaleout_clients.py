"""The students of benchmarks/scaleout.py: many pages, light enough to share two cores with the servers.

A student speaks the websocket protocol itself on an asyncio `Protocol` (RFC 6455, as much
as a page needs: the upgrade, unfragmented or fragmented text and binary messages, ping,
close; its own frames masked), so a frame costs it a header parse and one write, with
no task, queue or lock per message: a websocket library's client costs several times
that, which on two cores is taken from the servers. Like the page, it asks for binary
frames with no optional part, reads each frame's JSON header (docs/protocol.md, "Binary
frames") and acknowledges every second frame as it arrives (acks are cumulative).

Run as worker processes by scaleout.py (`python benchmarks/scaleout_clients.py --spec FILE`):
each reads its share of the students from a JSON spec, runs them until the window ends,
and writes their raw figures and its own CPU time over the window to a JSON file.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import itertools
import json
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

import orjson

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455, section 1.3
TEXT, BINARY, CLOSE, PING, PONG = 1, 2, 8, 9, 10


class Wire(asyncio.Protocol):
    """One websocket connection; `on_message(message)` is called with every text or binary message."""

    def __init__(self, url: str, on_message: Any, rng: random.Random) -> None:
        parts = urlsplit(url)
        self.host = f"{parts.hostname}:{parts.port}"
        self.path = parts.path or "/"
        self.on_message = on_message
        self.rng = rng
        self.key = base64.b64encode(rng.randbytes(16))
        self.opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.upgraded = False
        self.closing = False
        self.parts: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports are not asyncio's subclasses
        # The page's own Origin, as a browser sends it (the server refuses others).
        self.transport.write(f"GET {self.path} HTTP/1.1\r\nHost: {self.host}\r\nUpgrade: websocket\r\n"
                        f"Connection: Upgrade\r\nSec-WebSocket-Key: {self.key.decode()}\r\n"
                        f"Sec-WebSocket-Version: 13\r\nOrigin: http://{self.host}\r\n\r\n".encode())

    def connection_lost(self, exc: Exception | None) -> None:
        self._end(ConnectionError(f"connection lost: {exc}"))
        if not self.opened.done():
            self.opened.set_exception(ConnectionError(f"connection lost: {exc}"))

    def _end(self, error: Exception) -> None:
        """The connection is over: an error unless this side closed it (`close`)."""
        if self.closed.done():
            return
        if self.closing:
            self.closed.set_result(None)
        else:
            self.closed.set_exception(error)

    def close(self) -> None:
        """Start the closing handshake (code 1000); the server answers and the connection ends."""
        self.closing = True
        self.send(CLOSE, (1000).to_bytes(2, "big"))

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if not self.upgraded and not self._upgrade():
            return
        self._messages()

    def _upgrade(self) -> bool:
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return False
        status, *lines = bytes(self.buffer[:end]).decode("latin1").split("\r\n")
        del self.buffer[:end + 4]
        headers = {name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in lines)}
        accept = base64.b64encode(hashlib.sha1(self.key + GUID).digest()).decode()
        if not status.startswith("HTTP/1.1 101") or headers.get("sec-websocket-accept") != accept:
            self.opened.set_exception(ConnectionError(f"no websocket upgrade: {status}"))
            assert self.transport is not None
            self.transport.close()
            return False
        self.upgraded = True
        self.opened.set_result(None)
        return True

    def _messages(self) -> None:
        buf, at = self.buffer, 0
        while len(buf) - at >= 2:
            b0, b1 = buf[at], buf[at + 1]
            size, head = b1 & 0x7F, 2
            if size == 126:
                if len(buf) - at < 4:
                    break
                size, head = int.from_bytes(buf[at + 2:at + 4], "big"), 4
            elif size == 127:
                if len(buf) - at < 10:
                    break
                size, head = int.from_bytes(buf[at + 2:at + 10], "big"), 10
            if len(buf) - at < head + size:
                break
            payload = bytes(buf[at + head:at + head + size])
            at += head + size
            opcode = b0 & 0x0F
            if opcode == PING:
                self.send(PONG, payload)
            elif opcode == CLOSE:
                if not self.closing:
                    self.send(CLOSE, payload[:2])
                assert self.transport is not None
                self.transport.close()
                code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
                self._end(ConnectionError(f"closed by the server, code {code}"))
            elif opcode in (0, TEXT, BINARY):
                self.parts.append(payload)
                if b0 & 0x80:  # FIN: the message is whole
                    message = self.parts[0] if len(self.parts) == 1 else b"".join(self.parts)
                    self.parts = []
                    self.on_message(message)
        del buf[:at]

    def send(self, opcode: int, payload: bytes) -> None:
        """One frame, masked as a client's must be."""
        n = len(payload)
        if n < 126:
            head = bytes((0x80 | opcode, 0x80 | n))
        elif n < 65536:
            head = bytes((0x80 | opcode, 0x80 | 126)) + n.to_bytes(2, "big")
        else:
            head = bytes((0x80 | opcode, 0x80 | 127)) + n.to_bytes(8, "big")
        mask = self.rng.randbytes(4)
        keys = (mask * (n // 4 + 1))[:n]
        masked = (int.from_bytes(payload, "little") ^ int.from_bytes(keys, "little")).to_bytes(n, "little")
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(head + mask + masked)

    def send_text(self, text: str) -> None:
        self.send(TEXT, text.encode())


def parse(message: bytes) -> dict[str, Any]:
    """A JSON text message, or a binary frame's JSON header."""
    if message[:4] == b"PLF1":
        return dict(orjson.loads(message[8:8 + int.from_bytes(message[4:8], "little")]))
    return dict(orjson.loads(message))


@dataclass
class Spec:
    """What every student of a run does (scaleout.py writes it; every worker reads it)."""

    urls: list[str]             # ws://host:port/ws of nginx or of the servers: students alternate over them
    fps: int
    updates_per_second: float
    room_code: str              # "": a session of their own, playing; else: follow this room
    changes: int                # lr changes each student times (own sessions only)
    ramp: float                 # seconds over which all students connect
    window: tuple[float, float]  # time.time() of the measured window


class Student:
    """One page: hello (and room_join), then reads and parses every frame, and acks every second one."""

    def __init__(self, index: int, spec: Spec) -> None:
        self.index, self.spec = index, spec
        self.rng = random.Random(index)
        self.arrivals: list[tuple[float, int]] = []  # (perf_counter, step) of frames in the window
        self.latencies: list[float] = []
        self.waiting: tuple[float, float] | None = None  # (lr, sent at) of the change in flight
        self.got_change = asyncio.Event()
        self.bytes = 0
        self.error: str | None = None
        self.from_ = time.perf_counter() + (spec.window[0] - time.time())
        self.wire: Wire | None = None
        self.acked = -1  # the last frame acknowledged

    def on_message(self, message: bytes) -> None:
        now = time.perf_counter()
        msg = parse(message)
        kind = msg["type"]
        if kind == "frame":
            assert self.wire is not None
            seq = msg["seq"]
            if seq - self.acked >= 2 or seq < self.acked:  # every second frame, as the page (socket.js)
                self.wire.send_text(f'{{"type":"ack","seq":{seq}}}')
                self.acked = seq
            if now >= self.from_:
                self.arrivals.append((now, msg["step"]))
                self.bytes += len(message)
            if self.waiting is not None and msg["hyper"]["lr"] == self.waiting[0]:
                self.latencies.append(now - self.waiting[1])
                self.waiting = None
                self.got_change.set()
        elif kind == "error" and self.error is None:
            self.error = f"server error: {msg.get('code')}: {msg.get('message')}"

    async def run(self) -> None:
        s = self.spec
        url = s.urls[self.index % len(s.urls)]
        parts = urlsplit(url)
        loop = asyncio.get_running_loop()
        try:
            _, wire = await loop.create_connection(lambda: Wire(url, self.on_message, self.rng),
                                                   parts.hostname or "127.0.0.1", parts.port or 80)
            self.wire = wire
            await asyncio.wait_for(wire.opened, 30)
            page = {"type": "hello", "fps": s.fps, "frames": "binary", "parts": []}
            if s.room_code:
                wire.send_text(json.dumps(page))
                wire.send_text(json.dumps({"type": "room_join", "code": s.room_code, "name": f"s{self.index}",
                                           "share": False}))
            else:
                wire.send_text(json.dumps({**page, "config": {"seed": 1 + self.index % 1000}, "playing": True,
                                           "updates_per_second": s.updates_per_second}))
            changer = asyncio.create_task(self._changes())
            try:
                await asyncio.wait_for(asyncio.shield(wire.closed), max(0.0, s.window[1] - time.time()))
            except TimeoutError:
                pass
            finally:
                changer.cancel()
            if not s.room_code:
                wire.send_text('{"type":"pause"}')  # it would go on training for the next run
            wire.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(wire.closed, 5)  # the server's answer
        except Exception as exc:
            self.error = self.error or f"{type(exc).__name__}: {exc}"

    async def _changes(self) -> None:
        """`changes` lr changes at random moments of the window, one in flight at a time."""
        s = self.spec
        if s.changes <= 0 or s.room_code or self.wire is None:
            return
        start, end = s.window
        await asyncio.sleep(max(0.0, start - time.time()))
        span = (end - start - 2.0) / s.changes
        for i in range(s.changes):
            await asyncio.sleep(self.rng.uniform(0.0, max(0.01, span - 0.6)))
            lr = round(0.01 + 1e-6 * (self.index * 100 + i + 1), 9)
            self.got_change.clear()
            self.waiting = (lr, time.perf_counter())
            self.wire.send_text(json.dumps({"type": "set_hyper", "lr": lr}))
            try:
                await asyncio.wait_for(self.got_change.wait(), 2.0)
            except TimeoutError:
                self.latencies.append(2.0)  # counted as 2 s: never seen in time
                self.waiting = None

    def result(self) -> dict[str, Any]:
        span = self.spec.window[1] - self.spec.window[0]
        times = [t for t, _ in self.arrivals]
        ups = 0.0
        if len(self.arrivals) >= 2 and self.arrivals[-1][0] > self.arrivals[0][0]:
            ups = (self.arrivals[-1][1] - self.arrivals[0][1]) / (self.arrivals[-1][0] - self.arrivals[0][0])
        return {"fps": len(self.arrivals) / span, "ups": ups, "latencies": self.latencies,
                "gaps": [round(b - a, 5) for a, b in itertools.pairwise(times)],
                "bytes": self.bytes / max(1, len(self.arrivals)), "error": self.error}


def worker(spec_file: Path, indices: list[int], result_file: Path) -> None:
    raw = json.loads(spec_file.read_text())
    spec = Spec(**{**raw, "window": tuple(raw["window"])})
    try:
        import uvloop
        uvloop.install()
    except ImportError:
        pass

    async def main() -> dict[str, Any]:
        students = [Student(i, spec) for i in indices]
        tasks = []
        for student in students:
            tasks.append(asyncio.create_task(student.run()))
            await asyncio.sleep(spec.ramp / max(1, len(indices)))  # every worker spreads its share over the ramp
        await asyncio.sleep(max(0.0, spec.window[0] - time.time()))
        cpu0 = time.process_time()
        await asyncio.sleep(max(0.0, spec.window[1] - time.time()))
        cpu = time.process_time() - cpu0
        await asyncio.wait_for(asyncio.gather(*tasks), 60)
        return {"students": [s.result() for s in students], "cpu": cpu}

    result_file.write_text(json.dumps(asyncio.run(main())))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="worker process of benchmarks/scaleout.py")
    parser.add_argument("--spec", type=Path, required=True)
    parser.add_argument("--indices", required=True)
    parser.add_argument("--result", type=Path, required=True)
    a = parser.parse_args()
    worker(a.spec, [int(i) for i in a.indices.split(",") if i], a.result)
