"""Trials: a run trained headless for a number of epochs, its curves recorded;
cross-validation and hyperparameter search are made of them (`cross_validation`,
`search`).

A trial trains a session of its own (never the live one) from a copy of the
weights it is given, so trials that start from the same `Built` start from
the same bits and differ only in what they are asked to vary. It calls
`cancelled()` before every epoch and `progress(epochs_done)` after it: the
server runs trials off the event loop and may stop them at any epoch.
"""

from __future__ import annotations

import copy
import csv
import io
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from app.training.build import Built
from app.training.config import HyperState, RunConfig
from app.training.early_stopping import StopRule
from app.training.session import TrainingSession

EPOCHS_MIN, EPOCHS_MAX = 1, 2000
CURVE_COLUMNS = ("train_loss", "val_loss", "train_acc", "val_acc")


class Cancelled(Exception):
    """The trial's owner asked it to stop (the client left or pressed Cancel)."""


def never() -> bool:
    return False


def check_epochs(epochs: object) -> int:
    if isinstance(epochs, bool) or not isinstance(epochs, int) or not EPOCHS_MIN <= epochs <= EPOCHS_MAX:
        raise ValueError(f"epochs must be an integer from {EPOCHS_MIN} to {EPOCHS_MAX}, got {epochs!r}")
    return epochs


@dataclass(frozen=True)
class TrialResult:
    """One trial: its hyperparameters, a row of metrics per epoch, where it was best and why it ended."""

    hyper: dict[str, Any]
    curve: dict[str, list[float | None]]       # column -> one value per epoch (CURVE_COLUMNS)
    epochs: int                                # epochs trained
    best_epoch: int | None = None              # early stopping's best epoch (1-based), when it watched
    stopped_epoch: int | None = None           # the epoch early stopping stopped at
    diverged: bool = False
    final: dict[str, float | None] = field(default_factory=dict)  # metrics at the end (or the best epoch)

    def score(self, metric: str = "val_loss") -> float | None:
        """The trial's `metric` at its end: a missing or non-finite one is None (the worst)."""
        return None if self.diverged else self.final.get(metric)


def run_trial(config: RunConfig, hyper: HyperState, built: Built, epochs: int, *,
              stop: StopRule | None = None, restore_best: bool = True,
              cancelled: Callable[[], bool] = never, progress: Callable[[int], None] | None = None) -> TrialResult:
    """Train `built` (its weights copied) with `hyper` for `epochs` epochs, or until early
    stopping (`stop`) stops it, when its final metrics are those of the best epoch
    (`restore_best`), or until it diverges. Raises Cancelled when `cancelled()` says so."""
    check_epochs(epochs)
    own = replace(built, params=copy.deepcopy(built.params))
    session = TrainingSession(config, copy.deepcopy(hyper), built=own)
    if stop is not None:
        session.set_early_stopping(stop)
    curve: dict[str, list[float | None]] = {c: [] for c in CURVE_COLUMNS}
    for done in range(1, epochs + 1):
        if cancelled():
            raise Cancelled
        session.step_epoch()
        row = session.metrics()
        for c in CURVE_COLUMNS:
            curve[c].append(row.get(c))
        if progress is not None:
            progress(done)
        if session.diverged is not None or session.stopped_early:
            break
    watch = session.early_stopping
    best = watch.best if watch is not None else None
    stopped = watch.stopped if watch is not None else None
    if best is not None and stopped is not None and restore_best:
        session.restore_best()
    return TrialResult(
        hyper=session.hyper.to_dict(), curve=curve, epochs=len(curve["train_loss"]),
        best_epoch=best.epoch if best is not None else None, stopped_epoch=stopped[0] if stopped else None,
        diverged=session.diverged is not None, final=dict(session.metrics()))


def results_csv(rows: Iterable[Mapping[str, Any]], columns: tuple[str, ...]) -> str:
    """Rows as CSV with a header (None as an empty cell), for the exports."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if row.get(c) is None else row[c] for c in columns])
    return out.getvalue()
