"""Shared builders for the engine tests (fixtures, so any import mode works)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from app.nn.network import NetworkSpec

N_OUTPUTS = {"binary": 1, "playground": 1, "multiclass": 3, "regression": 2}


def _targets(task: str, n: int, rng: np.random.Generator) -> np.ndarray:
    if task == "binary":
        return rng.integers(0, 2, size=(n, 1)).astype(float)
    if task == "playground":
        return rng.choice([-1.0, 1.0], size=(n, 1))
    if task == "multiclass":
        return np.eye(3)[rng.integers(0, 3, size=n)]
    return rng.normal(size=(n, 2))


@pytest.fixture
def make_problem() -> Callable[..., tuple[NetworkSpec, np.ndarray, np.ndarray]]:
    """``make_problem(task, hidden, activations, n_inputs, n, seed)`` -> spec, X, Y."""

    def build(
        task: str = "playground",
        hidden: tuple[int, ...] = (4, 2),
        activations: tuple[str, ...] | None = None,
        n_inputs: int = 2,
        n: int = 12,
        seed: int = 0,
    ) -> tuple[NetworkSpec, np.ndarray, np.ndarray]:
        acts = activations if activations is not None else ("tanh",) * len(hidden)
        spec = NetworkSpec(n_inputs, hidden, acts, N_OUTPUTS[task], task)
        rng = np.random.default_rng(seed)
        X = rng.normal(size=(n, n_inputs))
        return spec, X, _targets(task, n, rng)

    return build
