"""A training session: model + data + hyperparameters + optimizer state + history.

The session knows nothing of transport: the server calls `advance` to train,
the control methods to change things, and `view` to read the newest state.
It can be driven from a notebook just the same:

    s = TrainingSession(RunConfig(), HyperState())
    s.advance(250)
    s.metrics()["train_loss"]

It is a facade over rooms with one job each: `batch_queue` (the epoch's
mini-batches), `phases` (one update as four phases, and the trace),
`updates` (the fast or the reference path, to a deadline), `rollback` (the
rollback point and the divergence guard), `history`. Step-by-step mode runs
one phase of an update at a time (`step_phase`); `trace` then describes what
it computed for the traced training sample.
"""

from __future__ import annotations

import copy
import math
from dataclasses import replace
from typing import Any

import numpy as np

from app.data import features
from app.nn import fast, network, regularization
from app.nn.losses import TASKS
from app.nn.model import Model
from app.nn.network import NetworkSpec, count_params, forward, init_params
from app.training import edits, updates
from app.training.batch_queue import BatchQueue
from app.training.config import HyperState, RunConfig
from app.training.data_setup import SPLITS, prepare
from app.training.errors import SessionError, out_of_range
from app.training.history import History
from app.training.phases import BACKWARD, COMPUTE, PHASES, UPDATE, Pending, Trace, UpdateContext, grads_of, trace
from app.training.rollback import Divergence, DivergenceGuard, RollbackPoint
from app.training.view import SessionView, layer_views

__all__ = ["PHASES", "SessionError", "TrainingSession"]

# The optimizer slot drawn as each optimizer's "velocity".
FIRST_MOMENT = {"momentum": "velocity", "nesterov": "velocity", "adam": "m", "rmsprop": "s"}

# Seed streams: data, initial weights, mini-batch order and dropout draw from
# separate generators so that, for example, turning dropout on does not change
# the order of the mini-batches.
DATA_STREAM, INIT_STREAM, BATCH_STREAM, DROPOUT_STREAM = 0, 1, 2, 3

Params = list[dict[str, np.ndarray]]


class TrainingSession:
    """Owns one network's training. Not thread-safe: call from one thread.

    `fast` (class-wide default, or per session): let `advance` run its updates
    on the compiled fast path (`app.nn.fast`) when it is available; the
    results are the same bits as the numpy reference path's.
    """

    fast: bool = True

    def __init__(self, config: RunConfig | None = None, hyper: HyperState | None = None) -> None:
        self.config = config or RunConfig()
        self.hyper = hyper or HyperState()
        self._version = 0
        self._runner = updates.UpdateRunner()
        self._build()

    # ------------------------------------------------------------------ build

    def _build(self) -> None:
        """(Re)build data, network, optimizer state and history from the config.
        Everything is made before anything is replaced, so a configuration that
        does not fit (ValueError) leaves the session as it was."""
        data = prepare(self.config)
        task = TASKS[data.task]
        spec = NetworkSpec(
            n_inputs=len(data.feature_names), hidden=tuple(self.config.hidden),
            activations=self.config.hidden_activations(),
            n_outputs=data.n_classes if data.task == "multiclass" else 1, task=data.task)
        spec.validate()
        Y = {s: task.targets(data.y[s], data.n_classes) if data.task == "multiclass" else task.targets(data.y[s])
             for s in SPLITS}
        params = self._initial_weights(spec)
        self.data, self.spec, self.task, self.Y = data, spec, task, Y
        self._start(params)

    def _initial_weights(self, spec: NetworkSpec) -> Params:
        return init_params(spec, self.config.init, np.random.default_rng([self.config.weights_seed(), INIT_STREAM]))

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
        self._metrics_cache: tuple[tuple[int, int], dict[str, float | None]] | None = None
        self.trace_index = 0
        self._forget_phases()
        self._show_no_update()
        self._version += 1
        self._move_rollback_point(self.metrics()["train_loss"])

    def _forget_phases(self) -> None:
        self.pending: Pending | None = None
        self.phase: str | None = None
        self.trace: Trace | None = None

    def _show_no_update(self) -> None:
        """No update has happened since this state: show zero gradients and deltas."""
        self.batch_loss = math.nan
        self.last_grads = [{"W": np.zeros_like(p["W"]), "b": np.zeros_like(p["b"])} for p in self.params]
        self.last_deltas = [{"W": np.zeros_like(p["W"]), "b": np.zeros_like(p["b"])} for p in self.params]
        self._zeros = [{"W": np.zeros_like(p["W"]), "b": np.zeros_like(p["b"])} for p in self.params]

    # ------------------------------------------------------------- properties

    @property
    def version(self) -> int:
        """Moves with every change a client should see (only the session moves it)."""
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
        return self._guard.diverged

    @property
    def rollback_point(self) -> RollbackPoint | None:
        return self._guard.point

    def architecture(self) -> dict[str, Any]:
        counts = [int(p["W"].size + p["b"].size) for p in self.params]
        return {
            "n_inputs": self.spec.n_inputs, "hidden": list(self.spec.hidden),
            "activations": list(self.spec.activations), "n_outputs": self.spec.n_outputs,
            "task": self.spec.task, "param_counts": counts, "total_params": int(count_params(self.spec)),
        }

    def mark_changed(self) -> None:
        """Count a change that clients see with this session but that it does not hold
        (playing, speed): the next frame goes out."""
        self._version += 1

    # ---------------------------------------------------------------- training

    def _context(self) -> UpdateContext:
        return UpdateContext(self.spec, self.task, self.model, self.data.X["train"], self.Y["train"], self.hyper,
                             self.dropout_rng, self._buffers)

    def advance(self, n_updates: int, deadline: float | None = None) -> int:
        """Run up to `n_updates` updates (stopping at `deadline`, a perf_counter time).

        An update that step-by-step mode left half done is completed first and
        counts as the first of them. Returns how many ran. Stops early, paused,
        when the run diverges.
        """
        if self.diverged is not None or n_updates < 1:
            return 0
        done = self.finish_pending()
        if self.diverged is None:
            use_fast = self.fast and fast.available(wait=False)
            done = self._runner.run(self._context(), self._batches, n_updates, done, deadline, use_fast, self._record)
        if done and self.diverged is None and not self._params_finite():
            self._guard.diverge(self.step, f"a parameter became NaN or infinite by update {self.step}")
        if done:
            # Keep the metrics computed at this very step: with one epoch per frame, the
            # epoch's end has just computed them, and recomputing a forward pass over every
            # split per frame is a large share of a small session's cost.
            cache = self._metrics_cache
            self._version += 1
            if cache is not None and cache[0] == (self.step, self.version - 1):
                self._metrics_cache = ((self.step, self.version), cache[1])
        return done

    def _record(self, run: updates.Updates) -> bool:
        """Count and record a run of updates; close the epoch when it ended. False once diverged."""
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
        """Run the updates left in the current epoch (a whole epoch at a boundary).
        A half-done update is completed first; when it was the last of its epoch,
        that is all this runs."""
        if self.diverged is not None:
            return 0
        return self.advance(self.updates_left_in_epoch())

    def updates_left_in_epoch(self) -> int:
        """Updates from here to the end of the current epoch (a whole epoch at a
        boundary); an update step-by-step mode left half done counts as the first."""
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
        self.phase = PHASES[phase]
        self.trace = self._trace(pending, phase)
        if phase == UPDATE:
            self.pending = None
        self._version += 1
        return PHASES[phase]

    def finish_pending(self) -> int:
        """Leave step-by-step mode, completing an update left half done; 1 if there was one."""
        pending = self.pending
        self._forget_phases()
        if pending is None:
            return 0
        for phase in range(pending.phase + 1, len(PHASES)):
            self._run_phase(pending, phase)
        self._version += 1
        return 1

    def _run_phase(self, pending: Pending, phase: int) -> None:
        ctx = self._context()
        if phase == UPDATE:
            self._record(updates.apply_update(ctx, pending))
        else:
            COMPUTE[phase](ctx, pending)
        pending.phase = phase

    def _trace(self, pending: Pending, phase: int) -> Trace:
        return trace(self._context(), pending, phase, self.trace_index, self.data.raw["train"], self.last_deltas)

    def set_trace(self, index: int) -> None:
        """Trace training sample `index` from now on."""
        n = self.data.n("train")
        if not 0 <= index < n:
            raise out_of_range("index", index, n, what="trace index")
        self.trace_index = index
        if self.pending is not None and self.pending.phase >= 0:
            self.trace = self._trace(self.pending, self.pending.phase)
        self._version += 1

    # ---------------------------------------------------------------- metrics

    def metrics(self) -> dict[str, float | None]:
        """Loss and accuracy on every split at the current weights (cached per step and version)."""
        key = (self.step, self.version)
        if self._metrics_cache is not None and self._metrics_cache[0] == key:
            return self._metrics_cache[1]
        self._metrics_cache = (key, self.evaluate())
        return self._metrics_cache[1]

    def evaluate(self) -> dict[str, float | None]:
        """`metrics()` computed afresh (not cached). On the fast path through the compiled
        kernel: the same bits, a few times cheaper (this runs at every epoch end)."""
        out: dict[str, float | None] = {}
        for s in SPLITS:
            if self.data.n(s) == 0:
                out[f"{s}_loss"] = out[f"{s}_acc"] = None
                continue
            X, Y = self.data.X[s], self.Y[s]
            loss, out[f"{s}_acc"] = (fast.evaluate(self.spec, self.params, X, Y, self._buffers) if self.fast
                                     else network.evaluate(self.spec, self.params, X, Y))
            out[f"{s}_loss"] = _finite(loss)
        penalty = regularization.penalty(self.params, self.hyper.regularization, self.hyper.reg_rate)
        train_loss = out["train_loss"]
        out["train_loss_penalized"] = None if train_loss is None else _finite(train_loss + penalty)
        out["batch_loss"] = _finite(self.batch_loss)
        return out

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Network outputs `[N x K]` for network inputs `X [N x F]`."""
        out, _ = forward(self.spec, self.params, X)
        return out

    def predict_raw(self, points: list[list[float]]) -> np.ndarray:
        """Outputs `[N x K]` at raw input points (2-D: x1, x2 before the feature transforms)."""
        raw = np.asarray(points, dtype=np.float64)
        width = 2 if self.data.plane else self.spec.n_inputs
        if raw.ndim != 2 or raw.shape[1] != width or not np.isfinite(raw).all():
            raise ValueError(f"points must be finite rows of {width} numbers")
        X = features.transform(raw, list(self.data.feature_names)) if self.data.plane else raw
        return self.predict(X)

    # ----------------------------------------------------------------- changes

    def set_hyper(self, changes: dict[str, Any]) -> list[dict[str, Any]]:
        """Apply hyperparameter changes live and log each one. Returns the log entries."""
        self._checkpoint()
        logged = []
        for field, new in changes.items():
            if new is None or getattr(self.hyper, field) == new:
                continue
            old = getattr(self.hyper, field)
            n = self.data.n("train")
            if field == "batch_size" and new > n:
                raise SessionError(f"batch_size must be between 1 and the {n} training points (got {new})",
                                   field="batch_size", value=new, allowed=f"1 to {n}")
            setattr(self.hyper, field, new)
            if field == "batch_size":
                self._batches.rechunk(new)
            if field == "optimizer":
                # A new optimizer starts from rest: no velocity or moments carried over.
                self.model.optimizer = new
                self.model.reset_optimizer()
            self.history.record_change(self.step, field, old, new)
            logged.append({"step": self.step, "field": field, "old": old, "new": new})
        if logged:
            self._version += 1
        return logged

    def configure(self, changes: dict[str, Any]) -> None:
        """Change the configuration and rebuild data, network and history."""
        changes = {k: v for k, v in changes.items() if v is not None or k in ("task", "activations", "init_seed")}
        if "dataset" in changes and "task" not in changes:
            changes["task"] = None  # the new data's default task
        if "seed" in changes and "init_seed" not in changes:
            changes = {**changes, "init_seed": None}  # a new seed draws new data and new weights
        old = self.config
        self.config = old.with_changes(changes)
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
        self._start(copy.deepcopy(self.initial_params) if same_weights else self._initial_weights(self.spec))

    def set_param(self, layer: int, kind: str, i: int, j: int, value: float) -> float:
        """Set one weight (`kind` "W": row i, column j) or bias ("b": j); returns the old value."""
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
        metrics = self.metrics()
        self.history.record_epoch(self.step, self.epoch, metrics)
        if self._guard.healthy(metrics["train_loss"]) and self._params_finite():
            self._move_rollback_point(metrics["train_loss"])

    def rollback(self) -> int:
        """Restore the rollback point after a divergence; returns its step."""
        point = self._guard.point
        if self.diverged is None or point is None:
            raise SessionError("nothing to roll back: the run has not diverged", code="not_diverged",
                               allowed="rollback after a divergence")
        self.model = point.model.restore()
        self._batches.replace(point.queue)
        self.history.truncate(point.step)
        self._forget_phases()
        self._guard.diverged = None
        self._show_no_update()
        self._version += 1
        return point.step

    # ----------------------------------------------------------------- reading

    def view(self) -> SessionView:
        """The newest state (arrays are the session's own: read them before it changes)."""
        slot = FIRST_MOMENT.get(self.hyper.optimizer)
        slots = self.model.opt_state.slots
        return SessionView(
            step=self.step, epoch=self.epoch, phase=self.phase, hyper=replace(self.hyper),
            layers=layer_views(self.model, self.last_grads, self.last_deltas,
                               slots[slot] if slot else self._zeros, self.hyper.optimizer == "adam"),
            metrics=self.metrics(), trace=self.trace, diverged=self.diverged)

    # ------------------------------------------------------- import and export

    def export_model(self) -> dict[str, Any]:
        """The engine's JSON-safe model dict (architecture, params, optimizer state, counters)."""
        return self.model.to_dict()

    def import_model(self, data: Any) -> None:
        """Replace the model by an exported one (weights, optimizer state, counters); its
        inputs, outputs and task must fit this data. The rollback point is the imported model."""
        model = Model.from_dict(data)
        if model.spec.n_inputs != self.spec.n_inputs or model.spec.n_outputs != self.spec.n_outputs:
            raise ValueError(
                f"the model has {model.spec.n_inputs} inputs and {model.spec.n_outputs} outputs; this session's "
                f"data needs {self.spec.n_inputs} inputs and {self.spec.n_outputs} outputs")
        if model.spec.task != self.spec.task:
            raise ValueError(f"the model's task is {model.spec.task!r}; this session's is {self.spec.task!r}")
        self.config = self.config.with_changes({"hidden": list(model.spec.hidden),
                                                "activations": list(model.spec.activations)})
        self.spec = model.spec
        step, epoch = model.step, model.epoch
        self._start(model.params)
        self.model = model
        self.hyper.optimizer = model.optimizer
        self.model.step, self.model.epoch = step, epoch
        self._move_rollback_point(self.metrics()["train_loss"])  # `_start` took one of a fresh optimizer at step 0

    def resume(self, model: Model, initial_params: Params, batches_left: list[np.ndarray], trace_index: int,
               diverged: Divergence | None) -> None:
        """Continue a stored run: its model, initial weights, rest of the epoch, traced
        sample and divergence (a diverged run is stored as its rollback point). The
        generators and the history are set in place beforehand (see `persist`)."""
        if model.spec != self.spec:
            raise ValueError("the stored model does not fit the stored configuration")
        self.model, self.initial_params = model, initial_params
        self._batches.replace(batches_left)
        self.trace_index = trace_index
        self._guard.diverged = diverged
        if diverged is not None:
            self._move_rollback_point(None)
        self._version += 1


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None
