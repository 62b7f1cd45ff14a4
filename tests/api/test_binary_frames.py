"""Binary frames over the websocket, as an outside client meets them: decoded from docs/protocol.md alone.

`BinaryPeer.decode` is written from the documented layout with the standard
library only (struct, array), and the doc's own Python decoder is run too;
neither imports anything of the server's. Frames of one state are compared
with a JSON client's, `inspected` with the HTTP model export, and every bad
`hello`, `views` or `inspect` gets a clear error while the session goes on.
"""

from __future__ import annotations

import array
import contextlib
import json
import re
import struct
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from support.inprocess import Peer

from app.server import frames, messages
from app.server.main import create_app
from app.server.registry import Client, LiveSession
from app.settings import Settings
from app.training.config import HyperState, RunConfig
from app.training.session import TrainingSession

DOC = (Path(__file__).resolve().parents[2] / "docs" / "protocol.md").read_text()
TYPECODES = {"f8": "d", "f4": "f", "u4": "I", "u1": "B"}  # array module codes of the documented dtypes


def decode(message: bytes) -> dict[str, Any]:
    """A binary frame, from the doc's table: magic PLF1, header length (uint32 LE), JSON header, blocks."""
    assert message[:4] == b"PLF1"
    (n,) = struct.unpack("<I", message[4:8])
    frame = json.loads(message[8:8 + n].decode("utf-8"))
    data = message[8 + n:]
    sizes = frame.pop("sizes")
    layers: list[dict[str, Any]] = [{} for _ in sizes[1:]]
    for block in frame.pop("arrays"):
        values = array.array(TYPECODES[block["dtype"]])
        values.frombytes(data[block["offset"]:block["offset"] + block["count"] * values.itemsize])
        if sys.byteorder == "big":
            values.byteswap()
        at = 0
        for l, layer in enumerate(layers):
            n_in, n_out = sizes[l], sizes[l + 1]
            layer[block["keys"][0]] = [values[at + i * n_out:at + (i + 1) * n_out].tolist() for i in range(n_in)]
            at += n_in * n_out
            layer[block["keys"][1]] = values[at:at + n_out].tolist()
            at += n_out
    frame["layers"] = layers
    return frame


def documented_decoder() -> Any:
    """The Python decoder docs/protocol.md gives, run as written."""
    section = DOC.split("## Binary frames", 1)[1]
    code = next(c for c in re.findall(r"```\n(.*?)```", section, flags=re.S) if "def decode" in c)
    namespace: dict[str, Any] = {}
    exec(code, namespace)
    return namespace["decode"]


class BinaryPeer(Peer):
    """A peer that reads binary frames (acking them) and JSON for the rest."""

    def recv(self) -> dict[str, Any]:
        message = self.ws.receive()
        if message.get("bytes") is not None:
            self.raw = message["bytes"]
            return decode(self.raw)
        return json.loads(message["text"])


@pytest.fixture()
def client() -> Iterator[TestClient]:
    with TestClient(create_app(Settings(store="memory"))) as c:
        yield c


def test_a_paused_binary_frame_is_the_json_frame_of_the_same_state(client: TestClient) -> None:
    with contextlib.ExitStack() as stack:
        text = Peer(stack.enter_context(client.websocket_connect("/ws")))
        session = text.hello(config={"n_points": 100}, hyper={"optimizer": "adam"})
        text.send({"type": "step", "unit": "update", "count": 3})
        expected = text.frame_where(lambda f: f["step"] == 3)
        binary = BinaryPeer(stack.enter_context(client.websocket_connect("/ws")))
        binary.hello(session_id=session["session_id"], frames="binary", parts=[])
        got = binary.frame_where(lambda f: f["step"] == 3)
        assert binary.raw[:4] == b"PLF1"
        for name, frame in (("decoder written from the doc", got), ("the doc's decoder", documented_decoder()(binary.raw))):
            layers = [{k: np.asarray(v).tolist() for k, v in layer.items()} for layer in frame["layers"]]
            for B, J in zip(layers, expected["layers"], strict=True):
                for key in ("W", "b", "dW", "db", "vW", "vb", "deltaW", "deltab", "sW", "sb", "tW", "tb"):
                    assert B[key] == J[key], f"{name}: {key}"  # paused: every part, exact
                assert "frozenW" not in B and not any(map(any, J["frozenW"])), "nothing frozen: no mask block"
        for key in ("step", "epoch", "phase", "hyper", "metrics", "trace", "diverged"):
            assert got[key] == expected[key], key


def test_a_training_frame_carries_float32_and_inspected_gives_the_exact_numbers(client: TestClient) -> None:
    with client.websocket_connect("/ws") as ws:
        p = BinaryPeer(ws)
        session = p.hello(frames="binary", parts=[], playing=True)
        first = p.frame_where(lambda f: f["playing"] and f["step"] > 0)
        header = json.loads(p.raw[8:8 + struct.unpack("<I", p.raw[4:8])[0]])
        assert [a["dtype"] for a in header["arrays"]] == ["f4"] and header["arrays"][0]["keys"] == ["W", "b"]
        assert "dW" not in first["layers"][0] and first["history"]["steps"] == []  # not asked for
        p.send({"type": "inspect", "layer": 1, "kind": "W", "i": 3, "j": 1})
        assert p.until("inspected")["layer"] == 1
        frame = p.frame_where(lambda f: "inspected" in f)
        exact = frame["inspected"]
        assert exact["step"] == frame["step"] and (exact["kind"], exact["i"], exact["j"]) == ("W", 3, 1)
        assert np.float32(exact["value"]) == np.float32(frame["layers"][1]["W"][3][1])
        p.send({"type": "pause"})
        paused = p.frame_where(lambda f: not f["playing"])
        p.send({"type": "inspect", "layer": 1, "kind": "W", "i": 3, "j": 1})
        answer = p.until("inspected")
        model = client.get(f"/api/sessions/{session['session_id']}/model").json()
        assert answer["value"] == model["weights"][1][3][1] == paused["layers"][1]["W"][3][1]
        assert answer["gradient"] == paused["layers"][1]["dW"][3][1] and answer["update"] == paused["layers"][1]["deltaW"][3][1]
        p.send({"type": "inspect", "layer": None})
        p.send({"type": "step", "unit": "update", "count": 1})
        assert "inspected" not in p.frame_where(lambda f: f["step"] == paused["step"] + 1)


def test_views_choose_the_parts_of_training_frames(client: TestClient) -> None:
    with client.websocket_connect("/ws") as ws:
        p = BinaryPeer(ws)
        p.hello(frames="binary", parts=["velocity"], playing=True)
        frame = p.frame_where(lambda f: f["playing"] and f["step"] > 0)
        assert {"vW", "vb"} <= set(frame["layers"][0]) and "dW" not in frame["layers"][0]
        p.send({"type": "views", "parts": ["gradient", "losses"]})
        frame = p.frame_where(lambda f: f["playing"] and "dW" in f["layers"][0])
        assert "vW" not in frame["layers"][0]
        p.frame_where(lambda f: f["history"]["steps"] != [])
        p.send({"type": "pause"})


def test_a_json_client_gets_every_part_unless_it_asks_otherwise(client: TestClient) -> None:
    with client.websocket_connect("/ws") as ws:
        p = Peer(ws)
        p.hello(playing=True)
        frame = p.frame_where(lambda f: f["playing"] and f["step"] > 0)
        assert {"dW", "vW", "deltaW"} <= set(frame["layers"][0])
        p.send({"type": "views", "parts": []})
        frame = p.frame_where(lambda f: f["playing"] and "dW" not in f["layers"][0])
        assert set(frame["layers"][0]) == {"W", "b", "frozenW", "frozenb"}
        p.send({"type": "pause"})


BAD_MESSAGES = [
    ({"type": "hello", "frames": "xml"}, "frames", "json or binary"),
    ({"type": "hello", "frames": 1}, "frames", "json or binary"),
    ({"type": "hello", "parts": "velocity"}, "parts", "a list"),
    ({"type": "hello", "parts": ["speed"]}, "parts.0", "gradient, velocity, update, adam or losses"),
    ({"type": "views"}, "parts", "a value is required"),
    ({"type": "views", "parts": ["velocity"] * 6}, "parts", "0 to 5 items"),
    ({"type": "views", "parts": [1]}, "parts.0", "gradient, velocity, update, adam or losses"),
    ({"type": "inspect", "layer": "0", "kind": "W", "i": 0, "j": 0}, "layer", "an integer"),
    ({"type": "inspect", "layer": 0, "kind": "W", "i": 1.0, "j": 0}, "i", "an integer"),
    ({"type": "inspect", "layer": 0, "kind": "W", "i": True, "j": 0}, "i", "an integer"),
    ({"type": "inspect", "layer": 0, "kind": "Z", "j": 0}, "kind", "W or b"),
    ({"type": "inspect", "layer": 0, "kind": "W", "i": -1, "j": 0}, "i", "0 to 32"),
    ({"type": "inspect", "layer": 0, "kind": "W", "i": 0, "j": 0, "extra": 1}, "extra", "fields: layer, kind, i, j"),
]


@pytest.mark.parametrize(("message", "field", "allowed"), BAD_MESSAGES)
def test_a_bad_frames_message_gets_a_clear_error_and_the_session_goes_on(
        client: TestClient, message: dict[str, Any], field: str, allowed: str) -> None:
    with client.websocket_connect("/ws") as ws:
        p = Peer(ws)
        p.hello()
        p.frame()
        p.send(message)
        error = p.until("error")
        assert error["code"] == "invalid" and error["field"] == field and error["request"] == message["type"]
        assert error["allowed"] == allowed
        p.send({"type": "step", "unit": "update", "count": 1})
        assert p.frame_where(lambda f: f["step"] == 1)["layers"]


@pytest.mark.parametrize(("target", "field", "allowed"), [
    ({"layer": 3, "kind": "W", "i": 0, "j": 0}, "layer", "0 to 2"),
    ({"layer": 0, "kind": "W", "i": 2, "j": 0}, "i", "0 to 1"),
    ({"layer": 1, "kind": "W", "i": 0, "j": 2}, "j", "0 to 1"),
    ({"layer": 2, "kind": "b", "i": 0, "j": 1}, "j", "0 to 0"),
    ({"layer": 0, "kind": "b", "i": 1, "j": 0}, "i", "0 (a bias has no i)"),
])
def test_inspecting_outside_the_network_names_the_index_and_what_is_allowed(
        client: TestClient, target: dict[str, Any], field: str, allowed: str) -> None:
    with client.websocket_connect("/ws") as ws:
        p = Peer(ws)
        p.hello()
        p.frame()
        p.send({"type": "inspect", **target})
        error = p.until("error")
        assert (error["code"], error["request"], error["field"], error["allowed"]) == ("invalid", "inspect", field, allowed)
        assert error["value"] == target[field]
        p.send({"type": "inspect", "layer": 0, "kind": "W", "i": 1, "j": 3})
        assert p.until("inspected")["j"] == 3


def test_clients_asking_for_the_same_content_share_one_encoding_per_state(monkeypatch: pytest.MonkeyPatch) -> None:
    """A room's followers (or any clients of one session) asking alike cost one encoding per state."""
    encoded: list[tuple[str, frozenset[str] | None]] = []
    binary_body, frame_body = frames.binary_body, frames.frame_body

    def counting_binary(view: Any, playing: bool, ups: Any, parts: Any) -> Any:
        encoded.append(("binary", parts))
        return binary_body(view, playing, ups, parts)

    def counting_json(view: Any, playing: bool, ups: Any, parts: Any) -> Any:
        encoded.append(("json", parts))
        return frame_body(view, playing, ups, parts)

    monkeypatch.setattr(frames, "binary_body", counting_binary)
    monkeypatch.setattr(frames, "frame_body", counting_json)
    live = LiveSession("s", TrainingSession(RunConfig().with_changes({"n_points": 100}), HyperState()))
    live.playing = True
    followers = [Client(30, "binary", frozenset()) for _ in range(30)]
    other = [Client(30, "binary", frozenset({"velocity"})), Client(30, "json")]
    for _ in range(2):
        live.session.advance(1)
        sent = [messages.frame_bytes(live, c) for c in followers + other]
        assert len({m[m.index(b'"playing"'):] for m in sent[:30]}) == 1, "the same body for every follower"
    assert sorted(encoded, key=str) == sorted([("binary", frozenset()), ("binary", frozenset({"velocity"})),
                                               ("json", frames.ALL_PARTS)] * 2, key=str)


def drawing_and_outside_clients() -> tuple[LiveSession, Client, Client]:
    """A playing session with a page that draws (binary, no optional part) and an outside JSON client,
    both having seen its history so far."""
    live = LiveSession("s", TrainingSession(RunConfig().with_changes({"n_points": 100}), HyperState()))
    live.playing = True
    page, outside = Client(60, "binary", frozenset()), Client(60, "json")
    for c in (page, outside):
        c.history_step = live.session.step
    return live, page, outside


def test_a_drawing_client_gets_a_few_epoch_rows_a_frame_and_a_reload_gets_them_all() -> None:
    live, page, outside = drawing_and_outside_clients()
    for _ in range(7):
        live.session.step_epoch()
    drawn = decode(messages.frame_bytes(live, page))["history"]["epochs"]
    full = json.loads(messages.frame_bytes(live, outside))["history"]["epochs"]
    assert full["epoch"] == [1, 2, 3, 4, 5, 6, 7]
    assert len(drawn["epoch"]) == messages.EPOCH_ROWS_PER_FRAME and drawn["epoch"][-1] == 7  # the newest always
    assert set(drawn["epoch"]) <= set(full["epoch"])
    assert messages.history_message(live)["epochs"]["epoch"] == full["epoch"]


def test_a_drawing_client_gets_no_update_losses_and_the_other_one_gets_them() -> None:
    live, page, outside = drawing_and_outside_clients()
    live.session.advance(5)
    drawn = decode(messages.frame_bytes(live, page))["history"]
    full = json.loads(messages.frame_bytes(live, outside))["history"]
    assert drawn["steps"] == [] and drawn["batch_loss"] == []
    assert full["steps"] == [1, 2, 3, 4, 5] and len(full["batch_loss"]) == 5


def test_the_mask_block_comes_and_goes_with_a_frozen_parameter() -> None:
    live = LiveSession("s", TrainingSession(RunConfig().with_changes({"n_points": 100}), HyperState()))
    live.playing = True
    page = Client(60, "binary", frozenset())
    s = live.session

    def mask_block() -> list[list[bool]] | None:
        s.advance(1)  # a new state: a new body
        layers = decode(messages.frame_bytes(live, page))["layers"]
        return [np.asarray(layer["frozenW"]).tolist() for layer in layers] if "frozenW" in layers[0] else None

    assert s.view().frozen is False and mask_block() is None
    s.freeze(1, "weight", 0, 0, True)
    assert s.view().frozen is True
    masks = mask_block()
    assert masks is not None and masks[1][0][0] and sum(int(np.sum(m)) for m in masks) == 1  # that one alone
    s.freeze(1, "weight", 0, 0, False)
    assert s.view().frozen is False and mask_block() is None
