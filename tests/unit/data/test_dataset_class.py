"""The Dataset container: helpers and every invariant `validate` guards."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from app.data.dataset import Dataset


def binary() -> Dataset:
    return Dataset(
        X=np.array([[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]]), y=np.array([0, 1, 1]), task="binary",
        n_classes=2, feature_names=("a", "b"), class_names=("no", "yes"), name="t",
    )


def test_helpers() -> None:
    ds = binary()
    ds.validate()
    assert (ds.n_samples, ds.n_features, ds.n_outputs) == (3, 2, 1)
    assert ds.is_classification and ds.class_counts().tolist() == [1, 2]
    sub = ds.subset(np.array([2, 0]))
    assert sub.X.tolist() == [[4, 5], [0, 1]] and sub.y.tolist() == [1, 0]
    sub.X[0, 0] = 99
    assert ds.X[2, 0] == 4.0  # subset copies
    multi = replace(ds, y=np.array([0, 1, 2]), task="multiclass", n_classes=3, class_names=("a", "b", "c"))
    assert multi.n_outputs == 3
    reg = replace(ds, y=np.array([0.5, 1.0, -1.0]), task="regression", n_classes=0, class_names=())
    reg.validate()
    assert reg.n_outputs == 1 and not reg.is_classification
    with pytest.raises(ValueError, match="classification"):
        reg.class_counts()


def test_with_inputs_validates() -> None:
    ds = binary().with_inputs(np.ones((3, 1)), ("c",))
    assert ds.feature_names == ("c",) and ds.y.tolist() == [0, 1, 1]
    with pytest.raises(ValueError, match="feature_names has 2 names for 1 columns"):
        binary().with_inputs(np.ones((3, 1)), ("c", "d"))


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"X": np.zeros(3)}, "2-D array"),
        ({"X": np.zeros((3, 2), dtype=np.float32)}, "float64"),
        ({"X": np.array([[0.0, np.nan], [1, 1], [2, 2]])}, "NaN"),
        ({"y": np.array([0, 1])}, "shape"),
        ({"feature_names": ("a",)}, "1 names for 2 columns"),
        ({"feature_names": ("a", "a")}, "unique"),
        ({"task": "classification"}, "task must be one of binary, multiclass, regression"),
        ({"y": np.array([0.0, 1.0, 1.0])}, "int64"),
        ({"n_classes": 3, "class_names": ("a", "b", "c")}, "binary dataset has n_classes 2"),
        ({"class_names": ("no",)}, "1 names for 2 classes"),
        ({"y": np.array([0, 1, 2])}, "0..1"),
        ({"task": "multiclass"}, "n_classes >= 3"),
        ({"task": "regression"}, "float64"),
        ({"task": "regression", "y": np.array([0.0, np.inf, 1.0])}, "NaN or infinite"),
        ({"task": "regression", "y": np.array([0.0, 1.0, 1.0])}, "n_classes 0"),
    ],
)
def test_validate_names_the_broken_invariant(changes: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        replace(binary(), **changes).validate()  # type: ignore[arg-type]
