"""The transfer lab's figures at the default seed: what a class sees in each experiment.

Every experiment drives the engine (`TrainingSession`) directly, as the page
drives it over the websocket: the default configuration (500 points, half for
training, a 4-2 tanh network, momentum 0.9, learning rate 0.03, batches of 10,
seed 1) unless said otherwise. The numbers are accuracies on test splits, so
they are exact and the same on every run on this machine (no timing).

One JSON line per figure, each with the reference it is read against,
measured in the same run:

- `fine_tune_vs_scratch`: task B's test accuracy after 1, 3, 10 and 30 epochs,
  starting from A's weights ("current") against from scratch (the fresh draw,
  which is what "current" gives the layers it re-initializes).
- `forgetting`: A's test accuracy before training on B (the step-0 row) and
  after, without replay (the reference) and with replay shares 0.1 to 0.5.
- `freeze_vs_replay`: from the same start (a fork), B trained with the first
  layer frozen, against with replay, against neither: A's and B's accuracy.
- `new_classes`: which layers a switch to three classes keeps, and B's
  accuracy (1, 3, 10, 30 epochs) fine-tuned against from scratch.

    python benchmarks/transfer_figures.py
    python benchmarks/transfer_figures.py --epochs-a 30 --epochs-b 30
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from app.training.config import HyperState, RunConfig
from app.training.persist import fork_session
from app.training.session import TrainingSession


def emit(figure: dict[str, Any]) -> None:
    print(json.dumps(figure), flush=True)


def trained(config: dict[str, Any], epochs: int, hyper: dict[str, Any] | None = None) -> TrainingSession:
    s = TrainingSession(RunConfig().with_changes(config), HyperState(**(hyper or {})))
    for _ in range(epochs):
        s.step_epoch()
    return s


def epochs(s: TrainingSession, n: int) -> None:
    for _ in range(n):
        s.step_epoch()


def rows(s: TrainingSession) -> dict[str, list[Any]]:
    epoch_rows: dict[str, list[Any]] = s.history.since(-1, 0)["epochs"]
    return epoch_rows


def r(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def fine_tune_vs_scratch(a: dict[str, Any], b: dict[str, Any], epochs_a: int, checkpoints: list[int]) -> None:
    base = trained(a, epochs_a)
    curves: dict[str, list[float | None]] = {}
    for start in ("current", "scratch"):
        s = fork_session(base)
        s.fine_tune(b, start)
        done, curve = 0, []
        for n in checkpoints:
            epochs(s, n - done)
            done = n
            curve.append(r(s.metrics()["test_acc"]))
        curves[start] = curve
    emit({"figure": "fine_tune_vs_scratch", "task_a": a, "task_b": b, "epochs_a": epochs_a,
          "a_test_acc": r(base.metrics()["test_acc"]), "epochs": checkpoints,
          "b_test_acc_fine_tuned": curves["current"], "reference_b_test_acc_scratch": curves["scratch"]})


def forgetting(a: dict[str, Any], b: dict[str, Any], epochs_a: int, epochs_b: int, shares: list[float],
               buffer: int) -> None:
    base = trained(a, epochs_a)
    a_before = base.metrics()["test_acc"]
    after: dict[str, Any] = {}
    for share in [0.0, *shares]:
        s = fork_session(base)
        s.fine_tune(b, "current")
        if share:
            s.set_replay(share, buffer)
        epochs(s, epochs_b)
        row = rows(s)
        after[str(share)] = {"a_test_acc": r(row["old_task_acc"][-1]), "b_test_acc": r(row["test_acc"][-1]),
                             "a_test_acc_at_step_0": r(row["old_task_acc"][0]),
                             "a_test_acc_lowest": r(min(v for v in row["old_task_acc"] if v is not None))}
    emit({"figure": "forgetting", "task_a": a, "task_b": b, "epochs_a": epochs_a, "epochs_b": epochs_b,
          "buffer": buffer, "a_test_acc_before_b": r(a_before),
          "reference_without_replay": after.pop("0.0"), "with_replay": after})


def freeze_vs_replay(a: dict[str, Any], b: dict[str, Any], epochs_a: int, epochs_b: int, share: float,
                     buffer: int) -> None:
    base = trained(a, epochs_a)
    base.fine_tune(b, "current")
    out: dict[str, Any] = {}
    for arm in ("neither", "first_layer_frozen", "replay", "both"):
        s = fork_session(base)  # from the same start, as the page's fork route gives it
        if arm in ("first_layer_frozen", "both"):
            s.freeze(0, "layer", 0, 0, True)
        if arm in ("replay", "both"):
            s.set_replay(share, buffer)
        epochs(s, epochs_b)
        row = rows(s)
        out[arm] = {"a_test_acc": r(row["old_task_acc"][-1]), "b_test_acc": r(row["test_acc"][-1])}
    emit({"figure": "freeze_vs_replay", "task_a": a, "task_b": b, "epochs_a": epochs_a, "epochs_b": epochs_b,
          "replay_share": share, "buffer": buffer, "reference_neither": out.pop("neither"), **out})


def new_classes(a: dict[str, Any], b: dict[str, Any], epochs_a: int, checkpoints: list[int]) -> None:
    base = trained(a, epochs_a)
    out: dict[str, Any] = {}
    for start in ("current", "scratch"):
        s = fork_session(base)
        s.fine_tune(b, start)
        record = s.tasks.to_list()[-1]
        done, curve = 0, []
        for n in checkpoints:
            epochs(s, n - done)
            done = n
            curve.append(r(s.metrics()["test_acc"]))
        out[start] = {"kept": record["kept"], "reinitialized": record["reinitialized"], "note": record["note"],
                      "b_test_acc": curve}
    emit({"figure": "new_classes", "task_a": a, "task_b": b, "epochs_a": epochs_a,
          "a_test_acc": r(base.metrics()["test_acc"]), "epochs": checkpoints,
          "fine_tuned": out["current"], "reference_scratch": out["scratch"]})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs-a", type=int, default=30, help="epochs on task A (default 30)")
    parser.add_argument("--epochs-b", type=int, default=30, help="epochs on task B (default 30)")
    args = parser.parse_args()
    ea, eb = args.epochs_a, args.epochs_b
    checkpoints = sorted({1, 3, 10, eb})
    fine_tune_vs_scratch({"dataset": "circle"}, {"shift": [1.5, 0]}, ea, checkpoints)  # a nearby task
    fine_tune_vs_scratch({"dataset": "xor"}, {"rotate": 20}, ea, checkpoints)
    fine_tune_vs_scratch({"dataset": "gauss"}, {"dataset": "xor"}, ea, checkpoints)  # a start that hinders
    forgetting({"dataset": "xor"}, {"rotate": 45}, ea, eb, [0.1, 0.3, 0.5], 100)  # conflicting boundaries
    forgetting({"dataset": "gauss"}, {"shift": [3, -3]}, ea, eb, [0.1, 0.3, 0.5], 100)  # one boundary fits both
    forgetting({"dataset": "gauss"}, {"rotate": 180}, ea, eb, [0.1, 0.3, 0.5], 100)  # labels swapped: contradiction
    freeze_vs_replay({"dataset": "xor"}, {"rotate": 45}, ea, eb, 0.3, 100)
    spiral_features = ["x1", "x2", "x1_sq", "x2_sq", "x1x2", "sin_x1", "sin_x2"]
    new_classes({"dataset": "spiral", "hidden": [8, 8], "features": spiral_features}, {"dataset": "spiral3"}, ea,
                checkpoints)


if __name__ == "__main__":
    main()
