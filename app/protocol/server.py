"""Server to client: the shape of every outbound message.

Frames go out at up to 60 a second to hundreds of clients, so outbound
messages are plain dicts, never validated on their way out: these `TypedDict`s
are what the type checker holds every builder in `app.server` to, what
`docs/protocol.md` documents, and what the tests validate the documented
examples and real captured messages against (`check_server_message`).

Arrays are numpy arrays in the builders and nested lists on the wire (`encode`
writes them); a non-finite number is sent as `null`. Parts that `app.training`
hands over as plain dicts (it knows no protocol) are typed `dict` for the
builders and checked against their shape (`checked_as`) when a message is
validated.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Annotated, Any, Literal, NotRequired

import numpy as np
from numpy.typing import NDArray
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, TypeAdapter, with_config
from typing_extensions import TypedDict

from app.nn.activations import ActivationName
from app.nn.losses import TaskName
from app.protocol.config import Config, Hyper
from app.protocol.errors import ErrorCode
from app.protocol.limits import Limits

# Strict, as the inbound models are: a number is not a string, an integer not 1.0, and no key unknown.
WIRE = ConfigDict(extra="forbid", strict=True, arbitrary_types_allowed=True)

Number = float | None  # None: a non-finite number
Vector = Sequence[Number] | NDArray[np.float64]
Matrix = Sequence[Sequence[Number]] | NDArray[np.float64]
Mask = Sequence[bool] | NDArray[np.bool_]
MaskMatrix = Sequence[Sequence[bool]] | NDArray[np.bool_]
Counts = Sequence[int] | NDArray[np.int64]
CountMatrix = Sequence[Sequence[int]] | NDArray[np.int64]


def checked_as(shape: Any) -> AfterValidator:
    """For a plain dict built by `app.training`: checked as `shape` (a model or a TypedDict) when a
    message is validated."""
    def check(value: Any) -> Any:
        if isinstance(shape, type) and issubclass(shape, BaseModel):
            shape.model_validate(value)
        else:
            _adapter(shape).validate_python(value)
        return value
    return AfterValidator(check)


@cache
def _adapter(shape: Any) -> TypeAdapter[Any]:
    return TypeAdapter(shape)


# --------------------------------------------------------------------------
# session, dataset, history


@with_config(WIRE)
class Architecture(TypedDict):
    n_inputs: int
    hidden: list[int]
    activations: list[ActivationName]
    n_outputs: int
    task: TaskName
    param_counts: list[int]   # weights and biases of each layer
    total_params: int


@with_config(WIRE)
class QuantizationState(TypedDict):
    """How the session quantizes: `bits` 0 (off) to 8, one scale per tensor or per neuron, and whether
    it trains quantization-aware."""

    bits: Annotated[int, Field(ge=0, le=8)]
    granularity: Literal["tensor", "neuron"]
    aware: bool


@with_config(WIRE)
class TaskState(TypedDict):
    """One task of the session's sequence (layers counted from 0)."""

    index: int
    dataset: str
    rotate: float
    shift: list[float]              # [dx, dy]
    n_classes: int
    start: Literal["new", "current", "scratch"]
    kept: list[int]                 # layers that started from the previous task's weights
    reinitialized: list[int]        # layers that started from new weights
    note: str                       # the same in words
    trained_steps: int | None       # steps trained before the next task began; null for the current one


@with_config(WIRE)
class ReplayState(TypedDict):
    share: float      # of each mini-batch, drawn from the buffer
    buffer: int       # the buffer's size asked for
    available: int    # the previous task's training points (0: no comparable previous task)


@with_config(WIRE)
class SessionMessage(TypedDict):
    """Sent after hello, configure, reset and rollback: what this session is."""

    type: Literal["session"]
    version: int
    session_id: str | None  # None for a student following the teacher's session
    config: Annotated[dict[str, Any], checked_as(Config)]
    hyper: Annotated[dict[str, Any], checked_as(Hyper)]
    architecture: Annotated[dict[str, Any], checked_as(Architecture)]
    playing: bool
    updates_per_second: float | None
    fps: int
    limits: Limits
    quantization: Annotated[dict[str, Any], checked_as(QuantizationState)]
    tasks: Annotated[list[dict[str, Any]], checked_as(list[TaskState])]  # oldest first, the current one last
    replay: Annotated[dict[str, Any], checked_as(ReplayState)]


@with_config(WIRE)
class Split(TypedDict):
    x: Matrix                              # [N x D] raw inputs
    y: Sequence[float] | NDArray[Any]      # [N] class indices or targets


@with_config(WIRE)
class DatasetMessage(TypedDict):
    """The points of the training, validation and test sets."""

    type: Literal["dataset"]
    task: Annotated[str, checked_as(TaskName)]
    n_classes: int
    plane: bool
    features: list[str]
    input_names: list[str]
    class_names: list[str] | None
    columns: list[str] | None     # tabular data: every column it has (config `columns` picks the inputs); null on 2-D
    constant_inputs: list[bool]   # per network input: it never varies on the training split (gradient exactly 0)
    train: Split
    val: Split
    test: Split


@with_config(WIRE)
class EpochRows(TypedDict):
    epoch: list[int]
    step: list[int]
    train_loss: list[Number]
    test_loss: list[Number]
    val_loss: list[Number]
    train_acc: list[Number]
    test_acc: list[Number]
    val_acc: list[Number]
    train_loss_penalized: list[Number]  # the training loss with the regularization penalty
    old_task_acc: list[Number]   # forgetting: accuracy and loss on the previous task's test points
    old_task_loss: list[Number]  # (null without a comparable previous task)
    quant_train_acc: list[Number]  # the quantized model (null while quantization is off)
    quant_test_acc: list[Number]
    quant_test_loss: list[Number]


@with_config(WIRE)
class Change(TypedDict):
    step: int
    field: str
    old: Any
    new: Any


@with_config(WIRE)
class History(TypedDict):
    """What was recorded: the loss of each update, a row per epoch, the changes."""

    steps: list[int]
    batch_loss: list[Number]
    epochs: EpochRows
    changes: list[Change]


@with_config(WIRE)
class HistoryMessage(History):
    """Everything recorded since the network was built."""

    type: Literal["history"]


# --------------------------------------------------------------------------
# frame


@with_config(WIRE)
class LayerState(TypedDict):
    """One layer: parameters, last gradients, the optimizer's first buffer, the last change, frozen masks;
    with Adam also the second moment `sW`, `sb` and the per-entry step counts `tW`, `tb`."""

    W: Matrix
    b: Vector
    dW: NotRequired[Matrix]       # the parts a client did not ask for are left out (`views`)
    db: NotRequired[Vector]
    vW: NotRequired[Matrix]
    vb: NotRequired[Vector]
    deltaW: NotRequired[Matrix]
    deltab: NotRequired[Vector]
    frozenW: MaskMatrix
    frozenb: Mask
    sW: NotRequired[Matrix]
    sb: NotRequired[Vector]
    tW: NotRequired[CountMatrix]
    tb: NotRequired[Counts]


@with_config(WIRE)
class TraceState(TypedDict):
    """The traced training sample at the phase just done; `loss` and `batch_loss` from the loss phase on,
    `dz` from the backward phase on."""

    index: int
    x: Sequence[Number]              # its raw point
    inputs: Sequence[Number]         # its network inputs
    target: Sequence[Number]         # its target row [K]
    output: Sequence[Number]         # the network's output [K]
    in_batch: bool
    z: Sequence[Sequence[Number]]    # pre-activations, per layer
    a: Sequence[Sequence[Number]]    # activations, per layer, the inputs first
    batch_size: int
    loss: NotRequired[Number]
    batch_loss: NotRequired[Number]
    dz: NotRequired[Sequence[Sequence[Number]]]


@with_config(WIRE)
class Metrics(TypedDict):
    train_loss: Number
    train_loss_penalized: Number
    test_loss: Number
    val_loss: Number
    train_acc: Number
    test_acc: Number
    val_acc: Number
    batch_loss: Number


@with_config(WIRE)
class Diverged(TypedDict):
    step: int
    cause: str
    rollback_step: int
    advice: str


@with_config(WIRE)
class TroubleState(TypedDict):
    """What is wrong with the run, in plain words with its numbers, and what to try (`app.training.trouble`)."""

    kind: Literal["stuck", "dead", "oscillating", "growing", "diverged"]
    since_step: int
    message: str
    advice: str


Phase = Literal["forward", "loss", "backward", "update"]


@with_config(WIRE)
class EarlyStoppingState(TypedDict):
    """The early stopping watch: its rule, the best epoch so far, where it stopped and why."""

    patience: int
    metric: Literal["val_loss", "val_acc", "train_loss", "train_acc"]
    min_delta: float
    max_epochs: int | None
    epochs_saved: int | None       # max_epochs minus the epoch it stopped at (None: no budget, or running)
    reason: Literal["patience", "max_epochs"] | None
    best_epoch: int | None
    best_step: int | None
    best_value: float | None
    waited: int                     # epochs since the best one
    stopped_epoch: int | None
    stopped_step: int | None


@with_config(WIRE)
class QuantizedState(QuantizationState):
    """The quantized model beside the full-precision one: its loss and accuracy (null for an empty split
    and for a regression's accuracy), its size, and per layer the scales (one per tensor, or one per
    output neuron) and the number of distinct codes in use."""

    train_loss: Number
    train_acc: Number
    test_loss: Number
    test_acc: Number
    bytes_before: int
    bytes_after: int
    scales: list[list[Number]]
    levels: list[int]


@with_config(WIRE)
class Solution(TypedDict):
    """Weights and biases laid out as a layer of the network: `W [F x K]`, `b [K]`."""

    W: list[list[Number]]
    b: list[Number]


@with_config(WIRE)
class LeastSquaresState(TypedDict):
    """Linear regression's closed-form minimum on the training split (`app.training.model_types`): the
    ordinary least-squares solution, the ridge one under L2 (else None), the penalty in force and a note."""

    ordinary: Solution
    ridge: Solution | None
    penalty: Literal["none", "l1", "l2"]
    rate: float
    note: str


@with_config(WIRE)
class FrameBody(TypedDict):
    """A frame without its per-client part (`type`, `seq`, `history`): encoded once per state."""

    playing: bool
    updates_per_second: float | None
    step: int
    epoch: int
    phase: Annotated[str | None, checked_as(Phase | None)]
    hyper: Annotated[dict[str, Any], checked_as(Hyper)]
    layers: list[LayerState]
    metrics: Annotated[dict[str, Any], checked_as(Metrics)]
    trace: TraceState | None
    diverged: Annotated[dict[str, Any], checked_as(Diverged)] | None
    early_stopping: Annotated[dict[str, Any], checked_as(EarlyStoppingState)] | None
    dropped: Sequence[Mask] | None    # per hidden layer, the units dropout dropped (None: no dropout)
    quantized: Annotated[dict[str, Any], checked_as(QuantizedState)] | None  # None while quantization is off
    trouble: Annotated[dict[str, Any], checked_as(TroubleState)] | None  # None while all looks well
    support: list[int] | None  # hinge: the training points on or inside the margin, sorted; None for other tasks
    least_squares: Annotated[dict[str, Any], checked_as(LeastSquaresState)] | None  # linear regression only


@with_config(WIRE)
class Inspected(TypedDict):
    """The exact (float64) numbers of one weight (`W`, i, j) or bias (`b`, j) at `step`: its value, last
    gradient, velocity (the optimizer's first buffer), last update, and with Adam its second moment and count."""

    step: int
    layer: int
    kind: Literal["W", "b"]
    i: int
    j: int
    value: Number
    gradient: Number
    velocity: Number
    update: Number
    second_moment: Number
    adam_steps: int | None
    frozen: bool


@with_config(WIRE)
class InspectedMessage(Inspected):
    """The answer to `inspect`: the watched parameter's exact numbers now."""

    type: Literal["inspected"]


@with_config(WIRE)
class FrameHead(TypedDict):
    """A frame's per-client part."""

    type: Literal["frame"]
    seq: int
    history: Annotated[dict[str, Any], checked_as(History)]
    inspected: NotRequired[Inspected]   # while this client watches a parameter (`inspect`)


@with_config(WIRE)
class FrameMessage(FrameHead, FrameBody):
    """The newest state of the session."""


# --------------------------------------------------------------------------
# classroom and saved runs


@with_config(WIRE)
class RoomMessage(TypedDict):
    """You are in a room: its code, your role, and (teacher only) the key to keep."""

    type: Literal["room"]
    code: str
    role: Literal["teacher", "student"]
    mode: Literal["teach", "follow", "fork"]
    link: str
    expires_at: float
    share_gallery: bool
    teacher_key: str | None


@with_config(WIRE)
class GalleryEntry(TypedDict):
    name: str
    step: int
    train_loss: Number
    test_loss: Number
    hyper: Annotated[dict[str, Any], checked_as(Hyper)]


@with_config(WIRE)
class LessonProgress(TypedDict):
    """The room's lesson step (from 0) and the students by name: who has done its action, who not yet."""

    id: str
    step: int
    done: list[str]
    waiting: list[str]


@with_config(WIRE)
class RoomStatus(TypedDict):
    """For the teacher: who is in the room, if the class opted in their losses, and the lesson's progress."""

    type: Literal["room_status"]
    code: str
    students: int
    following: int
    forked: int
    gallery: list[GalleryEntry] | None
    lesson: LessonProgress | None


@with_config(WIRE)
class RoomLessonMessage(TypedDict):
    """To every seat of a room: the lesson and step (from 0) the teacher has the class on; `id` null: none."""

    type: Literal["room_lesson"]
    id: str | None
    step: int | None


@with_config(WIRE)
class Saved(TypedDict):
    """A session was saved: open it again with hello {run_id} or the link."""

    type: Literal["saved"]
    run_id: str
    name: str
    link: str


@with_config(WIRE)
class SavedRunHistory(TypedDict):
    """A saved run's epoch rows as they were at the save (`GET /api/runs/{run_id}/history`)."""

    run_id: str
    epochs: EpochRows


@with_config(WIRE)
class Notice(TypedDict):
    """Something to tell the user in plain words (for example a teacher's push)."""

    type: Literal["notice"]
    text: str


@with_config(WIRE)
class RoomClosed(TypedDict):
    """The room was closed by its teacher: its code no longer works."""

    type: Literal["room_closed"]
    code: str
    text: str


@with_config(WIRE)
class JobMessage(TypedDict):
    """A background job of this client (cross-validation, search, landscape, race, learning-rate sweep)
    moved on: its state, the event (progress, a fold or trial done, the trials drawn, rows of a
    landscape, a race's new losses), and at the end its result or why it failed."""

    type: Literal["job"]
    job_id: str
    kind: Literal["cross_validation", "search", "landscape", "race", "lr_sweep"]
    state: Literal["waiting", "running", "done", "cancelled", "failed"]
    event: dict[str, Any] | None
    result: dict[str, Any] | None
    message: str | None


@with_config(WIRE)
class ImportanceInput(TypedDict):
    name: str
    constant: bool          # it never varies on the training split
    weight_norm: Number     # L2 norm of its outgoing first-layer weights
    importance: Number      # mean drop of the metric when it is shuffled (a rise, for the loss)
    spread: Number          # std of that drop over the repeats


@with_config(WIRE)
class ImportanceMessage(TypedDict):
    """The answer to `importance`: permutation importance of each network input on held-out data."""

    type: Literal["importance"]
    split: Literal["val", "test"]
    metric: Literal["accuracy", "loss"]
    baseline: Number        # the metric on the unshuffled split
    inputs: list[ImportanceInput]


@with_config(WIRE)
class HistogramLayer(TypedDict):
    """One layer's histograms: `counts[k]` in the bins between `edges` at `steps[k]` (each row sums to the
    number of values; the end bins also hold the `below[k]` values under the first edge and the `above[k]`
    over the last, NaN included). `scale`: "linear", or "log10_abs" (gradients: log10 of |dW|)."""

    scale: Literal["linear", "log10_abs"]
    edges: list[float]
    steps: list[int]
    counts: list[list[int]]
    below: list[int]
    above: list[int]


@with_config(WIRE)
class HistogramsMessage(TypedDict):
    """The answer to `histograms`: one kind's histograms per layer (weights and gradients: one per layer
    of weights; activations: one per hidden layer) over the record."""

    type: Literal["histograms"]
    kind: Literal["weights", "gradients", "activations"]
    layers: list[HistogramLayer]


@with_config(WIRE)
class RewoundParams(TypedDict):
    W: list[list[Number]]
    b: list[Number]


@with_config(WIRE)
class RewoundMessage(TypedDict):
    """The answer to `rewind`: the run at recorded `step` (the nearest at or before the one asked), its
    exact weights and biases per layer and its histograms of every kind (each with that one step)."""

    type: Literal["rewound"]
    step: int
    epoch: int
    first_step: int      # the oldest recorded step
    params: list[RewoundParams]
    histograms: dict[Literal["weights", "gradients", "activations"], list[HistogramLayer]]


@with_config(WIRE)
class Error(TypedDict):
    """The one shape of every error, as sent (`ErrorMessage.model_dump()`)."""

    type: Literal["error"]
    code: ErrorCode
    request: str | None
    field: str | None
    value: Any
    allowed: str | None
    message: str


SERVER_MESSAGES: dict[str, Any] = {
    "session": SessionMessage, "dataset": DatasetMessage, "history": HistoryMessage,
    "frame": FrameMessage, "error": Error, "room": RoomMessage, "room_status": RoomStatus, "room_lesson": RoomLessonMessage,
    "saved": Saved, "notice": Notice, "room_closed": RoomClosed, "inspected": InspectedMessage,
    "job": JobMessage,
}


# Answers whose type is also the request's (`importance`): apart, since a type names one message in
# `SERVER_MESSAGES` and in docs/protocol.md's sections (there the answer's example is a `json answer` block).
# `rewound`, the answer to `rewind`, is documented the same way, under `rewind`.
ANSWERS: dict[str, Any] = {"importance": ImportanceMessage, "histograms": HistogramsMessage,
                           "rewound": RewoundMessage}


def check_server_message(message: Any) -> None:
    """Raise `pydantic.ValidationError` unless `message` (decoded JSON) has the shape of its `type`.
    For tests and outside clients; the server never validates what it sends."""
    kind = message.get("type") if isinstance(message, dict) else None
    shape = SERVER_MESSAGES.get(kind) or ANSWERS.get(kind) if isinstance(kind, str) else None
    if shape is None:
        raise ValueError(f"not a server message type: {kind!r}; known: {', '.join([*SERVER_MESSAGES, *ANSWERS])}")
    _adapter(shape).validate_python(message)
