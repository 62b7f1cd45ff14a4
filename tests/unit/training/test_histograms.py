"""Histograms over time: honest counts in bins fixed per run, the probe batch, and vanishing
gradients where they are expected (sigmoid, 8 layers)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from app.nn.network import NetworkSpec, init_params
from app.training import histograms
from app.training.histograms import Bins, Histograms, layer_values, look, over_time, probe_rows
from app.training.session import TrainingSession


def test_the_probe_batch_is_at_most_64_points_spread_over_the_split() -> None:
    assert probe_rows(10).tolist() == list(range(10))
    rows = probe_rows(1000)
    assert len(rows) == 64 and rows[0] == 0 and rows[-1] == 999 and np.all(np.diff(rows) > 0)


def test_counts_match_numpy_in_the_same_edges_and_sum_to_the_number_of_values() -> None:
    rng = np.random.default_rng(0)
    first = rng.normal(0, 0.5, 300)
    bins = Bins.first(first)
    assert bins.hi - bins.lo <= 2 * histograms.FIRST_BINS
    for values in (first, rng.normal(0, 3, 500), np.array([0.0, 1e9, -1e9, np.nan])):
        before = bins.edges()
        bins.widen(values)
        edges = bins.edges()
        # Widened only by outer bins: the old edges are a run of the new ones, unmoved.
        at = int(np.flatnonzero(edges == before[0])[0])
        assert np.array_equal(edges[at:at + len(before)], before)
        c = bins.count(values)
        row = np.array(c.row(bins))
        assert row.sum() == len(values)
        inside = values[(values >= edges[0]) & (values <= edges[-1])]
        expected, _ = np.histogram(inside, edges)
        row_inside = row.copy()
        row_inside[0] -= c.below
        row_inside[-1] -= c.above
        assert np.array_equal(row_inside, expected)
        assert c.below == np.count_nonzero(values < edges[0])
        assert c.above == np.count_nonzero(values > edges[-1]) + np.count_nonzero(np.isnan(values))
    assert bins.hi - bins.lo == histograms.MAX_BINS  # the outliers hit the bound; the edges then stay


def test_fixed_ranges_for_tanh_and_sigmoid_and_log_edges_for_gradients() -> None:
    spec = NetworkSpec(2, (3, 3), ("tanh", "sigmoid"), 1, "binary")
    X = np.random.default_rng(1).normal(size=(20, 2))
    h = Histograms(spec, X, np.ones((20, 1)))
    assert h.bins["activations", 0].edges()[[0, -1]].tolist() == [-1.0, 1.0]
    assert h.bins["activations", 1].edges()[[0, -1]].tolist() == [0.0, 1.0]
    for l in range(3):
        assert h.bins["gradients", l].edges()[[0, -1]].tolist() == [histograms.LOG_LOW, histograms.LOG_HIGH]


def test_every_row_over_time_sums_to_the_number_of_values(make_session: Callable[..., TrainingSession]) -> None:
    s = make_session({"lr": 0.3})
    for _ in range(12):
        s.advance(100)
    sizes = [p["W"].size for p in s.params]
    units = [n * len(probe_rows(s.data.n("train"))) for n in s.spec.hidden]
    for kind, n_values in (("weights", sizes), ("gradients", sizes), ("activations", units)):
        layers = over_time(s.record(), s.histograms, kind, True)
        assert len(layers) == len(n_values)
        for layer, n in zip(layers, n_values):
            assert len(layer["steps"]) == len(layer["counts"]) == histograms.MAX_STEPS
            assert layer["steps"][-1] == s.step and layer["steps"][0] == 0
            assert all(len(row) == len(layer["edges"]) - 1 for row in layer["counts"])
            assert all(sum(row) == n for row in layer["counts"])


def test_a_look_counts_the_weights_of_that_step(make_session: Callable[..., TrainingSession]) -> None:
    s = make_session()
    s.advance(300)
    twin = make_session()
    twin.advance(123)
    seen = look(s.record(), s.histograms, 123, True)
    assert seen.step == 123
    assert all(np.array_equal(a[k], b[k]) for a, b in zip(seen.params, twin.params) for k in "Wb")
    layer = seen.histograms["weights"][0]
    expected = s.histograms.bins["weights", 0].count(twin.params[0]["W"].ravel()).row(s.histograms.bins["weights", 0])
    assert layer["counts"] == [expected] and layer["steps"] == [123]
    assert look(s.record(), s.histograms, 10_000, True).step == 300  # the nearest at or before
    with pytest.raises(ValueError, match="nothing is recorded yet"):
        look(make_session().record(), s.histograms, 5, True)


def test_sigmoid_with_8_layers_shows_vanishing_gradients() -> None:
    spec = NetworkSpec(2, (8,) * 8, ("sigmoid",) * 8, 1, "binary")
    params = init_params(spec, "glorot", np.random.default_rng(0))
    X = np.random.default_rng(1).uniform(-1, 1, (64, 2))
    Y = (X[:, :1] * X[:, 1:] > 0).astype(float)
    logs = layer_values(spec, params, X, Y, "none", 0.0)["gradients"]
    medians = [float(np.median(g)) for g in logs]
    # Each sigmoid layer passes back at most a quarter of the gradient: the first layer's are
    # orders of magnitude below the last's.
    assert medians[-1] - medians[0] > 3
    assert all(b > a - 0.5 for a, b in zip(medians, medians[1:]))
