"""Live changes: hyperparameters, weight edits, freezing, reset, configure."""

from __future__ import annotations

import numpy as np
import pytest

from app.training.config import RunConfig
from app.training.session import SessionError, TrainingSession

# ----------------------------------------------------------------- set_hyper

def test_set_hyper_logs_every_change_with_its_step(make_session) -> None:
    s = make_session()
    s.advance(7)
    logged = s.set_hyper({"lr": 0.1, "momentum": 0.5, "batch_size": None, "regularization": "l2"})
    assert logged == [
        {"step": 7, "field": "lr", "old": 0.03, "new": 0.1},
        {"step": 7, "field": "momentum", "old": 0.9, "new": 0.5},
        {"step": 7, "field": "regularization", "old": "none", "new": "l2"},
    ]
    assert s.set_hyper({"lr": 0.1}) == []  # no change, nothing logged
    s.advance(3)
    s.set_hyper({"lr": 0.2})
    assert s.history.changes == logged + [{"step": 10, "field": "lr", "old": 0.1, "new": 0.2}]
    assert (s.hyper.lr, s.hyper.momentum, s.hyper.regularization) == (0.2, 0.5, "l2")
    assert s.history.since(-1, 3)["changes"] == [{"step": 10, "field": "lr", "old": 0.1, "new": 0.2}]


def test_set_hyper_is_live_and_leaves_the_weights(make_session, copy_params, assert_params_equal) -> None:
    s = make_session()
    s.advance(20)
    params = copy_params(s.params)
    velocity = copy_params(s.model.opt_state.slots["velocity"])
    step, version = s.step, s.version
    s.set_hyper({"lr": 1.0, "momentum": 0.0, "batch_size": 3, "dropout": 0.5, "regularization": "l1",
                 "reg_rate": 0.1})
    assert s.step == step and s.version > version
    assert_params_equal(s.params, params)
    assert_params_equal(s.model.opt_state.slots["velocity"], velocity)


def test_changing_optimizer_starts_it_from_rest(make_session, copy_params, assert_params_equal) -> None:
    s = make_session()
    s.advance(20)
    params = copy_params(s.params)
    s.set_hyper({"optimizer": "adam"})
    assert_params_equal(s.params, params)
    assert all(not v.any() for layer in s.model.opt_state.slots["velocity"] for v in layer.values())
    s.advance(1)
    assert all(int(t.max()) == 1 for layer in s.model.opt_state.slots["t"] for t in layer.values())


def _chunks(s: TrainingSession) -> list[np.ndarray]:
    return [b.copy() for b in s.queue]


def test_batch_size_change_rechunks_the_rest_of_the_epoch(make_session) -> None:
    s = make_session()
    s.advance(4)  # 4 of 25 batches of 10 done: 210 indices left this epoch
    rest = np.concatenate(_chunks(s))
    assert len(rest) == 210
    s.set_hyper({"batch_size": 25})
    chunks = _chunks(s)
    np.testing.assert_array_equal(np.concatenate(chunks), rest)  # same points, same order
    assert [len(c) for c in chunks] == [25] * 8 + [10]
    assert s.advance(9) == 9
    assert (s.step, s.epoch) == (13, 1)
    # The next epoch is cut in the new size from the start.
    assert [len(c) for c in _chunks(s)] == [] and s.advance(1) == 1
    assert [len(c) for c in _chunks(s)] == [25] * 9


def test_batch_size_above_the_training_set_is_refused(make_session) -> None:
    s = make_session()
    with pytest.raises(SessionError) as info:
        s.set_hyper({"lr": 0.1, "batch_size": 251})
    assert info.value.field == "batch_size" and info.value.allowed == "1 to 250"
    assert s.hyper.batch_size == 10
    assert s.set_hyper({"batch_size": 250})[0]["new"] == 250


def test_a_refused_change_leaves_every_field_of_the_message_as_it_was(make_session) -> None:
    """All or nothing: the valid lr in the same message is neither set nor logged."""
    s = make_session()
    version, changes = s.version, s.history.change_count
    with pytest.raises(SessionError):
        s.set_hyper({"lr": 0.1, "momentum": 0.5, "batch_size": 251})
    assert (s.hyper.lr, s.hyper.momentum, s.hyper.batch_size) == (0.03, 0.9, 10)
    assert s.history.change_count == changes and s.version == version


@pytest.mark.parametrize("optimizer", ["momentum", "nesterov", "sgd"])
def test_lr_and_momentum_change_mid_run_apply_to_the_next_update(make_session, copy_params, optimizer) -> None:
    """w_new = w - lr * v with v = mu * v_old + g, at the *new* lr and mu (optimizers.py)."""
    s = make_session({"optimizer": optimizer})
    s.advance(30)
    s.set_hyper({"lr": 0.25, "momentum": 0.4})
    w_old = copy_params(s.params)
    v_old = copy_params(s.model.opt_state.slots["velocity"])
    s.advance(1)
    for l in range(len(s.params)):
        for kind, dkind in (("W", "W"), ("b", "b")):
            g = s.last_update.grads[l][dkind]
            assert np.any(g != 0)
            if optimizer == "sgd":
                expected = w_old[l][kind] - 0.25 * g
            else:
                v = 0.4 * v_old[l][kind] + g
                np.testing.assert_array_equal(s.model.opt_state.slots["velocity"][l][kind], v)
                expected = w_old[l][kind] - 0.25 * (v if optimizer == "momentum" else g + 0.4 * v)
            np.testing.assert_array_equal(s.params[l][kind], expected)
            np.testing.assert_array_equal(w_old[l][kind] + s.last_update.deltas[l][kind], s.params[l][kind])
    # The velocity carried over (it was not reset by the change).
    if optimizer != "sgd":
        assert any(v.any() for layer in v_old for v in layer.values())


# -------------------------------------------------------------- freeze, edits

@pytest.mark.parametrize("target, layer, i, j", [
    ("layer", 0, 0, 0), ("neuron", 1, 0, 1), ("weight", 0, 1, 2), ("bias", 2, 0, 0),
])
def test_frozen_parameters_keep_their_exact_bits(make_session, copy_params, target, layer, i, j) -> None:
    s = make_session()
    s.advance(5)
    s.freeze(layer, target, i, j, True)
    before = copy_params(s.params)
    v_before = copy_params(s.model.opt_state.slots["velocity"])
    s.advance(40)
    frozen = [{k: ~m for k, m in t.items()} for t in s.model.trainable]
    assert sum(int(m.sum()) for layer_m in frozen for m in layer_m.values()) == {
        "layer": 2 * 4 + 4, "neuron": 4 + 1, "weight": 1, "bias": 1}[target]
    expected = {"layer": (slice(None), slice(None)), "neuron": (slice(None), j), "weight": (i, j)}
    for l in range(len(s.params)):
        for kind in ("W", "b"):
            mask = frozen[l][kind]
            assert s.params[l][kind][mask].tobytes() == before[l][kind][mask].tobytes()
            assert s.model.opt_state.slots["velocity"][l][kind][mask].tobytes() == \
                v_before[l][kind][mask].tobytes()
            assert np.all(s.last_update.deltas[l][kind][mask] == 0)
            # Everything else still trains.
            assert np.all(s.params[l][kind][~mask] != before[l][kind][~mask])
    if target in expected:
        assert frozen[layer]["W"][expected[target]].all()
    np.testing.assert_array_equal(~s.view().layers[layer].trainable_b, frozen[layer]["b"])
    # Unfreezing lets it train again.
    s.freeze(layer, target, i, j, False)
    s.advance(3)
    assert not any(m.any() for t in s.model.trainable for m in (~t["W"], ~t["b"]))
    changed = s.params[layer]["b"] != before[layer]["b"]
    assert changed.all()


def test_freeze_rejects_indices_outside_the_layer(make_session) -> None:
    s = make_session()
    with pytest.raises(SessionError) as info:
        s.freeze(3, "layer", 0, 0, True)
    assert info.value.field == "layer" and info.value.allowed == "0 to 2"
    with pytest.raises(SessionError) as info:
        s.freeze(1, "weight", 4, 0, True)
    assert info.value.field == "i" and info.value.allowed == "0 to 3"
    with pytest.raises(SessionError):
        s.freeze(1, "neuron", 0, 2, True)
    assert all(m.all() for t in s.model.trainable for m in t.values())


def test_set_param_sets_and_logs(make_session) -> None:
    s = make_session()
    s.advance(3)
    old = float(s.params[0]["W"][1, 2])
    version = s.version
    assert s.set_param(0, "W", 1, 2, 0.5) == old
    assert s.params[0]["W"][1, 2] == 0.5
    old_b = float(s.params[2]["b"][0])
    assert s.set_param(2, "b", 0, 0, -1.25) == old_b
    assert s.params[2]["b"][0] == -1.25
    assert s.history.changes == [
        {"step": 3, "field": "W[0][1,2]", "old": old, "new": 0.5},
        {"step": 3, "field": "b[2][0]", "old": old_b, "new": -1.25},
    ]
    assert s.version > version
    assert s.view().layers[0].W[1, 2] == 0.5
    for bad, field in (((3, "W", 0, 0), "layer"), ((0, "W", 2, 0), "i"), ((0, "b", 0, 4), "j")):
        with pytest.raises(SessionError) as info:
            s.set_param(*bad, 1.0)
        assert info.value.field == field
    assert len(s.history.changes) == 2


def test_a_frozen_edited_weight_keeps_the_edit(make_session) -> None:
    s = make_session()
    s.freeze(0, "weight", 0, 0, True)
    s.set_param(0, "W", 0, 0, 0.75)
    s.advance(30)
    assert s.params[0]["W"][0, 0] == 0.75


# --------------------------------------------------------------------- reset

def test_reset_with_same_weights_restores_the_initial_weights(make_session, copy_params,
                                                              assert_params_equal) -> None:
    s = make_session({"dropout": 0.1})
    initial = copy_params(s.params)
    s.advance(60)
    trained = copy_params(s.params)
    s.set_param(0, "W", 0, 0, 2.0)
    s.reset(same_weights=True)
    assert_params_equal(s.params, initial)
    assert (s.step, s.epoch) == (0, 0)
    assert len(s.history.updates) == 0 and s.history.changes == []
    assert all(not v.any() for layer in s.model.opt_state.slots["velocity"] for v in layer.values())
    # The same run again, bit for bit (batch order and dropout restart too).
    s.advance(60)
    assert_params_equal(s.params, trained)


def test_reset_with_new_weights_is_reproducible_from_the_config(make_session, copy_params,
                                                                assert_params_equal) -> None:
    s = make_session(seed=5)
    first = copy_params(s.params)
    x_train = s.data.X["train"].copy()
    s.advance(10)
    s.reset(same_weights=False)
    assert s.config.seed == 5 and s.config.init_seed == 6
    assert s.step == 0
    assert any(not np.array_equal(p["W"], q["W"]) for p, q in zip(s.params, first))
    np.testing.assert_array_equal(s.data.X["train"], x_train)  # same data
    # The configuration alone (what a shared link carries) rebuilds these weights.
    again = TrainingSession(RunConfig.from_dict(s.config.to_dict()))
    assert_params_equal(again.params, s.params)
    # And a second reset draws yet other ones, still reproducible.
    s.reset(same_weights=False)
    assert s.config.init_seed == 7
    assert_params_equal(TrainingSession(RunConfig.from_dict(s.config.to_dict())).params, s.params)
    # reset(same_weights=True) now goes back to the init_seed 7 weights.
    drawn = copy_params(s.params)
    s.advance(5)
    s.reset(same_weights=True)
    assert_params_equal(s.params, drawn)


# ----------------------------------------------------------------- configure

def test_configure_rebuilds_the_network(make_session) -> None:
    s = make_session()
    s.advance(30)
    s.set_hyper({"lr": 0.1})
    s.configure({"hidden": [8, 8, 4], "activation": "relu"})
    assert [p["W"].shape for p in s.params] == [(2, 8), (8, 8), (8, 4), (4, 1)]
    assert s.spec.activations == ("relu", "relu", "relu")
    assert s.config.hidden == (8, 8, 4)
    assert (s.step, s.epoch) == (0, 0) and len(s.history.updates) == 0 and s.history.changes == []
    assert s.hyper.lr == 0.1  # hyperparameters survive a rebuild
    assert s.advance(10) == 10
    assert s.architecture()["param_counts"] == [24, 72, 36, 5]
    # New features change the input layer.
    s.configure({"features": ["x1", "x2", "x1_sq", "x2_sq"]})
    assert s.params[0]["W"].shape == (4, 8) and s.data.X["train"].shape[1] == 4


def test_configure_a_new_dataset_takes_its_task(make_session) -> None:
    s = make_session(task="binary")
    s.configure({"dataset": "spiral3"})
    assert s.spec.task == "multiclass" and s.spec.n_outputs == 3
    s.configure({"dataset": "circle"})
    assert s.spec.task == "playground"


@pytest.mark.parametrize("changes, match", [
    ({"task": "multiclass"}, "does not fit"),
    ({"task": "regression"}, "does not fit"),
    ({"hidden": [4, 4, 4], "activations": ["relu", "tanh"]}, "activations"),
])
def test_configure_rejects_a_bad_config_and_keeps_the_old_state(make_session, copy_params,
                                                                 assert_params_equal, changes, match) -> None:
    s = make_session()
    s.advance(30)
    s.set_hyper({"lr": 0.05})
    config, params = s.config, copy_params(s.params)
    velocity = copy_params(s.model.opt_state.slots["velocity"])
    losses = list(s.history.updates.values["batch_loss"])
    with pytest.raises(SessionError, match=match):
        s.configure(changes)
    assert s.config == config
    assert (s.step, s.epoch) == (30, 1)
    assert_params_equal(s.params, params)
    assert_params_equal(s.model.opt_state.slots["velocity"], velocity)
    assert list(s.history.updates.values["batch_loss"]) == losses and len(s.history.changes) == 1
    assert s.advance(5) == 5  # and it goes on training


def test_configure_clamps_the_batch_size_to_the_new_training_set(make_session) -> None:
    s = make_session({"batch_size": 200})
    s.configure({"n_points": 100})
    assert s.data.n("train") == 50 and s.hyper.batch_size == 50
    assert s.advance(2) == 2 and s.epoch == 2


def test_a_new_session_clamps_the_batch_size_to_its_training_set(make_session) -> None:
    s = make_session({"batch_size": 200}, n_points=100)
    assert s.data.n("train") == 50 and s.hyper.batch_size == 50
    assert s.advance(1) == 1 and s.epoch == 1
