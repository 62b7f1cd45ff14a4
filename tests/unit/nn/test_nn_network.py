"""NetworkSpec limits, initialisation schemes, forward/backward structure."""

from __future__ import annotations

import numpy as np
import pytest

from app.nn.network import (
    INIT_SCHEMES,
    NetworkSpec,
    backward,
    check_params,
    count_params,
    forward,
    init_params,
    predict,
)


def spec_of(**kw: object) -> NetworkSpec:
    base: dict[str, object] = {"n_inputs": 2, "hidden": (4, 2), "activations": ("tanh", "relu"),
                               "n_outputs": 1, "task": "playground"}
    base.update(kw)
    return NetworkSpec(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "kw,message",
    [
        ({"n_inputs": 0}, "1 to 16"),
        ({"n_inputs": 17}, "1 to 16"),
        ({"hidden": (2,) * 9, "activations": ("tanh",) * 9}, "at most 8 hidden layers"),
        ({"hidden": (33,), "activations": ("tanh",)}, "1 to 32 neurons"),
        ({"hidden": (0,), "activations": ("tanh",)}, "1 to 32 neurons"),
        ({"hidden": (4,), "activations": ("tanh", "relu")}, "one activation per hidden layer"),
        ({"activations": ("tanh", "swish")}, "unknown activation 'swish'"),
        ({"task": "ranking"}, "unknown task"),
        ({"n_outputs": 2}, "1 to 1 outputs"),
        ({"task": "multiclass", "n_outputs": 9}, "2 to 8 outputs"),
        ({"n_inputs": True}, "1 to 16"),
        ({"n_inputs": 2.0}, "1 to 16"),
    ],
)
def test_validate_names_the_limit(kw: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        spec_of(**kw).validate()


def test_limits_inclusive() -> None:
    spec_of(n_inputs=16, hidden=(32,) * 8, activations=("sigmoid",) * 8).validate()
    spec_of(n_inputs=1, hidden=(), activations=()).validate()
    spec_of(task="multiclass", n_outputs=8).validate()


def test_count_params_and_layer_sizes() -> None:
    spec = spec_of()
    assert spec.layer_sizes == (2, 4, 2, 1)
    assert count_params(spec) == 2 * 4 + 4 + 4 * 2 + 2 + 2 * 1 + 1
    params = init_params(spec, "glorot", np.random.default_rng(0))
    assert sum(p["W"].size + p["b"].size for p in params) == count_params(spec)


def test_init_schemes() -> None:
    spec = spec_of(n_inputs=16, hidden=(32, 32), activations=("tanh", "tanh"))
    rng = np.random.default_rng(1)
    glorot = init_params(spec, "glorot", rng)
    bound = np.sqrt(6 / (16 + 32))
    assert np.abs(glorot[0]["W"]).max() <= bound
    assert np.abs(glorot[0]["W"]).max() > 0.9 * bound  # actually uniform over the range
    assert all(np.all(p["b"] == 0) for p in glorot)
    he = init_params(spec, "he", rng)
    assert np.std(he[1]["W"]) == pytest.approx(np.sqrt(2 / 32), rel=0.15)
    uni = init_params(spec, "uniform", rng)
    assert np.abs(uni[0]["W"]).max() <= 0.5 and all(np.all(p["b"] == 0.1) for p in uni)
    zeros = init_params(spec, "zeros", rng)
    assert all(not p["W"].any() and not p["b"].any() for p in zeros)
    with pytest.raises(ValueError, match="unknown init scheme"):
        init_params(spec, "orthogonal", rng)


@pytest.mark.parametrize("scheme", INIT_SCHEMES)
def test_same_seed_same_bits(scheme: str) -> None:
    spec = spec_of()
    a = init_params(spec, scheme, np.random.default_rng(42))
    b = init_params(spec, scheme, np.random.default_rng(42))
    for pa, pb in zip(a, b):
        assert pa["W"].tobytes() == pb["W"].tobytes() and pa["b"].tobytes() == pb["b"].tobytes()
    if scheme != "zeros":
        c = init_params(spec, scheme, np.random.default_rng(43))
        assert not np.array_equal(a[0]["W"], c[0]["W"])


def test_forward_cache_layout() -> None:
    spec = spec_of()
    params = init_params(spec, "glorot", np.random.default_rng(0))
    X = np.random.default_rng(1).normal(size=(5, 2))
    out, cache = forward(spec, params, X)
    assert out.shape == (5, 1)
    assert [a.shape for a in cache.A] == [(5, 2), (5, 4), (5, 2), (5, 1)]
    assert [z.shape for z in cache.Z] == [(5, 4), (5, 2), (5, 1)]
    np.testing.assert_array_equal(cache.A[0], X)
    np.testing.assert_array_equal(cache.Z[0], X @ params[0]["W"] + params[0]["b"])
    np.testing.assert_array_equal(cache.A[1], np.tanh(cache.Z[0]))
    np.testing.assert_array_equal(cache.A[2], np.maximum(cache.Z[1], 0))
    np.testing.assert_array_equal(out, np.tanh(cache.Z[2]))
    assert cache.masks is None
    np.testing.assert_array_equal(predict(spec, params, X), out)


def test_shape_errors() -> None:
    spec = spec_of()
    params = init_params(spec, "glorot", np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        forward(spec, params, np.zeros((3, 3)))
    _, cache = forward(spec, params, np.zeros((3, 2)))
    with pytest.raises(ValueError, match="Y must have shape"):
        backward(spec, params, cache, np.zeros((3, 2)))
    bad = [dict(p) for p in params]
    bad[1]["W"] = np.zeros((3, 2))
    with pytest.raises(ValueError, match="layer 1: W"):
        check_params(spec, bad)
    with pytest.raises(ValueError, match="dropout masks"):
        forward(spec, params, np.zeros((3, 2)), [np.ones((3, 4))])
