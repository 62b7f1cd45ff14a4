"""A training session: model + data + hyperparameters + optimizer state + history.

The session knows nothing of transport: the server calls `advance` to train,
the control methods to change things, and `snapshot` to read the newest state.
It can be driven from a notebook just the same:

    s = TrainingSession(RunConfig(), HyperState())
    s.advance(250)
    s.metrics()["train_loss"]

Step-by-step mode splits one update into its four phases (forward, loss,
backward, update) on the same mini-batch; `step_phase` runs the next one and
`trace` then describes what it computed for the traced training sample.
"""

from __future__ import annotations

import copy
import math
import time
from collections import deque
from typing import Any, Literal

import numpy as np

from app.data import features
from app.nn import batches, dropout, fast, freezing, network, regularization
from app.nn.losses import TASKS
from app.nn.model import Model
from app.nn.network import NetworkSpec, backward, count_params, forward, init_params
from app.nn.optimizers import Hyperparams, OptState, update
from app.training.config import OPTIMIZER_FIELDS, HyperState, RunConfig
from app.training.data_setup import SPLITS, PreparedData, prepare
from app.training.history import History

PHASES = ("forward", "loss", "backward", "update")
# The optimizer slot drawn as each optimizer's "velocity".
FIRST_MOMENT = {"momentum": "velocity", "nesterov": "velocity", "adam": "m", "rmsprop": "s"}

# Updates the fast path runs per compiled call at most; the deadline is checked
# between calls.
FAST_CHUNK = 64

# Seed streams: data, initial weights, mini-batch order and dropout draw from
# separate generators so that, for example, turning dropout on does not change
# the order of the mini-batches.
DATA_STREAM, INIT_STREAM, BATCH_STREAM, DROPOUT_STREAM = 0, 1, 2, 3


class SessionError(ValueError):
    """A request the session cannot honour; `field` names the culprit."""

    def __init__(self, message: str, field: str | None = None, value: Any = None, allowed: str | None = None,
                 code: Literal["invalid", "not_diverged"] = "invalid"):
        super().__init__(message)
        self.field, self.value, self.allowed, self.code = field, value, allowed, code


class Pending:
    """One update in progress in step-by-step mode."""

    def __init__(self, idx: np.ndarray) -> None:
        self.idx = idx
        self.phase = -1
        self.out: np.ndarray | None = None
        self.cache: Any = None
        self.loss = math.nan
        self.grads: Any = None


class Checkpoint:
    """A copy of a model (params, optimizer slots, trainable masks, counters)
    taken in a few numpy calls: each group of arrays is copied as one flat
    vector (the session's `fast.Buffers` keep them flat). `restore()` rebuilds
    an independent `Model` with the same bits, as often as asked."""

    __slots__ = ("epoch", "flats", "optimizer", "slot_names", "spec", "step")

    def __init__(self, model: Model, buffers: fast.Buffers) -> None:
        self.spec, self.optimizer, self.step, self.epoch = model.spec, model.optimizer, model.step, model.epoch
        lay = fast._layout(model.spec)
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
        lay = fast._layout(self.spec)
        groups: list[list[dict[str, Any]]] = [fast._views(flat.copy(), lay) for flat in self.flats]
        slots = dict(zip(self.slot_names, groups[1:-1], strict=True))
        return Model(spec=self.spec, params=groups[0], optimizer=self.optimizer, state=OptState(slots=slots),
                     trainable=groups[-1], step=self.step, epoch=self.epoch)

    def to_dict(self) -> dict[str, Any]:
        """The model's JSON-safe dict (as `Model.to_dict`)."""
        return self.restore().to_dict()


class TrainingSession:
    """Owns one network's training. Not thread-safe: call from one thread.

    `fast` (class-wide default, or per session): let `advance` run its updates
    on the compiled fast path (`app.nn.fast`) when it is available; the
    results are the same bits as the numpy reference path's.
    """

    fast: bool = True
    _seconds_per_update = 0.0  # of the last fast chunk, to size the next one to the deadline

    def __init__(self, config: RunConfig | None = None, hyper: HyperState | None = None) -> None:
        self.config = config or RunConfig()
        self.hyper = hyper or HyperState()
        self.version = 0  # bumped by every change a client should see
        self._build()

    # ------------------------------------------------------------------ build

    def _build(self) -> None:
        """(Re)build data, network, optimizer state and history from the config.

        Everything is made before anything is replaced, so a configuration
        that does not fit (ValueError) leaves the session as it was.
        """
        data: PreparedData = prepare(self.config)
        task = TASKS[data.task]
        n_outputs = data.n_classes if data.task == "multiclass" else 1
        spec = NetworkSpec(
            n_inputs=len(data.feature_names), hidden=tuple(self.config.hidden),
            activations=self.config.hidden_activations(), n_outputs=n_outputs, task=data.task)
        spec.validate()
        Y = {s: task.targets(data.y[s], data.n_classes) if data.task == "multiclass" else task.targets(data.y[s])
             for s in SPLITS}
        params = init_params(spec, self.config.init, np.random.default_rng([self.config.weights_seed(), INIT_STREAM]))
        self.data, self.spec, self.task, self.Y = data, spec, task, Y
        self.initial_params = copy.deepcopy(params)
        self._start(params)

    def _start(self, params: list[dict[str, np.ndarray]]) -> None:
        """Fresh optimizer state, counters and history around `params`."""
        self.model = Model(self.spec, params, optimizer=self.hyper.optimizer)
        # The model's arrays as views of flat vectors (see fast.Buffers): the fast
        # path, the finiteness check and the rollback point copy nothing else.
        self._buffers = fast.Buffers()
        self._finite_at: tuple[Any, ...] | None = None
        self.batch_rng = np.random.default_rng([self.config.seed, BATCH_STREAM])
        self.dropout_rng = np.random.default_rng([self.config.seed, DROPOUT_STREAM])
        self.queue: deque[np.ndarray] = deque()
        self.history = History()
        self.pending: Pending | None = None
        self.phase: str | None = None
        self.trace_index = 0
        self.trace: dict[str, Any] | None = None
        self.diverged: dict[str, Any] | None = None
        self.safe_state: dict[str, Any] | None = None  # the rollback point
        self.batch_loss = math.nan
        self.last_grads = [{"W": np.zeros_like(p["W"]), "b": np.zeros_like(p["b"])} for p in params]
        self.last_deltas = [{"W": np.zeros_like(p["W"]), "b": np.zeros_like(p["b"])} for p in params]
        self._zeros = [{"W": np.zeros_like(p["W"]), "b": np.zeros_like(p["b"])} for p in params]
        self._metrics_cache: tuple[tuple[int, int], dict[str, float | None]] | None = None
        self.version += 1
        self.safe_state = self.capture(self.metrics()["train_loss"])

    # ------------------------------------------------------------- properties

    @property
    def step(self) -> int:
        return int(self.model.step)

    @property
    def epoch(self) -> int:
        return int(self.model.epoch)

    @property
    def params(self) -> list[dict[str, np.ndarray]]:
        return self.model.params

    def architecture(self) -> dict[str, Any]:
        counts = [int(p["W"].size + p["b"].size) for p in self.params]
        return {
            "n_inputs": self.spec.n_inputs, "hidden": list(self.spec.hidden),
            "activations": list(self.spec.activations), "n_outputs": self.spec.n_outputs,
            "task": self.spec.task, "param_counts": counts, "total_params": int(count_params(self.spec)),
        }

    def engine_hyper(self) -> Hyperparams:
        h = self.hyper
        return Hyperparams(lr=h.lr, momentum=h.momentum, beta1=h.beta1, beta2=h.beta2, eps=h.eps, rho=h.rho,
                           optimizer=h.optimizer)

    # ---------------------------------------------------------------- training

    def _next_batch(self) -> np.ndarray:
        if not self.queue:
            n = self.data.n("train")
            self.queue.extend(batches.epoch_batches(n, min(self.hyper.batch_size, n), self.batch_rng))
        return self.queue.popleft()

    def _masks(self, n: int) -> list[np.ndarray] | None:
        if self.hyper.dropout <= 0 or not self.spec.hidden:
            return None
        return dropout.make_masks(self.spec, self.hyper.dropout, n, self.dropout_rng)

    def _apply(self, pending: Pending) -> None:
        """The update phase: regularize, step the optimizer, count, record."""
        grads = pending.grads
        deltas = update(self.params, grads, self.model.opt_state, self.engine_hyper(), self.model.trainable)
        self.last_grads = [{"W": g_w, "b": g_b} for g_w, g_b in zip(grads.dW, grads.db)]
        self.last_deltas = deltas
        self.model.step += 1
        self.batch_loss = pending.loss
        self.history.record_update(self.step, pending.loss)
        if not math.isfinite(pending.loss):
            self._diverge(f"the loss became {pending.loss} at update {self.step}")
        if not self.queue:
            self._end_epoch()

    def _forward(self, pending: Pending) -> None:
        X = self.data.X["train"][pending.idx]
        pending.out, pending.cache = forward(self.spec, self.params, X, self._masks(len(pending.idx)))

    def _loss(self, pending: Pending) -> None:
        Y = self.Y["train"][pending.idx]
        pending.loss = float(self.task.loss(pending.out, Y, pending.cache.Z[-1]))

    def _backward(self, pending: Pending) -> None:
        pending.grads = backward(self.spec, self.params, pending.cache, self.Y["train"][pending.idx])
        regularization.add_penalty_grad(self.params, pending.grads, self.hyper.regularization, self.hyper.reg_rate)

    def _run_update(self) -> None:
        pending = Pending(self._next_batch())
        self._forward(pending)
        self._loss(pending)
        self._backward(pending)
        self._apply(pending)

    def finish_pending(self) -> int:
        """Leave step-by-step mode, completing an update left half done; 1 if there was one."""
        pending, self.pending = self.pending, None
        self.phase = self.trace = None
        if pending is None:
            return 0
        for phase in range(pending.phase + 1, len(PHASES)):
            self._run_phase(pending, phase)
        self.version += 1
        return 1

    def advance(self, n_updates: int, deadline: float | None = None) -> int:
        """Run up to `n_updates` updates (stopping at `deadline`, a perf_counter time).

        An update that step-by-step mode left half done is completed first and
        counts as the first of them. Returns how many ran. Stops early, paused,
        when the run diverges.
        """
        if self.diverged is not None or n_updates < 1:
            return 0
        done = self.finish_pending()
        done = self._run_updates(n_updates, done, deadline)
        if done and self.diverged is None and not self._params_finite():
            self._diverge(f"a parameter became NaN or infinite by update {self.step}")
        if done:
            self._bump_version()
        return done

    def _bump_version(self) -> None:
        """Mark the state changed, keeping metrics computed at this very step.

        With one epoch per frame, `_end_epoch` has just computed the metrics of
        the final weights; the frame reads them again, and recomputing a forward
        pass over every split per frame is a large share of a small session's cost.
        """
        cache = self._metrics_cache
        self.version += 1
        if cache is not None and cache[0] == (self.step, self.version - 1):
            self._metrics_cache = ((self.step, self.version), cache[1])

    def _run_updates(self, n_updates: int, done: int, deadline: float | None) -> int:
        """Run updates until `done` reaches `n_updates`, the run diverges or
        `deadline` passes (checked before every update but the first of
        `advance`); returns the new `done`. The fast path runs them in chunks
        (up to the end of the epoch, `FAST_CHUNK` at most) with the same
        batches, dropout draws, records and divergence check as `_run_update`.
        """
        if not (self.fast and fast.available(wait=False)):
            while done < n_updates and self.diverged is None:
                if done and deadline is not None and time.perf_counter() >= deadline:
                    break
                self._run_update()
                done += 1
            return done
        while done < n_updates and self.diverged is None:
            now = time.perf_counter()
            if done and deadline is not None and now >= deadline:
                break
            if not self.queue:
                n = self.data.n("train")
                self.queue.extend(batches.epoch_batches(n, min(self.hyper.batch_size, n), self.batch_rng))
            k = min(n_updates - done, len(self.queue), FAST_CHUNK)
            if deadline is not None and self._seconds_per_update > 0:
                k = max(1, min(k, int((deadline - now) / self._seconds_per_update)))
            done += self._run_fast_chunk(k)
            self._seconds_per_update = (time.perf_counter() - now) / k
        return done

    def _run_fast_chunk(self, k: int) -> int:
        """The next `k` updates of this epoch in one compiled call; returns how many ran."""
        chunk = [self._next_batch() for _ in range(k)]
        rate = self.hyper.dropout if self.hyper.dropout > 0 and self.spec.hidden else 0.0
        try:
            result = fast.train_run(
                self.spec, self.params, self.model.opt_state, self.model.trainable, self.engine_hyper(),
                self.data.X["train"], self.Y["train"], chunk, self.hyper.regularization, self.hyper.reg_rate,
                rate, self.dropout_rng, buffers=self._buffers)
        except BaseException:
            self.queue.extendleft(reversed(chunk))  # it refused before touching anything
            raise
        self.queue.extendleft(reversed(chunk[result.done:]))  # batches of updates not run
        step = int(self.model.step)
        self.history.record_updates(step + 1, result.losses.tolist())
        self.model.step = step + result.done
        self.batch_loss = float(result.losses[-1])
        self.last_grads, self.last_deltas = result.grads, result.deltas
        if not math.isfinite(self.batch_loss):
            self._diverge(f"the loss became {self.batch_loss} at update {self.step}")
        if not self.queue:
            self._end_epoch()
        return result.done

    def step_epoch(self) -> int:
        """Run the updates left in the current epoch (a whole epoch at a boundary).

        A half-done update is completed first; when it was the last of its
        epoch, that is all this runs.
        """
        if self.diverged is not None:
            return 0
        return self.advance(self.updates_left_in_epoch())

    def updates_left_in_epoch(self) -> int:
        """Updates from here to the end of the current epoch (a whole epoch at a
        boundary); an update step-by-step mode left half done counts as the first."""
        if self.pending is not None:
            return 1 + len(self.queue)
        if not self.queue:
            n = self.data.n("train")
            self.queue.extend(batches.epoch_batches(n, min(self.hyper.batch_size, n), self.batch_rng))
        return len(self.queue)

    def step_phase(self) -> str:
        """Run the next phase of the current update; returns its name."""
        if self.diverged is not None:
            raise SessionError("the run diverged; roll back first", field="type", value="step")
        if self.pending is None:
            self.pending = Pending(self._next_batch())
        phase = self.pending.phase + 1
        self._run_phase(self.pending, phase)
        self.phase = PHASES[phase]
        self.trace = self._trace(self.pending, phase)
        if phase == len(PHASES) - 1:
            self.pending = None
        self.version += 1
        return PHASES[phase]

    def _run_phase(self, pending: Pending, phase: int) -> None:
        (self._forward, self._loss, self._backward, self._apply)[phase](pending)
        pending.phase = phase

    # ------------------------------------------------------------ trace sample

    def _trace(self, pending: Pending, phase: int) -> dict[str, Any]:
        """What `phase` computed for the traced sample (alone, without dropout)."""
        i = min(self.trace_index, self.data.n("train") - 1)
        x = self.data.X["train"][i:i + 1]
        Y = self.Y["train"][i:i + 1]
        out, cache = forward(self.spec, self.params if phase < 3 else self._params_before(), x)
        trace: dict[str, Any] = {
            "index": i, "x": self.data.raw["train"][i].tolist(), "inputs": x[0].tolist(),
            "target": Y[0].tolist(), "output": out[0].tolist(), "in_batch": bool(np.any(pending.idx == i)),
            "z": [z[0].tolist() for z in cache.Z], "a": [a[0].tolist() for a in cache.A],
            "batch_size": len(pending.idx),
        }
        if phase >= 1:
            trace["loss"] = float(self.task.loss(out, Y, cache.Z[-1]))
            trace["batch_loss"] = pending.loss
        if phase >= 2:
            grads = backward(self.spec, self.params if phase < 3 else self._params_before(), cache, Y)
            trace["dz"] = [dz[0].tolist() for dz in grads.dZ]
            if phase == 2:
                self.last_grads = [{"W": w, "b": b} for w, b in zip(pending.grads.dW, pending.grads.db)]
        return trace

    def _params_before(self) -> list[dict[str, np.ndarray]]:
        return [{"W": p["W"] - d["W"], "b": p["b"] - d["b"]} for p, d in zip(self.params, self.last_deltas)]

    def set_trace(self, index: int) -> None:
        n = self.data.n("train")
        if not 0 <= index < n:
            raise SessionError(f"trace index must be between 0 and {n - 1} (got {index})",
                               field="index", value=index, allowed=f"0 to {n - 1}")
        self.trace_index = index
        if self.pending is not None and self.pending.phase >= 0:
            self.trace = self._trace(self.pending, self.pending.phase)
        self.version += 1

    # ---------------------------------------------------------------- metrics

    def metrics(self) -> dict[str, float | None]:
        """Loss and accuracy on every split at the current weights (cached per step)."""
        key = (self.step, self.version)
        if self._metrics_cache is not None and self._metrics_cache[0] == key:
            return self._metrics_cache[1]
        out: dict[str, float | None] = {}
        penalty = regularization.penalty(self.params, self.hyper.regularization, self.hyper.reg_rate)
        for s in SPLITS:
            if self.data.n(s) == 0:
                out[f"{s}_loss"] = out[f"{s}_acc"] = None
                continue
            loss, out[f"{s}_acc"] = self._evaluate(s)
            out[f"{s}_loss"] = _finite(loss)
        train_loss = out["train_loss"]
        out["train_loss_penalized"] = None if train_loss is None else _finite(train_loss + penalty)
        out["batch_loss"] = _finite(self.batch_loss)
        self._metrics_cache = (key, out)
        return out

    def _evaluate(self, split: str) -> tuple[float, float | None]:
        """Loss and accuracy on `split`. On the fast path through the compiled
        kernel (the same bits, a few times cheaper: this runs at every epoch end)."""
        if self.fast:
            return fast.evaluate(self.spec, self.params, self.data.X[split], self.Y[split], self._buffers)
        return network.evaluate(self.spec, self.params, self.data.X[split], self.Y[split])

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Network outputs `[N x K]` for network inputs `X [N x F]`."""
        out, _ = forward(self.spec, self.params, X)
        return out

    # ----------------------------------------------------------------- changes

    def set_hyper(self, changes: dict[str, Any]) -> list[dict[str, Any]]:
        """Apply hyperparameter changes live and log each one. Returns the log entries."""
        self._checkpoint()
        logged = []
        for field, new in changes.items():
            if new is None:
                continue
            old = getattr(self.hyper, field)
            if old == new:
                continue
            if field == "batch_size" and new > self.data.n("train"):
                n = self.data.n("train")
                raise SessionError(f"batch_size must be between 1 and the {n} training points (got {new})",
                                   field="batch_size", value=new, allowed=f"1 to {n}")
            setattr(self.hyper, field, new)
            if field == "batch_size":
                self._rechunk()
            if field == "optimizer":
                # A new optimizer starts from rest: no velocity or moments carried over.
                self.model.optimizer = new
                self.model.reset_optimizer()
            entry = {"step": self.step, "field": field, "old": old, "new": new}
            self.history.record_change(self.step, field, old, new)
            logged.append(entry)
        if logged:
            self.version += 1
        return logged

    def _rechunk(self) -> None:
        """Split what is left of this epoch into batches of the new size."""
        if not self.queue:
            return
        rest = np.concatenate(list(self.queue))
        size = self.hyper.batch_size
        self.queue = deque(rest[i:i + size] for i in range(0, len(rest), size))

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
        if self.hyper.batch_size > self.data.n("train"):
            self.hyper.batch_size = self.data.n("train")

    def reset(self, same_weights: bool = True) -> None:
        """Train again from this run's initial weights, or from newly drawn ones."""
        if same_weights:
            self._start(copy.deepcopy(self.initial_params))
            return
        self.config = self.config.with_changes({"init_seed": self.config.weights_seed() + 1})
        params = init_params(self.spec, self.config.init, np.random.default_rng([self.config.weights_seed(), INIT_STREAM]))
        self.initial_params = copy.deepcopy(params)
        self._start(params)

    def _layer(self, layer: int) -> dict[str, np.ndarray]:
        n = len(self.params)
        if not 0 <= layer < n:
            raise SessionError(f"layer must be between 0 and {n - 1} (got {layer})",
                               field="layer", value=layer, allowed=f"0 to {n - 1}")
        return self.params[layer]

    def _check_index(self, name: str, value: int, size: int) -> None:
        if not 0 <= value < size:
            raise SessionError(f"{name} must be between 0 and {size - 1} for this layer (got {value})",
                               field=name, value=value, allowed=f"0 to {size - 1}")

    def set_param(self, layer: int, kind: str, i: int, j: int, value: float) -> float:
        """Set one weight or bias; returns the old value."""
        self._checkpoint()
        p = self._layer(layer)
        self._check_index("j", j, p["b"].shape[0])
        if kind == "W":
            self._check_index("i", i, p["W"].shape[0])
            old = float(p["W"][i, j])
            p["W"][i, j] = value
        else:
            old = float(p["b"][j])
            p["b"][j] = value
        self.history.record_change(self.step, f"{kind}[{layer}][{i},{j}]" if kind == "W" else f"b[{layer}][{j}]",
                                   old, value)
        self.version += 1
        return old

    def freeze(self, layer: int, target: str, i: int, j: int, frozen: bool) -> None:
        """Freeze or unfreeze a layer, a neuron, a weight or a bias."""
        self._checkpoint()
        p = self._layer(layer)
        masks = self.model.trainable
        if target == "layer":
            freezing.set_layer(masks, layer, not frozen)
        elif target == "neuron":
            self._check_index("j", j, p["b"].shape[0])
            freezing.set_neuron(masks, layer, j, not frozen)
        elif target == "weight":
            self._check_index("i", i, p["W"].shape[0])
            self._check_index("j", j, p["b"].shape[0])
            freezing.set_weight(masks, layer, i, j, not frozen)
        else:
            self._check_index("j", j, p["b"].shape[0])
            freezing.set_bias(masks, layer, j, not frozen)
        self.version += 1

    # -------------------------------------------------------------- divergence

    def _params_finite(self) -> bool:
        # One check over all the parameters, on their flat vector when they have
        # one; this runs at every epoch end and after every turn, so the answer
        # is kept for as long as the step, the version and the model are the same
        # (every change of a parameter moves the step or the version).
        seen = self._finite_at
        if (seen is not None and seen[0] == self.step and seen[1] == self.version and seen[2] is self.model
                and seen[3] is self.model.params):
            return bool(seen[4])
        flat = self._buffers.flat("params", self.params)
        if flat is None:
            flat = np.concatenate([p[k].ravel() for p in self.params for k in ("W", "b")])
        finite = bool(np.isfinite(flat).all())
        self._finite_at = (self.step, self.version, self.model, self.model.params, finite)
        return finite

    def _diverge(self, cause: str) -> None:
        safe_step = self.safe_state["step"] if self.safe_state else 0
        self.diverged = {"step": self.step, "cause": cause, "rollback_step": safe_step,
                         "advice": "lower the learning rate, then roll back"}

    def capture(self, loss: float | None = None) -> dict[str, Any]:
        """What a rollback returns to: a copy of the model (a `Checkpoint`), the step
        and the rest of the epoch."""
        return {"model": Checkpoint(self.model, self._buffers), "step": self.step, "queue": list(self.queue),
                "loss": loss}

    def _checkpoint(self) -> None:
        """Remember the state before a user's change: the usual cause of a divergence."""
        if self.diverged is None and self._params_finite():
            self.safe_state = self.capture(self.metrics()["train_loss"])

    def _end_epoch(self) -> None:
        """Count and record the epoch; move the rollback point here if training is healthy.

        Healthy: the training loss is finite and not more than half again the
        loss at the rollback point. A run that is blowing up keeps its old,
        sane rollback point, however many epochs the blow-up takes.
        """
        self.model.epoch += 1
        metrics = self.metrics()
        self.history.record_epoch(self.step, self.epoch, metrics)
        loss = metrics["train_loss"]
        kept = self.safe_state["loss"] if self.safe_state else None
        if loss is not None and (kept is None or loss <= 1.5 * kept) and self._params_finite():
            self.safe_state = self.capture(loss)

    def rollback(self) -> int:
        """Restore the last finite state; returns its step."""
        if self.diverged is None or self.safe_state is None:
            raise SessionError("nothing to roll back: the run has not diverged", code="not_diverged",
                               allowed="rollback after a divergence")
        state = self.safe_state
        self.model = state["model"].restore()
        self.queue = deque(state["queue"])
        self.history.truncate(int(state["step"]))
        self.pending, self.phase, self.trace, self.diverged = None, None, None, None
        self.batch_loss = math.nan
        # No update has happened since the restored state: show none (not the diverged one).
        self.last_grads = [{"W": np.zeros_like(p["W"]), "b": np.zeros_like(p["b"])} for p in self.params]
        self.last_deltas = [{"W": np.zeros_like(p["W"]), "b": np.zeros_like(p["b"])} for p in self.params]
        self.version += 1
        return int(state["step"])

    # ----------------------------------------------------------------- reading

    def snapshot(self) -> dict[str, Any]:
        """The newest state as arrays and numbers (the frame body, minus history)."""
        layers = []
        first = self.first_moment()
        for p, g, v, d, t in zip(self.params, self.last_grads, first, self.last_deltas, self.model.trainable):
            layers.append({
                "W": p["W"], "b": p["b"], "dW": g["W"], "db": g["b"], "vW": v["W"], "vb": v["b"],
                "deltaW": d["W"], "deltab": d["b"], "frozenW": ~t["W"], "frozenb": ~t["b"],
            })
        if self.hyper.optimizer == "adam":
            slots = self.model.opt_state.slots
            for layer, v, t in zip(layers, slots["v"], slots["t"]):
                layer.update(sW=v["W"], sb=v["b"], tW=t["W"], tb=t["b"])
        return {
            "step": self.step, "epoch": self.epoch, "phase": self.phase,
            "hyper": self.hyper.to_dict(), "layers": layers, "metrics": self.metrics(),
            "trace": self.trace, "diverged": self.diverged,
        }

    def first_moment(self) -> list[dict[str, np.ndarray]]:
        """The optimizer buffer shown as "velocity": momentum's v, Adam's m, RMSprop's s."""
        slot = FIRST_MOMENT.get(self.hyper.optimizer)
        if slot is None:
            return self._zeros
        return self.model.opt_state.slots[slot]

    def relevant_hyper(self) -> tuple[str, ...]:
        return OPTIMIZER_FIELDS[self.hyper.optimizer]

    # ------------------------------------------------------- import and export

    def export_model(self) -> dict[str, Any]:
        """The engine's JSON-safe model dict (architecture, params, optimizer state, counters)."""
        return self.model.to_dict()

    def import_model(self, data: Any) -> None:
        """Replace the model by an exported one; its inputs and outputs must fit this data."""
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
        self.initial_params = copy.deepcopy(model.params)
        self._start(model.params)
        self.model = model
        self.hyper.optimizer = model.optimizer
        self.model.step, self.model.epoch = step, epoch

    def predict_raw(self, points: list[list[float]]) -> np.ndarray:
        """Outputs `[N x K]` at raw input points (2-D: x1, x2 before the feature transforms)."""
        raw = np.asarray(points, dtype=np.float64)
        width = 2 if self.data.plane else self.spec.n_inputs
        if raw.ndim != 2 or raw.shape[1] != width or not np.isfinite(raw).all():
            raise ValueError(f"points must be finite rows of {width} numbers")
        X = features.transform(raw, list(self.data.feature_names)) if self.data.plane else raw
        return self.predict(X)


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None
