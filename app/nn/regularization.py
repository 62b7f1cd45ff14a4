"""L1 / L2 weight penalties, on weights only.

``l2``: ``penalty = rate/2 * sum_l sum W_l^2``, gradient ``rate * W``.
``l1``: ``penalty = rate * sum_l sum |W_l|``, gradient ``rate * sign(W)``
(``sign(0) = 0``, the subgradient that keeps an exact zero at zero); and a
weight an update carries across zero stops at exactly 0 (``stops_at_zero``,
``optimizers.update``), so the weights L1 drives out read as 0, not as a
value jittering around it.

Biases are excluded, as in TF Playground and common practice: a bias only
shifts a neuron's threshold, it does not make the function steeper or more
complex, and pulling it to 0 would bias every neuron towards passing through
the origin instead of reducing overfitting.
"""

from __future__ import annotations

from typing import Literal, get_args

import numpy as np

from app.nn.network import Grads, Params

RegularizationName = Literal["none", "l1", "l2"]
REGULARIZATIONS: tuple[str, ...] = get_args(RegularizationName)


def _check(kind: str, rate: float) -> None:
    if kind not in REGULARIZATIONS:
        raise ValueError(f"unknown regularization {kind!r}; known: {', '.join(REGULARIZATIONS)}")
    if not np.isfinite(rate) or rate < 0:
        raise ValueError(f"regularization rate must be finite and >= 0, got {rate!r}")


def penalty(params: Params, kind: str, rate: float) -> float:
    """The penalty term added to the loss (0.0 for ``none`` or rate 0)."""
    _check(kind, rate)
    if kind == "none" or rate == 0:
        return 0.0
    if kind == "l2":
        return float(0.5 * rate * sum(float(np.sum(p["W"] * p["W"])) for p in params))
    return float(rate * sum(float(np.sum(np.abs(p["W"]))) for p in params))


def add_penalty_grad(params: Params, grads: Grads, kind: str, rate: float) -> None:
    """Add the penalty's gradient to ``grads.dW`` in place (``db`` untouched)."""
    _check(kind, rate)
    if kind == "none" or rate == 0:
        return
    for l, p in enumerate(params):
        if kind == "l2":
            grads.dW[l] += rate * p["W"]
        else:
            grads.dW[l] += rate * np.sign(p["W"])


def stops_at_zero(kind: str, rate: float) -> bool:
    """Whether updates stop weights at zero (L1 at a rate above 0)."""
    return kind == "l1" and rate > 0
