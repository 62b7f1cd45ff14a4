"""The frame a session's view becomes (app.server.frames), as docs/protocol.md
documents it: its keys in order, each layer's arrays with the shapes of the
layer, the optimizer buffer each optimizer shows, the trace growing phase by
phase, and the divergence. Checked on the bytes the websocket sends."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from app.server import frames
from app.server.messages import frame_bytes
from app.server.registry import Client, LiveSession
from app.training.config import HyperState, RunConfig
from app.training.session import TrainingSession

BODY = ["playing", "updates_per_second", "step", "epoch", "phase", "hyper", "layers", "metrics", "trace", "diverged",
        "early_stopping", "dropped", "quantized", "trouble", "support", "least_squares"]
LAYER = ["W", "b", "dW", "db", "vW", "vb", "deltaW", "deltab", "frozenW", "frozenb"]
ADAM = ["sW", "sb", "tW", "tb"]
TRACE = ["index", "x", "inputs", "target", "output", "in_batch", "z", "a", "batch_size"]
METRICS = {"train_loss", "train_acc", "val_loss", "val_acc", "test_loss", "test_acc", "train_loss_penalized",
           "batch_loss"}
# The optimizer slot shown as `vW`, `vb`.
FIRST_BUFFER = {"momentum": "velocity", "nesterov": "velocity", "adam": "m", "rmsprop": "s"}


def _session(hyper: dict[str, Any] | None = None, **config: Any) -> TrainingSession:
    return TrainingSession(RunConfig().with_changes(config), HyperState(**(hyper or {})))


def _sent(s: TrainingSession, playing: bool = False) -> dict[str, Any]:
    """The frame as a client receives it."""
    live = LiveSession("id", s)
    live.playing, live.updates_per_second = playing, 20.0
    return json.loads(frame_bytes(live, Client(30)))


def _check_layers(s: TrainingSession, frame: dict[str, Any]) -> None:
    adam = s.hyper.optimizer == "adam"
    slot = FIRST_BUFFER.get(s.hyper.optimizer)
    assert len(frame["layers"]) == len(s.spec.hidden) + 1
    sizes = s.spec.layer_sizes
    for l, layer in enumerate(frame["layers"]):
        assert list(layer) == LAYER + (ADAM if adam else [])
        shape_w, shape_b = (sizes[l], sizes[l + 1]), (sizes[l + 1],)
        for key in LAYER + (ADAM if adam else []):
            assert np.shape(layer[key]) == (shape_w if key.endswith("W") else shape_b), key
        for kind in ("W", "b"):
            np.testing.assert_array_equal(layer[kind], s.params[l][kind])
            np.testing.assert_array_equal(layer[f"d{kind}"], s.last_update.grads[l][kind])
            np.testing.assert_array_equal(layer[f"delta{kind}"], s.last_update.deltas[l][kind])
            np.testing.assert_array_equal(layer[f"frozen{kind}"], ~s.model.trainable[l][kind])
            velocity = s.model.opt_state.slots[slot][l][kind] if slot else 0.0 * s.params[l][kind]
            np.testing.assert_array_equal(layer[f"v{kind}"], velocity)
            if adam:
                np.testing.assert_array_equal(layer[f"s{kind}"], s.model.opt_state.slots["v"][l][kind])
                np.testing.assert_array_equal(layer[f"t{kind}"], s.model.opt_state.slots["t"][l][kind])


def _check(s: TrainingSession, playing: bool = False) -> dict[str, Any]:
    frame = _sent(s, playing)
    assert list(frame) == ["type", "seq", "history", *BODY]
    assert frame["type"] == "frame" and frame["playing"] is playing and frame["updates_per_second"] == 20.0
    assert (frame["step"], frame["epoch"], frame["phase"]) == (s.step, s.epoch, s.phase)
    assert frame["hyper"] == s.hyper.to_dict()
    assert set(frame["metrics"]) == METRICS
    _check_layers(s, frame)
    return frame


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "nesterov", "adam", "rmsprop"])
def test_a_frame_has_the_documented_keys_and_each_layer_its_shapes(optimizer: str) -> None:
    s = _session({"optimizer": optimizer, "lr": 0.01})
    frame = _check(s, playing=True)
    assert frame["step"] == 0 and frame["trace"] is None and frame["diverged"] is None
    assert not np.any(frame["layers"][0]["deltaW"])  # no update yet
    s.advance(37)
    frame = _check(s)
    assert frame["step"] == 37 and np.any(frame["layers"][0]["deltaW"])


def test_frozen_entries_and_an_edit_show_in_the_frame() -> None:
    s = _session()
    s.advance(5)
    s.freeze(0, "neuron", 0, 1, True)
    s.freeze(1, "weight", 2, 0, True)
    s.set_param(0, "W", 1, 2, 0.75)
    frame = _check(s)
    assert frame["layers"][0]["frozenb"] == [False, True, False, False]
    assert [row[1] for row in frame["layers"][0]["frozenW"]] == [True, True]
    assert frame["layers"][1]["frozenW"][2] == [True, False] and frame["layers"][0]["W"][1][2] == 0.75


@pytest.mark.parametrize("config, hyper, k", [
    ({"dataset": "spiral3", "hidden": [6]}, {"optimizer": "adam", "batch_size": 16}, 3),
    ({"dataset": "multigauss", "val_ratio": 20}, {"batch_size": 8}, 1),
    ({}, {}, 1),
], ids=["multiclass", "regression", "binary"])
def test_the_trace_grows_phase_by_phase(config: dict[str, Any], hyper: dict[str, Any], k: int) -> None:
    s = _session(hyper, **config)
    s.advance(7)
    expected = {"forward": TRACE, "loss": TRACE + ["loss", "batch_loss"],
                "backward": TRACE + ["loss", "batch_loss", "dz"], "update": TRACE + ["loss", "batch_loss", "dz"]}
    for phase, keys in expected.items():
        if phase == "backward":
            s.set_trace(3)  # retraced at once, mid-update
            assert _check(s)["trace"]["index"] == 3
        assert s.step_phase() == phase
        frame = _check(s)
        trace = frame["trace"]
        assert frame["phase"] == phase and list(trace) == keys
        n_layers = len(s.spec.hidden) + 1
        assert len(trace["output"]) == len(trace["target"]) == k
        assert len(trace["z"]) == n_layers and len(trace["a"]) == n_layers + 1
        assert len(trace["inputs"]) == s.spec.n_inputs and trace["batch_size"] == s.hyper.batch_size
        if "dz" in trace:
            assert [len(dz) for dz in trace["dz"]] == [len(z) for z in trace["z"]]


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_a_divergence_is_in_the_frame_until_the_rollback() -> None:
    s = _session({"lr": 10}, dataset="plane", hidden=[8] * 6)
    s.advance(5000)
    frame = _check(s)
    assert list(frame["diverged"]) == ["step", "cause", "rollback_step", "advice"]
    assert frame["diverged"]["step"] == s.step and frame["diverged"]["rollback_step"] < s.step
    s.rollback()
    assert _check(s)["diverged"] is None


def test_the_body_is_built_from_the_view_alone() -> None:
    """frames.frame_body needs the view, not the session: the same view gives the same body."""
    s = _session()
    s.advance(12)
    view = s.view()
    body = frames.frame_body(view, False, None)
    assert list(body) == BODY and body["step"] == view.step == 12
    assert body["layers"][0]["vW"] is view.layers[0].velocity_W
