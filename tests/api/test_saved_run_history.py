"""GET /api/runs/{run_id}/history: a saved run's epoch rows, for drawing it beside a live run."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from app.server.main import create_app
from app.settings import Settings


@pytest.fixture()
def client() -> Iterator[TestClient]:
    with TestClient(create_app(Settings(max_sessions=4))) as c:
        yield c


def test_the_route_returns_the_session_epoch_rows_at_save_time(client: TestClient) -> None:
    sid = client.post("/api/sessions", json={"config": {"dataset": "xor"}}).json()["session_id"]
    assert client.post(f"/api/sessions/{sid}/step", json={"unit": "epoch", "count": 4}).status_code == 200
    at_save = client.get(f"/api/sessions/{sid}/history").json()["epochs"]
    saved = client.post(f"/api/sessions/{sid}/save", json={"name": "xor, four epochs"}).json()
    # Training on after the save changes the session, not the saved run.
    assert client.post(f"/api/sessions/{sid}/step", json={"unit": "epoch", "count": 2}).status_code == 200

    r = client.get(f"/api/runs/{saved['run_id']}/history")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body == {"run_id": saved["run_id"], "epochs": at_save}
    assert body["epochs"]["epoch"][-1] == 4 and len(body["epochs"]["train_loss"]) == len(body["epochs"]["step"])
    assert all(isinstance(v, float) for v in body["epochs"]["train_loss"])


def test_an_unknown_run_is_404_with_a_clear_message(client: TestClient) -> None:
    r = client.get("/api/runs/nosuchrun123/history")
    assert r.status_code == 404, r.text
    body = r.json()
    assert body["code"] == "no_session" and body["field"] == "run_id" and body["value"] == "nosuchrun123"
    assert "nosuchrun123" in body["message"]


def test_a_run_id_past_its_length_is_refused(client: TestClient) -> None:
    r = client.get("/api/runs/" + "x" * 65 + "/history")
    assert r.status_code == 422 and r.json()["field"] == "run_id"


def test_the_route_is_in_the_openapi_schema_with_its_response(client: TestClient) -> None:
    route = client.get("/openapi.json").json()["paths"]["/api/runs/{run_id}/history"]["get"]
    schema = route["responses"]["200"]["content"]["application/json"]["schema"]
    assert "404" in route["responses"] and schema.get("$ref", "").endswith("SavedRunHistory")
