"""TrainingSession end to end, without the server: it trains, it is reproducible,
every kind of data trains, metrics are per split, a model round-trips."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from app.training.config import HyperState, RunConfig
from app.training.session import TrainingSession


def test_default_config_trains_and_lowers_the_loss() -> None:
    s = TrainingSession()
    before = s.metrics()
    assert s.config == RunConfig() and s.hyper == HyperState()
    assert s.advance(500) == 500
    after = s.metrics()
    assert s.step == 500
    # 250 training points in batches of 10: 25 updates an epoch.
    assert s.epoch == 20
    assert after["train_loss"] < 0.5 * before["train_loss"]
    assert after["test_loss"] < before["test_loss"]
    assert after["train_acc"] > 0.9 and after["test_acc"] > 0.85
    assert s.diverged is None
    assert all(np.isfinite(p[k]).all() for p in s.params for k in ("W", "b"))


@pytest.mark.parametrize("hyper", [
    {},
    {"optimizer": "adam", "dropout": 0.3, "regularization": "l2", "reg_rate": 0.01, "batch_size": 7},
])
def test_same_config_and_seed_give_bit_identical_params(make_session, assert_params_equal, hyper) -> None:
    a = make_session(hyper, hidden=[6, 3], seed=7, noise=10)
    b = make_session(hyper, hidden=[6, 3], seed=7, noise=10)
    a.advance(137)
    for _ in range(137):  # another path through the same updates
        b.advance(1)
    assert a.step == b.step == 137
    assert_params_equal(a.params, b.params)
    for slot in ("velocity", "m", "v", "s"):
        assert_params_equal(a.model.opt_state.slots[slot], b.model.opt_state.slots[slot])
    assert list(a.history.updates.values["batch_loss"]) == list(b.history.updates.values["batch_loss"])

    c = make_session(hyper, hidden=[6, 3], seed=8, noise=10)
    c.advance(137)
    assert not all(np.array_equal(p["W"], q["W"]) for p, q in zip(a.params, c.params))


def test_step_epoch_runs_exactly_one_epoch(make_session) -> None:
    s = make_session({"batch_size": 7})
    n_train = s.data.n("train")
    per_epoch = math.ceil(n_train / 7)
    assert s.step_epoch() == per_epoch
    assert (s.step, s.epoch) == (per_epoch, 1)
    # From the middle of an epoch: only what is left of it.
    s.advance(5)
    assert s.epoch == 1
    assert s.step_epoch() == per_epoch - 5
    assert (s.step, s.epoch) == (2 * per_epoch, 2)
    rows = s.history.since(-1, 0, limit=None)["epochs"]
    assert rows["epoch"] == [1, 2] and rows["step"] == [per_epoch, 2 * per_epoch]


def test_an_epoch_visits_every_training_point_once(make_session, monkeypatch) -> None:
    s = make_session({"batch_size": 16})
    seen: list[np.ndarray] = []
    take = s.queue.take

    def spy(k: int) -> list[np.ndarray]:
        batches = take(k)
        seen.extend(idx.copy() for idx in batches)
        return batches

    monkeypatch.setattr(s.queue, "take", spy)
    s.step_epoch()
    everything = np.sort(np.concatenate(seen))
    np.testing.assert_array_equal(everything, np.arange(s.data.n("train")))


def playground_metrics(s: TrainingSession, split: str) -> tuple[float, float]:
    """The playground task's loss and accuracy on `split`, written out from the weights
    alone (not through app.nn): tanh at every layer, the output's too; half the mean
    squared distance to the ±1 targets; a point is right when its output has the sign
    of its target."""
    a = s.data.X[split]  # [N x D]
    for layer in s.params:
        a = np.tanh(a @ layer["W"] + layer["b"])
    out = a[:, 0]  # [N]
    target = np.where(s.data.y[split] > 0, 1.0, -1.0)  # [N]
    return 0.5 * float(np.mean((out - target) ** 2)), float(np.mean((out > 0) == (target > 0)))


def test_metrics_are_measured_on_every_split(make_session) -> None:
    s = make_session(train_ratio=60, val_ratio=20, n_points=400)
    assert (s.data.n("train"), s.data.n("val"), s.data.n("test")) == (240, 80, 80)
    s.advance(40)
    m = s.metrics()
    assert s.spec.task == "playground" and s.config.activation == "tanh"
    for split in ("train", "val", "test"):
        loss, acc = playground_metrics(s, split)
        assert m[f"{split}_loss"] == pytest.approx(loss, rel=1e-12)
        assert m[f"{split}_acc"] == pytest.approx(acc, rel=1e-12)
        assert 0.0 <= m[f"{split}_acc"] <= 1.0
    assert m["train_loss_penalized"] == m["train_loss"]  # no regularization
    assert m["batch_loss"] == s.last_update.loss == s.history.updates.values["batch_loss"][-1]
    # The splits are disjoint.
    pts = {split: {tuple(r) for r in s.data.raw[split]} for split in ("train", "val", "test")}
    assert not (pts["train"] & pts["val"]) and not (pts["train"] & pts["test"]) and not (pts["val"] & pts["test"])


def test_metrics_without_validation_set_are_null_and_penalty_is_added(make_session) -> None:
    s = make_session({"regularization": "l2", "reg_rate": 0.1})
    s.advance(10)
    m = s.metrics()
    assert m["val_loss"] is None and m["val_acc"] is None
    penalty = 0.5 * 0.1 * sum(float((p["W"] ** 2).sum()) for p in s.params)
    assert m["train_loss_penalized"] == pytest.approx(m["train_loss"] + penalty, rel=1e-9)
    # A weight edit is seen by the next metrics() (the cache is keyed by version, not only step).
    before = m["train_loss"]
    s.set_param(len(s.params) - 1, "W", 0, 0, 3.0)
    assert s.metrics()["train_loss"] != before


@pytest.mark.parametrize("fast_path", [True, False], ids=["fast", "reference"])
def test_metrics_computed_at_an_epoch_end_are_reused_and_exact(make_session, monkeypatch, fast_path) -> None:
    """One epoch per frame: the frame reads the metrics `_end_epoch` already took."""
    s = make_session()
    s.fast = fast_path  # the fast path's metrics come from a compiled kernel: the same bits
    s.advance(25)  # exactly one epoch of 250 points in batches of 10
    assert s.epoch == 1
    calls = []
    evaluate = s.evaluate
    monkeypatch.setattr(s, "evaluate", lambda: calls.append(1) or evaluate())
    m = s.metrics()
    assert calls == []  # served from the epoch end, not recomputed
    loss, acc = playground_metrics(s, "train")
    assert m["train_loss"] == pytest.approx(loss, rel=1e-12) and m["train_acc"] == acc
    # Exact: the very bits an evaluation now gives (a weight set to its own value is an
    # edit, so the next metrics() evaluates afresh).
    last = len(s.params) - 1
    s.set_param(last, "W", 0, 0, float(s.params[last]["W"][0, 0]))
    fresh = s.metrics()
    assert calls and fresh["train_loss"] == m["train_loss"] and fresh["test_loss"] == m["test_loss"]
    calls.clear()
    s.advance(3)  # mid-epoch: new weights, so new metrics
    m2 = s.metrics()
    assert calls and m2["train_loss"] == pytest.approx(playground_metrics(s, "train")[0], rel=1e-12)


@pytest.mark.parametrize("dataset, task, n_outputs, config, hyper, min_acc", [
    # Three interleaved arms are hard from x1, x2 alone; sines make them learnable.
    ("spiral3", "multiclass", 3, {"features": ["x1", "x2", "sin_x1", "sin_x2"]}, {"lr": 0.03}, 0.7),
    ("plane", "regression", 1, {}, {"lr": 0.01}, None),
    ("multigauss", "regression", 1, {}, {"lr": 0.01}, None),
    ("mammals", "playground", 1, {}, {"lr": 0.1}, 0.8),
])
def test_every_kind_of_data_trains(make_session, dataset, task, n_outputs, config, hyper, min_acc) -> None:
    s = make_session(hyper, dataset=dataset, hidden=[8, 8], **config)
    assert s.spec.task == task and s.spec.n_outputs == n_outputs
    assert s.params[-1]["W"].shape[1] == n_outputs
    before = s.metrics()["train_loss"]
    s.advance(1200)
    after = s.metrics()
    assert s.diverged is None
    assert after["train_loss"] < 0.6 * before, (before, after["train_loss"])
    if min_acc is None:
        assert after["train_acc"] is None and after["test_acc"] is None
    else:
        assert after["train_acc"] > min_acc


def test_mammals_is_tabular_and_standardized(make_session) -> None:
    s = make_session(dataset="mammals")
    assert not s.data.plane
    assert s.spec.n_inputs == len(s.data.feature_names) > 2
    np.testing.assert_allclose(s.data.X["train"].mean(axis=0), 0.0, atol=1e-12)


def test_multiclass_task_has_one_output_per_class(make_session) -> None:
    s = make_session(dataset="spiral3")
    assert s.data.n_classes == 3
    assert s.Y["train"].shape == (s.data.n("train"), 3)
    np.testing.assert_array_equal(s.Y["train"].sum(axis=1), 1.0)
    out = s.predict(s.data.X["test"])
    np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-12)


def test_export_import_round_trip_gives_the_same_numbers(make_session, assert_params_equal) -> None:
    a = make_session({"batch_size": 250}, hidden=[5, 3])  # full batch: no shuffling
    a.advance(37)
    exported = a.export_model()
    wire = json.loads(json.dumps(exported))  # through real JSON text

    b = make_session({"batch_size": 250})  # a different architecture before the import
    b.import_model(wire)
    assert b.export_model() == exported
    assert json.dumps(b.export_model()) == json.dumps(exported)
    assert (b.step, b.epoch) == (a.step, a.epoch) == (37, 37)
    assert tuple(b.config.hidden) == (5, 3)
    assert_params_equal(a.params, b.params)
    np.testing.assert_array_equal(a.predict(a.data.X["test"]), b.predict(b.data.X["test"]))
    assert a.metrics() == {**b.metrics(), "batch_loss": a.metrics()["batch_loss"]}

    # Optimizer state came along: the next full-batch updates are bit-identical.
    a.advance(5)
    b.advance(5)
    assert_params_equal(a.params, b.params)


def test_import_of_a_model_that_does_not_fit_keeps_the_session(make_session, copy_params,
                                                               assert_params_equal) -> None:
    s = make_session()
    s.advance(12)
    before = copy_params(s.params)
    other = make_session(dataset="spiral3").export_model()  # 3 outputs
    with pytest.raises(ValueError, match="outputs"):
        s.import_model(other)
    assert s.step == 12
    assert_params_equal(s.params, before)
