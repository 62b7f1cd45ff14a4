"""Standardization of tabular inputs, with the constant-column trap handled.

An uncentred constant input (say "vertebrate" = 1 for every animal) feeds every
first-layer neuron the same number for every sample, so its weights act as a
second bias. Centring maps such a column to exactly 0: then its weights get a
gradient of exactly 0 and never move, which is the lesson. A constant column
has standard deviation 0; it is divided by 1 instead of 0.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from app.data.dataset import Dataset

Array = NDArray[np.float64]


def fit_standardizer(X: Array) -> tuple[Array, Array]:
    """Column means [D] and scales [D] of X [N x D] (population std; 1 where the column is constant)."""
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[0] < 1:
        raise ValueError(f"standardize needs a 2-D array with at least one row, got shape {X.shape}")
    mean = X.mean(axis=0)
    constant = np.all(X[0] == X, axis=0)  # [D]
    # The float mean of n copies of c is not always c (seven copies of 0.1 average
    # to 0.1 - 1.4e-17); take the value itself so the centred column is exactly 0.
    mean[constant] = X[0, constant]
    std = X.std(axis=0)
    std[constant] = 1.0
    # A column that varies by a few ulps would have std ~ 1e-17 and blow up; treat it as constant scale.
    std[std < 1e-12] = 1.0
    return mean, std


def standardize(
    X: Array, mean: Array | None = None, std: Array | None = None
) -> tuple[Array, Array, Array]:
    """Return (Xs [N x D], mean [D], std [D]) with Xs = (X - mean) / std.

    With mean and std both None they are fitted on X (a constant column gets
    mean = its value and std = 1, so it becomes exactly 0). Pass the training
    set's stats to standardize validation/test data the same way. Either both
    stats or neither must be given. X is not mutated.
    """
    X = np.asarray(X, dtype=np.float64)
    if (mean is None) != (std is None):
        raise ValueError("pass both mean and std (the training set's stats) or neither")
    if mean is None or std is None:
        mean, std = fit_standardizer(X)
    else:
        mean = np.asarray(mean, dtype=np.float64)
        std = np.asarray(std, dtype=np.float64)
        if X.ndim != 2 or mean.shape != (X.shape[1],) or std.shape != (X.shape[1],):
            raise ValueError(
                f"stats must have shape ({X.shape[-1]},) to match X {X.shape}, "
                f"got mean {mean.shape} and std {std.shape}"
            )
        if np.any(std <= 0) or not np.all(np.isfinite(std)):
            raise ValueError("std must be finite and positive (fit_standardizer maps 0 to 1)")
    return (X - mean) / std, mean, std


def standardize_dataset(
    ds: Dataset, mean: Array | None = None, std: Array | None = None
) -> tuple[Dataset, Array, Array]:
    """`standardize` applied to ds.X; returns (new Dataset, mean [D], std [D]). Labels untouched."""
    Xs, mean, std = standardize(ds.X, mean, std)
    return ds.with_inputs(Xs, ds.feature_names), mean, std
