"""One network with its optimizer: the unit a training session drives.

``train_step`` = forward (with dropout masks) -> loss (+ penalty) -> backward
-> penalty gradient -> optimizer update, the same split as TF Playground's
``forwardProp`` / ``backProp`` / ``updateWeights``. ``compute_grads`` and
``apply_update`` expose the two halves for phase-by-phase stepping.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from app.nn import serialize
from app.nn.batches import epoch_batches
from app.nn.dropout import make_masks
from app.nn.freezing import Masks, trainable_masks
from app.nn.losses import TASKS
from app.nn.network import (
    Array,
    Cache,
    Grads,
    NetworkSpec,
    Params,
    backward,
    check_params,
    forward,
    init_params,
    predict,
)
from app.nn.optimizers import OPTIMIZERS, Hyperparams, OptState, init_state, update
from app.nn.regularization import add_penalty_grad, penalty, stops_at_zero


@dataclass
class StepResult:
    """What one training step produced.

    ``loss``: mean batch loss before the update (training mode, i.e. with the
    dropout masks); ``loss_with_penalty``: plus the regularization penalty;
    ``grads``: dW, db (penalty gradient included) and dZ; ``deltas``: the
    increments added to the params; ``cache``: the forward pass (Z, A, masks).
    """

    loss: float
    loss_with_penalty: float
    grads: Grads
    deltas: Params
    cache: Cache


@dataclass
class Model:
    """Spec, params, optimizer name and state, trainable masks, counters.

    ``state`` and ``trainable`` default to zero state and all-True masks.
    ``optimizer`` records the optimizer of the last step (``hp.optimizer``
    decides which one a step uses). ``step`` counts updates, ``epoch`` full
    passes made by ``train_epoch`` (or by the caller).
    """

    spec: NetworkSpec
    params: Params
    optimizer: str = "sgd"
    state: OptState | None = None
    trainable: Masks = field(default_factory=list)
    step: int = 0
    epoch: int = 0

    def __post_init__(self) -> None:
        self.spec.validate()
        check_params(self.spec, self.params)
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(
                f"unknown optimizer {self.optimizer!r}; known: {', '.join(OPTIMIZERS)}"
            )
        if self.state is None:
            self.state = init_state(self.params)
        if not self.trainable:
            self.trainable = trainable_masks(self.params)
        for l, (layer, mask) in enumerate(zip(self.params, self.trainable, strict=True)):
            for kind in ("W", "b"):
                if mask[kind].shape != layer[kind].shape or mask[kind].dtype != np.bool_:
                    raise ValueError(f"trainable[{l}].{kind} must be a bool array shaped like "
                                     f"{kind}, {layer[kind].shape}")

    @classmethod
    def create(
        cls,
        spec: NetworkSpec,
        rng: np.random.Generator,
        init: str = "glorot",
        optimizer: str = "sgd",
    ) -> Model:
        """A fresh model with ``init_params(spec, init, rng)``."""
        return cls(spec=spec, params=init_params(spec, init, rng), optimizer=optimizer)

    @property
    def opt_state(self) -> OptState:
        """The optimizer state (never None after construction)."""
        assert self.state is not None
        return self.state

    def reset_optimizer(self) -> None:
        """Zero every optimizer slot (velocity, Adam moments and counts...)."""
        self.state = init_state(self.params)

    def predict(self, X: ArrayLike) -> Array:
        """Output ``[N x K]`` at evaluation time (no dropout)."""
        return predict(self.spec, self.params, X)

    def loss(self, X: ArrayLike, Y: ArrayLike, reg_kind: str = "none", reg_rate: float = 0.0
             ) -> tuple[float, float]:
        """``(loss, loss_with_penalty)`` on ``X [N x D]``, ``Y [N x K]``, no dropout."""
        out, cache = forward(self.spec, self.params, X)
        data_loss = TASKS[self.spec.task].loss(out, np.asarray(Y, dtype=np.float64), cache.Z[-1])
        return data_loss, data_loss + penalty(self.params, reg_kind, reg_rate)

    def compute_grads(
        self,
        X: ArrayLike,
        Y: ArrayLike,
        reg_kind: str = "none",
        reg_rate: float = 0.0,
        dropout_rate: float = 0.0,
        rng: np.random.Generator | None = None,
    ) -> tuple[float, float, Grads, Cache]:
        """Forward + backward on one batch; returns ``(loss, loss_with_penalty,
        grads, cache)``. Mutates nothing but ``rng`` (dropout draws)."""
        X = np.asarray(X, dtype=np.float64)
        Y = np.asarray(Y, dtype=np.float64)
        masks = None
        if dropout_rate != 0:
            if rng is None:
                raise ValueError("dropout needs an rng for its masks")
            masks = make_masks(self.spec, dropout_rate, X.shape[0], rng)
        out, cache = forward(self.spec, self.params, X, masks)
        grads = backward(self.spec, self.params, cache, Y)
        data_loss = TASKS[self.spec.task].loss(out, Y, cache.Z[-1])
        total = data_loss + penalty(self.params, reg_kind, reg_rate)
        add_penalty_grad(self.params, grads, reg_kind, reg_rate)
        return data_loss, total, grads, cache

    def apply_update(self, grads: Grads, hp: Hyperparams, stop_at_zero: bool = False) -> Params:
        """Optimizer step (mutates params and state, ``step += 1``); returns deltas.
        ``stop_at_zero``: L1's weights stop at exactly 0 (``optimizers.update``)."""
        deltas = update(self.params, grads, self.opt_state, hp, self.trainable, stop_at_zero)
        self.optimizer = hp.optimizer
        self.step += 1
        return deltas

    def train_step(
        self,
        X: ArrayLike,
        Y: ArrayLike,
        hp: Hyperparams,
        reg_kind: str = "none",
        reg_rate: float = 0.0,
        dropout_rate: float = 0.0,
        rng: np.random.Generator | None = None,
    ) -> StepResult:
        """One step on the batch ``X [N x D]``, ``Y [N x K]`` (``Task.targets``)."""
        loss, total, grads, cache = self.compute_grads(
            X, Y, reg_kind, reg_rate, dropout_rate, rng
        )
        deltas = self.apply_update(grads, hp, stops_at_zero(reg_kind, reg_rate))
        return StepResult(loss, total, grads, deltas, cache)

    def train_epoch(
        self,
        X: ArrayLike,
        Y: ArrayLike,
        batch_size: int,
        hp: Hyperparams,
        rng: np.random.Generator,
        reg_kind: str = "none",
        reg_rate: float = 0.0,
        dropout_rate: float = 0.0,
    ) -> list[float]:
        """One pass over ``X``/``Y`` in seeded mini-batches (``epoch += 1``).

        The shuffle and then the dropout masks are drawn from ``rng``.
        Returns the loss of every step.
        """
        X = np.asarray(X, dtype=np.float64)
        Y = np.asarray(Y, dtype=np.float64)
        losses = []
        for idx in epoch_batches(X.shape[0], batch_size, rng):
            result = self.train_step(X[idx], Y[idx], hp, reg_kind, reg_rate, dropout_rate, rng)
            losses.append(result.loss)
        self.epoch += 1
        return losses

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-safe dict (see ``serialize``); ``from_dict`` inverts it exactly."""
        return serialize.model_to_dict(self)

    @classmethod
    def from_dict(cls, d: Any) -> Model:
        """Rebuild a model from ``to_dict`` output; ``ValueError`` on bad input."""
        return cls(**serialize.model_fields_from_dict(d))
