"""Outbound messages built from a live session (their shapes: `app.protocol.server`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from app import protocol as p
from app.protocol import LIMITS, PROTOCOL_VERSION, binary_frame, encode
from app.protocol.binary_frame import EncodedBody
from app.server import frames
from app.server.registry import Client, LiveSession
from app.server.shared_rows import frame_head
from app.training import histograms, relevance
from app.training.timeline import Record


def session_message(live: LiveSession, fps: int) -> p.SessionMessage:
    s = live.session
    config = s.config.to_dict()
    config["task"] = s.data.task
    return {
        "type": "session", "version": PROTOCOL_VERSION, "session_id": live.id,
        "config": config, "hyper": s.hyper.to_dict(), "architecture": s.architecture(),
        "playing": live.playing, "updates_per_second": live.updates_per_second, "fps": fps,
        "limits": LIMITS,
        "tasks": s.tasks.to_list(), "replay": s.tasks.replay_dict(),
        "quantization": s.quantization.to_dict(),
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
        "constant_inputs": relevance.constant_inputs(data.X["train"]),
        "columns": list(data.columns) if data.columns is not None else None,
        "train": _split(live, "train"), "val": _split(live, "val"), "test": _split(live, "test"),
    }


# Epoch rows a frame carries at most to a client that draws (its `parts` leave out
# the per-update losses): the newest; `history` has them all. At full speed a small
# network ends dozens of epochs between two frames, and 60 rows a second draw the
# curve as well (a row is about 190 bytes of a default-network frame's 1 KB).
EPOCH_ROWS_PER_FRAME = 1


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
    """The frame, as JSON or as a binary frame (`client.frames`): the body (the heavy part) is
    encoded once per state and content and shared by every client of the session that asked
    for the same content (`client.parts`); only seq, history and the watched parameter are per client."""
    s = live.session
    key = (s.version, live.playing, live.updates_per_second)
    content = (client.frames, client.parts)
    cached = live.body_cache.get(content)
    if cached is None or cached[0] != key:
        parts = frames.ALL_PARTS if client.parts is None else client.parts
        view = s.view()
        quantized = s.quantized()  # computed once per state, whatever the content
        trouble = s.trouble()  # judged once per state; null most of the time
        # Given only when on: the frame's default is null (the frame body's signature stays as it was).
        extra: dict[str, Any] = {"quantized": quantized} if quantized is not None else {}
        if trouble is not None:
            extra["trouble"] = trouble.to_dict()
        support, least_squares = s.support(), s.least_squares()  # null unless an SVM or linear regression
        if support is not None:
            extra["support"] = support
        if least_squares is not None:
            extra["least_squares"] = least_squares
        if client.frames == "binary":
            body: bytes | EncodedBody = frames.binary_body(view, live.playing, live.updates_per_second, parts,
                                                           **extra)
        else:
            body = encode(frames.frame_body(view, live.playing, live.updates_per_second, parts, **extra))
        cached = live.body_cache[content] = (key, body)
    drawn_only = client.parts is not None and "losses" not in client.parts and live.playing and s.phase is None
    seen, changes = client.history_step, client.change_index

    def rows() -> dict[str, Any]:
        # A page draws one epoch row a frame (see EPOCH_ROWS_PER_FRAME), and the loss of every
        # update only when it asked for `losses`.
        if drawn_only:
            return s.history.since(seen, changes, limit=0, epoch_limit=EPOCH_ROWS_PER_FRAME)
        return s.history.since(seen, changes)

    state = (s.history, s.step, s.version, s.history.change_count)  # the history changes with one of them
    history = live.history_rows.get(state, (seen, changes, drawn_only), rows)
    client.history_step = s.step
    client.change_index = s.history.change_count
    client.seq += 1
    client.sent_version = s.version
    numbers = None
    if client.inspect is not None:
        numbers = frames.inspected(s.view(), *client.inspect)
        if numbers is None:
            client.inspect = None  # the network was rebuilt without it
    head = frame_head(client.seq, history, numbers)
    body = cached[1]
    if isinstance(body, EncodedBody):
        return binary_frame.frame_message(head, body)
    return head[:-1] + b"," + body[1:]


def inspected_message(live: LiveSession, layer: int, kind: str, i: int, j: int) -> p.InspectedMessage | None:
    """The exact numbers of one parameter now; None when the network has no such entry."""
    numbers = frames.inspected(live.session.view(), layer, kind, i, j)
    return None if numbers is None else {"type": "inspected", **numbers}


def histograms_answer(record: Record, hist: histograms.Histograms, kind: str, use_fast: bool) -> p.HistogramsMessage:
    """The `histograms` answer: `kind` over the record (steps rebuilt by replay: run it in a thread)."""
    return {"type": "histograms", "kind": kind,  # type: ignore[typeddict-item]  # a HistogramKind
            "layers": histograms.over_time(record, hist, kind, use_fast)}  # type: ignore[typeddict-item]


def rewound_answer(record: Record, hist: histograms.Histograms, step: int, use_fast: bool) -> p.RewoundMessage:
    """The `rewind` answer at recorded `step` or the nearest before (rebuilt by replay: run it in a thread);
    ValueError when nothing is recorded at or before it."""
    seen = histograms.look(record, hist, step, use_fast)
    return {"type": "rewound", "step": seen.step, "epoch": seen.epoch, "first_step": record.entries[0][0].step,
            "params": [{"W": layer["W"], "b": layer["b"]} for layer in seen.params],  # type: ignore[typeddict-item]
            "histograms": seen.histograms}  # type: ignore[typeddict-item]
