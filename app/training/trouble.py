"""Trouble explained: a run that is stuck, dead, oscillating, growing or diverged, in plain words.

Judged from the batch loss of the last `WINDOW` updates and the hidden units'
outputs on the probe batch (`histograms.probe_rows`), on every task alike:

    stuck        the loss is flat (the means of the window's two halves differ by
                 less than `FLAT` of their size) while at least `MOST` of the
                 tanh/sigmoid units are saturated: |tanh| > 0.99, or sigmoid below
                 0.01 or above 0.99, on at least `SATURATED_POINTS` of the probe points;
                 or, on the playground task (a tanh output under the square loss, whose
                 gradient vanishes with it), while the output is saturated on at least
                 `SATURATED_POINTS` of the probe points and on the wrong side on at
                 least `WRONG` of them
    dead         the loss is flat while at least `MOST` of the ReLU units are dead:
                 zero on every probe point (leaky ReLUs never are)
    oscillating  the loss goes up and down: at least `SIGN_CHANGES` of its successive
                 differences change sign (noise alone changes about two in three),
                 by steps of at least `SWING` of its mean, and no net progress
    growing      the means of the window's `BLOCKS` blocks rise one after the other (one
                 fall allowed; noise alone does this about 3 times in 10,000), the last
                 at least `GROWTH` times the first
    diverged     the loss or a parameter is no longer finite (the divergence guard)

The flat, oscillating and growing tests need a full window: nothing is said
about a run younger than `WINDOW` updates since its last change (a rebuild, a
rollback, a fork). A trouble found stays said, with its start, until it has
not been found for `CLEAR_AFTER` updates; a lower learning rate does not hide
it at once, so that the advice's second half (roll back) stays at hand.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from app.nn.network import NetworkSpec, Params, forward

WINDOW = 200
FLAT = 0.02
MOST = 0.5
SATURATED_POINTS = 0.9
SIGN_CHANGES = 0.85
SWING = 0.1
BLOCKS = 10
GROWTH = 1.5
WRONG = 0.1
# A trouble found stays said until it has not been found for this many updates: its tests sit near their
# thresholds on a noisy loss, and a verdict that came and went every few dozen updates (its start moving
# each time) would blink on the page and never say how long it had lasted.
CLEAR_AFTER = 2 * WINDOW
# A playing run is judged again once it has gone this many updates further: judging takes a forward pass of the
# probe points and several passes over the window, too much for every frame of every session (a verdict is
# about the last WINDOW updates: at the page's default pace of 250 updates a second that is still more than
# one verdict a second); a paused run is judged again at every change. It stays below CLEAR_AFTER, so that a
# trouble found once in every few judgements is held between them.
JUDGE_EVERY = WINDOW
SATURATING = {"tanh": "|tanh| > 0.99", "sigmoid": "sigmoid below 0.01 or above 0.99"}


@dataclass(frozen=True)
class Trouble:
    """What the frame's `trouble` says."""

    kind: str
    since_step: int
    message: str
    advice: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def is_flat(losses: np.ndarray) -> bool:
    """Whether the two halves of `losses` have means within `FLAT` of each other."""
    half = len(losses) // 2
    first, second = float(losses[:half].sum()) / half, float(losses[half:].sum()) / (len(losses) - half)
    return abs(second - first) <= FLAT * max(abs(first), abs(second), 1e-12)


def oscillation(losses: np.ndarray) -> float:
    """The share of successive differences of `losses` that change sign, when they swing by at least
    `SWING` of the mean loss on average and the loss makes no net progress; 0 otherwise."""
    n, half = len(losses), len(losses) // 2
    first, second = float(losses[:half].sum()) / half, float(losses[half:].sum()) / (n - half)
    d = np.diff(losses)
    mean = float(losses.sum()) / n
    if float(np.abs(d).sum()) / (n - 1) < SWING * abs(mean) or second < (1 - FLAT) * first:
        return 0.0
    signs = np.sign(d)
    return float(np.count_nonzero(signs[1:] * signs[:-1] < 0)) / (n - 2)


def block_means(losses: np.ndarray) -> list[float]:
    """The means of `losses` cut into `BLOCKS` blocks (as np.array_split cuts them), in one pass when they
    are of one size."""
    if len(losses) % BLOCKS == 0:
        return (losses.reshape(BLOCKS, -1).sum(axis=1) / (len(losses) // BLOCKS)).tolist()
    return [float(np.mean(b)) for b in np.array_split(losses, BLOCKS)]


def is_growing(losses: np.ndarray) -> bool:
    means = block_means(losses)
    falls = sum(b <= a for a, b in zip(means, means[1:]))
    return falls <= 1 and means[-1] >= GROWTH * means[0]


def hidden_and_output(spec: NetworkSpec, params: Params, X: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """The hidden layers' outputs and the network's output on the points `X` (one forward pass)."""
    out, cache = forward(spec, params, X)
    return list(cache.H[1:1 + len(spec.hidden)]), out


def output_saturation(spec: NetworkSpec, params: Params, X: np.ndarray, Y: np.ndarray,
                      out: np.ndarray | None = None) -> tuple[float, float]:
    """On the playground task, the shares of the points `X` (targets `Y`, -1 or +1) where the tanh output
    is saturated (|o| > 0.99), and saturated on the wrong side; (0, 0) on the other tasks. `out`: the
    network's output on `X`, when it is already known."""
    if spec.task != "playground":
        return 0.0, 0.0
    if out is None:
        out = hidden_and_output(spec, params, X)[1]
    saturated = np.abs(out) > 0.99
    n = saturated.size
    return (float(np.count_nonzero(saturated)) / n,
            float(np.count_nonzero(saturated & (np.sign(out) != np.sign(Y)))) / n)


def unit_states(spec: NetworkSpec, params: Params, X: np.ndarray,
                hidden: list[np.ndarray] | None = None) -> tuple[int, int, int, int]:
    """(saturated, saturating units, dead, ReLU units) among the hidden units, on the points `X`.
    `hidden`: the hidden layers' outputs on `X`, when they are already known."""
    if hidden is None:
        hidden = hidden_and_output(spec, params, X)[0]
    saturated = saturating = dead = relus = 0
    points = SATURATED_POINTS * len(X)
    for act, H in zip(spec.activations, hidden):
        if act == "tanh":
            saturated += int(np.count_nonzero(np.count_nonzero(np.abs(H) > 0.99, axis=0) >= points))
            saturating += H.shape[1]
        elif act == "sigmoid":
            saturated += int(np.count_nonzero(np.count_nonzero((H < 0.01) | (H > 0.99), axis=0) >= points))
            saturating += H.shape[1]
        elif act == "relu":
            dead += int(np.count_nonzero(~(H != 0).any(axis=0)))
            relus += H.shape[1]
    return saturated, saturating, dead, relus


def diagnose(losses: np.ndarray, step: int, spec: NetworkSpec, params: Params, X_probe: np.ndarray,
             Y_probe: np.ndarray, lr: float, since: int | None = None) -> Trouble | None:
    """The trouble of a run now at `step` whose last updates had batch `losses` (the newest last,
    `WINDOW` of them at least for a verdict), judged on the probe points `X_probe` (targets
    `Y_probe`); None when all looks well. `since`: the step the trouble began, when it was seen
    before (the words then say how long it has lasted); by default the window's first step."""
    if len(losses) < WINDOW:
        return None
    window = np.asarray(losses[-WINDOW:], dtype=np.float64)
    if not np.isfinite(window).all():
        return None  # the divergence guard speaks
    since = step - WINDOW if since is None else since
    lasted = step - since
    lower = (f"lower the learning rate (now {lr:g}), then roll back (rewind to a step before {since} and go on "
             "from there) or reset the weights" if since > 0 else
             f"lower the learning rate (now {lr:g}), then reset the weights (it went wrong from the start)")
    if is_growing(window):
        means = block_means(window)
        return Trouble("growing", since, f"the loss has grown for {lasted} updates, from {means[0]:.3g} to "
                       f"{means[-1]:.3g}: each step overshoots and lands higher", lower)
    share = oscillation(window)
    if share >= SIGN_CHANGES:
        swing = float(np.abs(np.diff(window)).sum()) / (WINDOW - 1)
        return Trouble("oscillating", since, f"the loss has gone up and down for {lasted} updates "
                       f"({share:.0%} of its steps change direction, by {swing:.3g} on average around "
                       f"{float(window.sum()) / WINDOW:.3g}) without coming down: the steps jump across the valley",
                       f"lower the learning rate (now {lr:g}) or the momentum")
    if not is_flat(window):
        return None
    hidden, out = hidden_and_output(spec, params, X_probe)  # one forward pass for both tests below
    saturated, saturating, dead, relus = unit_states(spec, params, X_probe, hidden)
    level = float(window[WINDOW // 2:].sum()) / (WINDOW - WINDOW // 2)
    if relus and dead >= MOST * relus:
        return Trouble("dead", since, f"the loss has stayed at {level:.3g} for {lasted} updates while {dead} of "
                       f"the {relus} ReLU units ({dead / relus:.0%}) are dead (zero on every probe point): they "
                       "pass no gradient and cannot come back", lower + "; or try leaky ReLU")
    if saturating and saturated >= MOST * saturating:
        acts = sorted({a for a in spec.activations if a in SATURATING})
        what = ", ".join(SATURATING[a] for a in acts)
        return Trouble("stuck", since, f"the loss has stayed at {level:.3g} for {lasted} updates while "
                       f"{saturated / saturating:.0%} of the hidden units are saturated ({what} on at least "
                       f"{SATURATED_POINTS:.0%} of the probe points): their gradients are nearly zero",
                       lower)
    saturated_out, wrong = output_saturation(spec, params, X_probe, Y_probe, out)
    if saturated_out >= SATURATED_POINTS and wrong >= WRONG:
        return Trouble("stuck", since, f"the loss has stayed at {level:.3g} for {lasted} updates while the output "
                       f"is saturated (|tanh| > 0.99) on {saturated_out:.0%} of the probe points, on the wrong side "
                       f"on {wrong:.0%}: its gradient is nearly zero there", lower)
    return None


class TroubleWatch:
    """The batch losses of the last `WINDOW` updates of a run, and the trouble judged from them
    (kept while it lasts, so `since_step` stays where it began)."""

    def __init__(self) -> None:
        # The newest losses end at `_end` of a buffer twice the window long: a frame's updates are
        # written in one slice, and the window is read as one slice, with no copy into a new array.
        self._buffer = np.empty(2 * WINDOW)
        self._end = 0
        self.current: Trouble | None = None
        self._judged: tuple[Any, ...] | None = None
        self._judged_step = 0
        self._last_found = 0  # the step the current trouble was last found at

    @property
    def losses(self) -> np.ndarray:
        """The batch losses of the last `WINDOW` updates at most, the newest last."""
        return self._buffer[max(0, self._end - WINDOW):self._end]

    def record(self, losses: list[float]) -> None:
        new = np.asarray(losses[-WINDOW:], dtype=np.float64)
        if self._end + len(new) > len(self._buffer):
            keep = WINDOW - len(new)
            self._buffer[:keep] = self._buffer[self._end - keep:self._end]
            self._end = keep
        self._buffer[self._end:self._end + len(new)] = new
        self._end += len(new)

    def clear(self) -> None:
        self._end = 0
        self.current = None
        self._judged = None

    def judge(self, key: Any, step: int, spec: NetworkSpec, params: Params, X_probe: np.ndarray,
              Y_probe: np.ndarray, lr: float) -> Trouble | None:
        """The trouble now, judged once per `key` (the session's step and version). A trouble of the
        kind already said keeps its start; one no longer found is still said for `CLEAR_AFTER` updates.
        A run that went on by fewer than `JUDGE_EVERY` updates keeps the verdict it had."""
        if self._judged == key or (self._judged is not None and 0 < step - self._judged_step < JUDGE_EVERY):
            return self.current
        losses = self.losses
        current = self.current
        found = diagnose(losses, step, spec, params, X_probe, Y_probe, lr,
                         since=current.since_step if current is not None else None)
        if found is not None and current is not None and found.kind != current.kind:
            found = diagnose(losses, step, spec, params, X_probe, Y_probe, lr)  # a new trouble: from its window
        if found is not None:
            self._last_found = step
        elif current is not None and step - self._last_found < CLEAR_AFTER and len(losses) >= WINDOW:
            found = current
        self.current, self._judged, self._judged_step = found, key, step
        return found
