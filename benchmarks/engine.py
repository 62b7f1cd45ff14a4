"""Engine speed: training steps per second and the 100x100 grid of every neuron.

Prints one JSON line per (network, optimizer) and one per network for the
grid; run with ``python benchmarks/engine.py``. Not a test: figures depend
on the machine.

(a) 2 features, hidden [4, 2] tanh; (b) 6 features, hidden [8]*6 tanh.
Both: 250 training points, batch size 10 (25 steps per epoch).

Then the fast path (``app.nn.fast``) against the numpy reference, measured
in the same run in alternating rounds so that both see the same machine:
``fast_vs_reference`` lines (steps/s of each path, their ratio, and whether
both end on the same bits) and ``session_advance`` lines, what the server
runs: ``TrainingSession.advance`` in scheduler turns of ``SLICE`` seconds,
epoch metrics and history included; ``session_metrics`` lines, the cost of
``TrainingSession.metrics()`` (taken at every epoch end) on each path.
``--quick`` measures fewer rounds.
These rates are per second of this process's CPU time (``time.process_time``)
so that other load on a shared machine does not skew them; ``--wall`` uses
the wall clock instead.
"""

from __future__ import annotations

import json
import platform
import statistics
import sys
import time
from collections.abc import Callable

import numpy as np

from app.nn import fast
from app.nn.batches import epoch_batches
from app.nn.losses import TASKS
from app.nn.model import Model
from app.nn.network import NetworkSpec, forward
from app.nn.optimizers import OPTIMIZERS, Hyperparams
from app.training.config import HyperState, RunConfig
from app.training.session import TrainingSession

N_POINTS = 250
BATCH = 10
GRID = 100
SLICE = 0.004  # the server's default slice_seconds
ROUNDS = 9
clock = time.process_time
FEATURE_NAMES = ("x1", "x2", "x1_sq", "x2_sq", "x1x2", "sin_x1")


def features(X2: np.ndarray, n: int) -> np.ndarray:
    """The first ``n`` of x1, x2, x1^2, x2^2, x1*x2, sin(x1) (TF Playground's)."""
    x1, x2 = X2[:, 0], X2[:, 1]
    return np.stack([x1, x2, x1 * x1, x2 * x2, x1 * x2, np.sin(x1)], axis=1)[:, :n]


def bench(name: str, n_inputs: int, hidden: tuple[int, ...]) -> None:
    rng = np.random.default_rng(0)
    X2 = rng.uniform(-6, 6, size=(N_POINTS, 2))
    X = features(X2, n_inputs)
    Y = TASKS["playground"].targets(np.sign(X2[:, 0] * X2[:, 1]))
    spec = NetworkSpec(n_inputs, hidden, ("tanh",) * len(hidden), 1, "playground")
    for opt in ("sgd", "momentum", "adam"):
        model = Model.create(spec, np.random.default_rng(1))
        hp = Hyperparams(optimizer=opt, lr=0.01)
        batch_rng = np.random.default_rng(2)
        model.train_epoch(X, Y, BATCH, hp, batch_rng)  # warm-up
        rates = []
        for _ in range(5):
            steps0, t0 = model.step, time.perf_counter()
            for _ in range(40):
                model.train_epoch(X, Y, BATCH, hp, batch_rng)
            rates.append((model.step - steps0) / (time.perf_counter() - t0))
        print(json.dumps({"bench": "train_steps", "net": name, "optimizer": opt,
                          "batch": BATCH, "points": N_POINTS,
                          "steps_per_s": round(statistics.median(rates))}))
    axis = np.linspace(-6, 6, GRID)
    gx, gy = np.meshgrid(axis, axis)
    G = features(np.stack([gx.ravel(), gy.ravel()], axis=1), n_inputs)  # [10000 x D]
    times = []
    for _ in range(30):
        t0 = time.perf_counter()
        forward(spec, model.params, G)  # every neuron (the cache holds them all)
        times.append(time.perf_counter() - t0)
    n_neurons = sum(hidden) + 1
    print(json.dumps({"bench": "grid_all_neurons", "net": name, "grid": f"{GRID}x{GRID}",
                      "neurons": n_neurons, "ms": round(1000 * statistics.median(times), 3)}))


def _alternate(runs: dict[str, Callable[[], float]], rounds: int) -> dict[str, float]:
    """Median rate of each run, the runs taking turns round after round."""
    rates: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(rounds):
        for name, run in runs.items():
            rates[name].append(run())
    return {name: statistics.median(r) for name, r in rates.items()}


def bench_fast(name: str, n_inputs: int, hidden: tuple[int, ...], rounds: int) -> None:
    """Steps/s of ``Model.train_epoch`` (numpy) and ``fast.train_run`` (one call per epoch)."""
    rng = np.random.default_rng(0)
    X2 = rng.uniform(-6, 6, size=(N_POINTS, 2))
    X = features(X2, n_inputs)
    Y = TASKS["playground"].targets(np.sign(X2[:, 0] * X2[:, 1]))
    spec = NetworkSpec(n_inputs, hidden, ("tanh",) * len(hidden), 1, "playground")
    for opt in OPTIMIZERS:
        hp = Hyperparams(optimizer=opt, lr=0.01)
        ref, fst = Model.create(spec, np.random.default_rng(1)), Model.create(spec, np.random.default_rng(1))
        ref_rng, fast_rng = np.random.default_rng(2), np.random.default_rng(2)

        def reference(epochs: int = 4, ref: Model = ref, hp: Hyperparams = hp,
                      ref_rng: np.random.Generator = ref_rng) -> float:
            t0 = clock()
            for _ in range(epochs):
                ref.train_epoch(X, Y, BATCH, hp, ref_rng)
            return epochs * N_POINTS / BATCH / (clock() - t0)

        def compiled(epochs: int = 4, fst: Model = fst, hp: Hyperparams = hp,
                     fast_rng: np.random.Generator = fast_rng) -> float:
            t0 = clock()
            for _ in range(epochs):
                fast.train_run(spec, fst.params, fst.opt_state, fst.trainable, hp, X, Y,
                               epoch_batches(N_POINTS, BATCH, fast_rng))
            return epochs * N_POINTS / BATCH / (clock() - t0)

        reference(1), compiled(1)  # warm-up, and both models one epoch in
        rates = _alternate({"reference": reference, "fast": lambda compiled=compiled: compiled(40)}, rounds)
        # Both models saw the same batches only if they ran the same epochs: compare on fresh ones.
        a, b = Model.create(spec, np.random.default_rng(3)), Model.create(spec, np.random.default_rng(3))
        r1, r2 = np.random.default_rng(4), np.random.default_rng(4)
        for _ in range(20):
            a.train_epoch(X, Y, BATCH, hp, r1)
            fast.train_run(spec, b.params, b.opt_state, b.trainable, hp, X, Y, epoch_batches(N_POINTS, BATCH, r2))
        same = all(np.array_equal(p[k], q[k]) for p, q in zip(a.params, b.params) for k in "Wb")
        print(json.dumps({"bench": "fast_vs_reference", "net": name, "optimizer": opt, "batch": BATCH,
                          "points": N_POINTS, "reference_steps_per_s": round(rates["reference"]),
                          "fast_steps_per_s": round(rates["fast"]),
                          "ratio": round(rates["fast"] / rates["reference"], 1),
                          "same_bits_after_500_steps": same}))


def bench_session(name: str, n_features: int, hidden: tuple[int, ...], rounds: int) -> None:
    """Updates/s of ``TrainingSession.advance`` on each path, in scheduler turns."""
    config = RunConfig(dataset="xor", n_points=2 * N_POINTS, features=FEATURE_NAMES[:n_features],
                       hidden=hidden)
    sessions = {}
    for path in ("reference", "fast"):
        s = TrainingSession(config, HyperState(batch_size=BATCH, optimizer="momentum", lr=0.01))
        s.fast = path == "fast"
        s.advance(100)
        sessions[path] = s

    def turns(s: TrainingSession, n_turns: int = 25) -> float:
        done, t0 = 0, clock()
        for _ in range(n_turns):
            done += s.advance(1 << 30, deadline=time.perf_counter() + SLICE)
        return done / (clock() - t0)

    rates = _alternate({path: (lambda s=s: turns(s)) for path, s in sessions.items()}, rounds)
    print(json.dumps({"bench": "session_advance", "net": name, "optimizer": "momentum", "batch": BATCH,
                      "train_points": sessions["fast"].data.n("train"), "slice_ms": SLICE * 1000,
                      "reference_updates_per_s": round(rates["reference"]),
                      "fast_updates_per_s": round(rates["fast"]),
                      "ratio": round(rates["fast"] / rates["reference"], 1)}))


def bench_metrics(rounds: int) -> None:
    """Microseconds per ``TrainingSession.metrics()`` (recomputed, not cached) on the
    default session: numpy forward passes over train and test, or the compiled kernel."""
    sessions = {}
    for path in ("reference", "fast"):
        s = TrainingSession()
        s.fast = path == "fast"
        s.advance(100)
        sessions[path] = s

    def per_call(s: TrainingSession, calls: int = 2000) -> float:
        t0 = clock()
        for _ in range(calls):
            s.evaluate()
        return calls / (clock() - t0)

    rates = _alternate({path: (lambda s=s: per_call(s)) for path, s in sessions.items()}, rounds)
    print(json.dumps({"bench": "session_metrics", "net": "default: 2 features, hidden [4,2]",
                      "points": sessions["fast"].data.n("train") + sessions["fast"].data.n("test"),
                      "reference_us": round(1e6 / rates["reference"], 1), "fast_us": round(1e6 / rates["fast"], 1),
                      "same_metrics": sessions["fast"].metrics() == sessions["reference"].metrics()}))


def main() -> None:
    global clock
    quick = "--quick" in sys.argv[1:]
    if "--wall" in sys.argv[1:]:
        clock = time.perf_counter
    print(json.dumps({"bench": "env", "python": platform.python_version(),
                      "numpy": np.__version__, "machine": platform.machine()}))
    if not quick:
        bench("a: 2 features, hidden [4,2]", 2, (4, 2))
        bench("b: 6 features, hidden [8]*6", 6, (8,) * 6)
    t0 = time.perf_counter()
    ok = fast.warm_up()
    print(json.dumps({"bench": "fast_path", "available": ok, "reason": fast.reason(),
                      "load_s": round(time.perf_counter() - t0, 2), "clock": clock.__name__}))
    if not ok:
        return
    rounds = 3 if quick else ROUNDS
    bench_fast("a: 2 features, hidden [4,2]", 2, (4, 2), rounds)
    bench_fast("b: 6 features, hidden [8]*6", 6, (8,) * 6, rounds)
    bench_session("a: 2 features, hidden [4,2]", 2, (4, 2), rounds)
    bench_session("b: 6 features, hidden [8]*6", 6, (8,) * 6, rounds)
    bench_metrics(rounds)


if __name__ == "__main__":
    main()
