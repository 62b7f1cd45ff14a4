"""GET /api/vocabulary: what the page builds its menus and sliders from."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

from app import protocol as p
from app.server.main import create_app


def test_the_vocabulary_endpoint_returns_the_document_and_the_limits_the_session_repeats() -> None:
    with TestClient(create_app()) as client:
        answer = client.get("/api/vocabulary")
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("application/json")
        assert "max-age" in answer.headers["cache-control"]
        body = answer.json()
        assert body == json.loads(json.dumps(p.vocabulary.document()))
        assert [c["value"] for c in body["choices"]["optimizer"]] == list(p.OPTIMIZERS)
        with client.websocket_connect("/ws") as ws:
            ws.send_text(json.dumps({"type": "hello"}))
            session = json.loads(ws.receive_text())
            assert session["type"] == "session"
            assert session["limits"] == body["limits"]


def test_the_vocabulary_takes_no_query_parameters() -> None:
    with TestClient(create_app()) as client:
        answer = client.get("/api/vocabulary?x=1")
        assert answer.status_code == 422 and answer.json()["code"] == "invalid"


def test_a_session_made_without_settings_starts_from_the_vocabularys_defaults() -> None:
    with TestClient(create_app()) as client:
        defaults = client.get("/api/vocabulary").json()["defaults"]
        with client.websocket_connect("/ws") as ws:
            ws.send_text(json.dumps({"type": "hello"}))
            session = json.loads(ws.receive_text())
        assert session["type"] == "session"
        # A task of null is the data's own; the session names the one it resolved to.
        assert defaults["config"]["task"] is None and session["config"]["task"] == "playground"
        assert {**session["config"], "task": None} == defaults["config"]
        assert session["hyper"] == defaults["hyper"]
