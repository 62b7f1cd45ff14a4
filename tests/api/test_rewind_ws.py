"""The optimizer lab's record over the websocket: `rewind` (a read-only look, exact), `fork_at`
(training goes on from a recorded step as the run did), `histograms`, the frame's `trouble`, and
clear errors for bad input."""

from __future__ import annotations

import contextlib
import json
import re
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import TypeAdapter, ValidationError
from support.inprocess import Peer

from app import protocol as p
from app.server.main import create_app
from app.settings import Settings
from app.training import histograms, timeline, trouble
from app.training.config import HyperState, RunConfig
from app.training.session import TrainingSession

CONFIG = {"n_points": 100}


@pytest.fixture()
def client() -> Iterator[TestClient]:
    with TestClient(create_app(Settings(store="memory", max_sessions=10))) as c:
        yield c


class Checked(Peer):
    """A peer that checks every message it reads against its documented shape."""

    def recv(self) -> dict[str, Any]:
        message = super().recv()
        p.check_server_message(message)
        return message

    def step(self, count: int) -> dict[str, Any]:
        """Train `count` updates; the frame that shows them."""
        target = self.last_step + count
        self.send({"type": "step", "unit": "update", "count": count})
        frame = self.frame_where(lambda f: f["step"] == target, limit=50)
        self.last_step = target
        return frame


@contextlib.contextmanager
def opened(client: TestClient, hyper: dict[str, Any] | None = None) -> Iterator[Checked]:
    with client.websocket_connect("/ws") as ws:
        me = Checked(ws)
        me.hello(config=CONFIG, hyper=hyper or {}, playing=False)
        me.last_step = me.frame()["step"]  # type: ignore[attr-defined]
        yield me


def _params(frame: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"W": layer["W"], "b": layer["b"]} for layer in frame["layers"]]


def test_rewind_shows_the_exact_weights_of_a_step_and_the_run_goes_on(client: TestClient) -> None:
    with opened(client) as me, opened(client) as twin:
        me.step(300)
        stopped = twin.step(123)  # the same run stopped there: a paused frame's numbers are exact
        me.send({"type": "rewind", "step": 123})
        seen = me.until("rewound")
        assert seen["step"] == 123 and seen["first_step"] == 0
        assert seen["params"] == _params(stopped)
        weights = seen["histograms"]["weights"]
        assert [layer["steps"] for layer in weights] == [[123]] * 3
        assert [sum(layer["counts"][0]) for layer in weights] == [len(l["W"]) * len(l["W"][0]) for l in seen["params"]]
        me.send({"type": "rewind", "step": 10_000})  # after the last recorded step: the last
        assert me.until("rewound")["step"] == 300
        assert me.step(1)["step"] == 301  # the look changed nothing


def test_fork_at_goes_on_from_a_recorded_step_as_the_run_did(client: TestClient) -> None:
    with opened(client) as me, opened(client) as twin:
        me.step(250)
        me.send({"type": "fork_at", "step": 140})
        assert me.until("history")["steps"][-1] == 140  # the history, cut back there, comes anew
        frame = me.frame_where(lambda f: f["step"] == 140)
        twin.step(140)
        me.last_step = 140  # type: ignore[attr-defined]
        assert _params(frame) == _params(twin.frame_where(lambda f: f["step"] == 140))
        assert _params(me.step(60)) == _params(twin.step(60))


def test_histograms_cover_the_record_with_honest_counts(client: TestClient) -> None:
    with opened(client) as me:
        me.step(400)
        for kind in ("weights", "gradients", "activations"):
            me.send({"type": "histograms", "kind": kind})
            answer = me.until("histograms")
            assert answer["kind"] == kind
            assert len(answer["layers"]) == (2 if kind == "activations" else 3)
            for layer in answer["layers"]:
                assert len(layer["steps"]) == histograms.MAX_STEPS and layer["steps"][-1] == 400
                totals = {sum(row) for row in layer["counts"]}
                assert len(totals) == 1 and totals.pop() > 0
                assert layer["scale"] == ("log10_abs" if kind == "gradients" else "linear")


def test_the_frame_says_stuck_at_lr_10_on_the_default_problem(client: TestClient) -> None:
    with opened(client, {"lr": 10}) as me:
        assert me.step(25)["trouble"] is None
        frame = me.step(375)
        trouble = frame["trouble"]
        assert trouble is not None and trouble["kind"] == "stuck", trouble
        assert "saturated" in trouble["message"] and "lower the learning rate (now 10)" in trouble["advice"]


@pytest.mark.parametrize(("message", "field", "allowed"), [
    ({"type": "rewind", "step": "12"}, "step", None),
    ({"type": "rewind", "step": -1}, "step", None),
    ({"type": "rewind", "step": 1.5}, "step", None),
    ({"type": "fork_at", "step": True}, "step", None),
    ({"type": "fork_at"}, "step", None),
    ({"type": "histograms", "kind": "biases"}, "kind", "weights"),
    ({"type": "histograms"}, "kind", None),
])
def test_bad_input_gets_a_clear_error_and_the_session_goes_on(client: TestClient, message: dict[str, Any],
                                                              field: str, allowed: str | None) -> None:
    with opened(client) as me:
        me.send(message)
        error = me.until("error")
        assert error["request"] == message["type"] and error["field"] == field
        assert error["message"]
        if allowed is not None:
            assert allowed in str(error["allowed"])
        assert me.step(5)["step"] == 5


def test_a_step_that_is_not_recorded_is_refused_with_the_nearest_recorded_steps(client: TestClient) -> None:
    with opened(client) as me:
        me.send({"type": "rewind", "step": 3})
        error = me.until("error")
        assert error["field"] == "step" and "nothing is recorded yet" in error["message"]
        me.step(40)
        me.send({"type": "fork_at", "step": 99_999})
        error = me.until("error")
        assert error["request"] == "fork_at" and error["field"] == "step" and error["value"] == 99_999
        assert "not recorded exactly; the nearest recorded steps are 40" in error["message"]
        assert me.step(1)["step"] == 41


# --------------------------------------------------------------------------
# docs/protocol.md, section "Optimizer lab": its examples against the code

DOC = (Path(__file__).resolve().parents[2] / "docs" / "protocol.md").read_text()
LAB = DOC.split("\n## Optimizer lab\n", 1)[1].split("\n## ", 1)[0]


def _blocks(section: str, marker: str) -> list[dict[str, Any]]:
    """The JSON blocks marked ```<marker> in `### section` of the Optimizer lab (the preamble: '')."""
    parts = re.split(r"^### ", LAB, flags=re.M)
    body = parts[0] if section == "" else next(b for b in parts[1:] if b.split("\n", 1)[0].strip() == section)
    return [json.loads(code) for code in re.findall(rf"```{marker}\n(.*?)```", body, flags=re.S)]


def test_the_documented_requests_parse_and_answers_have_their_shapes() -> None:
    for kind in ("histograms", "rewind", "fork_at"):
        (request,) = _blocks(kind, "json")
        assert p.parse_client_message(json.dumps(request)).type == kind  # type: ignore[attr-defined]
    (histograms_answer,) = _blocks("histograms", "json answer")
    (rewound,) = _blocks("rewind", "json answer")
    for answer in (histograms_answer, rewound):
        p.check_server_message(answer)
    for drift in ({"kind": "biases"}, {"layers": [{"edges": [0.0, 1.0]}]}):
        with pytest.raises(ValidationError):
            p.check_server_message({**histograms_answer, **drift})
    with pytest.raises(ValidationError):
        p.check_server_message({**rewound, "step": "120"})
    for layer in histograms_answer["layers"]:
        assert all(len(row) == len(layer["edges"]) - 1 for row in layer["counts"])


def test_the_documented_trouble_is_what_lr_10_on_the_default_problem_says() -> None:
    (documented,) = _blocks("", "json trouble")
    TypeAdapter(p.TroubleState).validate_python(documented)
    with pytest.raises(ValidationError):
        TypeAdapter(p.TroubleState).validate_python({**documented, "kind": "sad"})
    s = TrainingSession(RunConfig(), HyperState(lr=10))
    while s.step < 250:
        s.advance(25)
    found = s.trouble()
    assert found is not None and found.to_dict() == documented


def test_the_documented_record_bounds_are_the_code_s() -> None:
    assert f"every update of the last {timeline.RECENT:,}**" in LAB
    assert f"one per {timeline.MIDDLE_BUCKET} steps for the {timeline.MIDDLE:,}" in LAB
    assert f"one per {timeline.OLD_BUCKET} steps before that" in LAB
    assert f"every {timeline.KEY_EVERY} updates" in LAB
    assert f"at most {timeline.MAX_KEYFRAMES:,}" in LAB and f"{timeline.MAX_BYTES // 2**20} MB per session" in LAB
    assert f"up to {histograms.PROBE_POINTS} training points" in LAB and f"last {trouble.WINDOW} updates" in LAB


def test_a_binary_frame_carries_trouble_in_its_header(client: TestClient) -> None:
    with client.websocket_connect("/ws") as ws:
        ws.send_text(json.dumps({"type": "hello", "config": CONFIG, "hyper": {"lr": 10}, "playing": False,
                                 "frames": "binary"}))
        ws.send_text(json.dumps({"type": "step", "unit": "update", "count": 400}))
        for _ in range(200):
            message = ws.receive()
            raw = message.get("bytes")
            if raw is None:
                continue
            (length,) = struct.unpack("<I", raw[4:8])
            header = json.loads(raw[8:8 + length])
            ws.send_text(json.dumps({"type": "ack", "seq": header["seq"]}))
            if header["step"] == 400:
                break
        assert raw[:4] == b"PLF1" and header["step"] == 400
        assert header["trouble"]["kind"] == "stuck"
        TypeAdapter(p.TroubleState).validate_python(header["trouble"])
