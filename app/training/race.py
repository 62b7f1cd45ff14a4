"""A race: several optimizers trained from one start, on the same mini-batches, side by side.

Each contender is a copy of the session restored from one saved state (`persist`): the
same weights, the same rest of the epoch and the same position of the batch and dropout
generators, so every contender sees the same batches in the same order. Its optimizer
starts from rest (velocity, moments and counts zero) with its own hyperparameters; the
rest (batch size, regularization, dropout, frozen weights) is the session's. A contender
is therefore exactly the run that optimizer would make alone from that point: same
bits (a test trains one without the race and compares).

Early stopping is off in a race (a contender trains its `updates` whatever the watch
would say); a contender whose loss stops being finite ends there (`diverged`).

The contenders train in turns of `every` updates (`every` = ceil(updates / PATH_POINTS)),
and after each turn its weights are kept as a point of its path, so the paths are
thinned evenly to at most PATH_POINTS + 1 points (the start included).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from app.nn.optimizers import OPTIMIZERS
from app.training.history import History
from app.training.landscape import flatten
from app.training.persist import restore_session
from app.training.session import TrainingSession
from app.training.updates import engine_hyper

MIN_CONTENDERS, MAX_CONTENDERS = 2, 5
MAX_UPDATES = 5000
PATH_POINTS = 100
HYPER_FIELDS = ("lr", "momentum", "beta1", "beta2", "rho")

Report = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class Contender:
    """An optimizer and its hyperparameters (None: the session's)."""

    optimizer: str
    lr: float | None = None
    momentum: float | None = None
    beta1: float | None = None
    beta2: float | None = None
    rho: float | None = None

    def changes(self) -> dict[str, Any]:
        return {"optimizer": self.optimizer,
                **{name: getattr(self, name) for name in HYPER_FIELDS if getattr(self, name) is not None}}


@dataclass
class Lane:
    """One contender's run: its session, the batch loss of every update, its path."""

    contender: Contender
    session: TrainingSession
    losses: list[float] = field(default_factory=list)
    path: list[np.ndarray] = field(default_factory=list)
    diverged: bool = False
    told: tuple[int, int] = (0, 0)  # losses and path points already reported

    @property
    def done(self) -> int:
        return len(self.losses)


def copy_from(state: dict[str, Any], updates: int) -> TrainingSession:
    """A session restored from `state` (`persist.session_state`) without its history (a
    history of its own holds the `updates` losses it will train, unthinned) and without an
    early stopping watch."""
    state = {**state, "early_stopping": None, "history": History().to_state()}
    s = restore_session(state)
    s.history = History(step_capacity=updates + 1)
    return s


def start_lane(state: dict[str, Any], contender: Contender, updates: int) -> Lane:
    """A contender's session: the copy with its optimizer and hyperparameters, its optimizer at rest."""
    s = copy_from(state, updates)
    for name, value in contender.changes().items():
        setattr(s.hyper, name, value)
    engine_hyper(s.hyper).validate()  # ValueError naming a hyperparameter out of its range
    s.model.optimizer = contender.optimizer
    s.model.reset_optimizer()
    return Lane(contender, s, path=[flatten(s.params)])


def check(contenders: list[Contender], updates: int) -> None:
    """ValueError naming a bad contender list or update count."""
    if not MIN_CONTENDERS <= len(contenders) <= MAX_CONTENDERS:
        raise ValueError(f"contenders: {MIN_CONTENDERS} to {MAX_CONTENDERS} optimizers, got {len(contenders)}")
    for i, c in enumerate(contenders):
        if c.optimizer not in OPTIMIZERS:
            raise ValueError(f"contenders.{i}.optimizer: unknown optimizer {c.optimizer!r}; known: "
                             f"{', '.join(OPTIMIZERS)}")
    if isinstance(updates, bool) or not isinstance(updates, int) or not 1 <= updates <= MAX_UPDATES:
        raise ValueError(f"updates must be an integer from 1 to {MAX_UPDATES}, got {updates!r}")


def run(state: dict[str, Any], contenders: list[Contender], updates: int, *, report: Report | None = None,
        interval: float = 0.1) -> list[Lane]:
    """Train every contender `updates` updates from `state`, in turns; `report` gets, at most
    every `interval` seconds and at the end, one event per contender that moved on:
    `{"contender": i, "done": n, "losses": [new batch losses], "path": [new flat params]}`."""
    check(contenders, updates)
    lanes = [start_lane(state, c, updates) for c in contenders]
    every = math.ceil(updates / PATH_POINTS)
    last = time.monotonic()
    while any(not lane.diverged and lane.done < updates for lane in lanes):
        for lane in lanes:
            if lane.diverged or lane.done >= updates:
                continue
            s = lane.session
            before = s.step
            ran = s.advance(min(every, updates - lane.done))
            lane.losses.extend(s.history.updates.values["batch_loss"][-(s.step - before):] if ran else [])
            if s.diverged is not None or ran == 0:
                lane.diverged = True
            else:
                lane.path.append(flatten(s.params))
        if report is not None and time.monotonic() - last >= interval:
            last = time.monotonic()
            _tell(lanes, report)
    if report is not None:
        _tell(lanes, report)
    return lanes


def _tell(lanes: list[Lane], report: Report) -> None:
    for i, lane in enumerate(lanes):
        n_losses, n_path = lane.told
        if lane.done == n_losses and len(lane.path) == n_path:
            continue
        report({"contender": i, "done": lane.done, "losses": [finite(v) for v in lane.losses[n_losses:]],
                "path": [p.tolist() for p in lane.path[n_path:]]})
        lane.told = (lane.done, len(lane.path))


def summary(lane: Lane) -> dict[str, Any]:
    """A contender's result: its settings, every batch loss, its final training loss and
    accuracy (null when not finite or not measured) and its whole path."""
    s = lane.session
    metrics = s.metrics()
    return {**lane.contender.changes(), **{name: getattr(s.hyper, name) for name in HYPER_FIELDS},
            "losses": [finite(v) for v in lane.losses], "final_loss": metrics["train_loss"],
            "train_acc": metrics["train_acc"], "diverged": lane.diverged, "updates": lane.done,
            "path": [p.tolist() for p in lane.path]}


def finite(value: float) -> float | None:
    return value if math.isfinite(value) else None
