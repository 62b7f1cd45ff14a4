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
On a shared machine this difference of two runs is often within their noise; the
`redis_chain_us_per_room_frame` line then gives the Redis path alone, measured on
thread CPU clocks in this process (see `chain`). The process figure includes the second process's fixed cost (its event loop, its lease renewal
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


def chain(redis_url: str, states: int) -> dict[str, Any]:
    """The Redis path of one room frame alone, in this process, on its thread CPU clocks: the holder
    builds the channel message (`Publisher.frames`, the body from the session's shared cache) and
    publishes it; a subscriber thread receives it and hands it to a feed (`Feed.receive`). Against
    it, measured in the same loop, what either mode pays: the body's encoding (once per state) and a
    follower's own frame on it (`messages.frame_bytes`). Redis adds publish_us in the process training
    the session and deliver_us in each process with followers."""
    import threading

    import redis

    from app.server import messages
    from app.server.cluster.feed import Feed, Publisher, unpack
    from app.server.registry import Client, Registry
    from app.server.storage import MemoryStore
    from app.training.config import HyperState, RunConfig

    live = Registry(2, MemoryStore()).create(RunConfig(), HyperState())
    live.set_playing(True)
    content = ("binary", frozenset())  # what the page asks for while playing, with no optional part
    publisher = Publisher(live, lambda data: asyncio.sleep(0))
    publisher.want("bench", [content], 20)
    feed = Feed(live.id)
    feed.receive(*unpack(publisher.announcement()))
    local = Client(20, *content)
    messages.history_message(live, local)
    client = redis.Redis.from_url(redis_url)
    pubsub = client.pubsub()
    pubsub.subscribe("bench:room")
    pubsub.get_message(timeout=1.0)  # the subscription's confirmation
    received: list[float] = []

    def subscriber() -> None:
        start = time.thread_time()
        while len(received) < states:
            message = pubsub.get_message(timeout=5.0)
            if message is None:
                break
            if message["type"] == "message":
                feed.receive(*unpack(message["data"]))
                received.append(time.thread_time() - start)

    thread = threading.Thread(target=subscriber)
    thread.start()
    other = Client(20, *content)
    messages.history_message(live, other)
    encode = publish = follower = 0.0
    for _ in range(states):
        live.session.advance(UPDATES_PER_EPOCH)
        t0 = time.thread_time()
        messages.frame_bytes(live, local)  # the first client's frame: the body is encoded (both modes)
        t1 = time.thread_time()
        messages.frame_bytes(live, other)  # any other follower's: its own head on the shared body
        t2 = time.thread_time()
        for data in publisher.frames([content]):  # the body from the cache, with the rows; published
            client.publish("bench:room", data)
        t3 = time.thread_time()
        encode, follower, publish = encode + t1 - t0, follower + t2 - t1, publish + t3 - t2
        time.sleep(0.001)  # let the subscriber keep up, as frames 50 ms apart would
    thread.join(10)
    pubsub.close()
    client.close()
    return {"figure": "redis_chain_us_per_room_frame", "states": states, "received": len(received),
            "publish_us": round(publish / states * 1e6, 1),
            "deliver_us": round((received[-1] if received else 0.0) / max(1, len(received)) * 1e6, 1),
            "reference_encode_us": round(encode / states * 1e6, 1),
            "reference_follower_frame_us": round(follower / states * 1e6, 1)}


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
        rs = RedisServer(Path(tmp) / "chain").start()
        try:
            print(json.dumps(chain(rs.url, 500)), flush=True)
        finally:
            rs.stop()
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
