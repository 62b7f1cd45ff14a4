"""A session's network built from its configuration: data, network spec, targets, initial weights.

Seed streams: data, initial weights, mini-batch order and dropout draw from
separate generators, so that, for example, turning dropout on does not
change the order of the mini-batches.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from app.nn.losses import TASKS, Task
from app.nn.network import NetworkSpec, count_params, init_params
from app.training.config import RunConfig
from app.training.data_setup import SPLITS, PreparedData, prepare

DATA_STREAM, INIT_STREAM, BATCH_STREAM, DROPOUT_STREAM = 0, 1, 2, 3

Params = list[dict[str, np.ndarray]]


@dataclass(frozen=True)
class Built:
    """The data, the network that fits it, the task and the targets per split (`[N x K]`)."""

    data: PreparedData
    spec: NetworkSpec
    task: Task
    Y: dict[str, np.ndarray]


def build(config: RunConfig) -> Built:
    """Data and network for `config`; ValueError when they do not fit."""
    data = prepare(config)
    task = TASKS[data.task]
    multiclass = data.task == "multiclass"
    spec = NetworkSpec(
        n_inputs=len(data.feature_names), hidden=tuple(config.hidden), activations=config.hidden_activations(),
        n_outputs=data.n_classes if multiclass else 1, task=data.task)
    spec.validate()
    Y = {s: task.targets(data.y[s], data.n_classes) if multiclass else task.targets(data.y[s]) for s in SPLITS}
    return Built(data, spec, task, Y)


def initial_weights(config: RunConfig, spec: NetworkSpec) -> Params:
    """The weights `config`'s init scheme and weights seed draw for `spec`."""
    return init_params(spec, config.init, np.random.default_rng([config.weights_seed(), INIT_STREAM]))


def architecture(spec: NetworkSpec) -> dict[str, Any]:
    """The network's shape and parameter counts, as the `session` message tells them."""
    sizes = spec.layer_sizes
    return {
        "n_inputs": spec.n_inputs, "hidden": list(spec.hidden), "activations": list(spec.activations),
        "n_outputs": spec.n_outputs, "task": spec.task,
        "param_counts": [int(n_in * n_out + n_out) for n_in, n_out in zip(sizes[:-1], sizes[1:])],
        "total_params": int(count_params(spec)),
    }


def check_fits(model: NetworkSpec, spec: NetworkSpec) -> None:
    """ValueError unless a network `model` has the inputs, outputs and task of `spec`."""
    if model.n_inputs != spec.n_inputs or model.n_outputs != spec.n_outputs:
        raise ValueError(
            f"the model has {model.n_inputs} inputs and {model.n_outputs} outputs; this session's "
            f"data needs {spec.n_inputs} inputs and {spec.n_outputs} outputs")
    if model.task != spec.task:
        raise ValueError(f"the model's task is {model.task!r}; this session's is {spec.task!r}")
