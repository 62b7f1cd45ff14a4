"""Histograms over time: the weights, the gradients and the activations of each layer.

At a recorded step (see `timeline`), per layer:

    weights       every weight W (not the biases), linear bins
    gradients     |dW| of the training loss (penalty included, no dropout) on the
                  probe batch at that step's weights, in bins of log10 |dW|: the same
                  fixed bins for every layer and every run, so gradients that vanish
                  or explode show as a layer's histogram sliding left or right
    activations   each hidden layer's outputs on the probe batch (points x units)

The probe batch: up to `PROBE_POINTS` training points spread evenly over the
training split (rows 0, ..., n - 1), the same for the whole run.

Bins are fixed per run. tanh and sigmoid activations have fixed ranges ([-1, 1],
[0, 1]) and the gradients fixed log10 edges (`LOG_LOW` to `LOG_HIGH`). The others
(weights, other activations) take edges from the first state counted: about
`FIRST_BINS` bins of a round width across its values; a later state with values
outside them widens the edges by adding outer bins of the same width, never by
moving an edge, up to `MAX_BINS` bins in all (then the edges stay). Counts are
honest: each row sums to the number of values; the end bins also hold the values
beyond the edges (and NaN, in the last bin), and `below` and `above` say how many.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from app.nn import regularization
from app.nn.network import NetworkSpec, backward, forward
from app.training.timeline import Record

KINDS = ("weights", "gradients", "activations")
PROBE_POINTS = 64
FIRST_BINS = 24
MAX_BINS = 200
LOG_LOW, LOG_HIGH, LOG_WIDTH = -16, 4, 0.25
FIXED_RANGES = {"tanh": (-1.0, 1.0), "sigmoid": (0.0, 1.0)}
FIXED_BINS = 40
MAX_CACHED_BYTES = 4 * 2**20  # the counts kept per run (the oldest counted go first); counted again when asked

Params = list[dict[str, np.ndarray]]


def probe_rows(n_train: int) -> np.ndarray:
    """The probe batch's rows of the training split: up to `PROBE_POINTS`, evenly spread."""
    return np.unique(np.rint(np.linspace(0, n_train - 1, min(PROBE_POINTS, n_train))).astype(np.int64))


def _nice(width: float) -> float:
    """The round width (1, 2 or 5 times a power of ten) at or above `width`."""
    power = 10.0 ** math.floor(math.log10(width))
    return next(m * power for m in (1.0, 2.0, 5.0, 10.0) if m * power >= width * (1 - 1e-12))


class Bins:
    """Edges `(lo + i) * width` for i = 0..hi - lo; `scale` names what is binned."""

    def __init__(self, width: float, lo: int, hi: int, scale: str = "linear", fixed: bool = False) -> None:
        self.width, self.lo, self.hi, self.scale, self.fixed = width, lo, hi, scale, fixed

    @classmethod
    def first(cls, values: np.ndarray) -> Bins:
        """Bins of a round width across `values` (the first state counted)."""
        finite = values[np.isfinite(values)]
        low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)
        span = high - low if high > low else max(abs(high), 1.0)
        width = _nice(span / FIRST_BINS)
        lo = math.floor(low / width)
        return cls(width, lo, max(lo + 1, math.floor(high / width) + 1))

    @classmethod
    def fixed_range(cls, low: float, high: float, n: int, scale: str = "linear") -> Bins:
        width = (high - low) / n
        return cls(width, round(low / width), round(high / width), scale, fixed=True)

    def edges(self) -> np.ndarray:
        return np.arange(self.lo, self.hi + 1) * self.width

    def widen(self, values: np.ndarray) -> None:
        """Add outer bins until `values` fit (at most `MAX_BINS` in all)."""
        finite = values[np.isfinite(values)]
        if self.fixed or not finite.size or self.hi - self.lo >= MAX_BINS:
            return
        lo = min(self.lo, math.floor(float(finite.min()) / self.width))
        hi = max(self.hi, math.floor(float(finite.max()) / self.width) + 1)
        lo = max(lo, self.hi - MAX_BINS)
        self.lo, self.hi = lo, min(hi, lo + MAX_BINS)

    def count(self, values: np.ndarray) -> Counts:
        """Counts of `values` in these bins; the end bins take what lies beyond."""
        edges = self.edges()
        n = len(edges) - 1
        idx = np.searchsorted(edges, values, side="right") - 1
        idx[values == edges[-1]] = n - 1  # the last bin is closed on the right
        below = int(np.count_nonzero(idx < 0))
        above = int(np.count_nonzero(idx >= n))
        counts = np.bincount(np.clip(idx, 0, n - 1), minlength=n).astype(np.int32)
        return Counts(self.lo, counts, below, above)


@dataclass(frozen=True)
class Counts:
    """One state's counts in bins starting at bin `lo`."""

    lo: int
    counts: np.ndarray
    below: int
    above: int

    def row(self, bins: Bins) -> list[int]:
        """The counts in `bins` (which may have gained outer bins since: zeros there)."""
        left = self.lo - bins.lo
        right = (bins.hi - bins.lo) - left - len(self.counts)
        return [0] * left + self.counts.tolist() + [0] * right


def layer_values(spec: NetworkSpec, params: Params, X: np.ndarray, Y: np.ndarray, reg: str, reg_rate: float
                 ) -> dict[str, list[np.ndarray]]:
    """What each kind bins at these weights, per layer, as flat arrays (gradients as log10 |dW|)."""
    _, cache = forward(spec, params, X)
    grads = backward(spec, params, cache, Y)
    regularization.add_penalty_grad(params, grads, reg, reg_rate)
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = [np.log10(np.abs(dW)).ravel() for dW in grads.dW]
    return {"weights": [p["W"].ravel() for p in params], "gradients": logs,
            "activations": [H.ravel() for H in cache.H[1:1 + len(spec.hidden)]]}


def _nbytes(counted: dict[str, list[Counts]]) -> int:
    return sum(c.counts.nbytes + 100 for layers in counted.values() for c in layers)


class Histograms:
    """The bins and the counts of one run, counted when first asked for. Thread-safe: the
    counts are asked for from worker threads while the run goes on."""

    def __init__(self, spec: NetworkSpec, X_train: np.ndarray, Y_train: np.ndarray) -> None:
        rows = probe_rows(len(X_train))
        self.spec = spec
        self.X, self.Y = X_train[rows].copy(), Y_train[rows].copy()
        self.bins: dict[tuple[str, int], Bins] = {}
        self.counted: dict[int, dict[str, list[Counts]]] = {}
        self.counted_bytes = 0
        self._lock = threading.Lock()
        for l, act in enumerate(spec.activations):
            if act in FIXED_RANGES:
                self.bins["activations", l] = Bins.fixed_range(*FIXED_RANGES[act], FIXED_BINS)
        for l in range(len(spec.hidden) + 1):
            self.bins["gradients", l] = Bins.fixed_range(LOG_LOW, LOG_HIGH, round((LOG_HIGH - LOG_LOW) / LOG_WIDTH),
                                                         "log10_abs")

    def count(self, step: int, params: Params, reg: str, reg_rate: float) -> dict[str, list[Counts]]:
        """The counts at `step` (whose weights are `params`), counted once."""
        with self._lock:
            seen = self.counted.get(step)
            if seen is not None:
                return seen
            values = layer_values(self.spec, params, self.X, self.Y, reg, reg_rate)
            out: dict[str, list[Counts]] = {}
            for kind, layers in values.items():
                out[kind] = []
                for l, v in enumerate(layers):
                    bins = self.bins.get((kind, l))
                    if bins is None:
                        bins = self.bins[kind, l] = Bins.first(v)
                    bins.widen(v)
                    out[kind].append(bins.count(v))
            self.counted[step] = out
            self.counted_bytes += _nbytes(out)
            while self.counted_bytes > MAX_CACHED_BYTES and len(self.counted) > 1:
                self.counted_bytes -= _nbytes(self.counted.pop(next(iter(self.counted))))
            return out

    def forget_after(self, step: int) -> None:
        """Drop the counts of steps after `step` (the run went back there)."""
        with self._lock:
            for s in [s for s in self.counted if s > step]:
                self.counted_bytes -= _nbytes(self.counted.pop(s))

    def layers(self, kind: str, counted: list[tuple[int, dict[str, list[Counts]]]]) -> list[dict[str, Any]]:
        """`kind`'s histograms per layer over the `counted` steps, in today's bins."""
        with self._lock:
            n_layers = len(counted[0][1][kind]) if counted else self._n_layers(kind)
            out = []
            for l in range(n_layers):
                bins = self.bins.get((kind, l))
                rows = [c[kind][l] for _, c in counted]
                out.append({"scale": bins.scale if bins else "linear",
                            "edges": bins.edges().tolist() if bins else [],
                            "steps": [s for s, _ in counted],
                            "counts": [r.row(bins) for r in rows] if bins else [],
                            "below": [r.below for r in rows], "above": [r.above for r in rows]})
            return out

    def _n_layers(self, kind: str) -> int:
        return len(self.spec.hidden) if kind == "activations" else len(self.spec.hidden) + 1


# The `histograms` answer: the record thinned to this many steps at most.
MAX_STEPS = 200


def over_time(record: Record, hist: Histograms, kind: str, use_fast: bool) -> list[dict[str, Any]]:
    """`kind`'s histograms per layer at up to `MAX_STEPS` recorded steps spread over the record
    (each counted once: the steps not counted yet are rebuilt, one replay per keyframe)."""
    steps = record.pick(MAX_STEPS)
    missing = [s for s in steps if s not in hist.counted]
    for step, params, kf in record.params_at(missing, use_fast):
        hist.count(step, params, kf.hyper.regularization, kf.hyper.reg_rate)
    counted = []
    for step in steps:
        found = hist.counted.get(step)
        if found is None:  # pushed out by other counts meanwhile: counted again
            ((_, params, kf),) = record.params_at([step], use_fast)
            found = hist.count(step, params, kf.hyper.regularization, kf.hyper.reg_rate)
        counted.append((step, found))
    return hist.layers(kind, counted)


@dataclass(frozen=True)
class Look:
    """The run as it was at a recorded step: for the `rewound` answer."""

    step: int
    epoch: int
    params: Params
    histograms: dict[str, list[dict[str, Any]]]


def look(record: Record, hist: Histograms, step: int, use_fast: bool) -> Look:
    """The recorded step nearest `step` at or before it, rebuilt exactly, with its histograms;
    ValueError when nothing is recorded at or before `step`."""
    used = step if record.find(step) is not None else record.nearest(step)[0]
    if used is None:
        first = record.entries[0][0].step if record.entries else None
        raise ValueError("nothing is recorded yet" if first is None else f"the record starts at step {first}")
    state = record.state(used, use_fast)
    kf = state.keyframe
    counts = hist.count(used, state.model.params, kf.hyper.regularization, kf.hyper.reg_rate)
    return Look(used, int(state.model.epoch), state.model.params,
                {kind: hist.layers(kind, [(used, counts)]) for kind in KINDS})
