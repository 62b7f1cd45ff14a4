"""One classroom: a teacher's room and its followers, on one server.

Starts its own uvicorn on a free loopback port (a memory store of its own).
A teacher opens a session (the default network, playing at ``--fps`` frames
a second and one epoch per frame) and a room around it (``room_create``);
then ``--students`` clients do what a student's page does: ``hello`` (a
page of their own), ``room_join`` with the code, and from then on follow
the teacher's session, reading, parsing and acknowledging every frame.
Prints one JSON line per class size and frame format (``json``: every part,
as an outside client gets by default; ``binary``: as the page asks for them):
the frames per second each follower receives (median, 5th percentile, min),
the frame gap p99, the teacher's updates per second as the followers see them,
the bytes of a frame, per second per follower and per second for the whole
room (``bytes_per_s_total``), and the CPU of the server and of the client
processes (see benchmarks/load.py for the fields).

    python benchmarks/room.py                      # 30 and 200 followers, JSON and binary
    python benchmarks/room.py --students 30 --fps 30 --frames binary --seconds 10

A follower's frame body is encoded once per state and content and shared by
the whole room; only its sequence number and history delta are its own.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import queue
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Self

sys.path.insert(0, str(Path(__file__).resolve().parent))
from load import UPDATES_PER_EPOCH, Server, measure, parse_args


class Teacher:
    """The teacher's page in a thread of its own: opens the room, then reads and acks until stopped."""

    def __init__(self, url: str, fps: int) -> None:
        self.url, self.fps = url, fps
        self.code: queue.Queue[str] = queue.Queue()
        self.stop = threading.Event()
        self.frames = 0
        self.thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    async def _run(self) -> None:
        import orjson
        from websockets.asyncio.client import connect

        async with connect(self.url, proxy=None, max_size=2**24, open_timeout=30, compression=None) as ws:
            await ws.send(json.dumps({"type": "hello", "fps": self.fps, "playing": True,
                                      "updates_per_second": self.fps * UPDATES_PER_EPOCH}))
            await ws.send(json.dumps({"type": "room_create", "share_gallery": False}))
            while not self.stop.is_set():
                try:
                    msg: dict[str, Any] = orjson.loads(await asyncio.wait_for(ws.recv(), 1.0))
                except TimeoutError:
                    continue
                if msg["type"] == "frame":
                    self.frames += 1
                    await ws.send(f'{{"type":"ack","seq":{msg["seq"]}}}')
                elif msg["type"] == "room":
                    self.code.put(msg["code"])
                elif msg["type"] == "error":
                    raise RuntimeError(msg)
            await ws.send('{"type":"pause"}')

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, nargs="*", default=[30, 200], help="class sizes to measure")
    parser.add_argument("--fps", type=int, default=60, help="frames per second every page asks for")
    parser.add_argument("--seconds", type=float, default=15.0, help="length of the measured window")
    parser.add_argument("--client-procs", type=int, default=2, help="processes the students are split over")
    parser.add_argument("--frames", nargs="*", choices=["json", "binary"], default=["json", "binary"],
                        help="frame formats the followers ask for (binary: as the page does)")
    own = parser.parse_args()
    for students, frames in [(n, f) for n in own.students for f in own.frames]:
        args = parse_args(["--sessions", str(students), "--fps", str(own.fps), "--seconds", str(own.seconds),
                           "--changes", "0", "--client-procs", str(own.client_procs),
                           "--ramp", str(min(5.0, 1 + students / 50)), "--frames", frames])
        with tempfile.TemporaryDirectory() as tmp:
            server = Server(Path(tmp)).start()
            try:
                with Teacher(server.ws, own.fps) as teacher:
                    args.room_code = teacher.code.get(timeout=30)
                    result = measure(args, [server])
                result = {"bench": "room", "followers": students, **{k: v for k, v in result.items()
                          if k not in ("bench", "sessions", "latency_ms_p50", "latency_ms_p95", "latency_n")}}
                print(json.dumps(result), flush=True)
            finally:
                server.stop()
        time.sleep(1)


if __name__ == "__main__":
    main()
