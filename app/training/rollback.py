"""Rollback points and the divergence guard.

A run that diverges (a loss or a parameter becomes NaN or infinite) stops
and can roll back to its rollback point: the state before the user's last
change (the usual cause), or the end of the last healthy epoch, whichever
came later. Healthy: the training loss is finite and not more than half
again the loss at the rollback point, so a run that is blowing up keeps its
old, sane point however many epochs the blow-up takes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from app.nn import fast
from app.nn.model import Model
from app.nn.optimizers import OptState
from app.training.errors import SessionError

ADVICE = "lower the learning rate, then roll back"
# An epoch whose training loss is more than this times the rollback point's is not healthy.
HEALTHY_GROWTH = 1.5


class Checkpoint:
    """A copy of a model (params, optimizer slots, trainable masks, counters)
    taken in a few numpy calls: each group of arrays is copied as one flat
    vector (the session's `fast.Buffers` keep them flat). `restore()` rebuilds
    an independent `Model` with the same bits, as often as asked."""

    __slots__ = ("epoch", "flats", "optimizer", "slot_names", "spec", "step")

    def __init__(self, model: Model, buffers: fast.Buffers) -> None:
        self.spec, self.optimizer, self.step, self.epoch = model.spec, model.optimizer, model.step, model.epoch
        lay = fast.layout(model.spec)
        slots = model.opt_state.slots
        self.slot_names = tuple(slots)
        groups = [("params", model.params, np.float64),
                  *((name, slots[name], np.int64 if name == "t" else np.float64) for name in self.slot_names),
                  ("mask", model.trainable, np.bool_)]
        self.flats = []
        for key, layers, dtype in groups:
            # The arrays' own flat vector (copied), or, when they cannot have one, a concatenated copy.
            flat = buffers.bind(key, layers, lay, dtype)
            self.flats.append(flat.copy() if flat is not None
                              else np.concatenate([layer[k].ravel() for layer in layers for k in ("W", "b")]))

    def restore(self) -> Model:
        """A new model with the checkpoint's values (arrays of its own)."""
        lay = fast.layout(self.spec)
        groups: list[list[dict[str, Any]]] = [fast.param_views(flat.copy(), lay) for flat in self.flats]
        slots = dict(zip(self.slot_names, groups[1:-1], strict=True))
        return Model(spec=self.spec, params=groups[0], optimizer=self.optimizer, state=OptState(slots=slots),
                     trainable=groups[-1], step=self.step, epoch=self.epoch)

    def to_dict(self) -> dict[str, Any]:
        """The model's JSON-safe dict (as `Model.to_dict`)."""
        return self.restore().to_dict()


@dataclass(frozen=True)
class RollbackPoint:
    """What a rollback returns to."""

    model: Checkpoint
    step: int
    queue: list[np.ndarray]   # the batches that were left in that epoch
    loss: float | None        # the training loss there (None: not measured)


@dataclass(frozen=True)
class Divergence:
    """Why and where a run stopped, and the step a rollback returns to."""

    step: int
    cause: str
    rollback_step: int
    advice: str = ADVICE

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class DivergenceGuard:
    """Holds the rollback point and the divergence of one model's run, and checks its
    parameters; the model's arrays live in `buffers`, its epoch's batches in `queue`."""

    def __init__(self, buffers: fast.Buffers, queue: Iterable[np.ndarray]) -> None:
        self.buffers, self.queue = buffers, queue
        self.point: RollbackPoint | None = None
        self.diverged: Divergence | None = None
        self._finite_at: tuple[Any, ...] | None = None

    def move_point(self, model: Model, loss: float | None) -> None:
        """Make the model as it is now, with the rest of its epoch, the rollback point."""
        self.point = RollbackPoint(Checkpoint(model, self.buffers), int(model.step), list(self.queue), loss)

    def before_change(self, model: Model, version: int, loss: Callable[[], float | None]) -> None:
        """Remember the state before a user's change (the usual cause of a divergence),
        unless the run has diverged or its parameters are not finite; `loss()` measures it."""
        if self.diverged is None and self.params_finite(model, version):
            self.move_point(model, loss())

    def epoch_end(self, model: Model, version: int, loss: float | None) -> None:
        """Move the rollback point to an epoch's end where training is healthy."""
        if self.healthy(loss) and self.params_finite(model, version):
            self.move_point(model, loss)

    def healthy(self, loss: float | None) -> bool:
        """Whether an epoch ending at training loss `loss` may move the rollback point there."""
        kept = self.point.loss if self.point else None
        return loss is not None and (kept is None or loss <= HEALTHY_GROWTH * kept)

    def check_loss(self, step: int, loss: float) -> None:
        """Diverge at `step` if the batch loss of its update is not finite."""
        if not math.isfinite(loss):
            self.diverge(step, f"the loss became {loss} at update {step}")

    def check_params(self, model: Model, version: int) -> None:
        """Diverge if a parameter became NaN or infinite (while the losses stayed finite)."""
        if self.diverged is None and not self.params_finite(model, version):
            step = int(model.step)
            self.diverge(step, f"a parameter became NaN or infinite by update {step}")

    def diverge(self, step: int, cause: str) -> None:
        self.diverged = Divergence(step=step, cause=cause, rollback_step=self.point.step if self.point else 0)

    def recover(self) -> RollbackPoint:
        """End the divergence; returns the point to roll back to (SessionError when the run
        has not diverged)."""
        point = self.point
        if self.diverged is None or point is None:
            raise SessionError("nothing to roll back: the run has not diverged", code="not_diverged",
                               allowed="rollback after a divergence")
        self.diverged = None
        return point

    def resume(self, model: Model, diverged: Divergence | None) -> None:
        """Continue a stored run's divergence: a diverged run is stored as its rollback
        point, which `model` then becomes again."""
        self.diverged = diverged
        if diverged is not None:
            self.move_point(model, None)

    def params_finite(self, model: Model, version: int) -> bool:
        """Whether every parameter is finite: one check over their flat vector when they
        have one. This runs at every epoch end and after every turn, so the answer is
        kept for as long as the step, the version and the model are the same (every
        change of a parameter moves the step or the version)."""
        seen = self._finite_at
        if (seen is not None and seen[0] == model.step and seen[1] == version and seen[2] is model
                and seen[3] is model.params):
            return bool(seen[4])
        flat = self.buffers.flat("params", model.params)
        if flat is None:
            flat = np.concatenate([p[k].ravel() for p in model.params for k in ("W", "b")])
        finite = bool(np.isfinite(flat).all())
        self._finite_at = (model.step, version, model, model.params, finite)
        return finite
