"""One update as four phases (forward, loss, backward, update), and the trace.

Step-by-step mode runs the phases one at a time on the same mini-batch (a
`Pending` update carries what each phase computed to the next). After each
phase, `trace` describes what it computed for one training sample, the
traced one, run alone through the network (without dropout) so that its
numbers can be followed by hand. The update phase itself is in `updates`.

Quantization-aware training (`UpdateContext.quantization` aware) runs the
forward and backward phases on the quantized weights and hands their
gradients to the update of the full-precision ones (the straight-through
estimator, `quantization.straight_through`); the penalty's gradient is taken
at the full-precision weights, which are what it penalizes.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from app.nn import dropout, regularization
from app.nn.fast import Buffers
from app.nn.losses import Task
from app.nn.model import Model
from app.nn.network import NetworkSpec, backward, forward
from app.nn.quantization import Setting, straight_through
from app.training.config import HyperState

PHASES = ("forward", "loss", "backward", "update")
FULL_PRECISION = Setting()  # quantization off
BACKWARD, UPDATE = 2, 3

Params = list[dict[str, np.ndarray]]


@dataclass
class UpdateContext:
    """What an update reads (network, training split, hyperparameters) and
    changes (the model, the dropout generator's position, the flat buffers)."""

    spec: NetworkSpec
    task: Task
    model: Model
    X: np.ndarray            # training inputs [N x F]
    Y: np.ndarray            # training targets [N x K]
    hyper: HyperState
    dropout_rng: np.random.Generator
    buffers: Buffers
    quantization: Setting = FULL_PRECISION  # aware: the passes run on the quantized weights


class Pending:
    """One update in progress: its batch, the last phase run, and what the phases computed."""

    def __init__(self, idx: np.ndarray) -> None:
        self.idx = idx
        self.phase = -1
        self.out: np.ndarray | None = None
        self.cache: Any = None
        self.loss = math.nan
        self.grads: Any = None
        self.params: Params | None = None  # the weights the forward phase ran on (quantized when aware)


def forward_phase(ctx: UpdateContext, pending: Pending) -> None:
    """Outputs and cache of the batch, with this update's dropout masks."""
    rate = ctx.hyper.dropout
    masks = (dropout.make_masks(ctx.spec, rate, len(pending.idx), ctx.dropout_rng)
             if rate > 0 and ctx.spec.hidden else None)
    pending.params = straight_through(ctx.model.params, ctx.quantization)
    pending.out, pending.cache = forward(ctx.spec, pending.params, ctx.X[pending.idx], masks)


def dropped_row(pending: Pending, row: int) -> list[np.ndarray] | None:
    """The units dropout dropped for row `row` of `pending`'s batch, per hidden layer,
    once its forward phase has drawn the masks; None without dropout (or before)."""
    masks = pending.cache.masks if pending.cache is not None else None
    return [m[row] == 0 for m in masks] if masks else None


def loss_phase(ctx: UpdateContext, pending: Pending) -> None:
    """The batch loss (without the penalty)."""
    pending.loss = float(ctx.task.loss(pending.out, ctx.Y[pending.idx], pending.cache.Z[-1]))


def backward_phase(ctx: UpdateContext, pending: Pending) -> None:
    """Gradients of the batch loss (at the weights of the forward phase), plus the penalty's."""
    params = ctx.model.params
    at = pending.params if pending.params is not None else params
    pending.grads = backward(ctx.spec, at, pending.cache, ctx.Y[pending.idx])
    regularization.add_penalty_grad(params, pending.grads, ctx.hyper.regularization, ctx.hyper.reg_rate)


# The phases before the update, by number.
COMPUTE: tuple[Callable[[UpdateContext, Pending], None], ...] = (forward_phase, loss_phase, backward_phase)


def grads_of(pending: Pending) -> Params:
    """The backward phase's gradients, shaped like the params."""
    return [{"W": dW, "b": db} for dW, db in zip(pending.grads.dW, pending.grads.db)]


@dataclass(frozen=True)
class Trace:
    """What a phase computed for the traced sample. `loss` and `batch_loss`
    are there from the loss phase on, `dz` from the backward phase on."""

    index: int                    # the sample's row in the training split
    x: list[float]                # its raw point (before the feature transforms)
    inputs: list[float]           # its network inputs
    target: list[float]           # its target row [K]
    output: list[float]           # the network's output [K]
    in_batch: bool                # whether the sample is in this update's batch
    z: list[list[float]]          # pre-activations, per layer
    a: list[list[float]]          # activations, per layer (inputs first)
    batch_size: int
    loss: float | None = None     # the sample's own loss
    batch_loss: float | None = None
    dz: list[list[float]] | None = None  # loss gradient per pre-activation, per layer


def trace(ctx: UpdateContext, pending: Pending, phase: int, index: int, raw: np.ndarray,
          last_deltas: Params) -> Trace:
    """What `phase` computed for training sample `index` (clipped to the split),
    whose raw point is in `raw`. After the update phase the numbers are those of
    the weights the update started from (the params minus `last_deltas`)."""
    i = min(index, len(ctx.X) - 1)
    x, Y = ctx.X[i:i + 1], ctx.Y[i:i + 1]
    params = ctx.model.params
    if phase >= UPDATE:
        params = [{"W": p["W"] - d["W"], "b": p["b"] - d["b"]} for p, d in zip(params, last_deltas)]
    params = straight_through(params, ctx.quantization)  # the weights the update's passes ran on
    out, cache = forward(ctx.spec, params, x)
    loss = batch_loss = dz = None
    if phase >= 1:
        loss, batch_loss = float(ctx.task.loss(out, Y, cache.Z[-1])), pending.loss
    if phase >= BACKWARD:
        dz = [d[0].tolist() for d in backward(ctx.spec, params, cache, Y).dZ]
    return Trace(index=i, x=raw[i].tolist(), inputs=x[0].tolist(), target=Y[0].tolist(), output=out[0].tolist(),
                 in_batch=bool(np.any(pending.idx == i)), z=[z[0].tolist() for z in cache.Z],
                 a=[a[0].tolist() for a in cache.A], batch_size=len(pending.idx),
                 loss=loss, batch_loss=batch_loss, dz=dz)
