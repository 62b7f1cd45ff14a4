"""Loss and accuracy of a network on every split, as the frame and the history show them."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from app.nn import fast, network, regularization
from app.nn.network import NetworkSpec
from app.training.config import HyperState
from app.training.data_setup import SPLITS, PreparedData

Params = list[dict[str, np.ndarray]]
Metrics = dict[str, float | None]
Key = tuple[int, int]  # (step, version)


class MetricsCache:
    """The metrics of one state of a session, computed once."""

    def __init__(self) -> None:
        self._key: Key | None = None
        self._value: Metrics = {}

    def get(self, key: Key, compute: Callable[[], Metrics]) -> Metrics:
        if self._key != key:
            self._key, self._value = key, compute()
        return self._value

    def carry(self, old: Key, new: Key) -> None:
        """The metrics of state `old` (if they are the ones kept) hold for state `new` too."""
        if self._key == old:
            self._key = new


def evaluate(spec: NetworkSpec, params: Params, data: PreparedData, Y: dict[str, np.ndarray], hyper: HyperState,
             batch_loss: float, buffers: fast.Buffers, use_fast: bool) -> Metrics:
    """`{split}_loss` and `{split}_acc` for every split (None for an empty split or a
    non-finite loss), `train_loss_penalized` and the last `batch_loss`. With `use_fast`
    through the compiled kernel: the same bits, a few times cheaper."""
    out: Metrics = {}
    for s in SPLITS:
        if data.n(s) == 0:
            out[f"{s}_loss"] = out[f"{s}_acc"] = None
            continue
        loss, out[f"{s}_acc"] = (fast.evaluate(spec, params, data.X[s], Y[s], buffers) if use_fast
                                 else network.evaluate(spec, params, data.X[s], Y[s]))
        out[f"{s}_loss"] = _finite(loss)
    penalty = regularization.penalty(params, hyper.regularization, hyper.reg_rate)
    train_loss = out["train_loss"]
    out["train_loss_penalized"] = None if train_loss is None else _finite(train_loss + penalty)
    out["batch_loss"] = _finite(batch_loss)
    return out


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None
