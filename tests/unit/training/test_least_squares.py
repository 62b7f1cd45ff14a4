"""Parameters differ by model type (app.training.model_types): linear regression's weights
against the least-squares solution (and the ridge one under L2), and a linear SVM's
support vectors on data whose margin points are known; then both through a session
and its frames."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from pydantic import TypeAdapter

from app.nn.model import Model
from app.nn.network import NetworkSpec
from app.nn.optimizers import Hyperparams
from app.protocol.server import LeastSquaresState
from app.server import frames
from app.training.config import HyperState, RunConfig
from app.training.model_types import least_squares, support_vectors
from app.training.session import TrainingSession

DOC = Path(__file__).parents[3] / "docs" / "protocol.md"
LINEAR = NetworkSpec(3, (), (), 2, "regression")


def _regression(n: int = 60, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    Y = X @ np.array([[1.5, -0.3], [-2.0, 0.7], [0.5, 0.0]]) + np.array([0.25, -1.0]) + 0.3 * rng.normal(size=(n, 2))
    return X, Y


def _train_to_convergence(X: np.ndarray, Y: np.ndarray, reg: str, rate: float) -> Model:
    model = Model.create(LINEAR, np.random.default_rng(3))
    hp = Hyperparams(optimizer="sgd", lr=0.3)
    for _ in range(3000):  # full batch: the loss is a convex quadratic, gradient descent converges linearly
        model.train_step(X, Y, hp, reg, rate)
    return model


def _theta(solution: dict) -> np.ndarray:  # type: ignore[type-arg]
    return np.vstack([np.array(solution["W"], dtype=float), np.array(solution["b"], dtype=float)])


def test_ordinary_is_numpys_lstsq_and_solves_the_normal_equations() -> None:
    X, Y = _regression()
    got = least_squares(LINEAR, X, Y, "none", 0.0)
    assert got is not None and got["ridge"] is None and got["penalty"] == "none"
    A = np.hstack([X, np.ones((len(X), 1))])
    np.testing.assert_allclose(_theta(got["ordinary"]), np.linalg.lstsq(A, Y, rcond=None)[0], rtol=0, atol=1e-14)
    # an independent route: the normal equations, solved by hand
    np.testing.assert_allclose(_theta(got["ordinary"]), np.linalg.solve(A.T @ A, A.T @ Y), rtol=0, atol=1e-12)


def test_trained_linear_regression_reaches_least_squares() -> None:
    X, Y = _regression()
    model = _train_to_convergence(X, Y, "none", 0.0)
    got = least_squares(LINEAR, X, Y, "none", 0.0)
    assert got is not None
    learned = np.vstack([model.params[0]["W"], model.params[0]["b"]])
    assert np.max(np.abs(learned - _theta(got["ordinary"]))) < 1e-9


def test_with_l2_the_weights_reach_the_ridge_solution_not_least_squares() -> None:
    X, Y = _regression()
    model = _train_to_convergence(X, Y, "l2", 0.5)
    got = least_squares(LINEAR, X, Y, "l2", 0.5)
    assert got is not None and got["ridge"] is not None and got["penalty"] == "l2" and "ridge" in got["note"]
    learned = np.vstack([model.params[0]["W"], model.params[0]["b"]])
    assert np.max(np.abs(learned - _theta(got["ridge"]))) < 1e-9
    assert np.max(np.abs(learned - _theta(got["ordinary"]))) > 0.1  # the penalty moved them visibly
    # the bias is not penalized: its ridge value still makes the residuals' mean 0
    ridge = _theta(got["ridge"])
    residual = np.hstack([X, np.ones((len(X), 1))]) @ ridge - Y
    np.testing.assert_allclose(residual.mean(axis=0), 0.0, atol=1e-12)


def test_l1_and_other_networks() -> None:
    X, Y = _regression()
    got = least_squares(LINEAR, X, Y, "l1", 0.1)
    assert got is not None and got["ridge"] is None and got["penalty"] == "l1" and "no closed-form" in got["note"]
    assert least_squares(LINEAR, X, Y, "l2", 0.0)["penalty"] == "none"  # type: ignore[index]  # rate 0: no penalty
    assert least_squares(NetworkSpec(3, (4,), ("tanh",), 2, "regression"), X, Y, "none", 0.0) is None
    assert least_squares(NetworkSpec(3, (), (), 1, "hinge"), X, Y[:, :1], "none", 0.0) is None


# Separable points whose hard-margin SVM is known: the boundary x1 = 0, w = (1, 0), b = 0;
# the four points at x1 = +-1 are on the margin (t f = 1 exactly), the others beyond it.
SEPARABLE = np.array([[-1.0, 0.5], [1.0, -0.5], [-1.0, -1.0], [1.0, 1.0], [-3.0, 2.0], [3.0, -2.0],
                      [-2.5, 0.0], [4.0, 1.0], [-2.0, -3.0], [2.0, 3.0]])
LABELS = np.where(SEPARABLE[:, :1] > 0, 1.0, -1.0)
SVM = NetworkSpec(2, (), (), 1, "hinge")


def test_support_vectors_of_the_known_margin() -> None:
    params = [{"W": np.array([[1.0], [0.0]]), "b": np.array([0.0])}]
    assert support_vectors(SVM, params, SEPARABLE, LABELS) == [0, 1, 2, 3]
    # a point inside the margin (and one on the wrong side) counts too; one just beyond does not
    X = np.vstack([SEPARABLE, [[0.5, 0.0], [-0.2, 1.0], [1.0 + 1e-5, 0.0]]])
    Y = np.vstack([LABELS, [[1.0], [1.0], [1.0]]])
    assert support_vectors(SVM, params, X, Y) == [0, 1, 2, 3, 10, 11]
    assert support_vectors(SVM, params, X, Y, tolerance=1e-4) == [0, 1, 2, 3, 10, 11, 12]
    # other tasks have none
    assert support_vectors(NetworkSpec(2, (), (), 1, "playground"), params, SEPARABLE, LABELS) is None


def test_a_trained_linear_svm_finds_the_margin_points() -> None:
    model = Model(spec=SVM, params=[{"W": np.zeros((2, 1)), "b": np.zeros(1)}])
    hp = Hyperparams(optimizer="sgd", lr=0.05)
    for _ in range(20000):
        model.train_step(SEPARABLE, LABELS, hp, "l2", 0.01)
    W, b = model.params[0]["W"], model.params[0]["b"]
    # subgradient steps of a fixed size circle the solution: within 0.02 of w = (1, 0), b = 0
    assert np.max(np.abs(W[:, 0] - [1.0, 0.0])) < 0.02 and abs(b[0]) < 0.02
    assert support_vectors(SVM, model.params, SEPARABLE, LABELS, tolerance=0.05) == [0, 1, 2, 3]


def test_the_documented_example_has_the_shape() -> None:
    text = DOC.read_text()
    (block,) = re.findall(r"```json least_squares\n(.*?)```", text, re.S)
    TypeAdapter(LeastSquaresState).validate_python(json.loads(block))


@pytest.mark.parametrize("reg", ["none", "l2"])
def test_a_linear_regression_session_sends_least_squares_in_its_frames(reg: str) -> None:
    hyper = HyperState()
    hyper.regularization, hyper.reg_rate = reg, (0.01 if reg == "l2" else 0.0)
    s = TrainingSession(RunConfig(dataset="plane", hidden=(), noise=10), hyper)
    got = s.least_squares()
    assert got is not None
    A = np.hstack([s.data.X["train"], np.ones((s.data.n("train"), 1))])
    np.testing.assert_allclose(_theta(got["ordinary"]), np.linalg.lstsq(A, s.Y["train"], rcond=None)[0], atol=1e-14)
    assert (got["ridge"] is None) == (reg == "none")
    body = frames.frame_body(s.view(), False, None, least_squares=got, support=s.support())
    assert body["least_squares"] is got and body["support"] is None
    # a hidden layer: no longer linear regression
    s.configure({"hidden": [3]})
    assert s.least_squares() is None


def test_a_hinge_session_lists_its_support_vectors() -> None:
    hyper = HyperState()
    hyper.regularization, hyper.reg_rate = "l2", 0.01  # a linear SVM: L2 keeps the margin from growing forever
    s = TrainingSession(RunConfig(dataset="gauss", task="hinge", hidden=(), noise=0), hyper)
    assert s.spec.task == "hinge" and s.least_squares() is None
    s.advance(400)
    support = s.support()
    assert support is not None and support == sorted(support) and len(set(support)) == len(support)
    margin = s.Y["train"][:, 0] * s.predict(s.data.X["train"])[:, 0]
    assert set(support) == set(np.flatnonzero(margin <= 1.0 + 1e-6).tolist())
    assert 0 < len(support) < s.data.n("train")
