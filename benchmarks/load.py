"""Classroom load: many students' sessions on one server, measured as the browser sees them.

Starts its own uvicorn (or two, ``--servers 2``) on free loopback ports with a
store of its own, then opens ``--sessions`` websocket clients, each its own
session on the default network (or ``--hidden``), playing at ``--fps`` frames a
second and ``--epochs-per-frame`` epochs (25 updates each: 250 training points,
batch 10) per frame. Every client reads every frame and acknowledges every
second one, as the browser does (acks are cumulative: docs/protocol.md,
``{"type":"ack","seq":n}``), and parses it as JSON (``--frames binary``: binary frames, as the page asks
for them, whose JSON header it parses). Clients run in ``--client-procs`` processes of their
own, so that the client's own cost is measured (and reported) apart from the
server's. All traffic is loopback; the run is bounded by ``--seconds``.

One JSON line per run:

- ``fps_median``, ``fps_p5``: frames each client received per second over the
  measured window (median and 5th percentile over clients);
  ``gap_ms_p99``: the 99th percentile of the time between two frames of a client;
- ``ups_median``, ``ups_p5``: updates per second each client's session made
  (from the frames' ``step``), against ``ups_requested``;
- ``latency_ms_p50``/``_p95``: from sending ``set_hyper`` (a new ``lr``, at a
  random moment) to receiving the first frame that shows it, ``--changes``
  per client;
- ``healthz_ms_p95``/``_max``: ``GET /healthz`` every 100 ms, from the first
  connection to the end;
- ``server_cpu``: CPU seconds per second of the server process(es) over the
  window (1.0 = one core busy), ``server_rss_mb`` at the end;
  ``client_cpu``: the same for the client processes (this machine has 2 cores:
  what the clients use is taken from what the server could have had);
- ``frame_bytes_mean``, ``bytes_per_s_per_client``, ``bytes_per_s_total``:
  the size of a frame message, and what one client and all of them received a
  second.

    python benchmarks/load.py --sessions 30 --fps 60
    python benchmarks/load.py --sessions 200 --fps 20 --client-procs 2
    python benchmarks/load.py --sessions 30 --fps 60 --servers 2   # two processes, shared SQLite store

With ``--servers 2`` the clients alternate between two server processes that
share one SQLite store (PARAMLAB_STORE=sqlite), as two uvicorn processes
behind a balancer would.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any, Self

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the one server helper, shared with the tests
from support.server import Server as ServerProcess

ROOT = Path(__file__).resolve().parents[1]

UPDATES_PER_EPOCH = 25  # the default network: 250 training points, batch 10
# hello fields of each frame format: JSON with every part (an outside client's default); binary as the
# page asks for it while its edges show the weights (no optional part). A binary frame's header is read
# (docs/protocol.md, "Binary frames"), its arrays are not: the page reads them as views, for nothing.
FORMATS: dict[str, dict[str, Any]] = {"json": {}, "binary": {"frames": "binary", "parts": []}}
TICKS = os.sysconf("SC_CLK_TCK")


# ------------------------------------------------------------------ the server


def http_get(url: str, timeout: float = 5.0) -> Any:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: no proxies
    with opener.open(url, timeout=timeout) as r:
        return json.loads(r.read())


# Every simulated student connects from 127.0.0.1, so the per-address quotas that
# protect a real classroom (docs/security.md) would stop the class at 60 sessions.
CLASS_ON_ONE_ADDRESS = {"PARAMLAB_MAX_SESSIONS": "1000", "PARAMLAB_SESSIONS_PER_CLIENT": "1000",
                        "PARAMLAB_NEW_SESSIONS_PER_MINUTE": "1000", "PARAMLAB_CONNECTIONS_PER_CLIENT": "1000",
                        "PARAMLAB_FULL_SPEED_PER_CLIENT": "1000", "PARAMLAB_ROOMS_PER_CLIENT": "1000"}


class Server(ServerProcess):
    """uvicorn on 127.0.0.1 with a memory store of its own (sessions other runs left
    playing would be resumed and compete) and room for a class of 1000 on one address;
    its log in `data_dir`."""

    start_timeout = 30.0  # the fast path compiles in the background: the warm-up covers it

    def __init__(self, data_dir: Path, env: dict[str, str] | None = None, name: str = "uvicorn") -> None:
        super().__init__(data_dir / f"{name}.log", {**CLASS_ON_ONE_ADDRESS, **(env or {})})


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def machine_busy() -> tuple[float, float]:
    """(busy CPU seconds of the whole machine, wall-clock time) from /proc/stat."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values[:8]) - idle) / TICKS, time.perf_counter()


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def percentile(values: list[float], q: float) -> float:
    """The `q` quantile (0..1) by nearest rank; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


class HealthProbe:
    """GET /healthz every `period` seconds in a thread, timing each answer."""

    def __init__(self, urls: list[str], period: float = 0.1) -> None:
        self.urls, self.period = urls, period
        self.times: list[float] = []
        self.failures = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        i = 0
        while not self._stop.is_set():
            t0 = time.perf_counter()
            try:
                http_get(self.urls[i % len(self.urls)] + "/healthz", timeout=5)
                self.times.append(time.perf_counter() - t0)
            except OSError:
                self.failures += 1
            i += 1
            self._stop.wait(max(0.0, self.period - (time.perf_counter() - t0)))

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)


# ------------------------------------------------------------------ the clients


class LoadClient:
    """One student: its own session; reads and parses every frame, and acks every second one."""

    def __init__(self, index: int, url: str, args: argparse.Namespace, window: tuple[float, float]) -> None:
        self.index, self.url, self.args = index, url, args
        self.window = window  # wall-clock (time.time) start and end of the measured window
        self.arrivals: list[tuple[float, int]] = []   # (perf_counter, step) of frames in the window
        self.latencies: list[float] = []
        self.waiting: tuple[float, float] | None = None  # (lr, sent at) of the change in flight
        self.got_change = asyncio.Event()
        self.frames = 0
        self.bytes = 0
        self.error: str | None = None
        self.session_id: str | None = None

    async def run(self) -> None:
        import orjson
        from websockets.asyncio.client import connect

        a = self.args
        config: dict[str, Any] = {"seed": 1 + self.index % 1000}
        if a.hidden is not None:
            config["hidden"] = a.hidden
        frames = FORMATS[a.frames]
        hello = {"type": "hello", "fps": a.fps, "config": config, "playing": True,
                 "updates_per_second": a.fps * a.epochs_per_frame * UPDATES_PER_EPOCH, **frames}
        first = [hello]
        if a.room_code:  # a student: a page of their own first, then the teacher's room (benchmarks/room.py)
            first = [{"type": "hello", "fps": a.fps, **frames},
                     {"type": "room_join", "code": a.room_code, "name": f"s{self.index}", "share": False}]
        try:
            async with connect(self.url, proxy=None, max_size=2**24, open_timeout=30, close_timeout=2,
                               compression=None) as ws:
                for message in first:
                    await ws.send(json.dumps(message))
                changer = asyncio.create_task(self._changes(ws))
                try:
                    await self._read(ws, orjson.loads)
                finally:
                    changer.cancel()
                    try:
                        await ws.send('{"type":"pause"}')  # it would go on training for the next run
                    except Exception:
                        pass
        except Exception as exc:
            self.error = f"{type(exc).__name__}: {exc}"

    async def _read(self, ws: Any, loads: Any) -> None:
        start, end = self.window
        in_window_from = time.perf_counter() + (start - time.time())
        until = time.perf_counter() + (end - time.time())
        acked = -1  # the last frame acknowledged
        while True:
            left = until - time.perf_counter()
            if left <= 0:
                return
            try:
                raw = await asyncio.wait_for(ws.recv(), left)
            except TimeoutError:
                return
            now = time.perf_counter()
            msg = loads(raw) if isinstance(raw, str) else loads(raw[8:8 + int.from_bytes(raw[4:8], "little")])
            kind = msg["type"]
            if kind == "frame":
                seq = msg["seq"]
                if seq - acked >= 2 or seq < acked:  # every second frame, as the page (socket.js)
                    await ws.send(f'{{"type":"ack","seq":{seq}}}')
                    acked = seq
                if now >= in_window_from:
                    self.arrivals.append((now, msg["step"]))
                    self.frames += 1
                    self.bytes += len(raw)
                if self.waiting is not None and msg["hyper"]["lr"] == self.waiting[0]:
                    self.latencies.append(now - self.waiting[1])
                    self.waiting = None
                    self.got_change.set()
            elif kind == "session":
                self.session_id = msg["session_id"]
            elif kind == "error":
                raise RuntimeError(f"server error: {msg.get('message')}")

    async def _changes(self, ws: Any) -> None:
        """`--changes` lr changes at random moments of the window, one in flight at a time."""
        rng = random.Random(self.index)
        start, end = self.window
        n = self.args.changes
        if n <= 0:
            return
        await asyncio.sleep(max(0.0, start - time.time()))
        span = (end - start - 2.0) / n
        for i in range(n):
            await asyncio.sleep(rng.uniform(0.0, max(0.01, span - 0.6)))
            lr = round(0.01 + 1e-6 * (self.index * 100 + i + 1), 9)
            self.got_change.clear()
            self.waiting = (lr, time.perf_counter())
            await ws.send(json.dumps({"type": "set_hyper", "lr": lr}))
            try:
                await asyncio.wait_for(self.got_change.wait(), 2.0)
            except TimeoutError:
                self.latencies.append(2.0)  # counted as 2 s: never seen in time
                self.waiting = None

    def result(self) -> dict[str, Any]:
        times = [t for t, _ in self.arrivals]
        span = self.window[1] - self.window[0]
        gaps = [b - a for a, b in itertools.pairwise(times)]
        ups = 0.0
        if len(self.arrivals) >= 2:
            ups = (self.arrivals[-1][1] - self.arrivals[0][1]) / (self.arrivals[-1][0] - self.arrivals[0][0])
        return {"fps": self.frames / span, "ups": ups, "gaps": [round(g, 5) for g in gaps], "latencies": self.latencies,
                "bytes": self.bytes / max(1, self.frames), "error": self.error}


async def run_clients(urls: list[str], indices: list[int], args: argparse.Namespace,
                      window: tuple[float, float]) -> list[dict[str, Any]]:
    clients = [LoadClient(i, urls[i % len(urls)], args, window) for i in indices]
    tasks = []
    for c in clients:
        tasks.append(asyncio.create_task(c.run()))
        await asyncio.sleep(args.ramp / max(1, args.sessions))  # students arrive over `--ramp` seconds
    await asyncio.wait_for(asyncio.gather(*tasks), timeout=window[1] - time.time() + 30)
    return [c.result() for c in clients]


def worker_main(args: argparse.Namespace) -> None:
    """A client process: runs its share of the clients and prints their raw figures as JSON."""
    try:
        import uvloop
        uvloop.install()
    except ImportError:
        pass
    indices = [int(i) for i in args.worker_indices.split(",") if i]
    window = (args.window_start, args.window_end)
    urls = args.urls.split(",")
    cpu_at: dict[str, float] = {}

    async def main() -> list[dict[str, Any]]:
        async def mark() -> None:
            await asyncio.sleep(max(0.0, window[0] - time.time()))
            cpu_at["start"] = time.process_time()
            await asyncio.sleep(max(0.0, window[1] - time.time()))
            cpu_at["end"] = time.process_time()
        marker = asyncio.create_task(mark())
        results = await run_clients(urls, indices, args, window)
        await marker
        return results

    results = asyncio.run(main())
    # A file, not stdout: a pipe cut lines past 64 KB.
    Path(args.result_file).write_text(json.dumps({"clients": results, "cpu": cpu_at["end"] - cpu_at["start"]}))


# ------------------------------------------------------------------ the run


def measure(args: argparse.Namespace, servers: list[Server],
            on_tick: Callable[[float], None] | None = None) -> dict[str, Any]:
    """Run the clients against running servers; returns the summary line.
    `on_tick(seconds into the window)` is called about once a second meanwhile."""
    urls = [s.ws for s in servers]
    now = time.time()
    warm = args.ramp + args.warmup
    window = (now + 2.0 + warm, now + 2.0 + warm + args.seconds)
    procs = []
    for k in range(args.client_procs):
        indices = [i for i in range(args.sessions) if i % args.client_procs == k]
        cmd = [sys.executable, __file__, "--worker", "--worker-indices", ",".join(map(str, indices)),
               "--urls", ",".join(urls), "--window-start", repr(window[0]), "--window-end", repr(window[1]),
               "--sessions", str(args.sessions), "--fps", str(args.fps), "--epochs-per-frame",
               str(args.epochs_per_frame), "--changes", str(args.changes), "--ramp", str(args.ramp),
               "--frames", args.frames]
        if args.hidden is not None:
            cmd += ["--hidden", ",".join(map(str, args.hidden))]
        if getattr(args, "room_code", ""):
            cmd += ["--room-code", args.room_code]
        fd, result_file = tempfile.mkstemp(prefix="paramlab-load-", suffix=".json")
        os.close(fd)
        cmd += ["--result-file", result_file]
        procs.append((subprocess.Popen(cmd, cwd=ROOT), Path(result_file)))
    with HealthProbe([s.url for s in servers]) as health:
        time.sleep(max(0.0, window[0] - time.time()))
        cpu0 = [cpu_seconds(s.pid) for s in servers]
        busy0, t0 = machine_busy()
        while (left := window[1] - time.time()) > 0:
            time.sleep(min(1.0, left))
            if on_tick is not None:
                on_tick(time.perf_counter() - t0)
        cpu1 = [cpu_seconds(s.pid) for s in servers]
        busy1, _ = machine_busy()
        elapsed = time.perf_counter() - t0
        rss = [rss_mb(s.pid) for s in servers]
        outputs = []
        for proc, path in procs:
            try:
                proc.wait(timeout=120)
                outputs.append(json.loads(path.read_text()))
            finally:
                path.unlink(missing_ok=True)
    clients = [c for out in outputs for c in out["clients"]]
    fps = [c["fps"] for c in clients]
    ups = [c["ups"] for c in clients]
    gaps = [g for c in clients for g in c["gaps"]]
    lat = [x for c in clients for x in c["latencies"]]
    errors = [c["error"] for c in clients if c["error"]]
    ms = 1000.0
    return {
        "bench": "load", "sessions": args.sessions, "servers": len(servers), "client_procs": args.client_procs,
        "hidden": args.hidden or [4, 2], "fps_requested": args.fps,
        "fps_median": round(statistics.median(fps), 1), "fps_p5": round(percentile(fps, 0.05), 1),
        "fps_min": round(min(fps), 1), "gap_ms_p99": round(percentile(gaps, 0.99) * ms, 1),
        "ups_requested": args.fps * args.epochs_per_frame * UPDATES_PER_EPOCH,
        "ups_median": round(statistics.median(ups)), "ups_p5": round(percentile(ups, 0.05)),
        "latency_ms_p50": round(percentile(lat, 0.5) * ms, 1), "latency_ms_p95": round(percentile(lat, 0.95) * ms, 1),
        "latency_n": len(lat),
        "healthz_ms_p95": round(percentile(health.times, 0.95) * ms, 1),
        "healthz_ms_max": round(max(health.times, default=float("nan")) * ms, 1),
        "healthz_n": len(health.times), "healthz_failures": health.failures,
        "frames": args.frames,
        "frame_bytes_mean": round(statistics.mean(c["bytes"] for c in clients)),
        # What each client received a second (frames x their size), and all of them together.
        "bytes_per_s_per_client": round(statistics.mean(c["bytes"] * c["fps"] for c in clients)),
        "bytes_per_s_total": round(sum(c["bytes"] * c["fps"] for c in clients)),
        "server_cpu": round(sum(b - a for a, b in zip(cpu0, cpu1)) / elapsed, 2),
        "server_cpu_each": [round((b - a) / elapsed, 2) for a, b in zip(cpu0, cpu1)],
        "server_rss_mb": round(sum(rss), 1),
        "client_cpu": round(sum(o["cpu"] for o in outputs) / elapsed, 2),
        # Everything else the machine did meanwhile (other programs skew the figures: check it is ~0).
        "other_cpu": round((busy1 - busy0 - sum(b - a for a, b in zip(cpu0, cpu1))
                            - sum(o["cpu"] for o in outputs)) / elapsed, 2),
        "errors": len(errors), "first_error": errors[0] if errors else None,
        "seconds": args.seconds, "cores": os.cpu_count(), "python": platform.python_version(),
    }


def start_servers(n: int, tmp: Path, env: dict[str, str] | None = None) -> list[Server]:
    if n > 1:  # several processes: they share sessions only through one SQLite store
        env = {"PARAMLAB_STORE": "sqlite", **(env or {})}
    servers = [Server(tmp, env, name=f"uvicorn{k}").start() for k in range(n)]
    print(json.dumps({"server_pids": [s.pid for s in servers]}), file=sys.stderr, flush=True)
    return servers


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=30, help="clients, each with a session of its own")
    parser.add_argument("--fps", type=int, default=60, help="frames per second each client asks for (1-60)")
    parser.add_argument("--epochs-per-frame", type=float, default=1.0, help="training speed, in epochs per frame")
    parser.add_argument("--hidden", type=lambda s: [int(x) for x in s.split(",")], default=None,
                        help="hidden layers, e.g. 8,8 (default: the default network, 4,2)")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of the measured window")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds after the last client joined")
    parser.add_argument("--ramp", type=float, default=3.0, help="seconds over which the clients connect")
    parser.add_argument("--changes", type=int, default=5, help="lr changes timed per client")
    parser.add_argument("--client-procs", type=int, default=1, help="processes the clients are split over")
    parser.add_argument("--servers", type=int, default=1, help="server processes (2: shared SQLite store)")
    parser.add_argument("--frames", choices=sorted(FORMATS), default="json",
                        help="frame format the clients ask for (binary: as the page does)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--room-code", default="", help=argparse.SUPPRESS)
    parser.add_argument("--worker-indices", default="", help=argparse.SUPPRESS)
    parser.add_argument("--result-file", default="", help=argparse.SUPPRESS)
    parser.add_argument("--urls", default="", help=argparse.SUPPRESS)
    parser.add_argument("--window-start", type=float, default=0.0, help=argparse.SUPPRESS)
    parser.add_argument("--window-end", type=float, default=0.0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if not 1 <= args.fps <= 60 or not 1 <= args.sessions <= 1000 or args.seconds > 1800:
        parser.error("fps 1-60, sessions 1-1000, seconds at most 1800")
    return args


def main() -> None:
    args = parse_args()
    if args.worker:
        worker_main(args)
        return
    with tempfile.TemporaryDirectory() as tmp:
        servers = start_servers(args.servers, Path(tmp))
        try:
            print(json.dumps(measure(args, servers)), flush=True)
        finally:
            for s in servers:
                s.stop()


if __name__ == "__main__":
    main()
