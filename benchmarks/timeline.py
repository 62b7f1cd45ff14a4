"""The cost of the parameter record (`app.training.timeline`) on training speed, and what it holds.

For each case two sessions train the same run in the same process, one with the
record on (as the server runs) and one with it off (a record that keeps nothing),
in alternating rounds so that the machine's other work hits both alike; the
figures are the best round of each (the least disturbed by other work: the
cost of the record itself) and the median rounds. Then the recording
session's record is read: how many keyframes it holds and their bytes, whether
each of the last 1,000 updates is recorded, the longest replay a rebuilt step
needs, and the time to rebuild one step, to answer `rewind` and `histograms`.

One JSON line per case:

    case, network, updates_per_call (a frame's worth; 1: one update per call, as
    stepping by hand), change_every_call (a hyperparameter change before every
    call: a keyframe per call, the record's worst case), updates_per_s_on,
    updates_per_s_off, cost (1 - on/off, best rounds), median_on, median_off,
    median_cost, keyframes, record_bytes,
    recent_updates_exact, longest_replay, rebuild_ms, rewind_ms, histograms_ms

    python benchmarks/timeline.py            # about a minute
    python benchmarks/timeline.py --quick    # a smoke run
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Any

from app.nn import fast
from app.server import messages
from app.training import timeline
from app.training.config import HyperState, RunConfig
from app.training.session import TrainingSession

CASES: list[dict[str, Any]] = [
    {"case": "default, a frame's worth", "config": {}, "hyper": {}, "per_call": 25, "change": False},
    {"case": "default, one update per call", "config": {}, "hyper": {}, "per_call": 1, "change": False},
    {"case": "default, full chunks", "config": {}, "hyper": {}, "per_call": 64, "change": False},
    {"case": "default, a change before every call", "config": {}, "hyper": {}, "per_call": 25, "change": True},
    {"case": "6 features x [8, 8] x 6, Adam", "per_call": 25, "change": False,
     "config": {"dataset": "spiral3", "features": ["x1", "x2", "x1_sq", "x2_sq", "x1x2", "sin_x1"],
                "hidden": [8, 8]}, "hyper": {"optimizer": "adam", "lr": 0.01}},
]


class NoRecord(timeline.Timeline):
    """A record that keeps nothing: the session trains as it did before the record."""

    def begin(self, step: int, version: int, make: Any) -> None:
        pass

    def close(self, step: int, version: int) -> None:
        pass

    def updated(self, step: int, done: int, make: Any) -> None:
        pass


def _session(case: dict[str, Any]) -> TrainingSession:
    return TrainingSession(RunConfig().with_changes(case["config"]), HyperState(**case["hyper"]))


def _round(s: TrainingSession, case: dict[str, Any], updates: int, lr: list[float]) -> float:
    """Train `updates` updates as the case says; updates per second."""
    start = time.perf_counter()
    done = 0
    while done < updates:
        if case["change"]:
            s.set_hyper({"lr": lr[done // case["per_call"] % 2]})
        done += s.advance(case["per_call"])
    return updates / (time.perf_counter() - start)


def run_case(case: dict[str, Any], rounds: int, updates: int) -> dict[str, Any]:
    on, off = _session(case), _session(case)
    off.timeline = NoRecord()
    base = on.hyper.lr
    lr = [base, base * 1.01]
    _round(on, case, 200, lr)  # warm: compiled code, caches
    _round(off, case, 200, lr)
    speeds_on, speeds_off = [], []
    for _ in range(rounds):
        speeds_on.append(_round(on, case, updates, lr))
        speeds_off.append(_round(off, case, updates, lr))
    record = on.record()
    now = on.step
    spans = on.timeline.spans()
    start = time.perf_counter()
    record.state(now - 500, on.fast)
    rebuild_ms = (time.perf_counter() - start) * 1e3
    start = time.perf_counter()
    messages.rewound_answer(record, on.histograms, now - 300, on.fast)
    rewind_ms = (time.perf_counter() - start) * 1e3
    start = time.perf_counter()
    messages.histograms_answer(record, on.histograms, "gradients", on.fast)
    histograms_ms = (time.perf_counter() - start) * 1e3
    on_speed, off_speed = max(speeds_on), max(speeds_off)
    median_on, median_off = statistics.median(speeds_on), statistics.median(speeds_off)
    return {
        "case": case["case"], "network": on.architecture()["hidden"], "optimizer": on.hyper.optimizer,
        "updates_per_call": case["per_call"], "change_every_call": case["change"], "fast_path": fast.available(),
        "updates_per_s_on": round(on_speed), "updates_per_s_off": round(off_speed),
        "cost": round(1 - on_speed / off_speed, 3), "median_on": round(median_on), "median_off": round(median_off),
        "median_cost": round(1 - median_on / median_off, 3), "updates": now,
        "keyframes": len(spans), "record_bytes": on.timeline.nbytes,
        "recent_updates_exact": all(record.find(s) is not None for s in range(max(0, now - timeline.RECENT), now + 1)),
        "longest_replay": max(e - a for a, e in spans),
        "rebuild_ms": round(rebuild_ms, 2), "rewind_ms": round(rewind_ms, 2),
        "histograms_ms": round(histograms_ms, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer rounds and updates: a smoke run")
    args = parser.parse_args()
    fast.warm_up()
    rounds, updates = (3, 500) if args.quick else (15, 2000)
    for case in CASES:
        print(json.dumps(run_case(case, rounds, updates if case["per_call"] > 1 else updates // 5)), flush=True)


if __name__ == "__main__":
    main()
