"""A model document (the documented JSON of architecture, weights, biases, optimizer
state, counters and frozen masks, as `Model.to_dict` writes it) taken into a
session: checked against the session's data before it replaces its model."""

from __future__ import annotations

from typing import Any

from app.nn.model import Model
from app.nn.network import NetworkSpec
from app.nn.quantization import Setting
from app.training.config import RunConfig


def import_model(data: Any, config: RunConfig, spec: NetworkSpec) -> tuple[Model, RunConfig]:
    """The model in `data` and `config` with its hidden layers and activations;
    ValueError unless it is a valid model with the inputs, outputs and task of `spec`."""
    if isinstance(data, dict) and "quantization" in data:  # the session's, not the engine's (`quantization_of`)
        data = {k: v for k, v in data.items() if k != "quantization"}
    if isinstance(data, dict) and "tasks" in data:  # the session's record of its tasks: read only, taken as nothing
        data = {k: v for k, v in data.items() if k != "tasks"}
    model = Model.from_dict(data)
    check_fits(model.spec, spec)
    return model, config.with_changes({"hidden": list(model.spec.hidden),
                                       "activations": list(model.spec.activations)})


def quantization_of(data: Any) -> Setting:
    """The quantization setting of a model document (`quantization`: bits, granularity, aware; off
    when absent or null); ValueError when it is not a valid one."""
    value = data.get("quantization") if isinstance(data, dict) else None
    if value is None:
        return Setting()
    if not isinstance(value, dict) or not set(value) <= {"bits", "granularity", "aware"}:
        raise ValueError("quantization must be an object with bits, granularity and aware")
    try:
        return Setting(**value)
    except ValueError as exc:
        raise ValueError(f"quantization: {exc}") from None


def check_fits(model: NetworkSpec, spec: NetworkSpec) -> None:
    """ValueError unless a network `model` has the inputs, outputs and task of `spec`."""
    if model.n_inputs != spec.n_inputs or model.n_outputs != spec.n_outputs:
        raise ValueError(
            f"the model has {model.n_inputs} inputs and {model.n_outputs} outputs; this session's "
            f"data needs {spec.n_inputs} inputs and {spec.n_outputs} outputs")
    if model.task != spec.task:
        raise ValueError(f"the model's task is {model.task!r}; this session's is {spec.task!r}")
