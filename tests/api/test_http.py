"""The HTTP API through TestClient: every route, and each kind of bad input."""

from __future__ import annotations

import csv
import io
import json
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
    # A body that is no model file at all is refused at the edge, naming its first fault.
    assert_error(client.put(f"/api/sessions/{sid}/model", json={"weights": "no"}), 422, "invalid", "version")


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
    body = assert_error(client.post(f"/api/sessions/{sid}/predict", json={"points": [[1.0]]}), 422, "invalid", "points")
    assert body["allowed"] == "rows of 2 finite numbers"
    assert_error(client.post(f"/api/sessions/{sid}/predict", json={"points": [[]]}), 422, "invalid", "points.0")
    assert_error(client.patch(f"/api/sessions/{sid}/hyper", json={"batch_size": 1000}), 422, "invalid", "batch_size")
    assert_error(client.get("/api/sessions/nope"), 404, "no_session", "session_id")
    assert_error(client.get("/api/sessions/nope/model"), 404, "no_session", "session_id")
    # The session went on untouched.
    assert client.get(f"/api/sessions/{sid}/hyper").json()["lr"] == 0.03


def test_a_full_server_makes_room_by_storing_the_longest_unwatched_session(client: TestClient) -> None:
    first = create(client)["session_id"]
    client.post(f"/api/sessions/{first}/step", json={"count": 3})
    ids = [first] + [create(client)["session_id"] for _ in range(3)]
    newest = create(client)["session_id"]  # the server holds 4: the first leaves memory for the store
    registry = client.app.state.registry  # type: ignore[attr-defined]
    assert newest in registry.sessions and ids[0] not in registry.sessions
    # Its owner gets it back from the store, as it was.
    assert client.get(f"/api/sessions/{ids[0]}").json()["step"] == 3


# ---------------------------------------------------------------------------
# Regressions found by fuzzing the API (schemathesis against /openapi.json, by hand)


def test_null_config_fields_leave_them_as_they_are(client: TestClient) -> None:
    # Was a 500: an explicit null reached the session as the value of the field.
    body = {"config": {"dataset": None, "hidden": None, "features": None, "n_points": None, "task": None},
            "hyper": {"lr": None, "optimizer": None}}
    s = create(client, **body)
    assert s["config"]["dataset"] == "circle" and s["config"]["hidden"] == [4, 2] and s["hyper"]["lr"] == 0.03
    sid = s["session_id"]
    s = client.patch(f"/api/sessions/{sid}/config", json={"hidden": None, "activation": None, "seed": 5}).json()
    assert s["config"]["hidden"] == [4, 2] and s["config"]["seed"] == 5
    assert client.post(f"/api/sessions/{sid}/step", json={"count": 3}).json()["step"] == 3


@pytest.mark.parametrize(("method", "path", "content", "status", "code", "field"), [
    ("post", "/api/sessions", b"{", 400, "bad_json", None),           # was field "1", message "JSON decode error"
    ("post", "/api/sessions", b"\xff\xfe{}", 400, "bad_json", None),  # was {"detail": ...}
    ("post", "/api/sessions", b"[" * 5000 + b"]" * 5000, 400, "bad_json", None),
    ("get", "/api/no-such-route", None, 404, "invalid", "path"),      # was {"detail": "Not Found"}
    ("delete", "/api/sessions/abc/hyper", None, 405, "invalid", "method"),
    ("get", "/api/sessions/" + "x" * 65, None, 422, "invalid", "session_id"),
    ("get", "/api/runs/" + "x" * 65, None, 422, "invalid", "run_id"),
], ids=["truncated", "not-utf8", "nested-too-deep", "no-route", "no-method", "long-session-id", "long-run-id"])
def test_every_error_has_the_one_shape(client: TestClient, method: str, path: str, content: bytes | None,
                                       status: int, code: str, field: str | None) -> None:
    headers = {"content-type": "application/json"} if content is not None else {}
    body = assert_error(client.request(method, path, content=content, headers=headers), status, code, field)
    assert body["allowed"]


def test_method_not_allowed_names_every_method_of_the_path(client: TestClient) -> None:
    r = client.request("OPTIONS", "/api/sessions/abc/hyper")
    body = assert_error(r, 405, "invalid", "method")
    # Starlette's own Allow named the first route's method only (GET), not PATCH.
    assert body["allowed"] == r.headers["allow"] == "GET, PATCH"


def test_unknown_query_parameters_are_refused(client: TestClient) -> None:
    sid = create(client)["session_id"]
    # Was silently ignored: ?count=100 stepped once.
    body = assert_error(client.post(f"/api/sessions/{sid}/step?count=100"), 422, "invalid", "count")
    assert body["allowed"] == "no query parameters"
    for path in ("history", "dataset", "history.csv"):
        assert_error(client.get(f"/api/sessions/{sid}/{path}?limit=-1"), 422, "invalid", "limit")
    body = assert_error(client.post(f"/api/sessions/{sid}/reset?same_weights=false&x=1"), 422, "invalid", "x")
    assert body["allowed"] == "query parameters: same_weights"
    assert_error(client.post(f"/api/sessions/{sid}/reset?same_weights=maybe"), 422, "invalid", "same_weights")
    assert client.post(f"/api/sessions/{sid}/reset?same_weights=false").status_code == 200
    assert client.get(f"/api/sessions/{sid}").json()["step"] == 0


def test_a_step_is_bounded_by_the_work_it_means(client: TestClient) -> None:
    # Was a hang: 100000 epochs in one request.
    sid = create(client, config={"n_points": 2000, "train_ratio": 90}, hyper={"batch_size": 1})["session_id"]
    body = assert_error(client.post(f"/api/sessions/{sid}/step", json={"unit": "epoch", "count": 100000}),
                        422, "invalid", "count")
    body = assert_error(client.post(f"/api/sessions/{sid}/step", json={"unit": "epoch", "count": 3}),
                        422, "invalid", "count")
    assert body["allowed"] == "1 to 2" and "1800 training points in batches of 1" in body["message"]
    assert client.post(f"/api/sessions/{sid}/step", json={"unit": "epoch", "count": 1}).json()["epoch"] == 1
    client.patch(f"/api/sessions/{sid}/hyper", json={"batch_size": 1800})
    body = assert_error(client.post(f"/api/sessions/{sid}/step", json={"count": 5000}), 422, "invalid", "count")
    assert body["allowed"] == "1 to 111"


def test_a_body_past_the_limit_is_refused_without_reading_it(client: TestClient) -> None:
    sid = create(client)["session_id"]
    big = b'{"points": [' + b"[1.0, 2.0]," * 800_000 + b"[1.0, 2.0]]}"
    body = assert_error(client.post(f"/api/sessions/{sid}/predict", content=big,
                                    headers={"content-type": "application/json"}), 413, "too_large")
    assert "bytes" in body["allowed"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        yield b'{"points": ['
        for _ in range(800):
            yield b"[1.0, 2.0]," * 1000
        yield b"[1.0, 2.0]]}"

    assert_error(client.post(f"/api/sessions/{sid}/predict", content=chunks(),
                             headers={"content-type": "application/json"}), 413, "too_large")
    assert client.post(f"/api/sessions/{sid}/predict", json={"points": [[1.0, 2.0]]}).status_code == 200


@pytest.mark.parametrize(("change", "field"), [
    ({"architecture": {"n_inputs": 2, "hidden": [4, 2], "activations": ["tanh", "tanh"], "n_outputs": 1,
                       "task": ["playground"]}}, "architecture.task"),   # was a 500 (unhashable task)
    ({"step": 2**64 + 5}, "step"),             # was accepted, then every step, save and frame failed
    ({"epoch": -1}, "epoch"),
    ({"weights": [[[float("nan")]]]}, "weights.0.0.0"),
    ({"weights": [[[1.0] * 40]]}, "weights.0.0"),
    ({"optimizer": {"name": ["adam"]}}, "optimizer.name"),
    ({"version": 2}, "version"),
])
def test_model_import_refuses_bad_documents_and_the_session_goes_on(client: TestClient, change: dict[str, Any],
                                                                    field: str) -> None:
    sid = create(client)["session_id"]
    client.post(f"/api/sessions/{sid}/step", json={"count": 5})
    model = client.get(f"/api/sessions/{sid}/model").json() | change
    r = client.put(f"/api/sessions/{sid}/model", content=json.dumps(model).replace("NaN", "1e999"),
                   headers={"content-type": "application/json"})
    assert_error(r, 422, "invalid", field)
    assert client.post(f"/api/sessions/{sid}/step", json={"count": 2}).json()["step"] == 7
    assert client.post(f"/api/sessions/{sid}/save", json={"name": "still fine"}).status_code == 201


def test_model_import_takes_a_minimal_hand_written_model(client: TestClient) -> None:
    sid = create(client, config={"hidden": []})["session_id"]
    model = {"version": 1, "architecture": {"n_inputs": 2, "hidden": [], "activations": [], "n_outputs": 1,
                                            "task": "playground"},
             "weights": [[[1], [-1]]], "biases": [[0]], "optimizer": None, "trainable": None}
    assert client.put(f"/api/sessions/{sid}/model", json=model).status_code == 200
    out = client.post(f"/api/sessions/{sid}/predict", json={"points": [[0.5, 0.25]]}).json()["outputs"]
    assert out == [[pytest.approx(np.tanh(0.25))]]


def test_openapi_documents_the_error_shape_of_every_route(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    ref = "#/components/schemas/ErrorMessage"
    for path, operations in spec["paths"].items():
        if not path.startswith("/api/"):
            continue
        for method, op in operations.items():
            responses = op["responses"]
            assert responses["422"]["content"]["application/json"]["schema"]["$ref"] == ref, (method, path)
            if "{session_id}" in path or "{run_id}" in path:
                assert responses["404"]["content"]["application/json"]["schema"]["$ref"] == ref, (method, path)
    csv_get = spec["paths"]["/api/sessions/{session_id}/history.csv"]["get"]["responses"]
    assert list(csv_get["200"]["content"]) == ["text/csv"]
    assert "HTTPValidationError" not in spec["components"]["schemas"]


def test_session_routes_run_on_the_event_loop(client: TestClient) -> None:
    """A plain `def` route runs in a worker thread, racing the training loop on the
    same session; every route that touches sessions must be `async`."""
    import inspect

    from fastapi.routing import APIRoute

    from app.server import api, uploads

    routes = [r for r in api.router.routes + uploads.router.routes if isinstance(r, APIRoute)]
    assert len(routes) >= 17
    threaded = [r.path for r in routes if not inspect.iscoroutinefunction(r.endpoint)]
    assert threaded == []


def test_exports_wait_for_the_training_loop_to_have_time_to_spare(client: TestClient, monkeypatch) -> None:
    """Exports are not live work: like snapshots, each first waits (briefly) for a
    round of the training loop with nothing due."""
    sid = create(client)["session_id"]
    registry = client.app.state.registry
    waits: list[float] = []
    real = registry.spare

    async def spy(timeout: float) -> None:
        waits.append(timeout)
        await real(timeout)

    monkeypatch.setattr(registry, "spare", spy)
    for path in ("model", "history", "history.csv", "dataset"):
        assert client.get(f"/api/sessions/{sid}/{path}").status_code == 200
    assert len(waits) == 4 and all(0 < t <= 0.1 for t in waits)
    assert client.post(f"/api/sessions/{sid}/step", json={"count": 1}).status_code == 200
    assert len(waits) == 4  # live controls do not wait
