"""The loss landscape (`app.training.landscape`): its centre is the current loss, every grid
point is the loss of the network at that point (checked by evaluating it directly, one
network at a time, with `app.nn.network.evaluate`), the random directions are normalized
per neuron, and a two-parameter network's slice is exact."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from app.nn.network import evaluate
from app.training import landscape as L
from app.training.session import TrainingSession

Params = list[dict[str, np.ndarray]]

TASKS = [  # (config, hyper): one of each task
    ({}, {}),                                                     # playground (tanh, square loss), [4, 2]
    ({"dataset": "xor", "task": "binary", "hidden": [3]}, {}),    # sigmoid + cross-entropy
    ({"dataset": "spiral3", "hidden": [5, 3], "activation": "relu"}, {}),  # softmax, 3 classes
    ({"dataset": "plane", "hidden": [3], "activation": "sigmoid"}, {"lr": 0.01}),  # regression
    ({"dataset": "gauss", "hidden": [3], "task": "hinge", "noise": 30}, {"lr": 0.05}),  # hinge
]


def point(params: Params, D1: Params, D2: Params, a: float, b: float) -> Params:
    return [{k: p[k] + a * d1[k] + b * d2[k] for k in ("W", "b")} for p, d1, d2 in zip(params, D1, D2)]


def directions(s: TrainingSession, result: L.Landscape) -> tuple[Params, Params]:
    return L.unflatten(s.params, result.directions[0]), L.unflatten(s.params, result.directions[1])


def trained(make_session: Callable[..., TrainingSession], config: dict[str, Any], hyper: dict[str, Any],
            updates: int = 60) -> TrainingSession:
    s = make_session(hyper, **config)
    s.advance(updates)
    return s


@pytest.mark.parametrize(("config", "hyper"), TASKS)
def test_the_landscape_at_the_current_point_is_the_current_loss(make_session: Callable[..., TrainingSession],
                                                                 config: dict[str, Any], hyper: dict[str, Any]) -> None:
    s = trained(make_session, config, hyper)
    X, Y = s.data.X["train"], s.Y["train"]
    result = L.compute(s.spec, s.params, X, Y, span=1.0, resolution=21, seed=4)
    current = s.metrics()["train_loss"]
    assert current is not None
    assert result.alphas[10] == 0.0 and result.betas[10] == 0.0
    assert abs(result.loss[10, 10] - current) <= 1e-12
    assert abs(result.center_loss - current) <= 1e-12
    assert result.origin.tolist() == L.flatten(s.params).tolist()


@pytest.mark.parametrize(("config", "hyper"), TASKS)
def test_every_grid_point_is_the_loss_of_the_network_there(make_session: Callable[..., TrainingSession],
                                                           config: dict[str, Any], hyper: dict[str, Any]) -> None:
    s = trained(make_session, config, hyper)
    X, Y = s.data.X["train"], s.Y["train"]
    result = L.compute(s.spec, s.params, X, Y, span=2.0, resolution=7, seed=1)
    D1, D2 = directions(s, result)
    for k, b in enumerate(result.betas):
        for m, a in enumerate(result.alphas):
            direct = evaluate(s.spec, point(s.params, D1, D2, a, b), X, Y)[0]
            assert abs(result.loss[k, m] - direct) <= 1e-12 * max(1.0, abs(direct)), (k, m)
    assert result.exact is False


def test_a_grid_split_into_many_chunks_gives_the_same_numbers(make_session: Callable[..., TrainingSession],
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    s = trained(make_session, {"hidden": [4, 4]}, {})
    X, Y = s.data.X["train"], s.Y["train"]
    whole = L.compute(s.spec, s.params, X, Y, resolution=9, seed=2)
    rows: list[int] = []
    monkeypatch.setattr(L, "CHUNK_FLOATS", 1)  # one point at a time
    pieces = L.compute(s.spec, s.params, X, Y, resolution=9, seed=2, on_rows=rows.append)
    np.testing.assert_allclose(pieces.loss, whole.loss, rtol=1e-13, atol=0)
    assert rows == list(range(1, 10))


@pytest.mark.parametrize("dataset", ["plane", "gauss"])  # regression, classification
@pytest.mark.parametrize("mode", ["random", "weights"])
def test_a_two_parameter_network_is_exact_and_matches_direct_evaluation(
        make_session: Callable[..., TrainingSession], dataset: str, mode: str) -> None:
    s = trained(make_session, {"dataset": dataset, "hidden": [], "features": ["x1"]}, {"lr": 0.01}, updates=20)
    assert sum(p["W"].size + p["b"].size for p in s.params) == 2
    X, Y = s.data.X["train"], s.Y["train"]
    weights = [(0, "W", 0, 0), (0, "b", 0, 0)] if mode == "weights" else None
    result = L.compute(s.spec, s.params, X, Y, mode=mode, weights=weights, span=1.5, resolution=11, seed=9)
    assert result.exact is True
    assert result.weights == ((0, "W", 0, 0), (0, "b", 0, 0))
    assert result.directions[0].tolist() == [1.0, 0.0] and result.directions[1].tolist() == [0.0, 1.0]
    w, bias = s.params[0]["W"][0, 0], s.params[0]["b"][0]
    for k, b in enumerate(result.betas):
        for m, a in enumerate(result.alphas):
            at = [{"W": np.array([[w + a]]), "b": np.array([bias + b])}]
            direct = evaluate(s.spec, at, X, Y)[0]
            assert abs(result.loss[k, m] - direct) <= 1e-12 * max(1.0, abs(direct)), (k, m)


def test_random_directions_are_normalized_per_neuron_and_leave_biases(
        make_session: Callable[..., TrainingSession]) -> None:
    s = trained(make_session, {"hidden": [5, 3]}, {})
    s.set_param(0, "W", 0, 2, 0.0)
    s.set_param(0, "W", 1, 2, 0.0)  # neuron 2 of layer 0: all its incoming weights 0
    D1, D2 = L.random_directions(s.params, np.random.default_rng(3))
    for D in (D1, D2):
        for p, d in zip(s.params, D):
            np.testing.assert_allclose(np.linalg.norm(d["W"], axis=0), np.linalg.norm(p["W"], axis=0),
                                       rtol=1e-12, atol=0)
            assert not d["b"].any()
    assert not D1[0]["W"][:, 2].any()  # a neuron of norm 0 is not moved
    assert not np.allclose(D1[1]["W"], D2[1]["W"])  # two directions, not one twice
    # Normalized per neuron, not per layer: a layer-wide scale would not give each column its norm.
    column_ratio = np.linalg.norm(D1[1]["W"], axis=0) / np.linalg.norm(s.params[1]["W"], axis=0)
    assert np.allclose(column_ratio, 1.0)


def test_the_seed_fixes_the_random_directions(make_session: Callable[..., TrainingSession]) -> None:
    s = trained(make_session, {}, {})
    X, Y = s.data.X["train"], s.Y["train"]
    one = L.compute(s.spec, s.params, X, Y, resolution=5, seed=1)
    again = L.compute(s.spec, s.params, X, Y, resolution=5, seed=1)
    other = L.compute(s.spec, s.params, X, Y, resolution=5, seed=2)
    assert one.directions[0].tolist() == again.directions[0].tolist()
    assert one.directions[0].tolist() != other.directions[0].tolist()


def test_a_weights_slice_moves_only_its_two_parameters(make_session: Callable[..., TrainingSession]) -> None:
    s = trained(make_session, {}, {})
    X, Y = s.data.X["train"], s.Y["train"]
    chosen = [(1, "W", 3, 0), (2, "b", 0, 0)]
    result = L.compute(s.spec, s.params, X, Y, mode="weights", weights=chosen, span=3.0, resolution=5)
    d1, d2 = result.directions
    assert np.flatnonzero(d1).tolist() == [L.flat_index(s.params, chosen[0])]
    assert np.flatnonzero(d2).tolist() == [L.flat_index(s.params, chosen[1])]
    assert L.param_at(s.params, L.flat_index(s.params, chosen[0])) == chosen[0]
    W, b = s.params[1]["W"].copy(), s.params[2]["b"].copy()
    for k, beta in enumerate(result.betas):
        for m, alpha in enumerate(result.alphas):
            at = [{k2: v.copy() for k2, v in p.items()} for p in s.params]
            at[1]["W"][3, 0] = W[3, 0] + alpha
            at[2]["b"][0] = b[0] + beta
            assert abs(result.loss[k, m] - evaluate(s.spec, at, X, Y)[0]) <= 1e-12
    assert result.exact is False  # the other parameters train too


def test_a_weights_slice_over_the_only_trainable_pair_is_exact(make_session: Callable[..., TrainingSession]) -> None:
    s = trained(make_session, {"hidden": [2]}, {})
    s.freeze(0, "layer", 0, 0, True)
    s.freeze(1, "layer", 0, 0, True)
    s.freeze(1, "weight", 0, 0, False)
    s.freeze(1, "weight", 1, 0, False)
    X, Y = s.data.X["train"], s.Y["train"]
    pair = [(1, "W", 0, 0), (1, "W", 1, 0)]
    assert L.compute(s.spec, s.params, X, Y, mode="weights", weights=pair, resolution=5,
                     trainable=s.model.trainable).exact is True
    other = [(1, "W", 0, 0), (0, "W", 0, 0)]  # a frozen one: the trainable one's partner is left out
    assert L.compute(s.spec, s.params, X, Y, mode="weights", weights=other, resolution=5,
                     trainable=s.model.trainable).exact is False


def test_the_penalized_grid_adds_the_penalty_of_each_point(make_session: Callable[..., TrainingSession]) -> None:
    s = trained(make_session, {}, {"regularization": "l2", "reg_rate": 0.01})
    X, Y = s.data.X["train"], s.Y["train"]
    result = L.compute(s.spec, s.params, X, Y, resolution=5, regularization="l2", reg_rate=0.01)
    assert result.loss_penalized is not None
    D1, D2 = directions(s, result)
    at = point(s.params, D1, D2, result.alphas[4], result.betas[0])
    expected = result.loss[0, 4] + 0.005 * sum(float(np.sum(p["W"] ** 2)) for p in at)
    assert abs(result.loss_penalized[0, 4] - expected) <= 1e-12
    center = s.metrics()["train_loss_penalized"]
    assert center is not None and abs(result.loss_penalized[2, 2] - center) <= 1e-12
    assert L.compute(s.spec, s.params, X, Y, resolution=5).loss_penalized is None


def test_points_far_out_that_overflow_are_nan_not_an_error(make_session: Callable[..., TrainingSession]) -> None:
    s = trained(make_session, {"dataset": "plane", "hidden": [3], "activation": "relu"}, {"lr": 0.01})
    s.set_param(0, "W", 0, 0, 1e300)
    X, Y = s.data.X["train"], s.Y["train"]
    result = L.compute(s.spec, s.params, X, Y, mode="weights", weights=[(0, "W", 0, 0), (0, "W", 1, 0)],
                       span=10, resolution=5)
    assert np.isnan(result.loss).all()  # inf and NaN alike, to be sent as null
    assert L.as_json(result.center_loss) is None and L.as_json(0.25) == 0.25


@pytest.mark.parametrize(("fields", "words"), [
    ({"mode": "weights", "weights": [(9, "W", 0, 0), (0, "W", 0, 0)]}, "layer 9"),
    ({"mode": "weights", "weights": [(0, "W", 2, 0), (0, "W", 0, 0)]}, "i 2"),
    ({"mode": "weights", "weights": [(0, "b", 0, 4), (0, "W", 0, 0)]}, "j 4"),
    ({"mode": "weights", "weights": [(0, "W", 0, 0), (0, "W", 0, 0)]}, "different"),
    ({"mode": "weights", "weights": None}, "two parameters"),
    ({"mode": "sideways"}, "mode"),
    ({"span": 0}, "span"),
    ({"span": 10.5}, "span"),
    ({"span": "1"}, "span"),
    ({"resolution": 4}, "resolution"),
    ({"resolution": 62}, "resolution"),
    ({"resolution": 41.0}, "resolution"),
])
def test_bad_slices_are_refused_naming_what_is_wrong(make_session: Callable[..., TrainingSession],
                                                    fields: dict[str, Any], words: str) -> None:
    s = make_session()
    with pytest.raises(ValueError, match=words):
        L.compute(s.spec, s.params, s.data.X["train"], s.Y["train"], **fields)
