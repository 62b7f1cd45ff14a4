"""Early stopping: watch one metric at the end of every epoch, remember the state
where it was best, and stop once `patience` epochs in a row have not improved it.

A loss improves by going down, an accuracy by going up. An epoch whose metric
is missing (no validation split, or a loss that is not finite) counts as no
improvement. The best state is whatever `snapshot()` returns at that epoch (a
session keeps a full copy: weights, optimizer state, counters and the rest of
the epoch), so "restore best weights" brings back exactly that state.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar, get_args

StopMetric = Literal["val_loss", "val_acc", "train_loss", "train_acc"]
STOP_METRICS: tuple[str, ...] = get_args(StopMetric)
PATIENCE_MIN, PATIENCE_MAX = 1, 1000
MAX_EPOCHS_MAX = 100_000

T = TypeVar("T")


@dataclass(frozen=True)
class StopRule:
    """When to stop: after `patience` epochs without the metric improving by more than `min_delta`,
    or at epoch `max_epochs` (the budget, None: none) whatever the metric does."""

    patience: int = 10
    metric: str = "val_loss"
    min_delta: float = 0.0
    max_epochs: int | None = None

    def __post_init__(self) -> None:
        if isinstance(self.patience, bool) or not isinstance(self.patience, int) \
                or not PATIENCE_MIN <= self.patience <= PATIENCE_MAX:
            raise ValueError(f"patience must be an integer from {PATIENCE_MIN} to {PATIENCE_MAX} epochs, "
                             f"got {self.patience!r}")
        if self.metric not in STOP_METRICS:
            raise ValueError(f"unknown metric {self.metric!r} to watch; allowed: {', '.join(STOP_METRICS)}")
        if isinstance(self.min_delta, bool) or not isinstance(self.min_delta, (int, float)) \
                or not math.isfinite(self.min_delta) or self.min_delta < 0:
            raise ValueError(f"min_delta must be a finite number >= 0, got {self.min_delta!r}")
        if self.max_epochs is not None and (isinstance(self.max_epochs, bool) or not isinstance(self.max_epochs, int)
                                            or not 1 <= self.max_epochs <= MAX_EPOCHS_MAX):
            raise ValueError(f"max_epochs must be an integer from 1 to {MAX_EPOCHS_MAX}, or null for no budget, "
                             f"got {self.max_epochs!r}")

    @property
    def higher_is_better(self) -> bool:
        return self.metric.endswith("_acc")

    def improves(self, value: float, best: float) -> bool:
        """Whether `value` beats `best` by more than `min_delta`."""
        return value > best + self.min_delta if self.higher_is_better else value < best - self.min_delta


@dataclass(frozen=True)
class Best(Generic[T]):
    """The best epoch so far: where it ended (step), the metric's value there and the state."""

    epoch: int
    step: int
    value: float
    state: T


class EarlyStopping(Generic[T]):
    """The watch over one run: `epoch_end` after every epoch says whether to stop."""

    def __init__(self, rule: StopRule) -> None:
        self.rule = rule
        self.best: Best[T] | None = None
        self.waited = 0                                # epochs since the best one
        self.stopped: tuple[int, int] | None = None   # (epoch, step) where it stopped
        self.reason: str | None = None                 # "patience" or "max_epochs"

    def epoch_end(self, epoch: int, step: int, metrics: Mapping[str, float | None],
                  snapshot: Callable[[], T]) -> bool:
        """Take the metrics of the epoch that just ended at `step`; True when training should
        stop here (it stays stopped: later epochs answer True without looking)."""
        if self.stopped is not None:
            return True
        value = metrics.get(self.rule.metric)
        if value is not None and math.isfinite(value) and (self.best is None
                                                           or self.rule.improves(value, self.best.value)):
            self.best = Best(epoch, step, float(value), snapshot())
            self.waited = 0
        else:
            self.waited += 1
        if self.waited >= self.rule.patience:
            self.reason = "patience"
        elif self.rule.max_epochs is not None and epoch >= self.rule.max_epochs:
            self.reason = "max_epochs"
        else:
            return False
        self.stopped = (epoch, step)
        return True

    def go_on(self) -> None:
        """Train on after a stop (the best state was restored): the watch starts counting again."""
        self.stopped, self.reason, self.waited = None, None, 0

    def epochs_saved(self) -> int | None:
        """Epochs of the budget (`max_epochs`) not trained thanks to a stop for patience (None:
        no budget, or not stopped)."""
        budget = self.rule.max_epochs
        if self.stopped is None or budget is None:
            return None
        return max(0, budget - self.stopped[0])

    def to_dict(self) -> dict[str, object]:
        """What a chart marks: the rule, the best epoch and the stop."""
        best = self.best
        return {
            "patience": self.rule.patience, "metric": self.rule.metric, "min_delta": self.rule.min_delta,
            "max_epochs": self.rule.max_epochs, "epochs_saved": self.epochs_saved(), "reason": self.reason,
            "best_epoch": best.epoch if best else None, "best_step": best.step if best else None,
            "best_value": best.value if best else None, "waited": self.waited,
            "stopped_epoch": self.stopped[0] if self.stopped else None,
            "stopped_step": self.stopped[1] if self.stopped else None,
        }
