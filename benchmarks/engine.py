"""Engine speed: training steps per second and the 100x100 grid of every neuron.

Prints one JSON line per (network, optimizer) and one per network for the
grid; run with ``python benchmarks/engine.py``. Not a test: figures depend
on the machine.

(a) 2 features, hidden [4, 2] tanh; (b) 6 features, hidden [8]*6 tanh.
Both: 250 training points, batch size 10 (25 steps per epoch).
"""

from __future__ import annotations

import json
import platform
import statistics
import time

import numpy as np

from app.nn.losses import TASKS
from app.nn.model import Model
from app.nn.network import NetworkSpec, forward
from app.nn.optimizers import Hyperparams

N_POINTS = 250
BATCH = 10
GRID = 100


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
        _, cache = forward(spec, model.params, G)  # every neuron: cache.A[1:]
        times.append(time.perf_counter() - t0)
    n_neurons = sum(hidden) + 1
    print(json.dumps({"bench": "grid_all_neurons", "net": name, "grid": f"{GRID}x{GRID}",
                      "neurons": n_neurons, "ms": round(1000 * statistics.median(times), 3)}))


def main() -> None:
    print(json.dumps({"bench": "env", "python": platform.python_version(),
                      "numpy": np.__version__, "machine": platform.machine()}))
    bench("a: 2 features, hidden [4,2]", 2, (4, 2))
    bench("b: 6 features, hidden [8]*6", 6, (8,) * 6)


if __name__ == "__main__":
    main()
