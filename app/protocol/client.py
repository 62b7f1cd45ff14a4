"""Client to server: every inbound message, validated strictly.

Unknown fields, wrong types and out-of-range values are refused with an
`ErrorMessage` that names the field, repeats the value and says what is
allowed. Types are strict: a string or a boolean is never taken as a number,
nor a number as a boolean or a string (an integer is a number wherever a
number is taken).
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

import orjson
from pydantic import BaseModel, Field, PlainValidator, ValidationError, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from app.nn.optimizers import OptimizerName
from app.nn.quantization import Granularity
from app.protocol.base import Strict, Version
from app.protocol.config import ConfigPatch, HyperPatch
from app.protocol.errors import ErrorMessage, ProtocolError, error_from_validation
from app.protocol.limits import (
    MAX_FPS,
    MAX_LAYERS,
    MAX_MESSAGE_BYTES,
    MAX_NEURONS,
    MAX_POINTS,
    MAX_STEP_COUNT,
    MAX_UPDATES_PER_SECOND,
)

StepUnit = Literal["update", "epoch", "phase"]
# What a frame may carry beside W, b and the frozen masks: the last gradients (dW, db), the
# velocity (vW, vb), the last update (deltaW, deltab), Adam's second moment and counts (sW, sb, tW, tb),
# and in its history the loss of every update (steps, batch_loss; the epoch rows always come).
FramePart = Literal["gradient", "velocity", "update", "adam", "losses"]
FRAME_PARTS: tuple[FramePart, ...] = ("gradient", "velocity", "update", "adam", "losses")
FrameFormat = Literal["json", "binary"]
Parts = Annotated[list[FramePart], Field(max_length=len(FRAME_PARTS))]
Fps = Annotated[int, Field(ge=1, le=MAX_FPS)]
UpdatesPerSecond = Annotated[float, Field(ge=1, le=MAX_UPDATES_PER_SECOND, allow_inf_nan=False)]


class Hello(Strict):
    """Create a session from `config`, resume `session_id`, or open the saved run `run_id`."""

    type: Literal["hello"]
    version: Version = 1
    session_id: Annotated[str, Field(max_length=64)] | None = None
    run_id: Annotated[str, Field(max_length=64)] | None = None
    teacher_key: Annotated[str, Field(max_length=64)] | None = None
    fps: Fps = 30
    config: ConfigPatch | None = None
    hyper: HyperPatch | None = None
    playing: bool | None = None
    updates_per_second: UpdatesPerSecond | None = None
    frames: FrameFormat = "json"
    parts: Parts | None = None  # None: every part


class Play(Strict):
    """Start training."""

    type: Literal["play"]


class Pause(Strict):
    """Stop training; the state stays."""

    type: Literal["pause"]


class Step(Strict):
    """Pause and advance by `count` updates, epochs or phases."""

    type: Literal["step"]
    unit: StepUnit = "update"
    count: Annotated[int, Field(ge=1, le=MAX_STEP_COUNT)] = 1


class SetSpeed(Strict):
    """Updates per second while playing; null is as fast as the CPU share allows."""

    type: Literal["set_speed"]
    updates_per_second: UpdatesPerSecond | None


class SetFps(Strict):
    """The most frames per second this client wants."""

    type: Literal["set_fps"]
    fps: Fps


class SetHyper(HyperPatch):
    """Change any hyperparameters live."""

    type: Literal["set_hyper"]


class Configure(Strict):
    """Change the configuration: rebuilds data and network."""

    type: Literal["configure"]
    config: ConfigPatch


class FineTune(Strict):
    """Switch to a new task (`config`: a patch, as for `configure`), starting from the current weights
    wherever the shapes allow ("current") or from the weights drawn for the new network ("scratch",
    the ones "current" gives the layers it re-initializes); the session keeps a record of the tasks."""

    type: Literal["fine_tune"]
    config: ConfigPatch
    start: Literal["current", "scratch"] = "current"


class Replay(Strict):
    """Mix `share` of each mini-batch from a buffer of the previous task's first `buffer` training
    points (in a fixed seeded order); needs a previous task with the same inputs and classes."""

    type: Literal["replay"]
    share: Annotated[float, Field(ge=0, le=0.9, allow_inf_nan=False)]
    buffer: Annotated[int, Field(ge=1, le=MAX_POINTS)] = 100


class Reset(Strict):
    """Train again from the same or from new initial weights."""

    type: Literal["reset"]
    same_weights: bool = True


class SetParam(Strict):
    """Set one weight (`W`, i, j) or bias (`b`, j) of a layer."""

    type: Literal["set_param"]
    layer: Annotated[int, Field(ge=0, le=MAX_LAYERS)]
    kind: Literal["W", "b"]
    i: Annotated[int, Field(ge=0, le=MAX_NEURONS)] = 0
    j: Annotated[int, Field(ge=0, le=MAX_NEURONS)]
    value: Annotated[float, Field(ge=-1e6, le=1e6, allow_inf_nan=False)]


class Freeze(Strict):
    """Freeze or unfreeze a layer, a neuron, a weight or a bias."""

    type: Literal["freeze"]
    layer: Annotated[int, Field(ge=0, le=MAX_LAYERS)]
    target: Literal["layer", "neuron", "weight", "bias"]
    i: Annotated[int, Field(ge=0, le=MAX_NEURONS)] = 0
    j: Annotated[int, Field(ge=0, le=MAX_NEURONS)] = 0
    frozen: bool = True


class Rollback(Strict):
    """Restore the last finite state after a divergence."""

    type: Literal["rollback"]


class Trace(Strict):
    """Choose the training sample traced in step-by-step mode."""

    type: Literal["trace"]
    index: Annotated[int, Field(ge=0, le=MAX_POINTS)]


# The generalization lab. Bounds are the engine's (`app.training.early_stopping`, `trials`,
# `cross_validation`, `search`), repeated here since the protocol imports no training: the
# engine checks them again, and what only it can judge (k against the data, a grid's size).
StopMetric = Literal["val_loss", "val_acc", "train_loss", "train_acc"]
SearchField = Literal["lr", "momentum", "batch_size", "reg_rate", "dropout"]
JobEpochs = Annotated[int, Field(ge=1, le=2000)]


class StopRule(Strict):
    """Stop after `patience` epochs without `metric` improving by more than `min_delta`, or at
    epoch `max_epochs` (null: no budget)."""

    patience: Annotated[int, Field(ge=1, le=1000)] = 10
    metric: StopMetric = "val_loss"
    min_delta: Annotated[float, Field(ge=0, le=1e6, allow_inf_nan=False)] = 0.0
    max_epochs: Annotated[int, Field(ge=1, le=100_000)] | None = None


class EarlyStopping(Strict):
    """Watch a metric at every epoch's end and pause the run when it stops improving; `rule`
    null turns the watch off."""

    type: Literal["early_stopping"]
    rule: StopRule | None


class RestoreBest(Strict):
    """Go back to the best epoch early stopping saw, exactly."""

    type: Literal["restore_best"]


class CrossValidate(Strict):
    """Start k-fold cross-validation of this session's configuration, hyperparameters and initial
    weights in the background (answered with `job` messages)."""

    type: Literal["cross_validate"]
    k: Annotated[int, Field(ge=2, le=10)]
    epochs: JobEpochs


def _number(value: Any) -> int | float:
    """A finite number, kept an integer when it is one (a batch size must be)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise PydanticCustomError("float_type", "Input should be a finite number")
    return value


# A number, an integer staying an integer (typed float: what it is taken as everywhere but batch_size).
SearchValues = Annotated[list[Annotated[float, PlainValidator(_number)]], Field(min_length=1, max_length=12)]


class Search(Strict):
    """Start a hyperparameter search in the background: a grid over `space` ({field: values}), or
    `trials` random draws from it ({field: [low, high]}); every trial from the session's initial
    weights, scored on the validation split."""

    type: Literal["search"]
    mode: Literal["grid", "random"]
    space: Annotated[dict[SearchField, SearchValues], Field(min_length=1, max_length=5)]
    trials: Annotated[int, Field(ge=1, le=100)] | None = None
    epochs: JobEpochs
    seed: Annotated[int, Field(ge=0, le=2**32 - 1)] | None = None


class CancelJob(Strict):
    """Cancel one of your background jobs (waiting or running)."""

    type: Literal["cancel_job"]
    job_id: Annotated[str, Field(min_length=1, max_length=32)]


# The optimizer lab's background jobs. Bounds are the engine's (`app.training.landscape`, `race`,
# `lr_sweep`), repeated here as above; which weights a network has is checked against the session.
PARAM_REF_ALLOWED = (f'[layer, i, j] (a weight) or [layer, "b", j] (a bias), integers 0 to {MAX_NEURONS} '
                     f"and the string \"b\"")


def _param_ref(value: Any) -> tuple[int, int | str, int]:
    """One parameter: `[layer, i, j]` (weight W[layer][i][j]) or `[layer, "b", j]` (bias b[layer][j]);
    whether the network has it is the session's check."""
    def whole(v: Any) -> bool:
        return isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= MAX_NEURONS

    if (not isinstance(value, list) or len(value) != 3 or not whole(value[0])
            or not (value[1] == "b" or whole(value[1])) or not whole(value[2])):
        raise PydanticCustomError("param_ref", "Input should name one weight or bias",
                                  {"allowed": PARAM_REF_ALLOWED})
    return (value[0], value[1], value[2])


# A mixed triple (an integer or "b" in the middle): checked whole by its own validator, so typed Any.
ParamRef = Annotated[Any, PlainValidator(_param_ref)]


class Landscape(Strict):
    """Compute the training loss over a 2-D slice of parameter space around the current weights in the
    background: along two random directions normalized per neuron ("random"), or along two chosen
    parameters ("weights", with `weights`); answered with `job` messages of kind "landscape"."""

    type: Literal["landscape"]
    mode: Literal["random", "weights"] = "random"
    weights: Annotated[list[ParamRef], Field(min_length=2, max_length=2)] | None = None
    span: Annotated[float, Field(gt=0, le=10, allow_inf_nan=False)] = 1.0
    resolution: Annotated[int, Field(ge=5, le=61)] = 41
    seed: Annotated[int, Field(ge=0, le=2**32 - 1)] | None = None


class RaceContender(Strict):
    """One optimizer of a race and its hyperparameters (the bounds of `Hyper`; null: the session's)."""

    optimizer: OptimizerName
    lr: Annotated[float, Field(ge=1e-5, le=10, allow_inf_nan=False)] | None = None
    momentum: Annotated[float, Field(ge=0, le=0.999, allow_inf_nan=False)] | None = None
    beta1: Annotated[float, Field(ge=0, le=0.999, allow_inf_nan=False)] | None = None
    beta2: Annotated[float, Field(ge=0, le=0.9999, allow_inf_nan=False)] | None = None
    rho: Annotated[float, Field(ge=0, le=0.9999, allow_inf_nan=False)] | None = None


class Race(Strict):
    """Train 2 to 5 optimizers from the current weights on the same mini-batches for `updates` updates
    in the background; answered with `job` messages of kind "race"."""

    type: Literal["race"]
    contenders: Annotated[list[RaceContender], Field(min_length=2, max_length=5)]
    updates: Annotated[int, Field(ge=1, le=5000)]


SweepLr = Annotated[float, Field(ge=1e-5, le=10, allow_inf_nan=False)]


class LrSweep(Strict):
    """Train a few updates from the current weights at each of `points` learning rates from `low` to
    `high` (log-spaced) in the background; answered with `job` messages of kind "lr_sweep"."""

    type: Literal["lr_sweep"]
    low: SweepLr
    high: SweepLr
    points: Annotated[int, Field(ge=3, le=41)] = 13
    updates: Annotated[int, Field(ge=1, le=500)] = 20

    @field_validator("high")
    @classmethod
    def _above_low(cls, high: float, info: ValidationInfo) -> float:
        low = info.data.get("low")
        if isinstance(low, (int, float)) and high <= low:
            raise PydanticCustomError("high_not_above_low", "Input should be above low ({low})",
                                      {"low": low, "allowed": f"above low ({low:g}) and at most 10"})
        return high


# The transfer and compression lab: quantization and feature relevance. Bounds are the engine's
# (`app.nn.quantization.MAX_BITS`, `app.training.relevance.MAX_REPEATS`), repeated here as above.


class Quantize(Strict):
    """Quantize the weights to `bits` (1 to 8; 0: off, full precision), one scale per tensor or per
    output neuron: every frame then shows the quantized model beside the full-precision one. `aware`:
    train quantization-aware (straight-through estimator; needs bits 1 to 8)."""

    type: Literal["quantize"]
    bits: Annotated[int, Field(ge=0, le=8)]
    granularity: Granularity = "tensor"
    aware: bool = False


class Importance(Strict):
    """Measure the permutation importance of every network input on held-out data (answered with
    `importance`): `repeats` shuffles of each input."""

    type: Literal["importance"]
    repeats: Annotated[int, Field(ge=1, le=20)] = 5


# The optimizer lab's record (`app.training.timeline`): looks at a recorded step, and a fork from one.
HistogramKind = Literal["weights", "gradients", "activations"]
RecordedStep = Annotated[int, Field(ge=0, le=2**53)]


class Histograms(Strict):
    """The histograms of one kind per layer over the whole record, thinned to at most 200 steps
    (answered with `histograms`)."""

    type: Literal["histograms"]
    kind: HistogramKind


class Rewind(Strict):
    """A read-only look at the run as it was at recorded step `step` (the nearest recorded at or before
    it): answered with `rewound`; the live session goes on."""

    type: Literal["rewind"]
    step: RecordedStep


class ForkAt(Strict):
    """Go back to recorded step `step` exactly and train on from there (weights and optimizer state as
    recorded, the history after it dropped); refused, with the nearest recorded steps, when `step` is
    not recorded exactly."""

    type: Literal["fork_at"]
    step: RecordedStep


class Ack(Strict):
    """Acknowledge a frame: flow control."""

    type: Literal["ack"]
    seq: Annotated[int, Field(ge=0)]


class Views(Strict):
    """The optional parts this client draws: later frames carry W, b, the frozen masks and only these
    (every part while a step-by-step phase is shown)."""

    type: Literal["views"]
    parts: Parts


class Inspect(Strict):
    """Watch one weight (`W`, i, j) or bias (`b`, j) of a layer: answered at once with `inspected`, and
    every later frame to this client carries its exact values; `layer` null stops watching."""

    type: Literal["inspect"]
    layer: Annotated[int, Field(ge=0, le=MAX_LAYERS)] | None
    kind: Literal["W", "b"] = "W"
    i: Annotated[int, Field(ge=0, le=MAX_NEURONS)] = 0
    j: Annotated[int, Field(ge=0, le=MAX_NEURONS)] = 0


class Save(Strict):
    """Save this session (configuration, weights, optimizer state, history) under a name."""

    type: Literal["save"]
    name: Annotated[str, Field(min_length=1, max_length=80)]


class RoomCreate(Strict):
    """Open a classroom room around this session; the sender becomes its teacher."""

    type: Literal["room_create"]
    share_gallery: bool = True


class RoomJoin(Strict):
    """Join a room as a student: follow the teacher's session, read-only."""

    type: Literal["room_join"]
    code: Annotated[str, Field(min_length=4, max_length=16)]
    name: Annotated[str, Field(min_length=1, max_length=40)] = "student"
    share: bool = False
    fork: bool = False


class Fork(Strict):
    """A student takes a copy of the teacher's current state into a session of their own."""

    type: Literal["fork"]


class Follow(Strict):
    """A student goes back to following the teacher's session."""

    type: Literal["follow"]


class RoomPush(Strict):
    """The teacher sets a configuration or hyperparameters in every student's own session."""

    type: Literal["room_push"]
    config: ConfigPatch | None = None
    hyper: HyperPatch | None = None


class RoomClose(Strict):
    """The teacher ends the room: its code stops working and every student is told."""

    type: Literal["room_close"]


class RoomNewCode(Strict):
    """The teacher gives the room a new code; the old one stops working, members stay."""

    type: Literal["room_new_code"]


# A room's lesson: a built-in lesson's id or an uploaded one's (`app.lessons.format`), and a step counted from 0
# as in the lesson file's fields; whether the lesson exists and has that step is the server's check.
LessonId = Annotated[str, Field(min_length=1, max_length=64)]
LessonStep = Annotated[int, Field(ge=0, le=999)]


class RoomLesson(Strict):
    """The teacher puts the room on step `step` (from 0) of lesson `id`: every student's page shows that
    step. `id` null (and no step) ends the room's lesson. Teacher only."""

    type: Literal["room_lesson"]
    id: LessonId | None
    step: Annotated[LessonStep | None, Field(validate_default=True)] = None  # checked against id when left out

    @field_validator("step")
    @classmethod
    def _step_with_a_lesson(cls, step: int | None, info: ValidationInfo) -> int | None:
        if "id" in info.data and (step is None) != (info.data["id"] is None):
            raise PydanticCustomError("step_with_lesson", "Input should be a step with a lesson id, null without one",
                                      {"allowed": "a step from 0 with a lesson id; null (or none) when id is null"})
        return step


class LessonDone(Strict):
    """A student did the action of the room's lesson step `step` (from 0) of lesson `id` on their own session;
    the teacher's `room_status` lists them as done."""

    type: Literal["lesson_done"]
    id: LessonId
    step: LessonStep


CLIENT_MESSAGES: dict[str, type[BaseModel]] = {
    "hello": Hello, "play": Play, "pause": Pause, "step": Step, "set_speed": SetSpeed,
    "set_fps": SetFps, "set_hyper": SetHyper, "configure": Configure, "reset": Reset,
    "set_param": SetParam, "freeze": Freeze, "rollback": Rollback, "trace": Trace, "ack": Ack,
    "views": Views, "inspect": Inspect,
    "save": Save, "room_create": RoomCreate, "room_join": RoomJoin, "fork": Fork, "follow": Follow,
    "room_push": RoomPush, "room_close": RoomClose, "room_new_code": RoomNewCode, "room_lesson": RoomLesson,
    "lesson_done": LessonDone,
    "early_stopping": EarlyStopping, "restore_best": RestoreBest, "cross_validate": CrossValidate,
    "search": Search, "cancel_job": CancelJob,
    "fine_tune": FineTune, "replay": Replay, "quantize": Quantize, "importance": Importance,
    "histograms": Histograms, "rewind": Rewind, "fork_at": ForkAt,
    "landscape": Landscape, "race": Race, "lr_sweep": LrSweep,
}
# Messages that change a session: refused to a follower and to anyone without the room's teacher key.
CONTROL_MESSAGES = ("play", "pause", "step", "set_speed", "set_hyper", "configure", "reset", "set_param",
                    "freeze", "rollback", "trace", "early_stopping", "restore_best", "fine_tune", "replay",
                    "quantize", "fork_at")
# Messages that start or cancel background work on a session: refused as the controls are.
JOB_MESSAGES = ("cross_validate", "search", "cancel_job", "landscape", "race", "lr_sweep")


ACK_HEAD = b'{"type":"ack","seq":'


def ack_seq(raw: bytes) -> int | None:
    """The `seq` of an ack written as pages write it, `{"type":"ack","seq":42}`, read without a JSON
    parser or a model (every client sends one a frame); None for anything else, which
    `parse_client_message` then validates in full. A number JSON would refuse (a leading zero) is
    not read here."""
    if raw.startswith(ACK_HEAD) and raw.endswith(b"}"):
        digits = raw[len(ACK_HEAD):-1]
        if digits.isdigit() and len(digits) <= 15 and (digits[0] != ord("0") or len(digits) == 1):
            return int(digits)
    return None


def parse_client_message(raw: str | bytes) -> BaseModel:
    """Validate one inbound message; raise `ProtocolError` with the error to send."""
    if len(raw) > MAX_MESSAGE_BYTES:
        raise ProtocolError(ErrorMessage(
            code="too_large", value=len(raw), allowed=f"at most {MAX_MESSAGE_BYTES} bytes",
            message=f"message is {len(raw)} bytes; the limit is {MAX_MESSAGE_BYTES} bytes"))
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ProtocolError(ErrorMessage(code="bad_json", allowed="one JSON object",
                                         message=f"message is not valid JSON: {exc}")) from None
    if not isinstance(data, dict):
        raise ProtocolError(ErrorMessage(code="bad_json", allowed="one JSON object with a 'type'",
                                         message="message must be a JSON object with a 'type'"))
    kind = data.get("type")
    if kind == "ack" and len(data) == 2 and type(data.get("seq")) is int and data["seq"] >= 0:
        # One a frame per client: the valid ack skips the model's validation (the same checks, done here).
        return Ack.model_construct(type="ack", seq=data["seq"])
    model = CLIENT_MESSAGES.get(kind) if isinstance(kind, str) else None
    if model is None:
        allowed = ", ".join(CLIENT_MESSAGES)
        raise ProtocolError(ErrorMessage(
            code="unknown_type", field="type", value=kind if isinstance(kind, (str, int, float, type(None))) else repr(kind),
            allowed=allowed, message=f"unknown message type {kind!r}; allowed: {allowed}"))
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ProtocolError(error_from_validation(exc, kind, model)) from None
