"""The wire protocol: every message both ways, the vocabulary, and the one error shape.

This package is the one place where the wire format lives. `docs/protocol.md`
documents every message defined here with an example; a test checks the
examples, and real messages, against these models.

- `vocabulary`: every name list (as `Literal`s defined beside the engine and
  the data) with its labels, the page's ranges; `GET /api/vocabulary`.
- `limits`: every limit, once.
- `config`: the configuration and hyperparameter models, and their patches.
- `client`: client-to-server messages, validated strictly.
- `server`: the shapes of server-to-client messages.
- `model`: the model document (import and export).
- `errors`: the one error shape.
- `encoding`: outbound messages as bytes.

`from app import protocol as p` gives every name below.
"""

from app.data.datasets import DatasetName
from app.data.features import FeatureName
from app.nn.activations import ActivationName
from app.nn.losses import TaskName
from app.nn.network import InitName
from app.nn.optimizers import OptimizerName
from app.nn.regularization import RegularizationName
from app.protocol.base import PROTOCOL_VERSION, Finite, Strict, Version
from app.protocol.client import (
    CLIENT_MESSAGES,
    CONTROL_MESSAGES,
    Ack,
    Configure,
    Follow,
    Fork,
    Freeze,
    Hello,
    Pause,
    Play,
    Reset,
    Rollback,
    RoomClose,
    RoomCreate,
    RoomJoin,
    RoomNewCode,
    RoomPush,
    Save,
    SetFps,
    SetHyper,
    SetParam,
    SetSpeed,
    Step,
    StepUnit,
    Trace,
    parse_client_message,
)
from app.protocol.config import (
    BUILTIN_DATASETS,
    DATASETS_ALLOWED,
    NULL_MEANS_DEFAULT,
    Config,
    ConfigPatch,
    Hyper,
    HyperPatch,
)
from app.protocol.encoding import encode
from app.protocol.errors import ErrorCode, ErrorMessage, ProtocolError, error_from_details, error_from_validation
from app.protocol.limits import (
    LIMITS,
    MAX_CLASSES,
    MAX_COUNT,
    MAX_ECHO_BYTES,
    MAX_FEATURES,
    MAX_LAYERS,
    MAX_MESSAGE_BYTES,
    MAX_NEURONS,
    MAX_POINTS,
    MAX_STEP_SAMPLES,
    MAX_STEP_UPDATES,
    MIN_POINTS,
    Limits,
)
from app.protocol.model import (
    LayerCounts,
    LayerMask,
    LayerValues,
    ModelArchitecture,
    ModelDocument,
    ModelOptimizer,
    OptimizerState,
)
from app.protocol.server import (
    SERVER_MESSAGES,
    Architecture,
    DatasetMessage,
    FrameBody,
    FrameHead,
    FrameMessage,
    GalleryEntry,
    History,
    HistoryMessage,
    LayerState,
    Notice,
    RoomClosed,
    RoomMessage,
    RoomStatus,
    Saved,
    SessionMessage,
    Split,
    TraceState,
    check_server_message,
)
from app.protocol.vocabulary import (
    ACTIVATIONS,
    DATASETS,
    FEATURES,
    INITS,
    OPTIMIZERS,
    REGULARIZATIONS,
    TASKS,
)

__all__ = [
    "ACTIVATIONS",
    "BUILTIN_DATASETS",
    "CLIENT_MESSAGES",
    "CONTROL_MESSAGES",
    "DATASETS",
    "DATASETS_ALLOWED",
    "FEATURES",
    "INITS",
    "LIMITS",
    "MAX_CLASSES",
    "MAX_COUNT",
    "MAX_ECHO_BYTES",
    "MAX_FEATURES",
    "MAX_LAYERS",
    "MAX_MESSAGE_BYTES",
    "MAX_NEURONS",
    "MAX_POINTS",
    "MAX_STEP_SAMPLES",
    "MAX_STEP_UPDATES",
    "MIN_POINTS",
    "NULL_MEANS_DEFAULT",
    "OPTIMIZERS",
    "PROTOCOL_VERSION",
    "REGULARIZATIONS",
    "SERVER_MESSAGES",
    "TASKS",
    "Ack",
    "ActivationName",
    "Architecture",
    "Config",
    "ConfigPatch",
    "Configure",
    "DatasetMessage",
    "DatasetName",
    "ErrorCode",
    "ErrorMessage",
    "FeatureName",
    "Finite",
    "Follow",
    "Fork",
    "FrameBody",
    "FrameHead",
    "FrameMessage",
    "Freeze",
    "GalleryEntry",
    "Hello",
    "History",
    "HistoryMessage",
    "Hyper",
    "HyperPatch",
    "InitName",
    "LayerCounts",
    "LayerMask",
    "LayerState",
    "LayerValues",
    "Limits",
    "ModelArchitecture",
    "ModelDocument",
    "ModelOptimizer",
    "Notice",
    "OptimizerName",
    "OptimizerState",
    "Pause",
    "Play",
    "ProtocolError",
    "RegularizationName",
    "Reset",
    "Rollback",
    "RoomClose",
    "RoomClosed",
    "RoomCreate",
    "RoomJoin",
    "RoomMessage",
    "RoomNewCode",
    "RoomPush",
    "RoomStatus",
    "Save",
    "Saved",
    "SessionMessage",
    "SetFps",
    "SetHyper",
    "SetParam",
    "SetSpeed",
    "Split",
    "Step",
    "StepUnit",
    "Strict",
    "TaskName",
    "Trace",
    "TraceState",
    "Version",
    "check_server_message",
    "encode",
    "error_from_details",
    "error_from_validation",
    "parse_client_message",
]
