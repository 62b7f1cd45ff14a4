"""The learning-rate explorer: from the current weights, a few updates at each of a range of
learning rates spaced evenly on a log scale, and the training loss each ends at.

Every learning rate trains a copy of the session restored from one saved state
(`race.copy_from`): the same weights, optimizer and optimizer state (what setting that
learning rate now would continue from), the same batches in the same order; only `lr`
differs. The live session is never touched: the copies are made from its state.

A copy whose loss stops being finite has diverged: its loss is reported as None and
`diverged` True. Others are measured on the whole training split after their updates
(`train_loss`, without the penalty, as the frame shows it).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from app.training.race import copy_from

LR_MIN, LR_MAX = 1e-5, 10.0
MIN_POINTS, MAX_POINTS = 3, 41
MAX_UPDATES = 500

Report = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class Sweep:
    lrs: list[float]
    losses: list[float | None]   # the training loss after the updates (None: diverged)
    diverged: list[bool]
    start_loss: float | None     # the training loss at the start, the same for every lr
    current_lr: float
    best_lr: float | None        # the lr of the lowest loss (None when every one diverged)

    def to_dict(self) -> dict[str, Any]:
        return {"lrs": self.lrs, "losses": self.losses, "diverged": self.diverged, "start_loss": self.start_loss,
                "current_lr": self.current_lr, "best_lr": self.best_lr}


def check(low: float, high: float, points: int, updates: int) -> None:
    """ValueError naming a bad bound, count of points or of updates."""
    for name, value in (("low", low), ("high", high)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not LR_MIN <= value <= LR_MAX:
            raise ValueError(f"{name} must be a number from {LR_MIN:g} to {LR_MAX:g}, got {value!r}")
    if not high > low:
        raise ValueError(f"high must be above low (got low {low!r}, high {high!r})")
    if isinstance(points, bool) or not isinstance(points, int) or not MIN_POINTS <= points <= MAX_POINTS:
        raise ValueError(f"points must be an integer from {MIN_POINTS} to {MAX_POINTS}, got {points!r}")
    if isinstance(updates, bool) or not isinstance(updates, int) or not 1 <= updates <= MAX_UPDATES:
        raise ValueError(f"updates must be an integer from 1 to {MAX_UPDATES}, got {updates!r}")


def learning_rates(low: float, high: float, points: int) -> list[float]:
    """`points` learning rates from `low` to `high`, evenly spaced on a log scale (both ends exact)."""
    lrs = np.geomspace(low, high, points).tolist()
    lrs[0], lrs[-1] = float(low), float(high)
    return [float(v) for v in lrs]


def run(state: dict[str, Any], low: float, high: float, points: int, updates: int, *,
        report: Report | None = None) -> Sweep:
    """The sweep from `state` (`persist.session_state`); `report` gets
    `{"lr_done": i, "lr", "loss", "diverged"}` as each learning rate ends."""
    check(low, high, points, updates)
    lrs = learning_rates(low, high, points)
    losses: list[float | None] = []
    diverged: list[bool] = []
    start_loss: float | None = None
    current_lr = float(state["hyper"]["lr"])
    for i, lr in enumerate(lrs):
        s = copy_from(state, updates)
        if start_loss is None:
            start_loss = s.metrics()["train_loss"]
        s.hyper.lr = lr
        s.advance(updates)
        loss = s.metrics()["train_loss"]
        gone = s.diverged is not None or loss is None or not math.isfinite(loss)
        losses.append(None if gone else loss)
        diverged.append(gone)
        if report is not None:
            report({"lr_done": i, "lr": lr, "loss": losses[-1], "diverged": gone})
    finite = [(loss, lr) for loss, lr in zip(losses, lrs) if loss is not None]
    best = min(finite)[1] if finite else None
    return Sweep(lrs=lrs, losses=losses, diverged=diverged, start_loss=start_loss, current_lr=current_lr,
                 best_lr=best)
