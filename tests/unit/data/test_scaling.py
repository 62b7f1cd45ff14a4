"""standardize: zero mean, unit spread, constant columns to exactly zero, train stats reused."""

from __future__ import annotations

import numpy as np
import pytest

from app.data.scaling import standardize, standardize_dataset
from app.data.tabular import mammals_or_fish
from app.data.tabular import standardize as tabular_standardize


def test_fitted_columns_have_zero_mean_and_unit_std() -> None:
    X = np.random.default_rng(0).normal([5.0, -3.0], [10.0, 0.1], (200, 2))
    Xs, mean, std = standardize(X)
    assert np.allclose(Xs.mean(axis=0), 0, atol=1e-12)
    assert np.allclose(Xs.std(axis=0), 1)
    assert np.allclose(mean, X.mean(axis=0)) and np.allclose(std, X.std(axis=0))


def test_constant_columns_become_exactly_zero() -> None:
    # 0.1 is the trap: the float mean of many copies of 0.1 is not 0.1 itself.
    X = np.column_stack([np.full(7, 0.1), np.ones(7), np.arange(7.0), np.full(7, -3.3)])
    assert X[:, 0].mean() != 0.1 and X[:, 3].mean() != -3.3  # naive centring would leave crumbs
    Xs, mean, std = standardize(X)
    assert np.all(Xs[:, [0, 1, 3]] == 0.0)
    assert list(std[[0, 1, 3]]) == [1.0, 1.0, 1.0]
    assert mean[0] == 0.1 and mean[3] == -3.3


def test_test_data_uses_the_training_stats() -> None:
    rng = np.random.default_rng(1)
    train = np.column_stack([np.ones(50), rng.normal(2, 3, 50)])
    test = np.column_stack([np.ones(20), rng.normal(2, 3, 20)])
    _, mean, std = standardize(train)
    Ts, m2, s2 = standardize(test, mean, std)
    assert np.array_equal(Ts, (test - mean) / std)
    assert m2 is not None and np.array_equal(m2, mean) and np.array_equal(s2, std)
    assert np.all(Ts[:, 0] == 0.0)
    assert not np.allclose(Ts[:, 1].mean(), 0, atol=1e-9)  # not refitted on the test set


def test_input_not_mutated() -> None:
    X = np.arange(12.0).reshape(6, 2)
    before = X.copy()
    standardize(X)
    assert np.array_equal(X, before)


def test_bad_stats_are_refused() -> None:
    X = np.ones((4, 2))
    with pytest.raises(ValueError, match="both mean and std"):
        standardize(X, mean=np.zeros(2))
    with pytest.raises(ValueError, match="shape"):
        standardize(X, np.zeros(3), np.ones(3))
    with pytest.raises(ValueError, match="positive"):
        standardize(X, np.zeros(2), np.zeros(2))
    with pytest.raises(ValueError, match="at least one row"):
        standardize(np.zeros((0, 2)))


def test_standardize_dataset_and_tabular_reexport() -> None:
    assert tabular_standardize is standardize
    ds = mammals_or_fish(100, np.random.default_rng(0))
    out, mean, std = standardize_dataset(ds)
    assert np.all(out.X[:, 0] == 0.0) and mean[0] == 1.0 and std[0] == 1.0
    assert np.array_equal(out.y, ds.y) and out.feature_names == ds.feature_names
