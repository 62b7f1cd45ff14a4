"""Post-training quantization: sizes, codes, error bounds, forward."""

from __future__ import annotations

import math

import numpy as np
import pytest

from app.nn.network import NetworkSpec, count_params, init_params, predict
from app.nn.quantization import predict_quantized, quantize

SPEC = NetworkSpec(6, (8, 5), ("tanh", "relu"), 3, "multiclass")


def _params(seed: int = 0) -> list[dict[str, np.ndarray]]:
    params = init_params(SPEC, "he", np.random.default_rng(seed))
    params[0]["W"][:, 3] *= 10.0  # one neuron with much larger weights
    return params


@pytest.mark.parametrize("granularity", ["tensor", "neuron"])
@pytest.mark.parametrize("bits", range(1, 9))
def test_sizes(bits: int, granularity: str) -> None:
    q = quantize(_params(), bits, granularity)
    assert q.bytes_before == 4 * count_params(SPEC)
    n_scales = 3 if granularity == "tensor" else 8 + 5 + 3
    expected = (math.ceil(6 * 8 * bits / 8) + math.ceil(8 * 5 * bits / 8)
                + math.ceil(5 * 3 * bits / 8) + 4 * n_scales + 4 * (8 + 5 + 3))
    assert q.bytes_after == expected
    assert q.bytes_after < q.bytes_before
    assert [s.shape for s in q.scales] == ([(1,)] * 3 if granularity == "tensor"
                                          else [(8,), (5,), (3,)])


@pytest.mark.parametrize("granularity", ["tensor", "neuron"])
@pytest.mark.parametrize("bits", range(2, 9))
def test_codes_and_error_bound(bits: int, granularity: str) -> None:
    params = _params()
    q = quantize(params, bits, granularity)
    levels = 2 ** (bits - 1) - 1
    for p, qp, codes, scale in zip(params, q.params, q.codes, q.scales):
        assert codes.dtype == np.int8 and np.abs(codes).max() == levels
        np.testing.assert_array_equal(qp["W"], codes * scale)
        assert np.all(np.abs(p["W"] - qp["W"]) <= scale / 2 * (1 + 1e-12))
        np.testing.assert_array_equal(qp["b"], p["b"])  # biases stay float
        if granularity == "neuron":
            np.testing.assert_allclose(scale, np.abs(p["W"]).max(axis=0) / levels, rtol=1e-15)


def test_one_bit_is_sign_times_mean_abs() -> None:
    params = _params()
    params[1]["W"][0, 0] = 0.0
    q = quantize(params, 1, "neuron")
    for p, qp, codes, scale in zip(params, q.params, q.codes, q.scales):
        assert set(np.unique(codes)) <= {-1, 1}
        np.testing.assert_allclose(scale, np.abs(p["W"]).mean(axis=0), rtol=1e-15)
        np.testing.assert_array_equal(np.sign(qp["W"])[p["W"] != 0], np.sign(p["W"])[p["W"] != 0])
    assert q.codes[1][0, 0] == 1


def test_error_shrinks_with_bits_and_neuron_beats_tensor() -> None:
    params = _params()
    X = np.random.default_rng(3).normal(size=(50, 6))
    exact = predict(SPEC, params, X)
    errors = []
    for bits in (2, 4, 8):
        q = quantize(params, bits, "tensor")
        qn = quantize(params, bits, "neuron")
        err_t = max(np.abs(a["W"] - b["W"]).max() for a, b in zip(params, q.params))
        err_n = max(np.abs(a["W"] - b["W"]).max() for a, b in zip(params, qn.params))
        assert err_n <= err_t
        out = predict_quantized(SPEC, q, X)
        np.testing.assert_array_equal(out, predict(SPEC, q.params, X))
        errors.append(np.abs(out - exact).max())
    assert errors[0] > errors[1] > errors[2]
    assert errors[2] < 0.05


def test_zero_weights_and_validation() -> None:
    params = [{k: np.zeros_like(v) for k, v in p.items()} for p in _params()]
    for bits in (1, 4):
        q = quantize(params, bits, "neuron")
        assert all(not qp["W"].any() and np.all(np.isfinite(qp["W"])) for qp in q.params)
    original = _params()
    copy = [{k: v.copy() for k, v in p.items()} for p in original]
    quantize(original, 3, "tensor")
    assert all(np.array_equal(a["W"], b["W"]) for a, b in zip(original, copy))  # not mutated
    with pytest.raises(ValueError, match="1 to 8"):
        quantize(original, 0, "tensor")
    with pytest.raises(ValueError, match="1 to 8"):
        quantize(original, 9, "tensor")
    with pytest.raises(ValueError, match="granularity"):
        quantize(original, 4, "channel")
