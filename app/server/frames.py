"""The body of a `frame` message, built from a session's view (`TrainingSession.view`).

The wire names the arrays of each layer in short form (`vW`, `deltaW`,
`frozenW`, ...) and sends a trace's later fields only once its phase has
computed them; `docs/protocol.md` documents this shape. Arrays stay numpy
arrays here: `protocol.encode` writes them as lists.
"""

from __future__ import annotations

from app import protocol as p
from app.training.phases import Trace
from app.training.view import LayerView, SessionView


def layer_dict(layer: LayerView) -> p.LayerState:
    """One layer: parameters, gradients, velocity, deltas, frozen masks, and Adam's `sW`, `sb`, `tW`, `tb`."""
    W, b, dW, db, vW, vb, deltaW, deltab, trainable_W, trainable_b, sW, sb, tW, tb = layer  # (one unpacking: per frame)
    out: p.LayerState = {
        "W": W, "b": b, "dW": dW, "db": db, "vW": vW, "vb": vb,
        "deltaW": deltaW, "deltab": deltab, "frozenW": ~trainable_W, "frozenb": ~trainable_b,
    }
    if sW is not None and sb is not None and tW is not None and tb is not None:
        out["sW"], out["sb"], out["tW"], out["tb"] = sW, sb, tW, tb
    return out


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


def frame_body(view: SessionView, playing: bool, updates_per_second: float | None) -> p.FrameBody:
    """A frame without its per-client part (`type`, `seq`, `history`)."""
    return {
        "playing": playing, "updates_per_second": updates_per_second,
        "step": view.step, "epoch": view.epoch, "phase": view.phase, "hyper": view.hyper,
        "layers": [layer_dict(layer) for layer in view.layers], "metrics": view.metrics,
        "trace": trace_dict(view.trace) if view.trace is not None else None,
        "diverged": view.diverged.to_dict() if view.diverged is not None else None,
    }
