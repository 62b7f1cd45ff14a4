"""A user's edits of the parameters: set one weight or bias, freeze or unfreeze
a layer, a neuron, a weight or a bias. Indices are checked here, with the
range that would have been accepted."""

from __future__ import annotations

import numpy as np

from app.nn import freezing
from app.training.errors import SessionError, out_of_range

Params = list[dict[str, np.ndarray]]


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
