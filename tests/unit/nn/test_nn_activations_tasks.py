"""Activation and task tables: values, derivatives, stability, targets."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from app.nn.activations import ACTIVATIONS, LEAKY_SLOPE
from app.nn.losses import TASKS, log_softmax, softmax

Z = np.array([[-3.0, -0.5, 0.25, 2.0], [-1e-3, 1e-3, 4.0, -7.0]])

EXPECTED = {
    "linear": Z,
    "relu": np.where(Z > 0, Z, 0.0),
    "leaky_relu": np.where(Z > 0, Z, 0.01 * Z),
    "tanh": np.tanh(Z),
    "sigmoid": 1.0 / (1.0 + np.exp(-Z)),
}


def test_table_names() -> None:
    assert set(ACTIVATIONS) == {"linear", "relu", "leaky_relu", "tanh", "sigmoid"}
    assert set(TASKS) == {"binary", "playground", "multiclass", "regression", "hinge"}
    assert LEAKY_SLOPE == 0.01


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_activation_values(name: str) -> None:
    np.testing.assert_allclose(ACTIVATIONS[name].value(Z), EXPECTED[name], rtol=1e-15, atol=0)


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_activation_derivatives_match_finite_differences(name: str) -> None:
    act = ACTIVATIONS[name]
    h = 1e-6
    numeric = (act.value(Z + h) - act.value(Z - h)) / (2 * h)
    analytic = act.derivative(Z, act.value(Z))
    np.testing.assert_allclose(analytic, numeric, rtol=1e-8, atol=1e-9)


def test_relu_family_at_zero() -> None:
    z = np.zeros((1, 1))
    assert ACTIVATIONS["relu"].derivative(z, z)[0, 0] == 0.0
    assert ACTIVATIONS["leaky_relu"].derivative(z, z)[0, 0] == LEAKY_SLOPE


def test_sigmoid_is_stable_for_huge_inputs() -> None:
    z = np.array([[-1000.0, 1000.0, -40.0, 40.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        a = ACTIVATIONS["sigmoid"].value(z)
    assert a[0, 0] == 0.0 and a[0, 1] == 1.0
    assert np.isclose(a[0, 2], np.exp(-40.0), rtol=1e-12)


def test_binary_loss_stable_from_logits() -> None:
    task = TASKS["binary"]
    z = np.array([[800.0], [-800.0], [2.0]])
    Y = np.array([[0.0], [1.0], [1.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss = task.loss(task.output(z), Y, z)
    expected = (800.0 + 800.0 + np.log1p(np.exp(-2.0))) / 3
    assert loss == pytest.approx(expected, rel=1e-14)
    # The probability-based fallback agrees where the probabilities are not saturated.
    zm = np.array([[0.3], [-1.2]])
    Ym = np.array([[1.0], [0.0]])
    assert task.loss(task.output(zm), Ym) == pytest.approx(task.loss(task.output(zm), Ym, zm),
                                                            rel=1e-12)


def test_multiclass_softmax_and_loss_stable() -> None:
    task = TASKS["multiclass"]
    z = np.array([[1000.0, 0.0, -1000.0], [1.0, 2.0, 3.0]])
    Y = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    p = softmax(z)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-15)
    assert np.all(np.isfinite(log_softmax(z)))
    loss = task.loss(p, Y, z)
    expected = (1000.0 + (np.log(np.exp(1) + np.exp(2) + np.exp(3)) - 3.0)) / 2
    assert loss == pytest.approx(expected, rel=1e-14)


def test_square_losses_are_half_sum_over_outputs_mean_over_samples() -> None:
    out = np.array([[0.5, -1.0], [2.0, 0.0], [0.0, 0.0]])
    Y = np.array([[0.0, 1.0], [1.0, 1.0], [0.0, 0.0]])
    expected = (0.5 * (0.25 + 4.0) + 0.5 * (1.0 + 1.0) + 0.0) / 3
    assert TASKS["regression"].loss(out, Y) == pytest.approx(expected, rel=1e-15)
    np.testing.assert_allclose(TASKS["regression"].dz(out, Y), (out - Y) / 3, rtol=1e-15)
    o = np.tanh(np.array([[0.2], [-0.7]]))
    t = np.array([[1.0], [-1.0]])
    assert TASKS["playground"].loss(o, t) == pytest.approx(0.5 * np.mean((o - t) ** 2), rel=1e-15)


def test_targets() -> None:
    np.testing.assert_array_equal(TASKS["binary"].targets([0, 1, 1]), [[0.0], [1.0], [1.0]])
    np.testing.assert_array_equal(TASKS["binary"].targets([-1, 1]), [[0.0], [1.0]])
    np.testing.assert_array_equal(TASKS["playground"].targets([0, 1, -1]), [[-1.0], [1.0], [-1.0]])
    np.testing.assert_array_equal(
        TASKS["multiclass"].targets([2, 0], n_classes=4), [[0, 0, 1, 0], [1, 0, 0, 0]]
    )
    assert TASKS["multiclass"].targets([0, 1, 2]).shape == (3, 3)
    assert TASKS["regression"].targets([0.5, 1.5]).shape == (2, 1)
    with pytest.raises(ValueError, match="binary labels"):
        TASKS["binary"].targets([0, 2])
    with pytest.raises(ValueError, match=r"0\.\.1"):
        TASKS["multiclass"].targets([0, 3], n_classes=2)
    with pytest.raises(ValueError, match="integer"):
        TASKS["multiclass"].targets([0.5, 1.0])


def test_accuracy() -> None:
    assert TASKS["binary"].accuracy(np.array([[0.9], [0.2]]), np.array([[1.0], [1.0]])) == 0.5
    assert TASKS["playground"].accuracy(np.array([[0.3], [-0.2]]), np.array([[1.0], [-1.0]])) == 1
    assert TASKS["multiclass"].accuracy(np.eye(3), np.eye(3)[[0, 2, 1]]) == pytest.approx(1 / 3)
    assert TASKS["regression"].accuracy(np.zeros((2, 1)), np.zeros((2, 1))) is None
