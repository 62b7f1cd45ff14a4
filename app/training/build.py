"""A session's network built from its configuration: data, network spec, targets,
initial weights, and the generators of its mini-batch order and dropout masks;
a configuration changed, and new weights drawn.

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
from app.training.batch_queue import BatchQueue
from app.training.config import RunConfig
from app.training.data_setup import SPLITS, PreparedData, prepare
from app.training.errors import SessionError

DATA_STREAM, INIT_STREAM, BATCH_STREAM, DROPOUT_STREAM = 0, 1, 2, 3

Params = list[dict[str, np.ndarray]]


@dataclass(frozen=True)
class Built:
    """The data, the network that fits it, the task, the targets per split (`[N x K]`)
    and the initial weights."""

    data: PreparedData
    spec: NetworkSpec
    task: Task
    Y: dict[str, np.ndarray]
    params: Params


def build(config: RunConfig) -> Built:
    """Data, network and initial weights for `config`; ValueError when they do not fit."""
    data = prepare(config)
    task = TASKS[data.task]
    multiclass = data.task == "multiclass"
    spec = NetworkSpec(
        n_inputs=len(data.feature_names), hidden=tuple(config.hidden), activations=config.hidden_activations(),
        n_outputs=data.n_classes if multiclass else 1, task=data.task)
    spec.validate()
    Y = {s: task.targets(data.y[s], data.n_classes) if multiclass else task.targets(data.y[s]) for s in SPLITS}
    return Built(data, spec, task, Y, initial_weights(config, spec))


def initial_weights(config: RunConfig, spec: NetworkSpec) -> Params:
    """The weights `config`'s init scheme and weights seed draw for `spec`."""
    return init_params(spec, config.init, np.random.default_rng([config.weights_seed(), INIT_STREAM]))


def reconfigure(config: RunConfig, changes: dict[str, Any]) -> tuple[RunConfig, Built]:
    """`config` with a client's `changes` (see `RunConfig.with_patch`) and what it builds;
    SessionError when they do not fit."""
    config = config.with_patch(changes)
    try:
        return config, build(config)
    except ValueError as exc:
        raise SessionError(str(exc)) from None


def new_weights(config: RunConfig, spec: NetworkSpec) -> tuple[RunConfig, Params]:
    """"New weights": `config` with the next weights seed, and the weights it draws."""
    config = config.with_changes({"init_seed": config.weights_seed() + 1})
    return config, initial_weights(config, spec)


def batch_queue(config: RunConfig, n_train: int) -> BatchQueue:
    """An empty batch queue over `n_train` points, its epochs drawn from `config`'s batch stream."""
    return BatchQueue(np.random.default_rng([config.seed, BATCH_STREAM]), n_train)


def dropout_rng(config: RunConfig) -> np.random.Generator:
    """The generator of `config`'s dropout masks."""
    return np.random.default_rng([config.seed, DROPOUT_STREAM])


def architecture(spec: NetworkSpec) -> dict[str, Any]:
    """The network's shape and parameter counts, as the `session` message tells them."""
    sizes = spec.layer_sizes
    return {
        "n_inputs": spec.n_inputs, "hidden": list(spec.hidden), "activations": list(spec.activations),
        "n_outputs": spec.n_outputs, "task": spec.task,
        "param_counts": [int(n_in * n_out + n_out) for n_in, n_out in zip(sizes[:-1], sizes[1:])],
        "total_params": int(count_params(spec)),
    }
