"""The parameter record of a run: every recent update exactly, older ones thinner.

Copying the parameters after every update would slow the fast path (it runs up
to 64 updates per compiled call) and take memory in proportion to the run. The
record keeps *keyframes* instead: the whole training state at a step (weights,
optimizer slots, trainable masks, counters, the batches left in the epoch, the
positions of the batch and dropout generators, the hyperparameters and the
training arrays), and for each keyframe how far the run went on from it with
nothing changed in between (`end`). Any step from `step` to `end` is then
rebuilt exactly by running the same updates again from the keyframe: the same
batches, the same dropout draws, on either path (they give the same bits), so
a rebuilt state is the state the run had, to the bit.

A keyframe is taken when a run of updates starts after anything changed (a
hyperparameter, an edit, a step by hand: the session's version moved), after
each update of step-by-step mode, and every `KEY_EVERY` updates of a long
uninterrupted run, so that rebuilding a recent step replays at most that many.

Thinning, as the run goes on (`thin`): keyframes whose span reaches into the
newest `RECENT` updates are all kept (every one of those updates is exact).
Older than that, at most one keyframe is kept per bucket of `MIDDLE_BUCKET`
steps for the next `MIDDLE` updates, and of `OLD_BUCKET` steps before; when
a dropped keyframe continued the one kept before it, the kept one's span grows
over it, so an uninterrupted run stays exact at every step (at a longer
replay), and only the steps after a change in a dropped bucket are lost. The
record keeps at most `MAX_KEYFRAMES` keyframes and `MAX_BYTES` of them: past
either, the old bucket doubles (and, if that is not enough, the oldest go).
Thinning reads every keyframe, so it runs once per `THIN_EVERY` keyframes added
(and at once past a bound): a keyframe is thinned a little after it ages.

The record is in memory only: it is not saved with a session, and a rebuilt
or restored session starts a new one.
"""

from __future__ import annotations

import copy
from bisect import bisect_right
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from app.nn import fast
from app.nn.losses import Task
from app.nn.model import Model
from app.nn.network import NetworkSpec
from app.nn.quantization import Setting
from app.training.batch_queue import BatchQueue
from app.training.config import HyperState
from app.training.phases import UpdateContext
from app.training.rollback import Checkpoint
from app.training.updates import LastUpdate, UpdateRunner, Updates

Params = list[dict[str, np.ndarray]]

RECENT = 1_000        # the newest updates, every one exact
MIDDLE = 10_000       # the updates before those: one keyframe per MIDDLE_BUCKET steps at most
MIDDLE_BUCKET = 10
OLD_BUCKET = 100      # before that: one per OLD_BUCKET steps (doubled while over the bounds)
KEY_EVERY = 256       # an uninterrupted run takes a keyframe this often: the longest recent replay
MAX_KEYFRAMES = 3_000
MAX_BYTES = 16 * 2**20  # per session (estimated: arrays and a fixed overhead per keyframe)
KEYFRAME_OVERHEAD = 2_000  # bytes: the Python objects and generator states of one keyframe
THIN_EVERY = 64       # keyframes added between two thinnings (a thinning reads every keyframe), unless over a bound


@dataclass
class Keyframe:
    """The whole training state at `step`, and `end`: the last step reached from it
    by updates alone (no change in between), so every step from `step` to `end` can
    be rebuilt from it. `continued`: the run reached this keyframe from the one before
    by updates alone (that one can replay through it)."""

    step: int
    end: int
    continued: bool
    model: Checkpoint
    batches: tuple[np.ndarray, ...]       # the batches left in the epoch, front first
    batch_rng: dict[str, Any]             # the batch order's generator state
    replay: tuple[float, int, int]        # the queue's replay share and pool, and its n_train
    dropout_rng: dict[str, Any]
    hyper: HyperState
    quantization: Setting
    spec: NetworkSpec
    task: Task
    X: np.ndarray                         # the training arrays the updates read [N x F], [N x K]
    Y: np.ndarray
    nbytes: int = 0


@dataclass
class State:
    """A rebuilt state: the model at `step`, the queue and the dropout generator as the run
    had them there, and the last update's gradients and deltas (None at a keyframe's own step)."""

    step: int
    model: Model
    queue: BatchQueue
    dropout_rng: np.random.Generator
    last: Updates | None
    keyframe: Keyframe


def keyframe_of(step: int, model: Model, buffers: fast.Buffers, queue: BatchQueue, dropout_rng: np.random.Generator,
                hyper: HyperState, quantization: Setting, spec: NetworkSpec, task: Task, X: np.ndarray,
                Y: np.ndarray, previous: Keyframe | None) -> Keyframe:
    """A keyframe of the state now. The batches left are shared with `previous` when they are
    the rest of its (the same epoch, nothing cut again): an epoch's indices are kept once."""
    left = len(queue)
    batches: tuple[np.ndarray, ...]
    if previous is not None and left and len(previous.batches) >= left:
        candidate = previous.batches[len(previous.batches) - left:]
        first = next(iter(queue))
        batches = candidate if candidate[0] is first else tuple(queue)
    else:
        batches = tuple(queue)
    checkpoint = Checkpoint(model, buffers)
    nbytes = sum(f.nbytes for f in checkpoint.flats) + KEYFRAME_OVERHEAD
    if previous is None or not previous.batches or not batches or batches[0].base is not previous.batches[0].base:
        nbytes += sum(b.nbytes for b in batches)  # a new epoch's indices (shared ones are counted once)
    return Keyframe(step=step, end=step, continued=False, model=checkpoint, batches=batches,
                    batch_rng=_copy_state(queue.rng.bit_generator.state),
                    replay=(queue.replay_share, queue.replay_pool, queue.n_train),
                    dropout_rng=_copy_state(dropout_rng.bit_generator.state), hyper=copy.copy(hyper),
                    quantization=quantization, spec=spec, task=task, X=X, Y=Y, nbytes=nbytes)


def _copy_state(state: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a bit generator's state (nested dicts of numbers: copied a level down, faster than deepcopy)."""
    return {k: dict(v) if isinstance(v, dict) else v for k, v in state.items()}


def _generator(state: dict[str, Any]) -> np.random.Generator:
    bit_generator = getattr(np.random, str(state["bit_generator"]))()
    bit_generator.state = copy.deepcopy(state)
    return np.random.Generator(bit_generator)


def _fresh(kf: Keyframe) -> State:
    """The state at the keyframe's own step: a new model, queue and generator (the keyframe stays)."""
    model = kf.model.restore()
    share, pool, n_train = kf.replay
    queue = BatchQueue(_generator(kf.batch_rng), n_train)
    queue.replace(kf.batches)
    queue.replay_share, queue.replay_pool = share, pool
    return State(kf.step, model, queue, _generator(kf.dropout_rng), None, kf)


def _advance(state: State, step: int, use_fast: bool) -> None:
    """Take `state` on to `step` by the run's next updates (in place)."""
    if step == state.step:
        return
    kf, model, queue = state.keyframe, state.model, state.queue
    ctx = UpdateContext(kf.spec, kf.task, model, kf.X, kf.Y, copy.copy(kf.hyper), state.dropout_rng,
                        fast.Buffers(), kf.quantization)
    last: list[Updates] = []

    def record(run: Updates) -> bool:
        model.step += run.done
        if not queue:
            model.epoch += 1
        last[:] = [run]
        return True

    UpdateRunner().run(ctx, queue, step - state.step, 0, None, use_fast and fast.available(wait=False), record)
    if model.step != step:  # the run went no further than it did here (a loss that was not finite)
        raise ValueError(f"the replay stopped at step {model.step}, not {step}")
    run = last[-1]  # the fast path's arrays are overwritten by its next run: copies
    state.last = Updates(run.done, run.losses, [{k: v.copy() for k, v in g.items()} for g in run.grads],
                         [{k: v.copy() for k, v in d.items()} for d in run.deltas], run.dropped)
    state.step = step


def rebuild(kf: Keyframe, step: int, use_fast: bool) -> State:
    """The state at `step` (from `kf.step` to `kf.end`), rebuilt by replaying the run's
    updates from `kf`: a new model, queue and generator (the keyframe is not changed)."""
    if not kf.step <= step <= kf.end:
        raise ValueError(f"step {step} is not in this keyframe's span {kf.step}..{kf.end}")
    state = _fresh(kf)
    _advance(state, step, use_fast)
    return state


@dataclass
class Timeline:
    """The record of one run (see the module's docstring). Not thread-safe: the session
    changes it; `view()` gives a copy of its keyframes to read in another thread."""

    keyframes: list[Keyframe] = field(default_factory=list)
    old_bucket: int = OLD_BUCKET
    _open: bool = False              # a run of updates is going on (between `begin` and `close`)
    _closed_at: tuple[int, int] | None = None  # (step, version) when the last run ended
    nbytes: int = 0
    _added: int = 0                  # keyframes added since the last thinning
    thinned_at: int = 0              # the step the record was last thinned at

    def clear(self) -> None:
        self.keyframes.clear()
        self.old_bucket, self._open, self._closed_at, self.nbytes, self._added = OLD_BUCKET, False, None, 0, 0
        self.thinned_at = 0

    @property
    def last(self) -> Keyframe | None:
        return self.keyframes[-1] if self.keyframes else None

    def begin(self, step: int, version: int, make: Callable[[Keyframe | None], Keyframe]) -> None:
        """A run of updates starts at `step`; the session's `version` says whether anything
        changed since the last run ended. `make(previous)` takes a keyframe of the state now."""
        last = self.last
        going_on = last is not None and last.end == step and self._closed_at == (step, version)
        if not (going_on and last is not None and step - last.step < KEY_EVERY):
            self._add(make(last), continued=going_on)
        self._open = True

    def close(self, step: int, version: int) -> None:
        """The run of updates that `begin` opened ended at `step`, the session now at `version`."""
        self._open = False
        self._closed_at = (step, version)

    def updated(self, step: int, done: int, make: Callable[[Keyframe | None], Keyframe]) -> None:
        """`done` updates ran, up to `step`. In a run `begin` opened, the last keyframe's span
        grows (a new keyframe every `KEY_EVERY` updates); otherwise (step-by-step mode) the
        state after the update is a keyframe of its own."""
        last = self.last
        if self._open and last is not None and last.end == step - done:
            last.end = step
            if step - last.step >= KEY_EVERY:
                self._add(make(last), continued=True)
        else:
            self._add(make(last), continued=False)

    def _add(self, kf: Keyframe, continued: bool) -> None:
        kf.continued = continued
        if self.keyframes and self.keyframes[-1].step == kf.step and not continued:
            self.nbytes -= self.keyframes.pop().nbytes  # the same step again (a change there): the newer state
        elif self.keyframes and self.keyframes[-1].step == kf.step:
            return
        self.keyframes.append(kf)
        self.nbytes += kf.nbytes
        self._added += 1
        # Thinned every THIN_EVERY keyframes: a keyframe leaving the newest RECENT updates is thinned
        # at most that many keyframes late (each of them at least an update later).
        if self._added >= THIN_EVERY or len(self.keyframes) > MAX_KEYFRAMES or self.nbytes > MAX_BYTES:
            self.thin(kf.step)

    def truncate(self, step: int) -> None:
        """Forget what came after `step` (the run went back there)."""
        while self.keyframes and self.keyframes[-1].step > step:
            self.nbytes -= self.keyframes.pop().nbytes
        if self.keyframes:
            self.keyframes[-1].end = min(self.keyframes[-1].end, step)
        self._open, self._closed_at = False, None

    def thin(self, now: int) -> None:
        """Drop keyframes as the module's docstring says, for a run now at step `now`."""
        self._added, self.thinned_at = 0, now
        while True:
            self._thin_once(now)
            if len(self.keyframes) <= MAX_KEYFRAMES and self.nbytes <= MAX_BYTES:
                return
            if self.old_bucket < 2**40 and any(k.end < now - RECENT - MIDDLE for k in self.keyframes):
                self.old_bucket *= 2
            elif len(self.keyframes) > 1:
                self.nbytes -= self.keyframes.pop(0).nbytes  # nothing old left to thin: the oldest goes
            else:
                return

    def _thin_once(self, now: int) -> None:
        kept: list[Keyframe] = []
        for kf in self.keyframes:
            prev = kept[-1] if kept else None
            age = now - kf.end
            if prev is None or age <= RECENT:
                kept.append(kf)
                continue
            width = MIDDLE_BUCKET if now - kf.step <= RECENT + MIDDLE else self.old_bucket
            if kf.step // width != prev.step // width:
                kept.append(kf)
                continue
            if kf.continued and prev.end == kf.step:
                prev.end = kf.end  # replayed through from the kept one
            self.nbytes -= kf.nbytes
        self.keyframes[:] = kept

    # ------------------------------------------------------------------ reading

    def spans(self) -> list[tuple[int, int]]:
        """The recorded steps, as (first, last) ranges, oldest first."""
        return [(k.step, k.end) for k in self.keyframes]

    def view(self) -> Record:
        """A copy of the keyframes and their spans, to read from another thread."""
        return Record([(k, k.end) for k in self.keyframes])


@dataclass(frozen=True)
class Record:
    """A timeline's keyframes as they were when taken, each with its span's end."""

    entries: list[tuple[Keyframe, int]]
    starts: list[int] = field(init=False)  # the keyframes' steps, to search

    def __post_init__(self) -> None:
        object.__setattr__(self, "starts", [k.step for k, _ in self.entries])

    def find(self, step: int) -> tuple[Keyframe, int] | None:
        """The keyframe whose span holds `step`, or None when `step` was not recorded exactly."""
        i = bisect_right(self.starts, step) - 1
        if i >= 0:
            kf, end = self.entries[i]
            if step <= end:
                return kf, end
        return None

    def nearest(self, step: int) -> tuple[int | None, int | None]:
        """The recorded steps nearest to `step`: the last at or before it, the first after it."""
        before = after = None
        for kf, end in self.entries:
            if kf.step <= step:
                before = min(step, end)
            elif after is None:
                after = kf.step
        return before, after

    def steps(self) -> int:
        """How many steps are recorded."""
        total, last = 0, -1
        for kf, end in self.entries:
            first = max(kf.step, last + 1)
            total += max(0, end - first + 1)
            last = max(last, end)
        return total

    def pick(self, most: int) -> list[int]:
        """At most `most` recorded steps spread evenly over the record (the newest always)."""
        n = self.steps()
        if n == 0:
            return []
        want = sorted({int(x) for x in np.rint(np.linspace(0, n - 1, min(most, n)))})
        out, i, seen, last = [], 0, 0, -1
        for kf, end in self.entries:
            first = max(kf.step, last + 1)
            count = max(0, end - first + 1)
            while i < len(want) and want[i] < seen + count:
                out.append(first + want[i] - seen)
                i += 1
            seen += count
            last = max(last, end)
        return out

    def state(self, step: int, use_fast: bool) -> State:
        """The state at recorded step `step` (ValueError when it is not recorded)."""
        found = self.find(step)
        if found is None:
            raise ValueError(f"step {step} is not recorded")
        return rebuild(found[0], step, use_fast)

    def params_at(self, steps: list[int], use_fast: bool) -> list[tuple[int, Params, Keyframe]]:
        """Copies of the params at recorded `steps` (increasing), with their keyframes: one
        replay per keyframe, going forward."""
        out: list[tuple[int, Params, Keyframe]] = []
        current: State | None = None
        for step in steps:
            found = self.find(step)
            if found is None:
                raise ValueError(f"step {step} is not recorded")
            if current is None or current.keyframe is not found[0] or current.step > step:
                current = _fresh(found[0])
            _advance(current, step, use_fast)
            out.append((step, [{k: v.copy() for k, v in p.items()} for p in current.model.params], found[0]))
        return out


def last_update_of(state: State) -> LastUpdate:
    """What the page shows of the last update at a rebuilt state (NaN loss at a keyframe's own step)."""
    shown = LastUpdate(state.model.params)
    if state.last is not None:
        shown.record(state.last)
    return shown
