"""Frozen parameters keep their bits and their optimizer state."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from app.nn.freezing import (
    n_frozen,
    set_bias,
    set_layer,
    set_neuron,
    set_weight,
    trainable_masks,
)
from app.nn.model import Model
from app.nn.network import Grads, NetworkSpec, init_params
from app.nn.optimizers import OPTIMIZERS, Hyperparams, init_state, update


def test_helpers_set_the_right_entries() -> None:
    params = [{"W": np.zeros((3, 4)), "b": np.zeros(4)}, {"W": np.zeros((4, 2)), "b": np.zeros(2)}]
    masks = trainable_masks(params)
    assert n_frozen(masks) == 0
    set_neuron(masks, 0, 2, False)
    assert not masks[0]["W"][:, 2].any() and not masks[0]["b"][2]
    assert n_frozen(masks) == 4
    set_weight(masks, 1, 3, 1, False)
    set_bias(masks, 1, 0, False)
    assert not masks[1]["W"][3, 1] and not masks[1]["b"][0] and n_frozen(masks) == 6
    set_layer(masks, 1, False)
    assert n_frozen(masks) == 4 + 10
    set_layer(masks, 1, True)
    set_neuron(masks, 0, 2, True)
    assert n_frozen(masks) == 0
    with pytest.raises(ValueError, match="neuron must be from 0 to 3"):
        set_neuron(masks, 0, 4, False)
    with pytest.raises(ValueError, match="layer must be from 0 to 1"):
        set_layer(masks, 2, False)
    with pytest.raises(ValueError, match="outside layer 1"):
        set_weight(masks, 1, 4, 0, False)


@pytest.mark.parametrize("opt", OPTIMIZERS)
def test_frozen_bits_and_state_do_not_move(opt: str, make_problem: Callable[..., Any]) -> None:
    spec, X, Y = make_problem("playground", hidden=(4, 3), n=20)
    model = Model.create(spec, np.random.default_rng(0), init="uniform")
    model.params[1]["W"][2, 1] = -0.0  # sign of zero must survive too
    set_layer(model.trainable, 2, False)
    set_neuron(model.trainable, 0, 1, False)
    set_weight(model.trainable, 1, 2, 1, False)
    frozen_before = [{k: v.copy() for k, v in p.items()} for p in model.params]
    hp = Hyperparams(optimizer=opt, lr=0.1)
    for _ in range(60):
        result = model.train_step(X, Y, hp, "l2", 0.01)
        for l, masks in enumerate(model.trainable):
            for k, m in masks.items():
                assert not result.deltas[l][k][~m].any()
    for l, masks in enumerate(model.trainable):
        for k, m in masks.items():
            assert model.params[l][k][~m].tobytes() == frozen_before[l][k][~m].tobytes()
            assert np.all(model.params[l][k][m] != frozen_before[l][k][m])  # the rest trained
            for slot, values in model.opt_state.slots.items():
                assert not values[l][k][~m].any(), f"{slot} advanced for a frozen entry"
    if opt == "adam":
        t = model.opt_state.slots["t"]
        assert np.all(t[0]["W"][:, 0] == 60) and np.all(t[0]["W"][:, 1] == 0)


def test_all_true_masks_equal_no_masks_bitwise() -> None:
    rng = np.random.default_rng(1)
    p1 = [{"W": rng.normal(size=(3, 2)), "b": rng.normal(size=2)}]
    p2 = [{k: v.copy() for k, v in p.items()} for p in p1]
    s1, s2 = init_state(p1), init_state(p2)
    for opt in OPTIMIZERS:
        g = Grads(dW=[rng.normal(size=(3, 2))], db=[rng.normal(size=2)])
        update(p1, g, s1, Hyperparams(optimizer=opt))
        update(p2, g, s2, Hyperparams(optimizer=opt), trainable_masks(p2))
    assert p1[0]["W"].tobytes() == p2[0]["W"].tobytes()
    assert p1[0]["b"].tobytes() == p2[0]["b"].tobytes()


def test_adam_bias_correction_starts_when_unfrozen() -> None:
    params = init_params(NetworkSpec(2, (), (), 2, "regression"), "glorot",
                         np.random.default_rng(0))
    masks = trainable_masks(params)
    set_weight(masks, 0, 0, 0, False)
    state = init_state(params)
    hp = Hyperparams(optimizer="adam", lr=0.01)
    rng = np.random.default_rng(2)
    for _ in range(5):
        update(params, Grads(dW=[rng.normal(size=(2, 2))], db=[rng.normal(size=2)]), state, hp,
               masks)
    set_weight(masks, 0, 0, 0, True)
    g = Grads(dW=[rng.normal(size=(2, 2))], db=[rng.normal(size=2)])
    deltas = update(params, g, state, hp, masks)
    g00 = g.dW[0][0, 0]
    # First step of a fresh entry: m_hat = g, v_hat = g^2, so delta = -lr g / (|g| + eps).
    assert deltas[0]["W"][0, 0] == pytest.approx(-0.01 * g00 / (abs(g00) + 1e-8), rel=1e-12)
    assert state.slots["t"][0]["W"][0, 0] == 1 and state.slots["t"][0]["W"][1, 1] == 6
