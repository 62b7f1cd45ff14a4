"""The server CPU that Redis adds to each frame of a room.

Two runs of the same classroom, one after the other: a teacher's session
playing at ``--fps`` frames a second (the default network, one epoch a frame)
and ``--students`` followers asking for binary frames, as the page does.

- reference: one server process, no Redis; teacher and followers on it.
- redis: a redis-server and two server processes; the teacher on the first
  (which trains the session, encodes each room frame once and publishes it
  once), every follower on the second (which receives each frame once and hands
  it to its followers).

Over the same window of ``--seconds`` (after a warm-up) each run counts the
server processes' CPU (user + system, from /proc), the room frames (the frames
the teacher receives) and the frames the followers receive. The figure is

    added_us_per_room_frame = (server CPU with Redis - server CPU without) / room frames

(the redis-server's own CPU is given apart, and added in `..._with_redis_server`).
It includes the second process's fixed cost (its event loop, its lease renewal
and pub/sub listener); `idle_cpu_s` of each run, measured with no clients over
the same window, shows that part. The clients run in this process; their CPU is
printed too. Absolute times drift on a shared machine: compare the two runs of
one invocation, not runs of different days.

    python benchmarks/redis_frame_cost.py                  # 50 followers at 20 frames/s, 10 s windows
    python benchmarks/redis_frame_cost.py --students 200 --fps 10 --seconds 20
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from load import UPDATES_PER_EPOCH, Server, cpu_seconds
from support.redis_cluster import REDIS_SERVER, RedisServer

WARM_UP_SECONDS = 3.0


@dataclass
class Setup:
    teacher_url: str         # where the teacher connects
    student_url: str         # where every follower connects
    servers: list[Server]
    redis: RedisServer | None


@contextlib.contextmanager
def setup(tmp: Path, with_redis: bool) -> Iterator[Setup]:
    redis = RedisServer(tmp / "redis").start() if with_redis else None
    env = {"PARAMLAB_REDIS_URL": redis.url} if redis is not None else {}
    servers = [Server(tmp, env, name=f"server{i}") for i in range(2 if with_redis else 1)]
    try:
        for server in servers:
            server.start()
        yield Setup(servers[0].ws, servers[-1].ws, servers, redis)
    finally:
        for server in servers:
            server.stop()
        if redis is not None:
            redis.stop()


class Room:
    """The teacher and the followers, reading and acknowledging every frame (in this process)."""

    def __init__(self, s: Setup, students: int, fps: int) -> None:
        self.s, self.students, self.fps = s, students, fps
        self.teacher_frames = 0
        self.follower_frames = 0
        self.tasks: list[asyncio.Task[None]] = []

    async def _read(self, ws: Any, teacher: bool) -> None:
        import orjson

        async for raw in ws:
            if isinstance(raw, bytes):  # a binary frame: its header is JSON after 8 bytes
                n = int.from_bytes(raw[4:8], "little")
                seq = orjson.loads(raw[8:8 + n])["seq"]
            else:
                msg = orjson.loads(raw)
                if msg["type"] != "frame":
                    continue
                seq = msg["seq"]
            await ws.send(json.dumps({"type": "ack", "seq": seq}))
            if teacher:
                self.teacher_frames += 1
            else:
                self.follower_frames += 1

    async def open(self) -> None:
        import orjson
        from websockets.asyncio.client import connect

        teacher = await connect(self.s.teacher_url, proxy=None, max_size=2**24, compression=None)
        await teacher.send(json.dumps({"type": "hello", "fps": self.fps, "playing": True, "frames": "binary",
                                       "updates_per_second": self.fps * UPDATES_PER_EPOCH}))
        await teacher.send(json.dumps({"type": "room_create", "share_gallery": False}))
        code = None
        while code is None:
            raw = await teacher.recv()
            if isinstance(raw, str) and (msg := orjson.loads(raw))["type"] == "room":
                code = msg["code"]
        self.tasks.append(asyncio.create_task(self._read(teacher, True)))
        for i in range(self.students):
            ws = await connect(self.s.student_url, proxy=None, max_size=2**24, compression=None)
            await ws.send(json.dumps({"type": "hello", "fps": self.fps, "frames": "binary"}))
            await ws.send(json.dumps({"type": "room_join", "code": code, "name": f"s{i}"}))
            self.tasks.append(asyncio.create_task(self._read(ws, False)))

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


def server_cpu(s: Setup) -> float:
    return sum(cpu_seconds(server.pid) for server in s.servers)


def redis_cpu(s: Setup) -> float:
    return cpu_seconds(s.redis.proc.pid) if s.redis is not None and s.redis.proc is not None else 0.0


async def one_run(s: Setup, args: argparse.Namespace) -> dict[str, Any]:
    await asyncio.sleep(2 * WARM_UP_SECONDS)  # past start-up (the fast path loads from its cache)
    idle_from, idle_redis_from = server_cpu(s), redis_cpu(s)
    await asyncio.sleep(args.seconds)  # no clients: the processes' fixed cost over a window
    idle, idle_redis = server_cpu(s) - idle_from, redis_cpu(s) - idle_redis_from
    room = Room(s, args.students, args.fps)
    await room.open()
    await asyncio.sleep(WARM_UP_SECONDS)
    cpu0, redis0, client0 = server_cpu(s), redis_cpu(s), time.process_time()
    teacher0, followers0 = room.teacher_frames, room.follower_frames
    await asyncio.sleep(args.seconds)
    cpu, redis, client = server_cpu(s) - cpu0, redis_cpu(s) - redis0, time.process_time() - client0
    frames, followed = room.teacher_frames - teacher0, room.follower_frames - followers0
    await room.close()
    return {"run": "redis" if s.redis is not None else "reference", "processes": len(s.servers),
            "students": args.students, "fps": args.fps, "seconds": args.seconds,
            "room_frames": frames, "follower_frames": followed,
            "follower_fps": round(followed / max(1, args.students) / args.seconds, 2),
            "server_cpu_s": round(cpu, 3), "redis_server_cpu_s": round(redis, 3),
            "idle_cpu_s": round(idle, 3), "idle_redis_server_cpu_s": round(idle_redis, 3),
            "client_cpu_s": round(client, 3),
            "server_cpu_us_per_room_frame": round(cpu / max(1, frames) * 1e6, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, default=50)
    parser.add_argument("--fps", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    if not 1 <= args.students <= 1000 or not 1 <= args.fps <= 60 or not 1.0 <= args.seconds <= 120.0:
        parser.error("--students 1 to 1000, --fps 1 to 60, --seconds 1 to 120")
    if REDIS_SERVER is None:
        sys.exit("redis-server is not installed (apt-get install redis-server)")
    lines = []
    with tempfile.TemporaryDirectory(prefix="paramlab-redis-cost-") as tmp:
        for with_redis in (False, True):
            with setup(Path(tmp) / ("redis" if with_redis else "reference"), with_redis) as s:
                line = asyncio.run(one_run(s, args))
            print(json.dumps(line), flush=True)
            lines.append(line)
    ref, red = lines
    added = red["server_cpu_s"] - ref["server_cpu_s"]
    frames = max(1, red["room_frames"])
    print(json.dumps({
        "figure": "redis_added_us_per_room_frame", "students": args.students, "fps": args.fps,
        "added_us_per_room_frame": round(added / frames * 1e6, 1),
        "added_us_per_room_frame_with_redis_server": round((added + red["redis_server_cpu_s"]) / frames * 1e6, 1),
        "of_which_fixed_us_per_room_frame": round((red["idle_cpu_s"] - ref["idle_cpu_s"]) / frames * 1e6, 1),
        "reference_us_per_room_frame": ref["server_cpu_us_per_room_frame"],
        "server_cpu_ratio_redis_to_reference": round(red["server_cpu_s"] / max(1e-9, ref["server_cpu_s"]), 3),
    }), flush=True)


if __name__ == "__main__":
    main()
