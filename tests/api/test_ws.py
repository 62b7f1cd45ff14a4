"""The websocket protocol through Starlette's TestClient: every message, every kind of bad input."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect
from support.inprocess import Peer

from app.server.main import create_app
from app.settings import Settings


@pytest.fixture()
def client() -> Iterator[TestClient]:
    with TestClient(create_app(Settings(max_sessions=3))) as c:
        yield c


def peer(client: TestClient) -> Any:
    return client.websocket_connect("/ws")


def test_hello_creates_a_default_session_and_streams_a_frame(client: TestClient) -> None:
    with peer(client) as ws:
        p = Peer(ws)
        session = p.hello()
        assert session["version"] == 1
        assert session["config"]["dataset"] == "circle" and session["config"]["hidden"] == [4, 2]
        assert session["hyper"]["lr"] == 0.03 and session["hyper"]["momentum"] == 0.9
        assert session["architecture"]["total_params"] == 25
        frame = p.frame()
        assert [len(layer["b"]) for layer in frame["layers"]] == [4, 2, 1]
        assert frame["step"] == 0 and frame["metrics"]["train_loss"] > 0


def test_step_update_and_epoch(client: TestClient) -> None:
    with peer(client) as ws:
        p = Peer(ws)
        p.hello(config={"n_points": 100}, hyper={"batch_size": 10})
        p.frame()
        p.send({"type": "step", "unit": "update", "count": 3})
        p.frame_where(lambda f: f["step"] == 3)
        p.send({"type": "step", "unit": "epoch"})
        frame = p.frame_where(lambda f: f["epoch"] == 1)
        # 50 training points in batches of 10: the epoch ends at update 5.
        assert frame["step"] == 5 and frame["epoch"] == 1
        assert frame["history"]["epochs"]["epoch"] == [1]


def test_phase_steps_walk_the_four_phases(client: TestClient) -> None:
    with peer(client) as ws:
        p = Peer(ws)
        p.hello()
        p.frame()
        seen = []
        for _ in range(4):
            p.send({"type": "step", "unit": "phase"})
            frame = p.frame()
            seen.append(frame["phase"])
            assert frame["trace"] is not None
        assert seen == ["forward", "loss", "backward", "update"]
        assert frame["step"] == 1
        assert "dz" in frame["trace"] and "loss" in frame["trace"]


def test_set_hyper_is_live_and_logged(client: TestClient) -> None:
    with peer(client) as ws:
        p = Peer(ws)
        p.hello()
        before = p.frame()
        p.send({"type": "set_hyper", "lr": 0.3, "momentum": 0.5})
        frame = p.frame_where(lambda f: f["hyper"]["momentum"] == 0.5)
        assert frame["hyper"]["lr"] == 0.3 and frame["hyper"]["momentum"] == 0.5
        assert frame["layers"][0]["W"] == before["layers"][0]["W"]
        fields = {c["field"]: (c["old"], c["new"]) for c in frame["history"]["changes"]}
        assert fields == {"lr": (0.03, 0.3), "momentum": (0.9, 0.5)}


def test_configure_rebuilds_and_reset_restores_initial_weights(client: TestClient) -> None:
    with peer(client) as ws:
        p = Peer(ws)
        p.hello()
        p.frame()
        p.send({"type": "configure", "config": {"hidden": [3], "activation": "relu"}})
        session = p.until("session")
        assert session["architecture"]["hidden"] == [3]
        initial = p.frame()["layers"][0]["W"]
        p.send({"type": "step", "unit": "update", "count": 5})
        assert p.frame_where(lambda f: f["step"] == 5)["layers"][0]["W"] != initial
        p.send({"type": "reset", "same_weights": True})
        p.until("session")
        assert p.frame_where(lambda f: f["step"] == 0)["layers"][0]["W"] == initial
        p.send({"type": "reset", "same_weights": False})
        again = p.until("session")
        assert again["config"]["init_seed"] == again["config"]["seed"] + 1
        assert p.frame()["layers"][0]["W"] != initial


def test_a_rebuild_while_a_frame_waits_for_its_turn_is_announced_before_its_frames(client: TestClient) -> None:
    # At 1 frame/s the frame of a step waits up to a second for its slot: a configure in
    # that second must reach the client as `session` before any frame of the new network
    # (a page reads the configuration, the seed of the weights included, from it).
    with peer(client) as ws:
        p = Peer(ws)
        p.hello(fps=1)
        p.frame()
        p.send({"type": "step", "unit": "update", "count": 1})  # its frame now waits for the next slot
        p.send({"type": "configure", "config": {"hidden": [3]}})
        for _ in range(10):
            msg = p.recv()
            if msg["type"] == "frame":
                p.send({"type": "ack", "seq": msg["seq"]})
                assert [len(layer["b"]) for layer in msg["layers"]] == [4, 2, 1], "a frame of the new network first"
            if msg["type"] == "session":
                assert msg["architecture"]["hidden"] == [3]
                break
        else:
            pytest.fail("no session message after the configure")


def test_set_param_freeze_and_trace(client: TestClient) -> None:
    with peer(client) as ws:
        p = Peer(ws)
        p.hello()
        p.frame()
        p.send({"type": "set_param", "layer": 0, "kind": "W", "i": 1, "j": 2, "value": 0.5})
        p.frame_where(lambda f: f["layers"][0]["W"][1][2] == 0.5)
        p.send({"type": "set_param", "layer": 2, "kind": "b", "j": 0, "value": -0.25})
        p.frame_where(lambda f: f["layers"][2]["b"][0] == -0.25)
        p.send({"type": "freeze", "layer": 1, "target": "neuron", "j": 0, "frozen": True})
        frame = p.frame_where(lambda f: f["layers"][1]["frozenb"][0])
        assert frame["layers"][1]["frozenb"] == [True, False]
        assert [row[0] for row in frame["layers"][1]["frozenW"]] == [True] * 4
        frozen_column = [row[0] for row in frame["layers"][1]["W"]]
        p.send({"type": "step", "unit": "update", "count": 20})
        frame = p.frame_where(lambda f: f["step"] == 20)
        assert [row[0] for row in frame["layers"][1]["W"]] == frozen_column
        p.send({"type": "trace", "index": 7})
        p.send({"type": "step", "unit": "phase"})
        assert p.frame_where(lambda f: f["trace"] is not None)["trace"]["index"] == 7


def test_play_pause_and_speed(client: TestClient) -> None:
    with peer(client) as ws:
        p = Peer(ws)
        p.hello()
        p.frame()
        p.send({"type": "set_speed", "updates_per_second": None})
        p.send({"type": "play"})
        frame = p.frame()
        while frame["step"] < 50:
            frame = p.frame()
        assert frame["playing"] is True and frame["updates_per_second"] is None
        p.send({"type": "pause"})
        frame = p.frame()
        while frame["playing"]:
            frame = p.frame()
        assert frame["playing"] is False


def test_divergence_pauses_and_rollback_restores(client: TestClient) -> None:
    with peer(client) as ws:
        p = Peer(ws)
        p.hello(config={"hidden": [8, 8], "activation": "relu", "dataset": "plane"}, hyper={"lr": 10})
        p.frame()
        p.send({"type": "set_param", "layer": 0, "kind": "W", "i": 0, "j": 0, "value": 1e6})
        p.send({"type": "step", "unit": "update", "count": 1000})
        frame = p.frame()
        for _ in range(5):
            if frame["diverged"] is not None:
                break
            frame = p.frame()
        assert frame["diverged"]["cause"]
        assert frame["step"] < 1000  # it stopped itself
        p.send({"type": "play"})
        error = p.until("error")
        assert error["request"] == "play" and "roll back" in error["message"]
        p.send({"type": "rollback"})
        frame = p.frame_where(lambda f: f["diverged"] is None)
        p.send({"type": "rollback"})
        assert p.until("error")["code"] == "not_diverged"


def test_resume_by_session_id_gets_the_history(client: TestClient) -> None:
    with peer(client) as ws:
        p = Peer(ws)
        sid = p.hello()["session_id"]
        p.send({"type": "step", "unit": "epoch", "count": 2})
        p.frame()
    with peer(client) as ws:
        p = Peer(ws)
        p.send({"type": "hello", "session_id": sid})
        assert p.until("session")["session_id"] == sid
        p.recv()  # dataset
        history = p.recv()
        assert history["type"] == "history"
        assert history["epochs"]["epoch"] == [1, 2]
        assert len(history["steps"]) == 50


BAD = [
    ("not json", "bad_json", None),
    ("[1, 2]", "bad_json", None),
    (json.dumps({"type": "fly"}), "unknown_type", "type"),
    (json.dumps({"type": "set_hyper", "lr": 50}), "invalid", "lr"),
    (json.dumps({"type": "set_hyper", "lr": "fast"}), "invalid", "lr"),
    (json.dumps({"type": "set_hyper", "momentum": 1.5}), "invalid", "momentum"),
    (json.dumps({"type": "set_hyper", "optimizer": "lbfgs"}), "invalid", "optimizer"),
    (json.dumps({"type": "set_hyper", "colour": "red"}), "invalid", "colour"),
    (json.dumps({"type": "step", "unit": "century"}), "invalid", "unit"),
    (json.dumps({"type": "step", "count": 0}), "invalid", "count"),
    ('{"type": "set_param", "layer": 0, "kind": "W", "j": 0, "value": 1e400}', "bad_json", None),
    (json.dumps({"type": "set_param", "layer": 0, "kind": "W", "j": 0, "value": "NaN"}), "invalid", "value"),
    (json.dumps({"type": "set_param", "layer": 0, "kind": "W", "j": 0, "value": 1e400}), "bad_json", None),
    (json.dumps({"type": "set_param", "layer": 7, "kind": "W", "j": 0, "value": 1}), "invalid", "layer"),
    (json.dumps({"type": "set_param", "layer": 0, "kind": "W", "i": 5, "j": 0, "value": 1}), "invalid", "i"),
    (json.dumps({"type": "freeze", "layer": 0, "target": "neuron", "j": 9}), "invalid", "j"),
    (json.dumps({"type": "configure", "config": {"hidden": [4, 40]}}), "invalid", "config.hidden.1"),
    (json.dumps({"type": "configure", "config": {"dataset": "spiral3", "task": "binary"}}), "invalid", None),
    (json.dumps({"type": "set_hyper", "batch_size": 2000}), "invalid", "batch_size"),
    (json.dumps({"type": "trace", "index": 1999}), "invalid", "index"),
    (json.dumps({"type": "ack", "seq": 10**6}), "invalid", "seq"),
    (json.dumps({"type": "set_fps", "fps": 120}), "invalid", "fps"),
    ("x" * 70000, "too_large", None),
    ("", "bad_json", None),
    ('{"type": "set_hyper", "lr": NaN}', "bad_json", None),
    ('{"type": "set_speed", "updates_per_second": Infinity}', "bad_json", None),
    ("[" * 3000 + "]" * 3000, "bad_json", None),
    (json.dumps({"type": ["play"]}), "unknown_type", "type"),
    (json.dumps({"type": "save", "name": "n" * 81}), "invalid", "name"),
    (json.dumps({"type": "configure", "config": {"features": ["x1", "x1"]}}), "invalid", "config.features"),
    (json.dumps({"type": "step", "unit": "epoch", "count": 1000}), "invalid", "count"),
]


@pytest.mark.parametrize(("raw", "code", "field"), BAD, ids=[f"{c}-{f}-{i}" for i, (_, c, f) in enumerate(BAD)])
def test_a_bad_message_gets_a_clear_error_and_the_session_goes_on(client: TestClient, raw: str, code: str,
                                                                  field: str | None) -> None:
    with peer(client) as ws:
        p = Peer(ws)
        p.hello()
        before = p.frame()
        p.send(raw)
        error = p.until("error")
        assert error["code"] == code
        assert error["field"] == field
        assert error["message"]
        if field is not None and code == "invalid":
            assert error["allowed"], error
        # The socket and the session go on untouched.
        p.send({"type": "step", "unit": "update"})
        after = p.frame_where(lambda f: f["step"] == before["step"] + 1)
        assert after["hyper"] == before["hyper"]


def test_control_before_hello_is_refused(client: TestClient) -> None:
    with peer(client) as ws:
        p = Peer(ws)
        p.send({"type": "play"})
        error = p.recv()
        assert error["code"] == "no_session" and "hello" in error["message"]


def test_resume_of_an_unknown_session_is_refused(client: TestClient) -> None:
    with peer(client) as ws:
        p = Peer(ws)
        p.send({"type": "hello", "session_id": "nope"})
        error = p.recv()
        assert error["code"] == "no_session" and error["field"] == "session_id"


def test_session_limit_is_enforced_with_its_number_when_every_session_is_watched(client: TestClient) -> None:
    with peer(client) as a, peer(client) as b, peer(client) as c:
        for ws in (a, b, c):
            Peer(ws).hello()
        with peer(client) as ws:
            p = Peer(ws)
            p.send({"type": "hello"})
            error = p.recv()
            assert error["code"] == "limit" and "3" in error["message"]


def test_other_origins_are_refused(client: TestClient) -> None:
    with pytest.raises(WebSocketDisconnect), \
            client.websocket_connect("/ws", headers={"origin": "http://evil.example"}) as ws:
        ws.receive_text()
    with client.websocket_connect("/ws", headers={"origin": "http://testserver"}) as ws:
        Peer(ws).hello()


def test_null_config_fields_in_hello_and_configure_change_nothing(client: TestClient) -> None:
    # Found by fuzzing: {"config": {"hidden": null}} in hello reached the session and closed the socket.
    with peer(client) as ws:
        p = Peer(ws)
        session = p.hello(config={"hidden": None, "dataset": None, "train_ratio": None, "task": None,
                                  "n_points": 100}, hyper={"lr": None})
        assert session["config"]["hidden"] == [4, 2] and session["config"]["dataset"] == "circle"
        p.send({"type": "configure", "config": {"hidden": None, "features": None, "seed": 9}})
        assert p.until("session")["config"]["hidden"] == [4, 2]
        p.send({"type": "step", "unit": "update", "count": 2})
        assert p.frame_where(lambda f: f["step"] == 2)["step"] == 2


def test_a_step_of_too_much_work_is_refused_and_one_epoch_is_not(client: TestClient) -> None:
    # 1000 epochs of 1800 single-point batches would hold the server for every session for minutes.
    with peer(client) as ws:
        p = Peer(ws)
        p.hello(config={"n_points": 2000, "train_ratio": 90}, hyper={"batch_size": 1})
        p.send({"type": "step", "unit": "epoch", "count": 1000})
        error = p.until("error")
        assert error["code"] == "invalid" and error["field"] == "count" and error["allowed"] == "1 to 2"
        p.send({"type": "step", "unit": "epoch", "count": 1})
        assert p.frame_where(lambda f: f["epoch"] == 1)["step"] == 1800


def test_binary_and_empty_frames_get_an_error_and_the_socket_goes_on(client: TestClient) -> None:
    with peer(client) as ws:
        p = Peer(ws)
        p.hello()
        p.frame()
        for frame in (b"", b"\xff\xfe\x00garbage", b"[1, 2]", b"x" * 70000):
            ws.send_bytes(frame)
            assert p.until("error")["code"] in ("bad_json", "too_large")
        ws.send_bytes(json.dumps({"type": "step"}).encode())  # a JSON text sent as binary is still read
        assert p.frame_where(lambda f: f["step"] == 1)["step"] == 1


def test_a_step_message_takes_as_much_as_an_http_step_the_work_bound_alone(client: TestClient) -> None:
    # The websocket refused 1001 updates ("1 to 1000") that POST .../step and docs/protocol.md
    # take (at most 5000 updates and 200,000 samples); both now refuse past the same bound.
    with peer(client) as ws:
        p = Peer(ws)
        session = p.hello(config={"n_points": 500}, hyper={"batch_size": 10})
        p.send({"type": "step", "unit": "update", "count": 2500})
        p.send({"type": "step", "unit": "update", "count": 5001})
        over_ws = p.until("error", limit=500)
        # Messages are handled in order: the first step is over, and it was not refused.
        assert over_ws["value"] == 5001
        assert client.get(f"/api/sessions/{session['session_id']}").json()["step"] == 2500
    sid = client.post("/api/sessions", json={"config": {"n_points": 500}, "hyper": {"batch_size": 10}}).json()
    assert client.post(f"/api/sessions/{sid['session_id']}/step", json={"count": 2500}).json()["step"] == 2500
    over_http = client.post(f"/api/sessions/{sid['session_id']}/step", json={"count": 5001}).json()
    assert over_ws["field"] == over_http["field"] == "count" and over_ws["value"] == over_http["value"] == 5001
    assert over_ws["allowed"].endswith(" 5000") and over_http["allowed"].endswith(" 5000")
