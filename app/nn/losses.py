"""Output layer + loss per task, as a name-keyed table (like ``nn.ts``).

Every loss is a mean over the batch of a per-sample loss, so ``dz`` (dL/dz of
the output layer) is already divided by ``N``:

========== ========== ============================================ ===========
task       output     per-sample loss                              dL/dz * N
========== ========== ============================================ ===========
binary     sigmoid    -(y log p + (1-y) log(1-p)), y in {0, 1}     p - y
playground tanh       0.5 * sum_k (o_k - t_k)^2, t in {-1, +1}     (o-t)(1-o^2)
multiclass softmax    -sum_k y_k log p_k, y one-hot, K <= 8        p - y
regression linear     0.5 * sum_k (o_k - t_k)^2                    o - t
hinge      linear     max(0, 1 - t f), t in {-1, +1}               -t if 1 - t f > 0, else 0
========== ========== ============================================ ===========

Regression uses ``0.5 * sum_k (o-t)^2`` (mean over samples, summed over
outputs), the same square loss as the playground task and TF Playground, so
the gradient is simply ``(o - t) / N``. ``tests/golden/make_golden.py`` uses
the same definition in PyTorch.

Hinge (one output ``f``, the linear SVM's loss when there is no hidden layer
and L2 is on): at the kink, ``1 - t f == 0`` exactly, the gradient is the
subgradient 0, as PyTorch's ``relu`` backward gives it (``clamp(min=0)``
would pass the gradient there); ``tests/golden`` holds it to ``relu``.

``loss(out, Y, z=None)``: when the output pre-activation ``z`` is given the
binary and multiclass losses are computed from it stably (``logaddexp`` and
``logsumexp``), which stays finite even when ``p`` rounds to 0 or 1. Without
``z`` they fall back to ``log`` of the clipped probabilities.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from app.nn.activations import sigmoid

Array = NDArray[np.float64]

TaskName = Literal["playground", "binary", "multiclass", "regression", "hinge"]  # the keys of TASKS
MAX_CLASSES = 8
_CLIP = 1e-15  # only for the fallback loss computed from probabilities


@dataclass(frozen=True)
class Task:
    """Output function, loss and its gradient for one kind of problem.

    ``output(z [N x K]) -> out [N x K]``; ``loss(out, Y, z=None) -> float``;
    ``dz(out, Y) -> [N x K]`` (already divided by N); ``targets(y) -> Y``
    turns labels ``y [N]`` into the target matrix ``Y [N x K]``;
    ``accuracy(out, Y)`` is the fraction right, ``None`` for regression.
    ``min_outputs``/``max_outputs`` bound ``K``.
    """

    name: str
    output: Callable[[Array], Array]
    loss: Callable[..., float]
    dz: Callable[[Array, Array], Array]
    targets: Callable[..., Array]
    accuracy: Callable[[Array, Array], float | None]
    min_outputs: int
    max_outputs: int


def softmax(z: Array) -> Array:
    """Row-wise softmax of ``z [N x K]``; shifting by the row max avoids overflow."""
    e: Array = np.exp(z - z.max(axis=1, keepdims=True))
    e /= e.sum(axis=1, keepdims=True)
    return e


def log_softmax(z: Array) -> Array:
    """Row-wise ``z - logsumexp(z)`` of ``z [N x K]``, computed stably."""
    shifted: Array = z - z.max(axis=1, keepdims=True)
    logsum: Array = np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return shifted - logsum


def _column(y: ArrayLike) -> Array:
    """Labels ``[N]`` or ``[N x K]`` as a float64 matrix ``[N x K]``."""
    arr = np.asarray(y, dtype=np.float64)
    if arr.ndim == 1:
        return arr.reshape(-1, 1)
    if arr.ndim != 2:
        raise ValueError(f"labels must be 1-D or 2-D, got shape {arr.shape}")
    return arr.copy()


def _check_labels(arr: Array, allowed: tuple[float, ...], task: str) -> None:
    if not np.isin(arr, allowed).all():
        raise ValueError(f"{task} labels must be in {allowed}, got {np.unique(arr)[:5]}")


def _binary_targets(y: ArrayLike) -> Array:
    # Accepts 0/1 and also the -1/+1 convention of the playground task, so a
    # dataset can be trained with either task without relabelling.
    arr = _column(y)
    _check_labels(arr, (-1.0, 0.0, 1.0), "binary")
    return (arr > 0).astype(np.float64)


def _playground_targets(y: ArrayLike) -> Array:
    arr = _column(y)
    _check_labels(arr, (-1.0, 0.0, 1.0), "playground")
    return np.where(arr > 0, 1.0, -1.0)


def _multiclass_targets(y: ArrayLike, n_classes: int | None = None) -> Array:
    labels = np.asarray(y)
    if labels.ndim != 1:
        raise ValueError(f"multiclass labels must be 1-D class indices, got {labels.shape}")
    if labels.size and not np.all(labels == np.round(labels)):
        raise ValueError("multiclass labels must be integer class indices")
    idx = labels.astype(np.int64)
    if n_classes is None:
        k = max(int(idx.max()) + 1 if idx.size else 0, 2)
    else:
        k = n_classes
    if idx.size and (idx.min() < 0 or idx.max() >= k):
        raise ValueError(f"multiclass labels must be in 0..{k - 1}")
    Y = np.zeros((idx.size, k))
    Y[np.arange(idx.size), idx] = 1.0
    return Y


def _hinge_targets(y: ArrayLike) -> Array:
    arr = _column(y)
    _check_labels(arr, (-1.0, 0.0, 1.0), "hinge")
    return np.where(arr > 0, 1.0, -1.0)


def _regression_targets(y: ArrayLike) -> Array:
    return _column(y)


def _binary_loss(out: Array, Y: Array, z: Array | None = None) -> float:
    if z is not None:
        # -[y log s(z) + (1-y) log(1-s(z))] = log(1 + e^z) - y z, exactly.
        return float(np.mean(np.sum(np.logaddexp(0.0, z) - Y * z, axis=1)))
    p = np.clip(out, _CLIP, 1.0 - _CLIP)
    return float(np.mean(np.sum(-(Y * np.log(p) + (1.0 - Y) * np.log(1.0 - p)), axis=1)))


def _square_loss(out: Array, Y: Array, z: Array | None = None) -> float:
    diff = out - Y
    return float(0.5 * np.mean(np.sum(diff * diff, axis=1)))


def _hinge_loss(out: Array, Y: Array, z: Array | None = None) -> float:
    return float(np.mean(np.sum(np.maximum(1.0 - Y * out, 0.0), axis=1)))


def _multiclass_loss(out: Array, Y: Array, z: Array | None = None) -> float:
    logp = log_softmax(z) if z is not None else np.log(np.clip(out, _CLIP, 1.0))
    return float(-np.mean(np.sum(Y * logp, axis=1)))


def _prob_minus_target(out: Array, Y: Array) -> Array:
    # Sigmoid+BCE and softmax+CE both collapse to (p - y) / N: no division by
    # p(1-p), so no blow-up when p saturates.
    dz: Array = (out - Y) / out.shape[0]
    return dz


def _playground_dz(out: Array, Y: Array) -> Array:
    dz: Array = (out - Y) * (1.0 - out * out) / out.shape[0]
    return dz


def _regression_dz(out: Array, Y: Array) -> Array:
    dz: Array = (out - Y) / out.shape[0]
    return dz


def _hinge_dz(out: Array, Y: Array) -> Array:
    # Strictly inside the margin only: at 1 - t f == 0 the subgradient 0 (see the module's notes).
    dz: Array = np.where(1.0 - Y * out > 0.0, -Y, 0.0) / out.shape[0]
    return dz


def _binary_accuracy(out: Array, Y: Array) -> float:
    return float(np.mean((out > 0.5) == (Y > 0.5)))


def _playground_accuracy(out: Array, Y: Array) -> float:
    return float(np.mean((out > 0) == (Y > 0)))


def _multiclass_accuracy(out: Array, Y: Array) -> float:
    return float(np.mean(out.argmax(axis=1) == Y.argmax(axis=1)))


def _no_accuracy(out: Array, Y: Array) -> float | None:
    return None


def _identity(z: Array) -> Array:
    return z.copy()


TASKS: dict[str, Task] = {
    "binary": Task(
        "binary", sigmoid, _binary_loss, _prob_minus_target, _binary_targets,
        _binary_accuracy, 1, 1,
    ),
    "playground": Task(
        "playground", np.tanh, _square_loss, _playground_dz, _playground_targets,
        _playground_accuracy, 1, 1,
    ),
    "multiclass": Task(
        "multiclass", softmax, _multiclass_loss, _prob_minus_target, _multiclass_targets,
        _multiclass_accuracy, 2, MAX_CLASSES,
    ),
    "regression": Task(
        "regression", _identity, _square_loss, _regression_dz, _regression_targets,
        _no_accuracy, 1, 8,
    ),
    "hinge": Task(
        "hinge", _identity, _hinge_loss, _hinge_dz, _hinge_targets,
        _playground_accuracy, 1, 1,
    ),
}
