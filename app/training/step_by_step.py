"""Step-by-step mode: one update run a phase at a time, and the trace shown after each.

A session owns one `StepByStep`. `next_phase` runs the next phase of the
update in progress, beginning one on the next mini-batch when there is none;
`show` then traces what that phase computed for the traced sample. When
training goes on at full speed, `finish` leaves the mode, running what is
left of a half-done update. The phases are in `phases`, the update phase in
`updates`.
"""

from __future__ import annotations

import numpy as np

from app.training.batch_queue import BatchQueue
from app.training.phases import COMPUTE, PHASES, UPDATE, Params, Pending, Trace, UpdateContext, trace
from app.training.updates import Updates, apply_update


def run_phase(ctx: UpdateContext, pending: Pending, phase: int) -> Updates | None:
    """Run `phase` of `pending`; the update phase returns the update's result (for the
    session to record), the phases before it None."""
    result = None
    if phase == UPDATE:
        result = apply_update(ctx, pending)
    else:
        COMPUTE[phase](ctx, pending)
    pending.phase = phase
    return result


class StepByStep:
    """The update in progress, the last phase run, the trace and the traced sample."""

    def __init__(self) -> None:
        self.pending: Pending | None = None  # the update begun, until its update phase has run
        self.phase: str | None = None        # the name of the last phase run; None outside the mode
        self.trace: Trace | None = None      # what that phase computed for the traced sample
        self.trace_index = 0                 # the traced training sample

    def next_phase(self, ctx: UpdateContext, queue: BatchQueue) -> tuple[Pending, Updates | None]:
        """Run the next phase of the update in progress, or begin one on `queue`'s next batch.
        Returns the update and, once its update phase has run, its result."""
        if self.pending is None:
            self.pending = Pending(queue.next(ctx.hyper.batch_size))
        pending = self.pending
        result = run_phase(ctx, pending, pending.phase + 1)
        self.phase = PHASES[pending.phase]
        if pending.phase == UPDATE:
            self.pending = None
        return pending, result

    def show(self, ctx: UpdateContext, pending: Pending, raw: np.ndarray, last_deltas: Params) -> None:
        """Trace what `pending`'s last phase computed for the traced sample (`raw`: the
        training split's raw points; `last_deltas`: the last update's, see `phases.trace`)."""
        self.trace = trace(ctx, pending, pending.phase, self.trace_index, raw, last_deltas)

    def trace_sample(self, index: int, ctx: UpdateContext, raw: np.ndarray, last_deltas: Params) -> None:
        """Trace training sample `index` from now on, at once if an update is in progress."""
        self.trace_index = index
        if self.pending is not None and self.pending.phase >= 0:
            self.show(ctx, self.pending, raw, last_deltas)

    def leave(self) -> Pending | None:
        """Leave the mode (the traced sample stays); returns the update left half done, if any."""
        pending = self.pending
        self.pending, self.phase, self.trace = None, None, None
        return pending

    def finish(self, ctx: UpdateContext) -> Updates | None:
        """Leave the mode, running the phases left of an update half done; returns its result."""
        pending = self.leave()
        result = None
        if pending is not None:
            for phase in range(pending.phase + 1, len(PHASES)):
                result = run_phase(ctx, pending, phase)
        return result
