"""Beyond one process: a lecture hall behind nginx, and a class of sessions through Redis.

Everything runs on loopback in a folder of its own: redis-server (Debian's), two
Paramlab processes (uvicorn, as benchmarks/load.py starts them, each with room for
a class of 1,000 on one address) and, for the room, Debian's nginx with the site of
deploy/nginx/ (tests/support/nginx.py) in front of them. The clients are
benchmarks/load.py's: separate processes, binary frames as the page asks for them
(header parsed, arrays not), every frame acknowledged as the page does.

``room`` (issue 16, first target): a teacher's session on the default network at
``--fps`` (10) frames a second, one epoch a frame, and ``--followers`` (1,000)
students joining it through nginx, which spreads them over the processes
(least connections); with Redis, followers on the other process get the room's
frames through pub/sub. Figures: frames per second per follower (median, p5,
min), the teacher's updates per second as the followers see them, the
teacher's control latency (``set_hyper`` to the first frame of its own showing
it) and, from one watcher connected straight to each process, how long after the
teacher's change each process's followers see it (``lag``). Without Redis the
room only exists in one process: ``--servers 1`` then measures the same hall on one.

``sessions`` (second and third targets): ``--sessions`` (200) students with a
session of their own at ``--fps`` (20) frames a second, one epoch a frame,
connected alternately straight to two processes: through Redis, against the
same class on two processes sharing one SQLite store (the reference, measured in
the same run), and on one process (the growth from one to two). The per-frame
CPU is the servers' CPU over the frames all clients received a second; the
per-frame cost Redis adds is the difference of the two two-process runs, with
and without redis-server's own CPU.

Every line carries ``other_cpu`` (what the rest of the machine used meanwhile,
cores) and the clients' CPU: on two cores the clients, nginx and Redis take
from what the servers could have had. Absolute times drift on a shared machine;
compare lines of one run.

    python benchmarks/scaleout.py room                       # 1,000 followers at 10 fps, two processes
    python benchmarks/scaleout.py room --followers 100 --seconds 10 --redis off --servers 1
    python benchmarks/scaleout.py sessions                   # 200 x 20: Redis, SQLite, one process
    python benchmarks/scaleout.py sessions --sessions 60 --seconds 10 --redis off
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import queue
import random
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self, cast

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from load import UPDATES_PER_EPOCH, Server, cpu_seconds, measure, parse_args, percentile
from support.nginx import Nginx, connections_to, nginx_path
from support.redis_cluster import REDIS_SERVER, RedisServer

MS = 1000.0


# ------------------------------------------------------------------ what runs


@dataclass
class Via:
    """A server as `load.measure` sees it: clients connect to `ws` (nginx's), the server's own
    URL is asked for /healthz and its process's CPU is counted."""

    server: Server
    ws: str

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def pid(self) -> int:
        return self.server.pid


@dataclass
class Hall:
    """The processes of one configuration: Paramlab servers, and Redis and nginx when used."""

    servers: list[Server]
    redis: RedisServer | None = None
    nginx: Nginx | None = None

    def extra_pids(self) -> dict[str, list[int]]:
        pids: dict[str, list[int]] = {}
        if self.redis is not None and self.redis.proc is not None:
            pids["redis"] = [self.redis.proc.pid]
        if self.nginx is not None:
            pids["nginx"] = self.nginx.pids
        return pids


@contextlib.contextmanager
def hall(tmp: Path, servers: int, store: str, with_nginx: bool = False) -> Iterator[Hall]:
    """`servers` Paramlab processes on `store` ("redis", "sqlite" shared by all, or "memory" for one),
    nginx in front of them if asked. Everything is stopped on the way out."""
    redis = None
    env: dict[str, str] = {}
    if store == "redis":
        redis = RedisServer(tmp / "redis").start()
        env = {"PARAMLAB_REDIS_URL": redis.url}
    elif store == "sqlite":
        env = {"PARAMLAB_STORE": "sqlite"}
    started: list[Server] = []
    nginx = None
    try:
        for k in range(servers):
            server = Server(tmp, env, name=f"server{k}")
            started.append(server)
            server.start()
        if with_nginx:
            nginx = Nginx([f"127.0.0.1:{s.port}" for s in started], tmp / "nginx",
                          worker_connections=4096, workers=2).start()
        print(json.dumps({"store": store, "server_pids": [s.pid for s in started]}), file=sys.stderr, flush=True)
        yield Hall(started, redis, nginx)
    finally:
        if nginx is not None:
            nginx.stop()
        for s in started:
            s.stop()
        if redis is not None:
            redis.stop()


class Sampler:
    """What `load.measure` does not count, read on its ticks (about once a second in the window):
    the CPU of Redis and nginx, from the first tick to the last, and the most connections each
    server held at once (`ports`)."""

    def __init__(self, pids: dict[str, list[int]], ports: list[int] | None = None) -> None:
        self.pids = pids
        self.ports = ports or []
        self.connections = [0 for _ in self.ports]
        self.first: tuple[float, dict[str, float]] | None = None
        self.last: tuple[float, dict[str, float]] | None = None

    def read(self) -> dict[str, float]:
        return {name: sum(cpu_seconds(pid) for pid in pids) for name, pids in self.pids.items()}

    def tick(self, _seconds: float) -> None:
        now = (time.perf_counter(), self.read())
        if self.first is None:
            self.first = now
        self.last = now
        self.connections = [max(seen, connections_to(port)) for seen, port in zip(self.connections, self.ports)]

    def cores(self) -> dict[str, float]:
        if self.first is None or self.last is None or self.last[0] <= self.first[0]:
            return {}
        span = self.last[0] - self.first[0]
        return {f"{name}_cpu": round((self.last[1][name] - self.first[1][name]) / span, 2) for name in self.pids}


# ------------------------------------------------------------------ the room


@dataclass
class Change:
    lr: float
    sent: float                                            # perf_counter (CLOCK_MONOTONIC: one clock for all)
    own_frame: float | None = None                         # the teacher's first frame showing it
    seen: dict[int, float] = field(default_factory=dict)   # watcher index -> first frame showing it


class Teacher:
    """The teacher's page in a thread of its own, through nginx: opens the room, and once the window
    starts changes the learning rate `changes` times at random moments, one change in flight at a
    time. One watcher per server process, connected straight to it, follows the room and notes when
    each change reaches that process's followers."""

    def __init__(self, nginx_ws: str, server_ws: list[str], fps: int, changes: int) -> None:
        self.nginx_ws, self.server_ws, self.fps, self.n_changes = nginx_ws, server_ws, fps, changes
        self.code: queue.Queue[str] = queue.Queue()
        self.window = (0.0, 0.0)  # time.time() of the measured window, set before `start_changes`
        self.go = threading.Event()
        self.stop = threading.Event()
        self.changes: list[Change] = []
        self.frames = 0
        self.error: str | None = None
        self.thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    async def _main(self) -> None:
        try:
            await self._run()
        except Exception as exc:  # reported with the figures, not lost in a thread
            self.error = f"{type(exc).__name__}: {exc}"
            self.code.put("")

    async def _run(self) -> None:
        import orjson
        from websockets.asyncio.client import connect

        def open_ws(url: str) -> Any:
            return connect(url, proxy=None, max_size=2**24, open_timeout=30, close_timeout=2, compression=None)

        async with open_ws(self.nginx_ws) as ws:
            await ws.send(json.dumps({"type": "hello", "fps": self.fps, "playing": True,
                                      "updates_per_second": self.fps * UPDATES_PER_EPOCH,
                                      "frames": "binary", "parts": []}))
            await ws.send(json.dumps({"type": "room_create", "share_gallery": False}))
            waiting: list[Change] = []
            got, opened = asyncio.Event(), asyncio.Event()
            room_code = ""

            async def read() -> None:
                while not self.stop.is_set():
                    try:
                        raw = await asyncio.wait_for(ws.recv(), 1.0)
                    except TimeoutError:
                        continue
                    msg = header(raw, orjson.loads)
                    if msg["type"] == "frame":
                        self.frames += 1
                        await ws.send(f'{{"type":"ack","seq":{msg["seq"]}}}')
                        if waiting and msg["hyper"]["lr"] == waiting[0].lr:
                            waiting.pop().own_frame = time.perf_counter()
                            got.set()
                    elif msg["type"] == "room":
                        nonlocal room_code
                        room_code = msg["code"]
                        opened.set()
                        self.code.put(room_code)
                    elif msg["type"] == "error":
                        raise RuntimeError(f"teacher got an error: {msg}")

            reader = asyncio.create_task(read())
            await asyncio.wait_for(opened.wait(), 30)
            watchers = [asyncio.create_task(self._watch(open_ws, url, k, room_code, orjson.loads))
                        for k, url in enumerate(self.server_ws)]
            await asyncio.get_running_loop().run_in_executor(None, self.go.wait)
            rng = random.Random(7)
            start, end = self.window
            await asyncio.sleep(max(0.0, start - time.time()))
            span = (end - start - 2.0) / max(1, self.n_changes)
            for i in range(self.n_changes):
                await asyncio.sleep(rng.uniform(0.0, max(0.01, span - 0.6)))
                change = Change(lr=round(0.02 + 1e-4 * (i + 1), 6), sent=time.perf_counter())
                self.changes.append(change)
                waiting.append(change)
                got.clear()
                await ws.send(json.dumps({"type": "set_hyper", "lr": change.lr}))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(got.wait(), 2.0)  # never seen in time: counted as missing
                waiting.clear()
            await asyncio.get_running_loop().run_in_executor(None, self.stop.wait)
            for task in (reader, *watchers):
                task.cancel()
            await asyncio.gather(reader, *watchers, return_exceptions=True)
            await ws.send('{"type":"pause"}')

    async def _watch(self, open_ws: Any, url: str, index: int, code: str, loads: Any) -> None:
        async with open_ws(url) as ws:
            await ws.send(json.dumps({"type": "hello", "fps": self.fps, "frames": "binary", "parts": []}))
            await ws.send(json.dumps({"type": "room_join", "code": code, "name": f"watcher{index}", "share": False}))
            while True:
                msg = header(await ws.recv(), loads)
                if msg["type"] == "frame":
                    await ws.send(f'{{"type":"ack","seq":{msg["seq"]}}}')
                    lr, now = msg["hyper"]["lr"], time.perf_counter()
                    for change in self.changes:
                        if change.lr == lr and index not in change.seen and now >= change.sent:
                            change.seen[index] = now
                elif msg["type"] == "error":
                    raise RuntimeError(f"watcher {index} got an error: {msg}")

    def figures(self, processes: int) -> dict[str, Any]:
        latency = [(c.own_frame - c.sent) if c.own_frame else 2.0 for c in self.changes]
        out: dict[str, Any] = {
            "teacher_latency_ms_p50": round(percentile(latency, 0.5) * MS, 1),
            "teacher_latency_ms_p95": round(percentile(latency, 0.95) * MS, 1),
            "teacher_changes": len(self.changes),
            "teacher_changes_unseen": sum(c.own_frame is None for c in self.changes)}
        for k in range(processes):
            lag = [c.seen[k] - c.sent for c in self.changes if k in c.seen]
            out[f"lag_ms_p50_process{k}"] = round(percentile(lag, 0.5) * MS, 1)
            out[f"lag_ms_p95_process{k}"] = round(percentile(lag, 0.95) * MS, 1)
            out[f"lag_unseen_process{k}"] = sum(k not in c.seen for c in self.changes)
        return out

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.go.set()
        self.stop.set()
        self.thread.join(15)


def header(raw: str | bytes, loads: Any) -> dict[str, Any]:
    """A JSON message, or a binary frame's JSON header (docs/protocol.md, "Binary frames")."""
    if isinstance(raw, str):
        return dict(loads(raw))
    return dict(loads(raw[8:8 + int.from_bytes(raw[4:8], "little")]))


def run_room(own: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    store = "redis" if own.redis else "memory"
    args = parse_args(["--sessions", str(own.followers), "--fps", str(own.fps), "--seconds", str(own.seconds),
                       "--changes", "0", "--client-procs", str(own.client_procs), "--frames", "binary",
                       "--ramp", str(own.ramp), "--warmup", str(own.warmup)])
    with hall(tmp, own.servers, store, with_nginx=True) as h:
        assert h.nginx is not None
        extra = Sampler(h.extra_pids(), [s.port for s in h.servers])
        with Teacher(h.nginx.ws, [s.ws for s in h.servers], own.fps, own.changes) as teacher:
            args.room_code = teacher.code.get(timeout=60)
            if teacher.error:
                raise RuntimeError(teacher.error)
            # `measure` places its window 2 s + ramp + warm-up from now: the teacher's changes go in it.
            now = time.time()
            teacher.window = (now + 2.0 + own.ramp + own.warmup, now + 2.0 + own.ramp + own.warmup + own.seconds)
            teacher.go.set()
            via = [Via(s, h.nginx.ws) for s in h.servers]
            result = measure(args, cast(list[Server], via), on_tick=extra.tick)  # it reads .ws, .url, .pid
        if teacher.error:
            raise RuntimeError(teacher.error)
        dropped = ("bench", "sessions", "latency_ms_p50", "latency_ms_p95", "latency_n", "healthz_n")
        return {"bench": "scaleout_room", "store": store, "followers": own.followers,
                "connections_each": extra.connections, **{k: v for k, v in result.items() if k not in dropped},
                "teacher_ups": own.fps * UPDATES_PER_EPOCH, **teacher.figures(len(h.servers)), **extra.cores()}


# ------------------------------------------------------------------ sessions of their own


def run_sessions(own: argparse.Namespace, tmp: Path) -> list[dict[str, Any]]:
    """The class on each configuration in turn; one line each, then one line comparing them."""
    configs = [("sqlite", 2)] + ([("redis", 2)] if own.redis else []) + [("memory", 1)]
    order = [c for _ in range(own.rounds) for c in configs]
    args = parse_args(["--sessions", str(own.sessions), "--fps", str(own.fps), "--seconds", str(own.seconds),
                       "--changes", str(own.changes), "--client-procs", str(own.client_procs), "--frames", "binary",
                       "--ramp", str(own.ramp), "--warmup", str(own.warmup)])
    lines = []
    for run, (store, servers) in enumerate(order):
        with hall(tmp / f"run{run}", servers, store) as h:
            extra = Sampler(h.extra_pids())
            result = measure(args, h.servers, on_tick=extra.tick)
        frames_per_s = result["bytes_per_s_total"] / max(1, result["frame_bytes_mean"])
        line = {"bench": "scaleout_sessions", "store": store, **{k: v for k, v in result.items() if k != "bench"},
                **extra.cores(), "frames_per_s_total": round(frames_per_s),
                "server_cpu_us_per_frame": round(result["server_cpu"] / max(1.0, frames_per_s) * 1e6, 1)}
        if "redis_cpu" in line:
            line["server_and_redis_cpu_us_per_frame"] = round(
                (result["server_cpu"] + line["redis_cpu"]) / max(1.0, frames_per_s) * 1e6, 1)
        print(json.dumps(line), flush=True)
        lines.append(line)
        time.sleep(1)
    return lines


def compare(lines: list[dict[str, Any]]) -> dict[str, Any]:
    """Redis against the SQLite reference, and two processes against one (medians over rounds)."""
    def med(store: str, key: str) -> float:
        values = [line[key] for line in lines if line["store"] == store and key in line]
        return statistics.median(values) if values else float("nan")

    out: dict[str, Any] = {"bench": "scaleout_compare"}
    if any(line["store"] == "redis" for line in lines):
        out["server_cpu_redis_over_sqlite"] = round(med("redis", "server_cpu") / med("sqlite", "server_cpu"), 3)
        out["server_and_redis_cpu_over_sqlite"] = round(
            (med("redis", "server_cpu") + med("redis", "redis_cpu")) / med("sqlite", "server_cpu"), 3)
        out["redis_adds_us_per_frame"] = round(
            med("redis", "server_cpu_us_per_frame") - med("sqlite", "server_cpu_us_per_frame"), 1)
        out["redis_adds_us_per_frame_with_redis_server"] = round(
            med("redis", "server_and_redis_cpu_us_per_frame") - med("sqlite", "server_cpu_us_per_frame"), 1)
    out["two_over_one_server_cpu"] = round(med("sqlite", "server_cpu") / med("memory", "server_cpu"), 3)
    out["two_over_one_frames_per_s"] = round(med("sqlite", "frames_per_s_total") / med("memory", "frames_per_s_total"), 3)
    out["two_over_one_us_per_frame"] = round(
        med("sqlite", "server_cpu_us_per_frame") / med("memory", "server_cpu_us_per_frame"), 3)
    return out


# ------------------------------------------------------------------ the command


def redis_available() -> bool:
    """redis-server is installed and this checkout's settings know PARAMLAB_REDIS_URL."""
    from app.settings import Settings

    return REDIS_SERVER is not None and "redis_url" in Settings.model_fields


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["room", "sessions"], help="which targets to measure")
    parser.add_argument("--redis", choices=["auto", "on", "off"], default="auto",
                        help="use Redis (auto: when redis-server is installed and the server knows it)")
    parser.add_argument("--servers", type=int, default=2, choices=[1, 2, 3, 4], help="room: server processes")
    parser.add_argument("--followers", type=int, default=1000, help="room: students following the teacher")
    parser.add_argument("--sessions", type=int, default=200, help="sessions: students with a session each")
    parser.add_argument("--fps", type=int, default=None, help="frames a second every page asks for "
                        "(default: 10 for the room, 20 for sessions)")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each measured window")
    parser.add_argument("--ramp", type=float, default=None, help="seconds over which the clients connect")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds after the last client joined")
    parser.add_argument("--changes", type=int, default=None,
                        help="lr changes timed (room: the teacher's; sessions: each client's)")
    parser.add_argument("--client-procs", type=int, default=None, help="processes the clients are split over")
    parser.add_argument("--rounds", type=int, default=1, help="sessions: times each configuration is run")
    own = parser.parse_args()
    if own.redis == "auto":
        own.redis = redis_available()
    elif own.redis == "on":
        if not redis_available():
            parser.error("--redis on: redis-server is not installed or this server has no PARAMLAB_REDIS_URL")
        own.redis = True
    else:
        own.redis = False
    if own.what == "room" and own.servers > 1 and not own.redis:
        parser.error("a room spans processes only through Redis: --servers 1 without it")
    if nginx_path() is None and own.what == "room":
        parser.error("the room is measured behind nginx: apt-get install nginx")
    room = own.what == "room"
    own.fps = own.fps or (10 if room else 20)
    own.ramp = own.ramp if own.ramp is not None else (10.0 if room else 5.0)
    own.changes = own.changes if own.changes is not None else (10 if room else 3)
    own.client_procs = own.client_procs or (4 if room else 2)
    if not (1 <= own.fps <= 60 and 1 <= own.followers <= 1000 and 1 <= own.sessions <= 1000
            and 0 < own.seconds <= 600 and 1 <= own.rounds <= 5 and 1 <= own.client_procs <= 8):
        parser.error("fps 1-60, followers and sessions 1-1000, seconds up to 600, rounds 1-5, client procs 1-8")
    with tempfile.TemporaryDirectory(prefix="paramlab-scaleout-") as tmp:
        if room:
            print(json.dumps(run_room(own, Path(tmp))), flush=True)
        else:
            print(json.dumps(compare(run_sessions(own, Path(tmp)))), flush=True)


if __name__ == "__main__":
    main()
