"""The body of a `frame` message, built from a session's view (`TrainingSession.view`).

The wire names the arrays of each layer in short form (`vW`, `deltaW`,
`frozenW`, ...) and sends a trace's later fields only once its phase has
computed them; `docs/protocol.md` documents this shape. Arrays stay numpy
arrays here: `protocol.encode` writes them as lists, or `binary_body` as the
blocks of a binary frame.

A frame carries W, b and the frozen masks always, and of the optional parts
(`protocol.FRAME_PARTS`) those a client asked for while the session trains;
paused or in step-by-step mode (a phase shown) every part, exact: frames are
then few, and the page shows every number in full (the step-by-step panel,
the tooltip).
"""

from __future__ import annotations

import math
from collections.abc import Collection
from typing import Any

import numpy as np

from app import protocol as p
from app.protocol.binary_frame import Block, EncodedBody, encode_body
from app.training.phases import Trace
from app.training.view import LayerView, SessionView

ALL_PARTS = frozenset(p.FRAME_PARTS)


def still(view: SessionView, playing: bool) -> bool:
    """Paused, or showing a phase of step-by-step mode: frames come one per change."""
    return not playing or view.phase is not None


def parts_sent(view: SessionView, playing: bool, parts: Collection[str]) -> Collection[str]:
    """The optional parts a frame of `view` carries for a client that asked for `parts`."""
    return ALL_PARTS if still(view, playing) else parts


def layer_dict(layer: LayerView, parts: Collection[str] = ALL_PARTS) -> p.LayerState:
    """One layer: parameters and frozen masks, and of gradients, velocity, deltas and Adam's
    `sW`, `sb`, `tW`, `tb` those in `parts`."""
    W, b, dW, db, vW, vb, deltaW, deltab, trainable_W, trainable_b, sW, sb, tW, tb = layer  # (one unpacking: per frame)
    out: p.LayerState = {"W": W, "b": b}  # type: ignore[typeddict-item]  # the frozen masks follow, in the documented order
    if "gradient" in parts:
        out["dW"], out["db"] = dW, db
    if "velocity" in parts:
        out["vW"], out["vb"] = vW, vb
    if "update" in parts:
        out["deltaW"], out["deltab"] = deltaW, deltab
    out["frozenW"], out["frozenb"] = ~trainable_W, ~trainable_b
    if "adam" in parts and sW is not None and sb is not None and tW is not None and tb is not None:
        out["sW"], out["sb"], out["tW"], out["tb"] = sW, sb, tW, tb
    return out


def _pairs(layers: list[LayerView], w: str, b: str) -> list[np.ndarray]:
    """Fields `w` and `b` of every layer, as W0, b0, W1, b1, ..."""
    out: list[np.ndarray] = []
    for layer in layers:
        W, B = getattr(layer, w), getattr(layer, b)
        assert W is not None and B is not None
        out += (W, B)
    return out


def layer_blocks(layers: list[LayerView], parts: Collection[str], floats: str = "f4",
                 frozen: bool | None = None) -> list[Block]:
    """The layers as the blocks of a binary frame, their numbers as `floats` ("f4" or "f8"):
    parameters always, the frozen masks when anything is `frozen` (None: read from the masks),
    and the optional `parts`."""
    blocks = [Block(("W", "b"), floats, _pairs(layers, "W", "b"))]
    if "gradient" in parts:
        blocks.append(Block(("dW", "db"), floats, _pairs(layers, "dW", "db")))
    if "velocity" in parts:
        blocks.append(Block(("vW", "vb"), floats, _pairs(layers, "velocity_W", "velocity_b")))
    if "update" in parts:
        blocks.append(Block(("deltaW", "deltab"), floats, _pairs(layers, "delta_W", "delta_b")))
    if "adam" in parts and layers and layers[0].second_moment_W is not None:
        blocks.append(Block(("sW", "sb"), floats, _pairs(layers, "second_moment_W", "second_moment_b")))
        blocks.append(Block(("tW", "tb"), "u4", _pairs(layers, "adam_steps_W", "adam_steps_b")))
    trainable = _pairs(layers, "trainable_W", "trainable_b")
    if frozen is None:
        frozen = not all(t.all() for t in trainable)
    if frozen:
        blocks.append(Block(("frozenW", "frozenb"), "u1", [~t for t in trainable]))
    return blocks


def trace_dict(trace: Trace) -> p.TraceState:
    """The traced sample: `loss` and `batch_loss` from the loss phase on, `dz` from the backward phase on."""
    out: p.TraceState = {
        "index": trace.index, "x": trace.x, "inputs": trace.inputs, "target": trace.target, "output": trace.output,
        "in_batch": trace.in_batch, "z": trace.z, "a": trace.a, "batch_size": trace.batch_size,
    }
    if trace.loss is not None:
        out["loss"], out["batch_loss"] = trace.loss, trace.batch_loss
    if trace.dz is not None:
        out["dz"] = trace.dz
    return out


def frame_body(view: SessionView, playing: bool, updates_per_second: float | None,
               parts: Collection[str] = ALL_PARTS, quantized: dict[str, Any] | None = None,
               trouble: dict[str, Any] | None = None, support: list[int] | None = None,
               least_squares: dict[str, Any] | None = None) -> p.FrameBody:
    """A frame without its per-client part (`type`, `seq`, `history`); `quantized`: the session's
    quantized model (`TrainingSession.quantized`), None while quantization is off; `trouble`: what is
    wrong with the run (`TrainingSession.trouble`), None while all looks well; `support` and
    `least_squares`: the network read as an SVM or as linear regression (`TrainingSession.support`,
    `TrainingSession.least_squares`), None when it is neither."""
    sent = parts_sent(view, playing, parts)
    return {
        "playing": playing, "updates_per_second": updates_per_second,
        "step": view.step, "epoch": view.epoch, "phase": view.phase, "hyper": view.hyper,
        "layers": [layer_dict(layer, sent) for layer in view.layers], "metrics": view.metrics,
        "trace": trace_dict(view.trace) if view.trace is not None else None,
        "diverged": view.diverged.to_dict() if view.diverged is not None else None,
        "early_stopping": view.early_stopping, "dropped": view.dropped, "quantized": quantized,
        "trouble": trouble, "support": support, "least_squares": least_squares,
    }


def binary_body(view: SessionView, playing: bool, updates_per_second: float | None,
                parts: Collection[str] = ALL_PARTS, quantized: dict[str, Any] | None = None,
                trouble: dict[str, Any] | None = None, support: list[int] | None = None,
                least_squares: dict[str, Any] | None = None) -> EncodedBody:
    """The shared part of a binary frame: the JSON frame's fields but `layers` in its header, the layers as
    blocks: float32 numbers while training, float64 (exact) when still."""
    sizes = [view.layers[0].W.shape[0], *(L.b.shape[0] for L in view.layers)] if view.layers else []
    header = {
        "playing": playing, "updates_per_second": updates_per_second,
        "step": view.step, "epoch": view.epoch, "phase": view.phase, "hyper": view.hyper, "metrics": view.metrics,
        "trace": trace_dict(view.trace) if view.trace is not None else None,
        "diverged": view.diverged.to_dict() if view.diverged is not None else None,
        "early_stopping": view.early_stopping, "dropped": view.dropped, "quantized": quantized,
        "trouble": trouble, "support": support, "least_squares": least_squares,
    }
    floats = "f8" if still(view, playing) else "f4"
    return encode_body(header, sizes, layer_blocks(view.layers, parts_sent(view, playing, parts), floats,
                                                     view.frozen))


def inspected(view: SessionView, layer: int, kind: str, i: int, j: int) -> p.Inspected | None:
    """The exact numbers of weight `W[i, j]` or bias `b[j]` of `layer`; None when the network has no such entry."""
    if not 0 <= layer < len(view.layers):
        return None
    L = view.layers[layer]
    n_in, n_out = L.W.shape
    if not (0 <= j < n_out and (0 <= i < n_in if kind == "W" else i == 0)):
        return None
    if kind == "W":
        at: tuple[int, ...] = (i, j)
        value, grad, velocity, update, trainable, s, t = (L.W, L.dW, L.velocity_W, L.delta_W, L.trainable_W,
                                                           L.second_moment_W, L.adam_steps_W)
    else:
        at = (j,)
        value, grad, velocity, update, trainable, s, t = (L.b, L.db, L.velocity_b, L.delta_b, L.trainable_b,
                                                           L.second_moment_b, L.adam_steps_b)
    return {
        "step": view.step, "layer": layer, "kind": "W" if kind == "W" else "b", "i": i, "j": j,
        "value": _number(value[at]), "gradient": _number(grad[at]), "velocity": _number(velocity[at]),
        "update": _number(update[at]), "second_moment": None if s is None else _number(s[at]),
        "adam_steps": None if t is None else int(t[at]), "frozen": not bool(trainable[at]),
    }


def _number(x: float) -> float | None:
    """A float64 as sent: non-finite as None."""
    value = float(x)
    return value if math.isfinite(value) else None
