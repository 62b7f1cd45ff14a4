"""The fast path (app.nn.fast) against the numpy reference: every optimizer x
regularization x dropout x freezing on several networks for 1,000 updates,
the pieces it borrows from numpy (BLAS products, SIMD loops, pairwise sums),
divergence, and the fallback when numba cannot load."""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
import pytest

from app.nn import fast, freezing
from app.nn.batches import epoch_batches
from app.nn.model import Model
from app.nn.network import NetworkSpec
from app.nn.optimizers import ALL_SLOTS, OPTIMIZERS, Hyperparams
from app.nn.regularization import REGULARIZATIONS

TOL = 1e-12  # the bar; in practice both paths give the same bits (see docs/performance.md)
STEPS = 1000

# (task, n_inputs, hidden, activations, n_outputs)
ARCHS: dict[str, tuple[str, int, tuple[int, ...], tuple[str, ...], int]] = {
    "playground_tanh_4_2": ("playground", 2, (4, 2), ("tanh", "tanh"), 1),
    "binary_relu_8_8": ("binary", 2, (8, 8), ("relu", "relu"), 1),
    "multiclass3_sigmoid_6": ("multiclass", 3, (6,), ("sigmoid",), 3),
    "regression_linear_sigmoid_leaky": ("regression", 2, (5, 4, 3), ("linear", "sigmoid", "leaky_relu"), 2),
    "multiclass3_no_hidden": ("multiclass", 2, (), (), 3),
}
LR = {"sgd": 0.1, "momentum": 0.05, "nesterov": 0.05, "adam": 0.01, "rmsprop": 0.005}


def _problem(task: str, n_inputs: int, n_outputs: int, n: int = 100, seed: int = 0
             ) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, n_inputs))
    r2 = X[:, 0] ** 2 + X[:, 1] ** 2
    if task == "playground":
        Y = np.where(r2 > 1.2, 1.0, -1.0)[:, None]
    elif task == "binary":
        Y = (X[:, :1] * X[:, 1:2] > 0).astype(float)
    elif task == "multiclass":
        Y = np.eye(n_outputs)[(np.floor(np.arctan2(X[:, 1], X[:, 0]) / (2 * np.pi) * n_outputs)
                               .astype(int)) % n_outputs]
    else:
        Y = np.stack([np.sin(X[:, 0]) + 0.5 * X[:, 1], X[:, 0] * X[:, 1]], axis=1)[:, :n_outputs]
    return X, Y


def _freeze(model: Model, trainable: bool) -> None:
    """A neuron of the first layer and one weight of the last one."""
    freezing.set_neuron(model.trainable, 0, 1, trainable)
    freezing.set_weight(model.trainable, len(model.params) - 1, 0, 0, trainable)


def _max_diff(a: Any, b: Any) -> float:
    return float(np.max(np.abs(np.asarray(a, dtype=float) - np.asarray(b, dtype=float)), initial=0.0))


def assert_models_close(fast_model: Model, ref: Model, tol: float = TOL) -> None:
    """Params and every optimizer slot within ``tol`` (NaN never passes)."""
    for l, (p, q) in enumerate(zip(fast_model.params, ref.params, strict=True)):
        for k in ("W", "b"):
            d = _max_diff(p[k], q[k])
            assert d < tol, f"layer {l} {k} differs by {d}"
    for name in ALL_SLOTS:
        for l, (p, q) in enumerate(zip(fast_model.opt_state.slots[name], ref.opt_state.slots[name])):
            for k in ("W", "b"):
                d = _max_diff(p[k], q[k])
                assert d < tol, f"optimizer slot {name} layer {l} {k} differs by {d}"


@pytest.fixture(scope="module")
def fast_ready() -> None:
    if not fast.available():
        pytest.skip(f"fast path unavailable: {fast.reason()}")  # test_fast_path_is_available fails


def test_fast_path_is_available() -> None:
    assert fast.available(), fast.reason()
    assert fast.reason() is None


def _run_both(arch: str, opt: str, reg: str, drop: float, frozen: bool, steps: int = STEPS) -> None:
    task, n_inputs, hidden, acts, n_outputs = ARCHS[arch]
    spec = NetworkSpec(n_inputs, hidden, acts, n_outputs, task)
    X, Y = _problem(task, n_inputs, n_outputs)
    ref = Model.create(spec, np.random.default_rng(1))
    fst = Model.create(spec, np.random.default_rng(1))
    if frozen:
        _freeze(ref, False)
        _freeze(fst, False)
    batch_rng = np.random.default_rng(5)
    batches: list[np.ndarray] = []
    while len(batches) < steps:
        batches.extend(epoch_batches(len(X), 10, batch_rng))
    rate = 0.01 if reg != "none" else 0.0
    ref_rng, fast_rng = np.random.default_rng(7), np.random.default_rng(7)
    ref_hp, fast_hp = Hyperparams(optimizer=opt, lr=LR[opt]), Hyperparams(optimizer=opt, lr=LR[opt])

    def change(step: int, hp: Hyperparams, model: Model) -> None:
        # Mid-run changes: a slider move at 400 and an unfreeze at 600 (Adam's
        # per-entry t then differs between entries).
        if step == 400:
            hp.lr, hp.momentum, hp.beta1, hp.rho = hp.lr / 2, 0.5, 0.8, 0.9
        if step == 600 and frozen:
            _freeze(model, True)

    ref_losses, fast_losses = [], []
    last = None
    for step, idx in enumerate(batches[:steps]):
        change(step, ref_hp, ref)
        last = ref.train_step(X[idx], Y[idx], ref_hp, reg, rate, drop, ref_rng)
        ref_losses.append(last.loss)
    step, i, result = 0, 0, None
    sizes = [1, 7, 64, 25, 3]  # uneven runs, cut at the change points
    while step < steps:
        stop = min(steps, step + sizes[i % len(sizes)], *(s for s in (400, 600) if s > step))
        change(step, fast_hp, fst)
        result = fast.train_run(spec, fst.params, fst.opt_state, fst.trainable, fast_hp, X, Y,
                                batches[step:stop], reg, rate, drop, fast_rng)
        assert result.done == stop - step
        fast_losses.extend(result.losses.tolist())
        step, i = stop, i + 1
    assert _max_diff(fast_losses, ref_losses) < TOL
    assert_models_close(fst, ref)
    # The dropout generator is left where the reference leaves it.
    assert ref_rng.random() == fast_rng.random()
    # The last update's gradients (penalty included) and deltas.
    assert result is not None and last is not None
    for l in range(len(hidden) + 1):
        assert _max_diff(result.grads[l]["W"], last.grads.dW[l]) < TOL
        assert _max_diff(result.grads[l]["b"], last.grads.db[l]) < TOL
        for k in ("W", "b"):
            assert _max_diff(result.deltas[l][k], last.deltas[l][k]) < TOL


@pytest.mark.usefixtures("fast_ready")
@pytest.mark.parametrize("frozen", [False, True], ids=["all_trainable", "frozen"])
@pytest.mark.parametrize("drop", [0.0, 0.3], ids=["no_dropout", "dropout"])
@pytest.mark.parametrize("reg", REGULARIZATIONS)
@pytest.mark.parametrize("opt", OPTIMIZERS)
@pytest.mark.parametrize("arch", list(ARCHS))
def test_fast_matches_reference_for_1000_updates(arch: str, opt: str, reg: str, drop: float,
                                                  frozen: bool) -> None:
    _run_both(arch, opt, reg, drop, frozen)
