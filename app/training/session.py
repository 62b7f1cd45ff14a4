"""A training session: model + data + hyperparameters + optimizer state + history.

The session knows nothing of transport: the server calls `advance` to train,
the control methods to change things, and `view` to read the newest state.
It can be driven from a notebook just the same:

    s = TrainingSession(RunConfig(), HyperState())
    s.advance(250)
    s.metrics()["train_loss"]

It is a facade: each job lives in a room of its own, and the session holds
one object of each and says when to use it.

    build            data, network and initial weights from the configuration
    batch_queue      the mini-batches left in this epoch (`queue`)
    updates          the update runner: the fast or the reference path, to a deadline
    step_by_step     step-by-step mode: one update phase by phase, and its trace
    rollback         the rollback point and the divergence guard
    early_stopping   the watch over a metric that stops a run that no longer improves
    edits            setting and freezing single parameters
    metrics          loss and accuracy per split, computed once per state
    history          metrics per update and epoch, and the log of changes
    view             what a frame shows (the server builds the frame from it)
    model_document   an exported model taken back in (`persist`: a whole session)
"""

from __future__ import annotations

import copy
import time
from dataclasses import replace
from typing import Any

import numpy as np

from app.nn import fast
from app.nn.model import Model
from app.nn.network import forward
from app.nn.quantization import Setting
from app.training import edits, metrics, model_document, model_types, quantized_view
from app.training.build import Built, architecture, batch_queue, build, dropout_rng, new_weights, reconfigure
from app.training.config import HyperState, RunConfig
from app.training.early_stopping import EarlyStopping, StopRule
from app.training.errors import SessionError, out_of_range
from app.training.histograms import Histograms
from app.training.history import History
from app.training.metrics import Metrics, MetricsCache
from app.training.phases import UpdateContext
from app.training.replay import MAX_SHARE, ReplaySetting
from app.training.rollback import Checkpoint, Divergence, DivergenceGuard, RollbackPoint
from app.training.step_by_step import StepByStep
from app.training.tasks import Start, TaskSequence
from app.training.timeline import Keyframe, Record, Timeline, keyframe_of, last_update_of
from app.training.transfer import Carried, carry_weights
from app.training.trouble import Trouble, TroubleWatch
from app.training.updates import Clock, LastUpdate, UpdateRunner, Updates
from app.training.view import SessionView, layer_views

__all__ = ["SessionError", "TrainingSession"]

Params = list[dict[str, np.ndarray]]


class TrainingSession:
    """Owns one network's training. Not thread-safe: call from one thread.

    `fast` (class-wide default, or per session): run updates and metrics on the
    compiled fast path (`app.nn.fast`) when it is available: the same bits as
    the numpy reference path's. `clock` is the clock of `advance`'s deadlines.
    """

    fast: bool = True

    def __init__(self, config: RunConfig | None = None, hyper: HyperState | None = None,
                 clock: Clock = time.perf_counter, built: Built | None = None) -> None:
        """`built`: data, network and weights built already (a trial on other splits of
        the data, see `trials`); by default built from `config`."""
        self.config = config or RunConfig()
        self.hyper = hyper or HyperState()
        self._version = 0
        self._runner = UpdateRunner(clock)
        self._stop_rule: StopRule | None = None
        self.quantization = Setting()  # off; kept across rebuilds, as the hyperparameters are
        self._quantized = quantized_view.ReportCache()
        self.tasks = TaskSequence()  # the tasks trained so far, the previous one's points, replay
        built = built if built is not None else build(self.config)
        self.tasks.start_new(self.config, built.data, len(built.params))
        self._use(built)

    def _use(self, built: Built, trainable: Params | None = None) -> None:
        """Train the network `built` from the configuration, from its initial weights
        (with the `trainable` masks given, all trainable by default)."""
        self.data, self.spec, self.task, self.Y = built.data, built.spec, built.task, built.Y
        self.hyper.batch_size = min(self.hyper.batch_size, self.data.n("train"))  # a batch is at most the data
        self._start(Model(self.spec, built.params, optimizer=self.hyper.optimizer, trainable=trainable or []))

    def _start(self, model: Model) -> None:
        """Train `model` (its params kept as the initial weights) from the start of an
        epoch, with fresh history, rollback point and step-by-step mode."""
        self.initial_params = copy.deepcopy(model.params)
        self.model = model
        # The model's arrays as views of flat vectors (see fast.Buffers): the fast
        # path, the finiteness check and the rollback point copy nothing else.
        self._buffers = fast.Buffers()
        self.queue = batch_queue(self.config, self.data.n("train"))
        self.queue.set_replay(self.tasks.replay.share, self.tasks.pool, self.hyper.batch_size)
        self.dropout_rng = dropout_rng(self.config)
        self.history = History()
        self.timeline = Timeline()  # the parameter record (rewind, fork_at, histograms)
        self.histograms = Histograms(self.spec, self.data.X["train"], self.Y["train"])
        self.trouble_watch = TroubleWatch()
        self._guard = DivergenceGuard(self._buffers, self.queue)
        self._metrics = MetricsCache()
        self._support: tuple[tuple[int, int], list[int] | None] | None = None  # (step, version), support vectors
        self._least_squares: tuple[tuple[str, float], dict[str, Any] | None] | None = None  # (penalty, rate), solution
        self.step_by_step = StepByStep()
        self.last_update = LastUpdate(model.params)
        self.early_stopping: EarlyStopping[RollbackPoint] | None = (
            EarlyStopping(self._stop_rule) if self._stop_rule is not None else None)
        self._version += 1
        self._guard.move_point(self.model, self.metrics()["train_loss"])
        if self.tasks.old is not None:  # the forgetting chart starts at the previous task's accuracy
            self.history.record_epoch(0, 0, {**self.metrics(), **self.tasks.metrics(self.spec, self.params)})

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
    def phase(self) -> str | None:
        """The last phase run in step-by-step mode; None outside it."""
        return self.step_by_step.phase

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
        layers = layer_views(self.model, self.last_update, self.hyper.optimizer)
        watch = self.early_stopping
        dropped = self.step_by_step.dropped(self.last_update) if self.hyper.dropout > 0 and self.spec.hidden else None
        return SessionView(step=self.step, epoch=self.epoch, phase=self.phase, hyper=self.hyper.to_dict(),
                           layers=layers, metrics=self.metrics(), trace=self.step_by_step.trace,
                           diverged=self.diverged, early_stopping=watch.to_dict() if watch is not None else None,
                           dropped=dropped, frozen=self.frozen())

    def frozen(self) -> bool:
        """Whether any parameter is frozen: one pass over the masks' flat vector when they have one."""
        mask = self._buffers.flat("mask", self.model.trainable)
        if mask is not None:
            return not mask.all()
        return not all(t.all() for layer in self.model.trainable for t in layer.values())

    def metrics(self) -> Metrics:
        """Loss and accuracy on every split at the current weights (cached per step and version)."""
        return self._metrics.get((self.step, self.version), self.evaluate)

    def evaluate(self) -> Metrics:
        """`metrics()` computed afresh."""
        return metrics.evaluate(self.spec, self.params, self.data, self.Y, self.hyper, self.last_update.loss,
                                self._buffers, self.fast)

    def quantized(self) -> dict[str, Any] | None:
        """The quantized model now (`quantized_view.report`; None while quantization is off),
        computed once per state."""
        return self._quantized.get((self.step, self.version), lambda: quantized_view.report(
            self.spec, self.params, self.data, self.Y, self.quantization))

    def support(self) -> list[int] | None:
        """A hinge network's support vectors: the training points (rows of the training split) on or
        inside the margin, sorted (`model_types.support_vectors`); None for other tasks. Once per state."""
        key = (self.step, self.version)
        if self._support is None or self._support[0] != key:
            self._support = (key, model_types.support_vectors(self.spec, self.params, self.data.X["train"],
                                                              self.Y["train"]))
        return self._support[1]

    def least_squares(self) -> dict[str, Any] | None:
        """Linear regression (no hidden layer): the least-squares solution on the training split, and the
        ridge one under L2 (`model_types.least_squares`); None for other networks. Once per penalty."""
        key = (self.hyper.regularization, float(self.hyper.reg_rate))
        if self._least_squares is None or self._least_squares[0] != key:
            self._least_squares = (key, model_types.least_squares(self.spec, self.data.X["train"], self.Y["train"],
                                                                  *key))
        return self._least_squares[1]

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

    @property
    def stop_rule(self) -> StopRule | None:
        """The early stopping rule in force (None: no watch)."""
        return self._stop_rule

    @property
    def stopped_early(self) -> bool:
        """Whether early stopping stopped the run (it trains no more until the best state is
        restored or the rule changes)."""
        return self.early_stopping is not None and self.early_stopping.stopped is not None

    def advance(self, n_updates: int, deadline: float | None = None) -> int:
        """Run up to `n_updates` updates (stopping at `deadline`, a time of the session's
        clock); an update step-by-step mode left half done is completed first and counts
        as one. Returns how many ran. Stops at an epoch's end when early stopping says so,
        and, paused, when the run diverges."""
        if self.diverged is not None or self.stopped_early or n_updates < 1:
            return 0
        done = self.finish_pending()
        if self.diverged is None:
            use_fast = self.fast and fast.available(wait=False)
            self.timeline.begin(self.step, self.version, self._keyframe)
            try:
                done = self._runner.run(self._context(), self.queue, n_updates, done, deadline, use_fast,
                                        self._record)
            except BaseException:
                self.timeline.close(self.step, -1)  # the next run starts a keyframe of its own
                raise
        if done:
            self._guard.check_params(self.model, self.version)
            self._version += 1
            # Metrics an epoch end took at this very step hold: recomputing them for the
            # frame is a large share of a small session's cost.
            self._metrics.carry((self.step, self.version - 1), (self.step, self.version))
            self._quantized.carry((self.step, self.version - 1), (self.step, self.version))
        self.timeline.close(self.step, self.version)
        return done

    def step_epoch(self) -> int:
        """Run the updates left in this epoch (a whole epoch at a boundary)."""
        return 0 if self.diverged is not None else self.advance(self.updates_left_in_epoch())

    def updates_left_in_epoch(self) -> int:
        """Updates to the end of this epoch (a whole one at a boundary); a half-done update counts as one."""
        if self.step_by_step.pending is not None:
            return 1 + len(self.queue)
        return self.queue.refill(self.hyper.batch_size)

    def step_phase(self) -> str:
        """Run the next phase of the current update; returns its name."""
        if self.diverged is not None:
            raise SessionError("the run diverged; roll back first", field="type", value="step")
        phase = self.step_by_step.step(self._context(), self.queue, self.last_update, self.data.raw["train"],
                                       self._record)
        self._version += 1
        return phase

    def finish_pending(self) -> int:
        """Leave step-by-step mode, completing an update left half done; 1 if there was one."""
        done = self.step_by_step.finish(self._context(), self._record)
        self._version += done
        return done

    def set_trace(self, index: int) -> None:
        """Trace training sample `index` from now on."""
        if not 0 <= index < self.data.n("train"):
            raise out_of_range("index", index, self.data.n("train"), what="trace index")
        self.step_by_step.trace_sample(index, self._context(), self.data.raw["train"], self.last_update)
        self._version += 1

    def _context(self) -> UpdateContext:
        X, Y = self.tasks.train_arrays(self.data.X["train"], self.Y["train"])  # with replay's rows after
        return UpdateContext(self.spec, self.task, self.model, X, Y, self.hyper, self.dropout_rng, self._buffers,
                             self.quantization)

    def _record(self, run: Updates) -> bool:
        """Count and record a run of updates, closing the epoch at its end. False once diverged."""
        go_on = self._count(run)
        self.timeline.updated(self.step, run.done, self._keyframe)
        self.trouble_watch.record(run.losses)
        return go_on

    def _count(self, run: Updates) -> bool:
        self.history.record_updates(self.step + 1, run.losses)
        self.model.step += run.done
        self.last_update.record(run)
        self._guard.check_loss(self.step, self.last_update.loss)
        if not self.queue:
            self.model.epoch += 1
            row = self.metrics()
            self.history.record_epoch(self.step, self.epoch, {**row, **self.tasks.metrics(self.spec, self.params),
                                                              **quantized_view.epoch_columns(self.quantized())})
            self._guard.epoch_end(self.model, self.version, row["train_loss"])
            if self.early_stopping is not None and self.diverged is None:
                stop = self.early_stopping.epoch_end(self.epoch, self.step, row, lambda: self._point(row))
                return not stop
        return self.diverged is None

    def _point(self, row: Metrics) -> RollbackPoint:
        """The state now, with the rest of its epoch: a point to come back to exactly."""
        return RollbackPoint(Checkpoint(self.model, self._buffers), self.step, list(self.queue), row["train_loss"])

    # ----------------------------------------------------------------- changes

    def set_hyper(self, changes: dict[str, Any]) -> list[dict[str, Any]]:
        """Apply hyperparameter changes live and log each one. Returns the log entries.
        All or nothing: a change that cannot be made (SessionError) leaves every field as it was."""
        for field, new in changes.items():
            if new is not None:
                edits.check_hyper(self.queue, field, new)
        self._checkpoint()
        logged = []
        for field, new in changes.items():
            if new is not None and getattr(self.hyper, field) != new:
                old = edits.set_hyper(self.hyper, self.model, self.queue, field, new)
                self.history.record_change(self.step, field, old, new)
                logged.append({"step": self.step, "field": field, "old": old, "new": new})
        if logged:
            self._version += 1
        return logged

    def configure(self, changes: dict[str, Any]) -> None:
        """Change the configuration (see `RunConfig.with_patch`) and rebuild data, network and
        history; a configuration that does not fit (SessionError) leaves the session as it was."""
        self.config, built = reconfigure(self.config, changes)
        self.tasks.start_new(self.config, built.data, len(built.params))
        self._use(built)

    def fine_tune(self, changes: dict[str, Any], start: Start = "current") -> Carried:
        """Change the configuration like `configure` (a new task: other data, features or
        classes, the points rotated or shifted) and keep a record of the task. "current":
        the new network starts from the current weights wherever the shapes allow
        (`transfer.carry_weights`; the frozen masks of the layers kept stay); "scratch": from
        the weights freshly drawn for it, which are the ones "current" gives the layers it
        re-initializes. Returns which layers kept the current weights ("scratch": none).
        When the previous task fits the new network, its points are kept to measure
        forgetting on and to replay (`tasks`)."""
        if start == "current" and self.diverged is not None:
            raise SessionError("the run diverged: its weights are not finite and cannot be carried to a new task; "
                               "roll back first, or fine-tune from scratch", field="start", value=start,
                               allowed="rollback first, or start scratch")
        config, built = reconfigure(self.config, changes)
        carried = carry_weights(self.params, built.params)
        if start == "scratch":
            carried = Carried(copy.deepcopy(built.params), (), tuple(range(len(built.params))))
        trainable = [copy.deepcopy(self.model.trainable[l]) if l in carried.kept else
                     {"W": np.ones(p["W"].shape, dtype=bool), "b": np.ones(p["b"].shape, dtype=bool)}
                     for l, p in enumerate(carried.params)]
        self.tasks.follow(self.step, config, self.data, built.data, built.task, start, carried)
        self.config = config
        self._use(replace(built, params=carried.params), trainable)
        return carried

    def set_replay(self, share: float, buffer: int) -> list[dict[str, Any]]:
        """Mix `share` (0 to 0.9) of each batch from a buffer of the previous task's first `buffer`
        training points (see `replay`); the rest of the epoch is cut again. Each change is logged
        (fields `replay_share`, `replay_buffer`). SessionError without a comparable previous task."""
        if self.tasks.old is None:
            raise SessionError("replay needs a previous task with the same inputs and classes as this one: "
                               "fine-tune (fine_tune message) from such a task first", field="type", value="replay",
                               allowed="fine_tune first, from a task with the same inputs and classes")
        if not 0 <= share <= MAX_SHARE or buffer < 1:
            raise SessionError(f"replay: share must be between 0 and {MAX_SHARE} and buffer at least 1 "
                               f"(got {share}, {buffer})", field="share", value=share)
        self._checkpoint()
        before, self.tasks.replay = self.tasks.replay, ReplaySetting(share, buffer)
        self.queue.set_replay(share, self.tasks.pool, self.hyper.batch_size)
        logged = []
        for field, old, new in (("replay_share", before.share, share), ("replay_buffer", before.buffer, buffer)):
            if old != new:
                self.history.record_change(self.step, field, old, new)
                logged.append({"step": self.step, "field": field, "old": old, "new": new})
        self._version += 1
        return logged

    def reset(self, same_weights: bool = True) -> None:
        """Train again from this run's initial weights, or from newly drawn ones ("New weights")."""
        if same_weights:
            params = copy.deepcopy(self.initial_params)  # the task sequence stays: this task starts again
        else:
            self.config, params = new_weights(self.config, self.spec)
            self.tasks.start_new(self.config, self.data, len(params))
        self._start(Model(self.spec, params, optimizer=self.hyper.optimizer))

    def set_quantization(self, bits: int, granularity: str = "tensor", aware: bool = False) -> None:
        """Quantize with `bits` (0: off) per tensor or per neuron, training quantization-aware when
        `aware` (straight-through estimator, on the reference path); logged as a change."""
        if aware and bits == 0:
            raise SessionError("aware: quantization-aware training needs bits from 1 to 8 (with bits 0 nothing is "
                               "quantized); choose bits first, or send aware false", field="aware", value=aware,
                               allowed="false while bits is 0")
        try:
            new = Setting(bits, granularity, aware)
        except ValueError as exc:
            raise SessionError(str(exc), field="quantization") from None
        if new == self.quantization:
            return
        old, self.quantization = self.quantization, new
        self.history.record_change(self.step, "quantization", old.to_dict(), new.to_dict())
        self._version += 1

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

    def _checkpoint(self) -> None:
        """Remember the state before a user's change: the usual cause of a divergence."""
        self._guard.before_change(self.model, self.version, lambda: self.metrics()["train_loss"])

    def rollback(self) -> int:
        """Restore the rollback point after a divergence; returns its step."""
        point = self._guard.recover()
        self.model = point.model.restore()
        self.queue.replace(point.queue)
        self.history.truncate(point.step)
        self._forget_after(point.step)
        self.step_by_step.leave()
        self.last_update = LastUpdate(self.params)
        self._version += 1
        return point.step

    def set_early_stopping(self, rule: StopRule | None) -> None:
        """Watch `rule`'s metric from the next epoch's end on (None: train on without a watch).
        A new rule starts a new watch: the best so far is measured again."""
        self._stop_rule = rule
        self.early_stopping = EarlyStopping(rule) if rule is not None else None
        self._version += 1

    def restore_best(self) -> int:
        """Go back to the best epoch early stopping saw, exactly (weights, optimizer state,
        counters, the rest of that epoch); the history after it is dropped and the watch
        goes on from there. Returns its step; SessionError when there is none."""
        watch = self.early_stopping
        if watch is None or watch.best is None:
            raise SessionError("no best state to restore: turn early stopping on and train an epoch first",
                               code="invalid", field="type", value="restore_best")
        point = watch.best.state
        self.model = point.model.restore()
        self.queue.replace(point.queue)
        self.history.truncate(point.step)
        self._forget_after(point.step)
        self.step_by_step.leave()
        self.last_update = LastUpdate(self.params)
        watch.go_on()
        self._version += 1
        return point.step

    # ------------------------------------------------ the record, rewind, trouble

    def _keyframe(self, previous: Keyframe | None) -> Keyframe:
        X, Y = self.tasks.train_arrays(self.data.X["train"], self.Y["train"])
        return keyframe_of(self.step, self.model, self._buffers, self.queue, self.dropout_rng, self.hyper,
                           self.quantization, self.spec, self.task, X, Y, previous)

    def _forget_after(self, step: int) -> None:
        """The run went back to `step`: the record and the trouble watch forget what came after."""
        self.timeline.truncate(step)
        self.histograms.forget_after(step)
        self.trouble_watch.clear()

    def record(self) -> Record:
        """The parameter record as it is now (to read in another thread: `timeline.Record`)."""
        return self.timeline.view()

    def trouble(self) -> Trouble | None:
        """What is wrong with the run now, in plain words (`trouble`), or None; judged once per state."""
        d = self.diverged
        if d is not None:
            return Trouble("diverged", d.step, d.cause, d.advice)
        return self.trouble_watch.judge((self.step, self.version), self.step, self.spec, self.params,
                                        self.histograms.X, self.histograms.Y, self.hyper.lr)

    def fork_at(self, step: int) -> int:
        """Go back to recorded step `step` exactly (weights, optimizer state, counters, the rest of its
        epoch, the generators' positions) and train on from there with the hyperparameters now (but the
        optimizer, which goes with its state); the history after it is dropped and the change logged.
        SessionError, naming the nearest recorded steps, when `step` is not recorded exactly."""
        record = self.record()
        found = record.find(step)
        if found is None:
            before, after = record.nearest(step)
            near = " and ".join(str(x) for x in (before, after) if x is not None) or "none yet"
            raise SessionError(f"step: {step} is not recorded exactly; the nearest recorded steps are {near}",
                               field="step", value=step, allowed=f"a recorded step (nearest: {near})")
        state = record.state(step, self.fast)
        from_step = self.step
        self.step_by_step.leave()
        self.model = state.model
        self.queue.replace(list(state.queue))
        self.queue.rng.bit_generator.state = state.queue.rng.bit_generator.state
        self.dropout_rng.bit_generator.state = state.dropout_rng.bit_generator.state
        if self.hyper.optimizer != state.model.optimizer:
            self.history.record_change(self.step, "optimizer", self.hyper.optimizer, state.model.optimizer)
            self.hyper.optimizer = state.model.optimizer
        if self.hyper.batch_size != state.keyframe.hyper.batch_size:
            self.queue.rechunk(self.hyper.batch_size)
        self.history.truncate(step)
        self._forget_after(step)
        self.history.record_change(step, "fork_at", from_step, step)
        self.last_update = last_update_of(state)
        self._guard.resume(self.model, None)  # a diverged run goes on from a sane step
        if self._stop_rule is not None:
            self.early_stopping = EarlyStopping(self._stop_rule)  # a new watch from here
        self._version += 1
        self._guard.move_point(self.model, self.metrics()["train_loss"])
        return step

    # ------------------------------------------------------- import and export

    def export_model(self) -> dict[str, Any]:
        """The engine's JSON-safe model dict (architecture, params, optimizer state, counters,
        trainable masks), the `tasks` trained (read only: an import takes them as nothing) and the
        `quantization` setting (an import takes it back)."""
        return self.model.to_dict() | {"tasks": self.tasks.to_list(), "quantization": self.quantization.to_dict()}

    def import_model(self, data: Any) -> None:
        """Train an exported model (weights, optimizer state, counters) that fits this data
        (ValueError otherwise) from here, with fresh history; it is the rollback point."""
        quantization = model_document.quantization_of(data)
        model, self.config = model_document.import_model(data, self.config, self.spec)
        self.spec, self.hyper.optimizer = model.spec, model.optimizer
        self.quantization = quantization
        self.tasks.start_new(self.config, self.data, len(model.params))  # a model from elsewhere: a new sequence
        self._start(model)

    def restore_tasks(self, state: dict[str, Any]) -> None:
        """Take a stored task sequence back (`TaskSequence.to_state`: its records, the previous
        task's points, the replay setting); ValueError when it does not fit this network's inputs."""
        self.tasks.load_state(state)
        old = self.tasks.old
        if old is not None and (old.X_pool.shape[1] != self.spec.n_inputs or old.Y_pool.shape[1] != self.spec.n_outputs
                                or old.X_test.shape[1] != self.spec.n_inputs):
            raise ValueError("the stored previous task's points do not fit the stored network")
        self.queue.set_replay(self.tasks.replay.share, self.tasks.pool, self.hyper.batch_size)
        self._version += 1

    def resume(self, model: Model, initial_params: Params, batches_left: list[np.ndarray], trace_index: int,
               diverged: Divergence | None) -> None:
        """Continue a stored run (see `persist`, which checks that `model` fits and sets the
        generators and the history): its model, initial weights, rest of the epoch, traced
        sample and divergence (a diverged run is stored as its rollback point, which it
        becomes again)."""
        self.model, self.initial_params = model, initial_params
        self.step_by_step.trace_index = trace_index
        self.queue.replace(batches_left)
        self._guard.resume(model, diverged)
        self.timeline.clear()  # the record of the run that made this session is gone
        self._version += 1
