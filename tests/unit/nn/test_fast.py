"""The fast path (app.nn.fast) against the numpy reference: every optimizer x
regularization x dropout x freezing on several networks for 1,000 updates,
the pieces it borrows from numpy (BLAS products, SIMD loops, pairwise sums),
divergence, and the fallback when numba cannot load."""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
import pytest

import app.nn
from app.nn import fast, freezing
from app.nn.batches import epoch_batches
from app.nn.model import Model
from app.nn.network import NetworkSpec
from app.nn.optimizers import ALL_SLOTS, OPTIMIZERS, Hyperparams
from app.nn.regularization import REGULARIZATIONS

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
        extra = np.tanh(X @ rng.normal(size=(n_inputs, max(n_outputs - 2, 0))))
        Y = np.column_stack([np.sin(X[:, 0]) + 0.5 * X[:, 1], X[:, 0] * X[:, 1], extra])[:, :n_outputs]
    return X, Y


def _freeze(model: Model, trainable: bool) -> None:
    """A neuron of the first layer and one weight of the last one."""
    freezing.set_neuron(model.trainable, 0, 1, trainable)
    freezing.set_weight(model.trainable, len(model.params) - 1, 0, 0, trainable)


def _same(a: Any, b: Any) -> bool:
    """The same bits (shapes and values; NaN is never equal): the promise between the paths."""
    return np.array_equal(np.asarray(a, dtype=float), np.asarray(b, dtype=float))


def _max_diff(a: Any, b: Any) -> float:
    return float(np.max(np.abs(np.asarray(a, dtype=float) - np.asarray(b, dtype=float)), initial=0.0))


def assert_models_close(fast_model: Model, ref: Model) -> None:
    """Params and every optimizer slot the same bits (NaN never passes)."""
    for l, (p, q) in enumerate(zip(fast_model.params, ref.params, strict=True)):
        for k in ("W", "b"):
            assert _same(p[k], q[k]), f"layer {l} {k} differs by {_max_diff(p[k], q[k])}"
    for name in ALL_SLOTS:
        for l, (p, q) in enumerate(zip(fast_model.opt_state.slots[name], ref.opt_state.slots[name])):
            for k in ("W", "b"):
                assert _same(p[k], q[k]), (
                    f"optimizer slot {name} layer {l} {k} differs by {_max_diff(p[k], q[k])}")


@pytest.fixture
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
    assert _same(fast_losses, ref_losses)
    assert_models_close(fst, ref)
    # The dropout generator is left where the reference leaves it.
    assert ref_rng.random() == fast_rng.random()
    # The last update's gradients (penalty included) and deltas.
    assert result is not None and last is not None
    for l in range(len(hidden) + 1):
        assert _same(result.grads[l]["W"], last.grads.dW[l])
        assert _same(result.grads[l]["b"], last.grads.db[l])
        for k in ("W", "b"):
            assert _same(result.deltas[l][k], last.deltas[l][k])


@pytest.mark.usefixtures("fast_ready")
@pytest.mark.parametrize("frozen", [False, True], ids=["all_trainable", "frozen"])
@pytest.mark.parametrize("drop", [0.0, 0.3], ids=["no_dropout", "dropout"])
@pytest.mark.parametrize("reg", REGULARIZATIONS)
@pytest.mark.parametrize("opt", OPTIMIZERS)
@pytest.mark.parametrize("arch", list(ARCHS))
def test_fast_matches_reference_for_1000_updates(arch: str, opt: str, reg: str, drop: float,
                                                  frozen: bool) -> None:
    _run_both(arch, opt, reg, drop, frozen)


# ------------------------------------------------------------ edge shapes


@pytest.mark.usefixtures("fast_ready")
@pytest.mark.parametrize(("task", "n_inputs", "hidden", "acts", "n_outputs", "n", "batch"), [
    ("playground", 6, (8,) * 6, ("tanh",) * 6, 1, 250, 10),       # the benchmark's network (b)
    ("playground", 2, (4, 2), ("tanh", "tanh"), 1, 300, 300),      # full batch: pairwise sums > 128 terms
    ("binary", 2, (4, 2), ("relu", "tanh"), 1, 40, 1),            # batch of one: vector products
    ("multiclass", 2, (5,), ("relu",), 8, 90, 16),                 # 8 classes: an 8-term row sum
    ("regression", 1, (1, 3), ("tanh", "linear"), 8, 60, 7),       # one input, a one-neuron layer, 8 outputs
    ("binary", 2, (3,), ("leaky_relu",), 1, 30, 30),
])
@pytest.mark.parametrize("opt", ["momentum", "adam"])
def test_fast_matches_reference_on_edge_shapes(task: str, n_inputs: int, hidden: tuple[int, ...],
                                               acts: tuple[str, ...], n_outputs: int, n: int, batch: int,
                                               opt: str) -> None:
    spec = NetworkSpec(n_inputs, hidden, acts, n_outputs, task)
    X, Y = _problem(task, max(n_inputs, 2), n_outputs, n=n, seed=3)
    X = X[:, :n_inputs]
    ref = Model.create(spec, np.random.default_rng(2), "he")
    fst = Model.create(spec, np.random.default_rng(2), "he")
    hp = Hyperparams(optimizer=opt, lr=LR[opt])
    batch_rng = np.random.default_rng(4)
    ref_rng, fast_rng = np.random.default_rng(9), np.random.default_rng(9)
    for _ in range(6):
        epoch_list = epoch_batches(n, batch, batch_rng)
        for idx in epoch_list:
            ref.train_step(X[idx], Y[idx], hp, "l2", 0.001, 0.2, ref_rng)
        result = fast.train_run(spec, fst.params, fst.opt_state, fst.trainable, hp, X, Y, epoch_list,
                                "l2", 0.001, 0.2, fast_rng)
        assert result.done == len(epoch_list)
    assert_models_close(fst, ref)


# ------------------------------------------------------------- the numpy parts


@pytest.mark.usefixtures("fast_ready")
def test_pairwise_sum_is_numpys() -> None:
    from app.nn import fast_kernels

    rng = np.random.default_rng(0)
    for n in [*range(140), 255, 256, 257, 1000, 1031, 4096, 10001]:
        a = rng.normal(size=n) * 10.0 ** rng.uniform(-8, 8, size=n)
        assert fast_kernels._pairwise(a, 0, n, 1) == 0.0 + np.add.reduce(a), n
        if n >= 3:
            m = a.reshape(-1, 1)[: n - n % 3].reshape(-1, 3)  # a column of a matrix: strided
            assert fast_kernels._pairwise(m.ravel(), 1, m.shape[0], 3) == np.add.reduce(m[:, 1].copy()), n


@pytest.mark.usefixtures("fast_ready")
@pytest.mark.parametrize("layout", ["nn", "tn", "nt"])
def test_matrix_products_are_numpys(layout: str) -> None:
    from app.nn import fast_kernels

    rng = np.random.default_rng(1)
    backend = fast._backend
    assert backend is not None
    for m in (1, 2, 3, 5, 10):
        for k in (1, 2, 3, 8, 10):
            for p in (1, 2, 4, 7):
                a, b = rng.normal(size=(m, k)), rng.normal(size=(k, p))
                if layout == "tn":
                    a = np.ascontiguousarray(a.T).T
                if layout == "nt":
                    b = np.ascontiguousarray(b.T).T
                got = fast_kernels.probe_matmul(backend.fp, a.ravel(order="K"), *a.strides,
                                                b.ravel(order="K"), *b.strides, m, k, p)
                assert np.array_equal(got.reshape(m, p), a @ b), (m, k, p)


@pytest.mark.usefixtures("fast_ready")
def test_ufunc_loops_are_numpys() -> None:
    from app.nn import fast_kernels as k

    backend = fast._backend
    assert backend is not None
    x = np.random.default_rng(2).normal(scale=5.0, size=10_000)
    np.testing.assert_array_equal(k.probe_unary(backend.fp, k.FP_TANH, x), np.tanh(x))
    np.testing.assert_array_equal(k.probe_unary(backend.fp, k.FP_EXP, x), np.exp(x))
    np.testing.assert_array_equal(k.probe_unary(backend.fp, k.FP_LOG, np.abs(x)), np.log(np.abs(x)))
    t = np.arange(1, 5001)
    np.testing.assert_array_equal(k.probe_power(backend.fp, 0.9, t.astype(float)), np.power(0.9, t))


# ------------------------------------------------------- divergence, errors


@pytest.mark.usefixtures("fast_ready")
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_stops_after_the_first_non_finite_loss_like_the_reference() -> None:
    spec = NetworkSpec(2, (8, 8), ("relu", "relu"), 2, "regression")
    X, Y = _problem("regression", 2, 2, n=50)
    Y = Y * 1e3
    ref = Model.create(spec, np.random.default_rng(1))
    fst = Model.create(spec, np.random.default_rng(1))
    hp = Hyperparams(optimizer="sgd", lr=5.0)
    batches = epoch_batches(50, 5, np.random.default_rng(2)) * 10
    ref_rng, fast_rng = np.random.default_rng(3), np.random.default_rng(3)
    ref_losses = []
    for idx in batches:
        ref_losses.append(ref.train_step(X[idx], Y[idx], hp, "none", 0.0, 0.5, ref_rng).loss)
        if not np.isfinite(ref_losses[-1]):
            break
    assert not np.isfinite(ref_losses[-1]) and len(ref_losses) < len(batches)
    result = fast.train_run(spec, fst.params, fst.opt_state, fst.trainable, hp, X, Y, batches,
                            "none", 0.0, 0.5, fast_rng)
    assert result.done == len(ref_losses)
    np.testing.assert_array_equal(result.losses, ref_losses)
    for p, q in zip(fst.params, ref.params):
        for k in ("W", "b"):
            np.testing.assert_array_equal(p[k], q[k])  # NaN where the reference has NaN
    # The dropout draws of the updates that did not run are given back.
    assert fast_rng.random() == ref_rng.random()


@pytest.mark.usefixtures("fast_ready")
def test_bad_arguments_are_refused_before_anything_changes() -> None:
    spec = NetworkSpec(2, (3,), ("tanh",), 1, "playground")
    X, Y = _problem("playground", 2, 1, n=20)
    model = Model.create(spec, np.random.default_rng(1))
    before = [{k: v.copy() for k, v in p.items()} for p in model.params]
    ok = [np.arange(10)]
    args: dict[str, Any] = {"spec": spec, "params": model.params, "state": model.opt_state,
                            "trainable": model.trainable, "X": X, "Y": Y}
    with pytest.raises(ValueError, match="lr"):
        fast.train_run(hp=Hyperparams(lr=-1.0), batches=ok, **args)
    with pytest.raises(ValueError, match="indices"):
        fast.train_run(hp=Hyperparams(), batches=[np.array([0, 20])], **args)
    with pytest.raises(ValueError, match="at least one"):
        fast.train_run(hp=Hyperparams(), batches=[np.arange(0)], **args)
    with pytest.raises(ValueError, match="rng"):
        fast.train_run(hp=Hyperparams(), batches=ok, dropout_rate=0.5, **args)
    with pytest.raises(ValueError, match="dropout rate"):
        fast.train_run(hp=Hyperparams(), batches=ok, dropout_rate=0.95, rng=np.random.default_rng(), **args)
    with pytest.raises(ValueError, match="regularization"):
        fast.train_run(hp=Hyperparams(), batches=ok, reg_kind="l3", **args)
    for p, b in zip(model.params, before):
        np.testing.assert_array_equal(p["W"], b["W"])


def test_the_comparison_catches_a_difference() -> None:
    spec = NetworkSpec(2, (3,), ("tanh",), 1, "playground")
    a = Model.create(spec, np.random.default_rng(1))
    b = Model.create(spec, np.random.default_rng(1))
    assert_models_close(a, b)
    b.params[0]["W"][1, 2] = np.nextafter(b.params[0]["W"][1, 2], np.inf)  # one bit off
    with pytest.raises(AssertionError, match="layer 0 W"):
        assert_models_close(a, b)
    b.params[0]["W"][1, 2] = a.params[0]["W"][1, 2]
    b.opt_state.slots["t"][1]["b"][0] = 1
    with pytest.raises(AssertionError, match="slot t"):
        assert_models_close(a, b)


# ---------------------------------------------------------------- fallback


@pytest.fixture
def forget_fast() -> Any:
    """Let a test break the fast path; afterwards it is loaded afresh."""
    fast.reset()
    yield
    fast.reset()


def test_without_numba_the_fast_path_is_unavailable_and_says_why(monkeypatch, forget_fast) -> None:
    monkeypatch.setitem(sys.modules, "numba", None)  # "import numba" now raises ImportError
    monkeypatch.delitem(sys.modules, "app.nn.fast_kernels", raising=False)
    monkeypatch.delattr(app.nn, "fast_kernels", raising=False)  # so that it is imported again
    assert not fast.available()
    assert "numba" in (fast.reason() or "") and "ModuleNotFoundError" in (fast.reason() or "")
    spec = NetworkSpec(2, (3,), ("tanh",), 1, "playground")
    model = Model.create(spec, np.random.default_rng(1))
    X, Y = _problem("playground", 2, 1, n=10)
    with pytest.raises(RuntimeError, match="fast path unavailable"):
        fast.train_run(spec, model.params, model.opt_state, model.trainable, Hyperparams(), X, Y, [np.arange(10)])


def test_a_kernel_that_disagrees_with_numpy_is_not_used(monkeypatch, forget_fast) -> None:
    from app.nn import fast_kernels, numpy_abi

    real = numpy_abi.entry_points

    def swapped() -> np.ndarray:
        fp = real().copy()
        fp[[fast_kernels.FP_TANH, fast_kernels.FP_EXP]] = fp[[fast_kernels.FP_EXP, fast_kernels.FP_TANH]]
        return fp

    monkeypatch.setattr(numpy_abi, "entry_points", swapped)
    assert not fast.available()
    assert "tanh" in (fast.reason() or "")


def test_a_numpy_without_64_bit_blas_is_reported(monkeypatch, forget_fast) -> None:
    from app.nn import numpy_abi

    monkeypatch.setattr(numpy_abi, "_ILP64_NAMES", (("no_such_", "_symbol"),))
    assert not fast.available()
    assert "cblas_dgemm" in (fast.reason() or "")


def test_disable_and_wait_false(forget_fast) -> None:
    fast.disable("switched off for a test")
    assert not fast.available() and not fast.available(wait=False)
    assert fast.reason() == "switched off for a test"
    fast.reset()
    assert fast.available(wait=False) == fast.available()  # nobody else compiling: loads now
