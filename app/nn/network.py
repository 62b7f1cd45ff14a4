"""The network: its spec, initial parameters, forward and backward passes.

Conventions (cs231n style): a batch is ``X [N x D]``; layer ``l`` (0-based,
``L`` layers in all, the last one is the output layer) computes
``Z[l] = A[l] @ W[l] + b[l]`` with ``W[l] [n_l x n_{l+1}]``, ``b[l] [n_{l+1}]``
and ``A[l+1] = act_l(Z[l])`` (times the dropout mask on hidden layers).
Everything is float64.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, get_args

import numpy as np
from numpy.typing import ArrayLike, NDArray

from app.nn.activations import ACTIVATIONS
from app.nn.losses import TASKS

Array = NDArray[np.float64]
Params = list[dict[str, Array]]  # one {"W": [n_in x n_out], "b": [n_out]} per layer

MAX_INPUTS = 16
MAX_HIDDEN_LAYERS = 8
MAX_NEURONS = 32
InitName = Literal["glorot", "he", "uniform", "zeros"]
INIT_SCHEMES: tuple[str, ...] = get_args(InitName)


def _is_int(x: object) -> bool:
    return isinstance(x, (int, np.integer)) and not isinstance(x, bool)


@dataclass(frozen=True)
class NetworkSpec:
    """Architecture of a dense network; ``validate()`` enforces the limits.

    ``hidden[i]`` neurons with activation ``activations[i]`` per hidden layer;
    the output layer has ``n_outputs`` neurons and the output function of
    ``task`` (see ``losses.TASKS``).
    """

    n_inputs: int
    hidden: tuple[int, ...]
    activations: tuple[str, ...]
    n_outputs: int
    task: str

    def __post_init__(self) -> None:
        # Lists are accepted for convenience but stored as tuples so specs are
        # hashable and cannot be changed behind the model's back.
        object.__setattr__(self, "hidden", tuple(self.hidden))
        object.__setattr__(self, "activations", tuple(self.activations))

    @property
    def layer_sizes(self) -> tuple[int, ...]:
        """``(n_inputs, *hidden, n_outputs)``."""
        return (self.n_inputs, *self.hidden, self.n_outputs)

    @property
    def n_layers(self) -> int:
        """Number of weight layers, ``len(hidden) + 1``."""
        return len(self.hidden) + 1

    def validate(self) -> None:
        """Raise ``ValueError`` naming the broken limit; return None if valid."""
        if not _is_int(self.n_inputs) or not 1 <= self.n_inputs <= MAX_INPUTS:
            raise ValueError(
                f"n_inputs must be an integer from 1 to {MAX_INPUTS}, got {self.n_inputs!r}"
            )
        if len(self.hidden) > MAX_HIDDEN_LAYERS:
            raise ValueError(
                f"at most {MAX_HIDDEN_LAYERS} hidden layers are allowed, got {len(self.hidden)}"
            )
        for i, n in enumerate(self.hidden):
            if not _is_int(n) or not 1 <= n <= MAX_NEURONS:
                raise ValueError(
                    f"hidden layer {i} must have 1 to {MAX_NEURONS} neurons, got {n!r}"
                )
        if len(self.activations) != len(self.hidden):
            raise ValueError(
                f"one activation per hidden layer is needed: {len(self.hidden)} layers, "
                f"{len(self.activations)} activations"
            )
        for i, name in enumerate(self.activations):
            if name not in ACTIVATIONS:
                raise ValueError(
                    f"unknown activation {name!r} for hidden layer {i}; "
                    f"known: {', '.join(ACTIVATIONS)}"
                )
        if self.task not in TASKS:
            raise ValueError(f"unknown task {self.task!r}; known: {', '.join(TASKS)}")
        task = TASKS[self.task]
        if not _is_int(self.n_outputs) or not (
            task.min_outputs <= self.n_outputs <= task.max_outputs
        ):
            raise ValueError(
                f"task {self.task!r} needs {task.min_outputs} to {task.max_outputs} outputs, "
                f"got {self.n_outputs!r}"
            )


@dataclass
class Cache:
    """What the forward pass keeps for backward and for display.

    ``Z[l] [N x n_{l+1}]``: pre-activations of layer ``l`` (``Z[-1]`` is the
    output layer's, kept for the stable loss). ``A[l] [N x n_l]``: inputs of
    layer ``l``, ``A[0] = X``, ``A[-1]`` = network output; on hidden layers
    they are after dropout. ``H[l]``: the same activations before dropout (the
    very same arrays when there is no dropout). ``masks``: the inverted-dropout
    masks of the hidden layers (``[N x n_l]``, entries 0 or ``1/(1-rate)``), or
    None when no dropout was applied.
    """

    Z: list[Array]
    A: list[Array]
    H: list[Array]
    masks: list[Array] | None = None


@dataclass
class Grads:
    """Gradients of the batch loss: ``dW[l]``, ``db[l]`` shaped like the
    parameters and ``dZ[l] [N x n_{l+1}]`` = dL/dZ per sample and neuron."""

    dW: list[Array]
    db: list[Array]
    dZ: list[Array] = field(default_factory=list)


def count_params(spec: NetworkSpec) -> int:
    """Number of scalars in all weights and biases."""
    sizes = spec.layer_sizes
    return sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))


def init_params(spec: NetworkSpec, scheme: str, rng: np.random.Generator) -> Params:
    """Fresh parameters; draws only from ``rng`` so a seed fixes every bit.

    ``glorot``: Xavier *uniform*, ``W ~ U(-a, a)``, ``a = sqrt(6/(n_in+n_out))``,
    ``b = 0``. ``he``: ``W ~ N(0, 2/n_in)``, ``b = 0``. ``uniform``: TF
    Playground's ``W ~ U(-0.5, 0.5)``, ``b = 0.1``. ``zeros``: everything 0
    (a teaching case: hidden neurons stay identical).
    """
    spec.validate()
    if scheme not in INIT_SCHEMES:
        raise ValueError(f"unknown init scheme {scheme!r}; known: {', '.join(INIT_SCHEMES)}")
    params: Params = []
    sizes = spec.layer_sizes
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        if scheme == "glorot":
            a = np.sqrt(6.0 / (n_in + n_out))
            W = rng.uniform(-a, a, size=(n_in, n_out))
        elif scheme == "he":
            W = rng.normal(0.0, np.sqrt(2.0 / n_in), size=(n_in, n_out))
        elif scheme == "uniform":
            W = rng.uniform(-0.5, 0.5, size=(n_in, n_out))
        else:
            W = np.zeros((n_in, n_out))
        b = np.full(n_out, 0.1) if scheme == "uniform" else np.zeros(n_out)
        params.append({"W": W, "b": b})
    return params


def check_params(spec: NetworkSpec, params: Params) -> None:
    """Raise ``ValueError`` unless ``params`` has exactly the spec's shapes."""
    sizes = spec.layer_sizes
    if len(params) != spec.n_layers:
        raise ValueError(f"expected {spec.n_layers} layers of parameters, got {len(params)}")
    for l, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        W, b = params[l].get("W"), params[l].get("b")
        if not isinstance(W, np.ndarray) or W.shape != (n_in, n_out):
            raise ValueError(f"layer {l}: W must have shape ({n_in}, {n_out})")
        if not isinstance(b, np.ndarray) or b.shape != (n_out,):
            raise ValueError(f"layer {l}: b must have shape ({n_out},)")


def copy_params(params: Params) -> Params:
    """Deep copy of a parameter list."""
    return [{k: v.copy() for k, v in layer.items()} for layer in params]


def _as_batch(spec: NetworkSpec, X: ArrayLike) -> Array:
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != spec.n_inputs:
        raise ValueError(f"X must have shape (N, {spec.n_inputs}), got {X.shape}")
    return X


def forward(
    spec: NetworkSpec,
    params: Params,
    X: ArrayLike,
    dropout_masks: list[Array] | None = None,
) -> tuple[Array, Cache]:
    """Forward pass of ``X [N x D]``; returns ``(out [N x K], Cache)``.

    ``dropout_masks`` (one ``[N x n_l]`` per hidden layer, from
    ``dropout.make_masks``) multiply the hidden activations; pass None at
    evaluation time. Nothing is mutated.
    """
    A = _as_batch(spec, X)
    n_hidden = len(spec.hidden)
    if dropout_masks is not None and len(dropout_masks) != n_hidden:
        raise ValueError(f"need {n_hidden} dropout masks, got {len(dropout_masks)}")
    cache = Cache(Z=[], A=[A], H=[A], masks=dropout_masks)
    for l, layer in enumerate(params):
        Z = A @ layer["W"]  # [N x n_out]
        Z += layer["b"]
        if l < n_hidden:
            H = ACTIVATIONS[spec.activations[l]].value(Z)
            A = H * dropout_masks[l] if dropout_masks is not None else H
        else:
            H = A = TASKS[spec.task].output(Z)
        cache.Z.append(Z)
        cache.H.append(H)
        cache.A.append(A)
    return A, cache


def backward(spec: NetworkSpec, params: Params, cache: Cache, Y: ArrayLike) -> Grads:
    """Backprop of the mean batch loss; returns ``Grads`` (dW, db, dZ per layer).

    ``Y [N x K]`` is the target matrix (``Task.targets``). Regularization is
    not included here: ``regularization.add_penalty_grad`` adds it.
    """
    out = cache.A[-1]
    Y = np.asarray(Y, dtype=np.float64)
    if Y.shape != out.shape:
        raise ValueError(f"Y must have shape {out.shape}, got {Y.shape}")
    L = len(params)
    dW: list[Array] = [np.empty(0)] * L
    db: list[Array] = [np.empty(0)] * L
    dZs: list[Array] = [np.empty(0)] * L
    dZ = TASKS[spec.task].dz(out, Y)  # [N x K], already / N
    for l in range(L - 1, -1, -1):
        dZs[l] = dZ
        dW[l] = cache.A[l].T @ dZ  # [n_in x n_out]
        db[l] = dZ.sum(axis=0)
        if l > 0:
            dA = dZ @ params[l]["W"].T  # [N x n_l]
            if cache.masks is not None:
                dA *= cache.masks[l - 1]
            dA *= ACTIVATIONS[spec.activations[l - 1]].derivative(cache.Z[l - 1], cache.H[l])
            dZ = dA
    return Grads(dW=dW, db=db, dZ=dZs)


def evaluate(spec: NetworkSpec, params: Params, X: ArrayLike, Y: Array) -> tuple[float, float | None]:
    """Mean loss and accuracy (None for regression) of the network on ``X [N x D]``
    against the targets ``Y [N x K]``, without dropout. The loss is taken from
    the output layer's pre-activation (the stable form, see ``losses``).
    ``fast.evaluate`` gives the same bits."""
    task = TASKS[spec.task]
    out, cache = forward(spec, params, X)
    loss = float(task.loss(out, Y, cache.Z[-1]))
    acc = task.accuracy(out, Y)
    return loss, None if acc is None else float(acc)


def predict(spec: NetworkSpec, params: Params, X: ArrayLike) -> Array:
    """Network output ``[N x K]`` for ``X [N x D]`` without dropout or cache."""
    A = _as_batch(spec, X)
    n_hidden = len(spec.hidden)
    for l, layer in enumerate(params):
        Z = A @ layer["W"]
        Z += layer["b"]
        A = ACTIVATIONS[spec.activations[l]].value(Z) if l < n_hidden else TASKS[
            spec.task
        ].output(Z)
    return A
