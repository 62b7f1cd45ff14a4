"""Seeded train/validation/test splits and k-fold indices."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.data.splits import kfold_indices, split_indices, train_test_indices


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


@given(
    n=st.integers(1, 400),
    train=st.floats(0.01, 1.0),
    val=st.floats(0.0, 0.99),
    seed=st.integers(0, 2**31 - 1),
)
def test_split_is_disjoint_and_covering(n: int, train: float, val: float, seed: int) -> None:
    val = min(val, 1.0 - train)
    tr, va, te = split_indices(n, train, val, rng(seed))
    joined = np.concatenate([tr, va, te])
    assert np.array_equal(np.sort(joined), np.arange(n))  # each index exactly once
    assert len(tr) >= 1
    assert all(a.dtype == np.int64 for a in (tr, va, te))


def test_split_sizes() -> None:
    tr, va, te = split_indices(500, 0.5, 0.2, rng())
    assert (len(tr), len(va), len(te)) == (250, 100, 150)
    tr, va, te = split_indices(100, 0.29, 0.0, rng())  # 0.29 * 100 = 28.999...: still 29
    assert (len(tr), len(va), len(te)) == (29, 0, 71)
    tr, va, te = split_indices(10, 1.0, 0.0, rng())
    assert (len(tr), len(va), len(te)) == (10, 0, 0)


def test_split_is_seeded_and_shuffled() -> None:
    a = split_indices(200, 0.6, 0.2, rng(3))
    b = split_indices(200, 0.6, 0.2, rng(3))
    c = split_indices(200, 0.6, 0.2, rng(4))
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not np.array_equal(a[0], c[0])
    assert not np.array_equal(np.sort(a[0]), np.arange(120))  # not simply the first points


@pytest.mark.parametrize(
    ("n", "train", "val", "match"),
    [
        (0, 0.5, 0.0, "integer >= 1"),
        (10, 0.0, 0.0, "train_frac"),
        (10, 1.5, 0.0, "train_frac"),
        (10, 0.5, -0.1, "val_frac"),
        (10, 0.7, 0.4, "at most 1"),
    ],
)
def test_split_bad_arguments(n: int, train: float, val: float, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        split_indices(n, train, val, rng())


def test_playground_train_percent() -> None:
    tr, te = train_test_indices(500, 70, rng())
    assert (len(tr), len(te)) == (350, 150)
    assert np.array_equal(np.sort(np.concatenate([tr, te])), np.arange(500))
    for bad in (5, 95):
        with pytest.raises(ValueError, match="from 10 to 90"):
            train_test_indices(500, bad, rng())


@given(n=st.integers(2, 300), k=st.integers(2, 12), seed=st.integers(0, 1000))
def test_kfold_each_index_validates_exactly_once(n: int, k: int, seed: int) -> None:
    k = min(k, n)
    folds = kfold_indices(n, k, rng(seed))
    assert len(folds) == k
    vals = np.concatenate([v for _, v in folds])
    assert np.array_equal(np.sort(vals), np.arange(n))
    sizes = [len(v) for _, v in folds]
    assert max(sizes) - min(sizes) <= 1
    for train, val in folds:
        assert np.intersect1d(train, val).size == 0
        assert np.array_equal(np.sort(np.concatenate([train, val])), np.arange(n))


def test_kfold_seeded() -> None:
    a, b, c = kfold_indices(50, 5, rng(1)), kfold_indices(50, 5, rng(1)), kfold_indices(50, 5, rng(2))
    assert all(np.array_equal(x[1], y[1]) and np.array_equal(x[0], y[0]) for x, y in zip(a, b))
    assert not all(np.array_equal(x[1], y[1]) for x, y in zip(a, c))


@pytest.mark.parametrize(("n", "k"), [(10, 1), (10, 11), (1, 2), (10, 2.5)])
def test_kfold_bad_arguments(n: int, k: int) -> None:
    with pytest.raises(ValueError):
        kfold_indices(n, k, rng())
