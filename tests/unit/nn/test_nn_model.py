"""Model: training steps, penalties, seeds and the JSON-safe dict format."""

from __future__ import annotations

import copy
import json
from typing import Any

import numpy as np
import pytest

from app.nn.freezing import set_neuron
from app.nn.losses import TASKS
from app.nn.model import Model
from app.nn.network import NetworkSpec
from app.nn.optimizers import OPTIMIZERS, Hyperparams
from app.nn.regularization import penalty


def _xor(n: int = 200, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, size=(n, 2))
    return X, TASKS["playground"].targets(np.sign(X[:, 0] * X[:, 1]))


SPEC = NetworkSpec(2, (8, 4), ("tanh", "tanh"), 1, "playground")


@pytest.mark.parametrize("opt", OPTIMIZERS)
def test_training_learns_xor(opt: str) -> None:
    X, Y = _xor()
    model = Model.create(SPEC, np.random.default_rng(1))
    lr = {"sgd": 0.3, "momentum": 0.05, "nesterov": 0.05, "adam": 0.01, "rmsprop": 0.01}[opt]
    hp = Hyperparams(optimizer=opt, lr=lr)
    rng = np.random.default_rng(2)
    first = model.loss(X, Y)[0]
    for _ in range(40):
        model.train_epoch(X, Y, 10, hp, rng)
    assert model.epoch == 40 and model.step == 40 * 20 and model.optimizer == opt
    assert model.loss(X, Y)[0] < 0.5 * first
    assert TASKS["playground"].accuracy(model.predict(X), Y) > 0.9


def test_step_result_and_penalty() -> None:
    X, Y = _xor(30)
    model = Model.create(SPEC, np.random.default_rng(3))
    before = [{k: v.copy() for k, v in p.items()} for p in model.params]
    result = model.train_step(X, Y, Hyperparams(lr=0.1), "l1", 0.01)
    pen = penalty(before, "l1", 0.01)
    assert pen > 0
    assert result.loss_with_penalty == pytest.approx(result.loss + pen, rel=1e-15)
    assert result.loss == pytest.approx(Model(spec=SPEC, params=before).loss(X, Y)[0], rel=1e-15)
    assert [d.shape for d in result.grads.dZ] == [(30, 8), (30, 4), (30, 1)]
    for p, b, d in zip(model.params, before, result.deltas):
        np.testing.assert_array_equal(p["W"], b["W"] + d["W"])
    assert model.step == 1


def _trained(opt: str = "adam", seed: int = 4) -> Model:
    X, Y = _xor(40)
    model = Model.create(SPEC, np.random.default_rng(seed), init="uniform")
    set_neuron(model.trainable, 1, 2, False)
    rng = np.random.default_rng(seed)
    for _ in range(3):
        model.train_epoch(X, Y, 16, Hyperparams(optimizer=opt), rng, "l2", 0.001, 0.2)
    return model


def _assert_same(a: Model, b: Model) -> None:
    assert a.spec == b.spec and a.optimizer == b.optimizer
    assert (a.step, a.epoch) == (b.step, b.epoch)
    for pa, pb, ma, mb in zip(a.params, b.params, a.trainable, b.trainable):
        for k in ("W", "b"):
            assert pa[k].tobytes() == pb[k].tobytes()
            np.testing.assert_array_equal(ma[k], mb[k])
    for name, slot in a.opt_state.slots.items():
        for la, lb in zip(slot, b.opt_state.slots[name]):
            for k in ("W", "b"):
                assert la[k].dtype == lb[k].dtype and la[k].tobytes() == lb[k].tobytes()


@pytest.mark.parametrize("opt", OPTIMIZERS)
def test_json_round_trip_is_exact_and_training_continues_identically(opt: str) -> None:
    model = _trained(opt)
    d = model.to_dict()
    text = json.dumps(d)
    clone = Model.from_dict(json.loads(text))
    _assert_same(model, clone)
    assert json.dumps(clone.to_dict()) == text
    X, Y = _xor(40, seed=9)
    for m in (model, clone):
        m.train_epoch(X, Y, 8, Hyperparams(optimizer=opt), np.random.default_rng(5), "l1", 0.01)
    _assert_same(model, clone)


def test_dict_layout() -> None:
    d = _trained().to_dict()
    assert d["version"] == 1
    assert d["architecture"] == {"n_inputs": 2, "hidden": [8, 4],
                                 "activations": ["tanh", "tanh"], "n_outputs": 1,
                                 "task": "playground"}
    assert len(d["weights"][0]) == 2 and len(d["weights"][0][0]) == 8
    assert set(d["optimizer"]["state"]) == {"velocity", "m", "v", "t", "s"}
    assert all(isinstance(x, int) for x in d["optimizer"]["state"]["t"][0]["b"])
    assert d["trainable"][1]["b"][2] is False


def test_minimal_hand_written_dict() -> None:
    d = {"version": 1,
         "architecture": {"n_inputs": 1, "hidden": [], "activations": [], "n_outputs": 1,
                          "task": "regression"},
         "weights": [[[2]]], "biases": [[0.5]]}
    model = Model.from_dict(d)
    assert model.predict(np.array([[3.0]]))[0, 0] == 6.5
    assert model.step == 0 and model.optimizer == "sgd"


def _break(path: list[Any], value: Any) -> dict[str, Any]:
    d = copy.deepcopy(_trained().to_dict())
    target = d
    for key in path[:-1]:
        target = target[key]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return d


@pytest.mark.parametrize(
    "path,value,message",
    [
        (["version"], 2, "version 2"),
        (["weights"], KeyError, "missing \\['weights'\\]"),
        (["colour"], "blue", "unknown keys \\['colour'\\]"),
        (["architecture", "hidden"], [8, 40], "1 to 32 neurons"),
        (["architecture", "activations"], ["tanh", "gelu"], "unknown activation"),
        (["weights", 0], [[0.1] * 8], "weights\\[0\\] must be a list of 2 rows"),
        (["weights", 1, 3], [0.1] * 3, "weights\\[1\\]\\[3\\] must be a list of 4"),
        (["weights", 1, 3, 0], float("nan"), "finite numbers"),
        (["weights", 1, 3, 0], "0.5", "finite numbers"),
        (["biases", 2], [True], "finite numbers"),
        (["optimizer", "name"], "lbfgs", "unknown optimizer"),
        (["optimizer", "state", "t", 0, "b"], [-1] * 8, "non-negative integers"),
        (["optimizer", "state", "vel"], [], "unknown keys"),
        (["trainable", 0, "W"], [[1] * 8] * 2, "booleans"),
        (["step"], -1, "step must be a non-negative integer"),
        (["epoch"], 1.5, "epoch must be a non-negative integer"),
    ],
)
def test_from_dict_rejects_bad_input(path: list[Any], value: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Model.from_dict(_break(path, value))


def test_from_dict_rejects_non_dict() -> None:
    with pytest.raises(ValueError, match="model must be an object"):
        Model.from_dict([1, 2])


def test_same_seed_same_run_to_the_bit() -> None:
    X, Y = _xor(60)

    def run(seed: int) -> Model:
        model = Model.create(SPEC, np.random.default_rng(seed), init="he")
        rng = np.random.default_rng(seed + 1)
        for _ in range(5):
            model.train_epoch(X, Y, 7, Hyperparams(optimizer="nesterov"), rng, "l2", 0.01, 0.3)
        return model

    _assert_same(run(11), run(11))
    assert run(11).params[0]["W"].tobytes() != run(12).params[0]["W"].tobytes()


def test_model_validates_construction() -> None:
    params = Model.create(SPEC, np.random.default_rng(0)).params
    with pytest.raises(ValueError, match="unknown optimizer"):
        Model(spec=SPEC, params=params, optimizer="sgdx")
    with pytest.raises(ValueError, match="layer 0: W"):
        Model(spec=SPEC, params=[{"W": np.zeros((3, 8)), "b": np.zeros(8)}, *params[1:]])
