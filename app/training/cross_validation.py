"""k-fold cross-validation of a run: the training and validation points pooled,
cut into k folds, and one trial per fold trained on the other k - 1 and
scored on it, every trial from the same initial weights.

The pool is the run's training points followed by its validation points, in
the order the `dataset` message lists them, so `FoldResult.val_index` says
which of those points a fold held out (the data view highlights them). The
test points stay out of it: they are for the final score only.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from app.data.splits import kfold_indices
from app.training.build import Built
from app.training.config import HyperState, RunConfig
from app.training.data_setup import PreparedData
from app.training.early_stopping import StopRule
from app.training.trials import TrialResult, never, results_csv, run_trial

K_MIN, K_MAX = 2, 10
CV_STREAM = 4  # after build's data, init, batch and dropout streams: folds change none of those


@dataclass(frozen=True)
class FoldResult:
    fold: int                 # 0-based
    val_index: list[int]      # the pool points this fold held out
    trial: TrialResult


@dataclass(frozen=True)
class CrossValidation:
    k: int
    metric: str
    folds: list[FoldResult]

    @property
    def scores(self) -> list[float | None]:
        return [f.trial.score(self.metric) for f in self.folds]

    def summary(self) -> dict[str, float | None]:
        """The mean of the fold scores and their spread (sample standard deviation); None
        when a fold has no finite score (it diverged)."""
        scores = self.scores
        if any(s is None or not math.isfinite(s) for s in scores):
            return {"mean": None, "std": None}
        values = np.array(scores, dtype=np.float64)
        return {"mean": float(values.mean()), "std": float(values.std(ddof=1)) if len(values) > 1 else 0.0}

    def to_csv(self) -> str:
        rows = [{"fold": f.fold + 1, "points": len(f.val_index), "epochs": f.trial.epochs,
                 self.metric: f.trial.score(self.metric)} for f in self.folds]
        return results_csv(rows, ("fold", "points", "epochs", self.metric))


def check_k(k: object, n_pool: int) -> int:
    upper = min(K_MAX, n_pool)
    if isinstance(k, bool) or not isinstance(k, int) or not K_MIN <= k <= upper:
        raise ValueError(f"k (the number of folds) must be an integer from {K_MIN} to {upper}, got {k!r}")
    return k


def fold_data(data: PreparedData, Y: dict[str, np.ndarray], train_idx: np.ndarray, val_idx: np.ndarray,
              ) -> tuple[PreparedData, dict[str, np.ndarray]]:
    """The data with its training and validation points re-cut from their pool."""
    def pool(arrays: dict[str, np.ndarray]) -> np.ndarray:
        return np.concatenate([arrays["train"], arrays["val"]])

    def cut(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        p = pool(arrays)
        return {"train": p[train_idx], "val": p[val_idx], "test": arrays["test"]}

    return replace(data, raw=cut(data.raw), X=cut(data.X), y=cut(data.y)), cut(Y)


def cross_validate(config: RunConfig, hyper: HyperState, built: Built, k: int, epochs: int, *,
                   metric: str = "val_loss", stop: StopRule | None = None, cancelled: Callable[[], bool] = never,
                   on_fold: Callable[[FoldResult], None] | None = None,
                   progress: Callable[[int, int], None] | None = None) -> CrossValidation:
    """Train one trial per fold, each from `built`'s weights; `on_fold` hears each fold as it
    ends and `progress(fold, epochs_done)` each epoch. Raises Cancelled when asked."""
    n_pool = built.data.n("train") + built.data.n("val")
    check_k(k, n_pool)
    folds = kfold_indices(n_pool, k, np.random.default_rng([config.seed, CV_STREAM]))
    results: list[FoldResult] = []
    for i, (train_idx, val_idx) in enumerate(folds):
        data, Y = fold_data(built.data, built.Y, train_idx, val_idx)
        report = (lambda done, i=i: progress(i, done)) if progress is not None else None
        trial = run_trial(config, hyper, replace(built, data=data, Y=Y), epochs, stop=stop, cancelled=cancelled,
                          progress=report)
        result = FoldResult(i, [int(v) for v in val_idx], trial)
        results.append(result)
        if on_fold is not None:
            on_fold(result)
    return CrossValidation(k, metric, results)
