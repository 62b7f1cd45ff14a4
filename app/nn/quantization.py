"""Post-training uniform symmetric quantization of the weights.

``b >= 2`` bits: integer codes ``q`` in ``-(2^(b-1)-1) .. 2^(b-1)-1`` (one
level is left unused so the grid is symmetric around 0), ``scale = max|w| /
(2^(b-1)-1)``, ``q = clip(rint(w / scale))`` (round half to even) and the
dequantized weight is ``q * scale``; the error is at most ``scale / 2``.

``b = 1``: ``q = sign(w)`` in ``{-1, +1}`` (``sign(0) = +1``: one bit has no
room for a zero) and ``scale = mean|w|``, the scale that minimises the squared
error of ``w ~ scale * sign(w)`` (as in binary-weight networks).

Granularity ``tensor``: one scale per weight matrix; ``neuron``: one scale
per output neuron, i.e. per column of ``W`` (its incoming weights), which
fits neurons whose weights have very different magnitudes.

Size model: before, every weight and bias is float32 (4 bytes). After, the
codes of each matrix are packed bit by bit (``ceil(n_weights * b / 8)``
bytes per matrix), plus 4 bytes (float32) per scale; biases stay float32 (4
bytes each) because they are few, and a bias error shifts a neuron's
threshold directly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from app.nn.network import Array, NetworkSpec, Params, predict

GRANULARITIES = ("tensor", "neuron")
MAX_BITS = 8


@dataclass
class Quantized:
    """Result of ``quantize``.

    ``params``: the dequantized weights (float64, ``codes * scales``) and
    unchanged copies of the biases; ``codes[l]`` int8 ``[n_in x n_out]``;
    ``scales[l]``: ``[1]`` (tensor) or ``[n_out]`` (neuron); sizes in bytes.
    """

    params: Params
    codes: list[NDArray[np.int8]]
    scales: list[Array]
    bits: int
    granularity: str
    bytes_before: int
    bytes_after: int


def _quantize_matrix(W: Array, bits: int, per_neuron: bool) -> tuple[NDArray[np.int8], Array]:
    axis = 0 if per_neuron else None
    absw = np.abs(W)
    if bits == 1:
        scale = np.atleast_1d(absw.mean(axis=axis))
        codes = np.where(W >= 0, 1, -1).astype(np.int8)
        return codes, scale
    levels = 2 ** (bits - 1) - 1
    scale = np.atleast_1d(absw.max(axis=axis) / levels)
    # An all-zero group has scale 0: divide by 1 instead so its codes are 0.
    safe = np.where(scale > 0, scale, 1.0)
    codes = np.clip(np.rint(W / safe), -levels, levels).astype(np.int8)
    return codes, scale


def quantize(params: Params, bits: int, granularity: str) -> Quantized:
    """Quantize every weight matrix to ``bits`` bits; ``params`` is not mutated."""
    if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)):
        raise ValueError(f"bits must be an integer from 1 to {MAX_BITS}, got {bits!r}")
    if not 1 <= bits <= MAX_BITS:
        raise ValueError(f"bits must be from 1 to {MAX_BITS}, got {bits}")
    if granularity not in GRANULARITIES:
        raise ValueError(
            f"unknown granularity {granularity!r}; known: {', '.join(GRANULARITIES)}"
        )
    per_neuron = granularity == "neuron"
    out: Params = []
    codes_list: list[NDArray[np.int8]] = []
    scales: list[Array] = []
    before = after = 0
    for layer in params:
        W, b = layer["W"], layer["b"]
        codes, scale = _quantize_matrix(W, int(bits), per_neuron)
        out.append({"W": codes * scale, "b": b.copy()})  # scale broadcasts per column
        codes_list.append(codes)
        scales.append(scale)
        before += 4 * (W.size + b.size)
        after += math.ceil(W.size * bits / 8) + 4 * scale.size + 4 * b.size
    return Quantized(out, codes_list, scales, int(bits), granularity, before, after)


def predict_quantized(spec: NetworkSpec, quantized: Quantized, X: ArrayLike) -> Array:
    """Network output ``[N x K]`` with the dequantized weights."""
    return predict(spec, quantized.params, X)
