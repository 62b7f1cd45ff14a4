"""The HTTP API through TestClient: every route, and each kind of bad input."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.server.main import create_app
from app.settings import Settings


@pytest.fixture()
def client() -> Iterator[TestClient]:
    with TestClient(create_app(Settings(max_sessions=4))) as c:
        yield c


def create(client: TestClient, **body: Any) -> dict[str, Any]:
    r = client.post("/api/sessions", json=body)
    assert r.status_code == 201, r.text
    return r.json()


def assert_error(r: Any, status: int, code: str, field: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"type", "code", "request", "field", "value", "allowed", "message"}
    assert body["type"] == "error" and body["code"] == code and body["message"]
    if field is not None:
        assert body["field"] == field
    return body


def test_healthz_and_page(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "/static/" in page.text


def test_openapi_documents_every_route(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/api/sessions", "/api/sessions/{session_id}", "/api/sessions/{session_id}/hyper",
                 "/api/sessions/{session_id}/step", "/api/sessions/{session_id}/model",
                 "/api/sessions/{session_id}/dataset", "/api/sessions/{session_id}/history.csv",
                 "/api/sessions/{session_id}/predict", "/api/sessions/{session_id}/config",
                 "/api/sessions/{session_id}/reset", "/api/sessions/{session_id}/history"):
        assert path in paths, path
    assert client.get("/docs").status_code == 200


def test_create_step_and_read(client: TestClient) -> None:
    s = create(client, config={"dataset": "xor", "hidden": [6], "seed": 3}, hyper={"lr": 0.1})
    assert s["config"]["dataset"] == "xor" and s["hyper"]["lr"] == 0.1
    assert s["architecture"]["param_counts"] == [18, 7]
    sid = s["session_id"]
    first = client.post(f"/api/sessions/{sid}/step", json={"count": 10}).json()
    assert first["step"] == 10
    later = client.post(f"/api/sessions/{sid}/step", json={"unit": "epoch", "count": 20}).json()
    assert later["epoch"] >= 20
    assert later["metrics"]["train_loss"] < first["metrics"]["train_loss"]
    assert client.get(f"/api/sessions/{sid}").json()["step"] == later["step"]


def test_same_seed_same_run(client: TestClient) -> None:
    a = create(client, config={"seed": 42})["session_id"]
    b = create(client, config={"seed": 42})["session_id"]
    for sid in (a, b):
        client.post(f"/api/sessions/{sid}/step", json={"count": 100})
    assert client.get(f"/api/sessions/{a}/model").json() == client.get(f"/api/sessions/{b}/model").json()


def test_hyper_read_and_change(client: TestClient) -> None:
    sid = create(client)["session_id"]
    assert client.get(f"/api/sessions/{sid}/hyper").json()["momentum"] == 0.9
    r = client.patch(f"/api/sessions/{sid}/hyper", json={"momentum": 0.5, "optimizer": "nesterov"})
    assert r.json()["momentum"] == 0.5 and r.json()["optimizer"] == "nesterov"
    changes = client.get(f"/api/sessions/{sid}/history").json()["changes"]
    assert {c["field"] for c in changes} == {"momentum", "optimizer"}


def test_model_export_import_round_trip(client: TestClient) -> None:
    sid = create(client, hyper={"optimizer": "adam"})["session_id"]
    client.post(f"/api/sessions/{sid}/step", json={"count": 37})
    exported = client.get(f"/api/sessions/{sid}/model").json()
    other = create(client)["session_id"]
    assert client.put(f"/api/sessions/{other}/model", json=exported).status_code == 200
    assert client.get(f"/api/sessions/{other}/model").json() == exported
    assert client.get(f"/api/sessions/{other}").json()["step"] == 37


def test_model_import_refuses_a_model_that_does_not_fit(client: TestClient) -> None:
    sid = create(client)["session_id"]
    wide = create(client, config={"features": ["x1", "x2", "x1x2"]})["session_id"]
    exported = client.get(f"/api/sessions/{wide}/model").json()
    body = assert_error(client.put(f"/api/sessions/{sid}/model", json=exported), 422, "invalid", "model")
    assert "3 inputs" in body["message"]
    assert_error(client.put(f"/api/sessions/{sid}/model", json={"weights": "no"}), 422, "invalid", "model")


def test_dataset_export(client: TestClient) -> None:
    sid = create(client, config={"n_points": 100, "train_ratio": 70, "val_ratio": 10})["session_id"]
    data = client.get(f"/api/sessions/{sid}/dataset").json()
    sizes = [len(data[s]["x"]) for s in ("train", "val", "test")]
    assert sizes == [70, 10, 20]
    assert data["plane"] is True and set(data["train"]["y"]) <= {0, 1}


def test_history_csv(client: TestClient) -> None:
    sid = create(client, config={"n_points": 100})["session_id"]
    client.post(f"/api/sessions/{sid}/step", json={"unit": "epoch", "count": 3})
    client.patch(f"/api/sessions/{sid}/hyper", json={"lr": 0.1})
    r = client.get(f"/api/sessions/{sid}/history.csv")
    assert r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    epochs = [row for row in rows if row["kind"] == "epoch"]
    assert [row["epoch"] for row in epochs] == ["1", "2", "3"]
    assert float(epochs[-1]["train_loss"]) > 0
    changes = [row for row in rows if row["kind"] == "change"]
    assert changes[0]["field"] == "lr" and float(changes[0]["new"]) == 0.1


def test_predict_agrees_with_the_model(client: TestClient) -> None:
    sid = create(client, config={"features": ["x1", "x2", "x1_sq", "sin_x2"]})["session_id"]
    client.post(f"/api/sessions/{sid}/step", json={"count": 50})
    points = [[0.5, -1.0], [3.0, 2.0]]
    out = np.array(client.post(f"/api/sessions/{sid}/predict", json={"points": points}).json()["outputs"])
    model = client.get(f"/api/sessions/{sid}/model").json()
    a = np.array([[x1, x2, x1 * x1, np.sin(x2)] for x1, x2 in points])
    layers = list(zip(model["weights"], model["biases"]))
    for W, b in layers[:-1]:
        a = np.tanh(a @ np.array(W) + np.array(b))
    W, b = layers[-1]
    expected = np.tanh(a @ np.array(W) + np.array(b))
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-12)


def test_config_change_and_reset(client: TestClient) -> None:
    sid = create(client)["session_id"]
    s = client.patch(f"/api/sessions/{sid}/config", json={"hidden": [5, 5, 5]}).json()
    assert s["architecture"]["hidden"] == [5, 5, 5] and s["step"] == 0
    w0 = client.get(f"/api/sessions/{sid}/model").json()["weights"]
    client.post(f"/api/sessions/{sid}/step", json={"count": 5})
    client.post(f"/api/sessions/{sid}/reset")
    assert client.get(f"/api/sessions/{sid}/model").json()["weights"] == w0


@pytest.mark.parametrize(("method", "path", "body", "field"), [
    ("post", "/api/sessions", {"config": {"hidden": [64]}}, "config.hidden.0"),
    ("post", "/api/sessions", {"config": {"dataset": "mnist"}}, "config.dataset"),
    ("post", "/api/sessions", {"hyper": {"lr": 0}}, "hyper.lr"),
    ("post", "/api/sessions", {"colour": 1}, "colour"),
    ("post", "/api/sessions", {"config": {"dataset": "plane", "task": "binary"}}, "config"),
])
def test_create_rejects_bad_input(client: TestClient, method: str, path: str, body: Any, field: str) -> None:
    error = assert_error(getattr(client, method)(path, json=body), 422, "invalid", field)
    assert error["message"]


def test_bad_input_on_a_session(client: TestClient) -> None:
    sid = create(client)["session_id"]
    body = assert_error(client.patch(f"/api/sessions/{sid}/hyper", json={"lr": 20}), 422, "invalid", "lr")
    assert body["allowed"] == "1e-05 to 10"
    assert_error(client.post(f"/api/sessions/{sid}/step", json={"count": 0}), 422, "invalid", "count")
    assert_error(client.post(f"/api/sessions/{sid}/predict", json={"points": [[1.0]]}), 422, "invalid", "points")
    assert_error(client.patch(f"/api/sessions/{sid}/hyper", json={"batch_size": 1000}), 422, "invalid", "batch_size")
    assert_error(client.get("/api/sessions/nope"), 404, "no_session", "session_id")
    assert_error(client.get("/api/sessions/nope/model"), 404, "no_session", "session_id")
    # The session went on untouched.
    assert client.get(f"/api/sessions/{sid}/hyper").json()["lr"] == 0.03


def test_session_limit(client: TestClient) -> None:
    for _ in range(4):
        create(client)
    body = assert_error(client.post("/api/sessions", json={}), 503, "limit")
    assert "4" in body["message"]
