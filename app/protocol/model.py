"""The model document: a model as exported by GET and imported by PUT /api/sessions/{id}/model."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from app.nn.activations import ActivationName
from app.nn.losses import TaskName
from app.nn.optimizers import OptimizerName
from app.nn.quantization import Granularity
from app.protocol.base import Finite, Strict, Version
from app.protocol.limits import MAX_CLASSES, MAX_COUNT, MAX_FEATURES, MAX_LAYERS, MAX_NEURONS

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


class ModelQuantization(Strict):
    """How the session quantizes (`quantize`); aware needs bits 1 to 8 (checked on import)."""

    bits: Annotated[int, Field(ge=0, le=8)] = 0
    granularity: Granularity = "tensor"
    aware: bool = False


class ModelTask(Strict):
    """One task of the session's sequence, as the `session` message lists it: read only (an import
    starts a new sequence with the imported model as its first task)."""

    index: Annotated[int, Field(ge=0, le=MAX_COUNT)]
    dataset: Annotated[str, Field(max_length=64)]
    rotate: Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False)]
    shift: Annotated[list[Finite], Field(min_length=2, max_length=2)]
    n_classes: Annotated[int, Field(ge=0, le=MAX_CLASSES)]
    start: Literal["new", "current", "scratch"]
    kept: Annotated[list[Annotated[int, Field(ge=0, le=MAX_LAYERS)]], Field(max_length=MAX_LAYERS + 1)]
    reinitialized: Annotated[list[Annotated[int, Field(ge=0, le=MAX_LAYERS)]], Field(max_length=MAX_LAYERS + 1)]
    note: Annotated[str, Field(max_length=400)]
    trained_steps: Annotated[int, Field(ge=0, le=MAX_COUNT)] | None = None


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
    quantization: ModelQuantization | None = None  # the session's setting, taken back on import
    tasks: Annotated[list[ModelTask], Field(max_length=1000)] | None = None  # the tasks trained: read only

    def to_model_dict(self) -> dict[str, Any]:
        """The fields given, as the engine reads them (`null` is the same as left out)."""
        return self.model_dump(exclude_unset=True, exclude_none=True)

