"""POST /api/datasets: a CSV becomes a dataset a session trains on, or a clear error."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from support.samples import animals_csv

from app.data import csv_import
from app.server.main import create_app
from app.settings import Settings


@pytest.fixture()
def client() -> Iterator[TestClient]:
    with TestClient(create_app(Settings())) as c:
        yield c


def upload(client: TestClient, body: str | bytes) -> Any:
    return client.post("/api/datasets", content=body, headers={"content-type": "text/csv"})


def assert_error(r: Any, status: int, code: str, words: str) -> None:
    assert r.status_code == status, r.text
    body = r.json()
    assert body["type"] == "error" and body["code"] == code and body["field"] == "csv"
    assert words in body["message"], body["message"]
    assert "label in the last column" in body["allowed"]


def test_an_upload_is_named_and_a_session_trains_on_it(client: TestClient) -> None:
    r = upload(client, animals_csv(120))
    assert r.status_code == 201, r.text
    info = r.json()
    assert info["dataset"].startswith("csv-") and info["rows"] == 120
    assert info["features"] == ["size", "colour", "legs"] and info["label"] == "animal"
    assert info["task"] == "binary" and info["classes"] == ["cat", "dog"]
    assert upload(client, animals_csv(120)).json()["dataset"] == info["dataset"]  # same file, same name

    session = client.post("/api/sessions", json={"config": {"dataset": info["dataset"]}}).json()
    sid = session["session_id"]
    data = client.get(f"/api/sessions/{sid}/dataset").json()
    assert len(data["train"]["y"]) + len(data["test"]["y"]) == 120  # every row, split
    assert data["features"] == ["size", "colour", "legs"] and data["plane"] is False
    before = client.post(f"/api/sessions/{sid}/step", json={"count": 1}).json()["metrics"]["train_loss"]
    after = client.post(f"/api/sessions/{sid}/step", json={"unit": "epoch", "count": 40}).json()["metrics"]
    assert after["train_loss"] < 0.3 * before and after["test_acc"] > 0.9


@pytest.mark.parametrize("body, status, code, words", [
    (b"", 422, "invalid", "empty"),
    (b",\n,,\n", 422, "invalid", "no header row"),  # only separators: was a 500 (an assert)
    (b"\xff\xfe\x00a", 422, "invalid", "not UTF-8"),
    (b"1,2,3\n4,5,6\n", 422, "invalid", "header"),
    (b"a,b,label\n1,oops,x\n2,3,y\n", 422, "invalid", "line 2"),
    (b"a,b,label\n1,nan,x\n2,3,y\n", 422, "invalid", "line 2"),
    (b"a,b,label\n1,2,x\n3,4,x\n", 422, "invalid", "only one class"),
    (b"a,label\n" + b"1,x\n" * (csv_import.MAX_ROWS + 1), 422, "invalid", "rows"),
    (("," .join(f"f{i}" for i in range(csv_import.MAX_COLS + 1)) + "\n").encode(), 422, "invalid", "columns"),
    (b"x" * (csv_import.MAX_BYTES + 1), 413, "too_large", "larger than"),
])
def test_every_kind_of_bad_file_gets_a_clear_error(client: TestClient, body: bytes, status: int, code: str,
                                                   words: str) -> None:
    assert_error(upload(client, body), status, code, words)
    assert client.get("/healthz").json() == {"status": "ok"}


def test_a_config_naming_an_unknown_or_malformed_dataset_is_refused(client: TestClient) -> None:
    sid = client.post("/api/sessions", json={}).json()["session_id"]
    r = client.patch(f"/api/sessions/{sid}/config", json={"dataset": "csv-0123456789ab"})
    assert r.status_code == 422 and "upload its CSV file again" in r.json()["message"]
    r = client.patch(f"/api/sessions/{sid}/config", json={"dataset": "csv-../../etc"})
    assert r.status_code == 422 and r.json()["field"] == "dataset" and "csv-" in r.json()["allowed"]
    assert client.get(f"/api/sessions/{sid}").json()["config"]["dataset"] == "circle"


def test_an_upload_survives_a_restart_through_the_store(tmp_path: Path) -> None:
    settings = Settings(store="sqlite", data_dir=str(tmp_path))
    with TestClient(create_app(settings)) as c:
        name = upload(c, animals_csv(120)).json()["dataset"]
        sid = c.post("/api/sessions", json={"config": {"dataset": name}}).json()["session_id"]
        c.post(f"/api/sessions/{sid}/step", json={"unit": "epoch", "count": 3})
    # A new server on the same data directory: its library starts empty (use_store
    # forgets what was parsed) and finds the upload in the store alone.
    with TestClient(create_app(settings)) as c:
        s = c.get(f"/api/sessions/{sid}").json()
        assert s["config"]["dataset"] == name and s["step"] == 18  # 60 training rows, batches of 10: 6 an epoch
        assert c.post(f"/api/sessions/{sid}/step", json={"count": 5}).json()["step"] == 23
