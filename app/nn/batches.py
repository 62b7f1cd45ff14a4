"""Seeded mini-batches over one epoch."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray


def epoch_batches(n: int, batch_size: int, rng: np.random.Generator) -> list[NDArray[np.int64]]:
    """Index arrays covering ``0..n-1`` once, for one epoch.

    ``batch_size >= n``: one batch ``[0, 1, ..., n-1]`` in order and nothing is
    drawn from ``rng`` (full-batch gradient descent is deterministic).
    Otherwise a fresh ``rng.permutation(n)`` cut into chunks of
    ``batch_size``; the last chunk holds the remainder (it is kept, not
    dropped, so every point is seen once per epoch).
    """
    if n < 1:
        raise ValueError(f"number of points must be >= 1, got {n}")
    if batch_size < 1:
        raise ValueError(f"batch size must be >= 1, got {batch_size}")
    if batch_size >= n:
        return [np.arange(n, dtype=np.int64)]
    perm = rng.permutation(n).astype(np.int64, copy=False)
    return [perm[i : i + batch_size] for i in range(0, n, batch_size)]
