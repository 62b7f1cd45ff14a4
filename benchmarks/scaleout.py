"""Beyond one process: a lecture hall behind nginx, and a class of sessions through Redis.

Everything runs on loopback in a folder of its own: redis-server (Debian's), two
Paramlab processes (uvicorn, as benchmarks/load.py starts them, each with room for
a class of 1,000 on one address) and, for the room, Debian's nginx with the site of
deploy/nginx/ (tests/support/nginx.py) in front of them. The students are light
(benchmarks/scaleout_clients.py: the websocket protocol on a bare asyncio protocol,
in ``--client-procs`` processes): binary frames with no optional part as the page
asks for them, each frame's header parsed and the frame acknowledged on arrival.

``room`` (issue 16, first target): a teacher's session on the default network at
``--fps`` (10) frames a second, one epoch a frame, and ``--followers`` (1,000)
students joining it through nginx, which spreads them over the processes
(least connections); with Redis, followers on the other process get the room's
frames through pub/sub. Figures: frames per second per follower (median, p5,
min), the teacher's updates per second as the followers see them, the
teacher's control latency (``set_hyper`` to the first frame of its own showing
it) and, from one watcher connected straight to each process, how long after the
teacher's change each process's followers see it (``lag``) and the frames a
second that process gives a follower (``watcher_fps``). Without Redis the
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
import os
import platform
import queue
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from load import UPDATES_PER_EPOCH, HealthProbe, Server, cpu_seconds, machine_busy, percentile
from scaleout_clients import Spec
from support.nginx import Nginx, connections_to, nginx_path
from support.redis_cluster import REDIS_SERVER, RedisServer

CLIENTS = Path(__file__).resolve().parent / "scaleout_clients.py"

MS = 1000.0


# ------------------------------------------------------------------ what runs


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
    # Every student comes from 127.0.0.1: a hall of 1,000 on one process, with the teacher and the
    # watchers, is past load.py's class of 1,000 on one address.
    env = dict.fromkeys(("PARAMLAB_MAX_SESSIONS", "PARAMLAB_SESSIONS_PER_CLIENT", "PARAMLAB_NEW_SESSIONS_PER_MINUTE",
                         "PARAMLAB_CONNECTIONS_PER_CLIENT"), "2000")
    if store == "redis":
        redis = RedisServer(tmp / "redis").start()
        env["PARAMLAB_REDIS_URL"] = redis.url
    elif store == "sqlite":
        env["PARAMLAB_STORE"] = "sqlite"
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
    """CPU of processes (by name) from `start` to `stop`, and the most connections each server port
    held at once, looked at on every `tick`."""

    def __init__(self, pids: dict[str, list[int]], ports: list[int]) -> None:
        self.pids, self.ports = pids, ports
        self.connections = [0 for _ in ports]
        self.began: tuple[float, dict[str, float]] = (0.0, {})
        self.cpu: dict[str, float] = {}

    def read(self) -> tuple[float, dict[str, float]]:
        return time.perf_counter(), {name: sum(cpu_seconds(pid) for pid in pids) for name, pids in self.pids.items()}

    def start(self) -> None:
        self.began = self.read()

    def tick(self) -> None:
        self.connections = [max(seen, connections_to(port)) for seen, port in zip(self.connections, self.ports)]

    def stop(self) -> float:
        """Seconds since `start`; `cpu` then holds each name's cores over them."""
        (t0, cpu0), (t1, cpu1) = self.began, self.read()
        self.cpu = {name: (cpu1[name] - cpu0[name]) / (t1 - t0) for name in self.pids}
        return t1 - t0


def measure(own: argparse.Namespace, students: int, urls: list[str], h: Hall, room_code: str = "",
            window: tuple[float, float] | None = None) -> dict[str, Any]:
    """`students` light students (benchmarks/scaleout_clients.py) in `own.client_procs` processes,
    alternating over `urls`, against the running hall `h`; the figures of the window."""
    if window is None:
        start = time.time() + 2.0 + own.ramp + own.warmup
        window = (start, start + own.seconds)
    spec = Spec(urls=urls, fps=own.fps, updates_per_second=own.fps * UPDATES_PER_EPOCH, room_code=room_code,
                changes=0 if room_code else own.changes, ramp=own.ramp, window=window)
    folder = Path(tempfile.mkdtemp(prefix="paramlab-scaleout-clients-"))
    (folder / "spec.json").write_text(json.dumps(spec.__dict__))
    workers = []
    for k in range(own.client_procs):
        indices = ",".join(str(i) for i in range(students) if i % own.client_procs == k)
        workers.append(subprocess.Popen([sys.executable, str(CLIENTS), "--spec", str(folder / "spec.json"),
                                         "--indices", indices, "--result", str(folder / f"{k}.json")]))
    pids = {"server": [s.pid for s in h.servers], **h.extra_pids()}
    sampler = Sampler({**{f"server{k}": [pid] for k, pid in enumerate(pids["server"])}, **pids},
                      [s.port for s in h.servers])
    with HealthProbe([s.url for s in h.servers]) as health:
        time.sleep(max(0.0, window[0] - time.time()))
        busy0, _ = machine_busy()
        sampler.start()
        while (left := window[1] - time.time()) > 0:
            time.sleep(min(1.0, left))
            sampler.tick()
        elapsed = sampler.stop()
        busy1, _ = machine_busy()
        outputs = []
        for k, w in enumerate(workers):
            w.wait(timeout=120)
            outputs.append(json.loads((folder / f"{k}.json").read_text()))
    shutil.rmtree(folder, ignore_errors=True)
    results = [r for out in outputs for r in out["students"]]
    fps = [r["fps"] for r in results]
    ups = [r["ups"] for r in results]
    gaps = [g for r in results for g in r["gaps"]]
    lat = [x for r in results for x in r["latencies"]]
    errors = [r["error"] for r in results if r["error"]]
    cpu = sampler.cpu
    client_cpu = sum(out["cpu"] for out in outputs) / elapsed  # each worker's own time over the window
    counted = sum(cpu[name] for name in pids) + client_cpu
    line: dict[str, Any] = {
        "students": students, "servers": len(h.servers), "client_procs": own.client_procs,
        "fps_requested": own.fps, "fps_median": round(statistics.median(fps), 1),
        "fps_p5": round(percentile(fps, 0.05), 1), "fps_min": round(min(fps), 1),
        "gap_ms_p99": round(percentile(gaps, 0.99) * MS, 1),
        "ups_requested": own.fps * UPDATES_PER_EPOCH, "ups_median": round(statistics.median(ups)),
        "ups_p5": round(percentile(ups, 0.05)),
        "frames_per_s_total": round(sum(fps)), "frame_bytes_mean": round(statistics.mean(r["bytes"] for r in results)),
        "server_cpu": round(cpu["server"], 2),
        "server_cpu_each": [round(cpu[f"server{k}"], 2) for k in range(len(h.servers))],
        **{f"{name}_cpu": round(cpu[name], 2) for name in h.extra_pids()},
        "client_cpu": round(client_cpu, 2),
        # Everything else the machine did meanwhile (other programs skew the figures: check it is ~0).
        "other_cpu": round((busy1 - busy0) / elapsed - counted, 2),
        "healthz_ms_p95": round(percentile(health.times, 0.95) * MS, 1),
        "healthz_failures": health.failures,
        "connections_each": sampler.connections,
        "errors": len(errors), "first_error": errors[0] if errors else None,
        "seconds": own.seconds, "cores": os.cpu_count(), "python": platform.python_version()}
    if lat:
        line.update({"latency_ms_p50": round(percentile(lat, 0.5) * MS, 1),
                     "latency_ms_p95": round(percentile(lat, 0.95) * MS, 1), "latency_n": len(lat)})
    return line


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
        self.watcher_frames = [0 for _ in server_ws]  # frames each process's watcher got in the window
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
                # The next change only once every process's followers saw this one (or 2 s passed):
                # a change that came before a follower's next frame would hide this one from it.
                for _ in range(200):
                    if len(change.seen) == len(self.server_ws):
                        break
                    await asyncio.sleep(0.01)
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
                    if self.window[0] <= time.time() < self.window[1]:
                        self.watcher_frames[index] += 1
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
        span = self.window[1] - self.window[0]
        for k in range(processes):
            out[f"watcher_fps_process{k}"] = round(self.watcher_frames[k] / span, 1) if span > 0 else None
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
    with hall(tmp, own.servers, store, with_nginx=True) as h:
        assert h.nginx is not None
        with Teacher(h.nginx.ws, [s.ws for s in h.servers], own.fps, own.changes) as teacher:
            code = teacher.code.get(timeout=60)
            if teacher.error:
                raise RuntimeError(teacher.error)
            # The teacher's process holds two of the first pages (the teacher and its watcher).
            held = [connections_to(s.port) for s in h.servers]
            for _ in range(100):
                if sum(held) >= 1 + len(h.servers):
                    break
                time.sleep(0.05)
                held = [connections_to(s.port) for s in h.servers]
            start = time.time() + 2.0 + own.ramp + own.warmup
            teacher.window = (start, start + own.seconds)
            teacher.go.set()
            result = measure(own, own.followers, [h.nginx.ws], h, room_code=code, window=teacher.window)
        if teacher.error:
            raise RuntimeError(teacher.error)
        return {"bench": "scaleout_room", "store": store, "followers": own.followers,
                "teacher_process": held.index(max(held)), **result,
                "teacher_ups": own.fps * UPDATES_PER_EPOCH, **teacher.figures(len(h.servers))}


# ------------------------------------------------------------------ sessions of their own


def run_sessions(own: argparse.Namespace, tmp: Path) -> list[dict[str, Any]]:
    """The class on each configuration in turn; one line each (the comparison follows them)."""
    configs = [("sqlite", 2)] + ([("redis", 2)] if own.redis else []) + [("memory", 1)]
    order = [c for _ in range(own.rounds) for c in configs]
    lines = []
    for run, (store, servers) in enumerate(order):
        with hall(tmp / f"run{run}", servers, store) as h:
            result = measure(own, own.sessions, [s.ws for s in h.servers], h)
        frames = max(1, result["frames_per_s_total"])
        line = {"bench": "scaleout_sessions", "store": store, **result,
                "server_cpu_us_per_frame": round(result["server_cpu"] / frames * 1e6, 1)}
        if "redis_cpu" in result:
            line["server_and_redis_cpu_us_per_frame"] = round(
                (result["server_cpu"] + result["redis_cpu"]) / frames * 1e6, 1)
        print(json.dumps(line), flush=True)
        lines.append(line)
        time.sleep(1)
    return lines


def compare(lines: list[dict[str, Any]]) -> dict[str, Any]:
    """Redis against the SQLite reference, and two processes against one (medians over rounds)."""
    def med(store: str, key: str) -> float:
        values = [line[key] for line in lines if line["store"] == store and key in line]
        return float(statistics.median(values)) if values else float("nan")

    def ratio(a: float, b: float) -> float:
        return round(a / b, 3) if b else float("nan")

    out: dict[str, Any] = {"bench": "scaleout_compare", "rounds": len(lines) // max(1, len({x["store"] for x in lines}))}
    if any(line["store"] == "redis" for line in lines):
        out["server_cpu_redis_over_sqlite"] = ratio(med("redis", "server_cpu"), med("sqlite", "server_cpu"))
        out["server_and_redis_cpu_over_sqlite"] = ratio(med("redis", "server_cpu") + med("redis", "redis_cpu"),
                                                        med("sqlite", "server_cpu"))
        out["redis_adds_us_per_frame"] = round(
            med("redis", "server_cpu_us_per_frame") - med("sqlite", "server_cpu_us_per_frame"), 1)
        out["redis_adds_us_per_frame_with_redis_server"] = round(
            med("redis", "server_and_redis_cpu_us_per_frame") - med("sqlite", "server_cpu_us_per_frame"), 1)
    out["two_over_one_server_cpu"] = ratio(med("sqlite", "server_cpu"), med("memory", "server_cpu"))
    out["two_over_one_frames_per_s"] = ratio(med("sqlite", "frames_per_s_total"), med("memory", "frames_per_s_total"))
    out["two_over_one_us_per_frame"] = ratio(med("sqlite", "server_cpu_us_per_frame"),
                                             med("memory", "server_cpu_us_per_frame"))
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
