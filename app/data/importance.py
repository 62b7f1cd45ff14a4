"""Permutation importance: how much worse does a model get when one column is shuffled?

Shuffling column j breaks its link to the label while keeping its distribution,
so the drop in the metric measures how much the model relies on that column.
A constant column (e.g. a standardized "vertebrate") is unchanged by shuffling,
so its importance is exactly 0.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]
PredictFn = Callable[[Array], NDArray[np.generic]]
Metric = Callable[[NDArray[np.generic], NDArray[np.generic]], float]


@dataclass(frozen=True)
class Importance:
    """Result of `permutation_importance`.

    baseline: the metric on the unshuffled data.
    drops: [R x D] baseline minus the metric with column j shuffled, repeat r.
    """

    baseline: float
    drops: Array

    @property
    def mean(self) -> Array:
        """[D] mean drop per column: the importance."""
        return np.asarray(self.drops.mean(axis=0), dtype=np.float64)

    @property
    def std(self) -> Array:
        """[D] spread of the drop over the repeats."""
        return np.asarray(self.drops.std(axis=0), dtype=np.float64)


def accuracy(y_true: NDArray[np.generic], y_pred: NDArray[np.generic]) -> float:
    """Fraction of equal labels; y_true [N], y_pred [N] (class indices). Higher is better."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"accuracy needs predictions shaped like the labels {y_true.shape}, got {y_pred.shape}")
    return float(np.mean(y_true == y_pred))


def neg_mean_squared_error(y_true: NDArray[np.generic], y_pred: NDArray[np.generic]) -> float:
    """-mean((y_true - y_pred)^2) over [N] targets: negated so that higher is better."""
    t, p = np.asarray(y_true, dtype=np.float64), np.asarray(y_pred, dtype=np.float64)
    if t.shape != p.shape:
        raise ValueError(f"need predictions shaped like the targets {t.shape}, got {p.shape}")
    return -float(np.mean((t - p) ** 2))


def permutation_importance(
    predict_fn: PredictFn,
    X: Array,
    y: NDArray[np.generic],
    metric: Metric,
    rng: np.random.Generator,
    n_repeats: int = 5,
) -> Importance:
    """Importance of each column of X [N x D] for `predict_fn` under `metric`.

    predict_fn(X [N x D]) -> predictions that `metric(y, predictions)` scores,
    higher = better (use `accuracy` with class-index predictions, or
    `neg_mean_squared_error`). For each repeat r and column j (in that order, so
    a seeded rng gives the same result) column j is shuffled by one permutation
    from `rng`. X is not mutated (a copy is shuffled).
    Returns Importance(baseline, drops [n_repeats x D]).
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"X must be [N x D], got shape {X.shape}")
    if isinstance(n_repeats, bool) or not isinstance(n_repeats, (int, np.integer)) or n_repeats < 1:
        raise ValueError(f"n_repeats must be an integer >= 1, got {n_repeats!r}")
    baseline = float(metric(y, predict_fn(X)))
    drops = np.empty((int(n_repeats), X.shape[1]), dtype=np.float64)
    Xp = X.copy()
    for r in range(int(n_repeats)):
        for j in range(X.shape[1]):
            Xp[:, j] = X[rng.permutation(X.shape[0]), j]
            drops[r, j] = baseline - float(metric(y, predict_fn(Xp)))
            Xp[:, j] = X[:, j]  # restore before shuffling the next column
    return Importance(baseline=baseline, drops=drops)
