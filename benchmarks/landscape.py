"""The loss landscape: how long a 41 x 41 slice takes on the default network and on
6 features x [8] x 6 (six hidden layers of 8), and what computing one costs a live session.

Prints JSON lines:

``bench: landscape_engine`` lines: in this process, the engine alone
(`app.training.landscape.compute`, random directions, r = 41: 1,681 networks) on a session
trained 200 updates, the median of ``--repeats`` runs (``seconds``). The references, measured
in the same run on the same weights and data: ``direct_seconds``, the same 1,681 losses
computed one network at a time with `app.nn.network.evaluate` (the engine's own forward
pass, no batching), and ``one_eval_ms`` x r^2 (``one_eval_x_r2_seconds``), the median
time of one such evaluation times 1,681. ``speedup`` is direct / batched.

``bench: landscape_job`` lines: the same slice as a lab job on a server of its own (a
uvicorn on a free loopback port, no session playing): from sending `landscape` to its
`done` (``seconds``: the job's process start included) and from its `running` to `done`
(``running_seconds``).

``bench: landscape_live`` lines: the live session's figures measured by
``benchmarks/stream.py``'s own `bench` (imported: one client at fps 60 training the default
network at full speed, binary frames; frames per second, updates per second, control
latency) with ``jobs`` "none" (the reference), then while landscapes of each network are
computed on another connection one after the other throughout the measurement
(``job_seconds``: each one's time under that load), then "none" again: two references
around the loaded runs show the machine's drift. Not a test: figures depend on the
machine and on what else runs on it.

    python benchmarks/landscape.py [--seconds 5] [--changes 30] [--repeats 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from websockets.asyncio.client import connect

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from stream import bench, decode  # the live session's figures, measured as stream.py measures them
from support.server import Server  # on the path since `stream` is imported

from app.nn.network import evaluate
from app.training import landscape
from app.training.config import HyperState, RunConfig
from app.training.session import TrainingSession

RESOLUTION = 41
NETS: dict[str, dict[str, Any]] = {
    "default [4,2]": {},
    "6 features x [8]x6": {"features": ["x1", "x2", "x1_sq", "x2_sq", "x1x2", "sin_x1"], "hidden": [8] * 6},
}
MESSAGE = {"type": "landscape", "mode": "random", "span": 1.0, "resolution": RESOLUTION}


def engine(name: str, config: dict[str, Any], repeats: int) -> dict[str, Any]:
    """The engine's time for one slice against one network at a time, in this process."""
    s = TrainingSession(RunConfig().with_changes(config), HyperState())
    s.advance(200)
    X, Y = s.data.X["train"], s.Y["train"]
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = landscape.compute(s.spec, s.params, X, Y, resolution=RESOLUTION, seed=1)
        times.append(time.perf_counter() - start)
    D1, D2 = (landscape.unflatten(s.params, d) for d in result.directions)
    start = time.perf_counter()
    for b in result.betas:
        for a in result.alphas:
            evaluate(s.spec, [{k: p[k] + a * d1[k] + b * d2[k] for k in ("W", "b")}
                              for p, d1, d2 in zip(s.params, D1, D2)], X, Y)
    direct = time.perf_counter() - start
    one = []
    for _ in range(200):
        start = time.perf_counter()
        evaluate(s.spec, s.params, X, Y)
        one.append(time.perf_counter() - start)
    batched = statistics.median(times)
    return {"bench": "landscape_engine", "net": name, "resolution": RESOLUTION, "n_train": len(X),
            "n_params": int(result.origin.size), "seconds": round(batched, 4), "repeats": repeats,
            "direct_seconds": round(direct, 4), "one_eval_ms": round(statistics.median(one) * 1000, 4),
            "one_eval_x_r2_seconds": round(statistics.median(one) * RESOLUTION ** 2, 4),
            "speedup": round(direct / batched, 1)}


async def run_jobs(url: str, config: dict[str, Any], keep_going: asyncio.Event | None,
                   timeout: float) -> list[tuple[float, float]]:
    """Compute the slice once (or, with `keep_going`, again and again while it is set) on a
    paused session of `config`; each run's (seconds from sending to done, from running to done)."""
    times: list[tuple[float, float]] = []
    async with connect(url, proxy=None, max_size=2**26, open_timeout=5, close_timeout=2) as ws:
        await ws.send(json.dumps({"type": "hello", "config": config, "playing": False}))
        while True:
            sent = time.perf_counter()
            running = sent
            await ws.send(json.dumps(MESSAGE))
            deadline = sent + timeout
            while True:
                msg = decode(await asyncio.wait_for(ws.recv(), max(0.1, deadline - time.perf_counter())))
                if msg["type"] == "frame":
                    await ws.send(json.dumps({"type": "ack", "seq": msg["seq"]}))
                elif msg["type"] == "error":
                    raise RuntimeError(f"server error: {msg}")
                elif msg["type"] == "job" and msg["state"] == "running" and msg["event"] is None:
                    running = time.perf_counter()
                elif msg["type"] == "job" and msg["state"] in ("done", "failed", "cancelled"):
                    if msg["state"] != "done":
                        raise RuntimeError(f"the job ended {msg['state']}: {msg['message']}")
                    break
            done = time.perf_counter()
            times.append((done - sent, done - running))
            if keep_going is None or not keep_going.is_set():
                return times


async def live_under(url: str, config: dict[str, Any] | None, seconds: float, changes: int,
                     timeout: float) -> tuple[dict[str, Any], list[tuple[float, float]]]:
    """stream.py's figures for the default network, landscapes of `config` computed throughout (None: none)."""
    if config is None:
        return await bench(url, "default [4,2]", {}, "binary", seconds, changes), []
    keep_going = asyncio.Event()
    keep_going.set()
    load = asyncio.create_task(run_jobs(url, config, keep_going, timeout))
    await asyncio.sleep(1.5)  # the first job's process started and runs
    try:
        figures = await bench(url, "default [4,2]", {}, "binary", seconds, changes)
    finally:
        keep_going.clear()
    return figures, await load


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="seconds over which the frame rate is measured")
    parser.add_argument("--changes", type=int, default=30, help="lr changes timed for the latency")
    parser.add_argument("--repeats", type=int, default=5, help="runs of the engine per network (the median)")
    args = parser.parse_args()
    for name, config in NETS.items():
        print(json.dumps(engine(name, config, args.repeats)), flush=True)
    timeout = 600.0
    with tempfile.TemporaryDirectory() as tmp:
        server = Server(Path(tmp) / "uvicorn.log").start()
        try:
            for name, config in NETS.items():
                (total, running), = asyncio.run(run_jobs(server.ws, config, None, timeout))
                print(json.dumps({"bench": "landscape_job", "net": name, "resolution": RESOLUTION,
                                  "seconds": round(total, 3), "running_seconds": round(running, 3)}), flush=True)
            for name, loaded in [("none", None), *NETS.items(), ("none", None)]:
                figures, runs = asyncio.run(live_under(server.ws, loaded, args.seconds, args.changes, timeout))
                print(json.dumps({**figures, "bench": "landscape_live",
                                  "jobs": name if loaded is None else f"landscape {name}",
                                  "job_seconds": [round(total, 2) for total, _ in runs]}), flush=True)
        finally:
            server.stop()


if __name__ == "__main__":
    main()
