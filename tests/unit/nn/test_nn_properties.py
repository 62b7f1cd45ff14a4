"""Hypothesis: shapes for any spec within the limits, and the dict round trip."""

from __future__ import annotations

import json

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from app.nn.activations import ACTIVATIONS
from app.nn.freezing import set_weight
from app.nn.model import Model
from app.nn.network import (
    MAX_HIDDEN_LAYERS,
    MAX_INPUTS,
    MAX_NEURONS,
    NetworkSpec,
    backward,
    count_params,
    forward,
    init_params,
)
from app.nn.optimizers import OPTIMIZERS, Hyperparams


@st.composite
def specs(draw: st.DrawFn) -> NetworkSpec:
    hidden = draw(st.lists(st.integers(1, MAX_NEURONS), max_size=MAX_HIDDEN_LAYERS))
    acts = draw(st.lists(st.sampled_from(sorted(ACTIVATIONS)), min_size=len(hidden),
                         max_size=len(hidden)))
    task = draw(st.sampled_from(["binary", "playground", "multiclass", "regression"]))
    n_out = {"binary": 1, "playground": 1}.get(task) or draw(
        st.integers(2 if task == "multiclass" else 1, 8))
    return NetworkSpec(draw(st.integers(1, MAX_INPUTS)), tuple(hidden), tuple(acts), n_out, task)


@settings(max_examples=60, deadline=None)
@given(spec=specs(), n=st.integers(1, 20), seed=st.integers(0, 2**32 - 1),
       scheme=st.sampled_from(["glorot", "he", "uniform", "zeros"]))
def test_shapes(spec: NetworkSpec, n: int, seed: int, scheme: str) -> None:
    spec.validate()
    rng = np.random.default_rng(seed)
    params = init_params(spec, scheme, rng)
    sizes = spec.layer_sizes
    assert [p["W"].shape for p in params] == list(zip(sizes[:-1], sizes[1:]))
    assert sum(p["W"].size + p["b"].size for p in params) == count_params(spec)
    X = rng.normal(size=(n, spec.n_inputs))
    out, cache = forward(spec, params, X)
    assert out.shape == (n, spec.n_outputs) and np.all(np.isfinite(out))
    assert [a.shape for a in cache.A] == [(n, s) for s in sizes]
    Y = np.zeros_like(out)
    Y[:, 0] = 1.0
    grads = backward(spec, params, cache, Y)
    assert [g.shape for g in grads.dW] == [p["W"].shape for p in params]
    assert [g.shape for g in grads.db] == [p["b"].shape for p in params]
    assert [g.shape for g in grads.dZ] == [(n, s) for s in sizes[1:]]


finite = st.floats(allow_nan=False, allow_infinity=False, width=64)


@settings(max_examples=40, deadline=None)
@given(spec=specs(), seed=st.integers(0, 2**32 - 1), data=st.data(),
       opt=st.sampled_from(OPTIMIZERS), counters=st.tuples(st.integers(0, 10**9),
                                                           st.integers(0, 10**6)))
def test_dict_round_trip(spec: NetworkSpec, seed: int, data: st.DataObject, opt: str,
                         counters: tuple[int, int]) -> None:
    rng = np.random.default_rng(seed)
    model = Model.create(spec, rng, optimizer=opt)
    # Awkward floats: extremes, subnormals, -0.0, in random places.
    for layer in model.params:
        for k in ("W", "b"):
            flat = layer[k].reshape(-1)
            flat[0] = data.draw(finite)
            flat[-1] = data.draw(st.sampled_from([-0.0, 5e-324, 1.7976931348623157e308, 0.1]))
    model.opt_state.slots["v"][0]["W"][...] = rng.exponential(size=model.params[0]["W"].shape)
    model.opt_state.slots["t"][-1]["b"][...] = data.draw(st.integers(0, 2**62))
    set_weight(model.trainable, 0, 0, 0, False)
    model.step, model.epoch = counters
    clone = Model.from_dict(json.loads(json.dumps(model.to_dict())))
    assert clone.spec == spec and (clone.step, clone.epoch) == counters
    for a, b in zip(model.params, clone.params):
        assert a["W"].tobytes() == b["W"].tobytes() and a["b"].tobytes() == b["b"].tobytes()
    for name, slot in model.opt_state.slots.items():
        for la, lb in zip(slot, clone.opt_state.slots[name]):
            assert la["W"].tobytes() == lb["W"].tobytes()
            assert la["b"].tobytes() == lb["b"].tobytes()
    assert not clone.trainable[0]["W"][0, 0]
    assert clone.to_dict() == model.to_dict()


@settings(max_examples=30, deadline=None)
@given(n_inputs=st.integers(-5, 40), width=st.integers(-2, 50), depth=st.integers(0, 12))
def test_out_of_limit_specs_raise(n_inputs: int, width: int, depth: int) -> None:
    spec = NetworkSpec(n_inputs, (width,) * depth, ("relu",) * depth, 1, "binary")
    ok = 1 <= n_inputs <= MAX_INPUTS and depth <= MAX_HIDDEN_LAYERS and (
        depth == 0 or 1 <= width <= MAX_NEURONS)
    try:
        spec.validate()
        assert ok
    except ValueError:
        assert not ok


def test_hyperparams_default_valid() -> None:
    Hyperparams().validate()
