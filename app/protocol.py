"""The wire protocol: every message both ways, and the one error shape.

This module is the one place where the wire format lives. `docs/protocol.md`
documents every message defined here with an example; a test parses each
example with these models and checks that every type is documented.

Inbound messages (client to server) are validated strictly: unknown fields,
wrong types and out-of-range values are refused with an `ErrorMessage` that
names the field, repeats the value and says what is allowed. Types are strict:
a string or a boolean is never taken as a number, nor a number as a boolean or
a string (an integer is a number wherever a number is taken).
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

import orjson
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from app.training import custom_data

PROTOCOL_VERSION = 1

# Limits every client is held to; the `session` message repeats them.
MAX_LAYERS = 8
MAX_NEURONS = 32
MAX_FEATURES = 16
MAX_POINTS = 2000
MIN_POINTS = 20
MAX_MESSAGE_BYTES = 65536
MAX_ECHO_BYTES = 200  # an error repeats at most this much of a bad value
# The most work one step message or request may ask for (it runs before anything else is
# answered): updates, and training samples passed through the network (updates x batch size).
MAX_STEP_UPDATES = 5000
MAX_STEP_SAMPLES = 200_000

DATASETS = ("circle", "xor", "gauss", "spiral", "moons", "spiral3", "plane", "multigauss", "mammals")
FEATURES = ("x1", "x2", "x1_sq", "x2_sq", "x1x2", "sin_x1", "sin_x2", "cos_x1", "cos_x2")
ACTIVATIONS = ("linear", "relu", "leaky_relu", "tanh", "sigmoid")
TASKS = ("playground", "binary", "multiclass", "regression")
INITS = ("glorot", "he", "uniform", "zeros")
OPTIMIZERS = ("sgd", "momentum", "nesterov", "adam", "rmsprop")
REGULARIZATIONS = ("none", "l1", "l2")

BUILTIN_DATASETS = ("circle", "xor", "gauss", "spiral", "moons", "spiral3", "plane", "multigauss", "mammals")
DATASETS_ALLOWED = ", ".join(BUILTIN_DATASETS) + " or an uploaded CSV's name (csv- and 12 hex digits, from POST /api/datasets)"


def _dataset_name(value: str) -> str:
    if value in BUILTIN_DATASETS or custom_data.is_custom(value):
        return value
    raise PydanticCustomError("dataset_name", "unknown dataset", {"allowed": DATASETS_ALLOWED})


DatasetName = Annotated[str, AfterValidator(_dataset_name),
                        Field(json_schema_extra={"examples": ["circle", "csv-0123456789ab"],
                                                 "pattern": f"^({'|'.join(BUILTIN_DATASETS)})$|"
                                                            + custom_data.NAME_PATTERN})]
FeatureName = Literal["x1", "x2", "x1_sq", "x2_sq", "x1x2", "sin_x1", "sin_x2", "cos_x1", "cos_x2"]
ActivationName = Literal["linear", "relu", "leaky_relu", "tanh", "sigmoid"]
TaskName = Literal["playground", "binary", "multiclass", "regression"]
InitName = Literal["glorot", "he", "uniform", "zeros"]
OptimizerName = Literal["sgd", "momentum", "nesterov", "adam", "rmsprop"]
RegularizationName = Literal["none", "l1", "l2"]
Finite = Annotated[float, Field(allow_inf_nan=False)]


def _exactly_one(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int):
        raise PydanticCustomError("literal_error", "Input should be 1", {"expected": "1"})
    return value


# `Literal[1]` alone takes `true` and `1.0` for 1, even in strict mode.
Version = Annotated[Literal[1], BeforeValidator(_exactly_one)]


class Strict(BaseModel):
    # Lax mode would take "0.1" for 0.1, true for 1 and 1 for true; strict mode refuses them
    # (in python mode, as parse_client_message validates, as in JSON mode, as FastAPI does).
    model_config = ConfigDict(extra="forbid", strict=True)


# --------------------------------------------------------------------------
# Configuration and hyperparameters


class Config(Strict):
    """What the network and its data are made of; a change rebuilds the network."""

    dataset: DatasetName = "circle"
    noise: Annotated[float, Field(ge=0, le=50, allow_inf_nan=False)] = 0
    train_ratio: Annotated[float, Field(ge=10, le=90, allow_inf_nan=False)] = 50
    val_ratio: Annotated[float, Field(ge=0, le=40, allow_inf_nan=False)] = 0
    n_points: Annotated[int, Field(ge=MIN_POINTS, le=MAX_POINTS)] = 500
    features: Annotated[list[FeatureName], Field(min_length=1, max_length=MAX_FEATURES)] = ["x1", "x2"]
    hidden: Annotated[list[Annotated[int, Field(ge=1, le=MAX_NEURONS)]], Field(max_length=MAX_LAYERS)] = [4, 2]
    activation: ActivationName = "tanh"
    activations: Annotated[list[ActivationName], Field(max_length=MAX_LAYERS)] | None = None
    task: TaskName | None = None
    init: InitName = "uniform"
    seed: Annotated[int, Field(ge=0, le=2**31 - 1)] = 1
    init_seed: Annotated[int, Field(ge=0, le=2**31 - 1)] | None = None

    @field_validator("features")
    @classmethod
    def _unique_features(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise PydanticCustomError("unique_features", "features must not repeat",
                                      {"allowed": "each feature at most once"})
        return value


# Configuration fields in which `null` is a value of its own (the default) rather than "unchanged".
NULL_MEANS_DEFAULT = ("task", "activations", "init_seed")


class ConfigPatch(Strict):
    """A partial `Config`: only the fields given change."""

    dataset: DatasetName | None = None
    noise: Annotated[float, Field(ge=0, le=50, allow_inf_nan=False)] | None = None
    train_ratio: Annotated[float, Field(ge=10, le=90, allow_inf_nan=False)] | None = None
    val_ratio: Annotated[float, Field(ge=0, le=40, allow_inf_nan=False)] | None = None
    n_points: Annotated[int, Field(ge=MIN_POINTS, le=MAX_POINTS)] | None = None
    features: Annotated[list[FeatureName], Field(min_length=1, max_length=MAX_FEATURES)] | None = None
    hidden: Annotated[list[Annotated[int, Field(ge=1, le=MAX_NEURONS)]], Field(max_length=MAX_LAYERS)] | None = None
    activation: ActivationName | None = None
    activations: Annotated[list[ActivationName], Field(max_length=MAX_LAYERS)] | None = None
    task: TaskName | None = None
    init: InitName | None = None
    seed: Annotated[int, Field(ge=0, le=2**31 - 1)] | None = None
    init_seed: Annotated[int, Field(ge=0, le=2**31 - 1)] | None = None

    @model_validator(mode="before")
    @classmethod
    def _null_leaves_a_field_as_it_is(cls, data: Any) -> Any:
        """`null` changes nothing (as in `HyperPatch`), except in the fields where it means the default."""
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if v is not None or k in NULL_MEANS_DEFAULT}
        return data

    @field_validator("features")
    @classmethod
    def _unique_features(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and len(set(value)) != len(value):
            raise PydanticCustomError("unique_features", "features must not repeat",
                                      {"allowed": "each feature at most once"})
        return value


class Hyper(Strict):
    """Hyperparameters: set by you, changed live without touching the weights."""

    lr: Annotated[float, Field(ge=1e-5, le=10, allow_inf_nan=False)] = 0.03
    momentum: Annotated[float, Field(ge=0, le=0.999, allow_inf_nan=False)] = 0.9
    batch_size: Annotated[int, Field(ge=1, le=MAX_POINTS)] = 10
    optimizer: OptimizerName = "momentum"
    regularization: RegularizationName = "none"
    reg_rate: Annotated[float, Field(ge=0, le=10, allow_inf_nan=False)] = 0.0
    dropout: Annotated[float, Field(ge=0, le=0.9, allow_inf_nan=False)] = 0.0
    beta1: Annotated[float, Field(ge=0, le=0.999, allow_inf_nan=False)] = 0.9
    beta2: Annotated[float, Field(ge=0, le=0.9999, allow_inf_nan=False)] = 0.999
    rho: Annotated[float, Field(ge=0, le=0.9999, allow_inf_nan=False)] = 0.99


class HyperPatch(Strict):
    """A partial `Hyper`: only the fields given change."""

    lr: Annotated[float, Field(ge=1e-5, le=10, allow_inf_nan=False)] | None = None
    momentum: Annotated[float, Field(ge=0, le=0.999, allow_inf_nan=False)] | None = None
    batch_size: Annotated[int, Field(ge=1, le=MAX_POINTS)] | None = None
    optimizer: OptimizerName | None = None
    regularization: RegularizationName | None = None
    reg_rate: Annotated[float, Field(ge=0, le=10, allow_inf_nan=False)] | None = None
    dropout: Annotated[float, Field(ge=0, le=0.9, allow_inf_nan=False)] | None = None
    beta1: Annotated[float, Field(ge=0, le=0.999, allow_inf_nan=False)] | None = None
    beta2: Annotated[float, Field(ge=0, le=0.9999, allow_inf_nan=False)] | None = None
    rho: Annotated[float, Field(ge=0, le=0.9999, allow_inf_nan=False)] | None = None


# --------------------------------------------------------------------------
# Client to server


class Hello(Strict):
    """Create a session from `config`, resume `session_id`, or open the saved run `run_id`."""

    type: Literal["hello"]
    version: Version = 1
    session_id: Annotated[str, Field(max_length=64)] | None = None
    run_id: Annotated[str, Field(max_length=64)] | None = None
    teacher_key: Annotated[str, Field(max_length=64)] | None = None
    fps: Annotated[int, Field(ge=1, le=60)] = 30
    config: ConfigPatch | None = None
    hyper: HyperPatch | None = None
    playing: bool | None = None
    updates_per_second: Annotated[float, Field(ge=1, le=100000, allow_inf_nan=False)] | None = None


class Play(Strict):
    """Start training."""

    type: Literal["play"]


class Pause(Strict):
    """Stop training; the state stays."""

    type: Literal["pause"]


class Step(Strict):
    """Pause and advance by `count` updates, epochs or phases."""

    type: Literal["step"]
    unit: Literal["update", "epoch", "phase"] = "update"
    count: Annotated[int, Field(ge=1, le=1000)] = 1


class SetSpeed(Strict):
    """Updates per second while playing; null is as fast as the CPU share allows."""

    type: Literal["set_speed"]
    updates_per_second: Annotated[float, Field(ge=1, le=100000, allow_inf_nan=False)] | None


class SetFps(Strict):
    """The most frames per second this client wants."""

    type: Literal["set_fps"]
    fps: Annotated[int, Field(ge=1, le=60)]


class SetHyper(HyperPatch):
    """Change any hyperparameters live."""

    type: Literal["set_hyper"]


class Configure(Strict):
    """Change the configuration: rebuilds data and network."""

    type: Literal["configure"]
    config: ConfigPatch


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


class Ack(Strict):
    """Acknowledge a frame: flow control."""

    type: Literal["ack"]
    seq: Annotated[int, Field(ge=0)]


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


ClientMessage = Annotated[
    Hello | Play | Pause | Step | SetSpeed | SetFps | SetHyper | Configure | Reset | SetParam | Freeze | Rollback | Trace | Ack | Save | RoomCreate | RoomJoin | Fork | Follow | RoomPush | RoomClose | RoomNewCode,
    Field(discriminator="type"),
]
CLIENT_MESSAGES: dict[str, type[BaseModel]] = {
    "hello": Hello, "play": Play, "pause": Pause, "step": Step, "set_speed": SetSpeed,
    "set_fps": SetFps, "set_hyper": SetHyper, "configure": Configure, "reset": Reset,
    "set_param": SetParam, "freeze": Freeze, "rollback": Rollback, "trace": Trace, "ack": Ack,
    "save": Save, "room_create": RoomCreate, "room_join": RoomJoin, "fork": Fork, "follow": Follow,
    "room_push": RoomPush, "room_close": RoomClose, "room_new_code": RoomNewCode,
}
# Messages that change a session: refused to a follower and to anyone without the room's teacher key.
CONTROL_MESSAGES = ("play", "pause", "step", "set_speed", "set_hyper", "configure", "reset", "set_param",
                    "freeze", "rollback", "trace")


# --------------------------------------------------------------------------
# A model as exported by GET and imported by PUT /api/sessions/{id}/model

MAX_CLASSES = 8      # outputs of a multiclass network
MAX_COUNT = 2**53 - 1  # a step or epoch count: exact in JSON and in a browser's numbers
Row = Annotated[list[Finite], Field(max_length=MAX_NEURONS)]
Rows = Annotated[list[Row], Field(max_length=MAX_NEURONS)]
Counts = Annotated[list[Annotated[int, Field(ge=0, le=MAX_COUNT)]], Field(max_length=MAX_NEURONS)]
Mask = Annotated[list[bool], Field(max_length=MAX_NEURONS)]


class LayerValues(Strict):
    W: Rows
    b: Row


class LayerCounts(Strict):
    W: Annotated[list[Counts], Field(max_length=MAX_NEURONS)]
    b: Counts


class LayerMask(Strict):
    W: Annotated[list[Mask], Field(max_length=MAX_NEURONS)]
    b: Mask


ValuesPerLayer = Annotated[list[LayerValues], Field(max_length=MAX_LAYERS + 1)]


class ModelArchitecture(Strict):
    n_inputs: Annotated[int, Field(ge=1, le=MAX_FEATURES)]
    hidden: Annotated[list[Annotated[int, Field(ge=1, le=MAX_NEURONS)]], Field(max_length=MAX_LAYERS)]
    activations: Annotated[list[ActivationName], Field(max_length=MAX_LAYERS)]
    n_outputs: Annotated[int, Field(ge=1, le=MAX_CLASSES)]
    task: TaskName


class OptimizerState(Strict):
    """Each slot shaped like the parameters; `t` counts the updates of each entry."""

    velocity: ValuesPerLayer | None = None
    m: ValuesPerLayer | None = None
    v: ValuesPerLayer | None = None
    t: Annotated[list[LayerCounts], Field(max_length=MAX_LAYERS + 1)] | None = None
    s: ValuesPerLayer | None = None


class ModelOptimizer(Strict):
    name: OptimizerName
    state: OptimizerState | None = None


class ModelDocument(Strict):
    """A model file: `version`, `architecture`, `weights` and `biases` are needed; the rest may be left out.

    Shapes are checked against the architecture when it is imported; it must
    also fit the session's data (its inputs, outputs and task).
    """

    version: Version
    architecture: ModelArchitecture
    weights: Annotated[list[Rows], Field(max_length=MAX_LAYERS + 1)]
    biases: Annotated[list[Row], Field(max_length=MAX_LAYERS + 1)]
    optimizer: ModelOptimizer | None = None
    trainable: Annotated[list[LayerMask], Field(max_length=MAX_LAYERS + 1)] | None = None
    step: Annotated[int, Field(ge=0, le=MAX_COUNT)] = 0
    epoch: Annotated[int, Field(ge=0, le=MAX_COUNT)] = 0

    def to_model_dict(self) -> dict[str, Any]:
        """The fields given, as the engine reads them (`null` is the same as left out)."""
        return self.model_dump(exclude_unset=True, exclude_none=True)


# --------------------------------------------------------------------------
# Server to client (documented shapes; the session builds them as dicts for speed)


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


ErrorCode = Literal["bad_json", "too_large", "unknown_type", "invalid", "no_session", "not_diverged", "limit",
                    "forbidden", "no_room", "rate_limited"]


class ErrorMessage(BaseModel):
    """The one shape of every error."""

    type: Literal["error"] = "error"
    code: ErrorCode
    request: str | None = None
    field: str | None = None
    value: Any = None
    allowed: str | None = None
    message: str


SERVER_MESSAGES: dict[str, type[BaseModel]] = {
    "session": SessionMessage, "dataset": DatasetMessage, "history": HistoryMessage,
    "frame": FrameMessage, "error": ErrorMessage, "room": RoomMessage, "room_status": RoomStatus,
    "saved": Saved, "notice": Notice, "room_closed": RoomClosed,
}


# --------------------------------------------------------------------------
# Parsing and encoding


class ProtocolError(Exception):
    """A message that cannot be accepted; carries the error to send back."""

    def __init__(self, error: ErrorMessage) -> None:
        super().__init__(error.message)
        self.error = error


def _allowed(err: Any, model: type[BaseModel] | None = None) -> str | None:
    ctx = err.get("ctx") or {}
    kind = err["type"]
    if "allowed" in ctx:  # our own validators say it themselves
        return str(ctx["allowed"])
    if kind == "literal_error":
        return str(ctx.get("expected", "")).replace("'", "")
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        return None  # filled from the field's bounds below
    if kind in ("too_long", "too_short"):
        return f"{ctx.get('min_length', 0)} to {ctx.get('max_length', '')} items".replace("to  items", "or more items")
    if kind == "string_too_long":
        return f"at most {ctx.get('max_length')} characters"
    if kind == "string_too_short":
        return f"at least {ctx.get('min_length')} characters"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return "an integer"
    if kind in ("float_type", "float_parsing", "finite_number"):
        return "a finite number"
    if kind in ("bool_type", "bool_parsing"):
        return "true or false"
    if kind in ("string_type", "list_type", "dict_type", "model_type", "model_attributes_type"):
        return {"string_type": "a string", "list_type": "a list"}.get(kind, "an object")
    if kind == "extra_forbidden":
        if model is not None:
            return "fields: " + ", ".join(f for f in model.model_fields if f != "type")
        return "no such field"
    if kind == "missing":
        return "a value is required"
    return None


def _limits(obj: Any) -> tuple[Any, Any]:
    """(ge, le) found anywhere in a field's metadata, Optional and Annotated included."""
    lo = hi = None
    for meta in list(getattr(obj, "metadata", None) or []) + list(getattr(obj, "__metadata__", ()) or []):
        lo = getattr(meta, "ge", None) if getattr(meta, "ge", None) is not None else lo
        hi = getattr(meta, "le", None) if getattr(meta, "le", None) is not None else hi
        if hasattr(meta, "metadata"):
            inner = _limits(meta)
            lo, hi = inner[0] if inner[0] is not None else lo, inner[1] if inner[1] is not None else hi
    for arg in getattr(getattr(obj, "annotation", obj), "__args__", ()) or ():
        if arg is not type(None) and (lo is None or hi is None):
            inner = _limits(arg)
            lo, hi = inner[0] if lo is None else lo, inner[1] if hi is None else hi
    return lo, hi


def _bounds(model: type[BaseModel] | None, path: tuple[Any, ...]) -> str | None:
    """'lo to hi' from the Field metadata of `model.path[0]`, if it has both."""
    if model is None or not path or not isinstance(path[0], str):
        return None
    field = model.model_fields.get(path[0])
    if field is None:
        return None
    lo, hi = _limits(field)
    if lo is None or hi is None:
        return None
    return f"{lo:g} to {hi:g}"


def error_from_validation(exc: ValidationError, request: str | None, model: type[BaseModel] | None) -> ErrorMessage:
    """Turn pydantic's first complaint into the one error shape."""
    return error_from_details(exc.errors(include_url=False)[0], request, model)


def error_from_details(err: Any, request: str | None, model: type[BaseModel] | None) -> ErrorMessage:
    """One pydantic error dict (`type`, `loc`, `msg`, `input`, `ctx`) in the one error shape.

    Without a `model`, bounds are looked up among the configuration and
    hyperparameter fields (the HTTP API's bodies are made of them).
    """
    if err["type"] == "json_invalid":  # an HTTP body that is not JSON: its loc is ("body", character offset)
        offset = err["loc"][-1] if isinstance(err["loc"][-1], int) else None
        reason = (err.get("ctx") or {}).get("error") or err["msg"]
        return ErrorMessage(code="bad_json", request=request, allowed="one JSON object",
                            message=f"the body is not valid JSON: {reason}"
                                    + (f" at character {offset}" if offset is not None else ""))
    loc = tuple(p for p in err["loc"] if p not in (request, "body", "query", "path"))
    field = ".".join(str(p) for p in loc) or None
    allowed = (_allowed(err, model) or _bounds(model, loc) or _nested_bounds(model, loc)
               or _bounds(HyperPatch, loc[-1:]) or _bounds(ConfigPatch, loc[-1:]) or _one_bound(err))
    value = err.get("input")
    if isinstance(value, dict) and err["type"] == "missing":
        value = None
    if isinstance(value, float) and not math.isfinite(value):
        value = str(value)
    reason = _SAME_IN_BOTH_MODES.get(err["type"], err["msg"])
    if allowed and err["type"] in ("greater_than_equal", "less_than_equal"):
        reason = f"must be from {allowed}" if " to " in allowed else f"must be {allowed}"
    where = field or "message"
    message = f"{where}: {reason}" + (f" (got {value!r})" if value is not None and not isinstance(value, dict) else "")
    if allowed and allowed not in message:
        message += f"; allowed: {allowed}"
    try:
        if len(orjson.dumps(value)) > MAX_ECHO_BYTES:
            value = repr(value)[:MAX_ECHO_BYTES] + "..."  # say what was wrong, do not echo it all back
    except TypeError:
        value = repr(value)[:MAX_ECHO_BYTES]
    if len(message) > 2 * MAX_ECHO_BYTES:
        message = message[:2 * MAX_ECHO_BYTES] + "..."
    return ErrorMessage(code="invalid", request=request, field=field, value=value, allowed=allowed, message=message)


# Python-mode wordings that differ from JSON mode's (or name a class): said one way.
_SAME_IN_BOTH_MODES = {
    "model_type": "Input should be an object", "model_attributes_type": "Input should be an object",
    "dict_type": "Input should be an object", "list_type": "Input should be a valid list",
}


def _one_bound(err: Any) -> str | None:
    """'at most 5' or 'at least 1' from the error itself, when the field's bounds are not found."""
    ctx = err.get("ctx") or {}
    for key, words in (("le", "at most"), ("lt", "less than"), ("ge", "at least"), ("gt", "more than")):
        if key in ctx:
            return f"{words} {ctx[key]}"
    return None


def _nested_bounds(model: type[BaseModel] | None, loc: tuple[Any, ...]) -> str | None:
    """Bounds of a field inside `config` or `hyper` of a message."""
    if model is None or len(loc) < 2 or not isinstance(loc[0], str):
        return None
    nested: dict[str, type[BaseModel]] = {"config": ConfigPatch, "hyper": HyperPatch}
    inner = nested.get(loc[0])
    return _bounds(inner, loc[1:]) if inner else None


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


def encode(message: dict[str, Any]) -> bytes:
    """One outbound message as JSON bytes; numpy arrays become lists, NaN/Inf become null."""
    return orjson.dumps(message, option=orjson.OPT_SERIALIZE_NUMPY)
