"""Seeded index splits: train/validation/test and k-fold cross-validation.

Every function returns int64 index arrays into a dataset of n points, drawn from
one permutation of `rng`, so the same seed gives the same split. Each split
keeps the (random) permutation order; the training layer shuffles batches anyway.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

Index = NDArray[np.int64]

TRAIN_PERCENT_MIN, TRAIN_PERCENT_MAX = 10, 90  # the Playground's "ratio of training to test data"


def _check_n(n: int, least: int) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < least:
        raise ValueError(f"n (number of points) must be an integer >= {least}, got {n!r}")
    return int(n)


def split_indices(
    n: int, train_frac: float, val_frac: float, rng: np.random.Generator
) -> tuple[Index, Index, Index]:
    """Split range(n) into (train_idx, val_idx, test_idx): disjoint, together all of range(n).

    train gets round(n * train_frac) points (at least 1), validation
    round(n * val_frac), test the rest. 0 < train_frac <= 1, 0 <= val_frac,
    train_frac + val_frac <= 1. Consumes one permutation from rng.
    """
    n = _check_n(n, 1)
    if not (0.0 < train_frac <= 1.0):
        raise ValueError(f"train_frac must be in (0, 1], got {train_frac!r}")
    if not (0.0 <= val_frac < 1.0):
        raise ValueError(f"val_frac must be in [0, 1), got {val_frac!r}")
    if train_frac + val_frac > 1.0 + 1e-12:
        raise ValueError(f"train_frac + val_frac must be at most 1, got {train_frac} + {val_frac}")
    # round, not floor: 0.29 * 100 is 28.999999999999996 in floating point.
    n_train = min(n, max(1, round(n * train_frac)))
    n_val = min(n - n_train, round(n * val_frac))
    perm = rng.permutation(n).astype(np.int64)
    return perm[:n_train], perm[n_train : n_train + n_val], perm[n_train + n_val :]


def train_test_indices(n: int, train_percent: float, rng: np.random.Generator) -> tuple[Index, Index]:
    """The Playground split: `train_percent` (10..90) of n points for training, the rest for test."""
    if not (TRAIN_PERCENT_MIN <= train_percent <= TRAIN_PERCENT_MAX):
        raise ValueError(
            f"train percent must be from {TRAIN_PERCENT_MIN} to {TRAIN_PERCENT_MAX}, got {train_percent!r}"
        )
    train, _, test = split_indices(n, train_percent / 100.0, 0.0, rng)
    return train, test


def kfold_indices(n: int, k: int, rng: np.random.Generator) -> list[tuple[Index, Index]]:
    """k folds of range(n) as [(train_idx, val_idx)] * k; 2 <= k <= n.

    Every index is in exactly one validation fold; fold sizes differ by at most
    one; train_idx is the complement of val_idx. Consumes one permutation.
    """
    n = _check_n(n, 2)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 2 <= k <= n:
        raise ValueError(f"k (number of folds) must be an integer from 2 to n = {n}, got {k!r}")
    perm = rng.permutation(n).astype(np.int64)
    folds = np.array_split(perm, int(k))
    return [(np.concatenate(folds[:i] + folds[i + 1 :]), folds[i]) for i in range(int(k))]
