"""The lab's background jobs as plain functions of picklable arguments, for a
worker process (`app.server.lab_jobs`): each reports its progress through
`report(event)` and returns a JSON-ready result.

The generalization lab's (cross-validation, search):

Events: `{"folds": [val_index, ...]}` (the points each fold holds out) or
`{"trials": [...]}` (the values each trial tries) before the first runs;
`{"fold": i, "epoch": e}` as epochs end, thinned (`Progress`); `{"fold_done": ...}`
/ `{"trial_done": ...}` with that fold's or trial's curve and score as each ends,
so a page draws them one by one.

The optimizer lab's (landscape, race, learning-rate sweep): `{"rows_done": k}` as rows of
a landscape are done; `{"contender": i, "done": n, "losses": [...], "path": [...]}` as a
race goes on (`race.run`); `{"lr_done": i, "lr", "loss", "diverged"}` as each learning rate
of a sweep ends.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from app.data.splits import kfold_indices
from app.nn import fast
from app.nn.network import NetworkSpec
from app.training import landscape, lr_sweep, race
from app.training.build import Built
from app.training.config import HyperState, RunConfig
from app.training.cross_validation import CV_STREAM, FoldResult, check_k, cross_validate
from app.training.early_stopping import StopRule
from app.training.search import TrialOutcome, best, grid, outcomes_csv, random_draws, search
from app.training.session import TrainingSession
from app.training.trials import TrialResult

Report = Callable[[dict[str, Any]], None]
Params = list[dict[str, np.ndarray]]


def use_fast_path(enabled: bool) -> None:
    """In a job's fresh process: the compiled fast path when the server uses it (the same bits
    as the numpy path). Loading it from numba's cache takes a second or two, which a job pays
    once: a 6 x 6 search of 50 epochs then takes about a fifth of its time on numpy. (Loaded
    in a background thread instead, it competes with the job for the interpreter lock and a
    short job ends slower than on either path.)"""
    TrainingSession.fast = enabled
    if enabled:
        fast.available(wait=True)


class Progress:
    """Epoch progress, thinned: a small network ends thousands of epochs a second, and each
    event costs the server's event loop a turn and the page a message. A fold's first and
    last epochs are always told; in between, one epoch every `interval` seconds at most."""

    def __init__(self, report: Report, epochs: int, interval: float = 0.05) -> None:
        self.report, self.epochs, self.interval = report, epochs, interval
        self.last = -float("inf")

    def __call__(self, fold: int, epoch: int) -> None:
        now = time.monotonic()
        if epoch in (1, self.epochs) or now - self.last >= self.interval:
            self.last = now
            self.report({"fold": fold, "epoch": epoch})


def _trial(result: TrialResult, metric: str) -> dict[str, Any]:
    return {"curve": result.curve, "epochs": result.epochs, "best_epoch": result.best_epoch,
            "stopped_epoch": result.stopped_epoch, "diverged": result.diverged, "score": result.score(metric)}


def cross_validation_job(config: RunConfig, hyper: HyperState, built: Built, k: int, epochs: int,
                         stop: StopRule | None, *, report: Report, fast_path: bool = False) -> dict[str, Any]:
    """k-fold cross-validation of the run; the result holds every fold, the mean and spread and the CSV."""
    use_fast_path(fast_path)
    n_pool = built.data.n("train") + built.data.n("val")
    # The folds `cross_validate` cuts (the same call), told first: a page highlights each as it runs.
    folds = kfold_indices(n_pool, check_k(k, n_pool), np.random.default_rng([config.seed, CV_STREAM]))
    report({"folds": [[int(i) for i in val_idx] for _, val_idx in folds]})

    def fold_done(f: FoldResult) -> None:
        report({"fold_done": {"fold": f.fold, "val_index": f.val_index, **_trial(f.trial, "val_loss")}})

    cv = cross_validate(config, hyper, built, k, epochs, stop=stop, on_fold=fold_done,
                        progress=Progress(report, epochs))
    return {"k": k, "metric": cv.metric, "scores": cv.scores, **cv.summary(), "csv": cv.to_csv()}


def search_job(config: RunConfig, hyper: HyperState, built: Built, mode: str, space: dict[str, list[Any]],
               n_trials: int | None, seed: int, epochs: int, stop: StopRule | None, *,
               report: Report, fast_path: bool = False) -> dict[str, Any]:
    """A grid search over `space` ({field: values}) or `n_trials` random draws from it
    ({field: [low, high]}); the result holds every trial, the best and the CSV."""
    use_fast_path(fast_path)
    if mode == "grid":
        trials = grid(space)
    elif mode == "random" and n_trials is not None:
        trials = random_draws(space, n_trials, seed)
    else:
        raise ValueError(f"unknown search mode {mode!r}; allowed: grid, random (with a number of trials)")
    report({"trials": trials})

    def trial_done(o: TrialOutcome) -> None:
        report({"trial_done": {"trial": o.index, "values": o.values, **_trial(o.trial, "val_loss")}})

    outcomes = search(config, hyper, built, trials, epochs, stop=stop, on_trial=trial_done)
    winner = best(outcomes)
    return {"mode": mode, "trials": [{"values": o.values, "score": o.trial.score()} for o in outcomes],
            "best": winner.index if winner is not None else None, "csv": outcomes_csv(outcomes)}


def _wire_param(param: landscape.Param) -> list[int | str]:
    """A parameter as the wire names it: [layer, i, j] (a weight) or [layer, "b", j] (a bias)."""
    layer, kind, i, j = param
    return [layer, i, j] if kind == "W" else [layer, "b", j]


def _grid(values: np.ndarray) -> list[list[float | None]]:
    return [[landscape.as_json(v) for v in row] for row in values.tolist()]


def landscape_job(spec: NetworkSpec, params: Params, trainable: Params, X: np.ndarray, Y: np.ndarray,
                  regularization: str, reg_rate: float, mode: str, weights: list[landscape.Param] | None,
                  span: float, resolution: int, seed: int, *, report: Report) -> dict[str, Any]:
    """The loss landscape around `params` on the training split `X`, `Y` (`landscape.compute`)."""
    result = landscape.compute(spec, params, X, Y, mode=mode, weights=weights, span=span, resolution=resolution,
                               seed=seed, regularization=regularization, reg_rate=reg_rate, trainable=trainable,
                               on_rows=lambda k: report({"rows_done": k}))
    return {"mode": result.mode, "origin": result.origin.tolist(),
            "directions": [d.tolist() for d in result.directions],
            "weights": [_wire_param(w) for w in result.weights] if result.weights is not None else None,
            "alphas": result.alphas.tolist(), "betas": result.betas.tolist(), "loss": _grid(result.loss),
            "loss_penalized": _grid(result.loss_penalized) if result.loss_penalized is not None else None,
            "center_loss": landscape.as_json(result.center_loss), "exact": result.exact, "span": span,
            "resolution": resolution, "seed": seed}


def race_job(state: dict[str, Any], contenders: list[race.Contender], updates: int, *, report: Report,
             fast_path: bool = False) -> dict[str, Any]:
    """A race of `contenders` from the session's state (`race.run`); the result holds each one's run."""
    use_fast_path(fast_path)
    lanes = race.run(state, contenders, updates, report=report)
    return {"updates": updates, "contenders": [race.summary(lane) for lane in lanes]}


def lr_sweep_job(state: dict[str, Any], low: float, high: float, points: int, updates: int, *, report: Report,
                 fast_path: bool = False) -> dict[str, Any]:
    """A learning-rate sweep from the session's state (`lr_sweep.run`)."""
    use_fast_path(fast_path)
    return {**lr_sweep.run(state, low, high, points, updates, report=report).to_dict(), "updates": updates}
