"""The transfer lab on the wire: fine_tune and replay over the websocket, the tasks in the session
message and the model export, and POST /api/sessions/{id}/fork with its guard."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from support.inprocess import Peer

from app import protocol as p
from app.server.main import create_app
from app.settings import Settings


@pytest.fixture()
def client() -> Iterator[TestClient]:
    with TestClient(create_app(Settings(store="memory", max_sessions=6))) as c:
        yield c


def create(client: TestClient, **body: Any) -> str:
    r = client.post("/api/sessions", json=body)
    assert r.status_code == 201, r.text
    sid: str = r.json()["session_id"]
    return sid


def error_of(peer: Peer, message: dict[str, Any]) -> dict[str, Any]:
    peer.send(message)
    error = peer.until("error")
    p.check_server_message(error)
    return error


def test_fine_tune_over_the_websocket_announces_the_tasks_and_a_step_0_forgetting_row(client: TestClient) -> None:
    with client.websocket_connect("/ws") as ws:
        peer = Peer(ws)
        first = peer.hello(config={"dataset": "gauss", "n_points": 200}, playing=False)
        assert [t["start"] for t in first["tasks"]] == ["new"]
        assert first["replay"] == {"share": 0.0, "buffer": 100, "available": 0}
        peer.send({"type": "step", "unit": "epoch", "count": 3})
        peer.frame_where(lambda f: f["epoch"] == 3)
        a_acc = client.get(f"/api/sessions/{first['session_id']}").json()["metrics"]["test_acc"]
        peer.send({"type": "fine_tune", "config": {"rotate": 90}, "start": "current"})
        session = peer.until("session")
        p.check_server_message(session)
        assert session["config"]["rotate"] == 90
        assert [(t["start"], t["trained_steps"]) for t in session["tasks"]] == [("new", 30), ("current", None)]
        assert session["tasks"][1]["kept"] == [0, 1, 2] and session["replay"]["available"] == 100
        assert peer.recv()["type"] == "dataset"
        history = peer.recv()
        p.check_server_message(history)
        assert history["epochs"]["step"] == [0] and history["epochs"]["old_task_acc"] == [a_acc]


def test_replay_over_the_websocket_is_refused_without_a_previous_task_then_logged(client: TestClient) -> None:
    with client.websocket_connect("/ws") as ws:
        peer = Peer(ws)
        peer.hello(config={"dataset": "gauss", "n_points": 200}, playing=False)
        error = error_of(peer, {"type": "replay", "share": 0.3, "buffer": 50})
        assert error["code"] == "invalid" and error["request"] == "replay"
        assert "fine-tune" in error["message"] and "same inputs and classes" in error["message"]
        error = error_of(peer, {"type": "replay", "share": "0.3"})
        assert error["code"] == "invalid" and error["field"] == "share"
        peer.send({"type": "fine_tune", "config": {"shift": [2, 0]}})
        peer.until("history")
        peer.send({"type": "replay", "share": 0.3, "buffer": 50})
        frame = peer.frame_where(lambda f: any(c["field"] == "replay_share" for c in f["history"]["changes"]))
        changes = {c["field"]: (c["old"], c["new"]) for c in frame["history"]["changes"]}
        assert changes == {"replay_share": (0.0, 0.3), "replay_buffer": (100, 50)}
        peer.send({"type": "reset", "same_weights": True})  # the task again: the session message tells the setting
        assert peer.until("session")["replay"] == {"share": 0.3, "buffer": 50, "available": 100}


def test_a_bad_fine_tune_leaves_the_session_as_it_was(client: TestClient) -> None:
    with client.websocket_connect("/ws") as ws:
        peer = Peer(ws)
        peer.hello(config={"dataset": "gauss"}, playing=False)
        error = error_of(peer, {"type": "fine_tune", "config": {"dataset": "mammals", "rotate": 30}})
        assert error["code"] == "invalid" and "rotate must be 0" in error["message"]
        error = error_of(peer, {"type": "fine_tune", "config": {"rotate": 200}})
        assert error["field"] == "config.rotate"
        sid = peer.hello()["session_id"]
    state = client.get(f"/api/sessions/{sid}").json()
    assert state["config"]["dataset"] == "circle" and len(state["tasks"]) == 1


def test_the_model_export_carries_tasks_and_masks_and_imports_back(client: TestClient) -> None:
    with client.websocket_connect("/ws") as ws:
        peer = Peer(ws)
        sid = peer.hello(config={"dataset": "gauss"}, playing=False)["session_id"]
        peer.send({"type": "fine_tune", "config": {"rotate": 45}, "start": "scratch"})
        peer.until("history")
    doc = client.get(f"/api/sessions/{sid}/model").json()
    assert [t["start"] for t in doc["tasks"]] == ["new", "scratch"] and "trainable" in doc
    r = client.put(f"/api/sessions/{sid}/model", json=doc)
    assert r.status_code == 200, r.text
    assert [t["start"] for t in r.json()["tasks"]] == ["new"]  # an import starts a new sequence
    bad = {**doc, "tasks": [{**doc["tasks"][0], "start": "warm"}]}
    r = client.put(f"/api/sessions/{sid}/model", json=bad)
    assert r.status_code == 422 and r.json()["code"] == "invalid"


def test_fork_copies_the_session_now_with_its_tasks_and_replay(client: TestClient) -> None:
    with client.websocket_connect("/ws") as ws:
        peer = Peer(ws)
        sid = peer.hello(config={"dataset": "gauss", "n_points": 200}, playing=False)["session_id"]
        peer.send({"type": "step", "unit": "epoch", "count": 2})
        peer.frame_where(lambda f: f["epoch"] == 2)
        peer.send({"type": "fine_tune", "config": {"rotate": 90}})
        peer.until("history")
        peer.send({"type": "replay", "share": 0.5, "buffer": 40})
        peer.send({"type": "step", "unit": "update", "count": 3})
        peer.frame_where(lambda f: f["step"] == 3)
    r = client.post(f"/api/sessions/{sid}/fork")
    assert r.status_code == 201, r.text
    copy = r.json()["session_id"]
    assert set(r.json()) == {"session_id"} and copy != sid
    original, forked = (client.get(f"/api/sessions/{i}").json() for i in (sid, copy))
    for key in ("config", "tasks", "replay", "step"):
        assert forked[key] == original[key], key
    del original["metrics"]["batch_loss"], forked["metrics"]["batch_loss"]  # the last update's: not in a copy
    assert forked["metrics"] == original["metrics"]
    for i in (sid, copy):  # from the same start, the same run: the copy is exact
        assert client.post(f"/api/sessions/{i}/step", json={"count": 2, "unit": "epoch"}).status_code == 200
    assert client.get(f"/api/sessions/{copy}/model").json() == client.get(f"/api/sessions/{sid}/model").json()
    with client.websocket_connect("/ws") as ws:  # the page opens the copy on a second socket
        assert Peer(ws).hello(session_id=copy)["session_id"] == copy


def test_fork_is_guarded_as_every_session_route(client: TestClient) -> None:
    r = client.post("/api/sessions/nosuchsession/fork")
    assert r.status_code == 404 and r.json()["code"] == "no_session"
    with client.websocket_connect("/ws") as ws:
        peer = Peer(ws)
        sid = peer.hello(playing=False)["session_id"]
        peer.send({"type": "room_create"})
        key = peer.until("room")["teacher_key"]
        for headers in ({}, {"X-Teacher-Key": "not-the-key"}):
            r = client.post(f"/api/sessions/{sid}/fork", headers=headers)
            assert r.status_code == 403 and r.json()["code"] == "forbidden"
        r = client.post(f"/api/sessions/{sid}/fork", headers={"X-Teacher-Key": key})
        assert r.status_code == 201
        r = client.post(f"/api/sessions/{sid}/fork?deep=1", headers={"X-Teacher-Key": key})
        assert r.status_code == 422  # no query parameters


def test_fork_counts_against_the_new_session_quota() -> None:
    with TestClient(create_app(Settings(store="memory", new_sessions_per_minute=3))) as client:
        sid = create(client)
        answers = [client.post(f"/api/sessions/{sid}/fork") for _ in range(3)]
        assert [r.status_code for r in answers] == [201, 201, 429]
        assert answers[2].json()["code"] == "limit" and answers[2].json()["request"] == "fork_session"
