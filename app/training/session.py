"""A training session: model + data + hyperparameters + optimizer state + history.

The session knows nothing of transport: the server calls `advance` to train,
the control methods to change things, and `view` to read the newest state.
It can be driven from a notebook just the same:

    s = TrainingSession(RunConfig(), HyperState())
    s.advance(250)
    s.metrics()["train_loss"]

It is a facade over rooms with one job each: `build` (data and network from
the configuration), `batch_queue` (the epoch's mini-batches), `updates` (the
fast or the reference path, to a deadline), `phases` (one update as four
phases, run one at a time in step-by-step mode, and the trace of one sample),
`rollback` (the rollback point and the divergence guard), `edits`,
`metrics` and `history`.
"""

from __future__ import annotations

import copy
import math
from dataclasses import replace
from typing import Any

import numpy as np

from app.nn import fast
from app.nn.model import Model
from app.nn.network import forward
from app.training import edits, metrics, updates
from app.training.batch_queue import BatchQueue
from app.training.build import BATCH_STREAM, DROPOUT_STREAM, architecture, build, check_fits, initial_weights
from app.training.config import HyperState, RunConfig
from app.training.errors import SessionError, out_of_range
from app.training.history import History
from app.training.metrics import Metrics, MetricsCache
from app.training.phases import BACKWARD, COMPUTE, PHASES, UPDATE, Pending, Trace, UpdateContext, grads_of, trace
from app.training.rollback import Divergence, DivergenceGuard, RollbackPoint
from app.training.view import SessionView, layer_views

__all__ = ["PHASES", "SessionError", "TrainingSession"]

# The optimizer slot drawn as each optimizer's "velocity".
FIRST_MOMENT = {"momentum": "velocity", "nesterov": "velocity", "adam": "m", "rmsprop": "s"}

Params = list[dict[str, np.ndarray]]


class TrainingSession:
    """Owns one network's training. Not thread-safe: call from one thread.

    `fast` (class-wide default, or per session): run updates and metrics on the
    compiled fast path (`app.nn.fast`) when it is available: the same bits as
    the numpy reference path's.
    """

    fast: bool = True

    def __init__(self, config: RunConfig | None = None, hyper: HyperState | None = None) -> None:
        self.config = config or RunConfig()
        self.hyper = hyper or HyperState()
        self._version = 0
        self._runner = updates.UpdateRunner()
        self._build()

    def _build(self) -> None:
        """(Re)build data, network, optimizer state and history from the config; a config
        that does not fit (ValueError) leaves the session as it was."""
        built = build(self.config)
        params = initial_weights(self.config, built.spec)
        self.data, self.spec, self.task, self.Y = built.data, built.spec, built.task, built.Y
        self._start(params)

    def _start(self, params: Params) -> None:
        """Fresh optimizer state, counters and history around `params` (kept as the initial weights)."""
        self.initial_params = copy.deepcopy(params)
        self.model = Model(self.spec, params, optimizer=self.hyper.optimizer)
        # The model's arrays as views of flat vectors (see fast.Buffers): the fast
        # path, the finiteness check and the rollback point copy nothing else.
        self._buffers = fast.Buffers()
        self._batches = BatchQueue(np.random.default_rng([self.config.seed, BATCH_STREAM]), self.data.n("train"))
        self.dropout_rng = np.random.default_rng([self.config.seed, DROPOUT_STREAM])
        self.history = History()
        self._guard = DivergenceGuard()
        self._metrics = MetricsCache()
        self.trace_index = 0
        self._leave_phases()
        self._show_no_update()
        self._version += 1
        self._move_rollback_point(self.metrics()["train_loss"])

    def _leave_phases(self) -> None:
        self.pending: Pending | None = None  # the update step-by-step mode has begun
        self.phase: str | None = None        # the last phase it ran
        self.trace: Trace | None = None

    def _show_no_update(self) -> None:
        """No update has happened since this state: show zero gradients and deltas."""
        self.batch_loss = math.nan
        self.last_grads, self.last_deltas, self._zeros = (
            [{"W": np.zeros_like(p["W"]), "b": np.zeros_like(p["b"])} for p in self.params] for _ in range(3))

    # ------------------------------------------------------------- reading

    @property
    def version(self) -> int:
        """Moves with every change a client should see."""
        return self._version

    @property
    def step(self) -> int:
        return int(self.model.step)

    @property
    def epoch(self) -> int:
        return int(self.model.epoch)

    @property
    def params(self) -> Params:
        return self.model.params

    @property
    def queue(self) -> BatchQueue:
        """The mini-batches left in this epoch."""
        return self._batches

    @property
    def batch_rng(self) -> np.random.Generator:
        return self._batches.rng

    @property
    def diverged(self) -> Divergence | None:
        """Why and where the run stopped, or None."""
        return self._guard.diverged

    @property
    def rollback_point(self) -> RollbackPoint | None:
        return self._guard.point

    def architecture(self) -> dict[str, Any]:
        return architecture(self.spec)

    def view(self) -> SessionView:
        """The newest state (the arrays are the session's own: read them before it changes)."""
        slot = FIRST_MOMENT.get(self.hyper.optimizer)
        velocity = self.model.opt_state.slots[slot] if slot else self._zeros
        layers = layer_views(self.model, self.last_grads, self.last_deltas, velocity, self.hyper.optimizer == "adam")
        return SessionView(step=self.step, epoch=self.epoch, phase=self.phase, hyper=replace(self.hyper),
                           layers=layers, metrics=self.metrics(), trace=self.trace, diverged=self.diverged)

    def metrics(self) -> Metrics:
        """Loss and accuracy on every split at the current weights (cached per step and version)."""
        return self._metrics.get((self.step, self.version), self.evaluate)

    def evaluate(self) -> Metrics:
        """`metrics()` computed afresh."""
        return metrics.evaluate(self.spec, self.params, self.data, self.Y, self.hyper, self.batch_loss,
                                self._buffers, self.fast)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Network outputs `[N x K]` for network inputs `X [N x F]`."""
        return forward(self.spec, self.params, X)[0]

    def predict_raw(self, points: list[list[float]]) -> np.ndarray:
        """Outputs `[N x K]` at raw input points (2-D: x1, x2 before the feature transforms)."""
        return self.predict(self.data.inputs_at(points))

    def mark_changed(self) -> None:
        """Count a change clients see with this session that it does not hold (playing, speed)."""
        self._version += 1

    # ---------------------------------------------------------------- training

    def advance(self, n_updates: int, deadline: float | None = None) -> int:
        """Run up to `n_updates` updates (stopping at `deadline`, a perf_counter time); an
        update step-by-step mode left half done is completed first and counts as one.
        Returns how many ran. Stops early, paused, when the run diverges."""
        if self.diverged is not None or n_updates < 1:
            return 0
        done = self.finish_pending()
        if self.diverged is None:
            use_fast = self.fast and fast.available(wait=False)
            done = self._runner.run(self._context(), self._batches, n_updates, done, deadline, use_fast, self._record)
        if done and self.diverged is None and not self._params_finite():
            self._guard.diverge(self.step, f"a parameter became NaN or infinite by update {self.step}")
        if done:
            self._version += 1
            # Metrics an epoch end took at this very step hold: recomputing them for the
            # frame is a large share of a small session's cost.
            self._metrics.carry((self.step, self.version - 1), (self.step, self.version))
        return done

    def _context(self) -> UpdateContext:
        return UpdateContext(self.spec, self.task, self.model, self.data.X["train"], self.Y["train"], self.hyper,
                             self.dropout_rng, self._buffers)

    def _record(self, run: updates.Updates) -> bool:
        """Count and record a run of updates, closing the epoch at its end. False once diverged."""
        self.history.record_updates(self.step + 1, run.losses)
        self.model.step += run.done
        self.batch_loss = float(run.losses[-1])
        self.last_grads, self.last_deltas = run.grads, run.deltas
        if not math.isfinite(self.batch_loss):
            self._guard.diverge(self.step, f"the loss became {self.batch_loss} at update {self.step}")
        if not self._batches:
            self._end_epoch()
        return self.diverged is None

    def step_epoch(self) -> int:
        """Run the updates left in this epoch (a whole epoch at a boundary)."""
        return 0 if self.diverged is not None else self.advance(self.updates_left_in_epoch())

    def updates_left_in_epoch(self) -> int:
        """Updates to the end of this epoch (a whole one at a boundary); a half-done update counts as one."""
        if self.pending is not None:
            return 1 + len(self._batches)
        return self._batches.refill(self.hyper.batch_size)

    def step_phase(self) -> str:
        """Run the next phase of the current update; returns its name."""
        if self.diverged is not None:
            raise SessionError("the run diverged; roll back first", field="type", value="step")
        if self.pending is None:
            self.pending = Pending(self._batches.next(self.hyper.batch_size))
        pending, phase = self.pending, self.pending.phase + 1
        self._run_phase(pending, phase)
        if phase == BACKWARD:
            self.last_grads = grads_of(pending)  # shown before the update uses them
        self.phase, self.trace = PHASES[phase], self._trace(pending, phase)
        if phase == UPDATE:
            self.pending = None
        self._version += 1
        return PHASES[phase]

    def finish_pending(self) -> int:
        """Leave step-by-step mode, completing an update left half done; 1 if there was one."""
        pending = self.pending
        self._leave_phases()
        if pending is None:
            return 0
        for phase in range(pending.phase + 1, len(PHASES)):
            self._run_phase(pending, phase)
        self._version += 1
        return 1

    def _run_phase(self, pending: Pending, phase: int) -> None:
        if phase == UPDATE:
            self._record(updates.apply_update(self._context(), pending))
        else:
            COMPUTE[phase](self._context(), pending)
        pending.phase = phase

    def _trace(self, pending: Pending, phase: int) -> Trace:
        return trace(self._context(), pending, phase, self.trace_index, self.data.raw["train"], self.last_deltas)

    def set_trace(self, index: int) -> None:
        """Trace training sample `index` from now on."""
        if not 0 <= index < self.data.n("train"):
            raise out_of_range("index", index, self.data.n("train"), what="trace index")
        self.trace_index = index
        if self.pending is not None and self.pending.phase >= 0:
            self.trace = self._trace(self.pending, self.pending.phase)
        self._version += 1

    # ----------------------------------------------------------------- changes

    def set_hyper(self, changes: dict[str, Any]) -> list[dict[str, Any]]:
        """Apply hyperparameter changes live and log each one. Returns the log entries."""
        self._checkpoint()
        logged = []
        for field, new in changes.items():
            if new is None or getattr(self.hyper, field) == new:
                continue
            old, n = getattr(self.hyper, field), self.data.n("train")
            if field == "batch_size" and new > n:
                raise SessionError(f"batch_size must be between 1 and the {n} training points (got {new})",
                                   field="batch_size", value=new, allowed=f"1 to {n}")
            setattr(self.hyper, field, new)
            if field == "batch_size":
                self._batches.rechunk(new)
            if field == "optimizer":  # a new optimizer starts from rest: no velocity or moments carried over
                self.model.optimizer = new
                self.model.reset_optimizer()
            self.history.record_change(self.step, field, old, new)
            logged.append({"step": self.step, "field": field, "old": old, "new": new})
        if logged:
            self._version += 1
        return logged

    def configure(self, changes: dict[str, Any]) -> None:
        """Change the configuration (see `RunConfig.with_patch`) and rebuild data, network and history."""
        old = self.config
        self.config = old.with_patch(changes)
        try:
            self._build()
        except ValueError as exc:
            self.config = old
            raise SessionError(str(exc)) from None
        self.hyper.batch_size = min(self.hyper.batch_size, self.data.n("train"))

    def reset(self, same_weights: bool = True) -> None:
        """Train again from this run's initial weights, or from newly drawn ones."""
        if not same_weights:
            self.config = self.config.with_changes({"init_seed": self.config.weights_seed() + 1})
        self._start(copy.deepcopy(self.initial_params) if same_weights else initial_weights(self.config, self.spec))

    def set_param(self, layer: int, kind: str, i: int, j: int, value: float) -> float:
        """Set one weight (`kind` "W", row i, column j) or bias ("b", j); returns the old value."""
        self._checkpoint()
        old = edits.set_param(self.params, layer, kind, i, j, value)
        self.history.record_change(self.step, edits.param_name(layer, kind, i, j), old, value)
        self._version += 1
        return old

    def freeze(self, layer: int, target: str, i: int, j: int, frozen: bool) -> None:
        """Freeze or unfreeze a layer, a neuron, a weight or a bias."""
        self._checkpoint()
        edits.freeze(self.params, self.model.trainable, layer, target, i, j, frozen)
        self._version += 1

    # ------------------------------------------------------- rollback, divergence

    def _params_finite(self) -> bool:
        return self._guard.params_finite(self.model, self._buffers, self.version)

    def _move_rollback_point(self, loss: float | None) -> None:
        self._guard.move_point(self.model, self._buffers, self._batches, loss)

    def _checkpoint(self) -> None:
        """Remember the state before a user's change: the usual cause of a divergence."""
        if self.diverged is None and self._params_finite():
            self._move_rollback_point(self.metrics()["train_loss"])

    def _end_epoch(self) -> None:
        """Count and record the epoch; move the rollback point here if training is healthy."""
        self.model.epoch += 1
        row = self.metrics()
        self.history.record_epoch(self.step, self.epoch, row)
        if self._guard.healthy(row["train_loss"]) and self._params_finite():
            self._move_rollback_point(row["train_loss"])

    def rollback(self) -> int:
        """Restore the rollback point after a divergence; returns its step."""
        point = self._guard.point
        if self.diverged is None or point is None:
            raise SessionError("nothing to roll back: the run has not diverged", code="not_diverged",
                               allowed="rollback after a divergence")
        self.model = point.model.restore()
        self._batches.replace(point.queue)
        self.history.truncate(point.step)
        self._leave_phases()
        self._guard.diverged = None
        self._show_no_update()
        self._version += 1
        return point.step

    # ------------------------------------------------------- import and export

    def export_model(self) -> dict[str, Any]:
        """The engine's JSON-safe model dict (architecture, params, optimizer state, counters)."""
        return self.model.to_dict()

    def import_model(self, data: Any) -> None:
        """Replace the model by an exported one (weights, optimizer state, counters) that fits
        this data (ValueError otherwise); the rollback point is then the imported model."""
        model = Model.from_dict(data)
        check_fits(model.spec, self.spec)
        self.config = self.config.with_changes({"hidden": list(model.spec.hidden),
                                                "activations": list(model.spec.activations)})
        self.spec = model.spec
        step, epoch = model.step, model.epoch
        self._start(model.params)
        self.model = model
        self.hyper.optimizer = model.optimizer
        self.model.step, self.model.epoch = step, epoch
        self._move_rollback_point(self.metrics()["train_loss"])  # `_start`'s was a fresh optimizer at step 0

    def resume(self, model: Model, initial_params: Params, batches_left: list[np.ndarray], trace_index: int,
               diverged: Divergence | None) -> None:
        """Continue a stored run (see `persist`, which sets the generators and the history):
        its model, initial weights, rest of the epoch, traced sample and divergence (a
        diverged run is stored as its rollback point, which it becomes again)."""
        if model.spec != self.spec:
            raise ValueError("the stored model does not fit the stored configuration")
        self.model, self.initial_params, self.trace_index = model, initial_params, trace_index
        self._batches.replace(batches_left)
        self._guard.diverged = diverged
        if diverged is not None:
            self._move_rollback_point(None)
        self._version += 1
