"""Centred finite differences (float64) against backward, cs231n style.

Every hidden activation x task x regularization, every parameter array, and
dL/dZ of every layer. Relative error ||a - n|| / max(||a||, ||n||) < 1e-7 per
array. ReLU / leaky ReLU and L1 have kinks at 0: the inputs are drawn so that
every pre-activation and every weight is at least MARGIN away from 0, far more
than a step of H can move it.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from app.nn.activations import ACTIVATIONS
from app.nn.dropout import make_masks
from app.nn.losses import TASKS
from app.nn.network import NetworkSpec, backward, forward, init_params
from app.nn.regularization import add_penalty_grad, penalty

H = 1e-5
MARGIN = 1e-3
TOL = 1e-7
N_OUT = {"binary": 1, "playground": 1, "multiclass": 3, "regression": 2, "hinge": 1}


def _rel_error(a: np.ndarray, n: np.ndarray) -> float:
    scale = max(np.linalg.norm(a), np.linalg.norm(n))
    return 0.0 if scale == 0 else float(np.linalg.norm(a - n) / scale)


def _targets(task: str, n: int, rng: np.random.Generator) -> np.ndarray:
    if task == "binary":
        return rng.integers(0, 2, size=(n, 1)).astype(float)
    if task in ("playground", "hinge"):
        return rng.choice([-1.0, 1.0], size=(n, 1))
    if task == "multiclass":
        return np.eye(3)[rng.integers(0, 3, size=n)]
    return rng.normal(size=(n, 2))


def _problem(spec: NetworkSpec, seed: int, masks_rate: float = 0.0):  # type: ignore[no-untyped-def]
    """Params, X, Y and masks with no pre-activation or weight near a kink."""
    for attempt in range(200):
        rng = np.random.default_rng(seed * 1000 + attempt)
        params = init_params(spec, "glorot", rng)
        for p in params:
            p["b"] = rng.normal(0.0, 0.5, size=p["b"].shape)
        X = rng.normal(size=(6, spec.n_inputs))
        Y = _targets(spec.task, 6, rng)
        masks = make_masks(spec, masks_rate, 6, rng) if masks_rate else None
        _, cache = forward(spec, params, X, masks)
        # hinge: its kink is at margin 0; points outside the margin carry no gradient, and the
        # bias's is -sum(t)/N over those inside (0 when their labels balance)
        margin = 1.0 - Y * cache.Z[-1]
        if spec.task == "hinge" and (np.abs(margin).min() <= MARGIN or Y[margin > 0].sum() == 0):
            continue
        if all(np.abs(Z).min() > MARGIN for Z in cache.Z) and all(
            np.abs(p["W"]).min() > MARGIN for p in params
        ):
            return params, X, Y, masks
    raise AssertionError("no kink-free draw found")


def _total_loss(spec, params, X, Y, masks, reg, rate) -> float:  # type: ignore[no-untyped-def]
    out, cache = forward(spec, params, X, masks)
    return TASKS[spec.task].loss(out, Y, cache.Z[-1]) + penalty(params, reg, rate)


def _check_params(spec: NetworkSpec, seed: int, reg: str, rate: float,
                  dropout: float = 0.0) -> None:
    params, X, Y, masks = _problem(spec, seed, dropout)
    _, cache = forward(spec, params, X, masks)
    grads = backward(spec, params, cache, Y)
    add_penalty_grad(params, grads, reg, rate)
    for l, layer in enumerate(params):
        for kind, analytic in (("W", grads.dW[l]), ("b", grads.db[l])):
            arr = layer[kind]
            numeric = np.zeros_like(arr)
            for idx in np.ndindex(arr.shape):
                old = arr[idx]
                arr[idx] = old + H
                plus = _total_loss(spec, params, X, Y, masks, reg, rate)
                arr[idx] = old - H
                minus = _total_loss(spec, params, X, Y, masks, reg, rate)
                arr[idx] = old
                numeric[idx] = (plus - minus) / (2 * H)
            assert np.linalg.norm(numeric) > 1e-6, "degenerate check: gradient ~ 0"
            err = _rel_error(analytic, numeric)
            assert err < TOL, f"layer {l} {kind}: relative error {err:.2e}"


@pytest.mark.parametrize(
    "activation,task,reg",
    list(itertools.product(ACTIVATIONS, TASKS, ("none", "l1", "l2"))),
)
def test_param_gradients(activation: str, task: str, reg: str) -> None:
    spec = NetworkSpec(3, (5, 4), (activation, activation), N_OUT[task], task)
    _check_params(spec, seed=len(activation) + len(task), reg=reg, rate=0.05)


@pytest.mark.parametrize("task", list(TASKS))
def test_gradients_through_dropout_and_mixed_deep_net(task: str) -> None:
    acts = ("tanh", "relu", "sigmoid", "leaky_relu", "linear")
    spec = NetworkSpec(4, (6, 5, 4, 3, 3), acts, N_OUT[task], task)
    _check_params(spec, seed=3, reg="l2", rate=0.01, dropout=0.3)


def test_gradients_without_hidden_layers() -> None:
    for task in TASKS:
        spec = NetworkSpec(3, (), (), N_OUT[task], task)
        _check_params(spec, seed=5, reg="l1", rate=0.02)


def _loss_with_offset(spec, params, X, Y, layer, idx, eps) -> float:  # type: ignore[no-untyped-def]
    """The network re-run by hand with ``eps`` added to one entry of Z[layer]."""
    A = X
    n_hidden = len(spec.hidden)
    for l, p in enumerate(params):
        Z = A @ p["W"] + p["b"]
        if l == layer:
            Z[idx] += eps
        A = ACTIVATIONS[spec.activations[l]].value(Z) if l < n_hidden else TASKS[
            spec.task].output(Z)
    return TASKS[spec.task].loss(A, Y, Z)


@pytest.mark.parametrize(
    "activation,task", list(itertools.product(ACTIVATIONS, TASKS))
)
def test_dZ_per_sample_and_neuron(activation: str, task: str) -> None:
    spec = NetworkSpec(3, (5, 4), (activation, activation), N_OUT[task], task)
    params, X, Y, _ = _problem(spec, seed=11)
    _, cache = forward(spec, params, X)
    grads = backward(spec, params, cache, Y)
    assert len(grads.dZ) == spec.n_layers
    for l, dZ in enumerate(grads.dZ):
        assert dZ.shape == cache.Z[l].shape
        numeric = np.zeros_like(dZ)
        for idx in np.ndindex(dZ.shape):
            plus = _loss_with_offset(spec, params, X, Y, l, idx, H)
            minus = _loss_with_offset(spec, params, X, Y, l, idx, -H)
            numeric[idx] = (plus - minus) / (2 * H)
        err = _rel_error(dZ, numeric)
        assert err < TOL, f"dZ[{l}]: relative error {err:.2e}"
        # dW and db are exactly the contractions of dZ with the layer input.
        np.testing.assert_allclose(grads.db[l], dZ.sum(axis=0), rtol=0, atol=1e-15)
        np.testing.assert_allclose(grads.dW[l], cache.A[l].T @ dZ, rtol=0, atol=1e-15)
