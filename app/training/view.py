"""What a session shows at one moment: the typed view the server turns into a frame.

The arrays are the session's own (no copies, since a frame is encoded at
once): read a view before the session changes again.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from app.nn.model import Model
from app.training.config import HyperState
from app.training.phases import Trace
from app.training.rollback import Divergence
from app.training.updates import LastUpdate

# The optimizer slot drawn as each optimizer's "velocity" (plain SGD has none).
FIRST_MOMENT = {"momentum": "velocity", "nesterov": "velocity", "adam": "m", "rmsprop": "s"}


@dataclass(frozen=True)
class LayerView:
    """One layer's parameters `W [n_in x n_out]`, `b [n_out]` and what the last update did to them."""

    W: np.ndarray
    b: np.ndarray
    dW: np.ndarray                # gradients of the last update (penalty included)
    db: np.ndarray
    velocity_W: np.ndarray        # the optimizer buffer drawn as velocity: momentum's v, Adam's m,
    velocity_b: np.ndarray        # RMSprop's s; zeros for plain SGD
    delta_W: np.ndarray           # what the last update added to the parameters
    delta_b: np.ndarray
    trainable_W: np.ndarray       # False where frozen
    trainable_b: np.ndarray
    second_moment_W: np.ndarray | None = None   # Adam's v (None for the other optimizers)
    second_moment_b: np.ndarray | None = None
    adam_steps_W: np.ndarray | None = None      # Adam's per-parameter update counts t
    adam_steps_b: np.ndarray | None = None


@dataclass(frozen=True)
class SessionView:
    """The newest state: counters, hyperparameters, layers, metrics, trace, divergence."""

    step: int
    epoch: int
    phase: str | None              # the last phase run in step-by-step mode, None outside it
    hyper: HyperState              # a copy
    layers: list[LayerView]
    metrics: dict[str, float | None]
    trace: Trace | None
    diverged: Divergence | None


def layer_views(model: Model, last: LastUpdate, optimizer: str) -> list[LayerView]:
    """Each layer of `model` with the gradients and deltas of the `last` update, the
    buffer of `optimizer` drawn as velocity (zeros for one without), and Adam's second
    moments and step counts."""
    slots = model.opt_state.slots
    slot = FIRST_MOMENT.get(optimizer)
    velocity = slots[slot] if slot else last.zeros
    adam = optimizer == "adam"
    layers = []
    for l, (p, g, v, d, t) in enumerate(zip(model.params, last.grads, velocity, last.deltas, model.trainable)):
        extra = ({"second_moment_W": slots["v"][l]["W"], "second_moment_b": slots["v"][l]["b"],
                  "adam_steps_W": slots["t"][l]["W"], "adam_steps_b": slots["t"][l]["b"]} if adam else {})
        layers.append(LayerView(W=p["W"], b=p["b"], dW=g["W"], db=g["b"], velocity_W=v["W"], velocity_b=v["b"],
                                delta_W=d["W"], delta_b=d["b"], trainable_W=t["W"], trainable_b=t["b"], **extra))
    return layers
