"""The hinge task: its loss, targets, subgradient at the kink, accuracy by sign, a
centred-difference gradient check, and the fast path's kernel against the numpy
reference bit for bit. (The PyTorch trajectories are in tests/golden.)"""

from __future__ import annotations

import numpy as np
import pytest

from app.nn import fast
from app.nn.batches import epoch_batches
from app.nn.losses import TASKS
from app.nn.model import Model
from app.nn.network import NetworkSpec, backward, evaluate, forward, init_params
from app.nn.optimizers import OPTIMIZERS, Hyperparams
from app.nn.regularization import REGULARIZATIONS, add_penalty_grad, penalty

HINGE = TASKS["hinge"]


def test_targets_are_plus_and_minus_one_from_class_labels() -> None:
    np.testing.assert_array_equal(HINGE.targets(np.array([0, 1, 1, 0])), [[-1.0], [1.0], [1.0], [-1.0]])
    np.testing.assert_array_equal(HINGE.targets(np.array([-1, 1])), [[-1.0], [1.0]])
    with pytest.raises(ValueError, match="hinge labels"):
        HINGE.targets(np.array([0, 2]))


def test_loss_and_gradient_by_hand() -> None:
    f = np.array([[2.0], [0.5], [-0.25], [1.0], [-3.0]])
    t = np.array([[1.0], [1.0], [1.0], [1.0], [1.0]]) * np.array([[1], [1], [1], [1], [-1]])
    # margins 1 - t f: -1 (outside), 0.5, 1.25, 0 (on the margin: the kink), -2 (outside)
    assert HINGE.loss(HINGE.output(f), t) == pytest.approx((0 + 0.5 + 1.25 + 0 + 0) / 5, rel=1e-15)
    dz = HINGE.dz(f, t)
    # -t/N strictly inside the margin; at exactly 1 - t f == 0 the subgradient 0 (PyTorch's relu gives 0 there)
    np.testing.assert_array_equal(dz, [[0.0], [-0.2], [-0.2], [0.0], [0.0]])
    np.testing.assert_array_equal(HINGE.output(f), f)  # a linear output


def test_accuracy_is_by_sign() -> None:
    f = np.array([[0.3], [-0.1], [2.0], [-5.0]])
    t = np.array([[1.0], [1.0], [-1.0], [-1.0]])
    assert HINGE.accuracy(f, t) == 0.5


def _rel_error(a: np.ndarray, n: np.ndarray) -> float:
    scale = max(np.linalg.norm(a), np.linalg.norm(n))
    return 0.0 if scale == 0 else float(np.linalg.norm(a - n) / scale)


@pytest.mark.parametrize("hidden", [(), (5,), (4, 3)], ids=["linear_svm", "one_hidden", "two_hidden"])
@pytest.mark.parametrize("reg", ["none", "l2"])
def test_centred_difference_gradient(hidden: tuple[int, ...], reg: str) -> None:
    spec = NetworkSpec(3, hidden, ("tanh",) * len(hidden), 1, "hinge")
    for attempt in range(100):
        rng = np.random.default_rng(100 + attempt)
        params = init_params(spec, "glorot", rng)
        X = rng.normal(size=(12, 3))
        Y = rng.choice([-1.0, 1.0], size=(12, 1))
        _, cache = forward(spec, params, X)
        margin = 1.0 - Y * cache.Z[-1]
        # away from the kink (a step of 1e-5 cannot cross it), and some points on each side of the margin
        if np.abs(margin).min() > 1e-3 and 2 <= (margin > 0).sum() <= 10 and Y[margin > 0].sum() != 0:
            break
    else:
        raise AssertionError("no draw away from the kink")
    grads = backward(spec, params, cache, Y)
    add_penalty_grad(params, grads, reg, 0.05)

    def total() -> float:
        out, c = forward(spec, params, X)
        return HINGE.loss(out, Y, c.Z[-1]) + penalty(params, reg, 0.05)

    h = 1e-5
    for l, layer in enumerate(params):
        for kind, analytic in (("W", grads.dW[l]), ("b", grads.db[l])):
            arr = layer[kind]
            numeric = np.zeros_like(arr)
            for idx in np.ndindex(arr.shape):
                old = arr[idx]
                arr[idx] = old + h
                plus = total()
                arr[idx] = old - h
                minus = total()
                arr[idx] = old
                numeric[idx] = (plus - minus) / (2 * h)
            assert np.linalg.norm(numeric) > 1e-6
            assert _rel_error(analytic, numeric) < 1e-7, f"layer {l} {kind}"


def test_the_gradient_check_sees_a_wrong_sign() -> None:
    # The comparison above can fail: a gradient of the wrong sign is far from the centred difference.
    f = np.array([[0.2], [-0.4]])
    t = np.array([[1.0], [1.0]])
    numeric = (HINGE.loss(f + 1e-5, t) - HINGE.loss(f - 1e-5, t)) / 2e-5
    assert numeric == pytest.approx(float(HINGE.dz(f, t).sum()), rel=1e-7)
    assert _rel_error(-HINGE.dz(f, t).sum(keepdims=True), np.array([[numeric]])) > 1


def _problem(n: int = 80, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2))
    Y = np.where(X[:, 0] - 0.7 * X[:, 1] + 0.3 * rng.normal(size=n) > 0, 1.0, -1.0)[:, None]
    return X, Y


@pytest.fixture
def fast_ready() -> None:
    if not fast.available():
        pytest.skip(f"fast path unavailable: {fast.reason()}")  # tests/unit/nn/test_fast.py fails then


def _same(a: object, b: object) -> bool:
    return np.array_equal(np.asarray(a, dtype=float), np.asarray(b, dtype=float))


@pytest.mark.usefixtures("fast_ready")
@pytest.mark.parametrize("drop", [0.0, 0.3], ids=["no_dropout", "dropout"])
@pytest.mark.parametrize("reg", REGULARIZATIONS)
@pytest.mark.parametrize("opt", OPTIMIZERS)
@pytest.mark.parametrize("hidden", [(), (4, 3)], ids=["linear_svm", "hidden"])
def test_fast_path_gives_the_reference_bits(hidden: tuple[int, ...], opt: str, reg: str, drop: float) -> None:
    spec = NetworkSpec(2, hidden, ("relu",) * len(hidden), 1, "hinge")
    X, Y = _problem()
    ref = Model.create(spec, np.random.default_rng(1))
    fst = Model.create(spec, np.random.default_rng(1))
    batch_rng = np.random.default_rng(5)
    batches: list[np.ndarray] = []
    while len(batches) < 500:
        batches.extend(epoch_batches(len(X), 10, batch_rng))
    batches = batches[:500]
    rate = 0.01 if reg != "none" else 0.0
    hp = Hyperparams(optimizer=opt, lr=0.01 if opt in ("adam", "rmsprop") else 0.05)
    ref_rng, fast_rng = np.random.default_rng(7), np.random.default_rng(7)
    ref_losses = [ref.train_step(X[idx], Y[idx], hp, reg, rate, drop, ref_rng).loss for idx in batches]
    losses: list[float] = []
    for start in range(0, 500, 37):  # uneven runs
        result = fast.train_run(spec, fst.params, fst.opt_state, fst.trainable, hp, X, Y,
                                batches[start:start + 37], reg, rate, drop, fast_rng)
        losses.extend(result.losses.tolist())
    assert _same(losses, ref_losses)
    for p, q in zip(fst.params, ref.params, strict=True):
        assert _same(p["W"], q["W"]) and _same(p["b"], q["b"])
    assert fast.evaluate(spec, fst.params, X, Y) == evaluate(spec, ref.params, X, Y)
    # it trained: the points are mostly separated
    assert evaluate(spec, ref.params, X, Y)[1] > 0.8


@pytest.mark.usefixtures("fast_ready")
def test_fast_path_takes_the_subgradient_at_the_kink() -> None:
    # Points exactly on the margin (1 - t f == 0): both paths give them no gradient.
    spec = NetworkSpec(1, (), (), 1, "hinge")
    X = np.array([[1.0], [-1.0], [0.5], [0.0]])
    Y = np.array([[1.0], [-1.0], [1.0], [-1.0]])
    params = [{"W": np.array([[1.0]]), "b": np.array([0.0])}]  # f = x: margins 0, 0, 0.5, 1
    ref = Model(spec=spec, params=[{k: v.copy() for k, v in p.items()} for p in params])
    fst = Model(spec=spec, params=[{k: v.copy() for k, v in p.items()} for p in params])
    hp = Hyperparams(optimizer="sgd", lr=1.0)
    step = ref.train_step(X, Y, hp, "none", 0.0)
    np.testing.assert_array_equal(step.grads.dW[0], [[-0.5 / 4]])  # only x = 0.5 (t = 1) and x = 0 (t = -1)
    np.testing.assert_array_equal(step.grads.db[0], [0.0])
    result = fast.train_run(spec, fst.params, fst.opt_state, fst.trainable, hp, X, Y, [np.arange(4)], "none", 0.0)
    assert _same(result.grads[0]["W"], step.grads.dW[0]) and _same(result.grads[0]["b"], step.grads.db[0])
    assert _same(fst.params[0]["W"], ref.params[0]["W"])


@pytest.mark.usefixtures("fast_ready")
@pytest.mark.parametrize("hidden", [(), (4,)], ids=["linear_svm", "hidden"])
def test_a_hinge_session_on_the_fast_path_matches_the_reference_session(hidden: tuple[int, ...],
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    # End to end through TrainingSession (the path a page's run takes): the same bits, metrics,
    # history and support vectors, with dropout on the hidden network.
    from app.training.config import HyperState, RunConfig
    from app.training.session import TrainingSession

    runs = []
    real_run = fast.train_run
    monkeypatch.setattr(fast, "train_run", lambda *a, **k: runs.append(1) or real_run(*a, **k))
    sessions = []
    for use_fast in (True, False):
        hyper = HyperState()
        hyper.regularization, hyper.reg_rate, hyper.dropout = "l2", 0.01, 0.2 if hidden else 0.0
        s = TrainingSession(RunConfig(dataset="xor" if hidden else "gauss", task="hinge", hidden=hidden), hyper)
        s.fast = use_fast
        before = len(runs)
        s.advance(700)
        assert (len(runs) > before) == use_fast  # the fast session ran the kernel, the other did not
        sessions.append(s)
    fst, ref = sessions
    assert fst.step == ref.step == 700
    for p, q in zip(fst.params, ref.params, strict=True):
        assert _same(p["W"], q["W"]) and _same(p["b"], q["b"])
    assert fst.metrics() == ref.metrics()
    assert fst.history.to_csv() == ref.history.to_csv()
    assert fst.support() == ref.support() and fst.support()
