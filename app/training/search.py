"""Hyperparameter search: a grid over, or random draws from, values of a few
hyperparameters (learning rate x momentum, and optionally batch size,
regularization rate and dropout), one trial each, every trial from the same
initial weights so that only the hyperparameters differ; scored on the
validation split.

Random search draws the learning rate and the regularization rate on a log
scale (a learning rate of 0.001 is as far from 0.01 as 0.01 is from 0.1) and
the others uniformly, from their own generator: the same seed, the same trials.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from app.training.build import Built
from app.training.config import HyperState, RunConfig
from app.training.early_stopping import StopRule
from app.training.trials import TrialResult, never, results_csv, run_trial

# What a search may vary, with the bounds of the live sliders' hyperparameters.
SEARCHABLE: dict[str, tuple[float, float]] = {
    "lr": (1e-5, 10.0), "momentum": (0.0, 0.999), "batch_size": (1, 500), "reg_rate": (0.0, 10.0),
    "dropout": (0.0, 0.9),
}
LOG_SCALE = ("lr", "reg_rate")
MAX_VALUES_PER_FIELD = 12
MAX_TRIALS = 100
SEARCH_STREAM = 5


@dataclass(frozen=True)
class TrialOutcome:
    index: int
    values: dict[str, float]   # the searched fields' values in this trial
    trial: TrialResult


def _check_value(name: str, value: object) -> float:
    """A value of `name` in its bounds (a batch size an integer; never a bool or a string)."""
    low, high = SEARCHABLE[name]
    integer = name == "batch_size"
    kind = "an integer" if integer else "a number"
    problem = ValueError(f"{name} values must be {kind} from {low:g} to {high:g}, got {value!r}")
    if isinstance(value, bool) or not isinstance(value, int if integer else (int, float)):
        raise problem
    number = float(value)
    if not math.isfinite(number) or not low <= number <= high:
        raise problem
    return value if integer else number


def check_space(space: Mapping[str, Sequence[object]]) -> dict[str, list[float]]:
    """A grid's fields and values, checked: known fields, 1 to 12 values each, in bounds,
    at most 100 trials in all."""
    if not space:
        raise ValueError(f"a search needs at least one field to vary; allowed: {', '.join(SEARCHABLE)}")
    out: dict[str, list[float]] = {}
    for name, values in space.items():
        if name not in SEARCHABLE:
            raise ValueError(f"{name!r} cannot be searched; allowed: {', '.join(SEARCHABLE)}")
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) \
                or not 1 <= len(values) <= MAX_VALUES_PER_FIELD:
            raise ValueError(f"{name} needs a list of 1 to {MAX_VALUES_PER_FIELD} values")
        out[name] = [_check_value(name, v) for v in values]
    n = math.prod(len(v) for v in out.values())
    if n > MAX_TRIALS:
        raise ValueError(f"the grid has {n} trials; at most {MAX_TRIALS} are allowed")
    return out


def grid(space: Mapping[str, Sequence[object]]) -> list[dict[str, float]]:
    """Every combination of the values, the first field varying slowest."""
    checked = check_space(space)
    names = list(checked)
    return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*checked.values())]


def random_draws(ranges: Mapping[str, Sequence[object]], n: int, seed: int) -> list[dict[str, float]]:
    """`n` trials drawn from `ranges` ({field: [low, high]}), seeded."""
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_TRIALS:
        raise ValueError(f"the number of trials must be an integer from 1 to {MAX_TRIALS}, got {n!r}")
    bounds = check_space(ranges)
    for name, pair in bounds.items():
        if len(pair) != 2 or pair[0] > pair[1]:
            raise ValueError(f"{name} needs a range [low, high] with low <= high")
        if name in LOG_SCALE and pair[0] <= 0:
            raise ValueError(f"{name} is drawn on a log scale: its low end must be above 0")
    rng = np.random.default_rng([seed, SEARCH_STREAM])
    draws = []
    for _ in range(n):
        trial: dict[str, float] = {}
        for name, (low, high) in bounds.items():
            if name in LOG_SCALE:
                trial[name] = float(math.exp(rng.uniform(math.log(low), math.log(high))))
            elif name == "batch_size":
                trial[name] = int(rng.integers(int(low), int(high) + 1))
            else:
                trial[name] = float(rng.uniform(low, high))
        draws.append(trial)
    return draws


def search(config: RunConfig, hyper: HyperState, built: Built, trials: list[dict[str, float]], epochs: int, *,
           stop: StopRule | None = None, cancelled: Callable[[], bool] = never,
           on_trial: Callable[[TrialOutcome], None] | None = None) -> list[TrialOutcome]:
    """One trial per entry of `trials` (`grid` or `random_draws`), each `hyper` with those values,
    all from `built`'s weights, scored on the validation split. Raises Cancelled when asked."""
    if built.data.n("val") == 0:
        raise ValueError("a search is scored on the validation split: give it a share of the data first")
    outcomes = []
    for i, values in enumerate(trials):
        trial_hyper = HyperState(**{**hyper.__dict__, **values})
        outcome = TrialOutcome(i, dict(values), run_trial(config, trial_hyper, built, epochs, stop=stop,
                                                           cancelled=cancelled))
        outcomes.append(outcome)
        if on_trial is not None:
            on_trial(outcome)
    return outcomes


def best(outcomes: Sequence[TrialOutcome], metric: str = "val_loss") -> TrialOutcome | None:
    """The outcome with the best score (lowest loss, highest accuracy); None when none has one."""
    scored = [o for o in outcomes if o.trial.score(metric) is not None]
    if not scored:
        return None
    sign = -1.0 if metric.endswith("_acc") else 1.0
    return min(scored, key=lambda o: sign * (o.trial.score(metric) or 0.0))


def outcomes_csv(outcomes: Sequence[TrialOutcome], metric: str = "val_loss") -> str:
    """The search as CSV: one row per trial, its values, epochs and score."""
    fields = list(outcomes[0].values) if outcomes else []
    rows: list[dict[str, Any]] = [{"trial": o.index + 1, **o.values, "epochs": o.trial.epochs,
                                   metric: o.trial.score(metric), "diverged": o.trial.diverged} for o in outcomes]
    return results_csv(rows, ("trial", *fields, "epochs", metric, "diverged"))
