"""Trainable masks: which parameters the optimizer may change.

Masks have the structure of the parameters (``[{"W": bool [n_in x n_out],
"b": bool [n_out]}, ...]``); ``True`` means trainable. A frozen entry keeps its
exact value and its optimizer state is not advanced (see
``optimizers.update``). The helpers mutate the masks in place.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from app.nn.network import Params

Masks = list[dict[str, NDArray[np.bool_]]]


def trainable_masks(params: Params) -> Masks:
    """All-True masks shaped like ``params``."""
    return [{k: np.ones(v.shape, dtype=bool) for k, v in layer.items()} for layer in params]


def _layer(masks: Masks, layer: int) -> dict[str, NDArray[np.bool_]]:
    if not 0 <= layer < len(masks):
        raise ValueError(f"layer must be from 0 to {len(masks) - 1}, got {layer}")
    return masks[layer]


def set_layer(masks: Masks, layer: int, trainable: bool) -> None:
    """Freeze (``False``) or unfreeze every weight and bias of ``layer``."""
    m = _layer(masks, layer)
    m["W"][...] = trainable
    m["b"][...] = trainable


def set_neuron(masks: Masks, layer: int, neuron: int, trainable: bool) -> None:
    """Freeze or unfreeze one neuron: its incoming weights ``W[:, neuron]`` and bias."""
    m = _layer(masks, layer)
    n_out = m["b"].shape[0]
    if not 0 <= neuron < n_out:
        raise ValueError(f"neuron must be from 0 to {n_out - 1} in layer {layer}, got {neuron}")
    m["W"][:, neuron] = trainable
    m["b"][neuron] = trainable


def set_weight(masks: Masks, layer: int, i: int, j: int, trainable: bool) -> None:
    """Freeze or unfreeze the single weight ``W[i, j]`` of ``layer``."""
    m = _layer(masks, layer)
    n_in, n_out = m["W"].shape
    if not (0 <= i < n_in and 0 <= j < n_out):
        raise ValueError(f"weight index ({i}, {j}) is outside layer {layer}'s {n_in}x{n_out}")
    m["W"][i, j] = trainable


def set_bias(masks: Masks, layer: int, j: int, trainable: bool) -> None:
    """Freeze or unfreeze the single bias ``b[j]`` of ``layer``."""
    m = _layer(masks, layer)
    n_out = m["b"].shape[0]
    if not 0 <= j < n_out:
        raise ValueError(f"bias index must be from 0 to {n_out - 1} in layer {layer}, got {j}")
    m["b"][j] = trainable


def n_frozen(masks: Masks) -> int:
    """How many scalars are frozen."""
    return sum(int((~m).sum()) for layer in masks for m in layer.values())
