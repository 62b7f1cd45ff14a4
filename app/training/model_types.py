"""Parameters differ by model type: the network read as a classical model.

With no hidden layer a regression network is linear regression, ``f = x W + b``,
and the loss it minimises (``0.5 * mean_i sum_k (f_ik - t_ik)^2``, see
``app.nn.losses``) has a closed-form minimum: the least-squares solution.
``least_squares`` gives it for the training split, so the page can set the
regression coefficients beside the weights gradient descent learned. With L2
(``rate/2 * sum W^2``, weights only: ``app.nn.regularization``) the minimum is
the ridge solution of the normal equations

    (A^T A / N + rate * D) theta = A^T Y / N,    A = [X, 1],  D = diag(1, ..., 1, 0)

(the bias column unpenalized, as the engine leaves biases alone); with L1 there
is no closed form, and only the ordinary solution is given.

With the hinge loss the network is a support vector machine (linear, with no
hidden layer and L2). ``support_vectors`` lists the training points on or
inside the margin, ``t f <= 1 + SUPPORT_TOLERANCE``: the only points whose
loss and gradient are not zero, the ones that hold the boundary where it is.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from app.nn.network import NetworkSpec, Params, predict

# A point counts as on the margin when t f <= 1 + SUPPORT_TOLERANCE: trained with
# steps of a finite size, a margin point's t f settles near 1, not at it exactly.
SUPPORT_TOLERANCE = 1e-6


def support_vectors(spec: NetworkSpec, params: Params, X: np.ndarray, Y: np.ndarray,
                    tolerance: float = SUPPORT_TOLERANCE) -> list[int] | None:
    """The rows of `X [N x F]` (targets `Y [N x 1]`, +-1) on or inside the margin,
    `t f <= 1 + tolerance`, sorted; None unless `spec` is a hinge network. Rows whose
    output is not finite (a diverged run) are not listed."""
    if spec.task != "hinge":
        return None
    if X.shape[0] == 0:
        return []
    with np.errstate(all="ignore"):
        margin = Y[:, 0] * predict(spec, params, X)[:, 0]
    return [int(i) for i in np.flatnonzero(margin <= 1.0 + tolerance)]


def applies(spec: NetworkSpec) -> bool:
    """Whether the network is linear regression: no hidden layer, the regression task."""
    return spec.task == "regression" and not spec.hidden


def _solution(theta: np.ndarray) -> dict[str, Any]:
    """`theta [(F + 1) x K]` as the network's `W [F x K]` and `b [K]` (lists, non-finite as None)."""
    def number(x: float) -> float | None:
        return float(x) if np.isfinite(x) else None

    return {"W": [[number(x) for x in row] for row in theta[:-1]], "b": [number(x) for x in theta[-1]]}


def least_squares(spec: NetworkSpec, X: np.ndarray, Y: np.ndarray, penalty: str, rate: float
                  ) -> dict[str, Any] | None:
    """The closed-form minimum of the training loss of a linear-regression network
    (`applies`), from its training inputs `X [N x F]` and targets `Y [N x K]`:

    - `ordinary`: `np.linalg.lstsq` of `[X, 1]` against `Y` (the minimum without penalty);
    - `ridge`: with L2 at a rate above 0, the normal equations with the penalty as the
      engine counts it (module notes), else None;
    - `penalty`, `rate`: the session's regularization, so the page can say which of the
      two gradient descent heads for (L1: neither has its penalty, see `note`);
    - `note`: one plain sentence on how the learned weights should compare.

    Each solution is `{"W": [F x K], "b": [K]}`, laid out as the network's layer. None
    when the network is not linear regression or there is no training point."""
    if not applies(spec) or X.shape[0] == 0:
        return None
    n, f = X.shape
    A = np.hstack([X, np.ones((n, 1))])  # [N x (F + 1)]: the bias as a column of ones
    ordinary, *_ = np.linalg.lstsq(A, Y, rcond=None)
    ridge = None
    active = penalty if rate > 0 else "none"
    if active == "l2":
        D = np.eye(f + 1)
        D[f, f] = 0.0  # the bias is not penalized
        ridge = _solution(np.linalg.solve(A.T @ A / n + rate * D, A.T @ Y / n))
    if active == "none":
        note = "No penalty: trained to convergence, the weights reach the least-squares solution."
    elif active == "l2":
        note = (f"L2 at rate {rate:g} pulls the weights towards 0: they head for the ridge solution, "
                "not the least-squares one.")
    else:
        note = (f"L1 at rate {rate:g} has no closed-form solution: the weights differ from least squares, "
                "some driven to exactly 0.")
    return {"ordinary": _solution(ordinary), "ridge": ridge, "penalty": active, "rate": float(rate) if
            active != "none" else 0.0, "note": note}
