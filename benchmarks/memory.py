"""Memory: bytes per idle session, and a soak of many playing sessions.

Three measurements, one JSON line each:

``idle_traced``: in this process, with ``tracemalloc`` (numpy reports its
arrays to it): the bytes held by ``--idle`` sessions of the default network
as the server holds them (``Registry.create``), fresh, and by ``--trained``
sessions after ``--trained-updates`` updates each (their history full, as
after a long lesson), per session.

``idle_rss``: a real uvicorn on a free loopback port; ``--idle`` websocket
clients each open a session (``hello``, read ``session``, ``dataset`` and
``history``) and leave; the server's resident memory (RSS) before and after,
per session. RSS counts what the allocator keeps, not only live objects.

``soak``: a fresh uvicorn; ``--soak-sessions`` clients (benchmarks/load.py's,
which read, parse and ack every frame) play at ``--fps`` frames a second and
one epoch per frame for ``--minutes``; the server's RSS is sampled every 10 s.
Prints the RSS at the end of the warm-up (the first fifth of the run, at
least one minute), at the end and at its highest, and the growth after the
warm-up, with the frame rates seen meanwhile.

    python benchmarks/memory.py                       # idle figures and a 10-minute soak
    python benchmarks/memory.py --minutes 2 --idle 50 # quicker
    python benchmarks/memory.py --minutes 0           # idle figures only
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from load import Server, measure, parse_args, rss_mb

KB = 1024


def idle_traced(n_idle: int, n_trained: int, updates: int) -> dict[str, Any]:
    from app.nn import fast
    from app.server.registry import Registry
    from app.server.storage import MemoryStore
    from app.training.config import HyperState, RunConfig

    fast.available(wait=True)
    registry = Registry(n_idle + n_trained + 10, MemoryStore())
    registry.create(RunConfig(), HyperState()).session.advance(100)  # imports and caches first
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    for i in range(n_idle):
        registry.create(RunConfig(seed=i + 1), HyperState())
    gc.collect()
    fresh = (tracemalloc.get_traced_memory()[0] - base) / n_idle
    tracemalloc.stop()
    trained = []
    for i in range(n_trained):
        live = registry.create(RunConfig(seed=1000 + i), HyperState())
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        live.session.advance(updates)
        gc.collect()
        trained.append(tracemalloc.get_traced_memory()[0] - before)
        tracemalloc.stop()
    history = live.session.history
    return {"bench": "memory", "measure": "idle_traced", "sessions": n_idle,
            "fresh_kb_per_session": round(fresh / KB, 1),
            "trained_sessions": n_trained, "trained_updates": updates,
            "trained_kb_per_session": round((fresh + sum(trained) / max(1, n_trained)) / KB, 1),
            "history_rows": {"updates": len(history.updates), "epochs": len(history.epochs)},
            # The most the history can hold just before it thins (8 bytes a value, steps included).
            "history_kb_at_capacity": round((history.updates.capacity * 2 + history.epochs.capacity
                                             * (1 + len(history.epochs.columns))) * 8 / KB, 1)}


async def open_sessions(url: str, n: int) -> None:
    from websockets.asyncio.client import connect

    async def one(i: int) -> None:
        async with connect(url, proxy=None, max_size=2**24, open_timeout=30, compression=None) as ws:
            await ws.send(json.dumps({"type": "hello", "config": {"seed": i + 1}}))
            for _ in range(3):  # session, dataset, history
                await asyncio.wait_for(ws.recv(), 30)

    for start in range(0, n, 20):  # 20 at a time
        await asyncio.gather(*(one(i) for i in range(start, min(n, start + 20))))


def idle_rss(n: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        server = Server(Path(tmp)).start()
        try:
            asyncio.run(open_sessions(server.ws, 5))  # warm-up: imports, the fast path, first allocations
            time.sleep(2)
            before = rss_mb(server.pid)
            asyncio.run(open_sessions(server.ws, n))
            time.sleep(2)
            after = rss_mb(server.pid)
        finally:
            server.stop()
    return {"bench": "memory", "measure": "idle_rss", "sessions": n, "rss_before_mb": round(before, 1),
            "rss_after_mb": round(after, 1), "kb_per_session": round((after - before) * KB / n, 1)}


def soak(sessions: int, fps: int, minutes: float, client_procs: int) -> dict[str, Any]:
    seconds = minutes * 60
    warm_up = max(60.0, seconds / 5)
    args = parse_args(["--sessions", str(sessions), "--fps", str(fps), "--seconds", str(seconds),
                       "--changes", "3", "--client-procs", str(client_procs), "--warmup", "2", "--ramp", "5"])
    samples: list[tuple[float, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        server = Server(Path(tmp)).start()
        last = [-10.0]

        def tick(t: float) -> None:
            if t - last[0] >= 10.0:
                last[0] = t
                samples.append((round(t, 1), round(rss_mb(server.pid), 1)))

        try:
            result = measure(args, [server], tick)
            samples.append((round(seconds, 1), round(rss_mb(server.pid), 1)))
        finally:
            server.stop()
    at_warm = next(rss for t, rss in samples if t >= warm_up)
    end = samples[-1][1]
    peak = max(rss for t, rss in samples if t >= warm_up)
    return {"bench": "memory", "measure": "soak", "sessions": sessions, "fps_requested": fps,
            "minutes": minutes, "warm_up_s": warm_up, "rss_warm_mb": at_warm, "rss_end_mb": end,
            "rss_peak_after_warm_mb": peak, "growth_pct": round(100 * (end - at_warm) / at_warm, 1),
            "peak_growth_pct": round(100 * (peak - at_warm) / at_warm, 1),
            "fps_median": result["fps_median"], "fps_p5": result["fps_p5"], "ups_median": result["ups_median"],
            "server_cpu": result["server_cpu"], "client_cpu": result["client_cpu"],
            "other_cpu": result["other_cpu"], "errors": result["errors"],
            "rss_samples": samples}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--idle", type=int, default=200, help="idle sessions measured")
    parser.add_argument("--trained", type=int, default=10, help="sessions measured after a long run")
    parser.add_argument("--trained-updates", type=int, default=150_000, help="updates each trained session ran")
    parser.add_argument("--minutes", type=float, default=10.0, help="soak length (0: no soak)")
    parser.add_argument("--soak-sessions", type=int, default=100)
    parser.add_argument("--fps", type=int, default=20, help="frames per second in the soak (one epoch each)")
    parser.add_argument("--client-procs", type=int, default=1)
    args = parser.parse_args()
    if args.minutes > 60 or args.idle > 500:
        parser.error("at most 60 minutes and 500 idle sessions")
    print(json.dumps(idle_traced(args.idle, args.trained, args.trained_updates)), flush=True)
    print(json.dumps(idle_rss(args.idle)), flush=True)
    if args.minutes > 0:
        print(json.dumps(soak(args.soak_sessions, args.fps, args.minutes, args.client_procs)), flush=True)


if __name__ == "__main__":
    main()
