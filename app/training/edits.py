"""A user's edits: change a hyperparameter live, set one weight or bias, freeze
or unfreeze a layer, a neuron, a weight or a bias. Values and indices are
checked here, with the range that would have been accepted."""

from __future__ import annotations

from typing import Any

import numpy as np

from app.nn import freezing
from app.nn.model import Model
from app.training.batch_queue import BatchQueue
from app.training.config import HyperState
from app.training.errors import SessionError, out_of_range

Params = list[dict[str, np.ndarray]]


def set_hyper(hyper: HyperState, model: Model, queue: BatchQueue, field: str, new: Any) -> Any:
    """Set hyperparameter `field` of `hyper` to `new` and make it take effect: a batch size
    rechunks the rest of the epoch in `queue`, an optimizer starts `model`'s from rest (no
    velocity or moments carried over). Returns the old value. SessionError for a batch
    larger than the training split."""
    old = getattr(hyper, field)
    check_hyper(queue, field, new)
    setattr(hyper, field, new)
    if field == "batch_size":
        queue.rechunk(new)
    if field == "optimizer":
        model.optimizer = new
        model.reset_optimizer()
    return old


def check_hyper(queue: BatchQueue, field: str, new: Any) -> None:
    """SessionError if `new` cannot be set now: a batch larger than the training split."""
    n = queue.n_train
    if field == "batch_size" and new > n:
        raise SessionError(f"batch_size must be between 1 and the {n} training points (got {new})",
                           field="batch_size", value=new, allowed=f"1 to {n}")


def _layer(params: Params, layer: int) -> dict[str, np.ndarray]:
    n = len(params)
    if not 0 <= layer < n:
        raise out_of_range("layer", layer, n)
    return params[layer]


def _check(name: str, value: int, size: int) -> None:
    if not 0 <= value < size:
        raise out_of_range(name, value, size, where=" for this layer")


def param_name(layer: int, kind: str, i: int, j: int) -> str:
    """How the change log names a weight (`W[layer][i,j]`) or a bias (`b[layer][j]`)."""
    return f"W[{layer}][{i},{j}]" if kind == "W" else f"b[{layer}][{j}]"


def set_param(params: Params, layer: int, kind: str, i: int, j: int, value: float) -> float:
    """Set weight `W[i, j]` (`kind` "W") or bias `b[j]` of `layer` in place; returns the old value."""
    p = _layer(params, layer)
    _check("j", j, p["b"].shape[0])
    if kind == "W":
        _check("i", i, p["W"].shape[0])
        old = float(p["W"][i, j])
        p["W"][i, j] = value
    else:
        old = float(p["b"][j])
        p["b"][j] = value
    return old


def freeze(params: Params, masks: Params, layer: int, target: str, i: int, j: int, frozen: bool) -> None:
    """Freeze (or unfreeze) `target` of `layer`: the whole "layer", "neuron" j, "weight"
    (i, j) or "bias" j. Mutates the trainable `masks`."""
    p = _layer(params, layer)
    if target == "layer":
        freezing.set_layer(masks, layer, not frozen)
    elif target == "neuron":
        _check("j", j, p["b"].shape[0])
        freezing.set_neuron(masks, layer, j, not frozen)
    elif target == "weight":
        _check("i", i, p["W"].shape[0])
        _check("j", j, p["b"].shape[0])
        freezing.set_weight(masks, layer, i, j, not frozen)
    elif target == "bias":
        _check("j", j, p["b"].shape[0])
        freezing.set_bias(masks, layer, j, not frozen)
    else:
        raise SessionError(f"unknown freeze target {target!r}", field="target", value=target,
                           allowed="layer, neuron, weight, bias")
