"""The lab's background jobs as plain functions of picklable arguments, for a
worker process (`app.server.lab_jobs`): each reports its progress through
`report(event)` and returns a JSON-ready result.

Events: `{"fold": i, "epoch": e}` or `{"trial": i, "epoch": e}` as epochs end;
`{"fold_done": ...}` / `{"trial_done": ...}` with that fold's or trial's curve
and score as each ends, so a page draws them one by one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from app.nn import fast
from app.training.build import Built
from app.training.config import HyperState, RunConfig
from app.training.cross_validation import FoldResult, cross_validate
from app.training.early_stopping import StopRule
from app.training.search import TrialOutcome, best, grid, outcomes_csv, random_draws, search
from app.training.session import TrainingSession
from app.training.trials import TrialResult

Report = Callable[[dict[str, Any]], None]


def use_fast_path(enabled: bool) -> None:
    """In a job's fresh process: the compiled fast path, as the server uses it. Loading it
    takes seconds, so the job starts on the numpy path and moves over once it is ready
    (the same bits on both paths, so its results do not depend on when)."""
    TrainingSession.fast = enabled
    if enabled:
        fast.warm_up_in_background()


def _trial(result: TrialResult, metric: str) -> dict[str, Any]:
    return {"curve": result.curve, "epochs": result.epochs, "best_epoch": result.best_epoch,
            "stopped_epoch": result.stopped_epoch, "diverged": result.diverged, "score": result.score(metric)}


def cross_validation_job(config: RunConfig, hyper: HyperState, built: Built, k: int, epochs: int,
                         stop: StopRule | None, *, report: Report, fast_path: bool = False) -> dict[str, Any]:
    """k-fold cross-validation of the run; the result holds every fold, the mean and spread and the CSV."""
    use_fast_path(fast_path)
    def fold_done(f: FoldResult) -> None:
        report({"fold_done": {"fold": f.fold, "val_index": f.val_index, **_trial(f.trial, "val_loss")}})

    cv = cross_validate(config, hyper, built, k, epochs, stop=stop, on_fold=fold_done,
                        progress=lambda fold, epoch: report({"fold": fold, "epoch": epoch}))
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
