"""Outbound messages built from a live session (their shapes: `app.protocol.server`)."""

from __future__ import annotations

import numpy as np

from app import protocol as p
from app.protocol import LIMITS, PROTOCOL_VERSION, encode
from app.server import frames
from app.server.registry import Client, LiveSession


def session_message(live: LiveSession, fps: int) -> p.SessionMessage:
    s = live.session
    config = s.config.to_dict()
    config["task"] = s.data.task
    return {
        "type": "session", "version": PROTOCOL_VERSION, "session_id": live.id,
        "config": config, "hyper": s.hyper.to_dict(), "architecture": s.architecture(),
        "playing": live.playing, "updates_per_second": live.updates_per_second, "fps": fps,
        "limits": LIMITS,
    }


def _split(live: LiveSession, name: str) -> p.Split:
    data = live.session.data
    y = data.y[name]
    return {"x": data.raw[name], "y": y.astype(np.float64) if y.dtype.kind == "f" else y}


def dataset_message(live: LiveSession) -> p.DatasetMessage:
    data = live.session.data
    return {
        "type": "dataset", "task": data.task, "n_classes": data.n_classes, "plane": data.plane,
        "features": list(data.feature_names), "input_names": list(data.input_names),
        "class_names": list(data.class_names) if data.class_names else None,
        "train": _split(live, "train"), "val": _split(live, "val"), "test": _split(live, "test"),
    }


def history_message(live: LiveSession, client: Client | None = None) -> p.HistoryMessage:
    """The whole history; marks it as sent to `client`."""
    s = live.session
    body = s.history.since(-1, 0, limit=None)
    if client is not None:
        client.history_step = s.step
        client.change_index = s.history.change_count
    return {"type": "history", "steps": body["steps"], "batch_loss": body["batch_loss"], "epochs": body["epochs"],
            "changes": body["changes"]}


def frame_bytes(live: LiveSession, client: Client) -> bytes:
    """The frame as JSON: the body (the heavy part) is encoded once per state and
    shared by every client of the session; only seq and history are per client."""
    s = live.session
    key = (s.version, live.playing, live.updates_per_second)
    if live.body_cache is None or live.body_cache[0] != key:
        live.body_cache = (key, encode(frames.frame_body(s.view(), live.playing, live.updates_per_second)))
    history = s.history.since(client.history_step, client.change_index)
    client.history_step = s.step
    client.change_index = s.history.change_count
    client.seq += 1
    client.sent_version = s.version
    head: p.FrameHead = {"type": "frame", "seq": client.seq, "history": history}
    return encode(head)[:-1] + b"," + live.body_cache[1][1:]
