"""Feature relevance on the mammal-or-fish data: the constant input "vertebrate" is flagged, its
gradient is exactly 0, L1 takes its weights to exactly 0, and its permutation importance is exactly 0;
"has gills" decides the class."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest

from app.training import relevance
from app.training.config import HyperState, RunConfig
from app.training.session import TrainingSession


def _mammals(hyper: dict[str, Any] | None = None, **config: Any) -> TrainingSession:
    return TrainingSession(RunConfig().with_changes({"dataset": "mammals", "n_points": 200, "val_ratio": 20,
                                                     **config}),
                           HyperState(**({"lr": 0.1} | (hyper or {}))))


def _importance(s: TrainingSession, repeats: int = 5) -> dict[str, Any]:
    split = relevance.held_out_split(s.data)
    return relevance.importance(s.spec, s.params, list(s.data.feature_names),
                                relevance.constant_inputs(s.data.X["train"]), s.data.X[split], s.Y[split], split,
                                repeats, s.config.seed)


def test_constant_inputs_are_flagged_and_only_they() -> None:
    s = _mammals()
    names = list(s.data.feature_names)
    flags = relevance.constant_inputs(s.data.X["train"])
    assert dict(zip(names, flags)) == {name: name == "vertebrate" for name in names}
    assert relevance.constant_inputs(np.array([[1.0, 2.0], [1.0, 2.0 + 1e-15]])) == [True, False]
    assert relevance.constant_inputs(np.zeros((0, 3))) == [False, False, False]


@pytest.mark.parametrize("aware", [False, True])
def test_a_constant_inputs_gradient_is_exactly_zero_whatever_its_weights(aware: bool) -> None:
    s = _mammals({"batch_size": 16})
    j = list(s.data.feature_names).index("vertebrate")
    s.set_param(0, "W", j, 0, 2.5)  # a large weight: still no gradient
    if aware:
        s.set_quantization(3, "tensor", aware=True)
    start = copy.deepcopy(s.params[0]["W"][j])
    for _ in range(40):
        s.advance(1)
        assert np.all(s.last_update.grads[0]["W"][j] == 0.0)
        others = np.delete(s.last_update.grads[0]["W"], j, axis=0)
        assert np.any(others != 0.0)  # the check can tell: the other inputs do get gradients
    np.testing.assert_array_equal(s.params[0]["W"][j], start)  # without a penalty, nothing moves it


def test_under_l1_a_constant_inputs_weights_decay_to_exactly_zero() -> None:
    s = _mammals({"regularization": "l1", "reg_rate": 0.01, "batch_size": 16})
    j = list(s.data.feature_names).index("vertebrate")
    norms = []
    for _ in range(40):
        s.step_epoch()
        norms.append(_importance(s, repeats=1)["inputs"][j]["weight_norm"])
    assert norms[0] > 0
    assert all(b <= a for a, b in zip(norms, norms[1:]))  # it only decays
    assert norms[-1] == 0.0


def test_importance_of_a_constant_input_is_exactly_zero_and_has_gills_decides() -> None:
    s = _mammals({"optimizer": "adam", "lr": 0.05})
    for _ in range(30):
        s.step_epoch()
    answer = _importance(s, repeats=5)
    assert answer["split"] == "val" and answer["metric"] == "accuracy"
    assert answer["baseline"] == s.metrics()["val_acc"]
    by_name = {row["name"]: row for row in answer["inputs"]}
    assert [row["name"] for row in answer["inputs"]] == list(s.data.feature_names)
    vertebrate, gills = by_name["vertebrate"], by_name["has_gills"]
    assert vertebrate["constant"] and not gills["constant"]
    assert vertebrate["importance"] == 0.0 and vertebrate["spread"] == 0.0
    assert gills["importance"] > 0.3
    assert gills["importance"] == max(row["importance"] for row in answer["inputs"])
    assert gills["weight_norm"] == max(row["weight_norm"] for row in answer["inputs"])
    assert gills["weight_norm"] == pytest.approx(float(np.linalg.norm(s.params[0]["W"][1])), rel=0, abs=0)


def test_importance_is_reproducible_and_leaves_the_weights_alone() -> None:
    s = _mammals()
    s.advance(50)
    before = copy.deepcopy(s.params)
    assert _importance(s) == _importance(s)
    for a, b in zip(before, s.params):
        np.testing.assert_array_equal(a["W"], b["W"])


def test_regression_is_measured_on_the_loss_and_held_out_data_is_needed() -> None:
    s = TrainingSession(RunConfig().with_changes({"dataset": "plane", "val_ratio": 0}),
                        HyperState())
    s.advance(100)
    answer = _importance(s, repeats=3)
    assert answer["split"] == "test" and answer["metric"] == "loss"
    assert answer["baseline"] == pytest.approx(s.metrics()["test_loss"], rel=1e-12)
    assert len(answer["inputs"]) == len(s.data.feature_names)
    empty = TrainingSession(RunConfig().with_changes({"train_ratio": 100, "val_ratio": 0}), HyperState())
    with pytest.raises(ValueError, match="held-out"):
        relevance.held_out_split(empty.data)
    for bad in (0, 21, True, 2.0):
        with pytest.raises(ValueError, match="repeats"):
            relevance.importance(s.spec, s.params, ["a", "b"], [False, False], s.data.X["test"], s.Y["test"],
                                 "test", bad, 1)  # type: ignore[arg-type]
