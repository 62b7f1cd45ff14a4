"""Hidden-layer activations as a name-keyed table of (value, derivative).

Shaped like TF Playground's ``nn.ts`` ``Activations``: the browser sends a
name, never code. ``value(z)`` maps pre-activations ``Z [N x n]`` to
activations ``A [N x n]``; ``derivative(z, a)`` returns ``dA/dZ [N x n]`` given
both, so each function can use whichever is cheaper (tanh and sigmoid reuse
``a``, the piecewise ones look at ``z``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]

ActivationName = Literal["linear", "relu", "leaky_relu", "tanh", "sigmoid"]  # the keys of ACTIVATIONS
LEAKY_SLOPE = 0.01


@dataclass(frozen=True)
class Activation:
    """One activation: ``value(z) -> a`` and ``derivative(z, a) -> da/dz``."""

    name: str
    value: Callable[[Array], Array]
    derivative: Callable[[Array, Array], Array]


def sigmoid(z: Array) -> Array:
    """Logistic function without overflow: exp is only taken of ``-|z|``."""
    e = np.exp(-np.abs(z))
    # For z >= 0: 1 / (1 + e^-z); for z < 0: e^z / (1 + e^z). Both use e <= 1.
    return np.where(z >= 0, 1.0, e) / (1.0 + e)


def _linear(z: Array) -> Array:
    return z.copy()


def _linear_der(z: Array, a: Array) -> Array:
    return np.ones_like(z)


def _relu(z: Array) -> Array:
    return np.maximum(z, 0.0)


def _relu_der(z: Array, a: Array) -> Array:
    # The kink at 0 gets derivative 0 (the subgradient TF Playground uses).
    return (z > 0).astype(np.float64)


def _leaky(z: Array) -> Array:
    return np.where(z > 0, z, LEAKY_SLOPE * z)


def _leaky_der(z: Array, a: Array) -> Array:
    return np.where(z > 0, 1.0, LEAKY_SLOPE)


def _tanh_der(z: Array, a: Array) -> Array:
    return 1.0 - a * a


def _sigmoid_der(z: Array, a: Array) -> Array:
    return a * (1.0 - a)


ACTIVATIONS: dict[str, Activation] = {
    "linear": Activation("linear", _linear, _linear_der),
    "relu": Activation("relu", _relu, _relu_der),
    "leaky_relu": Activation("leaky_relu", _leaky, _leaky_der),
    "tanh": Activation("tanh", np.tanh, _tanh_der),
    "sigmoid": Activation("sigmoid", sigmoid, _sigmoid_der),
}
