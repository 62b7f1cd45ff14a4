"""GET /api/sessions/{id}/code.py: the session as a script that trains on, through the HTTP API.

The exported NumPy script, run in a subprocess, gives the next 10 updates the server gives
(POST .../step): the same batch losses and the same weights and optimizer state (to 1e-12)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.server.main import create_app
from app.settings import Settings

UPDATES = 10
TOLERANCE = 1e-12


@pytest.fixture()
def client() -> Iterator[TestClient]:
    with TestClient(create_app(Settings(store="memory", max_sessions=4))) as c:
        yield c


def create(client: TestClient, **body: Any) -> str:
    r = client.post("/api/sessions", json=body)
    assert r.status_code == 201, r.text
    session_id: str = r.json()["session_id"]
    return session_id


def worst(a: Any, b: Any) -> float:
    if isinstance(a, dict):
        assert set(a) == set(b)
        return max(worst(a[k], b[k]) for k in a)
    if isinstance(a, list) and a and isinstance(a[0], dict):
        return max(worst(x, y) for x, y in zip(a, b, strict=True))
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    assert x.shape == y.shape
    return float(np.max(np.abs(x - y)))


def run(text: str, tmp_path: Path) -> dict[str, Any]:
    path, out = tmp_path / "paramlab_export.py", tmp_path / "params.json"
    path.write_text(text)
    done = subprocess.run([sys.executable, str(path), "--updates", str(UPDATES), "--out", str(out)],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(out.read_text())
    return result


@pytest.mark.parametrize("body", [
    {"config": {"dataset": "xor", "hidden": [5, 3]}, "hyper": {"optimizer": "momentum", "dropout": 0.2}},
    {"config": {"dataset": "spiral3", "hidden": [6], "activation": "relu"}, "hyper": {"optimizer": "adam"}},
    {"config": {"dataset": "mammals", "hidden": [3]},
     "hyper": {"optimizer": "rmsprop", "lr": 0.01, "regularization": "l1", "reg_rate": 0.01}},
])
def test_the_exported_script_gives_the_servers_next_updates(client: TestClient, tmp_path: Path,
                                                              body: dict[str, Any]) -> None:
    sid = create(client, **body)
    assert client.post(f"/api/sessions/{sid}/step", json={"count": 17}).status_code == 200
    r = client.get(f"/api/sessions/{sid}/code.py", params={"lang": "numpy"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/x-python")
    assert r.headers["content-disposition"] == f'attachment; filename="paramlab_{sid}.py"'
    assert f"Paramlab session {sid} at step 17" in r.text
    result = run(r.text, tmp_path)
    stepped = client.post(f"/api/sessions/{sid}/step", json={"count": UPDATES})
    assert stepped.status_code == 200 and stepped.json()["step"] == 17 + UPDATES == result["step"]
    model = client.get(f"/api/sessions/{sid}/model").json()
    params = [{"W": W, "b": b} for W, b in zip(model["weights"], model["biases"], strict=True)]
    assert worst(result["params"], params) <= TOLERANCE
    state = model["optimizer"]["state"]
    assert worst(result["state"], {k: state[k] for k in result["state"]}) <= TOLERANCE
    history = client.get(f"/api/sessions/{sid}/history").json()
    losses = dict(zip(history["steps"], history["batch_loss"], strict=True))
    assert worst(result["losses"], [losses[17 + i] for i in range(1, UPDATES + 1)]) <= TOLERANCE


def test_the_torch_script_is_served_too(client: TestClient) -> None:
    sid = create(client)
    r = client.get(f"/api/sessions/{sid}/code.py?lang=torch")
    assert r.status_code == 200 and "import torch" in r.text and "torch.autograd.grad" in r.text
    compile(r.text, "paramlab.py", "exec")
    assert "import torch" not in client.get(f"/api/sessions/{sid}/code.py").text  # numpy by default


def test_bad_requests_are_refused_in_words(client: TestClient) -> None:
    sid = create(client)
    r = client.get(f"/api/sessions/{sid}/code.py?lang=jax")
    assert r.status_code == 422
    error = r.json()
    assert error["code"] == "invalid" and error["field"] == "lang" and error["value"] == "jax"
    assert "'numpy'" in error["message"] and "'torch'" in error["message"]
    r = client.get(f"/api/sessions/{sid}/code.py?lang=numpy&format=ipynb")
    assert r.status_code == 422 and r.json()["field"] == "format"
    r = client.get("/api/sessions/no-such-session/code.py")
    assert r.status_code == 404 and r.json()["code"] == "no_session"


def test_a_diverged_run_is_refused_with_409(client: TestClient) -> None:
    sid = create(client, config={"dataset": "plane", "hidden": [8, 8]}, hyper={"optimizer": "sgd", "lr": 10})
    client.post(f"/api/sessions/{sid}/step", json={"count": 200})
    assert client.get(f"/api/sessions/{sid}").json()["diverged"] is not None
    r = client.get(f"/api/sessions/{sid}/code.py")
    assert r.status_code == 409
    assert r.json()["code"] == "invalid" and "diverged" in r.json()["message"]


def test_a_room_session_answers_only_to_its_teacher(client: TestClient) -> None:
    with client.websocket_connect("/ws") as ws:
        ws.send_json({"type": "hello"})
        sid = until(ws, "session")["session_id"]
        ws.send_json({"type": "room_create"})
        key = until(ws, "room")["teacher_key"]
        url = f"/api/sessions/{sid}/code.py"
        for headers in ({}, {"X-Teacher-Key": "not-the-key"}):
            r = client.get(url, headers=headers)
            assert r.status_code == 403 and r.json()["code"] == "forbidden"
        assert client.get(url, headers={"X-Teacher-Key": key}).status_code == 200


def until(ws: Any, kind: str, limit: int = 200) -> dict[str, Any]:
    for _ in range(limit):
        msg: dict[str, Any] = ws.receive_json()
        if msg["type"] == "frame":
            ws.send_json({"type": "ack", "seq": msg["seq"]})
        if msg["type"] == kind:
            return msg
    raise AssertionError(f"no {kind} message in {limit}")
