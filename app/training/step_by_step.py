"""Step-by-step mode: one update run a phase at a time, and the trace shown after each.

A session owns one `StepByStep`. `step` runs the next phase of the update in
progress, beginning one on the next mini-batch when there is none, and traces
what that phase computed for the traced sample. When training goes on at full
speed, `finish` leaves the mode, running what is left of a half-done update.
The phases are in `phases`, the update phase in `updates`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from app.training.batch_queue import BatchQueue
from app.training.phases import (
    BACKWARD,
    COMPUTE,
    PHASES,
    UPDATE,
    Pending,
    Trace,
    UpdateContext,
    dropped_row,
    grads_of,
    trace,
)
from app.training.updates import LastUpdate, Updates, apply_update

Record = Callable[[Updates], object]  # the session's: counts and records a completed update


def run_phase(ctx: UpdateContext, pending: Pending, phase: int, record: Record) -> None:
    """Run `phase` of `pending`; the update phase hands the update's result to `record`."""
    if phase == UPDATE:
        record(apply_update(ctx, pending))
    else:
        COMPUTE[phase](ctx, pending)
    pending.phase = phase


class StepByStep:
    """The update in progress, the last phase run, the trace and the traced sample."""

    def __init__(self) -> None:
        self.pending: Pending | None = None  # the update begun, until its update phase has run
        self.phase: str | None = None        # the name of the last phase run; None outside the mode
        self.trace: Trace | None = None      # what that phase computed for the traced sample
        self.trace_index = 0                 # the traced training sample
        self.dropout_before: dict[str, Any] | None = None  # the dropout generator's state as `pending` began

    def step(self, ctx: UpdateContext, queue: BatchQueue, last: LastUpdate, raw: np.ndarray,
             record: Record) -> str:
        """Run the next phase of the update in progress, or begin one on `queue`'s next batch,
        and trace it (`raw`: the training split's raw points). The backward phase shows its
        gradients in `last` before the update uses them. Returns the phase's name."""
        if self.pending is None:
            self.pending = Pending(queue.next(ctx.hyper.batch_size))
            # Where dropout's generator stood before this update drew its masks: a session stored
            # mid-update restarts the update from there (persist.session_state), masks and all.
            self.dropout_before = dict(ctx.dropout_rng.bit_generator.state)
        pending = self.pending
        phase = pending.phase + 1
        run_phase(ctx, pending, phase, record)
        if phase == BACKWARD:
            last.grads = grads_of(pending)
        if phase == UPDATE:
            self.pending = None
            last.dropped = dropped_row(pending, self._row(pending))  # the traced sample's, as before the update
        self.phase = PHASES[phase]
        self.trace = trace(ctx, pending, phase, self.trace_index, raw, last.deltas)
        return self.phase

    def _row(self, pending: Pending) -> int:
        """The traced sample's row in `pending`'s batch; the first row when it is not in it."""
        hits = np.flatnonzero(pending.idx == self.trace_index)
        return int(hits[0]) if hits.size else 0

    def dropped(self, last: LastUpdate) -> list[np.ndarray] | None:
        """The units dropout dropped, per hidden layer: in the update in progress (once its
        forward phase ran) for the traced sample, or the first of the batch when the traced
        one is not in it; otherwise those of the `last` update."""
        pending = self.pending
        if pending is not None and pending.cache is not None:
            return dropped_row(pending, self._row(pending))
        return last.dropped

    def trace_sample(self, index: int, ctx: UpdateContext, raw: np.ndarray, last: LastUpdate) -> None:
        """Trace training sample `index` from now on, at once if an update is in progress."""
        self.trace_index = index
        pending = self.pending
        if pending is not None and pending.phase >= 0:
            self.trace = trace(ctx, pending, pending.phase, index, raw, last.deltas)

    def leave(self) -> None:
        """Leave the mode, dropping an update half done (the traced sample stays)."""
        self.pending, self.phase, self.trace = None, None, None

    def finish(self, ctx: UpdateContext, record: Record) -> int:
        """Leave the mode, running the phases left of an update half done; 1 if there was one."""
        pending = self.pending
        self.leave()
        if pending is None:
            return 0
        for phase in range(pending.phase + 1, len(PHASES)):
            run_phase(ctx, pending, phase, record)
        return 1
