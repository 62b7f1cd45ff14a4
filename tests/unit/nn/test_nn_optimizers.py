"""Optimizers against a scalar re-implementation of the documented formulas."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from app.nn.explain import UPDATE_FORMULAS, explain_update
from app.nn.network import Grads
from app.nn.optimizers import OPTIMIZERS, Hyperparams, init_state, update


def _params(rng: np.random.Generator) -> list[dict[str, np.ndarray]]:
    return [{"W": rng.normal(size=(3, 4)), "b": rng.normal(size=4)},
            {"W": rng.normal(size=(4, 2)), "b": rng.normal(size=2)}]


def _grads(rng: np.random.Generator) -> Grads:
    return Grads(dW=[rng.normal(size=(3, 4)), rng.normal(size=(4, 2))],
                 db=[rng.normal(size=4), rng.normal(size=2)])


def _ref_step(opt: str, w: float, g: float, s: dict[str, float], hp: Hyperparams) -> float:
    """The docs/optimizers.md formulas for one scalar, in plain Python floats."""
    if opt == "sgd":
        return w - hp.lr * g
    if opt in ("momentum", "nesterov"):
        s["velocity"] = hp.momentum * s["velocity"] + g
        step = s["velocity"] if opt == "momentum" else g + hp.momentum * s["velocity"]
        return w - hp.lr * step
    if opt == "adam":
        s["t"] += 1
        s["m"] = hp.beta1 * s["m"] + (1 - hp.beta1) * g
        s["v"] = hp.beta2 * s["v"] + (1 - hp.beta2) * g * g
        m_hat = s["m"] / (1 - hp.beta1 ** s["t"])
        v_hat = s["v"] / (1 - hp.beta2 ** s["t"])
        return w - hp.lr * m_hat / (math.sqrt(v_hat) + hp.eps)
    s["s"] = hp.rho * s["s"] + (1 - hp.rho) * g * g
    return w - hp.lr * g / (math.sqrt(s["s"]) + hp.eps)


@pytest.mark.parametrize("opt", OPTIMIZERS)
def test_matches_scalar_formulas_with_changing_hyperparams(opt: str) -> None:
    rng = np.random.default_rng(3)
    params = _params(rng)
    state = init_state(params)
    ref = [{k: [(float(x), {"velocity": 0.0, "m": 0.0, "v": 0.0, "t": 0, "s": 0.0})
                for x in a.ravel()] for k, a in p.items()} for p in params]
    hp = Hyperparams(optimizer=opt, lr=0.05, momentum=0.9)
    for step in range(40):
        if step % 7 == 6:  # sliders move between steps
            hp.lr = float(rng.uniform(0.001, 0.2))
            hp.momentum = float(rng.uniform(0.0, 0.99))
            hp.beta1 = float(rng.uniform(0.5, 0.95))
            hp.beta2 = float(rng.uniform(0.9, 0.9999))
            hp.rho = float(rng.uniform(0.8, 0.999))
        grads = _grads(rng)
        update(params, grads, state, hp)
        for l, p in enumerate(ref):
            for kind, entries in p.items():
                g = (grads.dW if kind == "W" else grads.db)[l].ravel()
                p[kind] = [(_ref_step(opt, w, float(gi), s, hp), s)
                           for (w, s), gi in zip(entries, g)]
    for l, p in enumerate(ref):
        for kind, entries in p.items():
            expected = np.array([w for w, _ in entries]).reshape(params[l][kind].shape)
            np.testing.assert_allclose(params[l][kind], expected, rtol=1e-12, atol=1e-13)


def test_lr_change_scales_whole_velocity_at_once() -> None:
    params = [{"W": np.array([[1.0]]), "b": np.array([0.0])}]
    state = init_state(params)
    g = Grads(dW=[np.array([[1.0]])], db=[np.array([0.0])])
    hp = Hyperparams(optimizer="momentum", lr=0.1, momentum=0.5)
    update(params, g, state, hp)  # v = 1
    update(params, g, state, hp)  # v = 1.5
    assert state.slots["velocity"][0]["W"][0, 0] == 1.5
    hp.lr = 1.0
    deltas = update(params, g, state, hp)  # v = 1.75, step = new lr * whole v
    assert state.slots["velocity"][0]["W"][0, 0] == 1.75
    assert deltas[0]["W"][0, 0] == -1.75


@pytest.mark.parametrize("opt", OPTIMIZERS)
def test_deltas_are_the_exact_increments(opt: str) -> None:
    rng = np.random.default_rng(5)
    params = _params(rng)
    state = init_state(params)
    for _ in range(3):
        before = [{k: v.copy() for k, v in p.items()} for p in params]
        deltas = update(params, _grads(rng), state, Hyperparams(optimizer=opt))
        for p, b, d in zip(params, before, deltas):
            for k in ("W", "b"):
                assert d[k].shape == p[k].shape
                np.testing.assert_array_equal(p[k], b[k] + d[k])
                assert np.any(d[k] != 0)


def test_each_optimizer_keeps_its_own_slots() -> None:
    rng = np.random.default_rng(6)
    params = _params(rng)
    state = init_state(params)
    update(params, _grads(rng), state, Hyperparams(optimizer="momentum"))
    velocity = state.slots["velocity"][0]["W"].copy()
    update(params, _grads(rng), state, Hyperparams(optimizer="adam"))
    np.testing.assert_array_equal(state.slots["velocity"][0]["W"], velocity)
    assert np.all(state.slots["t"][0]["W"] == 1)
    assert not state.slots["s"][0]["W"].any()


@pytest.mark.parametrize(
    "field,value,message",
    [("lr", -0.1, "lr"), ("lr", float("nan"), "lr"), ("momentum", 1.0, "momentum"),
     ("beta1", -0.1, "beta1"), ("beta2", 1.0, "beta2"), ("rho", 1.5, "rho"),
     ("eps", 0.0, "eps"), ("optimizer", "lbfgs", "unknown optimizer"),
     ("lr", "0.1", "lr must be a number"), ("momentum", None, "momentum must be a number")],
)
def test_hyperparams_validate(field: str, value: object, message: str) -> None:
    hp = Hyperparams()
    setattr(hp, field, value)
    with pytest.raises(ValueError, match=message):
        hp.validate()


def _last_number(text: str) -> float:
    return float(re.findall(r"= (\S+)$", text)[0])


@pytest.mark.parametrize("opt", OPTIMIZERS)
def test_explain_update_agrees_with_the_update(opt: str) -> None:
    rng = np.random.default_rng(7)
    params = _params(rng)
    state = init_state(params)
    hp = Hyperparams(optimizer=opt, lr=0.03)
    for _ in range(3):
        update(params, _grads(rng), state, hp)
    grads = _grads(rng)
    text = explain_update(params, grads, state, hp, 1, "W", (2, 1), digits=17)
    short = explain_update(params, grads, state, hp, 0, "b", 3)
    update(params, grads, state, hp)
    assert _last_number(text) == params[1]["W"][2, 1]
    assert short.startswith({"sgd": "b <-", "momentum": "v <-", "nesterov": "v <-",
                             "adam": "t = 4", "rmsprop": "s <-"}[opt])
    assert _last_number(short) == pytest.approx(params[0]["b"][3], rel=1e-3)
    assert opt in UPDATE_FORMULAS


def test_explain_momentum_text_shape() -> None:
    params = [{"W": np.array([[0.5]]), "b": np.array([0.0])}]
    state = init_state(params)
    state.slots["velocity"][0]["W"][0, 0] = 0.0123
    grads = Grads(dW=[np.array([[0.0456]])], db=[np.array([0.0])])
    hp = Hyperparams(optimizer="momentum", lr=0.03, momentum=0.9)
    text = explain_update(params, grads, state, hp, 0, "W", (0, 0))
    assert text == "v <- 0.9 * 0.0123 + 0.0456 = 0.05667; w <- 0.5 - 0.03 * 0.05667 = 0.4983"
    assert state.slots["velocity"][0]["W"][0, 0] == 0.0123  # not mutated
    frozen = [{"W": np.array([[False]]), "b": np.array([True])}]
    assert explain_update(params, grads, state, hp, 0, "W", (0, 0), frozen).startswith("frozen")
    with pytest.raises(ValueError, match="outside"):
        explain_update(params, grads, state, hp, 0, "W", (1, 0))
