"""``fast.evaluate`` (the compiled metrics) against ``network.evaluate`` (numpy's
forward, ``Task.loss`` with the output layer's z, ``Task.accuracy``): the same
bits for every task x activation, on shapes that take each of numpy's matrix
product branches, at values that saturate or overflow; and the fallback."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from app.nn import fast, network
from app.nn.activations import ACTIVATIONS
from app.nn.losses import TASKS
from app.nn.model import Model
from app.nn.network import NetworkSpec

N_OUTPUTS = {"binary": 1, "playground": 1, "multiclass": 8, "regression": 3, "hinge": 1}
# (n_inputs, hidden, n): one input (an inner dimension of 1: numpy's plain loop),
# one row (vector @ matrix: gemv), a one-neuron layer (matrix @ vector), no
# hidden layer, and splits longer than 128 rows (numpy's pairwise sum recurses).
SHAPES = [
    (2, (4, 2), 250),
    (1, (3,), 7),
    (2, (4, 2), 1),
    (3, (1, 5), 40),
    (2, (), 129),
    (6, (8, 8, 8), 3000),
]
# Weight scales: |z| around 0.001 (everything linear), 1, 40 (sigmoid's and
# tanh's tails, softmax and logaddexp far from 0), 1e3 (exp underflows to 0,
# probabilities round to 0 and 1) and 1e200 (products overflow: inf and NaN).
SCALES = [1e-3, 1.0, 40.0, 1e3, 1e200]


def same_bits(a: float | None, b: float | None) -> bool:
    """Equal bits (so 0.0 and -0.0 differ); any NaN matches any NaN (a session
    shows neither: a non-finite loss is sent as null)."""
    if a is None or b is None:
        return a is b
    if math.isnan(a) and math.isnan(b):
        return True
    return np.float64(a).tobytes() == np.float64(b).tobytes()


def assert_same(got: tuple[float, float | None], want: tuple[float, float | None], what: Any) -> None:
    assert same_bits(got[0], want[0]), f"loss {got[0]!r} != {want[0]!r} ({what})"
    assert same_bits(got[1], want[1]), f"accuracy {got[1]!r} != {want[1]!r} ({what})"


def _targets(task: str, n: int, rng: np.random.Generator) -> np.ndarray:
    labels = {
        "binary": lambda: rng.integers(0, 2, size=n),
        "playground": lambda: rng.choice([-1, 1], size=n),
        "hinge": lambda: rng.choice([-1, 1], size=n),
        "multiclass": lambda: rng.integers(0, N_OUTPUTS["multiclass"], size=n),
        "regression": lambda: rng.normal(size=(n, N_OUTPUTS["regression"])),
    }[task]()
    if task == "multiclass":
        return TASKS[task].targets(labels, N_OUTPUTS[task])
    return TASKS[task].targets(labels)


def _network(task: str, act: str, n_inputs: int, hidden: tuple[int, ...], scale: float,
             seed: int) -> tuple[NetworkSpec, network.Params]:
    spec = NetworkSpec(n_inputs, hidden, (act,) * len(hidden), N_OUTPUTS[task], task)
    params = Model.create(spec, np.random.default_rng(seed), "he").params
    bias_rng = np.random.default_rng(seed + 1)
    for p in params:
        p["W"] *= scale
        p["b"][:] = bias_rng.normal(size=p["b"].shape)
    return spec, params


@pytest.fixture
def fast_ready() -> None:
    if not fast.available():
        pytest.fail(f"fast path unavailable: {fast.reason()}")


@pytest.mark.usefixtures("fast_ready")
@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # overflow at the largest scale, on both paths
@pytest.mark.parametrize("scale", SCALES)
@pytest.mark.parametrize("act", list(ACTIVATIONS))
@pytest.mark.parametrize("task", list(TASKS))
def test_evaluate_gives_the_reference_bits(task: str, act: str, scale: float) -> None:
    for case, (n_inputs, hidden, n) in enumerate(SHAPES):
        spec, params = _network(task, act, n_inputs, hidden, scale, seed=case)
        rng = np.random.default_rng(100 + case)
        X = rng.normal(scale=3.0, size=(n, n_inputs))
        Y = _targets(task, n, rng)
        assert_same(fast.evaluate(spec, params, X, Y), network.evaluate(spec, params, X, Y),
                    (n_inputs, hidden, n))


@pytest.mark.usefixtures("fast_ready")
@pytest.mark.parametrize("task", list(TASKS))
def test_evaluate_at_zero_and_with_any_targets(task: str) -> None:
    """z exactly 0 everywhere (zero weights: relu's kink, logaddexp(0, 0), outputs
    on the accuracy threshold), and targets that are not labels: ties and NaN
    for argmax, values on both sides of the thresholds."""
    for act in ACTIVATIONS:
        spec = NetworkSpec(2, (3,), (act,), N_OUTPUTS[task], task)
        zeros = Model.create(spec, np.random.default_rng(0), "zeros").params
        rng = np.random.default_rng(1)
        X = rng.normal(size=(50, 2))
        X[:5] = 0.0
        Y = rng.choice([-1.0, 0.0, 0.5, 1.0, 2.0], size=(50, spec.n_outputs))
        Y[3] = np.nan
        Y[4, -1] = np.nan
        trained = Model.create(spec, np.random.default_rng(2)).params
        for params in (zeros, trained):
            assert_same(fast.evaluate(spec, params, X, Y), network.evaluate(spec, params, X, Y), act)


@pytest.mark.usefixtures("fast_ready")
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("task", list(TASKS))
def test_evaluate_with_non_finite_parameters_and_inputs(task: str) -> None:
    """A diverged network: NaN and inf in the weights or the data give NaN (or
    inf) losses and accuracies counted on NaN outputs, as numpy's."""
    spec = NetworkSpec(2, (4, 2), ("relu", "tanh"), N_OUTPUTS[task], task)
    rng = np.random.default_rng(3)
    X = rng.normal(size=(30, 2))
    Y = _targets(task, 30, rng)
    for where, value in (((0, "W", (0, 1)), np.nan), ((1, "b", (0,)), np.inf), ((2, "W", (1, 0)), -np.inf)):
        params = Model.create(spec, np.random.default_rng(4)).params
        layer, kind, index = where
        params[layer][kind][index] = value
        assert_same(fast.evaluate(spec, params, X, Y), network.evaluate(spec, params, X, Y), where)
    params = Model.create(spec, np.random.default_rng(4)).params
    X[7, 1] = np.inf
    X[9, 0] = np.nan
    assert_same(fast.evaluate(spec, params, X, Y), network.evaluate(spec, params, X, Y), "data")


def test_the_comparison_catches_a_difference() -> None:
    assert same_bits(0.25, 0.25) and same_bits(None, None) and same_bits(math.nan, -math.nan)
    assert not same_bits(0.25, 0.25 + 2**-54)
    assert not same_bits(0.0, -0.0)
    assert not same_bits(0.5, None)
    with pytest.raises(AssertionError, match="accuracy"):
        assert_same((0.1, 0.5), (0.1, 0.52), "test")


# ---------------------------------------------------------------- fallback


@pytest.fixture
def forget_fast() -> Any:
    fast.reset()
    yield
    fast.reset()


def _problem() -> tuple[NetworkSpec, network.Params, np.ndarray, np.ndarray]:
    spec = NetworkSpec(2, (4, 2), ("tanh", "sigmoid"), 1, "binary")
    rng = np.random.default_rng(5)
    X = rng.normal(size=(60, 2))
    return spec, Model.create(spec, np.random.default_rng(6)).params, X, _targets("binary", 60, rng)


@pytest.fixture
def kernel_calls(monkeypatch, fast_ready) -> list[int]:
    """Counts the calls of the compiled evaluation."""
    calls: list[int] = []
    backend = fast._backend
    assert backend is not None
    real = backend.kernels.evaluate

    def spy(*args: Any) -> Any:
        calls.append(1)
        return real(*args)

    monkeypatch.setattr(backend.kernels, "evaluate", spy)
    return calls


def test_evaluate_runs_the_kernel_when_it_can(kernel_calls: list[int]) -> None:
    spec, params, X, Y = _problem()
    assert_same(fast.evaluate(spec, params, X, Y), network.evaluate(spec, params, X, Y), "plain")
    # Read-only arrays (numba would compile anew for them) are copied, not refused.
    X.flags.writeable = Y.flags.writeable = False
    assert_same(fast.evaluate(spec, params, X, Y), network.evaluate(spec, params, X, Y), "read-only")
    assert kernel_calls == [1, 1]


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the mean of an empty split
def test_inputs_the_kernel_does_not_take_go_to_the_reference(kernel_calls: list[int]) -> None:
    spec, params, X, Y = _problem()
    # Not C-contiguous: numpy's product would call BLAS with other strides.
    for strided in (np.asfortranarray(X), np.repeat(X, 2, axis=1)[:, ::2]):
        assert_same(fast.evaluate(spec, params, strided, Y), network.evaluate(spec, params, X, Y), "strided")
    loss, acc = fast.evaluate(spec, params, X[:0], Y[:0])
    assert math.isnan(loss) and acc is not None and math.isnan(acc)
    with pytest.raises(ValueError, match="shape"):
        fast.evaluate(spec, params, X[:, :1], Y)
    assert kernel_calls == []


def test_without_the_fast_path_evaluate_is_the_reference(forget_fast, monkeypatch) -> None:
    spec, params, X, Y = _problem()
    want = network.evaluate(spec, params, X, Y)
    fast.disable("switched off for a test")
    assert_same(fast.evaluate(spec, params, X, Y), want, "disabled")
    # While another thread compiles the kernel, evaluate does not wait for it.
    fast.reset()
    monkeypatch.setattr(fast, "_status", "compiling")
    assert_same(fast.evaluate(spec, params, X, Y), want, "compiling")
    assert fast._backend is None
