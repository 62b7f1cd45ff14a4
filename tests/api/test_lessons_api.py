"""GET /api/lessons, GET /api/lessons/{id}, POST /api/lessons: the built-in lessons, and a teacher's own."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from support.inprocess import Peer

from app.lessons import conditions
from app.lessons import format as lesson_format
from app.lessons.library import BUILTIN_DIR, STORE_KIND
from app.lessons.loader import MAX_LESSON_BYTES
from app.server.main import create_app
from app.settings import Settings

MINE = textwrap.dedent("""\
    id: my-lesson
    title: My own lesson
    summary: Momentum, as I teach it.
    ideas: [momentum]
    steps:
      - title: Smooth
        setup:
          hyper: {momentum: 0.9, lr: 0.03}
        card: Momentum keeps some of the last step.
        action:
          text: Set momentum to zero.
          notice: {when: "hyper.momentum == 0"}
        then: "Momentum is now {hyper.momentum:g}."
        highlight: momentum
    """)


@pytest.fixture()
def client() -> Iterator[TestClient]:
    with TestClient(create_app(Settings())) as c:
        yield c


def upload(client: TestClient, text: Any, **headers: str) -> Any:
    return client.post("/api/lessons", content=json.dumps({"text": text}),
                       headers={"content-type": "application/json", **headers})


def test_the_list_names_every_built_in_lesson_and_the_names_a_lesson_may_use(client: TestClient) -> None:
    body = client.get("/api/lessons").json()
    ids = [lesson["id"] for lesson in body["lessons"]]
    assert ids == sorted(p.stem for p in BUILTIN_DIR.glob("*.yaml")) and len(ids) >= 3
    rate = next(lesson for lesson in body["lessons"] if lesson["id"] == "learning-rate")
    assert rate["ideas"] == ["learning-rate"] and rate["steps"] == 4 and rate["title"] == "The learning rate"
    vocabulary = body["vocabulary"]
    assert len(vocabulary["ideas"]) == 19 and vocabulary["controls"]["lr"] == "#lr"
    assert set(vocabulary["variables"]) == set(conditions.VARIABLES) and "fine_tune" in vocabulary["events"]


def test_a_built_in_lesson_comes_whole(client: TestClient) -> None:
    lesson = client.get("/api/lessons/learning-rate").json()
    assert lesson["id"] == "learning-rate" and lesson["builtin"] is True and len(lesson["steps"]) == 4
    first = lesson["steps"][0]
    assert first["setup"]["hyper"] == {"lr": 0.001, "momentum": 0, "optimizer": "sgd", "batch_size": 10}
    assert first["action"]["notice"] == {"event": None, "when": "step >= 300",
                                         "tree": [">=", ["var", "step"], ["const", 300]]}
    assert first["highlight"] == "play"


def test_an_unknown_lesson_is_a_404_that_says_where_ids_come_from(client: TestClient) -> None:
    for lesson_id in ("no-such-lesson", "lesson-0123456789ab"):
        r = client.get(f"/api/lessons/{lesson_id}")
        assert r.status_code == 404 and r.json()["field"] == "lesson_id", r.text
        assert "POST /api/lessons" in r.json()["allowed"]
    assert client.get("/api/lessons/" + "x" * 65).status_code == 422


def test_a_teachers_lesson_is_kept_and_shared_by_its_id(client: TestClient) -> None:
    r = upload(client, MINE)
    assert r.status_code == 201, r.text
    answer = r.json()
    assert answer["id"].startswith("lesson-") and len(answer["id"]) == 19
    assert answer["link"] == f"/?lesson={answer['id']}" and answer["steps"] == 1
    assert upload(client, MINE).json()["id"] == answer["id"]  # the same file, the same id
    assert upload(client, MINE + "\n").json()["id"] != answer["id"]
    lesson = client.get(f"/api/lessons/{answer['id']}").json()
    assert lesson["id"] == answer["id"] and lesson["builtin"] is False and lesson["title"] == "My own lesson"
    assert lesson["steps"][0]["setup"]["hyper"] == {"momentum": 0.9, "lr": 0.03}
    assert answer["id"] not in [x["id"] for x in client.get("/api/lessons").json()["lessons"]]


def test_an_uploaded_lesson_outlives_the_process_in_the_store(tmp_path: Path) -> None:
    settings = Settings(store="sqlite", data_dir=str(tmp_path))
    with TestClient(create_app(settings)) as c:
        lesson_id = upload(c, MINE).json()["id"]
        store = c.app.state.registry.store  # type: ignore[attr-defined]
        assert store.get(STORE_KIND, lesson_id) == {"lesson": MINE}
    with TestClient(create_app(settings)) as c:
        assert c.get(f"/api/lessons/{lesson_id}").json()["title"] == "My own lesson"


@pytest.mark.parametrize("old, new, line, field, words", [
    ("momentum: 0.9", 'momentum: "0.9"', 8, "steps.0.setup.hyper.momentum", "valid number"),
    ("highlight: momentum", "highlight: momentum\n    sparkle: true", 15, "steps.0.sparkle", "Extra inputs"),
    ("lr: 0.03}", "lr: 0.03", 9, None, "flow mapping begun on line 8"),
    ("momentum: 0.9", "momentum: 1.5", 8, "steps.0.setup.hyper.momentum", "0 to 0.999"),
    ('"hyper.momentum == 0"', '"hyper.momentum = 0"', 12, "steps.0.action.notice.when", "cannot read"),
])
def test_a_bad_upload_is_a_422_naming_the_line_and_the_field(client: TestClient, old: str, new: str, line: int,
                                                            field: str | None, words: str) -> None:
    assert old in MINE
    r = upload(client, MINE.replace(old, new, 1))
    assert r.status_code == 422, r.text
    error = r.json()
    assert error["type"] == "error" and error["code"] == "invalid" and error["request"] == "upload_lesson"
    assert error["field"] == (field or "text")
    assert f"line {line}" in error["message"] and words in error["message"], error["message"]
    if field:
        assert f"line {line}, {field}:" in error["message"]


@pytest.mark.parametrize("body, status, words", [
    (b'{"text": ""}', 422, "empty"),
    (b'{"text": 3}', 422, "must be a string"),
    (b'{"txt": "id: x"}', 422, "one field, text"),
    (b'["id: x"]', 422, "one field, text"),
    (b'{"text": ', 400, "not valid JSON"),
])
def test_a_body_of_the_wrong_shape_is_refused(client: TestClient, body: bytes, status: int, words: str) -> None:
    r = client.post("/api/lessons", content=body, headers={"content-type": "application/json"})
    assert r.status_code == status and words in r.json()["message"], r.text


def test_a_lesson_file_over_the_limit_is_refused_as_too_large(client: TestClient) -> None:
    r = upload(client, MINE + "#" * MAX_LESSON_BYTES)
    assert r.status_code == 413 and r.json()["code"] == "too_large", r.text
    # A body past its own limit is cut off while it is read.
    r = client.post("/api/lessons", content=b'{"text": "' + b"\\u0023" * (MAX_LESSON_BYTES + 1000) + b'"}',
                    headers={"content-type": "application/json"})
    assert r.status_code == 413 and "the request is larger than" in r.json()["message"], r.text


def test_a_lesson_must_come_as_json_from_this_servers_pages(client: TestClient) -> None:
    r = client.post("/api/lessons", content=MINE, headers={"content-type": "text/plain"})
    assert r.status_code == 415 and r.json()["field"] == "content-type"
    r = upload(client, MINE, origin="http://evil.example")
    assert r.status_code == 403 and r.json()["field"] == "origin"


def test_uploads_count_against_the_addresss_quotas() -> None:
    with TestClient(create_app(Settings(uploads_per_client_per_day=2))) as c:
        assert upload(c, MINE).status_code == 201
        assert upload(c, MINE.replace("Smooth", "Bad", 1).replace("momentum: 0.9", "momentum: 2")).status_code == 422
        r = upload(c, MINE)
        assert r.status_code == 429 and r.json()["code"] == "limit" and "UPLOADS_PER_CLIENT" in r.json()["allowed"]
    with TestClient(create_app(Settings(stored_bytes_per_client_per_day=len(MINE) + 10))) as c:
        assert upload(c, MINE).status_code == 201
        r = upload(c, MINE + "\n")
        assert r.status_code == 429 and "STORED_BYTES" in r.json()["allowed"]


def next_frame(peer: Peer, match: Any, limit: int = 60, after_session: bool = False) -> dict[str, Any]:
    """The first frame for which `match` holds; an error message before it fails the test. The newest
    session message is kept as `peer.session`. `after_session`: only frames after the next session
    message count (a rebuild was asked for: frames of the network before it are still on their way, as
    the page's player knows)."""
    for _ in range(limit):
        msg = peer.recv()
        assert msg["type"] != "error", msg
        if msg["type"] == "session":
            peer.session = msg  # type: ignore[attr-defined]
            after_session = False
        if msg["type"] == "frame":
            peer.send({"type": "ack", "seq": msg["seq"]})
            if not after_session and match(msg):
                return msg
    raise AssertionError(f"no matching frame; the last: step {msg.get('step')} metrics {msg.get('metrics')}")


def test_every_built_in_step_setup_is_taken_by_a_real_session(client: TestClient) -> None:
    """What the page does with a step: its setup sent as the protocol's messages, to a live session,
    and nothing refused; the session then has what the step asked for."""
    with client.websocket_connect("/ws") as ws:
        peer = Peer(ws)
        peer.session = peer.hello(playing=False)  # type: ignore[attr-defined]
        for listed in client.get("/api/lessons").json()["lessons"]:
            for step in client.get(f"/api/lessons/{listed['id']}").json()["steps"]:
                setup = step["setup"]
                sent = []
                if setup["config"]:
                    sent.append({"type": "configure", "config": setup["config"]})
                if setup["hyper"]:
                    sent.append({"type": "set_hyper", **setup["hyper"]})
                for message in (setup["lab"] or {}).values():
                    if message is not None:
                        sent.append(message)
                for message in sent:
                    peer.send(message)
                peer.send({"type": "step", "unit": "update", "count": 1})
                # A frame with the step's hyperparameters; an error message before it fails the test.
                hyper = setup["hyper"] or {}
                next_frame(peer, lambda f, hyper=hyper: f["step"] >= 1 and all(
                    f["hyper"][name] == value for name, value in hyper.items()))
                if setup["config"]:
                    assert {k: peer.session["config"][k] for k in setup["config"]} == setup["config"]


def test_a_step_notices_its_action_on_real_frames(client: TestClient) -> None:
    """The learning-rate lesson's last step, done as a student would: its condition is false before
    and true after, read from the session's own frames."""
    step = client.get("/api/lessons/learning-rate").json()["steps"][2]
    condition = conditions.parse(step["action"]["notice"]["when"])
    with client.websocket_connect("/ws") as ws:
        peer = Peer(ws)
        session = peer.hello(playing=False)
        peer.send({"type": "set_hyper", **step["setup"]["hyper"]})
        peer.send({"type": "step", "unit": "update", "count": 1})
        before = next_frame(peer, lambda f: f["step"] >= 1)
        assert not conditions.evaluate(condition, conditions.values_from(before, session))
        peer.send({"type": "set_hyper", "lr": 4})
        peer.send({"type": "step", "unit": "update", "count": 1})
        after = next_frame(peer, lambda f: f["step"] >= 2)
        assert conditions.evaluate(condition, conditions.values_from(after, session))


# What a student does at each built-in step that asks for something: the messages the page sends.
# Every such step must be here (the test below says which is missing), so a new lesson is walked too.
STUDENT: dict[tuple[str, int], list[dict[str, Any]]] = {
    ("parameters-and-hyperparameters", 0): [{"type": "play"}],
    ("parameters-and-hyperparameters", 1): [{"type": "set_hyper", "lr": 0.1}],
    ("parameters-and-hyperparameters", 2): [{"type": "configure", "config": {"hidden": [4, 2, 2]}}],
    ("learning-rate", 0): [{"type": "play"}],
    ("learning-rate", 1): [],
    ("learning-rate", 2): [{"type": "set_hyper", "lr": 4}],
    ("learning-rate", 3): [{"type": "play"}],
    ("activations", 0): [{"type": "play"}],
    ("activations", 1): [{"type": "configure", "config": {"activation": "relu"}}],
    ("activations", 2): [{"type": "play"}],
    ("biases", 0): [{"type": "play"}],
    ("biases", 1): [{"type": "pause"}, {"type": "set_param", "layer": 0, "kind": "b", "j": 0, "value": 0}, {"type": "freeze", "layer": 0, "target": "bias", "j": 0, "frozen": True}, {"type": "play"}],
    ("biases", 2): [{"type": "freeze", "layer": 0, "target": "bias", "j": 0, "frozen": False}],
    ("momentum", 0): [{"type": "step", "unit": "update", "count": 1}] * 10,
    ("momentum", 1): [{"type": "play"}],
    ("momentum", 2): [{"type": "set_hyper", "momentum": 0.9}, {"type": "play"}],
    ("momentum", 3): [{"type": "set_hyper", "momentum": 0.99}, {"type": "play"}],
    ("batch-size-and-epochs", 0): [{"type": "play"}],
    ("batch-size-and-epochs", 1): [{"type": "set_hyper", "batch_size": 50}, {"type": "play"}],
    ("batch-size-and-epochs", 2): [{"type": "step", "unit": "epoch", "count": 1}],
    ("initialisation", 0): [{"type": "play"}],
    ("initialisation", 1): [{"type": "configure", "config": {"init": "uniform"}}, {"type": "play"}],
    ("initialisation", 2): [{"type": "configure", "config": {"init": "glorot"}}, {"type": "play"}],
    ("overfitting", 0): [{"type": "play"}],
    ("overfitting", 1): [{"type": "play"}],
    ("overfitting", 2): [{"type": "set_hyper", "dropout": 0.2}, {"type": "play"}],
    ("overfitting", 3): [{"type": "set_hyper", "reg_rate": 0.01}, {"type": "play"}],
    ("overfitting", 4): [{"type": "early_stopping", "rule": {"patience": 10}}, {"type": "play"}],
    ("model-types", 0): [{"type": "play"}],
    ("model-types", 1): [{"type": "play"}],
    ("cross-validation-and-tuning", 0): [{"type": "play"}],
    ("cross-validation-and-tuning", 1): [{"type": "cross_validate", "k": 5, "epochs": 20}],
    ("cross-validation-and-tuning", 2): [{"type": "search", "mode": "grid", "space": {"lr": [0.01, 0.1], "momentum": [0, 0.9]}, "epochs": 20}],
    ("cross-validation-and-tuning", 3): [{"type": "set_hyper", "lr": 0.1, "momentum": 0.9}, {"type": "play"}],
    ("transfer", 0): [{"type": "play"}],
    ("transfer", 1): [{"type": "fine_tune", "config": {"dataset": "circle", "rotate": 0, "shift": [1.5, 0]}, "start": "current"}],
    ("transfer", 2): [{"type": "fine_tune", "config": {"dataset": "xor", "rotate": 45, "shift": [0, 0]}, "start": "current"}],
    ("transfer", 3): [{"type": "replay", "share": 0.3, "buffer": 100}],
    ("transfer", 4): [{"type": "freeze", "layer": 0, "target": "layer", "frozen": True}, {"type": "fine_tune", "config": {"dataset": "xor", "rotate": 45, "shift": [0, 0]}, "start": "current"}],
    ("quantization", 0): [{"type": "play"}],
    ("quantization", 1): [{"type": "quantize", "bits": 8}],
    ("quantization", 2): [{"type": "quantize", "bits": 2}],
    ("quantization", 3): [{"type": "quantize", "bits": 2, "granularity": "neuron", "aware": True}, {"type": "play"}],
    ("forward-and-backprop", 0): [{"type": "step", "unit": "phase", "count": 1}],
    ("forward-and-backprop", 1): [{"type": "step", "unit": "phase", "count": 1}],
    ("forward-and-backprop", 2): [{"type": "step", "unit": "phase", "count": 1}],
    ("forward-and-backprop", 3): [{"type": "step", "unit": "phase", "count": 1}],
    ("mammal-or-fish", 0): [{"type": "play"}],
    ("mammal-or-fish", 1): [{"type": "importance"}],
    ("mammal-or-fish", 2): [{"type": "configure", "config": {"columns": ["vertebrate", "lays_eggs", "body_temperature", "noise_1", "noise_2"]}}, {"type": "play"}],
}


LAB_AT_START: list[dict[str, Any]] = [{"type": "quantize", "bits": 0}, {"type": "early_stopping", "rule": None}]


def setup_messages(setup: dict[str, Any]) -> list[dict[str, Any]]:
    """A step's setup as the page sends it."""
    out: list[dict[str, Any]] = []
    if setup["config"]:
        out.append({"type": "configure", "config": setup["config"]})
    if setup["hyper"]:
        out.append({"type": "set_hyper", **setup["hyper"]})
    out += [message for message in (setup["lab"] or {}).values() if message is not None]
    if setup["playing"] is not None:
        out.append({"type": "play" if setup["playing"] else "pause"})
    return out


def test_every_built_in_step_notices_its_action_done_as_a_student_would(client: TestClient) -> None:
    """Each step's setup, then the student's action; the notice (event and condition, evaluated on the
    session's own frames by the reference evaluator) must fire, and `then` must fill with numbers."""
    with client.websocket_connect("/ws") as ws:
        peer = Peer(ws)
        peer.session = peer.hello(playing=False)  # type: ignore[attr-defined]
        peer.send({"type": "set_speed", "updates_per_second": None})  # as fast as the CPU share allows
        for listed in client.get("/api/lessons").json()["lessons"]:
            # A lesson opens on a lab with quantization and early stopping off, as the page's player opens it.
            opening = LAB_AT_START
            for index, step in enumerate(client.get(f"/api/lessons/{listed['id']}").json()["steps"]):
                if step["action"] is None:
                    continue
                key = (listed["id"], index)
                assert key in STUDENT, f"how does a student do step {index} of {listed['id']}? add it to STUDENT"
                notice = step["action"]["notice"]
                sent = opening + setup_messages(step["setup"]) + STUDENT[key]
                opening = []
                assert notice["event"] is None or notice["event"] in [m["type"] for m in sent], key
                for message in sent:
                    peer.send(message)
                condition = conditions.parse(notice["when"] or "true")
                rebuilt = any(m["type"] in ("configure", "fine_tune") for m in sent)
                try:
                    frame = next_frame(peer, lambda f, condition=condition: conditions.evaluate(
                        condition, conditions.values_from(f, peer.session)),  # type: ignore[attr-defined]
                        limit=2000, after_session=rebuilt)
                except AssertionError as exc:
                    raise AssertionError(f"{key}: {notice['when']}: {exc}") from None
                then = lesson_format.fill_then(step["then"], conditions.values_from(frame, peer.session))  # type: ignore[attr-defined]
                assert "–" not in then and "{" not in then, (key, then)
                peer.send({"type": "pause"})
