"""Property: no message, however malformed, breaks a websocket or the sessions behind it.

Every client message type, each field in turn replaced by a random JSON value
(wrong types, huge numbers, deep nesting, unicode), dropped, joined by an
unknown field or by a bare NaN/Infinity literal; random JSON; binary and
empty frames. Each bad one must be answered with an `error`, everything the
server sends must be one of the documented messages, and afterwards the
socket and the sessions still train.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app import protocol as P
from app.server.main import create_app
from app.settings import Settings

# One valid message of every type the client may send.
TEMPLATES: dict[str, dict[str, Any]] = {
    "hello": {"type": "hello", "config": {"n_points": 100, "hidden": [3]}, "hyper": {"lr": 0.1}, "fps": 30},
    "play": {"type": "play"},
    "pause": {"type": "pause"},
    "step": {"type": "step", "unit": "update", "count": 2},
    "set_speed": {"type": "set_speed", "updates_per_second": 100},
    "set_fps": {"type": "set_fps", "fps": 20},
    "set_hyper": {"type": "set_hyper", "lr": 0.1, "momentum": 0.5, "batch_size": 5, "optimizer": "adam"},
    "configure": {"type": "configure", "config": {"n_points": 100, "hidden": [3, 2], "dataset": "xor",
                                                 "activations": ["relu", "tanh"], "task": None}},
    "reset": {"type": "reset", "same_weights": False},
    "set_param": {"type": "set_param", "layer": 0, "kind": "W", "i": 0, "j": 0, "value": 0.5},
    "freeze": {"type": "freeze", "layer": 0, "target": "neuron", "i": 0, "j": 0, "frozen": True},
    "rollback": {"type": "rollback"},
    "trace": {"type": "trace", "index": 3},
    "ack": {"type": "ack", "seq": 0},
    "views": {"type": "views", "parts": ["gradient", "velocity"]},
    "inspect": {"type": "inspect", "layer": 0, "kind": "W", "i": 1, "j": 0},
    "save": {"type": "save", "name": "run"},
    "room_create": {"type": "room_create", "share_gallery": True},
    "room_join": {"type": "room_join", "code": "ABCD", "name": "x", "share": True, "fork": False},
    "fork": {"type": "fork"},
    "follow": {"type": "follow"},
    "room_push": {"type": "room_push", "hyper": {"lr": 0.2}, "config": {"hidden": [2]}},
    "room_close": {"type": "room_close"},
    "room_new_code": {"type": "room_new_code"},
    "room_lesson": {"type": "room_lesson", "id": "learning-rate", "step": 1},
    "lesson_done": {"type": "lesson_done", "id": "learning-rate", "step": 1},
    "early_stopping": {"type": "early_stopping", "rule": {"patience": 2, "metric": "train_loss", "min_delta": 0.1,
                                                          "max_epochs": 20}},
    "restore_best": {"type": "restore_best"},
    "cross_validate": {"type": "cross_validate", "k": 2, "epochs": 1},
    "search": {"type": "search", "mode": "random", "space": {"lr": [0.01, 0.1]}, "trials": 2, "epochs": 1},
    "cancel_job": {"type": "cancel_job", "job_id": "job1"},
    "fine_tune": {"type": "fine_tune", "config": {"rotate": 30}, "start": "current"},
    "replay": {"type": "replay", "share": 0.3, "buffer": 50},
    "quantize": {"type": "quantize", "bits": 4, "granularity": "neuron", "aware": False},
    "importance": {"type": "importance", "repeats": 2},
    "histograms": {"type": "histograms", "kind": "gradients"},
    "rewind": {"type": "rewind", "step": 1},
    "fork_at": {"type": "fork_at", "step": 1},
    "landscape": {"type": "landscape", "mode": "weights", "weights": [[0, 1, 0], [1, 2, 0]], "span": 1.5,
                  "resolution": 5, "seed": 3},
    "race": {"type": "race", "contenders": [{"optimizer": "sgd", "lr": 0.1}, {"optimizer": "adam", "beta1": 0.8}],
             "updates": 3},
    "lr_sweep": {"type": "lr_sweep", "low": 0.001, "high": 1.0, "points": 3, "updates": 2},
}
RAW = ["NaN", "-Infinity", "Infinity", "1e400", "123456789012345678901234567890", "[" * 1100 + "]" * 1100]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30) | st.sampled_from(["", "😀" * 40, "a" * 3000, "\u0000"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12)


@st.composite
def mutated(draw: st.DrawFn) -> str:
    """A valid message with one field (maybe inside `config` or `hyper`) broken."""
    message = copy.deepcopy(TEMPLATES[draw(st.sampled_from(sorted(TEMPLATES)))])
    target = message
    nested = [k for k in ("config", "hyper") if isinstance(message.get(k), dict)]
    if draw(st.booleans()) and nested:
        target = message[draw(st.sampled_from(nested))]
    key = draw(st.sampled_from(sorted(target) or ["type"]))
    how = draw(st.sampled_from(["replace", "null", "drop", "extra", "raw"]))
    if how == "replace":
        target[key] = draw(json_values)
    elif how == "null":
        target[key] = None
    elif how == "drop":
        target.pop(key, None)
    elif how == "extra":
        target[draw(st.sampled_from(["colour", "", "😀", "typ"]))] = draw(json_values)
    else:
        target[key] = "@RAW@"
        return json.dumps(message).replace('"@RAW@"', draw(st.sampled_from(RAW)))
    return json.dumps(message)


frames = st.one_of(
    mutated(), mutated(), mutated(), mutated(),  # weighted: most frames are near-valid messages
    json_values.map(json.dumps),
    st.sampled_from(RAW + ["", "{", '{"type": "hello"'] + [json.dumps(t) for t in TEMPLATES.values()]),
    st.binary(max_size=200),
    st.sampled_from([b"", json.dumps(TEMPLATES["step"]).encode()]),
)
STREAMED = ("frame", "session", "dataset", "history", "room_status", "notice", "job",  # job: whenever a job moves on
            "histograms", "rewound")  # answered when computed, in a thread: maybe after a later message's answer


def refused(raw: str | bytes) -> bool:
    """Whether the protocol refuses this frame before it reaches a session."""
    try:
        P.parse_client_message(raw.encode() if isinstance(raw, str) else raw)
    except P.ProtocolError:
        return True
    return False


class Socket:
    """Reads every server message, checks its shape, acks frames."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.sentinel = 10**12
        self.teacher_keys: list[str] = []  # of rooms the fuzz opened: their sessions answer only to them

    def send(self, message: dict[str, Any]) -> None:
        self.ws.send_text(json.dumps(message))

    def read(self) -> dict[str, Any]:
        message = json.loads(self.ws.receive_text())
        assert message["type"] in P.SERVER_MESSAGES or message["type"] in P.ANSWERS, message
        P.check_server_message(message)
        if message["type"] == "room" and message["teacher_key"]:
            self.teacher_keys.append(message["teacher_key"])
        if message["type"] == "frame":
            self.send({"type": "ack", "seq": message["seq"]})
        return message

    def until(self, match: Any, limit: int = 300) -> list[dict[str, Any]]:
        seen = []
        for _ in range(limit):
            seen.append(self.read())
            if match(seen[-1]):
                return seen
        raise AssertionError(f"no answer in {limit} messages: {[m['type'] for m in seen[-5:]]}")

    def answers(self) -> list[dict[str, Any]]:
        """Everything sent back up to an error for a never-sent seq: the answer to what came before it."""
        self.sentinel += 1
        sentinel = self.sentinel
        self.send({"type": "ack", "seq": sentinel})
        seen = self.until(lambda m: m["type"] == "error" and m.get("value") == sentinel)
        return seen[:-1]


@pytest.fixture()
def client() -> Iterator[TestClient]:
    # Budgets and quotas out of the way: this is about what any one message does, not how many.
    generous = {"ws_message_burst": 10**6, "new_sessions_per_minute": 10**6, "sessions_per_client": 10**6,
                "join_attempts_per_socket": 10**6, "join_attempts_per_address": 10**6,
                "saves_per_client_per_day": 10**6, "rooms_per_client": 10**6}
    with TestClient(create_app(Settings(store="memory", max_sessions=1000, fast_path=False, **generous))) as c:
        yield c


def test_every_client_message_type_is_fuzzed() -> None:
    assert set(TEMPLATES) == set(P.CLIENT_MESSAGES)
    for message in TEMPLATES.values():
        assert not refused(json.dumps(message)), message


def test_random_messages_never_break_the_socket_or_the_session(client: TestClient) -> None:
    with client.websocket_connect("/ws") as ws:
        sock = Socket(ws)
        sock.send({"type": "hello", "config": {"n_points": 100}})
        first = sock.until(lambda m: m["type"] == "session")[-1]["session_id"]

        @settings(max_examples=200, deadline=None, derandomize=True,
                  suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
        @given(batch=st.lists(frames, min_size=1, max_size=8))
        def some(batch: list[str | bytes]) -> None:
            for frame in batch:
                if isinstance(frame, bytes):
                    ws.send_bytes(frame)
                else:
                    ws.send_text(frame)
                answers = [m for m in sock.answers() if m["type"] not in STREAMED]
                if refused(frame):
                    assert [m["type"] for m in answers] == ["error"], (frame[:300], answers)
                    assert answers[0]["message"]

        some()

        # The socket still answers, and a new session on it trains.
        sock.send({"type": "hello", "config": {"n_points": 60}})
        sid = sock.until(lambda m: m["type"] == "session")[-1]["session_id"]
        sock.send({"type": "step", "unit": "update", "count": 3})
        sock.until(lambda m: m["type"] == "frame" and m["step"] == 3)
    # The first session is still there and trains (reset first: the fuzz may have diverged it).
    # A session the fuzz opened a room around answers to that room's teacher key only.
    for session_id in (first, sid):
        keys = [{}] + [{"X-Teacher-Key": key} for key in sock.teacher_keys]
        headers = next(h for h in keys if client.post(f"/api/sessions/{session_id}/reset", headers=h).status_code == 200)
        assert client.post(f"/api/sessions/{session_id}/step", json={"count": 2}, headers=headers).json()["step"] == 2
