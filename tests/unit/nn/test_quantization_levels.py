"""Quantization as the page draws it: levels in use, the page's snapping rule, error against bits,
the session's setting and the straight-through weights."""

from __future__ import annotations

import math

import numpy as np
import pytest

from app.nn.network import NetworkSpec, init_params
from app.nn.quantization import MAX_BITS, Setting, quantize, straight_through

SPEC = NetworkSpec(5, (16, 9), ("tanh", "relu"), 3, "multiclass")


def _params(seed: int = 0) -> list[dict[str, np.ndarray]]:
    params = init_params(SPEC, "he", np.random.default_rng(seed))
    params[1]["W"][:, 2] *= 20.0  # one neuron far larger than the others
    params[0]["W"][1, :] = 0.0    # zeros: 1 bit has no level for them
    return params


def _snap(w: float, bits: int, s: float) -> float:
    """The page's documented rule (docs/protocol.md, frame `quantized`), written out independently."""
    if bits == 1:
        return s if w >= 0 else -s
    if s == 0:
        return 0.0
    L = 2 ** (bits - 1) - 1
    return float(min(max(round(w / s), -L), L)) * s  # Python's round: half to even


@pytest.mark.parametrize("granularity", ["tensor", "neuron"])
@pytest.mark.parametrize("bits", range(1, MAX_BITS + 1))
def test_quantized_weights_take_at_most_2_to_the_bits_levels(bits: int, granularity: str) -> None:
    params = _params()
    q = quantize(params, bits, granularity)
    most = 2 if bits == 1 else 2 ** bits - 1  # the symmetric grid leaves one code unused
    for l, (layer, codes) in enumerate(zip(q.params, q.codes)):
        assert q.levels[l] == np.unique(codes).size <= most
        # per column, the dequantized values are the levels (one scale per column or per tensor)
        for j in range(layer["W"].shape[1]):
            assert np.unique(layer["W"][:, j]).size <= most
        if granularity == "tensor":
            assert np.unique(layer["W"]).size <= most


@pytest.mark.parametrize("granularity", ["tensor", "neuron"])
@pytest.mark.parametrize("bits", range(1, MAX_BITS + 1))
def test_the_page_rule_gives_the_servers_weights_exactly(bits: int, granularity: str) -> None:
    params = _params(3)
    q = quantize(params, bits, granularity)
    for p, qp, scales in zip(params, q.params, q.scales):
        n_in, n_out = p["W"].shape
        for i in range(n_in):
            for j in range(n_out):
                s = float(scales[j if granularity == "neuron" else 0])
                assert _snap(float(p["W"][i, j]), bits, s) == qp["W"][i, j]


def test_the_quantization_error_shrinks_as_bits_grow() -> None:
    params = _params(1)
    for granularity in ("tensor", "neuron"):
        errors = []
        for bits in range(1, MAX_BITS + 1):
            q = quantize(params, bits, granularity)
            errors.append(math.sqrt(sum(float(np.sum((p["W"] - qp["W"]) ** 2)) for p, qp in zip(params, q.params))))
        assert all(b < a for a, b in zip(errors[1:], errors[2:])), errors  # 2 bits on: strictly smaller each bit
        assert errors[-1] < errors[0] / 50
        # from 2 bits on the worst error is half a step of the grid, which halves (about) with each bit
        worst = [max(float(np.max(np.abs(p["W"] - qp["W"]) / (s / 2))) for p, qp, s in
                     zip(params, quantize(params, b, granularity).params, quantize(params, b, granularity).scales))
                 for b in range(2, MAX_BITS + 1)]
        assert max(worst) <= 1 + 1e-12


def test_per_neuron_scales_fit_a_large_neuron_better_than_one_per_tensor() -> None:
    params = _params(2)
    for bits in (2, 4):
        tensor, neuron = quantize(params, bits, "tensor"), quantize(params, bits, "neuron")
        err_t = float(np.sum((params[1]["W"] - tensor.params[1]["W"]) ** 2))
        err_n = float(np.sum((params[1]["W"] - neuron.params[1]["W"]) ** 2))
        assert err_n < err_t
        assert neuron.bytes_after - tensor.bytes_after == 4 * (16 + 9 + 3 - 3)  # one float32 per extra scale


@pytest.mark.parametrize("bits", [1, 2, 5, 8])
def test_size_arithmetic_by_hand(bits: int) -> None:
    q = quantize(_params(), bits, "neuron")
    weights, biases, scales = 5 * 16 + 16 * 9 + 9 * 3, 16 + 9 + 3, 16 + 9 + 3
    assert q.bytes_before == 4 * (weights + biases)
    packed = math.ceil(80 * bits / 8) + math.ceil(144 * bits / 8) + math.ceil(27 * bits / 8)
    assert q.bytes_after == packed + 4 * scales + 4 * biases


def test_a_setting_is_checked() -> None:
    assert Setting().to_dict() == {"bits": 0, "granularity": "tensor", "aware": False} and not Setting().on
    assert Setting(3, "neuron", True).on
    for bad in ({"bits": 9}, {"bits": -1}, {"bits": True}, {"bits": 2.0}, {"granularity": "channel"},
                {"bits": 4, "aware": 1}):
        with pytest.raises(ValueError):
            Setting(**bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="aware"):
        Setting(0, "tensor", True)


def test_straight_through_weights_are_the_quantized_ones_only_when_aware() -> None:
    params = _params()
    assert straight_through(params, Setting(4, "tensor", False)) is params
    assert straight_through(params, Setting()) is params
    st = straight_through(params, Setting(4, "neuron", True))
    q = quantize(params, 4, "neuron")
    for a, b, p in zip(st, q.params, params):
        np.testing.assert_array_equal(a["W"], b["W"])
        np.testing.assert_array_equal(a["b"], p["b"])  # biases stay full precision
