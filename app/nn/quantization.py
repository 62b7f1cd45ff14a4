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

A session's ``Setting`` says how it quantizes; with ``aware`` it trains
quantization-aware through ``straight_through``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal, get_args

import numpy as np
from numpy.typing import ArrayLike, NDArray

from app.nn.network import Array, NetworkSpec, Params, predict

Granularity = Literal["tensor", "neuron"]
GRANULARITIES: tuple[str, ...] = get_args(Granularity)
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

    @property
    def levels(self) -> list[int]:
        """Per layer, how many distinct codes its weights use (at most ``2^bits``; at most
        ``2^bits - 1`` for ``bits >= 2``, the grid being symmetric)."""
        return [int(np.unique(c).size) for c in self.codes]


@dataclass(frozen=True)
class Setting:
    """How a session quantizes: ``bits`` 0 (off: full precision) or 1 to ``MAX_BITS``, one scale
    per tensor or per neuron, and ``aware``: train quantization-aware (see ``straight_through``)."""

    bits: int = 0
    granularity: str = "tensor"
    aware: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.bits, bool) or not isinstance(self.bits, int) or not 0 <= self.bits <= MAX_BITS:
            raise ValueError(f"bits must be an integer from 0 (off) to {MAX_BITS}, got {self.bits!r}")
        if self.granularity not in GRANULARITIES:
            raise ValueError(f"unknown granularity {self.granularity!r}; known: {', '.join(GRANULARITIES)}")
        if not isinstance(self.aware, bool):
            raise ValueError(f"aware must be true or false, got {self.aware!r}")
        if self.aware and self.bits == 0:
            raise ValueError("aware (quantization-aware training) needs bits from 1 to "
                             f"{MAX_BITS}: with bits 0 the weights are not quantized")

    @property
    def on(self) -> bool:
        return self.bits > 0

    def to_dict(self) -> dict[str, Any]:
        return {"bits": self.bits, "granularity": self.granularity, "aware": self.aware}


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


def straight_through(params: Params, setting: Setting) -> Params:
    """The weights a quantization-aware update runs its forward and backward passes on.

    Straight-through estimator: the forward pass uses the quantized weights
    ``q(w)`` and the gradient taken at them, ``dL/dq``, is used as ``dL/dw``
    (rounding has derivative 0 almost everywhere, so the chain rule would give
    nothing to learn from); the optimizer then updates the full-precision
    ``w``, so that many small steps can add up to a change of level. Returns
    ``params`` itself when ``setting`` is not aware.
    """
    if not setting.aware:
        return params
    return quantize(params, setting.bits, setting.granularity).params


def predict_quantized(spec: NetworkSpec, quantized: Quantized, X: ArrayLike) -> Array:
    """Network output ``[N x K]`` with the dequantized weights."""
    return predict(spec, quantized.params, X)
