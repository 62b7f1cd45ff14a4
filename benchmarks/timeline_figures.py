"""The rewind lab's figures at the default seed: what a class sees (docs/optimizer_lab.md).

Every experiment drives the engine (`TrainingSession`) as the page drives it over
the websocket: from the default configuration (circle, 500 points, half for
training, tanh [4, 2], momentum 0.9, batches of 10, seed 1) unless said
otherwise, 25 updates per call (a frame's worth at 250 updates a second at 10
frames a second). Every number is exact and the same on every run on this
machine.

One JSON line per figure, each with the reference it is read against, measured
in the same run:

- `stuck`: learning rate 10 on the default problem: the step the frame first
  says trouble, its words, the loss, the largest |w| and the share of saturated
  hidden units along the run, and the first hidden layer's activation
  histogram at the start and when trouble is said; against learning rate 0.03.
- `vanishing`: sigmoid with 8 hidden layers of 8: the median log10 |dW| per
  layer on the probe batch (the gradient histograms' centres) at the start and
  after 2,000 updates, and the loss; against tanh with the same layers.
- `dead`: ReLU [4, 2] at learning rate 3: the share of dead ReLUs and what the
  frame says; against ReLU at 0.03.
- `record`: what the parameter record holds after 20,000 updates left alone and
  after 6,000 updates with a change every 3 updates: keyframes, bytes, recorded
  steps, the last 1,000 all exact; a rewound step against the same run stopped
  there (bit for bit), and a fork trained on against the run from that state.

    python benchmarks/timeline_figures.py
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from app.training import histograms, timeline, trouble
from app.training.config import HyperState, RunConfig
from app.training.session import TrainingSession

PER_CALL = 25


def _session(hyper: dict[str, Any] | None = None, **config: Any) -> TrainingSession:
    return TrainingSession(RunConfig().with_changes(config), HyperState(**(hyper or {})))


def _units(s: TrainingSession) -> dict[str, float]:
    saturated, saturating, dead, relus = trouble.unit_states(s.spec, s.params, s.histograms.X)
    return {"saturated_share": round(saturated / saturating, 3) if saturating else 0.0,
            "dead_share": round(dead / relus, 3) if relus else 0.0}


def _largest_weight(s: TrainingSession) -> float:
    return round(max(float(np.abs(p["W"]).max()) for p in s.params), 1)


def _activation_row(s: TrainingSession, layer: int = 0) -> dict[str, Any]:
    counts = s.histograms.count(s.step, s.params, "none", 0.0)["activations"][layer]
    bins = s.histograms.bins["activations", layer]
    row = counts.row(bins)
    total = sum(row)
    return {"step": s.step, "edges": [bins.edges()[0], bins.edges()[-1]], "bins": len(row),
            "share_in_end_bins": round((row[0] + row[-1]) / total, 3), "counts": row}


def _run_watching(s: TrainingSession, updates: int) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """Train `updates` updates; the first trouble said, and the state every 100 updates."""
    first = None
    along = []
    while s.step < updates:
        s.advance(PER_CALL)
        found = s.trouble()
        if found is not None and first is None:
            first = {"said_at_step": s.step, **found.to_dict()}
            first["activations_then"] = _activation_row(s)
        if s.step % 100 == 0:
            along.append({"step": s.step, "train_loss": round(s.metrics()["train_loss"], 4),
                          "largest_w": _largest_weight(s), **_units(s)})
    return first, along


def stuck() -> dict[str, Any]:
    s = _session({"lr": 10})
    start = _activation_row(s)
    first, along = _run_watching(s, 1000)
    ref = _session()
    ref_first, ref_along = _run_watching(ref, 1000)
    return {"figure": "stuck", "lr": 10, "trouble": first, "activations_at_start": start, "along": along,
            "reference": {"lr": 0.03, "trouble": ref_first, "along": ref_along}}


def _gradient_centres(s: TrainingSession) -> list[float]:
    values = histograms.layer_values(s.spec, s.params, s.histograms.X, s.histograms.Y, "none", 0.0)["gradients"]
    return [round(float(np.median(v)), 2) for v in values]


def vanishing() -> dict[str, Any]:
    out: dict[str, Any] = {"figure": "vanishing", "hidden": [8] * 8}
    for name, act in (("sigmoid", "sigmoid"), ("reference_tanh", "tanh")):
        s = _session(hidden=[8] * 8, activation=act)
        at_start = _gradient_centres(s)
        first, _ = _run_watching(s, 2000)
        out[name] = {"median_log10_abs_dW_per_layer_at_start": at_start,
                     "median_log10_abs_dW_per_layer_after_2000": _gradient_centres(s),
                     "train_loss_after_2000": round(s.metrics()["train_loss"], 4), "trouble": first}
    return out


def dead() -> dict[str, Any]:
    out: dict[str, Any] = {"figure": "dead"}
    for name, lr in (("relu_lr_3", 3.0), ("reference_relu_lr_0.03", 0.03)):
        s = _session({"lr": lr}, activation="relu")
        first, _ = _run_watching(s, 1500)
        out[name] = {"trouble": first, "train_loss": round(s.metrics()["train_loss"], 4), **_units(s)}
    return out


def _same(a: list[dict[str, np.ndarray]], b: list[dict[str, np.ndarray]]) -> bool:
    return all(np.array_equal(x[k], y[k]) for x, y in zip(a, b) for k in ("W", "b"))


def record() -> dict[str, Any]:
    s = _session()
    while s.step < 20_000:
        s.advance(PER_CALL)
    r = s.record()
    twin = _session()
    twin.advance(12_345)
    rebuilt = r.state(12_345, s.fast)
    left_alone = {"updates": s.step, "keyframes": len(s.timeline.keyframes), "bytes": s.timeline.nbytes,
                  "recorded_steps": r.steps(), "last_1000_exact": all(
                      r.find(k) is not None for k in range(s.step - timeline.RECENT, s.step + 1)),
                  "longest_replay": max(e - a for a, e in s.timeline.spans()),
                  "rewound_12345_equals_the_run_stopped_there": _same(rebuilt.model.params, twin.params)}
    s.fork_at(12_345)
    s.advance(500)
    twin.advance(500)
    left_alone["fork_at_12345_then_500_equals_the_run"] = _same(s.params, twin.params)
    c = _session()
    lr = [0.03, 0.031]
    while c.step < 6_000:
        c.set_hyper({"lr": lr[c.step % 2]})
        c.advance(3)
    rc = c.record()
    spans = c.timeline.spans()
    changing = {"updates": c.step, "keyframes": len(spans), "bytes": c.timeline.nbytes, "recorded_steps": rc.steps(),
                "last_1000_exact": all(rc.find(k) is not None for k in range(c.step - timeline.RECENT, c.step + 1)),
                "recorded_steps_older_than_1000": sum(1 for k in range(c.step - timeline.RECENT)
                                                      if rc.find(k) is not None)}
    return {"figure": "record", "left_alone": left_alone, "a_change_every_3_updates": changing,
            "bounds": {"recent": timeline.RECENT, "middle": timeline.MIDDLE, "middle_bucket": timeline.MIDDLE_BUCKET,
                       "old_bucket": timeline.OLD_BUCKET, "key_every": timeline.KEY_EVERY,
                       "max_keyframes": timeline.MAX_KEYFRAMES, "max_bytes": timeline.MAX_BYTES}}


def main() -> None:
    for figure in (stuck, vanishing, dead, record):
        print(json.dumps(figure()), flush=True)


if __name__ == "__main__":
    main()
