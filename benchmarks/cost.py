"""Cost growth: training speed and frame size against network size; server CPU against sessions.

``network`` lines (in this process, no server): for networks from the
default one (25 parameters) to the largest the limits allow (9 features, 8
hidden layers of 32: 7,745 parameters; 10,000 is beyond them), on the
default data (250 training points, batch 10, 25 updates an epoch):

- ``steps_per_s``: updates per second of ``TrainingSession.advance`` called
  one epoch at a time, as the server's turns run it (epoch metrics, history
  and rollback point included), per second of this process's CPU time;
- ``frame_bytes``: one frame's JSON (``messages.frame_bytes``, with its
  history delta of one epoch), and ``frame_us``: the CPU time to build it
  for the first client of a state (snapshot, metrics, encoding);
- ``per_frame_us``: one epoch plus one frame: the server's cost of one frame
  at "one epoch per frame", so ``1e6 / per_frame_us`` frames per second fit
  in one core before any websocket work.

``sessions`` lines: a real uvicorn (benchmarks/load.py's) with N sessions,
each at ``--fps`` frames a second and one epoch per frame, their clients in
``--client-procs`` processes: server CPU (1.0 = one core), frames/s and
updates/s per client, over ``--seconds``.

    python benchmarks/cost.py                       # both tables
    python benchmarks/cost.py --only network
    python benchmarks/cost.py --only sessions --sessions 10 50 100 --fps 20
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from load import Server, measure, parse_args

ALL_FEATURES = ["x1", "x2", "x1_sq", "x2_sq", "x1x2", "sin_x1", "sin_x2", "cos_x1", "cos_x2"]
NETWORKS: list[dict[str, Any]] = [
    {"features": ["x1", "x2"], "hidden": [4, 2]},                     # 25, the default
    {"features": ["x1", "x2"], "hidden": [8, 8]},                     # 105
    {"features": ALL_FEATURES[:4], "hidden": [16, 16, 8]},            # 497
    {"features": ALL_FEATURES[:6], "hidden": [32, 24]},               # 1,041
    {"features": ALL_FEATURES[:7], "hidden": [32, 32, 32]},           # 2,401
    {"features": ALL_FEATURES, "hidden": [32] * 5},                   # 4,577
    {"features": ALL_FEATURES, "hidden": [32] * 8},                   # 7,745, the largest allowed
]


def network_line(config: dict[str, Any], seconds: float) -> dict[str, Any]:
    from app.server import messages
    from app.server.registry import Client, LiveSession
    from app.training.config import HyperState, RunConfig
    from app.training.session import TrainingSession

    session = TrainingSession(RunConfig().with_changes(config), HyperState())
    per_epoch = len(session.queue) or -(-session.data.n("train") // session.hyper.batch_size)
    session.advance(per_epoch * 4)  # warm-up, aligned on an epoch
    live = LiveSession("cost", session)
    client = Client(60)
    live.clients.add(client)
    messages.frame_bytes(live, client)
    train = frame = 0.0
    updates = frames = 0
    sizes = []
    stop = time.process_time() + seconds
    while time.process_time() < stop:
        t0 = time.process_time()
        updates += session.advance(per_epoch)
        t1 = time.process_time()
        sizes.append(len(messages.frame_bytes(live, client)))
        t2 = time.process_time()
        train += t1 - t0
        frame += t2 - t1
        frames += 1
    return {"bench": "cost", "table": "network", "params": session.architecture()["total_params"],
            "features": len(config["features"]), "hidden": config["hidden"],
            "steps_per_s": round(updates / train), "frame_bytes": sorted(sizes)[len(sizes) // 2],
            "frame_us": round(frame / frames * 1e6, 1),
            "per_frame_us": round((train + frame) / frames * 1e6, 1), "clock": "process_time"}


def sessions_line(n: int, fps: int, seconds: float, client_procs: int) -> dict[str, Any]:
    args = parse_args(["--sessions", str(n), "--fps", str(fps), "--seconds", str(seconds), "--changes", "2",
                       "--client-procs", str(client_procs), "--ramp", str(min(5.0, 1 + n / 50)), "--warmup", "4"])
    with tempfile.TemporaryDirectory() as tmp:
        server = Server(Path(tmp)).start()
        try:
            r = measure(args, [server])
        finally:
            server.stop()
    keep = ("fps_median", "fps_p5", "ups_requested", "ups_median", "latency_ms_p95", "server_cpu",
            "server_rss_mb", "client_cpu", "other_cpu", "errors")
    return {"bench": "cost", "table": "sessions", "sessions": n, "fps_requested": fps,
            **{k: r[k] for k in keep}, "seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("network", "sessions"), default=None)
    parser.add_argument("--network-seconds", type=float, default=3.0, help="CPU seconds per network")
    parser.add_argument("--sessions", type=int, nargs="*", default=[10, 25, 50, 100, 150, 200])
    parser.add_argument("--fps", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=10.0, help="measured window per session count")
    parser.add_argument("--client-procs", type=int, default=2)
    args = parser.parse_args()
    if args.only in (None, "network"):
        from app.nn import fast
        fast.available(wait=True)
        for config in NETWORKS:
            print(json.dumps(network_line(config, args.network_seconds)), flush=True)
    if args.only in (None, "sessions"):
        for n in args.sessions:
            print(json.dumps(sessions_line(n, args.fps, args.seconds, args.client_procs)), flush=True)
            time.sleep(1)


if __name__ == "__main__":
    main()
