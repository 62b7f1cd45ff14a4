"""What a session shows at one moment: the typed view the server turns into a frame.

The arrays are the session's own (no copies, since a frame is encoded at
once): read a view before the session changes again.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from app.nn.model import Model
from app.nn.optimizers import SLOTS
from app.training.phases import Trace
from app.training.rollback import Divergence
from app.training.updates import LastUpdate

# The optimizer slot drawn as each optimizer's "velocity": its first slot (momentum's
# v, Adam's m, RMSprop's s; plain SGD has none).
FIRST_MOMENT = {name: slots[0] for name, slots in SLOTS.items() if slots}


class LayerView(NamedTuple):
    """One layer's parameters `W [n_in x n_out]`, `b [n_out]` and what the last update did to them.

    Named tuples, not dataclasses (here and in `SessionView`): they are built for
    every frame of every session, and a tuple is built several times faster."""

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


class SessionView(NamedTuple):
    """The newest state: counters, hyperparameters, layers, metrics, trace, divergence, the early
    stopping watch and the units dropout dropped."""

    step: int
    epoch: int
    phase: str | None              # the last phase run in step-by-step mode, None outside it
    hyper: dict[str, Any]          # `HyperState.to_dict()`: a copy, as the frame sends it
    layers: list[LayerView]
    metrics: dict[str, float | None]
    trace: Trace | None
    diverged: Divergence | None
    # The watch's `to_dict()` (rule, best epoch, stop, epochs saved); None without early stopping.
    early_stopping: dict[str, Any] | None = None
    # Per hidden layer, the units dropout dropped for the sample shown (`StepByStep.dropped`);
    # None when dropout is 0.
    dropped: list[np.ndarray] | None = None
    # Whether any parameter is frozen (None: not known, read it from the layers' masks).
    frozen: bool | None = None


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
        layer = LayerView(p["W"], p["b"], g["W"], g["b"], v["W"], v["b"], d["W"], d["b"], t["W"], t["b"])
        if adam:
            layer = layer._replace(second_moment_W=slots["v"][l]["W"], second_moment_b=slots["v"][l]["b"],
                                   adam_steps_W=slots["t"][l]["W"], adam_steps_b=slots["t"][l]["b"])
        layers.append(layer)
    return layers
