"""The transfer lab's messages and configuration fields: what is taken, and the error for what is not."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from app import protocol as p


def parse(message: dict[str, Any]) -> Any:
    return p.parse_client_message(json.dumps(message))


def refused(message: dict[str, Any]) -> p.ErrorMessage:
    with pytest.raises(p.ProtocolError) as caught:
        parse(message)
    return caught.value.error


def test_fine_tune_takes_a_config_patch_and_a_start() -> None:
    msg = parse({"type": "fine_tune", "config": {"rotate": -37.5, "shift": [3, -3]}, "start": "scratch"})
    assert isinstance(msg, p.FineTune) and msg.start == "scratch"
    assert msg.config.model_dump(exclude_unset=True) == {"rotate": -37.5, "shift": [3, -3]}
    assert parse({"type": "fine_tune", "config": {"dataset": "spiral3"}}).start == "current"
    assert "fine_tune" in p.CONTROL_MESSAGES and "replay" in p.CONTROL_MESSAGES


@pytest.mark.parametrize("config, field, allowed", [
    ({"rotate": "90"}, "config.rotate", "number"),
    ({"rotate": 180.5}, "config.rotate", "180"),
    ({"rotate": True}, "config.rotate", "number"),
    ({"shift": [1, 2, 3]}, "config.shift", "2"),
    ({"shift": [0, -3.5]}, "config.shift.1", "-3"),
    ({"shift": ["1", 0]}, "config.shift.0", "number"),
    ({"columns": []}, "config.columns", "1"),
    ({"columns": ["has_gills", "has_gills"]}, "config.columns", "each column at most once"),
    ({"columns": [3]}, "config.columns.0", "string"),
])
def test_bad_task_fields_are_refused_with_the_field_and_what_is_allowed(config: dict[str, Any], field: str,
                                                                        allowed: str) -> None:
    for kind in ("fine_tune", "configure"):
        error = refused({"type": kind, "config": config})
        assert error.code == "invalid" and error.request == kind and error.field == field, error
        assert allowed in f"{error.allowed} {error.message}", error


def test_fine_tune_needs_a_config_and_a_known_start() -> None:
    error = refused({"type": "fine_tune", "start": "current"})
    assert error.field == "config" and "required" in error.message.lower()
    error = refused({"type": "fine_tune", "config": {}, "start": "warm"})
    assert error.field == "start" and "current" in (error.allowed or "") and "scratch" in (error.allowed or "")


def test_replay_takes_a_share_and_a_buffer() -> None:
    msg = parse({"type": "replay", "share": 0.9, "buffer": 2000})
    assert isinstance(msg, p.Replay) and (msg.share, msg.buffer) == (0.9, 2000)
    assert parse({"type": "replay", "share": 0}).buffer == 100


@pytest.mark.parametrize("fields, field", [
    ({"share": "0.5"}, "share"),
    ({"share": 0.95}, "share"),
    ({"share": -0.1}, "share"),
    ({"share": None}, "share"),
    ({"share": 0.5, "buffer": 0}, "buffer"),
    ({"share": 0.5, "buffer": 2001}, "buffer"),
    ({"share": 0.5, "buffer": 10.5}, "buffer"),
    ({"share": 0.5, "buffer": "10"}, "buffer"),
    ({"share": 0.5, "size": 10}, "size"),
    ({}, "share"),
])
def test_bad_replay_is_refused_with_the_field_named(fields: dict[str, Any], field: str) -> None:
    error = refused({"type": "replay", **fields})
    assert error.code == "invalid" and error.request == "replay" and error.field == field, error
    assert error.message


def test_the_session_message_shape_checks_tasks_and_replay() -> None:
    task = {"index": 0, "dataset": "gauss", "rotate": 0.0, "shift": [0.0, 0.0], "n_classes": 2, "start": "new",
            "kept": [], "reinitialized": [0, 1], "note": "new weights drawn from the seed", "trained_steps": None}
    p.server._adapter(list[p.server.TaskState]).validate_python([task])
    for bad in ({"start": "warm"}, {"kept": "0"}, {"trained_steps": "5"}):
        with pytest.raises(ValidationError):
            p.server._adapter(list[p.server.TaskState]).validate_python([{**task, **bad}])
    p.server._adapter(p.server.ReplayState).validate_python({"share": 0.3, "buffer": 10, "available": 250})
    with pytest.raises(ValidationError):
        p.server._adapter(p.server.ReplayState).validate_python({"share": 0.3, "buffer": 10})


def test_the_model_document_takes_exported_tasks_and_refuses_bad_ones() -> None:
    base = {"version": 1, "architecture": {"n_inputs": 2, "hidden": [], "activations": [], "n_outputs": 1,
                                           "task": "playground"},
            "weights": [[[0.1], [0.2]]], "biases": [[0.0]]}
    task = {"index": 0, "dataset": "gauss", "rotate": 0.0, "shift": [0.0, 0.0], "n_classes": 2, "start": "new",
            "kept": [], "reinitialized": [0], "note": "new weights drawn from the seed", "trained_steps": None}
    doc = p.ModelDocument.model_validate({**base, "tasks": [task]})
    assert "tasks" in doc.model_dump(exclude_unset=True)
    with pytest.raises(ValidationError):
        p.ModelDocument.model_validate({**base, "tasks": [{**task, "rotate": "0"}]})
