"""Inverted dropout masks for the hidden layers (training time only).

A kept unit is scaled by ``1/(1-rate)`` at training time so the expected
activation equals the evaluation-time activation; evaluation then needs no
rescaling (``forward(..., dropout_masks=None)``). Inputs and the output layer
are never dropped.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from app.nn.network import NetworkSpec

MAX_DROPOUT = 0.9  # dropping more leaves too few units to learn anything


def make_masks(
    spec: NetworkSpec, rate: float, n: int, rng: np.random.Generator
) -> list[NDArray[np.float64]]:
    """One mask ``[n x hidden[l]]`` per hidden layer, entries 0 or ``1/(1-rate)``.

    A unit is dropped when its uniform draw is ``< rate``; the draws come from
    ``rng`` only, layer by layer, so a seed fixes the masks. ``(mask > 0)``
    tells which units were kept.
    """
    if not 0.0 <= rate <= MAX_DROPOUT:
        raise ValueError(f"dropout rate must be from 0 to {MAX_DROPOUT}, got {rate!r}")
    if n < 1:
        raise ValueError(f"batch size must be >= 1, got {n}")
    scale = 1.0 / (1.0 - rate)
    return [np.where(rng.random((n, h)) >= rate, scale, 0.0) for h in spec.hidden]
