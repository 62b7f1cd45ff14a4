"""Server to client: the shape of every outbound message."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel

from app.nn.losses import TaskName
from app.protocol.config import Config, Hyper
from app.protocol.errors import ErrorMessage


class SessionMessage(BaseModel):
    """Sent after hello, configure and reset: what this session is."""

    type: Literal["session"]
    version: int
    session_id: str
    config: Config
    hyper: Hyper
    architecture: dict[str, Any]
    playing: bool
    updates_per_second: float | None
    fps: int
    limits: dict[str, int]


class Split(BaseModel):
    x: list[list[float]]
    y: list[float]


class DatasetMessage(BaseModel):
    """The points of the training, validation and test sets."""

    type: Literal["dataset"]
    task: TaskName
    n_classes: int
    plane: bool
    features: list[str]
    input_names: list[str]
    class_names: list[str] | None = None
    train: Split
    val: Split
    test: Split


class EpochRows(BaseModel):
    epoch: list[int]
    step: list[int]
    train_loss: list[float | None]
    test_loss: list[float | None]
    val_loss: list[float | None]
    train_acc: list[float | None]
    test_acc: list[float | None]
    val_acc: list[float | None]


class Change(BaseModel):
    step: int
    field: str
    old: Any
    new: Any


class HistoryMessage(BaseModel):
    """Everything recorded since the network was built."""

    type: Literal["history"]
    steps: list[int]
    batch_loss: list[float | None]
    epochs: EpochRows
    changes: list[Change]


class HistoryDelta(BaseModel):
    steps: list[int]
    batch_loss: list[float | None]
    epochs: EpochRows
    changes: list[Change]


class LayerState(BaseModel):
    W: list[list[float | None]]
    b: list[float | None]
    dW: list[list[float | None]]
    db: list[float | None]
    vW: list[list[float | None]]
    vb: list[float | None]
    deltaW: list[list[float | None]]
    deltab: list[float | None]
    frozenW: list[list[bool]]
    frozenb: list[bool]
    sW: list[list[float | None]] | None = None
    sb: list[float | None] | None = None
    tW: list[list[int]] | None = None
    tb: list[int] | None = None


class FrameMessage(BaseModel):
    """The newest state of the session."""

    type: Literal["frame"]
    seq: int
    step: int
    epoch: int
    playing: bool
    phase: Literal["forward", "loss", "backward", "update"] | None
    updates_per_second: float | None
    hyper: Hyper
    layers: list[LayerState]
    metrics: dict[str, float | None]
    history: HistoryDelta
    trace: dict[str, Any] | None
    diverged: dict[str, Any] | None


class RoomMessage(BaseModel):
    """You are in a room: its code, your role, and (teacher only) the key to keep."""

    type: Literal["room"]
    code: str
    role: Literal["teacher", "student"]
    mode: Literal["teach", "follow", "fork"]
    link: str
    expires_at: float
    share_gallery: bool
    teacher_key: str | None = None


class GalleryEntry(BaseModel):
    name: str
    step: int
    train_loss: float | None
    test_loss: float | None
    hyper: dict[str, Any]


class RoomStatus(BaseModel):
    """For the teacher: who is in the room and, if the class opted in, their losses."""

    type: Literal["room_status"]
    code: str
    students: int
    following: int
    forked: int
    gallery: list[GalleryEntry] | None


class Saved(BaseModel):
    """A session was saved: open it again with hello {run_id} or the link."""

    type: Literal["saved"]
    run_id: str
    name: str
    link: str


class Notice(BaseModel):
    """Something to tell the user in plain words (for example a teacher's push)."""

    type: Literal["notice"]
    text: str


class RoomClosed(BaseModel):
    """The room was closed by its teacher: its code no longer works."""

    type: Literal["room_closed"]
    code: str
    text: str


SERVER_MESSAGES: dict[str, type[BaseModel]] = {
    "session": SessionMessage, "dataset": DatasetMessage, "history": HistoryMessage,
    "frame": FrameMessage, "error": ErrorMessage, "room": RoomMessage, "room_status": RoomStatus,
    "saved": Saved, "notice": Notice, "room_closed": RoomClosed,
}
