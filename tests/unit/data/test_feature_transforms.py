"""Feature transforms of 2-D points: values, order, the documented formulas, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from app.data.datasets import generate
from app.data.features import DEFAULT_FEATURES, FEATURES, transform, transform_dataset
from app.data.tabular import mammals_or_fish

NAMES = ["x1", "x2", "x1_sq", "x2_sq", "x1x2", "sin_x1", "sin_x2", "cos_x1", "cos_x2"]


def test_table_names_and_labels() -> None:
    assert list(FEATURES) == NAMES
    assert DEFAULT_FEATURES == ("x1", "x2")
    labels = {n: f.label for n, f in FEATURES.items()}
    assert labels["x1_sq"] == "x1²" and labels["x2_sq"] == "x2²"
    assert labels["sin_x1"] == "sin(x1)" and labels["cos_x2"] == "cos(x2)"
    assert all(f.name == n for n, f in FEATURES.items())


def test_values_at_a_known_point() -> None:
    X = np.array([[1.5, -2.0]])
    got = transform(X, NAMES)[0]
    want = [1.5, -2.0, 2.25, 4.0, -3.0, math.sin(1.5), math.sin(-2.0), math.cos(1.5), math.cos(-2.0)]
    assert got.tolist() == want


def test_shape_and_order_follow_names() -> None:
    X = np.random.default_rng(0).uniform(-6, 6, (50, 2))
    F = transform(X, ["x1x2", "x1", "cos_x2"])
    assert F.shape == (50, 3) and F.dtype == np.float64
    assert np.array_equal(F[:, 0], X[:, 0] * X[:, 1])
    assert np.array_equal(F[:, 1], X[:, 0])
    assert np.array_equal(F[:, 2], np.cos(X[:, 1]))


def test_documented_formulas_match_the_code() -> None:
    # The browser re-implements `formula`; evaluating it must give the same numbers.
    X = np.random.default_rng(1).uniform(-6, 6, (40, 2))
    for name, feat in FEATURES.items():
        env = {"x1": X[:, 0], "x2": X[:, 1], "sin": np.sin, "cos": np.cos}
        expected = eval(feat.formula, {"__builtins__": {}}, env)  # our own table, not user input
        assert np.array_equal(transform(X, [name])[:, 0], expected), name


def test_ranges_on_the_playground_square() -> None:
    X = generate("circle", 500, 0, np.random.default_rng(0)).X
    F = transform(X, NAMES)
    assert F[:, 2].min() >= 0 and F[:, 2].max() <= 36
    assert np.all(np.abs(F[:, 5:]) <= 1)


def test_input_is_not_mutated_and_x1_is_a_copy() -> None:
    X = np.array([[1.0, 2.0], [3.0, 4.0]])
    before = X.copy()
    F = transform(X, ["x1", "x2"])
    F[:] = 0
    assert np.array_equal(X, before)


def test_unknown_name_lists_the_allowed_ones() -> None:
    with pytest.raises(ValueError) as err:
        transform(np.zeros((3, 2)), ["x1", "x3"])
    msg = str(err.value)
    assert "unknown feature 'x3'" in msg
    assert "x1, x2, x1_sq, x2_sq, x1x2, sin_x1, sin_x2, cos_x1, cos_x2" in msg


@pytest.mark.parametrize(
    ("names", "match"),
    [([], "at least one feature"), ("x1", "list of names"), (["x1", "x1"], "listed twice")],
)
def test_bad_name_lists(names: list[str], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        transform(np.zeros((3, 2)), names)


@pytest.mark.parametrize("shape", [(3,), (3, 3), (3, 1)])
def test_points_must_be_2d(shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match=r"\[N x 2\]"):
        transform(np.zeros(shape), ["x1"])


def test_transform_dataset_keeps_labels() -> None:
    ds = generate("xor", 100, 10, np.random.default_rng(0))
    out = transform_dataset(ds, ["x1x2"])
    assert out.feature_names == ("x1x2",) and out.X.shape == (100, 1)
    assert np.array_equal(out.y, ds.y) and out.task == ds.task
    with pytest.raises(ValueError, match="2-D datasets"):
        transform_dataset(mammals_or_fish(20, np.random.default_rng(0)), ["x1"])
