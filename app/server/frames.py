"""The body of a `frame` message, built from a session's view (`TrainingSession.view`).

The wire names the arrays of each layer in short form (`vW`, `deltaW`,
`frozenW`, ...) and sends a trace's later fields only once its phase has
computed them; `docs/protocol.md` documents this shape. Arrays stay numpy
arrays here: `protocol.encode` writes them as lists.
"""

from __future__ import annotations

from typing import Any

from app.training.phases import Trace
from app.training.view import LayerView, SessionView


def layer_dict(layer: LayerView) -> dict[str, Any]:
    """One layer: parameters, gradients, velocity, deltas, frozen masks, and Adam's `sW`, `sb`, `tW`, `tb`."""
    out: dict[str, Any] = {
        "W": layer.W, "b": layer.b, "dW": layer.dW, "db": layer.db, "vW": layer.velocity_W, "vb": layer.velocity_b,
        "deltaW": layer.delta_W, "deltab": layer.delta_b, "frozenW": ~layer.trainable_W, "frozenb": ~layer.trainable_b,
    }
    if layer.second_moment_W is not None:
        out.update(sW=layer.second_moment_W, sb=layer.second_moment_b, tW=layer.adam_steps_W, tb=layer.adam_steps_b)
    return out


def trace_dict(trace: Trace) -> dict[str, Any]:
    """The traced sample: `loss` and `batch_loss` from the loss phase on, `dz` from the backward phase on."""
    out: dict[str, Any] = {
        "index": trace.index, "x": trace.x, "inputs": trace.inputs, "target": trace.target, "output": trace.output,
        "in_batch": trace.in_batch, "z": trace.z, "a": trace.a, "batch_size": trace.batch_size,
    }
    if trace.loss is not None:
        out.update(loss=trace.loss, batch_loss=trace.batch_loss)
    if trace.dz is not None:
        out["dz"] = trace.dz
    return out


def frame_body(view: SessionView, playing: bool, updates_per_second: float | None) -> dict[str, Any]:
    """A frame without its per-client part (`type`, `seq`, `history`)."""
    return {
        "playing": playing, "updates_per_second": updates_per_second,
        "step": view.step, "epoch": view.epoch, "phase": view.phase, "hyper": view.hyper.to_dict(),
        "layers": [layer_dict(layer) for layer in view.layers], "metrics": view.metrics,
        "trace": trace_dict(view.trace) if view.trace is not None else None,
        "diverged": view.diverged.to_dict() if view.diverged is not None else None,
    }
