"""The feature relevance lesson, end to end with the real engine (app.nn).

Train a small network on standardized mammals_or_fish and check what the lesson
claims: the constant "vertebrate" column is exactly 0 after standardization, so
its first-layer weights get exactly zero gradient and never move; "has_gills"
ends up with the largest weights and the highest permutation importance;
"vertebrate" has zero importance and the noise columns little. Without
standardization the constant column acts as a second bias and its weights move.
"""

from __future__ import annotations

import numpy as np
import pytest

from app.data.importance import accuracy, permutation_importance
from app.data.scaling import standardize
from app.data.splits import split_indices
from app.data.tabular import mammals_or_fish
from app.nn.batches import epoch_batches
from app.nn.losses import TASKS
from app.nn.model import Model
from app.nn.network import NetworkSpec
from app.nn.optimizers import Hyperparams

NAMES = ("vertebrate", "has_gills", "lays_eggs", "body_temperature", "noise_1", "noise_2")
V, G = NAMES.index("vertebrate"), NAMES.index("has_gills")
NOISE = [NAMES.index("noise_1"), NAMES.index("noise_2")]


def prepared(seed: int = 0):
    rng = np.random.default_rng(seed)
    ds = mammals_or_fish(400, rng)
    assert ds.feature_names == NAMES
    train, _, test = split_indices(ds.n_samples, 0.5, 0.0, rng)
    X_train, mean, std = standardize(ds.X[train])
    X_test, _, _ = standardize(ds.X[test], mean, std)
    return X_train, ds.y[train], X_test, ds.y[test]


def train(model: Model, X: np.ndarray, y: np.ndarray, hp: Hyperparams, epochs: int, seed: int):
    """Mini-batch training (batches of 20); yields the Grads of every step."""
    Y = TASKS[model.spec.task].targets(y)
    rng = np.random.default_rng(seed)
    for _ in range(epochs):
        for idx in epoch_batches(len(X), 20, rng):
            yield model.train_step(X[idx], Y[idx], hp).grads


@pytest.mark.parametrize(
    ("hidden", "optimizer", "lr"),
    [((), "sgd", 0.5), ((4,), "momentum", 0.05), ((4,), "adam", 0.01)],
)
def test_constant_column_is_inert_and_has_gills_wins(hidden: tuple[int, ...], optimizer: str, lr: float) -> None:
    X_train, y_train, X_test, y_test = prepared()
    assert np.all(X_train[:, V] == 0.0) and np.all(X_test[:, V] == 0.0)  # exactly zero, not ~1e-17

    spec = NetworkSpec(n_inputs=6, hidden=hidden, activations=("tanh",) * len(hidden), n_outputs=1, task="binary")
    model = Model.create(spec, np.random.default_rng(1), init="uniform", optimizer=optimizer)
    W0 = model.params[0]["W"].copy()
    assert np.any(W0[V] != 0)  # so "never moved" below is not trivially true

    steps = 0
    for grads in train(model, X_train, y_train, Hyperparams(lr=lr, optimizer=optimizer), epochs=15, seed=2):
        assert np.all(grads.dW[0][V] == 0.0)
        steps += 1
    assert steps == 15 * 10
    W = model.params[0]["W"]
    assert W[V].tobytes() == W0[V].tobytes()  # bit for bit where it started
    assert not np.array_equal(W[G], W0[G])

    def predict(X: np.ndarray) -> np.ndarray:
        return (model.predict(X)[:, 0] > 0.5).astype(np.int64)

    assert accuracy(y_test, predict(X_test)) == 1.0  # has_gills decides the class

    weight = np.abs(W).mean(axis=1)  # [D] mean |W| per input row
    assert np.argmax(weight) == G
    assert weight[G] > 2 * max(weight[j] for j in range(6) if j != G)

    imp = permutation_importance(predict, X_test, y_test, accuracy, np.random.default_rng(3), n_repeats=5)
    assert np.argmax(imp.mean) == G and imp.mean[G] > 0.3
    assert np.all(imp.drops[:, V] == 0.0)
    assert np.all(np.abs(imp.mean[NOISE]) < 0.03)


def test_without_standardization_the_constant_column_acts_as_a_bias() -> None:
    rng = np.random.default_rng(0)
    ds = mammals_or_fish(200, rng)
    spec = NetworkSpec(n_inputs=6, hidden=(), activations=(), n_outputs=1, task="binary")
    model = Model.create(spec, np.random.default_rng(1), init="uniform", optimizer="sgd")
    W0 = model.params[0]["W"].copy()
    grads = list(train(model, ds.X, ds.y, Hyperparams(lr=0.01, optimizer="sgd"), epochs=2, seed=2))
    # A column of ones gets the bias gradient: dW[vertebrate] = ones @ dZ = db.
    for g in grads:
        assert np.allclose(g.dW[0][V], g.db[0], rtol=1e-12, atol=1e-15)
    assert any(np.any(g.dW[0][V] != 0) for g in grads)
    assert not np.array_equal(model.params[0]["W"][V], W0[V])
