"""Gradient-descent optimizers in PyTorch's exact forms.

Per parameter array ``w`` with gradient ``g`` (after the penalty gradient),
learning rate ``lr`` and the other ``Hyperparams`` as they are *at this step*:

- ``sgd``:       ``w <- w - lr * g``
- ``momentum``:  ``v <- mu * v + g``;  ``w <- w - lr * v``  (torch.optim.SGD,
  heavy ball, dampening 0)
- ``nesterov``:  ``v <- mu * v + g``;  ``w <- w - lr * (g + mu * v)``
  (torch.optim.SGD(nesterov=True))
- ``adam``:      ``t <- t + 1``; ``m <- b1 * m + (1 - b1) * g``;
  ``v <- b2 * v + (1 - b2) * g^2``;
  ``w <- w - (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)``
  (torch.optim.Adam: bias correction, eps outside the square root; that is
  ``w - lr * m_hat / (sqrt(v_hat) + eps)``)
- ``rmsprop``:   ``s <- rho * s + (1 - rho) * g^2``;
  ``w <- w - lr * g / (sqrt(s) + eps)`` (torch.optim.RMSprop, alpha = rho,
  no momentum, not centred; ``hp.momentum`` is ignored)

The velocity ``v`` is in gradient units (not multiplied by ``lr``), so a new
learning rate scales the whole accumulated velocity from the very next step:
a slider move takes effect at once, the UI can show the two-line rule above,
and trajectories match PyTorch step for step (Keras' SGD folds ``lr`` into
``v`` instead; see docs/optimizers.md). ``mu``, ``b1``,
``b2``, ``rho`` may also change between any two steps; Adam's bias
correction then uses the current betas with the element's step count ``t``.

Each optimizer keeps its own slots (``velocity``; ``m``, ``v``, ``t``; ``s``)
so switching optimizer mid-run neither reads nor corrupts another's state.
``t`` is per element: a frozen entry's ``t``, ``m``, ``v`` (and velocity, s)
stay put, and with nothing frozen all ``t`` equal torch's step count.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, get_args

import numpy as np
from numpy.typing import NDArray

from app.nn.network import Array, Grads, Params

OptimizerName = Literal["sgd", "momentum", "nesterov", "adam", "rmsprop"]
OPTIMIZERS: tuple[str, ...] = get_args(OptimizerName)
SLOTS: dict[str, tuple[str, ...]] = {
    "sgd": (),
    "momentum": ("velocity",),
    "nesterov": ("velocity",),
    "adam": ("m", "v", "t"),
    "rmsprop": ("s",),
}
ALL_SLOTS = ("velocity", "m", "v", "t", "s")

Mask = NDArray[np.bool_] | bool  # True: every entry trainable


@dataclass
class Hyperparams:
    """Optimizer settings; any field may change between two steps."""

    lr: float = 0.03
    momentum: float = 0.9
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    rho: float = 0.99
    optimizer: str = "sgd"

    def validate(self) -> None:
        """Raise ``ValueError`` naming the bad field and its allowed range."""
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(
                f"unknown optimizer {self.optimizer!r}; known: {', '.join(OPTIMIZERS)}"
            )
        for name in ("lr", "momentum", "beta1", "beta2", "eps", "rho"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
                raise ValueError(f"{name} must be a number, got {value!r}")
        if not (math.isfinite(self.lr) and self.lr >= 0):
            raise ValueError(f"lr must be finite and >= 0, got {self.lr!r}")
        for name in ("momentum", "beta1", "beta2", "rho"):
            value = getattr(self, name)
            if not 0.0 <= value < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {value!r}")
        if not (math.isfinite(self.eps) and self.eps > 0):
            raise ValueError(f"eps must be finite and > 0, got {self.eps!r}")


@dataclass
class OptState:
    """Optimizer state: ``slots[name]`` is shaped like the params.

    ``velocity`` (momentum, nesterov), ``m``, ``v`` and the int64 step count
    ``t`` (adam), ``s`` (rmsprop). All start at zero.
    """

    slots: dict[str, list[dict[str, NDArray[Any]]]]


def init_state(params: Params) -> OptState:
    """Zero state for every optimizer's slots, shaped like ``params``."""
    slots: dict[str, list[dict[str, NDArray[Any]]]] = {}
    for name in ALL_SLOTS:
        dtype = np.int64 if name == "t" else np.float64
        slots[name] = [{k: np.zeros(v.shape, dtype=dtype) for k, v in p.items()} for p in params]
    return OptState(slots=slots)


# Each step function advances its slots in place where ``mask`` is True and
# returns the increment for ``w`` (entries where mask is False are garbage and
# are discarded by ``update``). ``where=mask`` leaves frozen state untouched.


def _sgd(g: Array, s: dict[str, NDArray[Any]], hp: Hyperparams, mask: Mask) -> Array:
    return -hp.lr * g


def _heavy_ball(g: Array, s: dict[str, NDArray[Any]], hp: Hyperparams, mask: Mask) -> Array:
    v: Array = s["velocity"]
    np.multiply(v, hp.momentum, out=v, where=mask)
    np.add(v, g, out=v, where=mask)
    return -hp.lr * v


def _nesterov(g: Array, s: dict[str, NDArray[Any]], hp: Hyperparams, mask: Mask) -> Array:
    v: Array = s["velocity"]
    np.multiply(v, hp.momentum, out=v, where=mask)
    np.add(v, g, out=v, where=mask)
    return -hp.lr * (g + hp.momentum * v)


def _adam(g: Array, s: dict[str, NDArray[Any]], hp: Hyperparams, mask: Mask) -> Array:
    m: Array = s["m"]
    v: Array = s["v"]
    t: NDArray[np.int64] = s["t"]
    np.add(t, 1, out=t, where=mask)
    np.multiply(m, hp.beta1, out=m, where=mask)
    np.add(m, (1.0 - hp.beta1) * g, out=m, where=mask)
    np.multiply(v, hp.beta2, out=v, where=mask)
    np.add(v, (1.0 - hp.beta2) * g * g, out=v, where=mask)
    # A frozen entry that never stepped has t = 0 (and m = v = 0); t >= 1
    # keeps its discarded increment finite instead of 0/0.
    tt = t if mask is True else np.maximum(t, 1)
    step_size: Array = hp.lr / (1.0 - np.power(hp.beta1, tt))
    denom: Array = np.sqrt(v) / np.sqrt(1.0 - np.power(hp.beta2, tt)) + hp.eps
    return -step_size * (m / denom)


def _rmsprop(g: Array, s: dict[str, NDArray[Any]], hp: Hyperparams, mask: Mask) -> Array:
    sq: Array = s["s"]
    np.multiply(sq, hp.rho, out=sq, where=mask)
    np.add(sq, (1.0 - hp.rho) * g * g, out=sq, where=mask)
    return -hp.lr * (g / (np.sqrt(sq) + hp.eps))


StepFn = Callable[[Array, dict[str, NDArray[Any]], Hyperparams, Mask], Array]
STEP_FUNCTIONS: dict[str, StepFn] = {
    "sgd": _sgd,
    "momentum": _heavy_ball,
    "nesterov": _nesterov,
    "adam": _adam,
    "rmsprop": _rmsprop,
}
# The fields of ``Hyperparams`` each step function reads (a test watches the
# reads): the page shows the sliders of the chosen optimizer's, and no others.
HYPER_OF: dict[OptimizerName, tuple[str, ...]] = {
    "sgd": ("lr",),
    "momentum": ("lr", "momentum"),
    "nesterov": ("lr", "momentum"),
    "adam": ("lr", "beta1", "beta2", "eps"),
    "rmsprop": ("lr", "rho", "eps"),
}


def update(
    params: Params,
    grads: Grads,
    state: OptState,
    hp: Hyperparams,
    trainable: list[dict[str, NDArray[np.bool_]]] | None = None,
    stop_at_zero: bool = False,
) -> Params:
    """One optimizer step with ``grads.dW``/``grads.db``.

    Mutates ``params`` and ``state`` in place; returns the deltas, shaped like
    ``params``: the increments added (``w_new = w_old + delta``), 0.0 where
    frozen. ``trainable`` (``freezing.trainable_masks``) freezes entries: a
    frozen entry keeps its exact bits and its state is not advanced.
    ``stop_at_zero`` (L1): a weight this step carries across zero stops at
    exactly 0 and its momentum (``velocity``, Adam's ``m``) is cleared.
    """
    hp.validate()
    step_fn = STEP_FUNCTIONS[hp.optimizer]
    names = SLOTS[hp.optimizer]
    deltas: Params = []
    for l, layer in enumerate(params):
        layer_deltas: dict[str, Array] = {}
        for kind, g in (("W", grads.dW[l]), ("b", grads.db[l])):
            mask: Mask = True
            if trainable is not None and not trainable[l][kind].all():
                mask = trainable[l][kind]
            slots = {name: state.slots[name][l][kind] for name in names}
            delta = step_fn(g, slots, hp, mask)
            w = layer[kind]
            old = w.copy() if stop_at_zero and kind == "W" else None
            np.add(w, delta, out=w, where=mask)
            if old is not None:
                delta = _stop_at_zero(w, old, delta, slots)
            layer_deltas[kind] = delta if mask is True else np.where(mask, delta, 0.0)
        deltas.append(layer_deltas)
    return deltas


# Slots that carry a step on by themselves: cleared where L1 stops a weight at zero,
# or the next step would push it across again. (RMSprop's `s` and Adam's `v` only
# scale steps; Adam's `t` counts them.)
MOMENTUM_SLOTS = ("velocity", "m")


def _stop_at_zero(w: Array, old: Array, delta: Array, slots: dict[str, Array]) -> Array:
    """L1 without the jitter: a subgradient step carries a weight that L1 drives out
    across zero again and again (its sign flips the pull). Where this step crossed zero
    the weight is set to exactly 0 (so it reads, and is drawn, as absent) and its
    momentum cleared; a weight whose data gradient is 0 then stays at 0 (sign(0) = 0).
    Returns the deltas, corrected where a weight was stopped."""
    crossed = ((old > 0) & (w < 0)) | ((old < 0) & (w > 0))
    if not crossed.any():
        return delta
    w[crossed] = 0.0
    for name in MOMENTUM_SLOTS:
        if name in slots:
            slots[name][crossed] = 0.0
    delta = np.array(delta, dtype=np.float64)
    delta[crossed] = -old[crossed]
    return delta
