"""Inverted dropout: training only, seeded, readable, correctly scaled."""

from __future__ import annotations

import numpy as np
import pytest

from app.nn.dropout import make_masks
from app.nn.model import Model
from app.nn.network import NetworkSpec, forward, init_params, predict
from app.nn.optimizers import Hyperparams

SPEC = NetworkSpec(2, (32, 16), ("relu", "tanh"), 1, "binary")


def test_mask_values_rate_and_scale() -> None:
    masks = make_masks(SPEC, 0.25, 2000, np.random.default_rng(0))
    assert [m.shape for m in masks] == [(2000, 32), (2000, 16)]
    for m in masks:
        assert set(np.unique(m)) == {0.0, 1.0 / 0.75}
        assert np.mean(m == 0) == pytest.approx(0.25, abs=0.01)
        assert m.mean() == pytest.approx(1.0, abs=0.02)  # inverted: expectation unchanged
    assert all(np.all(m == 1.0) for m in make_masks(SPEC, 0.0, 5, np.random.default_rng(0)))
    with pytest.raises(ValueError, match="dropout rate"):
        make_masks(SPEC, 0.95, 5, np.random.default_rng(0))


def test_masks_seeded() -> None:
    a = make_masks(SPEC, 0.5, 10, np.random.default_rng(9))
    b = make_masks(SPEC, 0.5, 10, np.random.default_rng(9))
    c = make_masks(SPEC, 0.5, 10, np.random.default_rng(10))
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c))


def test_forward_applies_masks_to_hidden_layers_only() -> None:
    params = init_params(SPEC, "he", np.random.default_rng(0))
    X = np.random.default_rng(1).normal(size=(8, 2))
    masks = make_masks(SPEC, 0.5, 8, np.random.default_rng(2))
    out, cache = forward(SPEC, params, X, masks)
    assert cache.masks is masks
    for l in (1, 2):
        np.testing.assert_array_equal(cache.A[l], cache.H[l] * masks[l - 1])
    assert (cache.A[1] == 0).sum() > 0
    np.testing.assert_array_equal(cache.A[0], X)  # inputs are never dropped
    _, clean = forward(SPEC, params, X)
    np.testing.assert_array_equal(clean.H[1], cache.H[1])  # same pre-dropout activations
    assert not np.array_equal(out, clean.A[-1])


def test_train_step_keeps_masks_and_eval_has_none() -> None:
    model = Model.create(SPEC, np.random.default_rng(0))
    X = np.random.default_rng(1).normal(size=(16, 2))
    Y = (X[:, :1] > 0).astype(float)
    before = model.predict(X)
    result = model.train_step(X, Y, Hyperparams(lr=0.0), dropout_rate=0.4,
                              rng=np.random.default_rng(5))
    expected = make_masks(SPEC, 0.4, 16, np.random.default_rng(5))
    assert result.cache.masks is not None
    assert all(np.array_equal(a, b) for a, b in zip(result.cache.masks, expected))
    # lr = 0: nothing moved, so evaluation ignores dropout and is unchanged.
    np.testing.assert_array_equal(model.predict(X), before)
    np.testing.assert_array_equal(predict(SPEC, model.params, X), before)
    plain = model.train_step(X, Y, Hyperparams(lr=0.0))
    assert plain.cache.masks is None
    with pytest.raises(ValueError, match="rng"):
        model.train_step(X, Y, Hyperparams(), dropout_rate=0.2)
