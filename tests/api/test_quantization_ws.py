"""Quantization and feature relevance over the websocket and HTTP: `quantize`, the frame's
`quantized`, the session's `quantization`, the dataset's `constant_inputs`, `importance`, the
model export and import, and clear errors for bad input."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from support.inprocess import Peer

from app import protocol as p
from app.nn.quantization import quantize
from app.protocol.binary_frame import PREFIX
from app.server import lab
from app.server.main import create_app
from app.settings import Settings
from app.training import relevance

MAMMALS = {"dataset": "mammals", "n_points": 120, "val_ratio": 20}


@pytest.fixture()
def client() -> Iterator[TestClient]:
    with TestClient(create_app(Settings(store="memory", max_sessions=10))) as c:
        yield c


class Checked(Peer):
    """A peer that checks every message it reads against its documented shape."""

    def recv(self) -> dict[str, Any]:
        message = super().recv()
        p.check_server_message(message)
        return message


@contextlib.contextmanager
def opened(client: TestClient, config: dict[str, Any] | None = None, **hello: Any) -> Iterator[Checked]:
    with client.websocket_connect("/ws") as ws:
        me = Checked(ws)
        me.session = me.hello(config=config or {"n_points": 100}, playing=False, **hello)  # type: ignore[attr-defined]
        me.frame()
        yield me


def _error(me: Peer, message: dict[str, Any]) -> dict[str, Any]:
    me.send(message)
    return me.until("error")


def test_quantize_shows_the_quantized_model_in_every_frame_and_the_session(client: TestClient) -> None:
    with opened(client) as me:
        assert me.session["quantization"] == {"bits": 0, "granularity": "tensor", "aware": False}  # type: ignore[attr-defined]
        me.send({"type": "step", "unit": "update", "count": 20})
        frame = me.frame_where(lambda f: f["step"] == 20)
        assert frame["quantized"] is None
        me.send({"type": "quantize", "bits": 2, "granularity": "neuron"})
        frame = me.frame_where(lambda f: f["quantized"] is not None)
        assert [c["field"] for c in frame["history"]["changes"]] == ["quantization"]  # logged as a change
        q = frame["quantized"]
        assert (q["bits"], q["granularity"], q["aware"]) == (2, "neuron", False)
        params = [{"W": np.array(layer["W"]), "b": np.array(layer["b"])} for layer in frame["layers"]]
        expected = quantize(params, 2, "neuron")  # a paused frame's numbers are exact
        assert q["scales"] == [s.tolist() for s in expected.scales]
        assert q["levels"] == expected.levels and all(n <= 3 for n in q["levels"])
        assert (q["bytes_before"], q["bytes_after"]) == (expected.bytes_before, expected.bytes_after)
        me.send({"type": "step", "unit": "epoch", "count": 1})
        frame = me.frame_where(lambda f: f["history"]["epochs"]["epoch"])
        rows = frame["history"]["epochs"]
        assert rows["quant_test_acc"][-1] == frame["quantized"]["test_acc"]


def test_the_binary_frame_header_carries_quantized_and_null_costs_few_bytes(client: TestClient) -> None:
    with client.websocket_connect("/ws") as ws:
        me = Peer(ws)
        me.send({"type": "hello", "config": {"n_points": 100}, "frames": "binary", "playing": False})
        assert me.recv()["type"] == "session"
        me.recv(), me.recv()  # dataset, history

        def header() -> dict[str, Any]:
            data = ws.receive_bytes()
            _, n = PREFIX.unpack_from(data)
            head = json.loads(data[PREFIX.size:PREFIX.size + n])
            me.send({"type": "ack", "seq": head["seq"]})
            return head

        first = header()
        assert first["quantized"] is None
        me.send({"type": "quantize", "bits": 4})
        for _ in range(10):
            head = header()
            if head["quantized"] is not None:
                break
        assert head["quantized"]["bits"] == 4 and len(head["quantized"]["scales"]) == len(head["sizes"]) - 1
        assert b'"quantized":null' in json.dumps(first, separators=(",", ":")).encode()


def test_quantization_aware_training_is_refused_without_bits_and_bad_input_gets_clear_errors(
        client: TestClient) -> None:
    with opened(client) as me:
        error = _error(me, {"type": "quantize", "bits": 0, "aware": True})
        assert (error["code"], error["request"], error["field"], error["value"]) == ("invalid", "quantize", "aware",
                                                                                      True)
        assert "bits" in error["message"] and error["allowed"]
        cases = [({"bits": "4"}, "bits"), ({"bits": 9}, "bits"), ({"bits": -1}, "bits"), ({"bits": 4.0}, "bits"),
                 ({"bits": True}, "bits"), ({"bits": 4, "granularity": "channel"}, "granularity"),
                 ({"bits": 4, "aware": "yes"}, "aware"), ({"bits": 4, "aware": 1}, "aware"), ({}, "bits"),
                 ({"bits": 4, "scale": 2}, "scale")]
        for fields, field in cases:
            error = _error(me, {"type": "quantize", **fields})
            assert error["request"] == "quantize" and error["field"] == field, (fields, error)
            assert error["message"] and error["code"] in ("invalid", "bad_type", "out_of_range", "unknown_field",
                                                          "missing")
        me.send({"type": "step", "unit": "update", "count": 1})
        assert me.frame_where(lambda f: f["step"] == 1)["quantized"] is None  # the session went on, unchanged


def test_the_dataset_flags_constant_inputs_and_importance_is_measured_on_held_out_data(client: TestClient) -> None:
    with client.websocket_connect("/ws") as ws:
        me = Checked(ws)
        me.send({"type": "hello", "config": MAMMALS, "hyper": {"optimizer": "adam", "lr": 0.05}, "playing": False})
        me.until("session")
        dataset = me.recv()
        assert dataset["type"] == "dataset"
        assert dict(zip(dataset["features"], dataset["constant_inputs"])) == {
            name: name == "vertebrate" for name in dataset["features"]}
        me.send({"type": "step", "unit": "epoch", "count": 20})
        me.frame_where(lambda f: f["epoch"] == 20, limit=400)
        me.send({"type": "importance", "repeats": 3})
        answer = me.until("importance", limit=200)
        assert answer["split"] == "val" and answer["metric"] == "accuracy"
        rows = {row["name"]: row for row in answer["inputs"]}
        assert rows["vertebrate"]["constant"] and rows["vertebrate"]["importance"] == 0.0
        assert rows["has_gills"]["importance"] == max(r["importance"] for r in answer["inputs"]) > 0
        me.send({"type": "importance"})  # repeats: 5 by default
        assert len(me.until("importance", limit=200)["inputs"]) == len(dataset["features"])


def test_importance_bad_input_and_limits(client: TestClient) -> None:
    with opened(client) as me:
        for fields, field in (({"repeats": 0}, "repeats"), ({"repeats": 21}, "repeats"), ({"repeats": "5"}, "repeats"),
                              ({"repeats": 2.5}, "repeats"), ({"repeats": 3, "split": "train"}, "split")):
            error = _error(me, {"type": "importance", **fields})
            assert error["request"] == "importance" and error["field"] == field, error
        held = lab._importance_running["testclient"]
        lab._importance_running["testclient"] = 10**6  # as many running as no client may hold
        try:
            error = _error(me, {"type": "importance"})
        finally:
            lab._importance_running["testclient"] = held
        assert (error["code"], error["request"]) == ("limit", "importance") and "at most" in error["allowed"]
        me.send({"type": "importance", "repeats": 1})
        assert me.until("importance", limit=200)["split"] == "test"


def test_quantization_is_in_the_model_export_and_an_import_takes_it_back(client: TestClient) -> None:
    with opened(client) as me:
        sid = me.session["session_id"]  # type: ignore[attr-defined]
        me.send({"type": "quantize", "bits": 3, "granularity": "neuron", "aware": True})
        me.frame_where(lambda f: f["quantized"] is not None)
        doc = client.get(f"/api/sessions/{sid}/model").json()
        assert doc["quantization"] == {"bits": 3, "granularity": "neuron", "aware": True}
        me.send({"type": "quantize", "bits": 0})
        me.frame_where(lambda f: f["quantized"] is None)
        assert client.put(f"/api/sessions/{sid}/model", json=doc).status_code == 200
        session = me.until("session")
        assert session["quantization"] == {"bits": 3, "granularity": "neuron", "aware": True}
        bad = client.put(f"/api/sessions/{sid}/model", json={**doc, "quantization": {"bits": 0, "aware": True}})
        assert bad.status_code == 422 and "aware" in bad.json()["message"]
        bad = client.put(f"/api/sessions/{sid}/model", json={**doc, "quantization": {"bits": "3"}})
        assert bad.status_code == 422


def test_importance_is_measured_off_the_event_loop(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    measured = relevance.importance
    loops: list[bool] = []

    def recording(*args: Any) -> dict[str, Any]:
        try:
            asyncio.get_running_loop()
            loops.append(True)
        except RuntimeError:  # no event loop runs in this thread
            loops.append(False)
        return measured(*args)

    monkeypatch.setattr(relevance, "importance", recording)
    with opened(client) as me:
        me.send({"type": "importance", "repeats": 2})
        assert me.until("importance", limit=200)["metric"] == "accuracy"
    assert loops == [False]
