"""Quantization in a session: the quantized model's report, quantization-aware training with the
straight-through estimator, frozen parameters, epoch rows, export, import and storage."""

from __future__ import annotations

import copy
import json
from typing import Any

import numpy as np
import pytest

from app import protocol as p
from app.nn.losses import TASKS
from app.nn.network import forward
from app.nn.quantization import predict_quantized, quantize
from app.server import messages
from app.server.registry import Client, LiveSession
from app.training.config import HyperState, RunConfig
from app.training.errors import SessionError
from app.training.persist import fork_session
from app.training.session import TrainingSession


def _session(hyper: dict[str, Any] | None = None, fast: bool = False, **config: Any) -> TrainingSession:
    s = TrainingSession(RunConfig().with_changes({"n_points": 120, **config}), HyperState(**(hyper or {})))
    s.fast = fast
    return s


def _loss_by_hand(spec_task: str, params: list[dict[str, np.ndarray]], s: TrainingSession, X: np.ndarray,
                  y: np.ndarray) -> float:
    """Cross-entropy of the network at `params` on labels `y`, written out from the softmax's probabilities."""
    assert spec_task == "multiclass"
    out = forward(s.spec, params, X)[0]
    return float(-np.mean(np.log(out[np.arange(len(y)), y])))


def test_the_frames_quantized_metrics_are_the_quantized_model_evaluated_directly() -> None:
    s = _session({"lr": 0.1, "optimizer": "adam"}, dataset="spiral3", hidden=[8, 6])
    s.advance(300)
    for bits, granularity in ((8, "tensor"), (4, "neuron"), (2, "tensor"), (1, "neuron")):
        s.set_quantization(bits, granularity)
        report = s.quantized()
        assert report is not None
        q = quantize(s.params, bits, granularity)
        for split in ("train", "test"):
            X, y = s.data.X[split], s.data.y[split]
            out = predict_quantized(s.spec, q, X)
            assert report[f"{split}_acc"] == float(np.mean(np.argmax(out, axis=1) == y))
            assert report[f"{split}_loss"] == pytest.approx(_loss_by_hand("multiclass", q.params, s, X, y), rel=1e-12)
        assert (report["bits"], report["granularity"], report["aware"]) == (bits, granularity, False)
        assert report["bytes_before"] == q.bytes_before and report["bytes_after"] == q.bytes_after
        assert report["scales"] == [sc.tolist() for sc in q.scales]
        assert report["levels"] == [int(np.unique(c).size) for c in q.codes]
        # and so does the frame a client receives, in both formats
        live = LiveSession("id", s)
        frame = json.loads(messages.frame_bytes(live, Client(30)))
        p.check_server_message(frame)
        assert frame["quantized"] == report
    s.set_quantization(0)
    assert s.quantized() is None
    assert json.loads(messages.frame_bytes(LiveSession("id", s), Client(30)))["quantized"] is None


def test_the_report_is_computed_once_per_state() -> None:
    s = _session()
    s.set_quantization(4)
    first = s.quantized()
    assert s.quantized() is first  # the same state: the same object
    s.advance(1)
    assert s.quantized() is not first


def test_the_quantized_model_loses_accuracy_as_bits_fall() -> None:
    s = _session({"lr": 0.05, "optimizer": "adam"}, dataset="spiral3", hidden=[12, 8])
    s.advance(2000)
    acc = {}
    for bits in (8, 4, 2, 1):
        s.set_quantization(bits)
        report = s.quantized()
        assert report is not None
        acc[bits] = report["train_acc"]
    assert abs(acc[8] - s.metrics()["train_acc"]) <= 0.02  # 8 bits: as good as full precision, near enough
    assert acc[1] < acc[8] - 0.1                          # 1 bit: much worse


def _grad_by_differences(s: TrainingSession, params: list[dict[str, np.ndarray]], idx: np.ndarray, layer: int,
                         i: int, j: int, h: float = 1e-6) -> float:
    """d(batch loss)/dW[layer][i, j] at `params` by centred differences (float64)."""
    task = TASKS[s.spec.task]
    X, Y = s.data.X["train"][idx], s.Y["train"][idx]

    def loss(delta: float) -> float:
        moved = copy.deepcopy(params)
        moved[layer]["W"][i, j] += delta
        out, cache = forward(s.spec, moved, X)
        return float(task.loss(out, Y, cache.Z[-1]))

    return (loss(h) - loss(-h)) / (2 * h)


def test_aware_training_takes_the_gradient_at_the_quantized_weights_and_updates_the_full_precision_ones() -> None:
    s = _session({"lr": 0.3, "batch_size": 40, "momentum": 0.0}, dataset="spiral3", hidden=[6], activations=["tanh"])
    s.advance(60)
    s.set_quantization(3, "neuron", aware=True)
    before = copy.deepcopy(s.params)
    q = quantize(before, 3, "neuron").params
    for _ in range(3):  # forward, loss, backward
        s.step_phase()
    pending = s.step_by_step.pending
    assert pending is not None
    grads = pending.grads
    rng = np.random.default_rng(0)
    for layer in range(2):
        n_in, n_out = before[layer]["W"].shape
        for _ in range(6):
            i, j = int(rng.integers(n_in)), int(rng.integers(n_out))
            at_q = _grad_by_differences(s, q, pending.idx, layer, i, j)
            at_w = _grad_by_differences(s, before, pending.idx, layer, i, j)
            assert grads.dW[layer][i, j] == pytest.approx(at_q, rel=1e-6, abs=1e-9)
            assert abs(at_q - at_w) > 1e-7  # the two differ: the check can tell them apart
    s.step_phase()  # update: plain SGD on the full-precision weights
    for layer in range(2):
        np.testing.assert_array_equal(s.params[layer]["W"], before[layer]["W"] - 0.3 * grads.dW[layer])
        assert not np.array_equal(s.params[layer]["W"], quantize(s.params, 3, "neuron").params[layer]["W"])


def test_aware_training_runs_on_the_reference_path() -> None:
    """A fast session training aware gives the reference path's bits (the compiled path knows no quantization)."""
    a = _session({"optimizer": "adam", "lr": 0.03}, fast=True, dataset="spiral3", hidden=[8])
    b = _session({"optimizer": "adam", "lr": 0.03}, fast=False, dataset="spiral3", hidden=[8])
    c = _session({"optimizer": "adam", "lr": 0.03}, fast=False, dataset="spiral3", hidden=[8])
    for s in (a, b):
        s.set_quantization(2, "tensor", aware=True)
    for s in (a, b, c):
        s.advance(150)
    for la, lb, lc in zip(a.params, b.params, c.params):
        np.testing.assert_array_equal(la["W"], lb["W"])
        assert not np.array_equal(la["W"], lc["W"])  # aware training does change the run


@pytest.mark.parametrize("aware", [False, True])
@pytest.mark.parametrize("fast", [False, True])
@pytest.mark.parametrize("optimizer", ["momentum", "adam"])
def test_frozen_parameters_stay_unchanged_to_the_bit(optimizer: str, fast: bool, aware: bool) -> None:
    s = _session({"optimizer": optimizer, "lr": 0.05, "momentum": 0.9, "batch_size": 10}, fast=fast,
                 dataset="spiral3", hidden=[8, 5])
    s.advance(40)  # momentum and Adam's moments are not zero when the freezing begins
    s.freeze(0, "neuron", 0, 2, True)
    s.freeze(1, "weight", 4, 1, True)
    s.freeze(2, "bias", 0, 0, True)
    s.freeze(2, "layer", 0, 0, False)  # unfreezes nothing frozen above but layer 2's bias
    s.freeze(2, "bias", 0, 1, True)
    if aware:
        s.set_quantization(2, "neuron", aware=True)
    frozen = copy.deepcopy(s.params)
    masks = [{"W": ~t["W"].copy(), "b": ~t["b"].copy()} for t in s.model.trainable]
    # neuron 2 of layer 0 (its 2 incoming weights and its bias), one weight, one bias
    assert sum(int(m["W"].sum() + m["b"].sum()) for m in masks) == 3 + 1 + 1
    s.advance(600)
    for now, then, m in zip(s.params, frozen, masks):
        assert np.array_equal(now["W"][m["W"]], then["W"][m["W"]])
        assert np.array_equal(now["b"][m["b"]], then["b"][m["b"]])
    moved = sum(int(np.sum(now["W"] != then["W"])) for now, then in zip(s.params, frozen))
    assert moved > 40  # the rest trained


def test_epoch_rows_carry_the_quantized_model_and_are_null_while_off() -> None:
    s = _session({"batch_size": 30}, dataset="spiral3")
    s.step_epoch()
    s.set_quantization(4, "neuron", aware=True)
    s.step_epoch()
    report = s.quantized()
    assert report is not None
    rows = s.history.since(-1, 0)["epochs"]
    assert rows["quant_test_acc"][0] is None and rows["quant_train_acc"][0] is None
    assert rows["quant_train_acc"][-1] == report["train_acc"]
    assert rows["quant_test_acc"][-1] == report["test_acc"]
    assert rows["quant_test_loss"][-1] == report["test_loss"]
    change = s.history.changes[-1]
    assert change["field"] == "quantization"
    assert change["new"] == {"bits": 4, "granularity": "neuron", "aware": True}
    assert change["old"] == {"bits": 0, "granularity": "tensor", "aware": False}


def test_aware_with_bits_0_is_refused_and_the_session_is_unchanged() -> None:
    s = _session()
    s.set_quantization(3)
    with pytest.raises(SessionError) as refused:
        s.set_quantization(0, "tensor", aware=True)
    assert refused.value.field == "aware" and "bits" in str(refused.value)
    assert s.quantization.to_dict() == {"bits": 3, "granularity": "tensor", "aware": False}
    with pytest.raises(SessionError):
        s.set_quantization(9)
    with pytest.raises(SessionError):
        s.set_quantization(4, "channel")


def test_quantization_is_in_the_model_export_and_an_import_takes_it_back() -> None:
    s = _session()
    s.set_quantization(5, "neuron", aware=True)
    doc = s.export_model()
    assert doc["quantization"] == {"bits": 5, "granularity": "neuron", "aware": True}
    other = _session()
    other.import_model(json.loads(json.dumps(doc)))
    assert other.quantization == s.quantization
    np.testing.assert_array_equal(other.params[0]["W"], s.params[0]["W"])
    without = {k: v for k, v in doc.items() if k != "quantization"}
    other.import_model(without)
    assert not other.quantization.on
    with pytest.raises(ValueError, match="aware"):
        other.import_model({**doc, "quantization": {"bits": 0, "granularity": "tensor", "aware": True}})
    with pytest.raises(ValueError):
        other.import_model({**doc, "quantization": {"bits": "4"}})


def test_a_stored_session_keeps_its_quantization() -> None:
    s = _session()
    s.set_quantization(2, "tensor", aware=True)
    s.advance(30)
    copy_ = fork_session(s)
    assert copy_.quantization == s.quantization
    s.advance(25)
    copy_.advance(25)
    np.testing.assert_array_equal(copy_.params[0]["W"], s.params[0]["W"])  # the same aware run goes on
