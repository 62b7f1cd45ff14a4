"""permutation_importance on models whose reliance on each column is known."""

from __future__ import annotations

import numpy as np
import pytest

from app.data.importance import accuracy, neg_mean_squared_error, permutation_importance


def make_data(n: int = 400):
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.normal(size=n), rng.normal(size=n), np.zeros(n)])
    y = (X[:, 0] > 0).astype(np.int64)
    return X, y


def only_first_column(X: np.ndarray) -> np.ndarray:
    return (X[:, 0] > 0).astype(np.int64)


def test_used_column_matters_unused_ones_are_exactly_zero() -> None:
    X, y = make_data()
    imp = permutation_importance(only_first_column, X, y, accuracy, np.random.default_rng(1), n_repeats=4)
    assert imp.baseline == 1.0
    assert imp.drops.shape == (4, 3)
    assert imp.mean[0] == pytest.approx(0.5, abs=0.08)
    assert imp.mean[1] == 0.0 and imp.mean[2] == 0.0 and imp.std[2] == 0.0


def test_constant_column_has_zero_importance_even_for_a_model_that_uses_it() -> None:
    X, y = make_data()

    def uses_constant(X: np.ndarray) -> np.ndarray:
        return ((X[:, 0] + 5.0 * X[:, 2]) > 0).astype(np.int64)

    imp = permutation_importance(uses_constant, X, y, accuracy, np.random.default_rng(1))
    assert np.all(imp.drops[:, 2] == 0.0)


def test_seeded_and_input_not_mutated() -> None:
    X, y = make_data()
    before = X.copy()
    a = permutation_importance(only_first_column, X, y, accuracy, np.random.default_rng(3))
    b = permutation_importance(only_first_column, X, y, accuracy, np.random.default_rng(3))
    assert np.array_equal(a.drops, b.drops)
    assert np.array_equal(X, before)


def test_regression_metric() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 2))
    y = 3.0 * X[:, 1]
    imp = permutation_importance(lambda X: 3.0 * X[:, 1], X, y, neg_mean_squared_error, rng, 3)
    assert imp.baseline == 0.0
    assert imp.mean[1] > 10 and imp.mean[0] == 0.0


def test_metrics_and_errors() -> None:
    assert accuracy(np.array([0, 1, 1, 0]), np.array([0, 1, 0, 0])) == 0.75
    assert neg_mean_squared_error(np.array([1.0, 2.0]), np.array([1.0, 4.0])) == -2.0
    with pytest.raises(ValueError, match="shaped like"):
        accuracy(np.zeros(3), np.zeros((3, 1)))
    X, y = make_data(10)
    with pytest.raises(ValueError, match="n_repeats"):
        permutation_importance(only_first_column, X, y, accuracy, np.random.default_rng(0), n_repeats=0)
