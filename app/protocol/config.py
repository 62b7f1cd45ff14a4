"""The configuration and hyperparameter models, and their partial forms.

`Config` and `Hyper` are written once; `ConfigPatch` and `HyperPatch` (only
the fields given change) are generated from them: every field optional, with
the same constraints.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, get_args

from pydantic import AfterValidator, Field, create_model, model_validator
from pydantic_core import PydanticCustomError

from app.data.datasets import UPLOADED_NAME_PATTERN, DatasetName, is_uploaded
from app.data.features import FeatureName
from app.data.transforms import MAX_ROTATE, MAX_SHIFT
from app.nn.activations import ActivationName
from app.nn.losses import TaskName
from app.nn.network import InitName
from app.nn.optimizers import OptimizerName
from app.nn.regularization import RegularizationName
from app.protocol.base import Strict
from app.protocol.limits import (
    MAX_DROPOUT_RATE,
    MAX_FEATURES,
    MAX_LAYERS,
    MAX_NEURONS,
    MAX_NOISE,
    MAX_POINTS,
    MAX_SEED,
    MAX_TRAIN_PERCENT,
    MIN_POINTS,
    MIN_TRAIN_PERCENT,
)

BUILTIN_DATASETS: tuple[str, ...] = get_args(DatasetName)
DATASETS_ALLOWED = ", ".join(BUILTIN_DATASETS) + " or an uploaded CSV's name (csv- and 12 hex digits, from POST /api/datasets)"


def _dataset_name(value: str) -> str:
    if value in BUILTIN_DATASETS or is_uploaded(value):
        return value
    raise PydanticCustomError("dataset_name", "unknown dataset", {"allowed": DATASETS_ALLOWED})


def _unique_features(value: list[str]) -> list[str]:
    if len(set(value)) != len(value):
        raise PydanticCustomError("unique_features", "features must not repeat",
                                  {"allowed": "each feature at most once"})
    return value


def _unique_columns(value: list[str]) -> list[str]:
    if len(set(value)) != len(value):
        raise PydanticCustomError("unique_columns", "columns must not repeat",
                                  {"allowed": "each column at most once"})
    return value


# A built-in dataset or an uploaded one: a string checked by hand, so the error can say both.
AnyDatasetName = Annotated[str, AfterValidator(_dataset_name),
                           Field(json_schema_extra={"examples": ["circle", "csv-0123456789ab"],
                                                    "pattern": f"^({'|'.join(BUILTIN_DATASETS)})$|"
                                                               + UPLOADED_NAME_PATTERN})]
Seed = Annotated[int, Field(ge=0, le=MAX_SEED)]
HiddenSizes = Annotated[list[Annotated[int, Field(ge=1, le=MAX_NEURONS)]], Field(max_length=MAX_LAYERS)]
LayerActivations = Annotated[list[ActivationName], Field(max_length=MAX_LAYERS)]
# A task moved in the plane (`app.data.transforms`): dx and dy, each within the bound.
Shift = Annotated[list[Annotated[float, Field(ge=-MAX_SHIFT, le=MAX_SHIFT, allow_inf_nan=False)]],
                  Field(min_length=2, max_length=2)]
# Tabular inputs by column name; the names are checked against the data's columns when it is built.
Columns = Annotated[list[Annotated[str, Field(min_length=1, max_length=100)]],
                    Field(min_length=1, max_length=MAX_FEATURES), AfterValidator(_unique_columns)]


class Config(Strict):
    """What the network and its data are made of; a change rebuilds the network."""

    dataset: AnyDatasetName = "circle"
    noise: Annotated[float, Field(ge=0, le=MAX_NOISE, allow_inf_nan=False)] = 0
    train_ratio: Annotated[float, Field(ge=MIN_TRAIN_PERCENT, le=MAX_TRAIN_PERCENT, allow_inf_nan=False)] = 50
    val_ratio: Annotated[float, Field(ge=0, le=40, allow_inf_nan=False)] = 0
    n_points: Annotated[int, Field(ge=MIN_POINTS, le=MAX_POINTS)] = 500
    features: Annotated[list[FeatureName], Field(min_length=1, max_length=MAX_FEATURES),
                        AfterValidator(_unique_features)] = Field(default=["x1", "x2"])
    hidden: HiddenSizes = Field(default=[4, 2])
    activation: ActivationName = "tanh"
    activations: LayerActivations | None = None
    task: TaskName | None = None
    init: InitName = "uniform"
    seed: Seed = 1
    init_seed: Seed | None = None
    rotate: Annotated[float, Field(ge=-MAX_ROTATE, le=MAX_ROTATE, allow_inf_nan=False)] = 0
    shift: Shift = Field(default=[0, 0])
    columns: Columns | None = None


class Hyper(Strict):
    """Hyperparameters: set by you, changed live without touching the weights."""

    lr: Annotated[float, Field(ge=1e-5, le=10, allow_inf_nan=False)] = 0.03
    momentum: Annotated[float, Field(ge=0, le=0.999, allow_inf_nan=False)] = 0.9
    batch_size: Annotated[int, Field(ge=1, le=MAX_POINTS)] = 10
    optimizer: OptimizerName = "momentum"
    regularization: RegularizationName = "none"
    reg_rate: Annotated[float, Field(ge=0, le=10, allow_inf_nan=False)] = 0.0
    dropout: Annotated[float, Field(ge=0, le=MAX_DROPOUT_RATE, allow_inf_nan=False)] = 0.0
    beta1: Annotated[float, Field(ge=0, le=0.999, allow_inf_nan=False)] = 0.9
    beta2: Annotated[float, Field(ge=0, le=0.9999, allow_inf_nan=False)] = 0.999
    rho: Annotated[float, Field(ge=0, le=0.9999, allow_inf_nan=False)] = 0.99


# Configuration fields in which `null` is a value of its own (the default) rather than "unchanged".
NULL_MEANS_DEFAULT = ("task", "activations", "init_seed", "columns")


class _ConfigPatchRules(Strict):
    @model_validator(mode="before")
    @classmethod
    def _null_leaves_a_field_as_it_is(cls, data: Any) -> Any:
        """`null` changes nothing (as in `HyperPatch`), except in the fields where it means the default."""
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if v is not None or k in NULL_MEANS_DEFAULT}
        return data


def optional_fields(model: type[Strict]) -> dict[str, Any]:
    """`model`'s fields for `create_model`, each optional (default None) with the same constraints."""
    fields: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        kind: Any = Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation
        fields[name] = (kind | None, Field(default=None, json_schema_extra=info.json_schema_extra))
    return fields


if TYPE_CHECKING:  # the type checker sees the classes; their fields are made below
    class ConfigPatch(_ConfigPatchRules):
        """A partial `Config`: only the fields given change."""

    class HyperPatch(Strict):
        """A partial `Hyper`: only the fields given change."""
else:
    ConfigPatch = create_model("ConfigPatch", __base__=_ConfigPatchRules, __module__=__name__,
                               __doc__="A partial `Config`: only the fields given change.", **optional_fields(Config))
    HyperPatch = create_model("HyperPatch", __base__=Strict, __module__=__name__,
                              __doc__="A partial `Hyper`: only the fields given change.", **optional_fields(Hyper))
