"""Feature relevance, honestly drawn: which network inputs carry signal, and how much the network uses each.

An input that never varies on the training split (a standardized constant
column such as "vertebrate" is exactly 0 for every animal) has a gradient of
exactly 0 on its outgoing weights, `dW[j, :] = X[:, j]^T dZ / N`: the data never
moves them, only a penalty does (L1 takes them to exactly 0). Shuffling it
changes nothing, so its permutation importance is exactly 0 as well.

Permutation importance (`app.data.importance`) is measured on held-out data
(the validation split when it has points, else the test split), with the
accuracy for classification and the loss for regression, and stated as how
much worse the network gets when one input is shuffled (a drop in accuracy, a
rise in loss). It is pure numpy on copies: the server runs it off the event loop.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from app.data.importance import permutation_importance
from app.nn.losses import TASKS
from app.nn.network import NetworkSpec, forward
from app.training.data_setup import PreparedData

Params = list[dict[str, np.ndarray]]
MAX_REPEATS = 20


def constant_inputs(X: np.ndarray) -> list[bool]:
    """Per column of the training inputs `X [N x F]`: True when it has one value for every point."""
    if X.shape[0] == 0:
        return [False] * X.shape[1]
    return [bool(v) for v in np.all(X[0] == X, axis=0)]


def held_out_split(data: PreparedData) -> str:
    """The split importance is measured on: "val" when it has points, else "test";
    ValueError when both are empty."""
    for split in ("val", "test"):
        if data.n(split) > 0:
            return split
    raise ValueError("the validation and test splits are both empty: importance is measured on held-out data; "
                     "give the validation or the test split a share first (configure val_ratio or train_ratio)")


def importance(spec: NetworkSpec, params: Params, names: list[str], constant: list[bool], X: np.ndarray,
               Y: np.ndarray, split: str, repeats: int, seed: int) -> dict[str, Any]:
    """The `importance` message's body (without `type`) for the network `spec` with `params`,
    measured on the held-out inputs `X [N x F]` and targets `Y [N x K]` of `split`: each input's
    name, whether it is `constant` (on the training split), the L2 norm of its outgoing
    first-layer weights, and its importance (mean over `repeats` shuffles) and spread (std).
    The shuffles come from a generator seeded with `seed`. Nothing is mutated."""
    if isinstance(repeats, bool) or not isinstance(repeats, int) or not 1 <= repeats <= MAX_REPEATS:
        raise ValueError(f"repeats must be an integer from 1 to {MAX_REPEATS}, got {repeats!r}")
    task = TASKS[spec.task]
    regression = spec.task == "regression"

    def logits(Xs: np.ndarray) -> np.ndarray:
        return forward(spec, params, Xs)[1].Z[-1]  # the output layer's pre-activation [N x K]

    def score(targets: Any, Z: Any) -> float:
        """Higher is better: the accuracy, or the loss negated."""
        out = task.output(Z)
        if regression:
            return -float(task.loss(out, targets, Z))
        acc = task.accuracy(out, targets)
        assert acc is not None  # a classification task's
        return float(acc)

    result = permutation_importance(logits, X, Y, score, np.random.default_rng(seed), n_repeats=repeats)
    mean, spread = result.mean, result.std
    W0 = params[0]["W"]
    return {
        "split": split, "metric": "loss" if regression else "accuracy",
        "baseline": -result.baseline if regression else result.baseline,
        "inputs": [{"name": name, "constant": constant[j], "weight_norm": float(np.linalg.norm(W0[j])),
                    "importance": float(mean[j]), "spread": float(spread[j])} for j, name in enumerate(names)],
    }
