"""The vocabulary: every name a client may send, its label, and every range, once.

Each name list is one `Literal`, next to the code that gives the names a
meaning (the engine's in `app.nn`, the data's in `app.data`, the protocol's
own in `app.protocol.client`); the tuples here are derived from them. The
labels are what the page shows, in the order it shows them. The ranges of the
page's sliders read their bounds and defaults from the validation models, so
a bound is written once; so do the defaults a new page starts from, and which
sliders each optimizer shows comes from the engine's own table of what each
update reads. `document()` is what `GET /api/vocabulary` returns.
"""

from __future__ import annotations

import math
from typing import Any, Literal, get_args

from pydantic import BaseModel

from app.data.datasets import DATASETS as PLANE_GENERATORS
from app.data.datasets import UPLOADED_NAME_PATTERN, DatasetName
from app.data.features import FeatureName
from app.nn.activations import ActivationName
from app.nn.losses import TaskName
from app.nn.network import InitName
from app.nn.optimizers import HYPER_OF, OptimizerName
from app.nn.regularization import RegularizationName
from app.protocol.client import StepUnit
from app.protocol.config import Config, Hyper
from app.protocol.limits import LIMITS

DATASETS: tuple[str, ...] = get_args(DatasetName)
FEATURES: tuple[str, ...] = get_args(FeatureName)
ACTIVATIONS: tuple[str, ...] = get_args(ActivationName)
TASKS: tuple[str, ...] = get_args(TaskName)
INITS: tuple[str, ...] = get_args(InitName)
OPTIMIZERS: tuple[str, ...] = get_args(OptimizerName)
REGULARIZATIONS: tuple[str, ...] = get_args(RegularizationName)
STEP_UNITS: tuple[str, ...] = get_args(StepUnit)

# value -> label, in the order the page shows them.
DATASET_LABELS: dict[str, str] = {
    "circle": "Circle", "xor": "XOR", "gauss": "Gaussian", "spiral": "Spiral", "moons": "Moons",
    "spiral3": "3 spirals", "plane": "Plane", "multigauss": "Multi-Gauss", "mammals": "Mammal or fish",
}
UPLOADED_LABEL = "Your CSV"
FEATURE_LABELS: dict[str, str] = {
    "x1": "x₁", "x2": "x₂", "x1_sq": "x₁²", "x2_sq": "x₂²", "x1x2": "x₁x₂",
    "sin_x1": "sin(x₁)", "sin_x2": "sin(x₂)", "cos_x1": "cos(x₁)", "cos_x2": "cos(x₂)",
}
ACTIVATION_LABELS: dict[str, str] = {
    "tanh": "tanh", "relu": "ReLU", "leaky_relu": "Leaky ReLU", "sigmoid": "sigmoid", "linear": "linear",
}
TASK_LABELS: dict[str, str] = {
    "playground": "Playground (tanh)", "binary": "Binary (sigmoid)", "multiclass": "Classes (softmax)",
    "regression": "Regression", "hinge": "Hinge (SVM)",
}
INIT_LABELS: dict[str, str] = {"uniform": "uniform ±0.5", "glorot": "Glorot", "he": "He", "zeros": "zeros"}
OPTIMIZER_LABELS: dict[str, str] = {
    "sgd": "SGD", "momentum": "Momentum", "nesterov": "Nesterov", "adam": "Adam", "rmsprop": "RMSprop",
}
REGULARIZATION_LABELS: dict[str, str] = {"none": "none", "l1": "L1", "l2": "L2"}
STEP_UNIT_LABELS: dict[str, str] = {"update": "update", "epoch": "epoch", "phase": "phase"}

# The regularization rates offered in the page's menu (each within Hyper.reg_rate's bounds).
REGULARIZATION_RATES: tuple[float, ...] = (0, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3, 10)
# The speed slider's stops in updates per second; None: as fast as the CPU share allows.
SPEEDS: tuple[float | None, ...] = (1, 2, 5, 10, 20, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 100000, None)
DEFAULT_SPEED = 250  # a new session's updates per second

# The datasets drawn on the plane (x1, x2), the ones the feature transforms apply to; the
# others (the tabular "mammals", an uploaded CSV) bring features of their own.
PLANE_DATASETS: tuple[str, ...] = tuple(name for name in DATASETS if name in PLANE_GENERATORS)

# The hyperparameters a client sets that each optimizer's update reads (eps is the engine's own).
OPTIMIZER_HYPER: dict[str, tuple[str, ...]] = {
    name: tuple(field for field in fields if field in Hyper.model_fields) for name, fields in HYPER_OF.items()
}

# The Literal behind each menu of names, with its labels.
NAMED_CHOICES: dict[str, tuple[tuple[str, ...], dict[str, str]]] = {
    "dataset": (DATASETS, DATASET_LABELS),
    "features": (FEATURES, FEATURE_LABELS),
    "activation": (ACTIVATIONS, ACTIVATION_LABELS),
    "task": (TASKS, TASK_LABELS),
    "init": (INITS, INIT_LABELS),
    "optimizer": (OPTIMIZERS, OPTIMIZER_LABELS),
    "regularization": (REGULARIZATIONS, REGULARIZATION_LABELS),
    "step_unit": (STEP_UNITS, STEP_UNIT_LABELS),
}

Scale = Literal["linear", "log10", "index"]


def bounds(model: type[BaseModel], name: str) -> tuple[float, float]:
    """(ge, le) of a numeric field of `model`: the bounds its validation enforces."""
    lo = hi = None
    for meta in model.model_fields[name].metadata:
        lo = getattr(meta, "ge", lo)
        hi = getattr(meta, "le", hi)
    if lo is None or hi is None:
        raise ValueError(f"{model.__name__}.{name} has no bounds")
    return lo, hi


def field_range(model: type[BaseModel], name: str, step: float, scale: Scale = "linear",
                lo: float | None = None, hi: float | None = None) -> dict[str, Any]:
    """The slider of field `name`: its validation bounds (or narrower ones, `lo`/`hi`, that the
    page offers), its step and its default. With scale "log10" every number is the log10 of a value."""
    valid_lo, valid_hi = bounds(model, name)
    lo = valid_lo if lo is None else lo
    hi = valid_hi if hi is None else hi
    if not valid_lo <= lo <= hi <= valid_hi:
        raise ValueError(f"the slider of {name} ({lo} to {hi}) reaches outside its bounds ({valid_lo} to {valid_hi})")
    default = model.model_fields[name].default
    if scale == "log10":
        return {"min": round(math.log10(lo), 6), "max": round(math.log10(hi), 6), "step": step, "scale": scale,
                "default": round(math.log10(default), 2)}
    return {"min": lo, "max": hi, "step": step, "scale": scale, "default": default}


def _choices() -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for field, (values, labels) in NAMED_CHOICES.items():
        if set(labels) != set(values):
            raise ValueError(f"the labels of {field} name {sorted(labels)}, its values are {sorted(values)}")
        out[field] = [{"value": v, "label": label} for v, label in labels.items()]
    out["regularization_rate"] = [{"value": r, "label": f"{r:g}"} for r in REGULARIZATION_RATES]
    out["speed"] = [{"value": s, "label": "as fast as possible" if s is None else f"{s:,} updates/s"}
                    for s in SPEEDS]
    return out


def _ranges() -> dict[str, dict[str, Any]]:
    return {
        "lr": field_range(Hyper, "lr", 0.01, "log10"),
        "momentum": field_range(Hyper, "momentum", 0.001),
        "beta1": field_range(Hyper, "beta1", 0.001),
        "beta2": field_range(Hyper, "beta2", 0.0001, lo=0.9),  # below 0.9 Adam's v forgets too fast to teach with
        "rho": field_range(Hyper, "rho", 0.0001),
        "batch_size": field_range(Hyper, "batch_size", 1, hi=100),  # larger batches are typed in a link
        "dropout": field_range(Hyper, "dropout", 0.05),
        "train_ratio": field_range(Config, "train_ratio", 10),
        "val_ratio": field_range(Config, "val_ratio", 10),
        "noise": field_range(Config, "noise", 5),
        "n_points": field_range(Config, "n_points", 10),
        "seed": field_range(Config, "seed", 1),
        "speed": {"min": 0, "max": len(SPEEDS) - 1, "step": 1, "scale": "index",
                  "default": SPEEDS.index(DEFAULT_SPEED)},
    }


def _bounds() -> dict[str, dict[str, float]]:
    """What the server accepts for every numeric field of a configuration or hyperparameters."""
    out: dict[str, dict[str, float]] = {}
    for model in (Config, Hyper):
        for name, info in model.model_fields.items():
            if info.annotation in (int, float):
                lo, hi = bounds(model, name)
                out[name] = {"min": lo, "max": hi}
    return out


def _defaults() -> dict[str, dict[str, Any]]:
    """The configuration and hyperparameters of a session made without any: the models' defaults."""
    return {"config": Config().model_dump(mode="json"), "hyper": Hyper().model_dump(mode="json")}


_DOCUMENT: dict[str, Any] = {
    "choices": _choices(),
    "ranges": _ranges(),
    "bounds": _bounds(),
    "defaults": _defaults(),
    "optimizer_hyper": {name: list(fields) for name, fields in OPTIMIZER_HYPER.items()},
    "plane_datasets": list(PLANE_DATASETS),
    "uploaded_dataset": {"pattern": UPLOADED_NAME_PATTERN, "label": UPLOADED_LABEL},
    "limits": dict(LIMITS),
}


def document() -> dict[str, Any]:
    """What `GET /api/vocabulary` returns: choices, ranges, bounds, defaults, the hyperparameters of
    each optimizer, the datasets on the plane and the limits (built once, at import)."""
    return _DOCUMENT
