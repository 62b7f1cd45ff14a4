"""Websocket streaming: frames per second delivered, bytes per frame, control latency.

Starts its own uvicorn on a free loopback port, connects one client (which
acks every frame, as docs/protocol.md asks), trains at full speed
(``set_speed`` null) at fps 60 and prints one JSON line per network:

(a) the default network: features x1, x2, hidden [4, 2];
(b) 6 features (x1, x2, x1_sq, x2_sq, x1x2, sin_x1) x hidden [8]*6.

``fps``: frames received per second over ``--seconds``; ``frame_bytes``: the
median size of a frame's JSON text (before any permessage-deflate);
``latency_ms``: from sending ``set_hyper`` lr to receiving the first frame
whose ``hyper.lr`` is the new value, median and p95 over ``--changes``
changes sent at random moments. Not a test: figures depend on the machine.

    python benchmarks/stream.py [--seconds 5] [--changes 30]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the one server helper, shared with the tests
from support.server import Server

FPS = 60
NETWORKS = {
    "default [4,2]": {},
    "6 features x [8]*6": {"features": ["x1", "x2", "x1_sq", "x2_sq", "x1x2", "sin_x1"], "hidden": [8] * 6},
}


class Client:
    """Reads and acks every frame in the background, stamping arrivals."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.frames: list[tuple[float, int, dict[str, Any]]] = []  # (arrival, bytes, frame)
        self.arrived = asyncio.Event()

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(message))

    async def read(self) -> None:
        while True:
            raw = await self.ws.recv()
            now = time.perf_counter()
            msg = json.loads(raw)
            if msg["type"] == "frame":
                await self.send({"type": "ack", "seq": msg["seq"]})
                self.frames.append((now, len(raw.encode() if isinstance(raw, str) else raw), msg))
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


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def bench(url: str, name: str, config: dict[str, Any], seconds: float, changes: int) -> dict[str, Any]:
    rng = random.Random(0)
    async with connect(url, proxy=None, max_size=2**24, open_timeout=5, close_timeout=2) as ws:
        c = Client(ws)
        await c.send({"type": "hello", "fps": FPS, "config": config, "playing": True})
        for expected in ("session", "dataset", "history"):
            msg = json.loads(await asyncio.wait_for(ws.recv(), 5))
            assert msg["type"] == expected, msg
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
    return {"bench": "stream", "net": name, "fps_requested": FPS, "fps": round(fps, 1),
            "frame_bytes_median": int(frame_bytes), "updates_per_s": round(ups),
            "latency_ms_median": round(statistics.median(latencies) * 1000, 1),
            "latency_ms_p95": round(percentile(latencies, 0.95) * 1000, 1),
            "latency_changes": changes, "seconds": seconds, "python": platform.python_version()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="seconds over which fps is measured")
    parser.add_argument("--changes", type=int, default=30, help="lr changes timed for the latency")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        server = Server(Path(tmp) / "uvicorn.log").start()
        try:
            for name, config in NETWORKS.items():
                result = asyncio.run(asyncio.wait_for(
                    bench(server.ws, name, config, args.seconds, args.changes),
                    timeout=args.seconds + args.changes * 6 + 30))
                print(json.dumps(result), flush=True)
        finally:
            server.stop()


if __name__ == "__main__":
    main()
