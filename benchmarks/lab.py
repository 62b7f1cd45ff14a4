"""The generalization lab's background jobs: how long a 5-fold cross-validation and a
6 x 6 grid search take on the default network, and what they cost a live session.

Starts its own uvicorn on a free loopback port and prints JSON lines:

``bench: lab_job`` lines: one job alone on the server (no session playing), the
time from sending the message to its `done` (``seconds``, the process start
included) and from its `running` to its `done` (``running_seconds``). The jobs:
``cross_validate`` k 5, and ``search`` grid lr x momentum (6 x 6 values), both
``--epochs`` epochs (50) on the default network (hidden [4, 2]) with a validation
split (``val_ratio`` 20).

``bench: lab_live`` lines: the live session's figures measured by
``benchmarks/stream.py``'s own `bench` (imported, not copied: one client at
fps 60 training the default network at full speed, binary frames as the page
asks for them; frames per second, updates per second, control latency median
and p95) with ``jobs`` "none" (the reference), then while a job of each kind runs
on another connection (started again as soon as it ends, so one runs throughout
the measurement; ``job_seconds`` are the runs' times under that load), then
"none" again: two references around the loaded runs show the machine's drift.
Not a test: figures depend on the machine and on what else runs on it.

    python benchmarks/lab.py [--seconds 5] [--changes 30] [--epochs 50]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from websockets.asyncio.client import connect

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stream import bench, decode  # the live session's figures, measured as stream.py measures them
from support.server import Server  # on the path since `stream` is imported

JOB_CONFIG = {"val_ratio": 20}
GRID = [0.001, 0.003, 0.01, 0.03, 0.1, 0.3], [0.0, 0.3, 0.5, 0.7, 0.9, 0.95]


def jobs(epochs: int) -> dict[str, dict[str, Any]]:
    lrs, momenta = GRID
    return {
        "cross_validate k=5": {"type": "cross_validate", "k": 5, "epochs": epochs},
        "search grid 6x6": {"type": "search", "mode": "grid", "space": {"lr": lrs, "momentum": momenta},
                            "epochs": epochs},
    }


async def run_jobs(url: str, message: dict[str, Any], keep_going: asyncio.Event | None,
                   timeout: float) -> list[tuple[float, float]]:
    """Run the job once (or, with `keep_going`, again and again while it is set); each run's
    (seconds from sending to done, seconds from running to done)."""
    times: list[tuple[float, float]] = []
    async with connect(url, proxy=None, max_size=2**24, open_timeout=5, close_timeout=2) as ws:
        await ws.send(json.dumps({"type": "hello", "config": JOB_CONFIG, "playing": False}))
        while True:
            sent = time.perf_counter()
            running = sent
            await ws.send(json.dumps(message))
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
                return times  # leaving cancels a job still running


async def live_under(url: str, message: dict[str, Any] | None, seconds: float, changes: int,
                     timeout: float) -> tuple[dict[str, Any], list[tuple[float, float]]]:
    """stream.py's figures for the default network, with `message`'s job running throughout (None: no job)."""
    if message is None:
        return await bench(url, "default [4,2]", {}, "binary", seconds, changes), []
    keep_going = asyncio.Event()
    keep_going.set()
    load = asyncio.create_task(run_jobs(url, message, keep_going, timeout))
    await asyncio.sleep(1.5)  # the job's process started and runs
    try:
        figures = await bench(url, "default [4,2]", {}, "binary", seconds, changes)
    finally:
        keep_going.clear()
    return figures, await load


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="seconds over which the frame rate is measured")
    parser.add_argument("--changes", type=int, default=30, help="lr changes timed for the latency")
    parser.add_argument("--epochs", type=int, default=50, help="epochs of every fold and trial")
    args = parser.parse_args()
    timeout = 600.0
    with tempfile.TemporaryDirectory() as tmp:
        server = Server(Path(tmp) / "uvicorn.log").start()
        try:
            for name, message in jobs(args.epochs).items():
                (total, running), = asyncio.run(run_jobs(server.ws, message, None, timeout))
                print(json.dumps({"bench": "lab_job", "job": name, "epochs": args.epochs, "net": "default [4,2]",
                                  "val_ratio": JOB_CONFIG["val_ratio"], "seconds": round(total, 2),
                                  "running_seconds": round(running, 2)}), flush=True)
            for name, message in [("none", None), *jobs(args.epochs).items(), ("none", None)]:
                figures, runs = asyncio.run(live_under(server.ws, message, args.seconds, args.changes, timeout))
                print(json.dumps({**figures, "bench": "lab_live", "jobs": name,
                                  "job_seconds": [round(total, 2) for total, _ in runs]}), flush=True)
        finally:
            server.stop()


if __name__ == "__main__":
    main()
