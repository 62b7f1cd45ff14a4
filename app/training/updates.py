"""Running updates: on the compiled fast path or the numpy reference path,
to a count or a deadline, each run reported as one `Updates`.

The two paths give the same bits (same batches, same dropout draws); the
fast one runs up to `FAST_CHUNK` updates per compiled call and sizes its
calls to the deadline, the reference one runs one update at a time.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from app.nn import fast
from app.nn.optimizers import Hyperparams, update
from app.nn.regularization import stops_at_zero
from app.training.batch_queue import BatchQueue
from app.training.config import HyperState
from app.training.phases import COMPUTE, Params, Pending, UpdateContext, dropped_row, grads_of

# Updates the fast path runs per compiled call at most; the deadline is checked
# between calls.
FAST_CHUNK = 64

Clock = Callable[[], float]


@dataclass
class Updates:
    """What a run of updates did: `done` of them (a run stops after an update whose
    loss is not finite), their batch `losses`, and the gradients (penalty included)
    and deltas of the last one, shaped like the params; `dropped`: with dropout, the
    units dropped for the first sample of the last one's batch, per hidden layer."""

    done: int
    losses: list[float]
    grads: Params
    deltas: Params
    dropped: list[np.ndarray] | None = None


class LastUpdate:
    """The last update as the page shows it: its batch `loss`, its gradients (penalty
    included) and `deltas`, shaped like the params; NaN and zeros while none has run
    since the state was set. `zeros` stand for the velocity of an optimizer without one.
    `dropped`: the units dropout dropped for the sample shown (see `Updates.dropped`;
    step by step, the traced one when it was in the batch), None without dropout."""

    def __init__(self, params: Params) -> None:
        self.loss = math.nan
        self.dropped: list[np.ndarray] | None = None
        self.grads, self.deltas, self.zeros = (
            [{"W": np.zeros_like(p["W"]), "b": np.zeros_like(p["b"])} for p in params] for _ in range(3))

    def record(self, run: Updates) -> None:
        """Show the last update of `run`."""
        self.loss = float(run.losses[-1])
        self.grads, self.deltas = run.grads, run.deltas
        # The fast path's arrays are overwritten by its next run: a copy (a few booleans).
        self.dropped = [d.copy() for d in run.dropped] if run.dropped is not None else None


def engine_hyper(h: HyperState) -> Hyperparams:
    """The optimizer's hyperparameters out of the session's."""
    return Hyperparams(lr=h.lr, momentum=h.momentum, beta1=h.beta1, beta2=h.beta2, eps=h.eps, rho=h.rho,
                       optimizer=h.optimizer)


def apply_update(ctx: UpdateContext, pending: Pending) -> Updates:
    """The update phase: the optimizer steps with the backward phase's gradients."""
    model = ctx.model
    h = ctx.hyper
    deltas = update(model.params, pending.grads, model.opt_state, engine_hyper(h), model.trainable,
                    stops_at_zero(h.regularization, h.reg_rate))
    return Updates(done=1, losses=[pending.loss], grads=grads_of(pending), deltas=deltas,
                   dropped=dropped_row(pending, 0))


def run_reference(ctx: UpdateContext, batches: list[np.ndarray]) -> Updates:
    """One numpy update per batch, phase after phase (`batches` not empty)."""
    losses: list[float] = []
    for idx in batches:
        pending = Pending(idx)
        for compute in COMPUTE:
            compute(ctx, pending)
        last = apply_update(ctx, pending)
        losses.append(pending.loss)
        if not math.isfinite(pending.loss):
            break
    return Updates(done=len(losses), losses=losses, grads=last.grads, deltas=last.deltas, dropped=last.dropped)


def run_fast(ctx: UpdateContext, batches: list[np.ndarray]) -> Updates:
    """The updates of `batches` in one compiled call, in place on the model's flat buffers."""
    h = ctx.hyper
    rate = h.dropout if h.dropout > 0 and ctx.spec.hidden else 0.0
    model = ctx.model
    result = fast.train_run(ctx.spec, model.params, model.opt_state, model.trainable, engine_hyper(h), ctx.X, ctx.Y,
                            batches, h.regularization, h.reg_rate, rate, ctx.dropout_rng, buffers=ctx.buffers)
    return Updates(done=result.done, losses=result.losses.tolist(), grads=result.grads, deltas=result.deltas,
                   dropped=result.dropped)


class UpdateRunner:
    """Runs a session's updates from its batch queue, by chunks that never cross
    an epoch's end, so that the session can close the epoch after each chunk.
    Deadlines are times of `clock` (seconds; `time.perf_counter` unless a test
    gives a clock of its own)."""

    def __init__(self, clock: Clock = time.perf_counter) -> None:
        self.clock = clock
        self.seconds_per_update = 0.0  # of the last fast chunk, to size the next one to the deadline

    def run(self, ctx: UpdateContext, queue: BatchQueue, n_updates: int, done: int, deadline: float | None,
            use_fast: bool, record: Callable[[Updates], bool]) -> int:
        """Run updates until `done` reaches `n_updates`, `record` (which applies each
        chunk's `Updates` to the session) answers False, or `deadline` (a time of the
        clock) passes; the deadline is checked before every chunk but the first of a
        call that starts at `done` 0. Returns the new `done`."""
        # The compiled path knows no quantization: quantization-aware updates run on the reference path.
        use_fast = use_fast and not ctx.quantization.aware
        while done < n_updates:
            now = self.clock()
            if done and deadline is not None and now >= deadline:
                break
            left = queue.refill(ctx.hyper.batch_size)
            k = self._chunk(n_updates - done, left, now, deadline) if use_fast else 1
            batches = queue.take(k)
            try:
                result = run_fast(ctx, batches) if use_fast else run_reference(ctx, batches)
            except BaseException:
                queue.put_back(batches)  # the update did not count: its batch is still the next
                raise
            queue.put_back(batches[result.done:])  # batches of updates not run (a loss went non-finite)
            done += result.done
            go_on = record(result)
            if use_fast:
                self.seconds_per_update = (self.clock() - now) / k
            if not go_on:
                break
        return done

    def _chunk(self, want: int, left: int, now: float, deadline: float | None) -> int:
        """Updates for the next compiled call: to the epoch's end, `FAST_CHUNK` at most,
        and no more than the last call's pace fits before `deadline`."""
        k = min(want, left, FAST_CHUNK)
        if deadline is not None and self.seconds_per_update > 0:
            k = max(1, min(k, int((deadline - now) / self.seconds_per_update)))
        return k
