"""Frame heads: the history rows are computed and encoded once per state for the clients that saw the same."""

from __future__ import annotations

import json
from typing import Any

import pytest

from app.server import messages
from app.server.registry import Client, LiveSession
from app.server.shared_rows import frame_head
from app.training.config import HyperState, RunConfig
from app.training.history import History
from app.training.session import TrainingSession


def test_a_head_is_the_json_of_its_fields() -> None:
    rows = {"steps": [3], "batch_loss": [0.5], "epochs": {}, "changes": []}
    history = json.dumps(rows, separators=(",", ":")).encode()
    assert json.loads(frame_head(7, history)) == {"type": "frame", "seq": 7, "history": rows}
    inspected = {"step": 3, "value": 0.25}
    assert json.loads(frame_head(8, history, inspected)) == {"type": "frame", "seq": 8, "history": rows,
                                                             "inspected": inspected}


def test_clients_in_step_share_one_since_and_a_late_one_gets_its_own_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    live = LiveSession("s", TrainingSession(RunConfig().with_changes({"n_points": 100}), HyperState()))
    s = live.session
    in_step = [Client(30, "json") for _ in range(5)]
    late = Client(30, "json")
    for c in (*in_step, late):
        messages.frame_bytes(live, c)
    s.advance(3)
    for c in in_step:
        messages.frame_bytes(live, c)  # `late` skips this state
    s.advance(2)
    calls: list[tuple[Any, ...]] = []
    since = History.since

    def counted(self: History, *args: Any, **kwargs: Any) -> dict[str, Any]:
        calls.append(args)
        return since(self, *args, **kwargs)

    monkeypatch.setattr(History, "since", counted)
    heads = [json.loads(messages.frame_bytes(live, c))["history"] for c in (*in_step, late)]
    assert len(calls) == 2, "one since for the clients in step, one for the late one"
    assert all(h == heads[0] for h in heads[:5]) and heads[0]["steps"] == [4, 5]
    assert heads[5]["steps"] == [1, 2, 3, 4, 5]
    s.advance(1)
    assert json.loads(messages.frame_bytes(live, in_step[0]))["history"]["steps"] == [6], "a new state: rows anew"
