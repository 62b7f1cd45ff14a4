"""Websocket streaming: bytes per frame and per second, frames per second, control latency,
and the server's CPU per frame against a bare websocket app sending the same bytes.

Starts its own uvicorn on a free loopback port and prints JSON lines, for two
networks:

(a) the default network: features x1, x2, hidden [4, 2];
(b) 6 features (x1, x2, x1_sq, x2_sq, x1x2, sin_x1) x hidden [8]*6;

and for two frame formats: ``json`` (every part, as an outside client gets by
default) and ``binary`` (what the page asks for: `"frames": "binary"`, and no
optional part while its edges show the weights).

``bench: stream`` lines: one client (acking every frame, as docs/protocol.md
asks) trains at full speed (``set_speed`` null) at fps 60. ``frame_bytes_median``
is the median size of a frame message (JSON text or binary, before any
permessage-deflate); ``bytes_per_s`` what one follower receives a second
(frames received x their size, over ``--seconds``); ``latency_ms``: from sending
``set_hyper`` lr to receiving the first frame whose ``hyper.lr`` is the new value,
median and p95 over ``--changes`` changes sent at random moments.

``bench: frame_cpu`` lines: the server's CPU per frame, not counting the
training. One client at fps 60 on a session playing 60 updates a second (one
update per frame): the server process's CPU over ``--seconds`` while the client
reads and acks every frame, less its CPU over as long while the client acks
nothing (the server then sends no frames, and the session trains on as fast:
the training and its scheduler), divided by the frames sent, less the metrics
of each new state (loss and accuracy on every split, computed for the frame
that shows it: model evaluation, timed in this process on the same network) (``--cpu-seconds``
each; CPU time is counted in ticks of 10 ms, so short runs are coarse). The reference,
measured in the same run: a bare Starlette websocket app in a uvicorn process
of its own (``--bare``) that sends a frame captured from the server, as text or
binary, 60 times a second and reads each ack. ``ratio`` = server / reference
(the target is at most 1.5). Not a test: figures depend on the machine, and on
what else runs on it.

    python benchmarks/stream.py [--seconds 5] [--changes 30]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the one server helper, shared with the tests
from support.server import ROOT, Server

sys.path.insert(0, str(ROOT))  # the engine, to time the metrics in this process

FPS = 60
NETWORKS = {
    "default [4,2]": {},
    "6 features x [8]*6": {"features": ["x1", "x2", "x1_sq", "x2_sq", "x1x2", "sin_x1"], "hidden": [8] * 6},
}
# hello fields of each frame format: JSON with every part, binary as the page asks for it (weights view).
FORMATS: dict[str, dict[str, Any]] = {"json": {}, "binary": {"frames": "binary", "parts": []}}
TICKS = os.sysconf("SC_CLK_TCK")


def decode(raw: str | bytes) -> dict[str, Any]:
    """A server message: JSON text, or a binary frame's header (docs/protocol.md, "Binary frames")."""
    if isinstance(raw, str):
        return json.loads(raw)
    (length,) = struct.unpack_from("<I", raw, 4)
    return json.loads(raw[8:8 + length])


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


class Client:
    """Reads and acks every frame in the background, stamping arrivals."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.frames: list[tuple[float, int, dict[str, Any]]] = []  # (arrival, bytes, frame)
        self.last_raw: str | bytes = b""
        self.arrived = asyncio.Event()

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(message))

    async def read(self) -> None:
        while True:
            raw = await self.ws.recv()
            now = time.perf_counter()
            msg = decode(raw)
            if msg["type"] == "frame":
                await self.send({"type": "ack", "seq": msg["seq"]})
                self.frames.append((now, len(raw.encode() if isinstance(raw, str) else raw), msg))
                self.last_raw = raw
                self.arrived.set()
            elif msg["type"] == "error":
                raise RuntimeError(f"server error: {msg}")

    async def first_frame(self, since: float, lr: float, timeout: float = 5.0) -> float:
        """Arrival time of the first frame after `since` showing `lr`."""
        deadline = time.perf_counter() + timeout
        seen = 0
        while time.perf_counter() < deadline:
            for t, _, frame in self.frames[seen:]:
                if t >= since and frame["hyper"]["lr"] == lr:
                    return t
            seen = len(self.frames)
            self.arrived.clear()
            try:
                await asyncio.wait_for(self.arrived.wait(), max(0.0, deadline - time.perf_counter()))
            except TimeoutError:
                pass
        raise TimeoutError(f"no frame with lr={lr} within {timeout} s")

    async def start(self, hello: dict[str, Any]) -> None:
        await self.send(hello)
        for expected in ("session", "dataset", "history"):
            msg = decode(await asyncio.wait_for(self.ws.recv(), 5))
            assert msg["type"] == expected, msg


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def bench(url: str, name: str, config: dict[str, Any], fmt: str, seconds: float,
                changes: int) -> dict[str, Any]:
    rng = random.Random(0)
    async with connect(url, proxy=None, max_size=2**24, open_timeout=5, close_timeout=2, compression=None) as ws:
        c = Client(ws)
        await c.start({"type": "hello", "fps": FPS, "config": config, "playing": True, **FORMATS[fmt]})
        await c.send({"type": "set_speed", "updates_per_second": None})
        reader = asyncio.create_task(c.read())
        try:
            await asyncio.sleep(1.0)  # warm up: full speed reached, buffers settled
            n0, t0 = len(c.frames), time.perf_counter()
            step0 = c.frames[-1][2]["step"]
            await asyncio.sleep(seconds)
            window = c.frames[n0:]
            elapsed = time.perf_counter() - t0
            fps = len(window) / elapsed
            frame_bytes = statistics.median(size for _, size, _ in window)
            bytes_per_s = sum(size for _, size, _ in window) / elapsed
            ups = (window[-1][2]["step"] - step0) / elapsed
            latencies = []
            for i in range(changes):
                await asyncio.sleep(rng.uniform(0.0, 2.0 / FPS))  # a random moment of the frame period
                lr = round(0.01 + 0.0001 * (i + 1), 6)
                sent = time.perf_counter()
                await c.send({"type": "set_hyper", "lr": lr})
                latencies.append((await c.first_frame(sent, lr)) - sent)
        finally:
            reader.cancel()
            # A session goes on training after its client leaves: stop it, or it
            # would compete with the next measurement.
            await c.send({"type": "pause"})
    return {"bench": "stream", "net": name, "frames": fmt, "fps_requested": FPS, "fps": round(fps, 1),
            "frame_bytes_median": int(frame_bytes), "bytes_per_s": round(bytes_per_s), "updates_per_s": round(ups),
            "latency_ms_median": round(statistics.median(latencies) * 1000, 1),
            "latency_ms_p95": round(percentile(latencies, 0.95) * 1000, 1),
            "latency_changes": changes, "seconds": seconds, "python": platform.python_version()}


# ------------------------------------------------------------------ CPU per frame


async def frames_for_cpu(url: str, config: dict[str, Any], fmt: str, seconds: float, pid: int
                         ) -> tuple[float, float, int, str | bytes]:
    """One client on a session playing one update per frame: (server CPU seconds over `seconds` while it reads
    and acks every frame, the same while it acks none and the session trains on without frames, frames
    received in the first, the last frame's bytes)."""
    async with connect(url, proxy=None, max_size=2**24, open_timeout=5, close_timeout=2, compression=None) as ws:
        c = Client(ws)
        await c.start({"type": "hello", "fps": FPS, "config": config, "playing": True,
                       "updates_per_second": FPS, **FORMATS[fmt]})
        reader = asyncio.create_task(c.read())
        try:
            await asyncio.sleep(1.0)
            n0, cpu0 = len(c.frames), cpu_seconds(pid)
            await asyncio.sleep(seconds)
            n1, cpu1 = len(c.frames), cpu_seconds(pid)
        finally:
            reader.cancel()
        # No more acks: the server stops sending after MAX_UNACKED frames in flight; the session trains on.
        await asyncio.sleep(0.5)
        cpu2 = cpu_seconds(pid)
        await asyncio.sleep(seconds)
        cpu3 = cpu_seconds(pid)
        await c.send({"type": "pause"})
    return cpu1 - cpu0, cpu3 - cpu2, n1 - n0, c.last_raw


def metrics_seconds(config: dict[str, Any], n: int = 300) -> float:
    """What the metrics of a new state cost (loss and accuracy on every split, computed for the
    frame that shows it): model evaluation, not sending; timed in this process on the same network."""
    from app.training.config import HyperState, RunConfig
    from app.training.session import TrainingSession

    session = TrainingSession(RunConfig().with_changes(config), HyperState())
    session.advance(1)
    session.evaluate()  # warm up (the fast path compiles on first use)
    t0 = time.process_time()
    for _ in range(n):
        session.evaluate()
    return (time.process_time() - t0) / n


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def bare_app(frame: bytes, binary: bool, fps: int) -> Any:
    """A bare Starlette app: after the client's first message, send `frame` `fps` times a second
    (as one binary or text message) and read each ack, as the server's flow control would."""
    import orjson
    from starlette.applications import Starlette
    from starlette.routing import WebSocketRoute
    from starlette.websockets import WebSocket, WebSocketDisconnect

    text = frame.decode() if not binary else ""

    async def endpoint(ws: WebSocket) -> None:
        await ws.accept()
        await ws.receive_text()
        next_send = time.perf_counter()
        try:
            while True:
                delay = next_send - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                next_send = max(next_send + 1.0 / fps, time.perf_counter())
                if binary:
                    await ws.send_bytes(frame)
                else:
                    await ws.send_text(text)
                orjson.loads(await ws.receive_text())
        except WebSocketDisconnect:
            pass

    return Starlette(routes=[WebSocketRoute("/ws", endpoint)])


def serve_bare(port: int, frame_file: str, binary: bool) -> None:
    """`--bare`: run the bare app in this process, as uvicorn runs the server (the same defaults)."""
    import uvicorn
    uvicorn.run(bare_app(Path(frame_file).read_bytes(), binary, FPS), host="127.0.0.1", port=port,
                log_level="warning")


async def bare_cpu(frame: str | bytes, seconds: float, tmp: Path) -> tuple[float, int]:
    """(CPU seconds, frames) of the bare app sending `frame` to one client for `seconds`."""
    binary = isinstance(frame, bytes)
    path = tmp / "frame.bin"
    path.write_bytes(frame if isinstance(frame, bytes) else frame.encode())
    port = free_port()
    proc = subprocess.Popen([sys.executable, __file__, "--bare", str(port), str(path), "binary" if binary else "text"],
                            cwd=ROOT)
    try:
        ws = None
        for _ in range(100):
            try:
                ws = await connect(f"ws://127.0.0.1:{port}/ws", proxy=None, max_size=2**24, compression=None)
                break
            except OSError:
                await asyncio.sleep(0.1)
        if ws is None:
            raise RuntimeError("the bare app did not start")
        async with ws:
            await ws.send('{"type":"hello"}')
            frames = 0

            async def read() -> None:
                nonlocal frames
                while True:
                    raw = await ws.recv()
                    msg = decode(raw)  # the same client work as against the server
                    await ws.send(json.dumps({"type": "ack", "seq": msg.get("seq", frames)}))
                    frames += 1
            reader = asyncio.create_task(read())
            await asyncio.sleep(1.0)
            n0, cpu0 = frames, cpu_seconds(proc.pid)
            await asyncio.sleep(seconds)
            n1, cpu1 = frames, cpu_seconds(proc.pid)
            reader.cancel()
        return cpu1 - cpu0, n1 - n0
    finally:
        proc.terminate()
        proc.wait(10)


async def cpu_bench(url: str, pid: int, name: str, config: dict[str, Any], fmt: str, seconds: float,
                    tmp: Path) -> dict[str, Any]:
    streaming, training, frames, last = await frames_for_cpu(url, config, fmt, seconds, pid)
    metrics = metrics_seconds(config)
    ref_cpu, ref_frames = await bare_cpu(last, seconds, tmp)
    n = max(1, frames)
    net_us = (streaming - training) / n * 1e6 - metrics * 1e6
    ref_us = ref_cpu / max(1, ref_frames) * 1e6
    return {"bench": "frame_cpu", "net": name, "frames": fmt, "frame_bytes": len(last),
            "server_us_per_frame": round(streaming / n * 1e6), "training_us_per_frame": round(training / n * 1e6),
            "metrics_us_per_frame": round(metrics * 1e6),
            "server_us_per_frame_less_training": round(net_us), "reference_us_per_frame": round(ref_us),
            "ratio": round(net_us / ref_us, 2) if ref_us > 0 else None,
            "frames_counted": frames, "reference_frames": ref_frames, "seconds": seconds,
            "cpu_tick_s": round(1 / TICKS, 3)}


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == "--bare":
        serve_bare(int(sys.argv[2]), sys.argv[3], sys.argv[4] == "binary")
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="seconds over which each figure is measured")
    parser.add_argument("--changes", type=int, default=30, help="lr changes timed for the latency")
    parser.add_argument("--cpu-seconds", type=float, default=10.0, help="seconds of each CPU measurement")
    parser.add_argument("--only", choices=["stream", "cpu"], default=None, help="one kind of line only")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        server = Server(Path(tmp) / "uvicorn.log").start()
        try:
            for name, config in NETWORKS.items():
                for fmt in FORMATS if args.only != "cpu" else ():
                    result = asyncio.run(asyncio.wait_for(
                        bench(server.ws, name, config, fmt, args.seconds, args.changes),
                        timeout=args.seconds + args.changes * 6 + 30))
                    print(json.dumps(result), flush=True)
            for name, config in NETWORKS.items():
                for fmt in FORMATS if args.only != "stream" else ():
                    result = asyncio.run(asyncio.wait_for(
                        cpu_bench(server.ws, server.pid, name, config, fmt, args.cpu_seconds, Path(tmp)),
                        timeout=3 * args.cpu_seconds + 120))
                    print(json.dumps(result), flush=True)
        finally:
            server.stop()


if __name__ == "__main__":
    main()
