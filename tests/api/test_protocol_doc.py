"""docs/protocol.md is the contract outside clients are written from: keep it true.

Every documented example is checked against the protocol's models (client
messages) and shapes (server messages), and so is every message a real
session sends, so the documentation, the shapes and the server cannot drift
apart unnoticed.
"""

from __future__ import annotations

import contextlib
import copy
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from support.inprocess import Peer

from app import protocol as p
from app.server.main import create_app
from app.settings import Settings

DOC = (Path(__file__).resolve().parents[2] / "docs" / "protocol.md").read_text()


def sections() -> dict[str, list[dict]]:
    """Map each '### name' section to the JSON examples under it."""
    out: dict[str, list[dict]] = {}
    for block in re.split(r"^### ", DOC, flags=re.M)[1:]:
        name = block.split("\n", 1)[0].strip()
        out[name] = [json.loads(code) for code in re.findall(r"```json\n(.*?)```", block, flags=re.S)]
    return out


SECTIONS = sections()


@pytest.mark.parametrize("kind", sorted(p.CLIENT_MESSAGES))
def test_every_client_message_is_documented_with_a_parsing_example(kind: str) -> None:
    assert kind in SECTIONS, f"docs/protocol.md has no section for {kind}"
    assert SECTIONS[kind], f"the {kind} section has no example"
    for example in SECTIONS[kind]:
        assert example["type"] == kind
        msg = p.parse_client_message(json.dumps(example))
        assert msg.type == kind  # type: ignore[attr-defined]


@pytest.mark.parametrize("kind", sorted(p.SERVER_MESSAGES))
def test_every_server_message_is_documented_with_a_valid_example(kind: str) -> None:
    assert kind in SECTIONS, f"docs/protocol.md has no section for {kind}"
    assert SECTIONS[kind], f"the {kind} section has no example"
    for example in SECTIONS[kind]:
        assert example["type"] == kind
        p.check_server_message(example)


def test_no_documented_section_names_an_unknown_message() -> None:
    known = set(p.CLIENT_MESSAGES) | set(p.SERVER_MESSAGES)
    assert set(SECTIONS) <= known, set(SECTIONS) - known


def test_the_doc_states_the_protocol_version() -> None:
    assert f"Protocol version: **{p.PROTOCOL_VERSION}**" in DOC


def test_every_error_code_is_documented() -> None:
    codes = p.ErrorMessage.model_fields["code"].annotation.__args__  # type: ignore[union-attr]
    for code in codes:
        assert f"`{code}`" in DOC, code


# --------------------------------------------------------------------------
# Real messages, captured from running sessions


class Recorder(Peer):
    """A peer that checks the shape of every message it reads and keeps them by type."""

    def __init__(self, ws: Any, seen: dict[str, list[dict[str, Any]]]) -> None:
        super().__init__(ws)
        self.seen = seen

    def recv(self) -> dict[str, Any]:
        message = super().recv()
        p.check_server_message(message)
        self.seen.setdefault(message["type"], []).append(message)
        return message


@pytest.fixture(scope="module")
def captured() -> Iterator[dict[str, list[dict[str, Any]]]]:
    """Messages of every type a session, a room, a save and errors send, each checked as it arrives."""
    seen: dict[str, list[dict[str, Any]]] = {}
    with TestClient(create_app(Settings(store="memory"))) as client, contextlib.ExitStack() as stack:
        teacher = Recorder(stack.enter_context(client.websocket_connect("/ws")), seen)
        teacher.hello(config={"n_points": 100, "val_ratio": 20}, hyper={"optimizer": "adam"}, playing=False)
        teacher.send({"type": "step", "unit": "update", "count": 3})
        teacher.frame_where(lambda f: f["step"] == 3)
        teacher.send({"type": "inspect", "layer": 0, "kind": "W", "i": 1, "j": 0})
        teacher.until("inspected")
        teacher.send({"type": "step", "unit": "update", "count": 1})
        teacher.frame_where(lambda f: f["step"] == 4 and "inspected" in f)
        for phase in ("forward", "loss", "backward", "update"):  # the trace grows phase by phase
            teacher.send({"type": "step", "unit": "phase"})
            teacher.frame_where(lambda f, phase=phase: f["phase"] == phase and f["trace"] is not None)
        teacher.send({"type": "set_hyper", "lr": 50})
        teacher.until("error")
        teacher.send({"type": "configure", "config": {"dataset": "spiral3", "hidden": [3]}})
        teacher.until("history")
        teacher.send({"type": "save", "name": "a run"})
        teacher.until("saved")
        teacher.send({"type": "cross_validate", "k": 2, "epochs": 1})  # a background job: job messages
        for _ in range(50):
            if teacher.until("job")["state"] == "done":
                break
        teacher.send({"type": "room_create", "share_gallery": True})
        code = teacher.until("room")["code"]
        student = Recorder(stack.enter_context(client.websocket_connect("/ws")), seen)
        student.hello()
        student.send({"type": "room_join", "code": code, "name": "Ada", "share": True})
        student.until("room")
        student.send({"type": "fork"})
        student.until("session")
        teacher.send({"type": "room_push", "hyper": {"momentum": 0.5}})
        student.until("notice")
        teacher.until("room_status")
        teacher.send({"type": "room_lesson", "id": "learning-rate", "step": 2})  # a lesson in the room
        student.until("room_lesson")
        student.send({"type": "lesson_done", "id": "learning-rate", "step": 2})
        for _ in range(8):  # the status names the student as done (statuses go out once a second)
            if (teacher.until("room_status")["lesson"] or {}).get("done"):
                break
        teacher.send({"type": "room_close"})
        student.until("room_closed")
        teacher.until("room_closed")
    yield seen


def test_every_server_message_type_is_seen_from_a_real_session(captured: dict[str, list[dict[str, Any]]]) -> None:
    assert set(captured) == set(p.SERVER_MESSAGES)


def test_real_frames_carry_the_documented_trace_phase_by_phase(captured: dict[str, list[dict[str, Any]]]) -> None:
    traces = {f["phase"]: f["trace"] for f in captured["frame"] if f["trace"] is not None}
    assert set(traces) == {"forward", "loss", "backward", "update"}
    assert "loss" not in traces["forward"] and "loss" in traces["loss"] and "dz" in traces["backward"]
    adam = [layer for f in captured["frame"] for layer in f["layers"] if "sW" in layer]
    assert adam, "no frame of the Adam session carried sW, sb, tW, tb"


def test_a_drift_between_a_message_and_its_shape_is_caught(captured: dict[str, list[dict[str, Any]]]) -> None:
    frame = next(f for f in captured["frame"] if f["trace"] is not None)
    p.check_server_message(frame)
    drifted = copy.deepcopy(frame)
    drifted["trace"]["target"] = 1.0  # a number where a list of K targets is sent
    with pytest.raises(ValidationError):
        p.check_server_message(drifted)
    for change in ({"seq": "7"}, {"surprise": 1}, {"phase": "sideways"}):
        with pytest.raises(ValidationError):
            p.check_server_message({**frame, **change})
    layer = copy.deepcopy(frame)
    del layer["layers"][0]["W"]  # the optional parts (vW, ...) may be left out; W never
    with pytest.raises(ValidationError):
        p.check_server_message(layer)
    layer = copy.deepcopy(frame)
    layer["layers"][0]["vW"] = 0.5  # an optional part, when sent, has its shape
    with pytest.raises(ValidationError):
        p.check_server_message(layer)
    session = copy.deepcopy(captured["session"][0])
    session["config"]["noise"] = "0"
    with pytest.raises(ValidationError):
        p.check_server_message(session)
