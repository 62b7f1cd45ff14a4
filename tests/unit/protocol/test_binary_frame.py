"""The binary frame against the JSON frame of the same session state.

Decoded here with numpy straight from the layout in docs/protocol.md ("Binary
frames"), not with anything of the server's: the blocks must hold the JSON
frame's numbers rounded to float32 while training, the same float64 numbers
when still, and `inspected` the session's own float64 numbers exactly.
"""

from __future__ import annotations

import json
import struct
from typing import Any

import numpy as np
import pytest

from app import protocol as p
from app.protocol.binary_frame import frame_message
from app.server import frames
from app.training.config import HyperState, RunConfig
from app.training.session import TrainingSession

HEAD: dict[str, Any] = {"type": "frame", "seq": 1, "history": {"steps": [], "batch_loss": [], "epochs": {}, "changes": []}}


def decode(message: bytes) -> dict[str, Any]:
    """The documented layout: magic, header length, JSON header padded to 8, blocks of W0, b0, W1, b1..."""
    magic, n = struct.unpack_from("<4sI", message, 0)
    assert magic == b"PLF1"
    assert (8 + n) % 8 == 0, "the data starts at a multiple of 8"
    frame = json.loads(message[8:8 + n])
    sizes, data = frame.pop("sizes"), message[8 + n:]
    layers: list[dict[str, Any]] = [{} for _ in sizes[1:]]
    for block in frame.pop("arrays"):
        dtype = np.dtype("<" + block["dtype"])
        assert block["offset"] % dtype.itemsize == 0
        flat = np.frombuffer(data, dtype, block["count"], block["offset"])
        assert block["count"] == sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:]))
        at = 0
        for l, layer in enumerate(layers):
            n_in, n_out = sizes[l], sizes[l + 1]
            layer[block["keys"][0]] = flat[at:at + n_in * n_out].reshape(n_in, n_out)
            layer[block["keys"][1]] = flat[at + n_in * n_out:at + (n_in + 1) * n_out]
            at += (n_in + 1) * n_out
    frame["layers"] = layers
    return frame


def session(optimizer: str = "momentum", steps: int = 7, **config: Any) -> TrainingSession:
    s = TrainingSession(RunConfig().with_changes({"n_points": 100, **config}), HyperState(optimizer=optimizer))
    s.advance(steps)
    return s


def both(s: TrainingSession, playing: bool, parts: frozenset[str] = frames.ALL_PARTS) -> tuple[dict[str, Any], dict]:
    """(the binary frame decoded, the JSON frame) of one state, for a client asking for `parts`."""
    view = s.view()
    binary = decode(frame_message(p.encode(HEAD), frames.binary_body(view, playing, 250.0, parts)))
    text = json.loads(p.encode({**HEAD, **frames.frame_body(view, playing, 250.0, parts)}))
    return binary, text


KEYS = ("W", "b", "dW", "db", "vW", "vb", "deltaW", "deltab")


@pytest.mark.parametrize("hidden", [[4, 2], [8] * 6, []])
def test_a_training_frame_holds_the_json_frames_numbers_rounded_to_float32(hidden: list[int]) -> None:
    s = session(hidden=hidden)
    binary, text = both(s, playing=True)
    assert len(binary["layers"]) == len(text["layers"]) == len(hidden) + 1
    for B, J in zip(binary["layers"], text["layers"]):
        for key in KEYS:
            assert B[key].dtype == np.float32
            assert np.array_equal(B[key], np.asarray(J[key], dtype=np.float32)), key
        assert "frozenW" not in B, "nothing frozen: no mask block"
    # Everything but the layers is the JSON frame's, as it is.
    assert {k: v for k, v in binary.items() if k != "layers"} == {k: v for k, v in text.items() if k != "layers"}


def test_a_still_frame_holds_the_json_frames_numbers_exactly() -> None:
    s = session(optimizer="adam")
    binary, text = both(s, playing=False, parts=frozenset())
    for l, (B, J) in enumerate(zip(binary["layers"], text["layers"])):
        for key in (*KEYS, "sW", "sb"):
            assert B[key].dtype == np.float64
            assert B[key].tolist() == J[key], key
        assert B["tW"].dtype == np.uint32 and B["tW"].tolist() == J["tW"] and B["tb"].tolist() == J["tb"]
        assert np.array_equal(B["W"], s.params[l]["W"]) and np.array_equal(B["b"], s.params[l]["b"])


def test_while_training_only_the_parts_asked_for_come() -> None:
    s = session(optimizer="adam")
    binary, text = both(s, playing=True, parts=frozenset({"velocity"}))
    for layer in (binary["layers"][0], text["layers"][0]):
        assert {"W", "b", "vW", "vb"} <= set(layer) and not {"dW", "deltaW", "sW", "tW"} & set(layer)
    binary, _ = both(s, playing=True, parts=frozenset({"adam"}))
    assert binary["layers"][0]["tW"].dtype == np.uint32 and binary["layers"][0]["sW"].dtype == np.float32


def test_frozen_masks_come_as_bytes_only_when_something_is_frozen() -> None:
    s = session()
    s.freeze(1, "weight", 2, 1, True)
    binary, text = both(s, playing=True)
    for B, J in zip(binary["layers"], text["layers"]):
        assert B["frozenW"].dtype == np.uint8
        assert B["frozenW"].astype(bool).tolist() == J["frozenW"] and B["frozenb"].astype(bool).tolist() == J["frozenb"]
    assert binary["layers"][1]["frozenW"][2, 1] == 1 and binary["layers"][1]["frozenW"].sum() == 1


def test_non_finite_numbers_stay_ieee_values_and_huge_ones_become_infinity() -> None:
    s = session()
    s.params[0]["W"][0, 0] = np.nan
    s.params[0]["W"][0, 1] = 1e300
    binary, text = both(s, playing=True)
    W = binary["layers"][0]["W"]
    assert np.isnan(W[0, 0]) and W[0, 1] == np.inf
    assert text["layers"][0]["W"][0][0] is None, "JSON sends a non-finite number as null"


def test_inspected_numbers_are_the_sessions_float64_numbers_exactly() -> None:
    s = session(optimizer="adam")
    view = s.view()
    got = frames.inspected(view, 1, "W", 3, 1)
    assert got is not None
    L = view.layers[1]
    assert got["value"] == L.W[3, 1] and got["gradient"] == L.dW[3, 1] and got["velocity"] == L.velocity_W[3, 1]
    assert got["update"] == L.delta_W[3, 1] and got["second_moment"] == L.second_moment_W[3, 1]
    assert got["adam_steps"] == 7 and got["frozen"] is False
    # The float32 a training frame carries is not it (the comparison can fail).
    binary, _ = both(s, playing=True)
    assert float(binary["layers"][1]["W"][3, 1]) != got["value"]
    bias = frames.inspected(view, 2, "b", 0, 0)
    assert bias is not None and bias["value"] == view.layers[2].b[0]
    for bad in ((3, "W", 0, 0), (0, "W", 2, 0), (0, "W", 0, 4), (0, "b", 1, 0), (0, "b", 0, 4)):
        assert frames.inspected(view, *bad) is None, bad


def test_a_misread_layout_would_be_caught() -> None:
    """W read column-major instead of row-major differs from the JSON frame: the comparisons above can fail."""
    s = session()
    binary, text = both(s, playing=False)
    W = binary["layers"][0]["W"]
    misread = W.reshape(-1).reshape(W.shape[1], W.shape[0]).T
    assert misread.tolist() != text["layers"][0]["W"]
